"""Batched statistics: pairwise MI matrices, permutation nulls and bootstrap intervals.

Each helper turns many estimates into one compiled call: the batch (column pairs,
permutations, resamples) is an index axis mapped by `lax.map` in equal vectorized
chunks of at most `batch_size` problems (the last index repeated to fill the last
chunk, the extra results dropped, so that the estimator compiles once), and peak
memory is about `batch_size` times the memory of one estimate. With `mesh=` the
batch axis is split over the devices of a `jax.sharding.Mesh` by `jax.shard_map`
(every device holds the data and runs its share of the batch); the result is the
same as without a mesh up to the rounding of a different vector width. The same
code runs across processes after `jax.distributed.initialize` with a mesh over
`jax.devices()` (see `examples/distributed_pairwise_mi.py`).

The estimator is a function of arrays whose configuration is fixed beforehand,
e.g. `functools.partial(itjax.ksg_mutual_information, k=5)`: build it once and
reuse it, and `jax.jit` of a helper compiles once per data shape.
"""

from __future__ import annotations

import functools
import importlib
import numbers
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from jax.typing import ArrayLike

from itjax._src._utils import (
    Estimate,
    check_key,
    check_mesh,
    check_samples,
    check_static_float,
    check_static_int,
)

__all__ = [
    "BootstrapResult",
    "PermutationTestResult",
    "bootstrap",
    "pairwise_mutual_information",
    "permutation_test",
]

Array = jax.Array

# method name -> (module, function) of the MI estimator, resolved when called.
_METHODS = {
    "ksg": ("itjax._src.knn", "ksg_mutual_information"),
    "gaussian_copula": ("itjax._src.copula", "gaussian_copula_mutual_information"),
    "kde": ("itjax._src.kde", "kde_mutual_information"),
}
_DEFAULT_BATCH_SIZE = 64
# `_random_permutation` sorts packed integer keys while the expected number of
# tied pairs, n² / 2^(r + 1) with r = 32 - ceil(log2 n) random bits, is at most 1
# (n <= 2048); beyond that, `jax.random.permutation`.
_PACKED_TIES = 1


class PermutationTestResult(NamedTuple):
    """Result of `permutation_test`.

    Attributes:
      statistic: the estimate on the observed pairing, a scalar.
      null: the estimates on `num_permutations` permuted pairings, `(num_permutations,)`.
      p_value: (1 + #{null >= statistic}) / (1 + num_permutations), in (0, 1].
    """

    statistic: Array
    null: Array
    p_value: Array


class BootstrapResult(NamedTuple):
    """Result of `bootstrap`.

    Attributes:
      statistic: the estimate on the original data, a scalar.
      low: lower end of the percentile interval.
      high: upper end of the percentile interval.
      stderr: standard deviation of the bootstrap estimates (ddof = 1).
      samples: the estimates on the resamples, `(num_resamples,)`.
    """

    statistic: Array
    low: Array
    high: Array
    stderr: Array
    samples: Array


# --------------------------------------------------------------------------- #
# Checks (before tracing).
# --------------------------------------------------------------------------- #


def _check_estimator(estimator: Any, name: str = "estimator") -> Callable[..., Any]:
    """A callable whose bound configuration (a functools.partial's) is static."""
    if not callable(estimator):
        raise TypeError(
            f"{name} must be a callable mapping arrays to a scalar estimate "
            f"(e.g. functools.partial(itjax.ksg_mutual_information, k=5)), "
            f"got {type(estimator).__name__}"
        )
    inner = estimator
    while isinstance(inner, functools.partial):
        bound = {f"argument {i}": v for i, v in enumerate(inner.args)} | dict(inner.keywords)
        for key, value in bound.items():
            if isinstance(value, (jax.Array, np.ndarray)):
                raise TypeError(
                    f"{name} must have a static configuration: its bound {key} is an array "
                    f"of shape {np.shape(value)}; bind Python numbers, strings or tuples"
                )
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"{name} must have a static (hashable) configuration: its bound {key} "
                    f"is a {type(value).__name__}"
                ) from None
        inner = inner.func
    return estimator


