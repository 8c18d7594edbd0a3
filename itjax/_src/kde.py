"""Kernel density (KDE) estimators of differential entropy and mutual information.

The density of samples x_1, ..., x_n in R^d is estimated with a Gaussian kernel
whose covariance is the bandwidth matrix H = h^2 * Sigma_hat, Sigma_hat the sample
covariance (ddof = 1) and h a scalar factor (Scott, Silverman or given). This is the
choice of `scipy.stats.gaussian_kde`, so the two agree on the same data; it makes
the estimates affine-equivariant: H(A x + b) = H(x) + log|det A| (up to rounding), and the
KDE mutual information is unchanged by separate invertible affine maps of x and y.

The entropy is the sample mean of -log f_hat(x_i). Each log density is a
log-sum-exp over all n samples, computed in blocks of `block_size` query points,
so that no n x n matrix is held at once.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    check_samples,
    check_static_int,
    require_concrete,
    to_base,
    validate_finite,
)

__all__ = ["kde_entropy", "kde_mutual_information"]

Array = jax.Array

# Default block: about 2**20 kernel values (4 MiB in float32) per block, which keeps
# the working set in cache; larger blocks were several times slower on CPU.
_BLOCK_ENTRIES = 2**20


# --------------------------------------------------------------------------- #
# Bandwidth.
# --------------------------------------------------------------------------- #


def _scott_factor(n: int, d):
    """Scott's rule h = n^(-1 / (d + 4)) (Scott 1992; scipy's default)."""
    return n ** (-1.0 / (d + 4))


def _silverman_factor(n: int, d):
    """Silverman's rule h = (n (d + 2) / 4)^(-1 / (d + 4)) (Silverman 1986; as scipy)."""
    return (n * (d + 2) / 4.0) ** (-1.0 / (d + 4))


_RULES = {"scott": _scott_factor, "silverman": _silverman_factor}


def _check_bandwidth(bandwidth) -> None:
    """Refuse a bandwidth that is not a rule name or a positive finite number."""
    if isinstance(bandwidth, str):
        if bandwidth not in _RULES:
            raise ValueError(
                f"bandwidth must be 'scott', 'silverman' or a positive number, got {bandwidth!r}"
            )
        return
    if isinstance(bandwidth, bool):
        raise TypeError(f"bandwidth must be 'scott', 'silverman' or a number, got {bandwidth!r}")
    if isinstance(bandwidth, numbers.Real):
        if not (math.isfinite(bandwidth) and bandwidth > 0):
            raise ValueError(f"bandwidth must be a positive finite number, got {bandwidth!r}")
        return
    if isinstance(bandwidth, (jax.Array, np.ndarray, np.generic)):
        if jnp.ndim(bandwidth) != 0:
            raise ValueError(
                f"bandwidth must be a scalar, got an array of shape {jnp.shape(bandwidth)}"
            )
        if not jnp.issubdtype(jnp.result_type(bandwidth), jnp.floating):
            raise TypeError(f"bandwidth must be a floating scalar, got dtype {bandwidth.dtype}")
        if not isinstance(bandwidth, jax.core.Tracer):
            value = float(bandwidth)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"bandwidth must be a positive finite number, got {value!r}")
        return
    raise TypeError(
        f"bandwidth must be 'scott', 'silverman' or a positive number, got {type(bandwidth)}"
    )


def _bandwidth_factor(bandwidth, n: int, d: int):
    """The scalar factor h of the kernel covariance h^2 * Sigma_hat."""
    if isinstance(bandwidth, str):
        return _RULES[bandwidth](n, d)
    return bandwidth


# --------------------------------------------------------------------------- #
# Core: the KDE entropy of samples, in nats.
# --------------------------------------------------------------------------- #


def _centered(x: Array) -> Array:
    """x minus its column means, exactly 0 in a constant column.

    The samples are shifted by the first one before the mean is taken: x - mean(x)
    need not be exactly 0 in floating point, x - x_1 is. The shift changes nothing else.
    """
    shifted = x - x[:1]
    return shifted - jnp.mean(shifted, axis=0, keepdims=True)


