"""Divergence families of discrete distributions: Jensen–Shannon, Rényi, Csiszár f.

Same conventions as `functionals.py`: plain names take probabilities along
`axis`, `*_from_logits` names take logits and work in log space, leading axes
are batch axes, `where=` masks outcomes out, `validate=True` checks the inputs
eagerly, results are in nats unless `base=` says otherwise (an f-divergence is in
the units of its generator). Order α = 1 of the Rényi forms is computed as the
Shannon entropy or KL of `functionals.py`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from itjax._src._utils import check_base, check_static_float, safe_log, to_base
from itjax._src.functionals import (
    _kl_div_terms,
    _log_softmaxes,
    _pmfs,
    _sum,
    entropy,
    entropy_from_logits,
    kl_divergence,
    kl_divergence_from_logits,
)

Array = jax.Array

__all__ = [
    "chi2_divergence",
    "f_divergence",
    "hellinger_distance",
    "js_distance",
    "js_divergence",
    "js_divergence_from_logits",
    "renyi_divergence",
    "renyi_divergence_from_logits",
    "renyi_entropy",
    "renyi_entropy_from_logits",
    "squared_hellinger_distance",
    "total_variation",
]


def _safe_sqrt(x: Array) -> Array:
    """sqrt(x) with a zero (not infinite) gradient at x = 0."""
    positive = x > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, x, 1)), 0)


def _check_alpha(alpha: float) -> float:
    return check_static_float(alpha, "alpha", nonnegative=True)


# --------------------------------------------------------------------------- #
# Jensen–Shannon.
# --------------------------------------------------------------------------- #


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
