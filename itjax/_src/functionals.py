"""Exact information-theoretic quantities of discrete distributions.

Plain names take probabilities along `axis` (like `scipy.stats.entropy`);
`*_from_logits` names take unnormalized log-probabilities and work in log space,
the form to use inside models. Leading axes are batch axes. Results are in nats
unless `base=` says otherwise.

The fast path assumes valid inputs and stays branch-free: probabilities are
finite, non-negative and sum to 1 along `axis` (they are not renormalized);
logits are finite or -inf. `validate=True` checks this eagerly and names the
first offending entry. The conventions at the boundary are the honest ones:
0 · log 0 = 0, and p(x) > 0 = q(x) makes KL(p‖q) and H(p, q) equal +inf (never
masked, never clipped). Gradients are finite where an input is 0 or a logit is
-inf (the double-`where` rule, or an arithmetic equivalent where a `where` would
keep XLA from fusing a summand into its reduction). Cross-entropies are linear in
their targets and keep the gradient −log q there, also where a target is 0.

KL(p‖q) is summed in the form Σ [p log(p/q) − p + q] (the terms of
`scipy.special.kl_div`, each >= 0), equal to Σ p log(p/q) for pmfs, with every
term evaluated accurately where p ≈ q. It is therefore never negative, is exactly
0 at p = q, and keeps full relative precision when p and q are close, where the
plain sum Σ p log(p/q) cancels.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    as_int_array,
    check_axis,
    check_base,
    check_same_shape,
    check_static_float,
    require_concrete,
    safe_log,
    to_base,
    validate_probabilities,
    xlogx,
    xlogy,
)

Array = jax.Array

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_from_logits",
    "binary_entropy",
    "binary_entropy_from_logits",
    "categorical_fisher_information",
    "chi2_divergence",
    "cross_entropy",
    "cross_entropy_from_labels",
    "cross_entropy_from_logits",
    "distillation_loss",
    "entropy",
    "entropy_from_logits",
    "f_divergence",
    "hellinger_distance",
    "js_distance",
    "js_divergence",
    "js_divergence_from_logits",
    "kl_divergence",
    "kl_divergence_from_logits",
    "renyi_divergence",
    "renyi_divergence_from_logits",
    "renyi_entropy",
    "renyi_entropy_from_logits",
    "smooth_labels",
    "squared_hellinger_distance",
    "total_variation",
]

# --------------------------------------------------------------------------- #
# Accurate elementwise terms.
# --------------------------------------------------------------------------- #

# |s| below which the series of the KL term is used (s = (q - p) / (q + p)).
_KL_SERIES_RADIUS = 0.25
# |d| below which the series of e^d - 1 - d is used (d = log q - log p).
_EXPM1MX_SERIES_RADIUS = 0.5


def _series_length(dtype, ratio: Callable[[int], float]) -> int:
    """Fewest terms n with ratio(n) below the machine epsilon of `dtype`."""
    eps = float(jnp.finfo(dtype).eps)
    n = 1
    while ratio(n) > eps:
        n += 1
    return n


def _kl_div_terms(p: Array, q: Array, q_minus_p: Array) -> Array:
    """p log(p/q) − p + q elementwise, accurate where p ≈ q.

    Same values and edge cases as `scipy.special.kl_div`: q at p = 0 <= q,
    +inf where p > 0 = q (or an input is negative), NaN where one is NaN.
    `q_minus_p` is q − p, computed by the caller without rounding where p ≈ q.

    With s = (q − p)/(q + p), the term is p·(u − log1p u), u = (q − p)/p, which
    equals (p + q)·s² − 2p·s³·(1/3 + s²/5 + s⁴/7 + …): no cancellation, so it
    is used for |s| < 1/4 (q/p in (0.6, 1.67)); elsewhere the direct form is
    accurate.
    """
    both = (p > 0) & (q > 0)
    p1 = jnp.where(both, p, 1)
    q1 = jnp.where(both, q, 1)
    s = jnp.where(both, q_minus_p, 0) / (p1 + q1)
    s2 = s * s
    n = _series_length(p.dtype, lambda k: (_KL_SERIES_RADIUS**2) ** k)
    series = jnp.zeros_like(s2)
    for k in reversed(range(n)):
        series = series * s2 + 1.0 / (2 * k + 3)
    near = (p1 + q1) * s2 - 2 * p1 * s * s2 * series
    far = p1 * jnp.log(p1 / q1) - p1 + q1
    value = jnp.where(jnp.abs(s) < _KL_SERIES_RADIUS, near, far)
    # Elsewhere: q at p = 0 <= q; +inf at p > 0 = q or a negative input; NaN stays NaN.
    return jnp.where(both, value, jnp.where((p == 0) & (q >= 0), q, jnp.inf + (p + q)))


def _kl_div_terms_from_logs(log_p: Array, log_q: Array) -> Array:
    """p log(p/q) − p + q elementwise from log p and log q (each <= 0 or -inf).

    With d = log q − log p the term is p·(e^d − 1 − d); it is summed as a series
    d²·Σ d^j/(j + 2)! for |d| < 1/2 (no cancellation) and as q − p − p·d
    elsewhere (no overflow of e^d).
    """
    p_zero = log_p == -jnp.inf
    log_p1 = jnp.where(p_zero, 0, log_p)
    log_q1 = jnp.where(p_zero, 0, log_q)
    d = log_q1 - log_p1
    p = jnp.exp(log_p1)
    q = jnp.exp(log_q1)
    r = _EXPM1MX_SERIES_RADIUS
    n = _series_length(log_p.dtype, lambda j: 2 * r**j / math.factorial(j + 2))
    d_near = jnp.where(jnp.abs(d) < r, d, 0)
    series = jnp.zeros_like(d)
    for j in reversed(range(n)):
        series = series * d_near + 1.0 / math.factorial(j + 2)
    near = p * d_near * d_near * series
    far = q - p - p * d
    value = jnp.where(jnp.abs(d) < r, near, far)
    return jnp.where(p_zero, jnp.exp(log_q), value)


def _mul_or_zero(x: Array, y: Array) -> Array:
    """x · y with 0 · (±inf) = 0.

    Linear in x, so the gradient in x is y wherever y is finite (also at x = 0,
    where a cross-entropy is still differentiable in its targets), and 0 where
    x = 0 and y is infinite.
    """
    return x * jnp.where((x == 0) & jnp.isinf(y), 0, y)


def _times_log1p(x: Array, y: Array) -> Array:
    """x · log1p(y) with 0 · log1p(−1) = 0; gradient log1p(y) in x."""
    return x * jnp.log1p(jnp.where((x == 0) & (y == -1), 0, y))


def _safe_sqrt(x: Array) -> Array:
    """sqrt(x) with a zero (not infinite) gradient at x = 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