def _cholesky_or_none(cov: Array) -> tuple[Array, Array]:
    """Cholesky factor of `cov` and whether `cov` is numerically positive definite.

    `cov` counts as singular when the factorization fails or a pivot L_kk^2 falls to
    rounding level, L_kk^2 <= 10 d eps Sigma_kk (a relative rank tolerance, as in
    `numpy.linalg.matrix_rank`). Where singular, the identity is factorized instead
    (the inner `where` of the double-`where` rule), so that values and gradients
    stay finite; the caller selects its result with the returned flag.
    """
    d = cov.shape[0]
    eps = jnp.finfo(cov.dtype).eps
    probe = jnp.linalg.cholesky(jax.lax.stop_gradient(cov))
    pivots = jnp.diagonal(probe) ** 2
    scale = jax.lax.stop_gradient(jnp.diagonal(cov))
    regular = jnp.all(jnp.isfinite(probe)) & jnp.all(pivots > 10 * d * eps * scale)
    safe_cov = jnp.where(regular, cov, jnp.eye(d, dtype=cov.dtype))
    return jnp.linalg.cholesky(safe_cov), regular


def _log_kernel_sums(z: Array, *, leave_one_out: bool, block_size: int) -> Array:
    """log sum_j exp(-|z_i - z_j|^2 / 2) for every i (j != i when leaving one out).

    `z` is `(n, d)`. Rows are processed `block_size` at a time: peak extra memory is
    a few `(block_size, n)` arrays, never `(n, n)`.
    """
    n = z.shape[0]
    sq_norms = jnp.sum(z * z, axis=1)
    columns = jnp.arange(n)

    def row(args):
        z_i, sq_i, i = args
        sq_dist = sq_i + sq_norms - 2.0 * (z @ z_i)
        # |z_i - z_j|^2 >= 0; the expanded form can round a few ulps below 0.
        log_kernel = -0.5 * jnp.maximum(sq_dist, 0.0)
        if leave_one_out:
            log_kernel = jnp.where(columns == i, -jnp.inf, log_kernel)
        return jax.nn.logsumexp(log_kernel)

    return jax.lax.map(row, (z, sq_norms, columns), batch_size=block_size)


def _kde_entropy_nats(
    x: Array, h, *, leave_one_out: bool, block_size: int, skip_constant: bool = False
) -> Array:
    """-1/n sum_i log f_hat(x_i), kernel N(0, h^2 Sigma_hat); -inf if Sigma_hat is singular.

    With `skip_constant`, a constant column is given unit variance instead: its
    whitened coordinate is exactly 0 for every point, so it adds the constant
    log(2 pi) / 2 + log h to the result and nothing else (used by the MI, where it cancels).
    """
    n, d = x.shape
    dtype = x.dtype
    centered = _centered(x)
    cov = centered.T @ centered / (n - 1)
    if skip_constant:
        constant = jnp.diagonal(cov) == 0
        cov = cov + jnp.diag(jnp.where(constant, 1.0, 0.0).astype(dtype))
    chol, regular = _cholesky_or_none(cov)
    h = jnp.asarray(h, dtype=dtype)
    z = jax.scipy.linalg.solve_triangular(chol, centered.T, lower=True).T / h
    log_sums = _log_kernel_sums(z, leave_one_out=leave_one_out, block_size=block_size)
    num_terms = n - 1 if leave_one_out else n
    # log det(h^2 Sigma_hat)^(1/2) = d log h + sum_k log L_kk.
    log_norm = (
        math.log(num_terms)
        + 0.5 * d * math.log(2 * math.pi)
        + d * jnp.log(h)
        + jnp.sum(jnp.log(jnp.diagonal(chol)))
    )
    entropy = log_norm - jnp.mean(log_sums)
    # Singular: -inf. Non-finite samples (NaN, inf) make Sigma_hat non-finite: NaN.
    degenerate = jnp.where(jnp.all(jnp.isfinite(cov)), -jnp.inf, jnp.nan)
    return jnp.where(regular, entropy, degenerate)


# --------------------------------------------------------------------------- #
# Argument handling.
# --------------------------------------------------------------------------- #


