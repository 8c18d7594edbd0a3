"""Closed forms for Gaussian distributions: entropy, cross-entropy, KL, MI, Fisher.

Every quantity is computed from Cholesky factors (log det Σ = 2 Σ_i log L_ii, and
triangular solves instead of inverses), never from `det` or `inv`, so that it stays
finite and accurate in high dimension and for nearly singular covariances.

Full covariances `cov` of shape `(..., d, d)` (`gaussian_*`); the univariate
(`normal_*`) and diagonal (`diag_gaussian_*`, `vae_kl`) forms are in `normal.py`.

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

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_solve, solve_triangular
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    check_base,
    first_index,
    require_concrete,
    to_base,
    validate_finite,
)
from itjax._src.normal import _LOG_2PI_E, _broadcast, _t_minus_log1p

__all__ = [
    "gaussian_cross_entropy",
    "gaussian_entropy",
    "gaussian_fisher_information",
    "gaussian_kl",
    "gaussian_mutual_information",
]

Array = jax.Array


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


# --------------------------------------------------------------------------- #
# Numerical helpers.
# --------------------------------------------------------------------------- #


def _half_logdet(chol: Array) -> Array:
    """½ log det Σ = Σ_i log L_ii from the Cholesky factor L of Σ."""
    return jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


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
