"""Closed forms for Gaussian distributions: entropy, cross-entropy, KL, MI, Fisher.

Every quantity is computed from Cholesky factors (log det Σ = 2 Σ_i log L_ii, and
triangular solves instead of inverses), never from `det` or `inv`, so that it stays
finite and accurate in high dimension and for nearly singular covariances.

Three representations are offered:

- full covariance `cov` of shape `(..., d, d)` (`gaussian_*`);
- diagonal covariance given by its variances `var` of shape `(..., d)`
  (`diag_gaussian_*`, summed over `axis`);
- univariate normals, elementwise (`normal_*`; "normal" for one dimension follows the
  distrax/TFP naming, `Normal` against `MultivariateNormal*`).

Leading axes are batch axes and broadcast against each other. Results are in nats
unless `base=` says otherwise.

Fast path and `validate=True`: the fast path is branch-free and assumes every
covariance is symmetric positive definite and every variance positive. A covariance
that is not positive definite makes the Cholesky factorization fail, which JAX reports
by NaN entries, so the result is NaN (never a silent wrong number). `jnp.linalg.cholesky`
symmetrizes its input, so only the symmetric part of `cov` is used. `validate=True`
checks these assumptions eagerly (outside transforms) and raises a `ValueError` naming
the argument and the first offending batch index.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular
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
    "gaussian_cross_entropy",
    "gaussian_entropy",
    "gaussian_fisher_information",
    "gaussian_kl",
    "gaussian_mutual_information",
    "normal_cross_entropy",
    "normal_entropy",
    "normal_kl",
    "vae_kl",
]

Array = jax.Array

_LOG_2PI_E = math.log(2 * math.pi * math.e)


# --------------------------------------------------------------------------- #
# Argument checks (shapes before tracing; values on the eager `validate` path).
# --------------------------------------------------------------------------- #


def _check_cov(cov: ArrayLike, name: str) -> Array:
    """`cov` as a floating array of square matrices `(..., d, d)`, d >= 1."""
    cov = as_float_array(cov, name)
    if cov.ndim < 2 or cov.shape[-1] != cov.shape[-2] or cov.shape[-1] == 0:
        raise ValueError(
            f"{name} must be a square covariance matrix of shape (..., d, d) with d >= 1, "
            f"got shape {cov.shape}"
        )
    return cov


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


def _check_gaussians(mean_p, cov_p, mean_q, cov_q) -> list[Array]:
    """Means `(..., d)` and covariances `(..., d, d)` of two Gaussians, batch-broadcast."""
    cov_p, cov_q = _check_cov(cov_p, "cov_p"), _check_cov(cov_q, "cov_q")
    mean_p, mean_q = as_float_array(mean_p, "mean_p"), as_float_array(mean_q, "mean_q")
    dim = cov_p.shape[-1]
    for name, arr in (("mean_p", mean_p), ("mean_q", mean_q), ("cov_q", cov_q)):
        if arr.ndim == 0 or arr.shape[-1] != dim:
            raise ValueError(
                f"{name} must have dimension d = {dim} (from cov_p of shape {cov_p.shape}) "
                f"on its last axis, got shape {arr.shape}"
            )
    named = {"mean_p": mean_p, "cov_p": cov_p, "mean_q": mean_q, "cov_q": cov_q}
    return _broadcast(named, {"mean_p": 1, "cov_p": 2, "mean_q": 1, "cov_q": 2})


def _validate_cov(cov: Array, name: str) -> None:
    """Eagerly refuse a covariance that is not finite, symmetric and positive definite."""
    value = require_concrete(cov, name)
    validate_finite(cov, name)
    eps = np.finfo(value.dtype).eps
    scale = np.max(np.abs(value), axis=(-2, -1), keepdims=True)
    asymmetric = np.any(
        np.abs(value - np.swapaxes(value, -1, -2)) > 64 * eps * scale, axis=(-2, -1)
    )
    if asymmetric.any():
        where = f" at batch index {first_index(asymmetric)}" if value.ndim > 2 else ""
        raise ValueError(f"{name} must be a symmetric matrix, got an asymmetric one{where}")
    # The same factorization as the fast path, in the same dtype: if it fails here,
    # the fast path would return NaN.
    failed = np.isnan(np.asarray(jnp.linalg.cholesky(cov))).any(axis=(-2, -1))
    if failed.any():
        where = f" at batch index {first_index(failed)}" if value.ndim > 2 else ""
        raise ValueError(
            f"{name} must be positive definite; its Cholesky factorization fails{where}"
        )


def _validate_var(var: Array, name: str) -> None:
    """Eagerly refuse variances that are not finite and positive."""
    value = require_concrete(var, name)
    validate_finite(var, name)
    bad = ~(value > 0)
    if bad.any():
        idx = first_index(bad)
        raise ValueError(f"{name} must be positive; {name}[{idx}] = {value[idx]}")


# --------------------------------------------------------------------------- #
# Numerical helpers.
# --------------------------------------------------------------------------- #


def _half_logdet(chol: Array) -> Array:
    """½ log det Σ = Σ_i log L_ii from the Cholesky factor L of Σ."""
    return jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


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
# Full covariances (Cholesky factors and triangular solves).
# --------------------------------------------------------------------------- #


def gaussian_entropy(cov: ArrayLike, *, base: float | None = None, validate: bool = False) -> Array:
    r"""Differential entropy of a multivariate normal N(μ, Σ) in d dimensions.

    .. math::
        h = \tfrac12 \log \det(2 π e Σ) = \tfrac d2 \log(2 π e) + \sum_i \log L_{ii},
        \qquad Σ = L Lᵀ.

    Differential entropy can be negative (a covariance with small determinant).

    Args:
      cov: covariance Σ, shape `(..., d, d)`, symmetric positive definite.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that `cov` is finite, symmetric and positive definite.

    Returns:
      The entropy, shape `cov.shape[:-2]`, in nats (or `base`); NaN where the
      Cholesky factorization fails.

    References:
      Cover & Thomas, Elements of Information Theory, 2nd ed., Theorem 8.4.1.
    """
    cov = _check_cov(cov, "cov")
    check_base(base)
    if validate:
        _validate_cov(cov, "cov")
    dim = cov.shape[-1]
    return to_base(0.5 * dim * _LOG_2PI_E + _half_logdet(jnp.linalg.cholesky(cov)), base)


def gaussian_kl(
    mean_p: ArrayLike,
    cov_p: ArrayLike,
    mean_q: ArrayLike,
    cov_q: ArrayLike,
    *,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""KL(p‖q) between multivariate normals p = N(μ_p, Σ_p) and q = N(μ_q, Σ_q).

    .. math::
        KL(p‖q) = \tfrac12 \Big[ \operatorname{tr}(Σ_q^{-1} Σ_p)
                  + (μ_q - μ_p)ᵀ Σ_q^{-1} (μ_q - μ_p) - d
                  + \log \frac{\det Σ_q}{\det Σ_p} \Big].

    With Cholesky factors Σ_p = L_p L_pᵀ, Σ_q = L_q L_qᵀ, the matrix M = L_q⁻¹ L_p is
    lower triangular with M_ii = (L_p)_ii / (L_q)_ii, tr(Σ_q⁻¹Σ_p) = ‖M‖_F² and
    log det Σ_p / det Σ_q = Σ_i log M_ii², so

    .. math::
        KL(p‖q) = \tfrac12 \Big[ \sum_i (M_{ii}^2 - 1 - \log M_{ii}^2)
                  + \sum_{i > j} M_{ij}^2 + \lVert L_q^{-1}(μ_q - μ_p) \rVert^2 \Big],

    a sum of non-negative terms (no `det`, no `inv`, no cancellation between the trace
    and the log-determinants).

    Args:
      mean_p, cov_p: mean `(..., d)` and covariance `(..., d, d)` of p.
      mean_q, cov_q: mean and covariance of q; batch axes broadcast with those of p.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that the means are finite and both covariances
        symmetric positive definite.

    Returns:
      KL(p‖q) >= 0, the broadcast batch shape, in nats (or `base`); NaN where a
      Cholesky factorization fails.

    References:
      Rasmussen & Williams, Gaussian Processes for Machine Learning (2006),
      Appendix A.5.
    """
    mean_p, cov_p, mean_q, cov_q = _check_gaussians(mean_p, cov_p, mean_q, cov_q)
    check_base(base)
    if validate:
        _validate_gaussians(mean_p, cov_p, mean_q, cov_q)
    chol_p, chol_q = jnp.linalg.cholesky(cov_p), jnp.linalg.cholesky(cov_q)
    m = solve_triangular(chol_q, chol_p, lower=True)
    z = solve_triangular(chol_q, (mean_q - mean_p)[..., None], lower=True)[..., 0]
    diag_p = jnp.diagonal(chol_p, axis1=-2, axis2=-1)
    diag_q = jnp.diagonal(chol_q, axis1=-2, axis2=-1)
    t = (diag_p - diag_q) * (diag_p + diag_q) / diag_q**2  # M_ii² − 1, without cancellation
    kl = 0.5 * (
        jnp.sum(_t_minus_log1p(t), axis=-1)
        + jnp.sum(jnp.tril(m, -1) ** 2, axis=(-2, -1))
        + jnp.sum(z**2, axis=-1)
    )
    return to_base(kl, base)


