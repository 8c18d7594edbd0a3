"""Shannon quantities of categorical distributions: entropy, cross-entropy, KL.

Also label smoothing, the distillation loss and the Fisher information of the
softmax. The Jensen–Shannon, Rényi and f-divergences are in `divergences.py`,
which shares the private helpers here (accurate KL terms, argument handling);
the Bernoulli forms are in `binary.py`.

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

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    EXPM1MX_SERIES_RADIUS,
    as_float_array,
    as_int_array,
    check_axis,
    check_base,
    check_same_shape,
    check_static_float,
    expm1mx_series,
    first_index,
    mul_or_zero,
    require_concrete,
    series_length,
    to_base,
    validate_probabilities,
    xlogx,
    xlogy,
)

Array = jax.Array

__all__ = [
    "categorical_fisher_information",
    "cross_entropy",
    "cross_entropy_from_labels",
    "cross_entropy_from_logits",
    "distillation_loss",
    "entropy",
    "entropy_from_logits",
    "kl_divergence",
    "kl_divergence_from_logits",
    "smooth_labels",
]

# --------------------------------------------------------------------------- #
# Accurate elementwise terms.
# --------------------------------------------------------------------------- #

# |s| below which the series of the KL term is used (s = (q - p) / (q + p)).
_KL_SERIES_RADIUS = 0.25


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
    n = series_length(p.dtype, lambda k: (_KL_SERIES_RADIUS**2) ** k)
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
    near = jnp.abs(d) < EXPM1MX_SERIES_RADIUS
    value_near = p * expm1mx_series(jnp.where(near, d, 0))
    far = q - p - p * d
    value = jnp.where(near, value_near, far)
    return jnp.where(p_zero, jnp.exp(log_q), value)


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
        idx = first_index(bad)
        raise ValueError(f"{name} must be finite or -inf; {name}[{idx}] = {value[idx]}")
    empty = np.all(value == -np.inf, axis=axis)
    if np.any(empty):
        idx = first_index(np.atleast_1d(empty))
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
    return _sum(-mul_or_zero(targets, log_q), axis, mask, base)


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
            idx = first_index(np.atleast_1d(hit == 0))
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
# Kullback–Leibler.
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