def _entr(p: Array) -> Array:
    """−p log p elementwise with 0 · log 0 = 0 and a zero gradient at p = 0; NaN for p < 0."""
    return -xlogx(p)


# --------------------------------------------------------------------------- #
# Argument handling (before tracing) and eager validation.
# --------------------------------------------------------------------------- #


def _mask(where: ArrayLike | None, shape: tuple[int, ...]) -> Array | None:
    if where is None:
        return None
    w = where if isinstance(where, jax.Array) else np.asarray(where)
    if w.dtype != bool:
        raise TypeError(f"where must be a boolean mask, got dtype {w.dtype}")
    try:
        broadcast = np.broadcast_shapes(w.shape, shape)
    except ValueError:
        broadcast = None
    if broadcast != shape:
        raise ValueError(f"where must broadcast to shape {shape}, got shape {w.shape}")
    return jnp.broadcast_to(w, shape)


def _arrays(named: dict[str, ArrayLike], axis: int) -> tuple[list[Array], int]:
    """Float arrays of one shape and a common dtype, and the normalized axis."""
    arrays = [as_float_array(x, name) for name, x in named.items()]
    names = list(named)
    for name, x in zip(names[1:], arrays[1:], strict=True):
        check_same_shape(arrays[0], x, names[0], name)
    if arrays[0].ndim == 0:
        raise ValueError(
            f"{names[0]} must have at least one dimension (the outcomes), got a scalar"
        )
    dtype = jnp.result_type(*arrays)
    return [x.astype(dtype) for x in arrays], check_axis(axis, arrays[0].ndim)


def _pmfs(
    named: dict[str, ArrayLike], axis: int, where: ArrayLike | None, validate: bool
) -> tuple[list[Array], int, Array | None]:
    """Probability arrays zeroed where masked out, the axis and the mask."""
    arrays, axis = _arrays(named, axis)
    mask = _mask(where, arrays[0].shape)
    if mask is not None:
        arrays = [jnp.where(mask, x, 0) for x in arrays]
    if validate:
        for name, x in zip(named, arrays, strict=True):
            validate_probabilities(x, name, axis)
    return arrays, axis, mask


def _validate_logits(x: Array, name: str, axis: int) -> None:
    value = require_concrete(x, name)
    bad = np.isnan(value) | (value == np.inf)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"{name} must be finite or -inf; {name}[{idx}] = {value[idx]}")
    empty = np.all(value == -np.inf, axis=axis)
    if np.any(empty):
        idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(empty))[0])
        raise ValueError(
            f"{name} must have a finite logit in every distribution along axis {axis}; "
            f"the distribution at batch index {idx} has none"
        )


def _log_softmaxes(
    named: dict[str, ArrayLike], axis: int, where: ArrayLike | None, validate: bool
) -> tuple[list[Array], int, Array | None]:
    """log-softmax of each logit array (masked-out entries are -inf), axis, mask."""
    arrays, axis = _arrays(named, axis)
    mask = _mask(where, arrays[0].shape)
    if mask is not None:
        arrays = [jnp.where(mask, x, -jnp.inf) for x in arrays]
    if validate:
        for name, x in zip(named, arrays, strict=True):
            _validate_logits(x, name, axis)
    return [jax.nn.log_softmax(x, axis=axis) for x in arrays], axis, mask


