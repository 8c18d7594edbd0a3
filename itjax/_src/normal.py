"""Closed forms for univariate and diagonal Gaussians: entropy, cross-entropy, KL, Fisher.

Two representations (full covariances are in `gaussian.py`):

- univariate normals, elementwise (`normal_*`; "normal" for one dimension follows the
  distrax/TFP naming, `Normal` against `MultivariateNormal*`);
- diagonal covariance given by its variances `var` of shape `(..., d)`
  (`diag_gaussian_*`, summed over `axis`), including `vae_kl`.

Leading axes are batch axes and broadcast against each other. Results are in nats
unless `base=` says otherwise. The fast path is branch-free and assumes every variance
is positive; `validate=True` checks this eagerly (outside transforms) and raises a
`ValueError` naming the argument and the first offending index.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    check_axis,
    check_base,
    first_index,
    require_concrete,
    to_base,
    validate_finite,
)

__all__ = [
    "DiagGaussianFisherInformation",
    "diag_gaussian_cross_entropy",
    "diag_gaussian_entropy",
    "diag_gaussian_fisher_information",
    "diag_gaussian_kl",
    "normal_cross_entropy",
    "normal_entropy",
    "normal_kl",
    "vae_kl",
]

Array = jax.Array

_LOG_2PI_E = math.log(2 * math.pi * math.e)


# --------------------------------------------------------------------------- #
# Argument checks and numerical helpers (shared with gaussian.py).
# --------------------------------------------------------------------------- #


def _broadcast(named: dict[str, Array], core: dict[str, int]) -> list[Array]:
    """Broadcast the batch axes (all but the last `core[name]` axes) of the arrays."""
    batches = {k: a.shape[: a.ndim - core[k]] for k, a in named.items()}
    try:
        batch = np.broadcast_shapes(*batches.values())
    except ValueError:
        shapes = ", ".join(f"{k} {a.shape}" for k, a in named.items())
        raise ValueError(
            f"the batch axes of {', '.join(named)} must broadcast together, got shapes {shapes}"
        ) from None
    return [jnp.broadcast_to(a, batch + a.shape[a.ndim - core[k] :]) for k, a in named.items()]


def _check_normals(**named: ArrayLike) -> list[Array]:
    """Means and variances of univariate normals, broadcast to a common shape."""
    arrays = {k: as_float_array(v, k) for k, v in named.items()}
    return _broadcast(arrays, dict.fromkeys(arrays, 0))


def _validate_var(var: Array, name: str) -> None:
    """Eagerly refuse variances that are not finite and positive."""
    value = require_concrete(var, name)
    validate_finite(var, name)
    bad = ~(value > 0)
    if bad.any():
        idx = first_index(bad)
        raise ValueError(f"{name} must be positive; {name}[{idx}] = {value[idx]}")


# t − log(1 + t) = Σ_{k≥2} (−t)^k / k = t² Σ_{j≥0} (−t)^j / (j + 2); for |t| < 1/4
# 28 terms bring the truncation below float64 rounding.
_SERIES_CUTOFF = 0.25
_SERIES = np.array([(-1.0) ** j / (j + 2) for j in range(28)][::-1])


def _t_minus_log1p(t: Array) -> Array:
    """t − log(1 + t) ≥ 0 for t > −1, accurate to a few ulps, also near t = 0.

    Every Gaussian KL holds r − 1 − log r for a variance ratio r = 1 + t. Written
    directly it is the difference of two nearly equal numbers when the Gaussians are
    close (relative error about 2 eps / |t|: at t = 1e-4 four digits are lost in float64
    and only three of float32's seven remain); there the series is used instead. `t`
    must itself be accurate: callers form it as a difference of variances, not as
    `ratio − 1`. t = +inf (an overflowed ratio) gives +inf.
    """
    small = jnp.abs(t) < _SERIES_CUTOFF
    t_small = jnp.where(small, t, jnp.zeros_like(t))
    series = t_small**2 * jnp.polyval(jnp.asarray(_SERIES, dtype=t.dtype), t_small)
    direct = jnp.where(jnp.isposinf(t), t, t - jnp.log1p(t))
    return jnp.where(small, series, direct)


# --------------------------------------------------------------------------- #
# Univariate normals (elementwise).
# --------------------------------------------------------------------------- #


def normal_entropy(var: ArrayLike, *, base: float | None = None, validate: bool = False) -> Array:
    r"""Differential entropy of a univariate normal N(μ, σ²), elementwise.

    .. math:: h(N(μ, σ²)) = \tfrac12 \log(2 π e σ²)

    E.g. h(N(0, 1)) = 1.4189 nats and h(N(0, 0.25)) = 0.7258 nats; it is negative
    for σ² < 1 / (2πe) ≈ 0.0585, e.g. h(N(0, 0.01)) = −0.8837 nats.

    Args:
      var: variances σ² > 0, any shape.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that `var` is finite and positive.

    Returns:
      The entropy, shape of `var`. The fast path gives -inf at σ² = 0 and NaN below.

    References:
      Cover & Thomas, Elements of Information Theory, 2nd ed., Example 8.1.2.
    """
    var = as_float_array(var, "var")
    check_base(base)
    if validate:
        _validate_var(var, "var")
    return to_base(0.5 * (_LOG_2PI_E + jnp.log(var)), base)


def normal_kl(
    mean_p: ArrayLike,
    var_p: ArrayLike,
    mean_q: ArrayLike,
    var_q: ArrayLike,
    *,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""KL(p‖q) between univariate normals p = N(μ_p, σ_p²) and q = N(μ_q, σ_q²).

    .. math::
        KL(p‖q) = \tfrac12 \Big[ r - 1 - \log r + \frac{(μ_p - μ_q)^2}{σ_q^2} \Big],
        \qquad r = σ_p^2 / σ_q^2,

    with r − 1 − log r computed without cancellation for nearly equal variances
    (t = r − 1 is formed as (σ_p² − σ_q²) / σ_q²), so the KL between nearly equal
    normals keeps its relative precision.

    Args:
      mean_p, var_p: mean and variance of p; any shapes that broadcast together with
        those of q.
      mean_q, var_q: mean and variance of q.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that the means are finite and the variances positive.

    Returns:
      KL(p‖q) >= 0, the broadcast shape, in nats (or `base`).

    References:
      Kullback, Information Theory and Statistics (1959); Rasmussen & Williams,
      Gaussian Processes for Machine Learning (2006), Appendix A.5.
    """
    mean_p, var_p, mean_q, var_q = _check_normals(
        mean_p=mean_p, var_p=var_p, mean_q=mean_q, var_q=var_q
    )
    check_base(base)
    if validate:
        _validate_normals(mean_p=mean_p, var_p=var_p, mean_q=mean_q, var_q=var_q)
    t = (var_p - var_q) / var_q
    return to_base(0.5 * (_t_minus_log1p(t) + (mean_p - mean_q) ** 2 / var_q), base)


def normal_cross_entropy(
    mean_p: ArrayLike,
    var_p: ArrayLike,
    mean_q: ArrayLike,
    var_q: ArrayLike,
    *,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Cross-entropy H(p, q) = −E_p[log q] between univariate normals, elementwise.

    .. math::
        H(p, q) = h(p) + KL(p‖q)
                = \tfrac12 \Big[\log(2π σ_q^2) + \frac{σ_p^2 + (μ_p - μ_q)^2}{σ_q^2}\Big]

    Arguments as in `normal_kl`. Returns H(p, q), the broadcast shape, in nats (or
    `base`).
    """
    mean_p, var_p, mean_q, var_q = _check_normals(
        mean_p=mean_p, var_p=var_p, mean_q=mean_q, var_q=var_q
    )
    check_base(base)
    entropy = normal_entropy(var_p, validate=validate)
    kl = normal_kl(mean_p, var_p, mean_q, var_q, validate=validate)
    return to_base(entropy + kl, base)


def _validate_normals(**named: Array) -> None:
    for name, value in named.items():
        (_validate_var if name.startswith("var") else validate_finite)(value, name)


# --------------------------------------------------------------------------- #
# Diagonal covariances (summed over `axis`).
# --------------------------------------------------------------------------- #


def diag_gaussian_entropy(
    var: ArrayLike, *, axis: int = -1, base: float | None = None, validate: bool = False
) -> Array:
    r"""Differential entropy of N(μ, diag σ²): the sum of the coordinates' entropies.

    .. math:: h = \tfrac12 \sum_i \log(2 π e σ_i^2)

    Args:
      var: variances σ_i² > 0, shape `(..., d)` with the coordinates on `axis`.
      axis: the axis of the coordinates.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that `var` is finite and positive.

    Returns:
      The entropy, shape of `var` without `axis`, in nats (or `base`).
    """
    var = as_float_array(var, "var")
    axis = check_axis(axis, var.ndim)
    return jnp.sum(normal_entropy(var, base=base, validate=validate), axis=axis)


def diag_gaussian_kl(
    mean_p: ArrayLike,
    var_p: ArrayLike,
    mean_q: ArrayLike,
    var_q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""KL(p‖q) between Gaussians with diagonal covariances diag σ_p² and diag σ_q².

    .. math::
        KL(p‖q) = \tfrac12 \sum_i \Big[ r_i - 1 - \log r_i
                  + \frac{(μ_{p,i} - μ_{q,i})^2}{σ_{q,i}^2} \Big],
        \qquad r_i = σ_{p,i}^2 / σ_{q,i}^2,

    the sum over coordinates of `normal_kl` (accurate for nearly equal Gaussians).

    Args:
      mean_p, var_p, mean_q, var_q: means and variances, shape `(..., d)` or any
        shapes that broadcast together.
      axis: the axis of the coordinates (of the broadcast shape).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that the means are finite and the variances positive.

    Returns:
      KL(p‖q) >= 0, the broadcast shape without `axis`, in nats (or `base`).
    """
    mean_p, var_p, mean_q, var_q = _check_normals(
        mean_p=mean_p, var_p=var_p, mean_q=mean_q, var_q=var_q
    )
    axis = check_axis(axis, mean_p.ndim)
    kl = normal_kl(mean_p, var_p, mean_q, var_q, base=base, validate=validate)
    return jnp.sum(kl, axis=axis)


def diag_gaussian_cross_entropy(
    mean_p: ArrayLike,
    var_p: ArrayLike,
    mean_q: ArrayLike,
    var_q: ArrayLike,
    *,
    axis: int = -1,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Cross-entropy H(p, q) = h(p) + KL(p‖q) of Gaussians with diagonal covariances.

    .. math::
        H(p, q) = \tfrac12 \sum_i \Big[\log(2π σ_{q,i}^2)
                  + \frac{σ_{p,i}^2 + (μ_{p,i} - μ_{q,i})^2}{σ_{q,i}^2}\Big]

    Arguments as in `diag_gaussian_kl`. Returns H(p, q), the broadcast shape without
    `axis`, in nats (or `base`).
    """
    mean_p, var_p, mean_q, var_q = _check_normals(
        mean_p=mean_p, var_p=var_p, mean_q=mean_q, var_q=var_q
    )
    axis = check_axis(axis, mean_p.ndim)
    cross = normal_cross_entropy(mean_p, var_p, mean_q, var_q, base=base, validate=validate)
    return jnp.sum(cross, axis=axis)


def vae_kl(
    mean: ArrayLike, log_var: ArrayLike, *, axis: int = -1, base: float | None = None
) -> Array:
    r"""KL(N(μ, diag σ²) ‖ N(0, I)), the KL term of a VAE, from the encoder's log σ².

    .. math::
        KL = \tfrac12 \sum_i \big(μ_i^2 + σ_i^2 - 1 - \log σ_i^2\big)

    The direction is the one in the evidence lower bound: the approximate posterior
    q(z|x) = N(μ, diag σ²) first, the prior second. σ² − 1 − log σ² is computed as
    t − log(1 + t) with t = expm1(log σ²), so a collapsed posterior (log σ² ≈ 0,
    μ ≈ 0) keeps the relative precision of its tiny KL.

    Example: μ_i = 0.5 and σ_i = 1.2 in 20 dimensions give
    ½ · 20 · (0.25 + 1.44 − 1 − log 1.44) = 3.2536 nats.

    Args:
      mean: μ, shape `(..., d)`.
      log_var: log σ², the same shape (or broadcastable with `mean`).
      axis: the axis of the latent coordinates, summed over.
      base: logarithm base of the result (None: nats, 2: bits).

    Returns:
      The KL, the broadcast shape without `axis`, in nats (or `base`).

    References:
      Kingma & Welling, Auto-Encoding Variational Bayes, ICLR 2014, Appendix B.
    """
    mean, log_var = _check_normals(mean=mean, log_var=log_var)
    axis = check_axis(axis, mean.ndim)
    check_base(base)
    kl = 0.5 * (mean**2 + _t_minus_log1p(jnp.expm1(log_var)))
    return to_base(jnp.sum(kl, axis=axis), base)


# --------------------------------------------------------------------------- #
# Fisher information of a diagonal Gaussian.
# --------------------------------------------------------------------------- #


class DiagGaussianFisherInformation(NamedTuple):
    """Diagonal of the Fisher information of N(μ, diag σ²) for θ = (μ, σ²).

    Attributes:
      mean: the block for μ, 1 / σ², shape of `var`.
      var: the block for σ², 1 / (2 σ⁴), shape of `var`.
    """

    mean: Array
    var: Array


def diag_gaussian_fisher_information(
    var: ArrayLike, *, validate: bool = False
) -> DiagGaussianFisherInformation:
    r"""Fisher information of N(μ, diag σ²) in the parameters θ = (μ, σ²).

    The Fisher information matrix is diagonal:

    .. math::
        F_{μ_i μ_i} = \frac{1}{σ_i^2}, \qquad F_{σ_i^2 σ_i^2} = \frac{1}{2 σ_i^4}.

    Other parameterizations follow by the chain rule F_φ = Jᵀ F_θ J: for φ = log σ²
    the variance block is ½; for φ = σ it is 2 / σ².
    So KL(N(μ, σ²) ‖ N(μ + δ_μ, σ² + δ_v)) ≈ ½ Σ_i (δ_μ,i² / σ_i² + δ_v,i² / (2σ_i⁴)).

    Args:
      var: variances σ² > 0, shape `(..., d)` (any shape; elementwise).
      validate: check eagerly that `var` is finite and positive.

    Returns:
      A `DiagGaussianFisherInformation(mean, var)` of arrays shaped like `var`.

    References:
      Kay, Fundamentals of Statistical Signal Processing, Vol. I: Estimation
      Theory (1993), Chapter 3.
    """
    var = as_float_array(var, "var")
    if validate:
        _validate_var(var, "var")
    return DiagGaussianFisherInformation(mean=1 / var, var=0.5 / var**2)