def gaussian_cross_entropy(
    mean_p: ArrayLike,
    cov_p: ArrayLike,
    mean_q: ArrayLike,
    cov_q: ArrayLike,
    *,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Cross-entropy H(p, q) = −E_p[log q] between multivariate normals.

    .. math::
        H(p, q) = h(p) + KL(p‖q)
                = \tfrac12 \Big[ d \log 2π + \log \det Σ_q + \operatorname{tr}(Σ_q^{-1} Σ_p)
                  + (μ_q - μ_p)ᵀ Σ_q^{-1} (μ_q - μ_p) \Big].

    Arguments as in `gaussian_kl`. Returns H(p, q), the broadcast batch shape, in nats
    (or `base`).
    """
    mean_p, cov_p, mean_q, cov_q = _check_gaussians(mean_p, cov_p, mean_q, cov_q)
    check_base(base)
    entropy = gaussian_entropy(cov_p, validate=validate)
    kl = gaussian_kl(mean_p, cov_p, mean_q, cov_q, validate=validate)
    return to_base(entropy + kl, base)


def _validate_gaussians(mean_p, cov_p, mean_q, cov_q) -> None:
    validate_finite(mean_p, "mean_p")
    validate_finite(mean_q, "mean_q")
    _validate_cov(cov_p, "cov_p")
    _validate_cov(cov_q, "cov_q")


# --------------------------------------------------------------------------- #
# Mutual information.
# --------------------------------------------------------------------------- #


def _split_order(split: int | tuple[Sequence[int], Sequence[int]], dim: int):
    """Validate `split`; return (number of X coordinates, static index order or None)."""
    expected = (
        f"split must be an int in [1, {dim - 1}] (the first `split` coordinates are X) "
        "or a pair (x_indices, y_indices) of disjoint, non-empty sequences of ints"
    )
    if isinstance(split, jax.core.Tracer):
        raise TypeError(f"{expected}; got a traced value (split is static)")
    if isinstance(split, (int, np.integer)) and not isinstance(split, (bool, np.bool_)):
        if not 1 <= split <= dim - 1:
            raise ValueError(f"{expected}, got {split} for a covariance of dimension {dim}")
        return int(split), None
    if not (isinstance(split, (tuple, list)) and len(split) == 2):
        raise TypeError(f"{expected}, got {split!r}")
    try:
        x_idx = [int(i) for i in np.asarray(split[0]).reshape(-1)]
        y_idx = [int(i) for i in np.asarray(split[1]).reshape(-1)]
        integral = all(np.issubdtype(np.asarray(s).dtype, np.integer) for s in split if len(s))
    except (TypeError, ValueError) as err:
        raise TypeError(f"{expected}, got {split!r}") from err
    if not integral or not x_idx or not y_idx:
        raise ValueError(f"{expected}, got {split!r}")
    everything = x_idx + y_idx
    if any(not -dim <= i < dim for i in everything):
        raise ValueError(f"{expected}; an index is out of range for dimension {dim}: {split!r}")
    everything = [i % dim for i in everything]
    if len(set(everything)) != len(everything):
        raise ValueError(f"{expected}; the indices repeat or overlap: {split!r}")
    return len(x_idx), np.asarray(everything)


def gaussian_mutual_information(
    cov: ArrayLike,
    split: int | tuple[Sequence[int], Sequence[int]],
    *,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Mutual information I(X; Y) of a jointly Gaussian vector (X, Y).

    .. math::
        I(X; Y) = \tfrac12 \log \frac{\det Σ_X \det Σ_Y}{\det Σ}
                = \tfrac12 \log \det Σ_Y - \tfrac12 \log \det Σ_{Y|X},

    with Σ_{Y|X} = Σ_Y - Σ_{YX} Σ_X^{-1} Σ_{XY} the Schur complement. The covariance
    is first turned into a correlation matrix R (MI is invariant to scaling each
    coordinate), then factorized once, R = L Lᵀ: the lower-right block of L is the
    Cholesky factor of R_{Y|X}, so log det R_X never has to be subtracted from
    log det R. With a second factorization R_Y = L_Y L_Yᵀ,

    .. math:: I(X; Y) = \sum_i \log (L_Y)_{ii} - \sum_i \log (L_{Y|X})_{ii}.

    This stays accurate at dimension 100 with correlations of 0.999, where
    `det Σ` underflows. For independent pairs with correlations ρ_i,
    I = -½ Σ_i log(1 - ρ_i²).

    Args:
      cov: covariance of the joint vector, shape `(..., d, d)`, symmetric positive
        definite; leading axes are batch axes.
      split: static. An int s in [1, d - 1]: X is the first s coordinates, Y the rest.
        Or a pair `(x_indices, y_indices)` of disjoint index sequences (coordinates
        in neither are marginalized out).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that `cov` is finite, symmetric and positive definite.

    Returns:
      I(X; Y), shape `cov.shape[:-2]`, in nats (or `base`). NaN where `cov` is not
      positive definite (the fast path does not check).

    References:
      Cover & Thomas, Elements of Information Theory, 2nd ed., eq. (8.56) and
      Example 8.5.1.
    """
    cov = _check_cov(cov, "cov")
    check_base(base)
    dim = cov.shape[-1]
    if dim < 2:
        raise ValueError(f"cov must have dimension d >= 2 to split into X and Y, got {cov.shape}")
    s, order = _split_order(split, dim)
    if validate:
        _validate_cov(cov, "cov")
    if order is not None:
        cov = cov[..., order[:, None], order[None, :]]
    std = jnp.sqrt(jnp.diagonal(cov, axis1=-2, axis2=-1))
    corr = cov / (std[..., :, None] * std[..., None, :])
    chol = jnp.linalg.cholesky(corr)
    chol_y = jnp.linalg.cholesky(corr[..., s:, s:])
    chol_y_given_x = chol[..., s:, s:]
    return to_base(_half_logdet(chol_y) - _half_logdet(chol_y_given_x), base)


# --------------------------------------------------------------------------- #
# Fisher information.
# --------------------------------------------------------------------------- #


def gaussian_fisher_information(cov: ArrayLike, *, validate: bool = False) -> Array:
    r"""Fisher information of N(μ, Σ) with respect to its mean: F_μ = Σ⁻¹.

    By the Slepian–Bangs formula, the Fisher information of N(μ(θ), Σ(θ)) is

    .. math::
        F_{ij} = ∂_i μᵀ Σ^{-1} ∂_j μ
                 + \tfrac12 \operatorname{tr}(Σ^{-1} ∂_i Σ \, Σ^{-1} ∂_j Σ).

    For θ = μ this is Σ⁻¹, returned here (the mean–covariance cross block is zero).
    The covariance block is the quadratic form ½ tr(Σ⁻¹ δΣ Σ⁻¹ δΣ) on symmetric
    perturbations δΣ; for diagonal covariances see `diag_gaussian_fisher_information`.
    It is the metric of the KL: KL(N(μ, Σ) ‖ N(μ + δ, Σ)) = ½ δᵀ F δ exactly.

    Computed by two triangular solves with the Cholesky factor (no `inv`).

    Args:
      cov: covariance Σ, shape `(..., d, d)`, symmetric positive definite.
      validate: check eagerly that `cov` is finite, symmetric and positive definite.

    Returns:
      F = Σ⁻¹, shape `(..., d, d)`; NaN where the Cholesky factorization fails.

    References:
      Kay, Fundamentals of Statistical Signal Processing, Vol. I: Estimation
      Theory (1993), Chapter 3 (Slepian–Bangs formula).
    """
    cov = _check_cov(cov, "cov")
    if validate:
        _validate_cov(cov, "cov")
    identity = jnp.broadcast_to(jnp.eye(cov.shape[-1], dtype=cov.dtype), cov.shape)
    return cho_solve((jnp.linalg.cholesky(cov), True), identity)


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