def _check_temperature(temperature: ArrayLike) -> ArrayLike:
    if isinstance(temperature, numbers.Real):
        t = check_static_float(temperature, "temperature", positive=True)
        if math.isinf(t):
            raise ValueError("temperature must be finite, got inf")
        return t
    t = as_float_array(temperature, "temperature")
    if t.ndim != 0:
        raise ValueError(f"temperature must be a scalar, got shape {t.shape}")
    return t


def _check_alpha(alpha: float) -> float:
    return check_static_float(alpha, "alpha", nonnegative=True)


def _sum(terms: Array, axis: int, mask: Array | None, base: float | None) -> Array:
    return to_base(jnp.sum(terms, axis=axis, where=mask), base)


# --------------------------------------------------------------------------- #
# Entropy and cross-entropy.
# --------------------------------------------------------------------------- #


def entropy(
    p: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Shannon entropy H(p) = −Σₓ p(x) log p(x), with 0 · log 0 = 0.

    Args:
      p: probabilities, shape `(..., K, ...)` with the outcomes on `axis`.
      axis: the axis of outcomes; the other axes are batch axes.
      base: logarithm base of the result (None: nats, 2: bits).
      where: boolean mask broadcastable to `p`; outcomes where it is False are
        left out (equal to slicing them away).
      validate: check eagerly that `p` holds pmfs (finite, >= 0, sums to 1).

    Returns:
      H(p), shape of `p` without `axis`; 0 <= H <= log K.

    Same value as `scipy.stats.entropy(p, axis=axis)` for normalized `p`; NaN
    if an entry is negative (scipy gives -inf). The gradient at p(x) = 0 is 0
    (the derivative log p + 1 has no finite limit there).
    Reference: Cover & Thomas, Elements of Information Theory, eq. 2.1.
    """
    check_base(base)
    (p,), axis, mask = _pmfs({"p": p}, axis, where, validate)
    return _sum(_entr(p), axis, mask, base)


def entropy_from_logits(
    logits: ArrayLike,
    *,
    temperature: ArrayLike = 1.0,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Entropy of softmax(logits / T): H = −Σₓ p(x) log p(x) in log space.

    Args:
      logits: unnormalized log-probabilities, -inf for impossible outcomes.
      temperature: T > 0 (a scalar); T > 1 flattens the distribution.
      axis, base, where, validate: as in `entropy` (masked-out logits are
        excluded from the softmax).

    Returns:
      H(softmax(logits / T)), shape of `logits` without `axis`.
    """
    check_base(base)
    temperature = _check_temperature(temperature)
    (log_p,), axis, mask = _log_softmaxes(
        {"logits": as_float_array(logits, "logits") / temperature}, axis, where, validate
    )
    finite = log_p > -jnp.inf
    safe_log_p = jnp.where(finite, log_p, 0)
    terms = jnp.where(finite, -jnp.exp(safe_log_p) * safe_log_p, 0)
    return _sum(terms, axis, mask, base)


def cross_entropy(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Cross-entropy H(p, q) = −Σₓ p(x) log q(x) = H(p) + KL(p‖q).

    +inf where p(x) > 0 = q(x). Linear in p: its gradient in p is −log q,
    also where p(x) = 0. For soft targets and model logits use
    `cross_entropy_from_logits`; for integer labels `cross_entropy_from_labels`.

    Args:
      p: target probabilities, shape `(..., K, ...)` with outcomes on `axis`.
      q: model probabilities, same shape.
      axis, base, where, validate: as in `entropy`.

    Returns:
      H(p, q), shape of `p` without `axis`.
    """
    check_base(base)
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return _sum(-xlogy(p, q), axis, mask, base)


def cross_entropy_from_logits(
    targets: ArrayLike,
    logits: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Soft-target cross-entropy H(t, softmax(z)) = −Σₓ t(x) log_softmax(z)(x).

    The model distribution is given by logits z (log space, stable at any
    scale); the targets t stay probabilities (e.g. from `smooth_labels`).
    Same as optax's `softmax_cross_entropy(logits, targets)`, arguments in the
    order of H(p, q).

    Args:
      targets: target probabilities, shape `(..., K, ...)`.
      logits: model logits, same shape; -inf for impossible outcomes.
      axis, base, where, validate: as in `entropy`.

    Returns:
      H(t, softmax(z)), shape of `logits` without `axis`; +inf where a target
      puts mass on a -inf logit.
    """
    check_base(base)
    (targets, logits), axis = _arrays({"targets": targets, "logits": logits}, axis)
    (targets,), _, _ = _pmfs({"targets": targets}, axis, where, validate)
    (log_q,), _, mask = _log_softmaxes({"logits": logits}, axis, where, validate)
    return _sum(-_mul_or_zero(targets, log_q), axis, mask, base)


def smooth_labels(
    p: ArrayLike, epsilon: float, *, axis: int = -1, where: ArrayLike | None = None
) -> Array:
    r"""Label smoothing (1 − ε)·p + ε/K, mixing p with the uniform distribution.

    Args:
      p: probabilities (e.g. one-hot labels), outcomes on `axis`.
      epsilon: static ε in [0, 1].
      axis: the axis of outcomes.
      where: mask of the included outcomes; K counts them, masked-out outcomes
        get 0.

    Returns:
      The smoothed pmf, shape of `p`.

    Reference: Szegedy et al., Rethinking the Inception Architecture, 2016, §7.
    H((1 − ε)p + εU) is not (1 − ε)H(p) + ε log K: entropy is concave.
    """
    epsilon = check_static_float(epsilon, "epsilon", nonnegative=True)
    if epsilon > 1:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    (p,), axis, mask = _pmfs({"p": p}, axis, where, False)
    included = jnp.ones_like(p) if mask is None else mask.astype(p.dtype)
    k = jnp.sum(included, axis=axis, keepdims=True)
    return (1 - epsilon) * p + epsilon * included / k


def cross_entropy_from_labels(
    labels: ArrayLike,
    logits: ArrayLike,
    *,
    label_smoothing: float = 0.0,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Cross-entropy of integer labels: −(1 − ε) log q(y) − (ε/K) Σₓ log q(x).

    q = softmax(logits). With ε = 0 this is −log q(y), optax's
    `softmax_cross_entropy_with_integer_labels`.

    Args:
      labels: integer class indices, shape of `logits` without `axis`.
      logits: model logits, shape `(..., K, ...)` with classes on `axis`.
      label_smoothing: static ε in [0, 1] (see `smooth_labels`).
      axis, base: as in `entropy`.
      where: mask of the included classes (broadcastable to `logits`).
      validate: also check eagerly that labels lie in [0, K) on included classes.

    Returns:
      The loss, shape of `labels`; NaN where a label is out of range or masked
      out (never a silent 0).
    """
    check_base(base)
    logits = as_float_array(logits, "logits")
    labels = as_int_array(labels, "labels")
    if logits.ndim == 0:
        raise ValueError("logits must have at least one dimension (the classes), got a scalar")
    axis = check_axis(axis, logits.ndim)
    expected = logits.shape[:axis] + logits.shape[axis + 1 :]
    if labels.shape != expected:
        raise ValueError(
            f"labels must have the shape of logits without axis {axis}, {expected}, "
            f"got {labels.shape}"
        )
    mask = _mask(where, logits.shape)
    one_hot = jax.nn.one_hot(labels, logits.shape[axis], axis=axis, dtype=logits.dtype)
    if mask is not None:
        one_hot = jnp.where(mask, one_hot, 0)
    if validate:
        hit = np.asarray(require_concrete(one_hot, "labels")).sum(axis=axis)
        if not hit.all():
            idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(hit == 0))[0])
            raise ValueError(
                f"labels must index an included class in [0, {logits.shape[axis]}); "
                f"labels[{idx}] = {np.asarray(labels)[idx] if labels.ndim else int(labels)}"
            )
    targets = smooth_labels(one_hot, label_smoothing, axis=axis, where=mask)
    loss = cross_entropy_from_logits(
        targets, logits, axis=axis, base=base, where=mask, validate=validate
    )
    return jnp.where(jnp.sum(one_hot, axis=axis) > 0, loss, jnp.nan)


# --------------------------------------------------------------------------- #
# Binary (Bernoulli) quantities, elementwise.
# --------------------------------------------------------------------------- #


def _bernoulli(named: dict[str, ArrayLike], validate: bool) -> list[Array]:
    arrays = [as_float_array(x, name) for name, x in named.items()]
    names = list(named)
    for name, x in zip(names[1:], arrays[1:], strict=True):
        check_same_shape(arrays[0], x, names[0], name)
    dtype = jnp.result_type(*arrays)
    arrays = [x.astype(dtype) for x in arrays]
    if validate:
        for name, x in zip(names, arrays, strict=True):
            value = require_concrete(x, name)
            bad = ~((value >= 0) & (value <= 1))
            if bad.any():
                idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
                shown = value[idx] if value.ndim else value
                raise ValueError(f"{name} must lie in [0, 1]; {name}[{idx}] = {shown}")
    return arrays


def binary_entropy(p: ArrayLike, *, base: float | None = None, validate: bool = False) -> Array:
    r"""Bernoulli entropy h(p) = −p log p − (1 − p) log(1 − p), elementwise.

    log(1 − p) is computed as log1p(−p), accurate for tiny p.

    Args:
      p: probabilities of the event, any shape.
      base: logarithm base (None: nats, 2: bits; h(1/2) = 1 bit).
      validate: check eagerly that 0 <= p <= 1.

    Returns:
      h(p), shape of `p`.
    """
    check_base(base)
    (p,) = _bernoulli({"p": p}, validate)
    return to_base(-xlogx(p) - _times_log1p(1 - p, -p), base)


def binary_entropy_from_logits(
    logits: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli entropy of p = σ(z) from the logit z, elementwise.

    h = σ(z)·softplus(−z) + σ(−z)·softplus(z): a sum of non-negative terms, so
    no cancellation at large |z|; 0 at z = ±inf.

    Args:
      logits: logits z, any shape; ±inf allowed.
      base: logarithm base.
      validate: check eagerly that no logit is NaN.

    Returns:
      h(σ(z)), shape of `logits`.
    """
    check_base(base)
    (z,) = _bernoulli({"logits": logits}, False)
    if validate:
        _validate_not_nan(z, "logits")
    infinite = jnp.isinf(z)
    z1 = jnp.where(infinite, 0, z)
    h = jax.nn.sigmoid(z1) * jax.nn.softplus(-z1) + jax.nn.sigmoid(-z1) * jax.nn.softplus(z1)
    return to_base(jnp.where(infinite, 0, h), base)


def binary_cross_entropy(
    p: ArrayLike, q: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli cross-entropy −p log q − (1 − p) log(1 − q), elementwise.

    Args:
      p: target probabilities (labels in {0, 1} or soft), any shape.
      q: predicted probabilities, same shape.
      base: logarithm base.
      validate: check eagerly that p and q lie in [0, 1].

    Returns:
      The loss, shape of `p`; +inf where the prediction excludes the target.
    """
    check_base(base)
    p, q = _bernoulli({"p": p, "q": q}, validate)
    return to_base(-xlogy(p, q) - _times_log1p(1 - p, -q), base)


def binary_cross_entropy_from_logits(
    targets: ArrayLike, logits: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli cross-entropy of targets t and q = σ(z), in softplus form.

    −t log σ(z) − (1 − t) log σ(−z) = t·softplus(−z) + (1 − t)·softplus(z):
    no log(0), no overflow; 0 · inf = 0 at infinite logits. Same values as
    optax's `sigmoid_binary_cross_entropy(logits, targets)`.

    Args:
      targets: target probabilities t in [0, 1], any shape.
      logits: logits z, same shape; ±inf allowed.
      base: logarithm base.
      validate: check eagerly that targets lie in [0, 1] and logits are not NaN.

    Returns:
      The loss, shape of `logits`.
    """
    check_base(base)
    t, z = _bernoulli({"targets": targets, "logits": logits}, False)
    if validate:
        _bernoulli({"targets": t}, True)
        _validate_not_nan(z, "logits")
    loss = _mul_or_zero(t, jax.nn.softplus(-z)) + _mul_or_zero(1 - t, jax.nn.softplus(z))
    return to_base(loss, base)


def _validate_not_nan(x: Array, name: str) -> None:
    value = require_concrete(x, name)
    bad = np.isnan(value)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(np.atleast_1d(bad))[0])
        raise ValueError(f"{name} must not be NaN; {name}[{idx}] is NaN")


# --------------------------------------------------------------------------- #
# KL and Jensen–Shannon.
# --------------------------------------------------------------------------- #


def kl_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Kullback–Leibler divergence KL(p‖q) = Σₓ p(x) log(p(x)/q(x)).

    The first argument is the reference ("true") distribution: this is the
    order of `scipy.stats.entropy(p, q)`. optax's `kl_divergence(log_predictions,
    targets)` takes the arguments the other way round (and q in log space).

    Conventions: terms with p(x) = 0 are 0; p(x) > 0 = q(x) gives +inf (the
    honest value, never masked or clipped). The sum is taken in the form
    Σ [p log(p/q) − p + q] (equal for pmfs), every term >= 0 and accurate where
    p ≈ q, so the result is >= 0, exactly 0 at p = q, and precise for nearby
    distributions; the gradient vanishes at p = q.

    Args:
      p: probabilities, shape `(..., K, ...)` with outcomes on `axis`.
      q: probabilities, same shape.
      axis, base, where, validate: as in `entropy`.

    Returns:
      KL(p‖q), shape of `p` without `axis`.

    Reference: Kullback & Leibler, On Information and Sufficiency, 1951.
    """
    check_base(base)
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return _sum(_kl_div_terms(p, q, q - p), axis, mask, base)


def kl_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""KL(softmax(a)‖softmax(b)) from logits a, b, in log space.

    Σₓ p(x)(log p(x) − log q(x)) with log p = log_softmax(a): finite however
    small q(x) is, +inf only where b(x) = -inf < a(x). Summed as
    Σ p(e^d − 1 − d), d = log q − log p (equal for pmfs, each term >= 0), which
    is also insensitive to the rounding of the log-normalizers.

    Args:
      p_logits: logits of the reference distribution p; -inf for p(x) = 0.
      q_logits: logits of q, same shape.
      axis, base, where, validate: as in `entropy_from_logits`.

    Returns:
      KL(p‖q), shape of the logits without `axis`.
    """
    check_base(base)
    (log_p, log_q), axis, mask = _log_softmaxes(
        {"p_logits": p_logits, "q_logits": q_logits}, axis, where, validate
    )
    return _sum(_kl_div_terms_from_logs(log_p, log_q), axis, mask, base)


def _js_terms(p: Array, q: Array) -> Array:
    """½[kl_div(p, m) + kl_div(q, m)] with m = (p + q)/2 and exact m − p."""
    m = 0.5 * (p + q)
    half_diff = 0.5 * (q - p)
    return 0.5 * (_kl_div_terms(p, m, half_diff) + _kl_div_terms(q, m, -half_diff))


def js_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Jensen–Shannon divergence JS(p, q) = ½KL(p‖m) + ½KL(q‖m), m = (p + q)/2.

    Symmetric, finite, 0 <= JS <= log 2 (1 bit).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      axis, base, where, validate: as in `entropy`.

    Returns:
      JS(p, q), shape of `p` without `axis`.

    Reference: Lin, Divergence measures based on the Shannon entropy, 1991.
    """
    check_base(base)
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return _sum(_js_terms(p, q), axis, mask, base)


def js_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""JS(softmax(a), softmax(b)) from logits (see `js_divergence`).

    JS needs no log of a small q: m >= p/2, so it is computed on the softmax
    probabilities, which are accurate to full relative precision.
    """
    check_base(base)
    (log_p, log_q), axis, mask = _log_softmaxes(
        {"p_logits": p_logits, "q_logits": q_logits}, axis, where, validate
    )
    return _sum(_js_terms(jnp.exp(log_p), jnp.exp(log_q)), axis, mask, base)


def js_distance(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Jensen–Shannon distance √JS(p, q), a metric on distributions.

    As `scipy.spatial.distance.jensenshannon(p, q, base)`: the square root of
    JS in units of `base` (0 <= distance <= 1 for base 2). Zero gradient at
    p = q (where √ is not differentiable).
    """
    return _safe_sqrt(js_divergence(p, q, axis=axis, base=base, where=where, validate=validate))


# --------------------------------------------------------------------------- #
# Rényi.
# --------------------------------------------------------------------------- #


def _renyi_entropy(log_p: Array, alpha: float, axis: int) -> Array:
    support = log_p > -jnp.inf  # masked-out entries are -inf too
    if alpha == 0:
        return jnp.log(jnp.sum(support, axis=axis).astype(log_p.dtype))
    if math.isinf(alpha):
        return -jnp.max(log_p, axis=axis, where=support, initial=-jnp.inf)
    return jax.nn.logsumexp(alpha * log_p, axis=axis, where=support) / (1 - alpha)


def _renyi_divergence(log_p: Array, log_q: Array, alpha: float, axis: int) -> Array:
    support = log_p > -jnp.inf  # masked-out entries are -inf too
    log_p = jnp.where(support, log_p, 0)
    log_q = jnp.where(support, log_q, 0)
    if alpha == 0:
        return -jax.nn.logsumexp(log_q, axis=axis, where=support)
    if math.isinf(alpha):
        return jnp.max(log_p - log_q, axis=axis, where=support, initial=-jnp.inf)
    exponent = alpha * log_p + (1 - alpha) * log_q
    return jax.nn.logsumexp(exponent, axis=axis, where=support) / (alpha - 1)


def renyi_entropy(
    p: ArrayLike,
    *,
    alpha: float,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Rényi entropy of order α: H_α(p) = log(Σₓ p(x)^α) / (1 − α).

    Every α >= 0, with the limits: α = 0 the log of the support size (Hartley),
    α = 1 the Shannon entropy (computed as `entropy`), α = 2 the collision
    entropy −log Σ p², α = inf the min-entropy −log max p. Non-increasing in α.
    For α within ~1e-3 of 1 (not 1) the division by 1 − α amplifies rounding;
    use α = 1 for the limit.

    Args:
      p: probabilities, outcomes on `axis`.
      alpha: static order α >= 0 (`math.inf` allowed).
      axis, base, where, validate: as in `entropy`.

    Returns:
      H_α(p), shape of `p` without `axis`.

    Reference: Rényi, On Measures of Entropy and Information, 1961.
    """
    alpha = _check_alpha(alpha)
    if alpha == 1:
        return entropy(p, axis=axis, base=base, where=where, validate=validate)
    check_base(base)
    (p,), axis, mask = _pmfs({"p": p}, axis, where, validate)
    return to_base(_renyi_entropy(safe_log(p), alpha, axis), base)


def renyi_entropy_from_logits(
    logits: ArrayLike,
    *,
    alpha: float,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Rényi entropy H_α(softmax(logits)) in log space (see `renyi_entropy`)."""
    alpha = _check_alpha(alpha)
    if alpha == 1:
        return entropy_from_logits(logits, axis=axis, base=base, where=where, validate=validate)
    check_base(base)
    (log_p,), axis, mask = _log_softmaxes({"logits": logits}, axis, where, validate)
    return to_base(_renyi_entropy(log_p, alpha, axis), base)


def renyi_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    alpha: float,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Rényi divergence of order α: D_α(p‖q) = log(Σₓ p(x)^α q(x)^(1−α)) / (α − 1).

    Sums run over the support of p. Limits: α = 0 gives −log q(supp p),
    α = 1 gives KL(p‖q) (computed as `kl_divergence`), α = inf gives
    log maxₓ p(x)/q(x). D_α >= 0, non-decreasing in α; +inf for α >= 1 when
    p(x) > 0 = q(x) somewhere. D_{1/2} = −2 log Σ √(pq).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      alpha: static order α >= 0 (`math.inf` allowed).
      axis, base, where, validate: as in `entropy`.

    Returns:
      D_α(p‖q), shape of `p` without `axis`.

    Reference: van Erven & Harremoës, Rényi Divergence and Kullback–Leibler
    Divergence, IEEE Trans. Inf. Theory 60(7), 2014.
    """
    alpha = _check_alpha(alpha)
    if alpha == 1:
        return kl_divergence(p, q, axis=axis, base=base, where=where, validate=validate)
    check_base(base)
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return to_base(_renyi_divergence(safe_log(p), safe_log(q), alpha, axis), base)


def renyi_divergence_from_logits(
    p_logits: ArrayLike,
    q_logits: ArrayLike,
    *,
    alpha: float,
    axis: int = -1,
    base: float | None = None,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Rényi divergence D_α(softmax(a)‖softmax(b)) in log space (see `renyi_divergence`)."""
    alpha = _check_alpha(alpha)
    if alpha == 1:
        return kl_divergence_from_logits(
            p_logits, q_logits, axis=axis, base=base, where=where, validate=validate
        )
    check_base(base)
    (log_p, log_q), axis, mask = _log_softmaxes(
        {"p_logits": p_logits, "q_logits": q_logits}, axis, where, validate
    )
    return to_base(_renyi_divergence(log_p, log_q, alpha, axis), base)


# --------------------------------------------------------------------------- #
# f-divergences.
# --------------------------------------------------------------------------- #


def f_divergence(
    p: ArrayLike,
    q: ArrayLike,
    f: Callable[[Array], Array],
    *,
    f_prime_inf: float = math.inf,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Csiszár f-divergence D_f(p‖q) = Σₓ q(x) f(p(x)/q(x)) for a convex f, f(1) = 0.

    Where q(x) = 0 the term is the limit of the perspective q f(p/q) as q -> 0:
    0 if p(x) = 0, and p(x)·f'(inf) if p(x) > 0, with f'(inf) = lim_{t->inf} f(t)/t.
    Generators: t log t (KL, f'(inf) = inf), −log t (reverse KL, 0),
    (t − 1)² (χ², inf), ½|t − 1| (total variation, ½), ½(√t − 1)² (squared
    Hellinger with the ½, ½).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      f: the generator, applied elementwise to arrays t = p/q >= 0. It is
        called at t = 0 where p(x) = 0 < q(x), so it must return its limit there
        (write t log t with `jax.scipy.special.xlogy(t, t)`, not `t * log(t)`).
      f_prime_inf: f'(inf) for the q(x) = 0 < p(x) terms (static number); the
        default +inf is right for generators growing faster than t.
      axis, where, validate: as in `entropy`.

    Returns:
      D_f(p‖q), shape of `p` without `axis` (in the units of f).

    Reference: Csiszár, Information-type measures of difference of probability
    distributions, 1967; Liese & Vajda, On Divergences and Informations, 2006.
    """
    if not callable(f):
        raise TypeError(f"f must be a callable generator, got {type(f).__name__}")
    f_prime_inf = check_static_float(f_prime_inf, "f_prime_inf")
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    q_positive = q > 0
    q1 = jnp.where(q_positive, q, 1)
    t = jnp.where(q_positive, p, 1) / q1
    mass_at_infinity = (p > 0) & ~q_positive
    at_infinity = jnp.where(mass_at_infinity, p, 0) * f_prime_inf
    terms = jnp.where(q_positive, q1 * f(t), jnp.where(mass_at_infinity, at_infinity, 0))
    return jnp.sum(terms, axis=axis, where=mask)


def chi2_divergence(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Pearson χ²-divergence χ²(p‖q) = Σₓ (p(x) − q(x))² / q(x) = Σ p²/q − 1.

    The f-divergence of f(t) = (t − 1)²; +inf where p(x) > 0 = q(x).
    KL(p‖q) <= log(1 + χ²(p‖q)).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      axis, where, validate: as in `entropy`.

    Returns:
      χ²(p‖q), shape of `p` without `axis`.
    """
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    q_positive = q > 0
    terms = jnp.where(
        q_positive,
        (p - q) ** 2 / jnp.where(q_positive, q, 1),
        jnp.where(p > 0, jnp.inf, 0),
    )
    return jnp.sum(terms, axis=axis, where=mask)


def squared_hellinger_distance(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Squared Hellinger distance H²(p, q) = ½ Σₓ (√p(x) − √q(x))² = 1 − Σ √(pq).

    Convention with the ½, so 0 <= H² <= 1 (1 for disjoint supports); the
    f-divergence of ½(√t − 1)². Summed in the difference form (no cancellation
    for nearby p, q).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      axis, where, validate: as in `entropy`.

    Returns:
      H²(p, q), shape of `p` without `axis`.
    """
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return 0.5 * jnp.sum((_safe_sqrt(p) - _safe_sqrt(q)) ** 2, axis=axis, where=mask)


def hellinger_distance(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Hellinger distance H(p, q) = √(½ Σₓ (√p(x) − √q(x))²), in [0, 1].

    The square root of `squared_hellinger_distance` (convention with the ½;
    scipy has none, some texts omit the ½ and get values up to √2). A metric.
    """
    return _safe_sqrt(squared_hellinger_distance(p, q, axis=axis, where=where, validate=validate))


def total_variation(
    p: ArrayLike,
    q: ArrayLike,
    *,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Total variation distance TV(p, q) = ½ Σₓ |p(x) − q(x)| = maxₐ |p(A) − q(A)|.

    In [0, 1]; the f-divergence of ½|t − 1| (not |t − 1|, which gives 2·TV).
    Pinsker: TV <= √(KL/2).

    Args:
      p, q: probabilities of the same shape, outcomes on `axis`.
      axis, where, validate: as in `entropy`.

    Returns:
      TV(p, q), shape of `p` without `axis`.
    """
    (p, q), axis, mask = _pmfs({"p": p, "q": q}, axis, where, validate)
    return 0.5 * jnp.sum(jnp.abs(p - q), axis=axis, where=mask)


# --------------------------------------------------------------------------- #
# Deep-learning helpers.
# --------------------------------------------------------------------------- #


def distillation_loss(
    student_logits: ArrayLike,
    teacher_logits: ArrayLike,
    *,
    temperature: ArrayLike,
    axis: int = -1,
    where: ArrayLike | None = None,
    validate: bool = False,
) -> Array:
    r"""Knowledge-distillation loss T² · KL(softmax(t/T) ‖ softmax(s/T)), in nats.

    Direction: the teacher's softened distribution is the reference (first
    argument of KL), so the student is fitted by forward KL, mode-covering: it is
    penalized wherever the teacher puts mass it misses. This equals the soft-
    target cross-entropy H(teacher_T, student_T) of Hinton et al. minus the
    teacher's entropy, which does not depend on the student: same gradient, and
    0 when the student matches.

    Why T²: the gradient of KL at temperature T with respect to the student
    logits is (q_T − p_T)/T, and for high T, q_T − p_T ≈ (s − t)/(K·T) (zero-mean
    logits), so the gradient scales as 1/T². Multiplying by T² keeps its size
    independent of T, so the loss can be mixed with the hard-label loss without
    retuning the weight when T changes.

    Args:
      student_logits: logits s, shape `(..., K, ...)` with classes on `axis`.
      teacher_logits: logits t, same shape.
      temperature: T > 0 (a scalar).
      axis, where, validate: as in `kl_divergence_from_logits`.

    Returns:
      The loss, shape of the logits without `axis`.

    Reference: Hinton, Vinyals & Dean, Distilling the Knowledge in a Neural
    Network, 2015, §2.
    """
    temperature = _check_temperature(temperature)
    s = as_float_array(student_logits, "student_logits")
    t = as_float_array(teacher_logits, "teacher_logits")
    check_same_shape(s, t, "student_logits", "teacher_logits")
    kl = kl_divergence_from_logits(
        t / temperature, s / temperature, axis=axis, where=where, validate=validate
    )
    return temperature**2 * kl


def categorical_fisher_information(logits: ArrayLike, *, axis: int = -1) -> Array:
    r"""Fisher information of softmax(θ) in the logits θ: F = diag(p) − p pᵀ.

    F = E_x[∇θ log p(x) ∇θ log p(x)ᵀ] = ∇²θ' KL(p_θ‖p_θ')|_{θ'=θ}, so
    KL(p_θ‖p_{θ+δ}) = ½ δᵀ F δ + O(‖δ‖³). F is positive semi-definite of rank
    K − 1 (its null space is the constant shift of the logits).

    Args:
      logits: θ, shape `(..., K, ...)` with classes on `axis`.
      axis: the class axis; the other axes are batch axes.

    Returns:
      F, shape `batch + (K, K)` (the batch axes are those of `logits` without
      `axis`, in order).

    Reference: Amari, Information Geometry and Its Applications, 2016, §2.
    """
    logits = as_float_array(logits, "logits")
    if logits.ndim == 0:
        raise ValueError("logits must have at least one dimension (the classes), got a scalar")
    axis = check_axis(axis, logits.ndim)
    p = jnp.moveaxis(jax.nn.softmax(logits, axis=axis), axis, -1)
    eye = jnp.broadcast_to(jnp.eye(p.shape[-1], dtype=p.dtype), p.shape + p.shape[-1:])
    return eye * p[..., None, :] - p[..., :, None] * p[..., None, :]