def _check_batch_size(batch_size: Any) -> int:
    return check_static_int(batch_size, "batch_size", minimum=1)


def _check_pair(x: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    """Paired samples with the same number of rows."""
    x = check_samples(x, "x")
    y = check_samples(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            f"x and y must hold the same number of samples, got {x.shape[0]} and {y.shape[0]}"
        )
    return x, y


def _resolve_method(method: Any) -> Callable[..., Any]:
    if callable(method):
        return method
    if not isinstance(method, str) or method not in _METHODS:
        raise ValueError(
            f"method must be one of {sorted(_METHODS)} or a callable estimator(x, y), "
            f"got {method!r}"
        )
    module, function = _METHODS[method]
    estimator = getattr(importlib.import_module(module), function, None)
    if estimator is None:
        raise ValueError(f"method {method!r} is not available in this version of itjax")
    return estimator


def _check_groups(groups: Any, d: int) -> np.ndarray:
    """Groups of columns as a `(num_groups, group_size)` int array."""
    if groups is None:
        return np.arange(d, dtype=np.int32)[:, None]
    if isinstance(groups, (str, bytes)) or not isinstance(groups, Sequence):
        raise TypeError(f"groups must be a sequence of sequences of column indices, got {groups!r}")
    rows = []
    for g in groups:
        if isinstance(g, numbers.Integral) and not isinstance(g, bool):
            g = (g,)
        if isinstance(g, (str, bytes)) or not isinstance(g, Sequence) or len(g) == 0:
            raise TypeError(f"each group must be a non-empty sequence of column indices, got {g!r}")
        for c in g:
            if isinstance(c, bool) or not isinstance(c, numbers.Integral) or not 0 <= c < d:
                raise ValueError(f"groups holds column {c!r}, expected an int in [0, {d})")
        rows.append(tuple(int(c) for c in g))
    if len(rows) < 2:
        raise ValueError(f"groups must hold at least 2 groups, got {len(rows)}")
    sizes = sorted({len(r) for r in rows})
    if len(sizes) != 1:
        raise ValueError(
            f"groups must all have the same number of columns (one compiled estimator for "
            f"every pair), got sizes {sizes}"
        )
    return np.asarray(rows, dtype=np.int32)


# --------------------------------------------------------------------------- #
# The batch map.
# --------------------------------------------------------------------------- #


def _scalar(out: Any) -> Array:
    """An estimator's scalar value (the `value` of an `Estimate`)."""
    value = out.value if isinstance(out, Estimate) else out
    value = jnp.asarray(value)
    if value.shape != ():
        raise ValueError(f"estimator must return a scalar, got shape {value.shape}")
    return value


def _split(key: Array, num: int) -> tuple[Array, Any]:
    """`num` keys from `key`, as raw key data `(num, ...)` and the PRNG implementation.

    The batch map indexes the keys by problem; it indexes their raw data so that the
    key-reuse checker sees each typed key made once (padding problems repeat the
    last index and are dropped).
    """
    if not jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key)
    keys = jax.random.split(key, num)
    return jax.random.key_data(keys), jax.random.key_impl(keys)


def _key(data: Array, i: Array, impl: Any) -> Array:
    """The i-th key of raw key data from `_split`."""
    return jax.random.wrap_key_data(data[i], impl=impl)


