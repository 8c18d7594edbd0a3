"""Shared private helpers: safe logs, unit conversion, argument checks, results.

Numerical care lives here, written once. Every log that may meet 0 uses the
double-`where` rule (jax FAQ, "gradients contain NaN where using where"): sanitize
the input of the singular operation with an inner `where`, then select the result
with an outer one, so that values *and* gradients are finite.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.typing import ArrayLike

Array = jax.Array


class Estimate(NamedTuple):
    """An estimate with its standard error.

    Attributes:
      value: the estimate, shape of the batch (a scalar for one problem).
      stderr: its standard error, same shape; NaN where the method has none.
    """

    value: Array
    stderr: Array


# --------------------------------------------------------------------------- #
# Safe elementwise maths (finite values and gradients at the singularities).
# --------------------------------------------------------------------------- #


def _is_zero(x: Array) -> Array:
    """1 where x = 0, 0 where x != 0 (NaN stays NaN), by arithmetic.

    Not `x == 0`: XLA's CPU backend fuses arithmetic summands into a following
    reduction, but not comparisons or selects, which would first write the whole
    batch of summands to a temporary buffer (several times slower at 1e7 entries).
    """
    return 1 - jnp.abs(jnp.sign(x))


def xlogy(x: Array, y: Array) -> Array:
    """x · log y with 0 · log y = 0 for finite y >= 0, and finite gradients at x = 0.

    Linear in x, so the gradient in x is log y, as for `jax.scipy.special.xlogy`,
    also at x = 0 (finite wherever y > 0). At x = y = 0 the value and both partial
    derivatives are 0 (where jax gives -inf and NaN). Where x > 0 and y = 0 the
    result is -inf (the honest value); a negative y gives NaN.
    """
    return x * jnp.log(y + _is_zero(x) * _is_zero(y))


def mul_or_zero(x: Array, y: Array) -> Array:
    """x · y with 0 · (±inf) = 0.

    Linear in x, so the gradient in x is y wherever y is finite (also at x = 0,
    where a cross-entropy is still differentiable in its targets), and 0 where
    x = 0 and y is infinite.
    """
    return x * jnp.where((x == 0) & jnp.isinf(y), 0, y)


def xlogx(x: Array) -> Array:
    """x · log x with 0 · log 0 = 0 and a zero (finite) gradient at 0."""
    return xlogy(x, x)


# |t| below which `expm1mx_series` is used for e^t − 1 − t.
EXPM1MX_SERIES_RADIUS = 0.5


def series_length(dtype: Any, ratio: Callable[[int], float]) -> int:
    """Fewest terms n with ratio(n) below the machine epsilon of `dtype`."""
    eps = float(jnp.finfo(dtype).eps)
    n = 1
    while ratio(n) > eps:
        n += 1
    return n


def expm1mx_series(t: Array) -> Array:
    """e^t − 1 − t = t²·Σ_j t^j/(j + 2)! for |t| <= `EXPM1MX_SERIES_RADIUS`.

    No cancellation near t = 0, where expm1(t) − t loses all digits; summed by
    Horner to the precision of the dtype. The caller selects the branch and
    passes a harmless t (e.g. 0) elsewhere (double `where`).
    """
    r = EXPM1MX_SERIES_RADIUS
    n = series_length(t.dtype, lambda j: 2 * r**j / math.factorial(j + 2))
    series = jnp.zeros_like(t)
    for j in reversed(range(n)):
        series = series * t + 1.0 / math.factorial(j + 2)
    return t * t * series


def safe_log(x: Array) -> Array:
    """log x that is -inf at 0 with a zero (not NaN) gradient there."""
    positive = x > 0
    safe_x = jnp.where(positive, x, jnp.ones_like(x))
    return jnp.where(positive, jnp.log(safe_x), -jnp.inf)


def logmeanexp(a: Array, axis: int | Sequence[int] | None = None) -> Array:
    """log(mean(exp(a))) along `axis`, computed stably by log-sum-exp."""
    a = jnp.asarray(a)
    if axis is None:
        count = a.size
    else:
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        count = math.prod(a.shape[ax] for ax in axes)
    return jax.nn.logsumexp(a, axis=axis) - jnp.log(jnp.asarray(count, dtype=a.dtype))


def mean_and_stderr(values: Array, axis: int = -1) -> Estimate:
    """Sample mean along `axis` and its standard error sqrt(var / n) (ddof = 1)."""
    n = values.shape[axis]
    mean = jnp.mean(values, axis=axis)
    if n < 2:
        return Estimate(mean, jnp.full_like(mean, jnp.nan))
    std = jnp.std(values, axis=axis, ddof=1)
    return Estimate(mean, std / jnp.sqrt(jnp.asarray(n, dtype=mean.dtype)))


# --------------------------------------------------------------------------- #
# Units.
# --------------------------------------------------------------------------- #


def check_base(base: float | None) -> None:
    """Refuse a logarithm base that is not a positive number other than 1."""
    if base is None:
        return
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a positive number other than 1 or None, got {base!r}")
    if not (base > 0) or base == 1 or not math.isfinite(base):
        raise ValueError(f"base must be a positive number other than 1 or None, got {base!r}")


def to_base(value: Array, base: float | None) -> Array:
    """Convert a quantity in nats to `base` (None or e: nats, 2: bits, 10: hartleys)."""
    check_base(base)
    if base is None or base == math.e:
        return value
    return value / math.log(base)


# --------------------------------------------------------------------------- #
# Argument checks (before tracing: shapes, dtypes and static values only).
# --------------------------------------------------------------------------- #


def as_float_array(x: ArrayLike, name: str) -> Array:
    """`x` as a floating JAX array, or a TypeError naming `name`.

    Python scalars and lists of numbers are accepted and take JAX's default float
    dtype; arrays must already have a floating dtype (no silent int -> float).
    """
    if isinstance(x, (jax.Array, np.ndarray, np.generic)):
        dtype = x.dtype
        if not jnp.issubdtype(dtype, jnp.floating):
            raise TypeError(f"{name} must have a floating dtype, got an array of dtype {dtype}")
        return jnp.asarray(x)
    if isinstance(x, (bool, np.bool_)):
        raise TypeError(f"{name} must be a floating array, got a bool")
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}") from err
    if arr.dtype == object or not (
        jnp.issubdtype(arr.dtype, jnp.number) or jnp.issubdtype(arr.dtype, jnp.bool_)
    ):
        raise TypeError(f"{name} must be an array of numbers, got {type(x).__name__}")
    if jnp.issubdtype(arr.dtype, jnp.bool_):
        raise TypeError(f"{name} must be a floating array, got booleans")
    return jnp.asarray(arr, dtype=jnp.result_type(float))


def as_int_array(x: ArrayLike, name: str) -> Array:
    """`x` as an integer JAX array, or a TypeError naming `name`."""
    arr = x if isinstance(x, jax.Array) else np.asarray(x)
    if not jnp.issubdtype(arr.dtype, jnp.integer):
        raise TypeError(f"{name} must have an integer dtype, got {arr.dtype}")
    return jnp.asarray(arr)


def check_axis(axis: int, ndim: int, name: str = "axis") -> int:
    """Normalize `axis` for an array of rank `ndim`, or a ValueError naming `name`."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for an array of rank {ndim}")
    return int(axis) % ndim