def _default_block_size(n: int) -> int:
    return max(1, min(n, _BLOCK_ENTRIES // n))


def _check_block_size(block_size: int | None, n: int) -> int:
    if block_size is None:
        return _default_block_size(n)
    return min(check_static_int(block_size, "block_size", minimum=1), n)


def _check_min_samples(x: Array, name: str) -> None:
    if x.shape[0] < 2:
        raise ValueError(f"{name} must hold at least 2 samples, got shape {x.shape}")


def _validate_covariance(x: Array, name: str) -> None:
    """Eagerly refuse samples whose sample covariance is singular, naming the cause."""
    value = require_concrete(x, name).astype(np.float64)
    n, d = value.shape
    constant = np.all(value == value[:1], axis=0)
    if constant.any():
        col = int(np.argmax(constant))
        raise ValueError(
            f"{name} has a constant column ({name}[:, {col}]); its differential entropy is -inf "
            "and the kernel density is degenerate"
        )
    rank = np.linalg.matrix_rank(np.cov(value, rowvar=False).reshape(d, d))
    if rank < d:
        raise ValueError(
            f"{name} has linearly dependent columns: its sample covariance has rank {rank} < d = "
            f"{d} (n = {n}); the kernel density is degenerate"
        )


# --------------------------------------------------------------------------- #
# Public estimators.
# --------------------------------------------------------------------------- #


def kde_entropy(
    x: ArrayLike,
    *,
    bandwidth: str | float | ArrayLike = "scott",
    leave_one_out: bool = True,
    block_size: int | None = None,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Kernel density estimate of the differential entropy of samples.

    .. math::
        \hat H = -\frac{1}{n} \sum_{i=1}^n \log \hat f(x_i), \qquad
        \hat f(x_i) = \frac{1}{m} \sum_{j \in J_i} \mathcal N(x_i - x_j;\, 0,\, h^2 \hat\Sigma),

    with J_i = {j != i} and m = n - 1 (leave-one-out) or J_i = all j and m = n
    (resubstitution); Sigma_hat is the sample covariance (ddof = 1) and h the
    bandwidth factor. This is the kernel of `scipy.stats.gaussian_kde` (bandwidth
    matrix h^2 Sigma_hat, not h^2 I), so the estimate is affine-equivariant:
    H(a x + b) = H(x) + d log|a|, and more generally + log|det A|.

    Resubstitution counts each point in its own density (the j = i term is the
    kernel's peak), which biases the entropy low; leave-one-out removes that term
    and is the default (Joe 1989; Beirlant et al. 1997, section 3.3). Both keep a
    smoothing bias of order h^2 and a variance bias of order 1/(n h^d).

    Memory: the log-sum-exp over j runs `block_size` query points at a time, so
    the extra memory is a few `(block_size, n)` arrays, never `(n, n)`. The default
    block holds about 2**20 kernel values (4 MiB in float32). Time is O(n^2 d).
    Under `jax.vmap` over B problems the blocks are batched too (B times the memory):
    pass a smaller `block_size`, or map over problems with
    `jax.lax.map(..., batch_size=...)`.

    Degenerate samples: when Sigma_hat is singular (a constant column, linearly
    dependent columns, n <= d) the kernel density is degenerate and the estimate is
    -inf, the limit of the estimate as the sample collapses onto a subspace.
    `validate=True` raises instead, naming the cause. NaN or inf in `x` gives NaN
    (`validate=True` raises).

    Args:
      x: samples, shape `(n, d)` or `(n,)` (d = 1), n >= 2, floating dtype.
      bandwidth: `"scott"` (h = n^(-1/(d+4))), `"silverman"`
        (h = (n (d + 2) / 4)^(-1/(d+4))), or the factor h itself (a positive
        number, as `gaussian_kde(bw_method=h)`; a JAX scalar may be traced, e.g.
        to differentiate with respect to h).
      leave_one_out: leave x_i out of its own density (default) or not.
      block_size: query points per block of the tiled log-sum-exp (static);
        default about 2**20 / n.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: eagerly check that `x` is finite and its sample covariance
        non-singular (not under jit).

    Returns:
      The entropy estimate, a scalar of the dtype of `x`.

    References:
      Joe, "Estimation of entropy and other functionals of a multivariate density",
      Ann. Inst. Stat. Math. 41 (1989). Beirlant, Dudewicz, Györfi, van der Meulen,
      "Nonparametric entropy estimation: an overview", Int. J. Math. Stat. Sci. 6 (1997).
      Scott, "Multivariate Density Estimation" (1992).
    """
    x = check_samples(x, "x")
    _check_min_samples(x, "x")
    _check_bandwidth(bandwidth)
    leave_one_out = _check_flag(leave_one_out, "leave_one_out")
    block = _check_block_size(block_size, x.shape[0])
    if validate:
        validate_finite(x, "x")
        _validate_covariance(x, "x")
    n, d = x.shape
    h = _bandwidth_factor(bandwidth, n, d)
    value = _kde_entropy_nats(x, h, leave_one_out=leave_one_out, block_size=block)
    return to_base(value, base)


def kde_mutual_information(
    x: ArrayLike,
    y: ArrayLike,
    *,
    bandwidth: str | float | ArrayLike = "scott",
    leave_one_out: bool = True,
    block_size: int | None = None,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Kernel density estimate of the mutual information I(X; Y) of paired samples.

    .. math::
        \hat I = \hat H(X) + \hat H(Y) - \hat H(X, Y),

    each term a `kde_entropy` with the same bandwidth factor h, chosen once for the
    joint dimension d_x + d_y (the rule's h for the joint, or the given h). With
    kernel covariance h^2 Sigma_hat_xy for the joint, the marginal KDEs of x and y
    (kernels h^2 Sigma_hat_x, h^2 Sigma_hat_y) are exactly the marginals of the
    joint KDE: the three terms describe one density estimate, and their smoothing
    biases cancel to first order (for Gaussian data, smoothing by h^2 Sigma leaves
    the MI unchanged). Separate rules per term would not be consistent in this sense.

    The estimate is invariant to separate invertible affine maps of x and of y
    (in particular to rescaling each variable), not to nonlinear monotone maps.
    It is not clamped: it can be slightly negative for independent variables.

    Constant columns carry no information: a zero-variance column is given unit
    variance (its kernel factor is then the same for every point) and is not counted
    in the dimension of the bandwidth rule, so the estimate equals the estimate
    without that column. Other degenerate cases: when x and y
    are each non-degenerate but jointly so (e.g. y = x), H(X, Y) = -inf and the
    estimate is +inf, the true MI of such a pair; when x or y alone has linearly
    dependent non-constant columns, the estimate is undefined and NaN is returned.
    `validate=True` raises on any singular sample covariance of x or y.

    Memory and time: three tiled passes, as in `kde_entropy`.

    Args:
      x: samples, shape `(n, d_x)` or `(n,)`.
      y: samples, shape `(n, d_y)` or `(n,)`, paired with `x` row by row.
      bandwidth: `"scott"`, `"silverman"` or the factor h (see `kde_entropy`),
        applied with the joint dimension d_x + d_y.
      leave_one_out: leave-one-out densities (default) or resubstitution.
      block_size: query points per block (static); default about 2**20 / n.
      base: logarithm base of the result (None: nats, 2: bits).
      validate: eagerly check finiteness and non-singular covariances (not under jit).

    Returns:
      The MI estimate, a scalar.

    References:
      Moon, Rajagopalan, Lall, "Estimation of mutual information using kernel density
      estimators", Phys. Rev. E 52 (1995).
    """
    x = check_samples(x, "x")
    y = check_samples(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}"
        )
    if x.dtype != y.dtype:
        raise TypeError(f"x and y must have the same dtype, got {x.dtype} and {y.dtype}")
    _check_min_samples(x, "x")
    _check_bandwidth(bandwidth)
    leave_one_out = _check_flag(leave_one_out, "leave_one_out")
    block = _check_block_size(block_size, x.shape[0])
    if validate:
        validate_finite(x, "x")
        validate_finite(y, "y")
        _validate_covariance(x, "x")
        _validate_covariance(y, "y")
    n = x.shape[0]
    # A constant column does not count in the joint dimension of the rule, so that
    # the estimate equals the one without it.
    d = x.shape[1] + y.shape[1]
    if isinstance(bandwidth, str):
        d = d - _num_constant_columns(x) - _num_constant_columns(y)
    h = _bandwidth_factor(bandwidth, n, d)

    def entropy(v):
        return _kde_entropy_nats(
            v, h, leave_one_out=leave_one_out, block_size=block, skip_constant=True
        )

    value = entropy(x) + entropy(y) - entropy(jnp.concatenate([x, y], axis=1))
    return to_base(value, base)


def _num_constant_columns(x: Array) -> Array:
    return jnp.sum(jnp.all(x == x[:1], axis=0)).astype(x.dtype)


def _check_flag(value, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be a Python bool, got {value!r}")
    return bool(value)