def _random_permutation(key: Array, n: int, *, random_bits: int | None = None) -> Array:
    """A uniformly random permutation of `range(n)`: (n,) int32.

    Each element draws r random bits; packed above its index in one int32, a
    single integer sort orders the elements by their draws (XLA:CPU sorts one
    integer array about 6x faster than keys with a payload, as
    `jax.random.permutation` does). Elements whose draws tie draw again, until
    all draws differ. The procedure treats every element alike, so the final
    draws are exchangeable and distinct, and the order they give is exactly
    uniform (breaking ties by index instead would favour the identity).

    `random_bits` (tests only) sets r below its default 32 - ceil(log2 n).
    With the default, n is small enough that a tie is rare (`_PACKED_TIES`);
    for larger n this returns `jax.random.permutation(key, n)`.
    """
    index_bits = max(1, (n - 1).bit_length())
    r = 32 - index_bits if random_bits is None else random_bits
    if random_bits is None and n * n > _PACKED_TIES * 2 ** (r + 1):
        return jax.random.permutation(key, n)
    iota = jnp.arange(n, dtype=jnp.int32)

    def body(state: tuple[Array, Array, Array, Array]) -> tuple[Array, Array, Array, Array]:
        key, draws, _, tied = state
        key, sub = jax.random.split(key)
        fresh = lax.bitcast_convert_type(jax.random.bits(sub, (n,), jnp.uint32), jnp.int32)
        draws = jnp.where(tied, fresh >> (32 - r), draws)  # r-bit signed draws
        packed = jnp.sort((draws << index_bits) | iota)
        order = packed & ((1 << index_bits) - 1)
        same = (packed[1:] >> index_bits) == (packed[:-1] >> index_bits)
        tied_sorted = jnp.pad(same, (0, 1)) | jnp.pad(same, (1, 0))
        return key, draws, order, jnp.zeros(n, bool).at[order].set(tied_sorted)

    state = (key, jnp.zeros(n, jnp.int32), iota, jnp.ones(n, bool))
    return lax.while_loop(lambda s: jnp.any(s[3]), body, state)[2]