def check_same_shape(a: Array, b: Array, name_a: str, name_b: str) -> None:
    """Refuse two arrays whose shapes differ."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape, got {a.shape} and {b.shape}"
        )


def check_static_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """A static (hashable, concrete) Python int >= `minimum`, or a clear error."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(
            f"{name} must be a static Python int (mark it static under jit), got a traced value"
        )
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a Python int, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_static_float(
    value: Any, name: str, *, positive: bool = False, nonnegative: bool = False
) -> float:
    """A static, finite Python float (optionally > 0 or >= 0), or a clear error."""
    if isinstance(value, jax.core.Tracer):
        raise TypeError(f"{name} must be a static Python number, got a traced value")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value):
        raise ValueError(f"{name} must be a number, got nan")
    if positive and not value > 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    if nonnegative and not value >= 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return value


def check_samples(x: ArrayLike, name: str) -> Array:
    """Samples as a floating `(n, d)` array: a 1-D array of length n becomes `(n, 1)`."""
    arr = as_float_array(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be samples of shape (n,) or (n, d), got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one sample, got shape {arr.shape}")
    return arr


def check_key(key: ArrayLike) -> Array:
    """A single PRNG key: a typed key array of shape () or a raw uint32 key of shape (2,)."""
    if isinstance(key, numbers.Number) or not hasattr(key, "dtype"):
        raise TypeError(f"key must be a PRNG key (jax.random.key), got {type(key).__name__}")
    if jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        if key.shape != ():
            raise ValueError(f"key must be a single PRNG key, got a key array of shape {key.shape}")
        return key
    if key.dtype == jnp.uint32 and key.shape == (2,):
        return key
    raise TypeError(
        f"key must be a PRNG key (jax.random.key), got an array of dtype {key.dtype} "
        f"and shape {key.shape}"
    )


def check_mesh(mesh: Any) -> Mesh | None:
    """`mesh` if it is a `jax.sharding.Mesh` or None, else a TypeError naming it."""
    if mesh is not None and not isinstance(mesh, Mesh):
        raise TypeError(
            f"mesh must be a jax.sharding.Mesh (e.g. jax.make_mesh((jax.device_count(),), "
            f"('batch',))) or None, got {type(mesh).__name__}"
        )
    return mesh


def _is_concrete(x: Array) -> bool:
    return not isinstance(x, jax.core.Tracer)


def require_concrete(x: Array, name: str, what: str = "validate=True") -> np.ndarray:
    """The concrete value of `x` for an eager check, or a clear error under a transform."""
    if not _is_concrete(x):
        raise TypeError(
            f"{what} checks the values of {name} eagerly and cannot run under jit/vmap/grad; "
            "call the function outside transforms, or use jax.experimental.checkify"
        )
    return np.asarray(x)


def first_index(mask: np.ndarray) -> tuple[int, ...]:
    """The index of the first True entry of `mask` (C order), for error messages."""
    return tuple(int(i) for i in np.argwhere(mask)[0])


def validate_finite(x: Array, name: str) -> None:
    """Eagerly refuse NaN or inf in `x`, naming the first bad location."""
    value = require_concrete(x, name)
    bad = ~np.isfinite(value)
    if bad.any():
        idx = first_index(bad)
        raise ValueError(f"{name} must be finite; {name}[{idx}] = {value[idx]}")


def validate_probabilities(
    p: Array, name: str, axis: int = -1, *, atol: float | None = None
) -> None:
    """Eagerly check that `p` holds pmfs along `axis`: finite, >= 0, summing to 1.

    The error names the first offending entry (or the first offending
    distribution, for a wrong sum). `atol` defaults to a tolerance suited to
    the dtype (1e-5 for float32, 1e-10 for float64) times the support size.
    """
    value = require_concrete(p, name)
    validate_finite(p, name)
    negative = value < 0
    if negative.any():
        idx = first_index(negative)
        raise ValueError(f"{name} must be non-negative; {name}[{idx}] = {value[idx]}")
    totals = value.sum(axis=axis)
    if atol is None:
        eps = 1e-10 if value.dtype == np.float64 else 1e-5
        atol = eps * max(1, value.shape[axis])
    off = np.abs(totals - 1.0) > atol
    if np.ndim(off) == 0:
        if off:
            raise ValueError(f"{name} must sum to 1 along axis {axis}, got {float(totals):.8g}")
    elif off.any():
        idx = first_index(off)
        raise ValueError(
            f"{name} must sum to 1 along axis {axis}; the distribution at batch index "
            f"{idx} sums to {totals[idx]:.8g}"
        )
