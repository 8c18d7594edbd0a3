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

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    check_base,
    require_concrete,
    to_base,
    validate_finite,
)

__all__ = [
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


def _first_batch_index(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


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
        where = f" at batch index {_first_batch_index(asymmetric)}" if value.ndim > 2 else ""
        raise ValueError(f"{name} must be a symmetric matrix, got an asymmetric one{where}")
    # The same factorization as the fast path, in the same dtype: if it fails here,
    # the fast path would return NaN.
    failed = np.isnan(np.asarray(jnp.linalg.cholesky(cov))).any(axis=(-2, -1))
    if failed.any():
        where = f" at batch index {_first_batch_index(failed)}" if value.ndim > 2 else ""
        raise ValueError(
            f"{name} must be positive definite; its Cholesky factorization fails{where}"
        )


def _half_logdet(chol: Array) -> Array:
    """½ log det Σ = Σ_i log L_ii from the Cholesky factor L of Σ."""
    return jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)


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