def _chunks(size: int, batch_size: int) -> tuple[int, int]:
    """Balanced chunks for `size` problems, at most `batch_size` at a time.

    Returns (per, total): ceil(size / batch_size) chunks of `per` problems each,
    `total = chunks * per >= size` (less than one extra problem per chunk). Equal
    chunks make `lax.map` compile the estimator once; a remainder chunk of
    another width would compile it a second time.
    """
    chunks = -(-size // batch_size)
    per = -(-size // chunks)
    return per, chunks * per


def _map_batch(
    fn: Callable[[Array, Any], Array],
    size: int,
    shared: Any,
    *,
    batch_size: int,
    mesh: Mesh | None,
) -> Array:
    """[fn(i, shared) for i in range(size)] as one array, at most `batch_size` problems at a time.

    The indices are padded (repeating the last one) to whole equal chunks (`_chunks`)
    and the padding is dropped from the result. With a mesh, every device gets the
    same number of chunks: the indices are split over all mesh axes by
    `jax.shard_map`, and `shared` is replicated.
    """
    shards = 1 if mesh is None else mesh.size
    per, local = _chunks(-(-size // shards), batch_size)
    index = jnp.minimum(jnp.arange(local * shards, dtype=jnp.int32), size - 1)
    if mesh is None:
        return lax.map(lambda i: fn(i, shared), index, batch_size=per)[:size]
    spec = PartitionSpec(mesh.axis_names)
    index = jax.device_put(index, NamedSharding(mesh, spec))

    def run_local(index: Array, shared: Any) -> Array:
        return lax.map(lambda i: fn(i, shared), index, batch_size=per)

    out = jax.shard_map(
        run_local, mesh=mesh, in_specs=(spec, PartitionSpec()), out_specs=spec, check_vma=False
    )(index, shared)
    # The results are scalars: gather them (replicate) before dropping the padding.
    return jax.device_put(out, NamedSharding(mesh, PartitionSpec()))[:size]


# --------------------------------------------------------------------------- #
# Public helpers.
# --------------------------------------------------------------------------- #


def pairwise_mutual_information(
    x: ArrayLike,
    *,
    method: str | Callable[..., Any] = "ksg",
    groups: Sequence[Sequence[int]] | None = None,
    batch_size: int = _DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
    **config: Any,
) -> Array:
    r"""Mutual information of every pair of columns (or column groups) of `(n, d)` samples.

    .. math:: M_{ab} = \hat I(X_{G_a}; X_{G_b}), \qquad a \ne b,

    with G_a the a-th group of columns (by default column a alone). The
    g(g - 1)/2 estimates of the upper triangle run as one batch over the pair
    index, `batch_size` pairs vectorized at a time; the matrix is symmetric by
    construction (each pair is estimated once, as I(X_{G_a}; X_{G_b}) with a < b).

    The diagonal is NaN: I(X; X) = H(X) is infinite for a continuous variable
    and the estimators are not defined on a variable paired with itself.

    Args:
      x: samples `(n, d)`, floating dtype.
      method: "ksg" (`ksg_mutual_information`), "gaussian_copula"
        (`gaussian_copula_mutual_information`), "kde" (`kde_mutual_information`),
        or a callable estimator(x_a, y_b) -> scalar taking `(n, s)` arrays.
      groups: None (every column its own variable) or a sequence of g >= 2 groups
        of column indices, all of the same size s (static).
      batch_size: at most this many pairs vectorized at a time (static); peak
        memory is about `batch_size` times that of one estimate.
      mesh: a `jax.sharding.Mesh`: split the pairs over all its devices
        (`jax.shard_map`; x is replicated). None: the default device.
      **config: static keyword configuration of the estimator (e.g. `k=5`,
        `base=2`), passed to every call.

    Returns:
      The `(g, g)` matrix, in the estimator's units (nats unless `base=` says
      otherwise), NaN on the diagonal.
    """
    x = check_samples(x, "x")
    estimator = _check_estimator(functools.partial(_resolve_method(method), **config))
    batch_size = _check_batch_size(batch_size)
    mesh = check_mesh(mesh)
    columns = _check_groups(groups, x.shape[1])
    num_groups = columns.shape[0]
    first, second = np.triu_indices(num_groups, k=1)
    pairs = np.stack([first, second], axis=1).astype(np.int32)

    def one(i: Array, shared: tuple[Array, Array, Array]) -> Array:
        x, columns, pairs = shared
        a, b = pairs[i, 0], pairs[i, 1]
        return _scalar(estimator(x[:, columns[a]], x[:, columns[b]]))

    shared = (x, jnp.asarray(columns), jnp.asarray(pairs))
    values = _map_batch(one, len(pairs), shared, batch_size=batch_size, mesh=mesh)
    matrix = jnp.full((num_groups, num_groups), jnp.nan, dtype=values.dtype)
    return matrix.at[first, second].set(values).at[second, first].set(values)


def permutation_test(
    key: ArrayLike,
    estimator: Callable[..., Any],
    x: ArrayLike,
    y: ArrayLike,
    *,
    num_permutations: int = 1000,
    batch_size: int = _DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
) -> PermutationTestResult:
    r"""Permutation test of independence of x and y with the statistic `estimator(x, y)`.

    Each permutation π_j of the rows of y (drawn from its own key, exactly
    uniform: the order of distinct random integers, redrawn where they tie)
    breaks the pairing and keeps both marginals; the estimates
    T_j = estimator(x, y_{π_j}) sample the null distribution of T under
    independence. The one-sided p-value

    .. math:: p = \frac{1 + \#\{j : T_j \ge T\}}{1 + B}

    counts the observed pairing as one of the permutations (Phipson & Smyth,
    2010): it is a valid p-value (P(p <= α) <= α under the null) and is never 0;
    the smallest value is 1 / (1 + B).

    Args:
      key: a PRNG key (`jax.random.key`).
      estimator: estimator(x, y) -> scalar (or an `Estimate`, whose value is used),
        with its configuration bound beforehand, e.g.
        `functools.partial(itjax.ksg_mutual_information, k=5)`.
      x: samples `(n, d_x)` or `(n,)`.
      y: samples `(n, d_y)` or `(n,)`, paired with x row by row.
      num_permutations: B >= 1, the number of permutations (static).
      batch_size: at most this many permutations vectorized at a time (static).
      mesh: a `jax.sharding.Mesh` to split the permutations over its devices.

    Returns:
      `PermutationTestResult(statistic, null, p_value)`.

    References:
      B. Phipson, G. K. Smyth, "Permutation p-values should never be zero",
      Statistical Applications in Genetics and Molecular Biology 9 (2010).
    """
    key = check_key(key)
    estimator = _check_estimator(estimator)
    x, y = _check_pair(x, y)
    num_permutations = check_static_int(num_permutations, "num_permutations", minimum=1)
    batch_size = _check_batch_size(batch_size)
    mesh = check_mesh(mesh)
    n = x.shape[0]
    statistic = _scalar(estimator(x, y))

    keys, impl = _split(key, num_permutations)

    def one(i: Array, shared: tuple[Array, Array, Array]) -> Array:
        keys, x, y = shared
        permutation = _random_permutation(_key(keys, i, impl), n)
        return _scalar(estimator(x, y[permutation]))

    null = _map_batch(one, num_permutations, (keys, x, y), batch_size=batch_size, mesh=mesh)
    exceed = jnp.sum(null >= statistic)
    p_value = (1 + exceed).astype(null.dtype) / (1 + num_permutations)
    return PermutationTestResult(statistic, null, p_value)


def bootstrap(
    key: ArrayLike,
    estimator: Callable[..., Any],
    *arrays: ArrayLike,
    num_resamples: int = 1000,
    confidence: float = 0.95,
    batch_size: int = _DEFAULT_BATCH_SIZE,
    mesh: Mesh | None = None,
) -> BootstrapResult:
    r"""Percentile bootstrap interval of `estimator(*arrays)`.

    Each resample draws n row indices uniformly with replacement (one draw shared
    by all arrays, so paired rows stay paired) and re-evaluates the estimator;
    the interval is the [(1 - c)/2, (1 + c)/2] quantiles of the B estimates
    (linear interpolation, as `numpy.quantile` and scipy's `method="percentile"`):

    .. math:: \big[\hat\theta^*_{((1-c)/2)}, \hat\theta^*_{((1+c)/2)}\big].

    The percentile interval assumes the estimator is roughly unbiased: for a
    kNN or plug-in estimate whose bias depends on n, resampling duplicates rows
    (ties at distance 0 for kNN estimators), which shifts the bootstrap
    distribution; read the interval as a measure of spread, not of bias.

    Args:
      key: a PRNG key (`jax.random.key`).
      estimator: estimator(*arrays) -> scalar (or an `Estimate`), configuration
        bound beforehand (`functools.partial`).
      *arrays: one or more arrays with the same leading dimension n (samples
        first); they are resampled by rows together.
      num_resamples: B >= 1, the number of resamples (static).
      confidence: c in (0, 1), the coverage of the interval (static).
      batch_size: at most this many resamples vectorized at a time (static).
      mesh: a `jax.sharding.Mesh` to split the resamples over its devices.

    Returns:
      `BootstrapResult(statistic, low, high, stderr, samples)`.

    References:
      B. Efron, R. J. Tibshirani, "An Introduction to the Bootstrap" (1993), ch. 13.
    """
    key = check_key(key)
    estimator = _check_estimator(estimator)
    if not arrays:
        raise TypeError("bootstrap needs at least one array after the estimator, got none")
    arrays = tuple(jnp.asarray(a) for a in arrays)
    sizes = [a.shape[0] if a.ndim else None for a in arrays]
    if None in sizes or len(set(sizes)) != 1:
        shapes = [a.shape for a in arrays]
        raise ValueError(f"arrays must share their leading (sample) dimension, got shapes {shapes}")
    num_resamples = check_static_int(num_resamples, "num_resamples", minimum=1)
    confidence = check_static_float(confidence, "confidence", positive=True)
    if not confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    batch_size = _check_batch_size(batch_size)
    mesh = check_mesh(mesh)
    n = sizes[0]
    statistic = _scalar(estimator(*arrays))

    keys, impl = _split(key, num_resamples)

    def one(i: Array, shared: tuple[Array, tuple[Array, ...]]) -> Array:
        keys, arrays = shared
        rows = jax.random.randint(_key(keys, i, impl), (n,), 0, n)
        return _scalar(estimator(*(a[rows] for a in arrays)))

    samples = _map_batch(one, num_resamples, (keys, arrays), batch_size=batch_size, mesh=mesh)
    tail = (1 - confidence) / 2
    low, high = jnp.quantile(samples, jnp.asarray([tail, 1 - tail], samples.dtype))
    ddof = 1 if num_resamples > 1 else 0
    stderr = jnp.std(samples, ddof=ddof) if ddof else jnp.full_like(statistic, jnp.nan)
    return BootstrapResult(statistic, low, high, stderr, samples)
