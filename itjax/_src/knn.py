"""The kNN estimators: Kozachenko–Leonenko, KSG, Frenzel–Pompe, Wang–Kulkarni–Verdú.

Each is a mean over the samples of terms of their k-nearest-neighbour distances
(in the joint space) and of neighbour counts within a radius (in the marginal
spaces), both from the exact kernel of `neighbors.py`: no approximate search,
peak extra memory O(n · tile). Every estimator works under `jax.jit` and
`jax.vmap`; `mesh=` splits the query rows of the search and counts over devices.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh
from jax.typing import ArrayLike

from itjax._src._utils import (
    check_key,
    check_mesh,
    check_samples,
    check_static_int,
    safe_log,
    to_base,
    validate_finite,
)
from itjax._src.neighbors import _NORMS, _count_within, _distance, _knn

Array = jax.Array

__all__ = [
    "kozachenko_leonenko_entropy",
    "ksg_mutual_information",
    "ksg_conditional_mutual_information",
    "knn_kl_divergence",
]

# --------------------------------------------------------------------------- #
# Argument handling shared by the estimators.
# --------------------------------------------------------------------------- #

# Relative amplitude of the optional jitter: scikit-learn's 1e-10 in float64; in
# float32 that would be below one ulp, so 1e-5 (about 80 ulps at unit scale).
_JITTER = {jnp.dtype("float64"): 1e-10, jnp.dtype("float32"): 1e-5}


def _samples(arrays: dict[str, ArrayLike]) -> list[Array]:
    """Check each named sample array (n, d) and cast them to one floating dtype."""
    out = [check_samples(v, name) for name, v in arrays.items()]
    dtype = jnp.result_type(*out)
    return [v.astype(dtype) for v in out]


def _same_n(arrays: dict[str, Array]) -> None:
    names = list(arrays)
    n = arrays[names[0]].shape[0]
    for name in names[1:]:
        if arrays[name].shape[0] != n:
            raise ValueError(
                f"{names[0]} and {name} must hold the same number of samples, got "
                f"{arrays[names[0]].shape} and {arrays[name].shape}"
            )


def _check_k(k: Any, limit: int, what: str) -> int:
    k = check_static_int(k, "k", minimum=1)
    if k > limit:
        raise ValueError(f"k must be <= {limit} ({what}), got k={k}")
    return k


def _check_norm(norm: Any) -> str:
    if norm not in _NORMS:
        raise ValueError(f"norm must be one of {_NORMS}, got {norm!r}")
    return norm


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a Python bool, got {value!r}")
    return value


def _validate(arrays: dict[str, Array], *, constant_columns: bool = True) -> None:
    """Eager value checks: finite samples; optionally no constant column."""
    for name, v in arrays.items():
        validate_finite(v, name)
        if not constant_columns and v.shape[0] > 1:
            flat = jnp.ptp(v, axis=0) == 0
            if bool(jnp.any(flat)):
                col = int(jnp.argmax(flat))
                raise ValueError(
                    f"{name}[:, {col}] is constant: the distribution is singular and its "
                    "differential entropy is -inf; drop the column"
                )


def _jitter(key: Array | None, arrays: list[Array]) -> list[Array]:
    """Add independent noise of relative size _JITTER to each array (no-op without key).

    Scale per column: max(std, mean |x|), as scikit-learn's mutual_info_regression.
    """
    if key is None:
        return arrays
    keys = jax.random.split(check_key(key), len(arrays))
    out = []
    for sub, v in zip(keys, arrays, strict=True):
        scale = jnp.maximum(jnp.std(v, axis=0), jnp.mean(jnp.abs(v), axis=0))[None]
        noise = jax.random.normal(sub, v.shape, v.dtype)
        out.append(v + _JITTER[jnp.dtype(v.dtype)] * scale * noise)
    return out


def _log_distance(a: Array, b: Array, norm: str) -> Array:
    """log ‖a - b‖ row by row for a, b (n, d), differentiable; -inf (zero gradient) at 0."""
    dist = _distance(a.T, b.T, norm)
    return safe_log(dist) if norm == "max" else 0.5 * safe_log(dist)


def _log_unit_ball(d: int, norm: str) -> float:
    """log of the volume of the unit ball of R^d: 2^d (max-norm), π^(d/2) / Γ(d/2 + 1)."""
    if norm == "max":
        return d * math.log(2.0)
    return 0.5 * d * math.log(math.pi) - math.lgamma(0.5 * d + 1)


_EULER_GAMMA = 0.5772156649015329
_GAP_TABLE = 32
# ψ(m) - log m for m = 1 .. _GAP_TABLE, from ψ(m) = -γ + Σ_{j<m} 1/j.
_GAP = [
    -_EULER_GAMMA + sum(1.0 / j for j in range(1, m)) - math.log(m)
    for m in range(1, _GAP_TABLE + 1)
]


def _psi_gap(m: Array) -> Array:
    """ψ(m) - log m for integer-valued m >= 1: a table, then the asymptotic series.

    The series -1/(2m) - 1/(12m²) + 1/(120m⁴) - 1/(252m⁶) errs by < 1e-14 for m > 32.
    """
    inv = 1 / jnp.maximum(m, _GAP_TABLE)
    inv2 = inv * inv
    series = -inv / 2 - inv2 * (1 / 12 - inv2 * (1 / 120 - inv2 / 252))
    table = jnp.asarray(_GAP, m.dtype)[jnp.clip(m.astype(jnp.int32), 1, _GAP_TABLE) - 1]
    return jnp.where(m <= _GAP_TABLE, table, series)


def _psi_diff(a: Array | int, b: Array | int, dtype: Any) -> Array:
    """ψ(a) - ψ(b) for positive integers, as log(a / b) + gaps.

    Accurate to a few ulps of the *difference*: subtracting two digammas of
    size log N would lose that much in float32 (KSG sums such differences).
    """
    a, b = jnp.asarray(a, dtype), jnp.asarray(b, dtype)
    return jnp.log(a / b) + (_psi_gap(a) - _psi_gap(b))


def _nan_unless_finite(value: Array, *arrays: Array) -> Array:
    """value, or NaN when any sample is NaN or inf (never a finite number from them).

    Counts and neighbour ranks silently skip NaN (every comparison with it is
    false), so without this an estimate from NaN samples could look finite.
    """
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in arrays]))
    return jnp.where(finite, value, jnp.nan).astype(value.dtype)


# --------------------------------------------------------------------------- #
# Estimators.
# --------------------------------------------------------------------------- #


def kozachenko_leonenko_entropy(
    x: ArrayLike,
    *,
    k: int = 3,
    norm: str = "euclidean",
    base: float | None = None,
    key: Array | None = None,
    validate: bool = False,
    mesh: Mesh | None = None,
) -> Array:
    """Kozachenko–Leonenko kNN estimate of the differential entropy h(X).

    ĥ = ψ(N) - ψ(k) + log V_d + (d / N) Σ_i log ε_i,

    where ε_i is the distance from x_i to its k-th nearest other sample and V_d
    the volume of the unit ball of the norm (2^d for the max-norm,
    π^(d/2) / Γ(d/2 + 1) for the Euclidean one). Never clamped: a narrow
    distribution has a negative differential entropy. ĥ(a·x) = ĥ(x) + d log|a|.

    Args:
      x: samples, shape (N, d) or (N,).
      k: neighbour order, static, 1 <= k <= N - 1.
      norm: "euclidean" or "max".
      base: logarithm base of the result (None: nats).
      key: optional PRNG key: adds independent noise of relative size 1e-10
        (float64) or 1e-5 (float32) per column before the search, to break ties.
      validate: eagerly refuse NaN/inf samples and constant columns.
      mesh: a `jax.sharding.Mesh`: split the query rows of the neighbour
        search and counts over its devices, the samples replicated (for one
        very large N; the result equals the unsharded one). None: one device.

    Returns:
      Scalar estimate. Exact duplicates (without `key`) give ε_i = 0 and -inf.
      Differentiable in x: the gradient is that of Σ log ε_i with the
      neighbours held fixed.

    References:
      Kozachenko & Leonenko, Probl. Peredachi Inf. 23(2):9-16, 1987;
      Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69, 066138, 2004, eq. (20).
    """
    (x,) = _samples({"x": x})
    n, d = x.shape
    k = _check_k(k, n - 1, f"x holds {n} samples")
    norm = _check_norm(norm)
    mesh = check_mesh(mesh)
    if _check_flag(validate, "validate"):
        _validate({"x": x}, constant_columns=False)
    (x,) = _jitter(key, [x])
    _, rows = _knn(x, x, k=k, norm=norm, exclude_self=True, with_rows=True, mesh=mesh)
    log_eps = _log_distance(x, x[rows[:, -1]], norm)
    h = _psi_diff(n, k, x.dtype) + _log_unit_ball(d, norm) + d * jnp.mean(log_eps)
    return to_base(_nan_unless_finite(h, x), base)


def ksg_mutual_information(
    x: ArrayLike,
    y: ArrayLike,
    *,
    k: int = 3,
    variant: int = 1,
    base: float | None = None,
    key: Array | None = None,
    validate: bool = False,
    mesh: Mesh | None = None,
) -> Array:
    """Kraskov–Stögbauer–Grassberger kNN estimate of I(X; Y).

    Distances are max-norms. ε_i is the distance from (x_i, y_i) to its k-th
    nearest other sample in the joint space.

    * variant 1: n_x(i) = #{j ≠ i : ‖x_j - x_i‖ < ε_i} (strict), same for y, and
      Î = ψ(k) + ψ(N) - ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩.
    * variant 2: ε_x(i) = max of ‖x_j - x_i‖ over the k neighbours,
      n_x(i) = #{j ≠ i : ‖x_j - x_i‖ <= ε_x(i)}, same for y, and
      Î = ψ(k) - 1/k + ψ(N) - ⟨ψ(n_x) + ψ(n_y)⟩.

    Variant 1 is exactly scikit-learn's `_compute_mi_cc` (without its max(0, ·)).
    The inputs are NOT standardized: the estimate is unchanged when x and y are
    scaled by the same factor, but the max-norm ties the two scales together,
    so rescaling one variable alone changes it (within its statistical error;
    standardize each column first if the units are arbitrary). Never clamped:
    the estimate can be slightly negative for independent variables.

    Args:
      x: samples of X, shape (N, d_x) or (N,).
      y: samples of Y, shape (N, d_y) or (N,), paired with x.
      k: neighbour order, static, 1 <= k <= N - 1.
      variant: 1 or 2.
      base: logarithm base of the result (None: nats).
      key: optional PRNG key: independent noise of relative size 1e-10
        (float64) or 1e-5 (float32) per column, to break ties (scikit-learn
        always does this; here it is explicit).
      validate: eagerly refuse NaN/inf samples.
      mesh: a `jax.sharding.Mesh`: split the query rows of the neighbour
        search and counts over its devices, the samples replicated (for one
        very large N; the result equals the unsharded one). None: one device.

    Returns:
      Scalar estimate. Ties: counts use exact comparisons, so a duplicate at
      exactly ε_i is not counted (variant 1); a constant x gives n_x = N - 1 and
      an estimate of 0 up to rounding. The estimate is piecewise constant in the
      samples: its gradient is zero almost everywhere.

    Memory: O(N · tile); N = 10⁵ in a few seconds on a 2-core CPU for 1-D x, y.
    Works under `jax.vmap` over a batch of (x, y) problems.

    References:
      Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69, 066138, 2004, eqs. (8), (9).
    """
    x, y = _samples({"x": x, "y": y})
    _same_n({"x": x, "y": y})
    n = x.shape[0]
    k = _check_k(k, n - 1, f"x and y hold {n} samples")
    if variant not in (1, 2) or isinstance(variant, bool):
        raise ValueError(f"variant must be 1 or 2, got {variant!r}")
    mesh = check_mesh(mesh)
    if _check_flag(validate, "validate"):
        _validate({"x": x, "y": y})
    x, y = _jitter(key, [x, y])
    xy = jnp.concatenate([x, y], axis=1)
    dist, rows = _knn(xy, xy, k=k, norm="max", exclude_self=True, with_rows=variant == 2, mesh=mesh)
    dtype = x.dtype
    if variant == 1:
        eps = dist[:, -1]
        self_inside = (eps > 0).astype(jnp.int32)  # the point itself is counted iff 0 < ε
        n_x = _count_within(x, eps, strict=True, mesh=mesh) - self_inside
        n_y = _count_within(y, eps, strict=True, mesh=mesh) - self_inside
        terms = _psi_diff(n, n_x + 1, dtype) + _psi_diff(k, n_y + 1, dtype)
        mi = jnp.mean(terms)
    else:
        eps_x = _max_distance_to(x, rows)
        eps_y = _max_distance_to(y, rows)
        n_x = _count_within(x, eps_x, strict=False, mesh=mesh) - 1
        n_y = _count_within(y, eps_y, strict=False, mesh=mesh) - 1
        terms = _psi_diff(n, n_x, dtype) + _psi_diff(k, n_y, dtype)
        mi = jnp.mean(terms) - 1 / k
    return to_base(_nan_unless_finite(mi, x, y), base)


def _max_distance_to(x: Array, rows: Array) -> Array:
    """max_j ‖x_i - x_rows[i, j]‖_max over the neighbours of each point: (n,)."""
    x = lax.stop_gradient(x)
    return jnp.max(_distance(x.T[:, :, None], x[rows].transpose(2, 0, 1), "max"), axis=1)


def ksg_conditional_mutual_information(
    x: ArrayLike,
    y: ArrayLike,
    z: ArrayLike,
    *,
    k: int = 3,
    base: float | None = None,
    key: Array | None = None,
    validate: bool = False,
    mesh: Mesh | None = None,
) -> Array:
    """Frenzel–Pompe kNN estimate of the conditional mutual information I(X; Y | Z).

    Î = ψ(k) - ⟨ψ(n_xz + 1) + ψ(n_yz + 1) - ψ(n_z + 1)⟩,

    where ε_i is the max-norm distance from (x_i, y_i, z_i) to its k-th nearest
    other sample and n_xz(i) = #{j ≠ i : ‖(x, z)_j - (x, z)_i‖ < ε_i}, etc.
    Inputs are not standardized (see `ksg_mutual_information`); never clamped.

    Args:
      x, y, z: paired samples, shapes (N, d_x), (N, d_y), (N, d_z) (or (N,)).
      k: neighbour order, static, 1 <= k <= N - 1.
      base: logarithm base of the result (None: nats).
      key: optional PRNG key for a tie-breaking jitter (see `ksg_mutual_information`).
      validate: eagerly refuse NaN/inf samples.
      mesh: a `jax.sharding.Mesh`: split the query rows of the neighbour
        search and counts over its devices, the samples replicated (for one
        very large N; the result equals the unsharded one). None: one device.

    Returns:
      Scalar estimate (zero gradient almost everywhere, like KSG). The (x, z)
      and (y, z) counts are O(N²) in time (tiled, O(N · tile) memory); the z
      count is O(N log N) when z is 1-D.

    References:
      Frenzel & Pompe, Phys. Rev. Lett. 99, 204101, 2007, eq. (3).
    """
    x, y, z = _samples({"x": x, "y": y, "z": z})
    _same_n({"x": x, "y": y, "z": z})
    n = x.shape[0]
    k = _check_k(k, n - 1, f"x, y and z hold {n} samples")
    mesh = check_mesh(mesh)
    if _check_flag(validate, "validate"):
        _validate({"x": x, "y": y, "z": z})
    x, y, z = _jitter(key, [x, y, z])
    xz = jnp.concatenate([x, z], axis=1)
    yz = jnp.concatenate([y, z], axis=1)
    xyz = jnp.concatenate([x, y, z], axis=1)
    eps = _knn(xyz, xyz, k=k, norm="max", exclude_self=True, mesh=mesh)[0][:, -1]
    self_inside = (eps > 0).astype(jnp.int32)

    def count(v: Array) -> Array:  # n_v + 1
        return _count_within(v, eps, strict=True, mesh=mesh) - self_inside + 1

    n_z = count(z)
    terms = _psi_diff(k, count(xz), x.dtype) + _psi_diff(n_z, count(yz), x.dtype)
    return to_base(_nan_unless_finite(jnp.mean(terms), x, y, z), base)


def knn_kl_divergence(
    x: ArrayLike,
    y: ArrayLike,
    *,
    k: int = 1,
    norm: str = "euclidean",
    base: float | None = None,
    key: Array | None = None,
    validate: bool = False,
    mesh: Mesh | None = None,
) -> Array:
    """Wang–Kulkarni–Verdú kNN estimate of KL(P‖Q) from x ~ P and y ~ Q.

    D̂ = (d / n) Σ_i log(ν_k(i) / ρ_k(i)) + log(m / (n - 1)),

    where ρ_k(i) is the distance from x_i to its k-th nearest other x and
    ν_k(i) its distance to the k-th nearest y. Consistent for any norm; never
    clamped (it can be slightly negative when P = Q).

    Args:
      x: samples of P, shape (n, d) or (n,).
      y: samples of Q, shape (m, d) or (m,); m may differ from n.
      k: neighbour order, static, 1 <= k <= min(n - 1, m).
      norm: "euclidean" or "max".
      base: logarithm base of the result (None: nats).
      key: optional PRNG key for a tie-breaking jitter (see
        `kozachenko_leonenko_entropy`).
      validate: eagerly refuse NaN/inf samples and constant columns.
      mesh: a `jax.sharding.Mesh`: split the query rows of the neighbour
        search and counts over its devices, the samples replicated (for one
        very large N; the result equals the unsharded one). None: one device.

    Returns:
      Scalar estimate. Exact duplicates within x give ρ = 0 and +inf (P looks
      atomic); an x_i with k exact copies among y gives -inf. Differentiable in
      x and y with the neighbours held fixed.

    References:
      Wang, Kulkarni & Verdú, IEEE Trans. Inf. Theory 55(5):2392-2405, 2009, eq. (5).
    """
    x, y = _samples({"x": x, "y": y})
    (n, d), m = x.shape, y.shape[0]
    if y.shape[1] != d:
        raise ValueError(
            f"x and y must have the same dimension d, got shapes {x.shape} and {y.shape}"
        )
    k = _check_k(k, min(n - 1, m), f"x holds {n} and y {m} samples")
    norm = _check_norm(norm)
    mesh = check_mesh(mesh)
    if _check_flag(validate, "validate"):
        _validate({"x": x, "y": y}, constant_columns=False)
    x, y = _jitter(key, [x, y])
    _, rho_rows = _knn(x, x, k=k, norm=norm, exclude_self=True, with_rows=True, mesh=mesh)
    _, nu_rows = _knn(x, y, k=k, norm=norm, exclude_self=False, with_rows=True, mesh=mesh)
    log_ratio = _log_distance(x, y[nu_rows[:, -1]], norm) - _log_distance(
        x, x[rho_rows[:, -1]], norm
    )
    kl = d * jnp.mean(log_ratio) + math.log(m / (n - 1))
    return to_base(_nan_unless_finite(kl, x, y), base)
