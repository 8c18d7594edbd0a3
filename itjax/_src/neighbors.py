"""Exact k-nearest-neighbour kernel: the search under the kNN estimators (`knn.py`).

The kernel finds, for every query point, its k nearest reference points under
the max-norm or the Euclidean norm, exactly, with peak extra memory O(n · tile),
never O(n²) (docs/knn.md records the measurements behind each choice):

* Low dimension (D <= `_TREE_MAX_DIM`): a balanced k-d partition of the points
  into leaves of about `_LEAF_SIZE` (cuts by rank along the widest coordinates,
  one integer sort per coordinate). A query leaf compares its points
  with those of the `_CANDIDATE_LEAVES[D]` reference leaves whose boxes are
  nearest to its box. A query is *certified* when its k-th candidate distance is
  <= the box distance of the nearest leaf left out: no other point can then be
  closer. Rounding is monotone, so the certificate holds in floating point.
* Small 2-D self queries (n <= `_WINDOW_MAX_N`, the joint space of a 1-D KSG):
  each point against the `_WINDOW` points on either side of it in the sorted
  order of each coordinate (`_knn_window`), certified by the coordinate gap to
  the first point left out. No partition to build, no leaves to select.
* Everything else (uncertified queries, or every query when D is larger) goes
  through the brute-force path: a tile of `_QUERY_TILE` queries against all
  references, an (tile, n) distance block.
* Selection of the k smallest of a row (`_smallest`): minima of groups of
  `_GROUP` entries, `lax.top_k` over the group minima, then over the k best
  groups; the k smallest entries of a row always lie in the k groups with the
  smallest minima.

Query leaves and query tiles are independent given the references, so the query
loop can be split by rows (e.g. across devices), and every function here works
under `jax.vmap` (a batch of problems) as well.
"""

from __future__ import annotations

import functools
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
from jax import lax
from jax.sharding import Mesh, NamedSharding, PartitionSpec

Array = jax.Array

# Tuning constants, chosen by measurement on a 2-core CPU (docs/knn.md).
_LEAF_SIZE = 32
_BLOCK = 16
_BLOCKS_KEPT = {1: 8, 2: 8, 3: 16}
_TREE_MAX_DIM = 3
_CANDIDATE_LEAVES = {1: 3, 2: 7, 3: 20}
_LEAF_BATCH = 128
_QUERY_SPLIT = 2
_QUERY_TILE = 128
_FALLBACK_TILE = 32
_GROUP = 16
_KEY_BITS = 20
_PACKED_BITS = 31
_UNROLL = 8
_UNROLL_MAX_DIM = 32

# 2-D self queries with n <= _WINDOW_MAX_N: windows of _WINDOW positions on each
# side in the sorted orders of both coordinates (`_knn_window`).
_WINDOW = 48
_WINDOW_MAX_N = 1536
_WINDOW_STEP = 16

_NORMS = ("max", "euclidean")


# --------------------------------------------------------------------------- #
# Distances. Points are stored coordinate-major, (D, ...), so that the loops run
# over contiguous rows and the D-reduction is a chain of elementwise operations.
# --------------------------------------------------------------------------- #


def _combine(terms: Array, norm: str) -> Array:
    """Reduce per-coordinate terms (D, ...) to a kernel distance, in a fixed order."""
    if terms.shape[0] > _UNROLL_MAX_DIM:
        return jnp.max(terms, axis=0) if norm == "max" else jnp.sum(terms, axis=0)
    out = terms[0]
    for j in range(1, terms.shape[0]):
        out = jnp.maximum(out, terms[j]) if norm == "max" else out + terms[j]
    return out


def _distance(a: Array, b: Array, norm: str) -> Array:
    """Kernel distance between coordinate-major a (D, ...) and b (D, ...), broadcasting.

    Max-norm: max_j |a_j - b_j|. Euclidean: the *squared* distance Σ_j (a_j - b_j)²,
    from differences (no |a|² + |b|² - 2 a·b cancellation), so that near neighbours
    keep full relative precision.
    """
    diff = a - b
    return _combine(jnp.abs(diff) if norm == "max" else diff * diff, norm)


def _box_distance(lo_a: Array, hi_a: Array, lo_b: Array, hi_b: Array, norm: str) -> Array:
    """Kernel distance between boxes (D, ...): a lower bound for any pair of their points.

    An empty box (lo = +inf, hi = -inf) is at +inf from everything.
    """
    gap = jnp.maximum(jnp.maximum(lo_b - hi_a, lo_a - hi_b), 0)
    return _combine(gap if norm == "max" else gap * gap, norm)


# --------------------------------------------------------------------------- #
# Selection.
# --------------------------------------------------------------------------- #


def _top_k_smallest(values: Array, k: int) -> tuple[Array, Array]:
    # The barrier keeps XLA:CPU's fast TopK: a slice of its output makes XLA
    # rewrite it into a full sort, ~40x slower (docs/knn.md).
    # The extra operand keeps the barrier's operand a tuple of its own: XLA would
    # otherwise fold it into the TopK instruction, which the SPMD partitioner (a
    # mesh, `_over_rows`) refuses.
    neg, pos = lax.top_k(-values, k)
    neg, pos, _ = lax.optimization_barrier((neg, pos, jnp.zeros((), pos.dtype)))
    return -neg, pos


def _smallest(values: Array, k: int) -> tuple[Array, Array]:
    """The k smallest entries of each row of values (m, C), ascending, and their columns.

    Ties come in any order. Cost: one min-reduction over the row and two small
    `top_k` calls (over C / _GROUP group minima, then over k · _GROUP entries).
    """
    m, c = values.shape
    groups = -(-c // _GROUP)
    if groups <= 2 * k:
        return _top_k_smallest(values, k)
    padded = jnp.pad(values, ((0, 0), (0, groups * _GROUP - c)), constant_values=jnp.inf)
    _, best = _top_k_smallest(jnp.min(padded.reshape(m, groups, _GROUP), axis=-1), k)
    cols = (best[:, :, None] * _GROUP + jnp.arange(_GROUP)[None, None]).reshape(m, k * _GROUP)
    vals, pos = _top_k_smallest(jnp.take_along_axis(padded, cols, axis=1), k)
    return vals, jnp.take_along_axis(cols, pos, axis=1)


# --------------------------------------------------------------------------- #
# The k-d partition.
# --------------------------------------------------------------------------- #


class _Tree(NamedTuple):
    """Points in leaf order, coordinate-major.

    Attributes:
      points: (D, L, B) coordinates; padding slots hold +inf (at +inf from everything).
      index: (L, B) original row of each slot; padding slots hold n, n + 1, ...
      valid: (L, B) False on padding slots.
      lo, hi: (D, L) bounding box of the real points of each leaf.
    """

    points: Array
    index: Array
    valid: Array
    lo: Array
    hi: Array


def _sort_key(v: Array) -> Array:
    """Integers with the order of the floats v (the IEEE bits; negatives' magnitude bits flipped).

    XLA:CPU sorts integers several times faster than floats (docs/knn.md). The map
    is its own inverse (`_from_sort_key`). -0.0 sorts just before +0.0.
    """
    itype = jnp.int64 if v.dtype == jnp.float64 else jnp.int32
    bits = lax.bitcast_convert_type(v, itype)
    return bits ^ ((bits >> (8 * bits.dtype.itemsize - 1)) & jnp.iinfo(itype).max)


def _from_sort_key(key: Array, dtype: Any) -> Array:
    """The floats of `_sort_key` keys."""
    bits = key ^ ((key >> (8 * key.dtype.itemsize - 1)) & jnp.iinfo(key.dtype).max)
    return lax.bitcast_convert_type(bits, dtype)


def _bounds(points: Array, valid: Array) -> tuple[Array, Array]:
    """Per-coordinate min and max over the last axis of points (D, ..., B) where valid."""
    lo = jnp.min(jnp.where(valid, points, jnp.inf), axis=-1)
    hi = jnp.max(jnp.where(valid, points, -jnp.inf), axis=-1)
    return lo, hi


def _num_levels(n: int) -> int:
    return max(0, round(math.log2(n / _LEAF_SIZE))) if n > _LEAF_SIZE else 0


def _split_counts(x: Array, levels: int) -> tuple[Array, Array]:
    """How the `levels` halvings are shared among the coordinates of x (D, n).

    Greedy, like a k-d tree's widest-coordinate rule but global: each halving goes
    to the coordinate whose cells are currently widest, measured by the 10-90%
    interquantile range of a strided subsample of 128 points (robust to heavy
    tails; it only steers the speed, never the result).

    Returns:
      counts: (D,) int32, how many halvings each coordinate gets.
      sequence: (levels,) int32, the coordinate of each halving, in the greedy order.
    """
    d, n = x.shape
    if d == 1:
        return jnp.full((1,), levels, jnp.int32), jnp.zeros(levels, jnp.int32)
    sample = jnp.sort(x[:, :: max(1, n // 128)], axis=1)
    spread = sample[:, (9 * sample.shape[1]) // 10] - sample[:, sample.shape[1] // 10]
    counts = jnp.zeros(d, jnp.int32)
    sequence = []
    for _ in range(levels):
        widest = jnp.argmax(spread / 2.0**counts).astype(jnp.int32)
        sequence.append(widest)
        counts = counts + (jnp.arange(d) == widest)
    return counts, jnp.stack(sequence) if sequence else jnp.zeros(0, jnp.int32)


def _leaf_order(counts: Array, sequence: Array, levels: int) -> Array:
    """Permutation putting the cells of `_build_tree`'s cuts in k-d tree order: (2^levels,).

    The cuts number cell l by its strips, coordinate after coordinate: the bits of
    l hold coordinate 0's strip, then coordinate 1's within it, and so on. In that
    order a run of consecutive cells (a block of `_nearest_leaves`) spans whole
    columns of the later coordinates. Interleaving the strips' bits in the order
    of the halvings (`_split_counts`' sequence, widest cells first) makes each run
    of 2^b cells the cells of one subtree: a compact box.

    Returns perm: new cell p is old cell perm[p].
    """
    d = counts.shape[0]
    cell = jnp.arange(2**levels, dtype=jnp.int32)
    start = jnp.cumsum(counts) - counts  # first bit (from the top) of each coordinate
    strips = jnp.stack(
        [(cell >> (levels - start[j] - counts[j])) & ((1 << counts[j]) - 1) for j in range(d)]
    )
    key = jnp.zeros_like(cell)
    used = jnp.zeros(d, jnp.int32)
    for t in range(levels):
        j = sequence[t]
        bit = (strips[j] >> (counts[j] - 1 - used[j])) & 1
        key = (key << 1) | bit
        used = used + (jnp.arange(d) == j)
    return jnp.zeros_like(cell).at[key].set(cell)


def _orders(keys: Array) -> Array:
    """Permutations sorting each row of integer keys (D, m): (D, m) int32.

    XLA:CPU sorts a single integer array several times faster than keys with a
    payload (docs/knn.md). When the row index fits in the low bits, with at least
    `_KEY_BITS` bits of the key left above it, the index is packed into the key:
    keys that agree on their leading bits then come in index order. That makes the
    order approximate, which only steers the partition (a leaf's box holds its
    points whatever they are), never the neighbours found.
    """
    m = keys.shape[1]
    bits = max(1, (m - 1).bit_length())
    iota = jnp.arange(m, dtype=jnp.int32)
    if keys.dtype == jnp.int32 and 32 - bits >= _KEY_BITS:
        packed = ((keys >> bits) << bits) | iota[None]
        return jnp.sort(packed, axis=-1) & ((1 << bits) - 1)
    return lax.sort((keys, jnp.broadcast_to(iota, keys.shape)), num_keys=1)[1]


def _build_tree(x: Array) -> _Tree:
    """Balanced partition of x (n, D) into 2^levels cells of equal size, by rank.

    Coordinate j gets c_j of the levels (`_split_counts`): order the points by
    coordinate 0 and cut them into 2^c_0 strips, order each strip by coordinate 1
    and cut each into 2^c_1, and so on. The ranks of every coordinate come from one
    sort (`_orders`); each later cut is one sort of the integers strip · 2^b + rank
    (XLA:CPU's sort is slow: a k-d tree's sort per level costs several times more).
    Padding slots (+inf) rank last.
    """
    n, d = x.shape
    levels = _num_levels(n)
    num_leaves = 2**levels
    size = -(-n // (_UNROLL * num_leaves)) * _UNROLL  # whole scan steps and query halves
    n_pad = size * num_leaves
    padded = jnp.pad(x, ((0, n_pad - n), (0, 0)), constant_values=jnp.inf).T
    counts, sequence = _split_counts(x.T, levels)
    position = jnp.arange(n_pad, dtype=jnp.int32)
    orders = _orders(_sort_key(padded))  # (D, n_pad)
    index = orders[0]
    bits = max(1, (n_pad - 1).bit_length())
    done = counts[0]
    for j in range(1, d):
        rank = jnp.zeros(n_pad, jnp.int32).at[orders[j]].set(position)[index]
        strip = position // (n_pad >> done)
        if levels + bits <= _PACKED_BITS:
            index = orders[j][jnp.sort((strip << bits) | rank) & ((1 << bits) - 1)]
        else:
            _, _, index = lax.sort((strip, rank, index), num_keys=2)
        done = done + counts[j]
    shape = (num_leaves, size)
    if d > 2:  # in 2-D the strip order's blocks are compact enough, and the k-d order
        # made a correlated 2-D search slower (docs/knn.md)
        index = index.reshape(shape)[_leaf_order(counts, sequence, levels)].reshape(-1)
    points = padded[:, index].reshape(d, *shape)
    valid = (index < n).reshape(shape)
    lo, hi = _bounds(points, valid)
    return _Tree(points, index.reshape(shape), valid, lo, hi)


# --------------------------------------------------------------------------- #
# k nearest neighbours.
# --------------------------------------------------------------------------- #


def _insert(
    dist: list[Array], rows: list[Array] | None, value: Array, row: Array
) -> tuple[list[Array], list[Array] | None]:
    """Insert value (and its row) into the ascending registers dist[0] <= ... elementwise.

    One compare-exchange per register; an equal value does not displace an
    earlier one, so ties keep the first candidate met. Without rows, the
    compare-exchange is a min and a max.
    """
    new_dist, new_rows = [], []
    if rows is None:
        for d in dist:
            new_dist.append(jnp.minimum(d, value))
            value = jnp.maximum(d, value)
        return new_dist, None
    for d, r in zip(dist, rows, strict=True):
        less = value < d
        new_dist.append(jnp.where(less, value, d))
        new_rows.append(jnp.where(less, row, r))
        value, row = jnp.where(less, d, value), jnp.where(less, r, row)
    return new_dist, new_rows


def _scan_candidates(
    q: Array, cand: Array, cand_rows: Array, *, k: int, norm: str, with_rows: bool
) -> tuple[Array, Array | None]:
    """k nearest candidates of each query, by an insertion network over the candidates.

    Args:
      q: (D, Q, A) queries: Q per group, A groups.
      cand: (S, D, W, A) candidates of each group, W per step of a scan of S steps.
      cand_rows: (S, W, A) their rows.
      k: number of neighbours.
      norm: "max" or "euclidean".
      with_rows: also return the rows (else None; about 1.7x cheaper).

    Returns:
      dist, rows: (k, Q, A), ascending along the first axis.

    The groups lie along the minor axis, so every operation is a vectorized
    elementwise one over A lanes; the network costs k compare-exchanges per
    candidate, several times less than `lax.top_k` on this CPU (docs/knn.md).
    """
    _, width, a = q.shape
    dist = [jnp.full((width, a), jnp.inf, q.dtype) for _ in range(k)]
    rows = [jnp.zeros((width, a), jnp.int32) for _ in range(k)] if with_rows else None

    def step(carry, chunk):
        dist, rows = carry
        c, c_rows = chunk
        for w in range(c.shape[1]):
            value = _distance(q, c[:, None, w, :], norm)
            dist, rows = _insert(dist, rows, value, c_rows[None, w, :])
        return (dist, rows), None

    s, d, w, lanes = cand.shape
    unroll = math.gcd(w, _UNROLL)  # candidates per scan step: compile time vs loop overhead
    cand = jnp.moveaxis(cand.reshape(s, d, w // unroll, unroll, lanes), 2, 1)
    cand = cand.reshape(-1, d, unroll, lanes)
    cand_rows = cand_rows.reshape(-1, unroll, lanes)
    (dist, rows), _ = lax.scan(step, (dist, rows), (cand, cand_rows))
    return jnp.stack(dist), (jnp.stack(rows) if with_rows else None)


def _knn_brute(
    q: Array, refs: Array, *, k: int, norm: str, with_rows: bool
) -> tuple[Array, Array | None]:
    """k nearest of the queries q (D, T) among all refs (D, n): distances, rows (T, k)."""
    d, n = refs.shape
    steps = -(-n // _GROUP)
    padded = jnp.pad(refs, ((0, 0), (0, steps * _GROUP - n)), constant_values=jnp.inf)
    cand = jnp.moveaxis(padded.reshape(d, steps, _GROUP, 1), 1, 0)
    cand_rows = jnp.arange(steps * _GROUP, dtype=jnp.int32).reshape(steps, _GROUP, 1)
    dist, rows = _scan_candidates(
        q[:, None, :], cand, cand_rows, k=k, norm=norm, with_rows=with_rows
    )
    return dist[:, 0].T, (rows[:, 0].T if with_rows else None)


def _nearest_leaves(
    lo: Array, hi: Array, number: Array, ref: _Tree, count: int, *, norm: str, own: bool
) -> tuple[Array, Array]:
    """The `count` reference leaves nearest to each query box, and a bound beyond them.

    Args:
      lo, hi: (D, A) query boxes; number: (A,) their leaf numbers.
      ref: the reference partition.
      count: how many leaves to return.
      own: force leaf `number` of ref first (self queries).

    Returns:
      chosen: (A, count) leaf numbers, nearest first.
      beyond: (A,) a lower bound on the box distance to every other leaf.

    With many leaves, blocks of `_BLOCK` consecutive leaves (a subtree: a compact
    box, `_leaf_order`) are ranked first and the leaves of the `_BLOCKS_KEPT[D]`
    nearest blocks next, so that the cost per query leaf stays O(L / _BLOCK)
    instead of O(L).
    """
    d, num_leaves = ref.lo.shape
    lo, hi = lo[:, :, None], hi[:, :, None]
    pool = None
    beyond = jnp.full(lo.shape[1], jnp.inf, lo.dtype)
    num_blocks = num_leaves // _BLOCK
    kept = _BLOCKS_KEPT[d]
    if num_blocks > 2 * kept:
        blo = jnp.min(ref.lo.reshape(d, num_blocks, _BLOCK), axis=-1)[:, None]
        bhi = jnp.max(ref.hi.reshape(d, num_blocks, _BLOCK), axis=-1)[:, None]
        box = _box_distance(lo, hi, blo, bhi, norm)
        if own:
            box = jnp.where(jnp.arange(num_blocks)[None] == number[:, None] // _BLOCK, -1, box)
        near, blocks = _smallest(box, kept + 1)
        beyond = near[:, -1]
        pool = (blocks[:, :-1, None] * _BLOCK + jnp.arange(_BLOCK)[None, None]).reshape(
            lo.shape[1], -1
        )
        box = _box_distance(lo, hi, ref.lo[:, pool], ref.hi[:, pool], norm)
    else:
        box = _box_distance(lo, hi, ref.lo[:, None], ref.hi[:, None], norm)
    if own:
        mine = (pool if pool is not None else jnp.arange(num_leaves)[None]) == number[:, None]
        box = jnp.where(mine, -1, box)
    take = min(count + 1, box.shape[1])
    near, pos = _smallest(box, take)
    if take > count:
        beyond = jnp.minimum(beyond, near[:, -1])
    chosen = pos[:, :count] if pool is None else jnp.take_along_axis(pool, pos[:, :count], 1)
    return chosen, beyond


def _knn_leaves(
    leaves: tuple[Array, Array, Array, Array],
    ref: _Tree,
    *,
    k: int,
    norm: str,
    own: bool,
    with_rows: bool,
) -> tuple[Array, Array | None, Array]:
    """kNN of the points of a batch of query leaves among their nearest reference leaves.

    Args:
      leaves: the query points (D, A, B), the leaves' numbers (A,) and boxes lo, hi (D, A).
      ref: the reference partition.
      k: number of neighbours.
      norm: "max" or "euclidean".
      own: query leaf number j is also leaf j of ref (self queries): it is always
        among the candidates, so that each query meets itself.
      with_rows: also return the rows of the neighbours (else None).

    Returns distances and rows (k, A, B) and whether each query is certified exact (A, B).
    """
    q, number, lo, hi = leaves
    d, num_leaves, _ = ref.points.shape
    num_candidates = min(_CANDIDATE_LEAVES[d], num_leaves)
    num_checked = min(2 * num_candidates, num_leaves)
    chosen, beyond = _nearest_leaves(lo, hi, number, ref, num_checked, norm=norm, own=own)
    near = chosen[:, :num_candidates]
    cand = jnp.transpose(ref.points[:, near], (2, 0, 3, 1))  # (R, D, B, A)
    cand_rows = jnp.transpose(ref.index[near], (1, 2, 0))  # (R, B, A)
    dist, rows = _scan_candidates(
        jnp.swapaxes(q, 1, 2), cand, cand_rows, k=k, norm=norm, with_rows=with_rows
    )
    dist = jnp.swapaxes(dist, 1, 2)  # (k, A, Q)
    rows = jnp.swapaxes(rows, 1, 2) if with_rows else None
    # Lower bound on the distance from each query to every point left out: the
    # point-to-box distance for the next leaves, the box-to-box one beyond them.
    extra = chosen[:, num_candidates:]
    qq = q[:, :, :, None]
    to_box = _box_distance(qq, qq, ref.lo[:, extra][:, :, None], ref.hi[:, extra][:, :, None], norm)
    bound = jnp.minimum(jnp.min(to_box, axis=-1, initial=jnp.inf), beyond[:, None])
    if norm == "euclidean":  # guard against a different summation order
        bound = bound * (1 - 4 * d * jnp.finfo(q.dtype).eps)
    return dist, rows, dist[-1] <= bound


def _unpermute(values: Any, index: Array, n: int) -> Any:
    """Rows of values back to the original order: slot j holds row index[j].

    Args:
      values: an array, or a pytree of arrays, whose leading axes have the shape
        of index: (L, B, ...) in leaf order, or (n, ...) along a sort order.
      index: the original row of each slot; slots past the n rows are padding.
      n: the number of rows.

    Returns the values with one leading axis of n rows (the same pytree).
    """
    flat_index = index.reshape(-1)
    position = (
        jnp.zeros(flat_index.shape, jnp.int32)
        .at[flat_index]
        .set(jnp.arange(flat_index.size, dtype=jnp.int32))
    )[:n]
    return jax.tree.map(
        lambda v: v.reshape(flat_index.size, *v.shape[index.ndim :])[position], values
    )


def _knn_fallback(
    queries: Array,
    refs: Array,
    dist: Array,
    rows: Array | None,
    todo: Array,
    *,
    k: int,
    norm: str,
) -> tuple[Array, Array | None]:
    """Brute-force kNN of the queries (D, m) flagged in todo, a tile at a time."""
    m = queries.shape[1]
    with_rows = rows is not None

    def body(carry):
        dist, rows, todo = carry
        tile = jnp.nonzero(todo, size=_FALLBACK_TILE, fill_value=m)[0]
        d, r = _knn_brute(
            queries[:, jnp.minimum(tile, m - 1)], refs, k=k, norm=norm, with_rows=with_rows
        )
        dist = dist.at[tile].set(d, mode="drop")
        rows = rows.at[tile].set(r, mode="drop") if with_rows else None
        return dist, rows, todo.at[tile].set(False, mode="drop")

    dist, rows, _ = lax.while_loop(lambda c: jnp.any(c[2]), body, (dist, rows, todo))
    return dist, rows


def _knn(
    queries: Array,
    refs: Array,
    *,
    k: int,
    norm: str,
    exclude_self: bool,
    with_rows: bool = False,
    mesh: Mesh | None = None,
) -> tuple[Array, Array | None]:
    """`_knn_search` of the values, outside any differentiation (see below).

    With a mesh, the query rows are split over its devices (`_over_rows`) and the
    references replicated: each device searches all references for its rows. A
    query then no longer knows it is a reference, so with exclude_self it asks for
    k + 1 neighbours and drops the first (itself, or a duplicate at distance 0:
    the same multiset of distances as the unsharded search).
    """
    queries, refs = lax.stop_gradient(queries), lax.stop_gradient(refs)
    if mesh is None:
        return _knn_search(
            queries, refs, k=k, norm=norm, exclude_self=exclude_self, with_rows=with_rows
        )
    num = k + exclude_self

    def local(q: Array, r: Array) -> tuple[Array, Array | None]:
        return _knn_search(q, r, k=num, norm=norm, exclude_self=False, with_rows=with_rows)

    dist, rows = _over_rows(local, mesh, [queries], [refs])
    return dist[:, num - k :], (rows[:, num - k :] if with_rows else None)


def _over_rows(fn, mesh: Mesh, rowed: list[Array], shared: list[Array]) -> Any:
    """fn(*rowed, *shared) with the rows (axis 0) of `rowed` split over the mesh's devices.

    The rows are padded (repeating the last) to a multiple of the number of
    devices, `jax.shard_map` runs fn on each device's rows with `shared`
    replicated, and the padding is dropped from every output. fn must treat its
    rows independently (a row's result depends only on that row and `shared`).
    """
    m = rowed[0].shape[0]
    pad = -(-m // mesh.size) * mesh.size - m
    rows, replicated = PartitionSpec(mesh.axis_names), PartitionSpec()
    rowed = [
        jax.device_put(
            jnp.pad(a, [(0, pad)] + [(0, 0)] * (a.ndim - 1), mode="edge"),
            NamedSharding(mesh, rows),
        )
        for a in rowed
    ]
    shared = [jax.device_put(a, NamedSharding(mesh, replicated)) for a in shared]
    out = jax.shard_map(
        fn,
        mesh=mesh,
        in_specs=(*[rows] * len(rowed), *[replicated] * len(shared)),
        out_specs=rows,
        check_vma=False,
    )(*rowed, *shared)
    # Gather the rows (replicate) before dropping the padding.
    return jax.tree.map(lambda v: jax.device_put(v, NamedSharding(mesh, replicated))[:m], out)


# The kernel and the counts are jitted (with their static configuration), so that
# an eager call of an estimator reuses their compiled code instead of re-tracing
# the loops; under a user's jit they are inlined as usual.
@functools.partial(jax.jit, static_argnames=("k", "norm", "exclude_self", "with_rows"))
def _knn_search(
    queries: Array,
    refs: Array,
    *,
    k: int,
    norm: str,
    exclude_self: bool,
    with_rows: bool = False,
) -> tuple[Array, Array | None]:
    """Exact k nearest references of every query.

    Args:
      queries: (m, D) query points.
      refs: (n, D) reference points (the same array as queries when exclude_self).
      k: number of neighbours, static; k <= n (k <= n - 1 when exclude_self).
      norm: "max" or "euclidean".
      exclude_self: leave out the query itself (queries is refs): the k nearest
        *other* points, as a multiset of distances.
      with_rows: also return the rows of the neighbours (else None).

    Returns:
      dist: (m, k) ascending kernel distances (squared for the Euclidean norm).
      rows: (m, k) int32 rows of refs at those distances, or None. Ties come in
        any order; with exact duplicates the row of the query itself may stand
        for one of its duplicates (same distance 0).

    Memory: O((m + n) · tile) beyond the inputs. No gradient flows through the
    search; callers recompute the selected distances from the rows.
    """
    queries = lax.stop_gradient(queries)
    refs = lax.stop_gradient(refs)
    d = queries.shape[1]
    num = k + exclude_self  # a query meets itself at distance 0: drop the first
    if d > _TREE_MAX_DIM:
        dist, rows = _knn_tiles(queries.T, refs.T, k=num, norm=norm, with_rows=with_rows)
    elif d == 2 and exclude_self and refs.shape[0] <= _WINDOW_MAX_N:
        dist, rows = _knn_window(refs, k=num, norm=norm, with_rows=with_rows)
    else:
        dist, rows = _knn_tree(
            queries, refs, k=num, norm=norm, same=exclude_self, with_rows=with_rows
        )
    return dist[:, num - k :], (rows[:, num - k :] if with_rows else None)


def _knn_tree(
    queries: Array, refs: Array, *, k: int, norm: str, same: bool, with_rows: bool
) -> tuple[Array, Array | None]:
    """Partition pass, then brute force for the uncertified queries."""
    m = queries.shape[0]
    ref_tree = _build_tree(refs)
    query_tree = ref_tree if same else _build_tree(queries)
    # Query groups: each leaf split in _QUERY_SPLIT (smaller boxes need fewer candidates).
    d, num_leaves, size = query_tree.points.shape
    num_groups = num_leaves * _QUERY_SPLIT
    points = query_tree.points.reshape(d, num_groups, size // _QUERY_SPLIT)
    lo, hi = _bounds(points, query_tree.valid.reshape(num_groups, -1))
    number = jnp.arange(num_groups) // _QUERY_SPLIT  # the leaf each group belongs to
    batch = min(_LEAF_BATCH, num_groups)
    batches = -(-num_groups // batch)

    def batched(v: Array, axis: int) -> Array:  # (..., G, ...) -> (batches, ..., batch, ...)
        v = jnp.moveaxis(v, axis, 0)
        v = jnp.pad(v, [(0, batches * batch - num_groups)] + [(0, 0)] * (v.ndim - 1), mode="edge")
        return jnp.moveaxis(v.reshape(batches, batch, *v.shape[1:]), 1, axis + 1)

    def ordered(v: Array) -> Array:  # (batches, k, batch, Q) -> (m, k), original order
        v = jnp.moveaxis(v, 1, 3).reshape(-1, v.shape[-1], k)[:num_groups]
        return _unpermute(v, query_tree.index, m)

    groups = (batched(points, 1), batched(number, 0), batched(lo, 1), batched(hi, 1))
    dist, rows, ok = lax.map(
        lambda g: _knn_leaves(g, ref_tree, k=k, norm=norm, own=same, with_rows=with_rows),
        groups,
    )
    ok = _unpermute(ok.reshape(-1, ok.shape[-1])[:num_groups], query_tree.index, m)
    return _knn_fallback(
        queries.T,
        refs.T,
        ordered(dist),
        ordered(rows) if with_rows else None,
        ~ok,
        k=k,
        norm=norm,
    )


def _sorted_with_bounds(v: Array) -> tuple[Array, Array, Array]:
    """Order of the values v (n,) by one integer sort, and bounds of the values along it.

    The row index is packed into the low bits of the sort key (as in `_orders`),
    so the order is exact up to those bits: position p holds a value within
    [lower[p], upper[p]], the float range of its truncated key, and both bounds
    are nondecreasing in p (they come from the sorted keys). That is all a
    window's certificate needs (`_window_pass`).

    Returns order (n,) int32, lower (n,), upper (n,).
    """
    n = v.shape[0]
    key = _sort_key(v)
    bits = max(1, (n - 1).bit_length())
    low = (1 << bits) - 1
    packed = jnp.sort(((key >> bits) << bits) | jnp.arange(n, dtype=key.dtype))
    start = (packed >> bits) << bits
    return (
        (packed & low).astype(jnp.int32),
        _from_sort_key(start, v.dtype),
        _from_sort_key(start | low, v.dtype),
    )


def _window_pass(
    x: Array, axis: int, *, k: int, norm: str, with_rows: bool
) -> tuple[Array, Array | None, Array]:
    """k nearest of each point of x (n, D) among the `_WINDOW` points on each side of it
    in the sorted order of coordinate `axis`, the point itself included.

    A point beyond the window on the upper side has that coordinate >=
    lower[p + W + 1] (`_sorted_with_bounds`), so its distance to query p is at
    least the gap, and likewise below. A query whose k-th distance is <= the
    smaller gap is certified: no point outside the window is closer (rounding is
    monotone, as for the boxes).

    A scan over `_WINDOW_STEP` offsets at a time: each step gets the sorted points
    shifted by its first offset (above and below) and takes static slices of them,
    which XLA fuses into one vectorized loop over the queries. (All the offsets
    unrolled at once gave XLA:CPU a fusion it split and merged into the gathers
    below, 5-10x slower.)

    Returns distances and rows (n, k) and the certificates (n,), in the original order.
    """
    n, d = x.shape
    w, step = _WINDOW, _WINDOW_STEP
    order, lower, upper = _sorted_with_bounds(x[:, axis])
    q = x[order].T  # (D, n) along the order
    padded = jnp.pad(q, ((0, 0), (w, w)), constant_values=jnp.inf)
    # Step c covers the offsets ±(c · step + u), u = 1 .. step: slice [u, u + n) of
    # `above[c]` and [step - u, step - u + n) of `below[c]`.
    starts = range(0, w, step)
    above = jnp.stack([padded[:, w + s : w + s + n + step] for s in starts])
    below = jnp.stack([padded[:, w - s - step : w - s + n] for s in starts])
    if with_rows:
        padded_rows = jnp.pad(order, (w, w))
        above_rows = jnp.stack([padded_rows[w + s : w + s + n + step] for s in starts])
        below_rows = jnp.stack([padded_rows[w - s - step : w - s + n] for s in starts])
    else:
        above_rows = below_rows = jnp.zeros((len(starts), 0), jnp.int32)

    def scan_step(carry, chunk):
        dist, rows = carry
        up, down, up_rows, down_rows = chunk
        for u in range(1, step + 1):
            for c, c_rows in (
                (up[:, u : u + n], up_rows[u : u + n]),
                (down[:, step - u : step - u + n], down_rows[step - u : step - u + n]),
            ):
                dist, rows = _insert(
                    dist, rows, _distance(q, c, norm), c_rows if with_rows else None
                )
        return (dist, rows), None

    dist = [jnp.zeros(n, x.dtype)] + [jnp.full(n, jnp.inf, x.dtype) for _ in range(k - 1)]
    rows = [order] + [jnp.zeros(n, jnp.int32)] * (k - 1) if with_rows else None
    (dist, rows), _ = lax.scan(scan_step, (dist, rows), (above, below, above_rows, below_rows))
    mine = q[axis]
    gap_up = jnp.pad(lower[w + 1 :], (0, min(n, w + 1)), constant_values=jnp.inf) - mine
    gap_down = mine - jnp.pad(
        upper[: max(0, n - w - 1)], (min(n, w + 1), 0), constant_values=-jnp.inf
    )
    gap = jnp.minimum(gap_up, gap_down)
    if norm == "euclidean":
        gap = gap * gap * (1 - 4 * d * jnp.finfo(x.dtype).eps)
    ok = dist[-1] <= gap
    rows = jnp.stack(rows, axis=1) if with_rows else None
    return _unpermute((jnp.stack(dist, axis=1), rows, ok), order, n)


def _knn_window(x: Array, *, k: int, norm: str, with_rows: bool) -> tuple[Array, Array | None]:
    """k nearest of every point of x (n, 2) among all of x, itself included (small n).

    A window pass along the sorted order of each coordinate (`_window_pass`); a
    query takes the result of a pass that certifies it, and the few that neither
    certifies go through the brute-force fallback. At n = 1,000 the two passes
    certify more than 99% of the queries and cost less than the partition's
    build, leaf selection and scan (docs/knn.md); the window a query needs grows
    like sqrt(n), hence `_WINDOW_MAX_N`.
    """
    dist, rows, ok = _window_pass(x, 0, k=k, norm=norm, with_rows=with_rows)
    dist_y, rows_y, ok_y = _window_pass(x, 1, k=k, norm=norm, with_rows=with_rows)
    return _knn_fallback(
        x.T,
        x.T,
        jnp.where(ok[:, None], dist, dist_y),
        jnp.where(ok[:, None], rows, rows_y) if with_rows else None,
        ~(ok | ok_y),
        k=k,
        norm=norm,
    )


def _knn_tiles(
    queries: Array, refs: Array, *, k: int, norm: str, with_rows: bool
) -> tuple[Array, Array | None]:
    """Brute-force kNN of queries (D, m) among refs (D, n), one query tile at a time."""
    d, m = queries.shape
    tiles = -(-m // _QUERY_TILE)
    m_pad = tiles * _QUERY_TILE
    q = jnp.pad(queries, ((0, 0), (0, m_pad - m))).reshape(d, tiles, _QUERY_TILE)
    dist, rows = lax.map(
        lambda t: _knn_brute(t, refs, k=k, norm=norm, with_rows=with_rows), jnp.moveaxis(q, 1, 0)
    )
    return dist.reshape(m_pad, k)[:m], (rows.reshape(m_pad, k)[:m] if with_rows else None)


# --------------------------------------------------------------------------- #
# Neighbour counts within a radius (the marginal spaces of KSG and CMI).
# --------------------------------------------------------------------------- #


def _first_true(predicate, n: int, m: int) -> Array:
    """For m monotone (False ... True) predicates over 0..n-1, the first True index (n if none)."""

    def step(_, bounds):
        lo, hi = bounds
        mid = (lo + hi) // 2
        found = predicate(jnp.minimum(mid, n - 1))
        active = lo < hi
        return jnp.where(active & ~found, mid + 1, lo), jnp.where(active & found, mid, hi)

    bounds = (jnp.zeros(m, jnp.int32), jnp.full(m, n, jnp.int32))
    return lax.fori_loop(0, max(1, n.bit_length()), step, bounds)[0]


def _count_within_1d(q: Array, radius: Array, x: Array, *, strict: bool) -> Array:
    """#{j : |x_j - q_i| < radius_i} (or <=) for 1-D queries q (m,) among x (n,).

    O(n log n): one sort, then two binary searches per point whose predicates are
    the very comparisons of the definition, fl(x_i - s_j) < r, so that the
    counts agree exactly with pairwise comparisons (a search on x_i ± r would
    round differently at the boundary, where KSG's k-th neighbour always lies).
    """
    s = _from_sort_key(jnp.sort(_sort_key(x)), x.dtype)
    n, m = x.shape[0], q.shape[0]
    if strict:
        lower = _first_true(lambda j: q - s[j] < radius, n, m)
        upper = _first_true(lambda j: s[j] - q >= radius, n, m)
    else:
        lower = _first_true(lambda j: q - s[j] <= radius, n, m)
        upper = _first_true(lambda j: s[j] - q > radius, n, m)
    return jnp.maximum(upper - lower, 0)  # an empty interval (radius <= 0, strict) is 0


@functools.partial(jax.jit, static_argnames=("strict", "mesh"))
def _count_within(x: Array, radius: Array, *, strict: bool, mesh: Mesh | None = None) -> Array:
    """#{j : ‖x_j - x_i‖_max < radius_i} (or <=) for x (n, D), the point itself included.

    D = 1: sorting (O(n log n)); D > 1: tiles of `_QUERY_TILE` points against
    all n (O(n²) time, O(n · tile) memory). With a mesh, the points i are split
    over its devices (`_over_rows`), x replicated.
    """
    x = lax.stop_gradient(x)
    radius = lax.stop_gradient(radius)

    def count(q: Array, r: Array, x: Array) -> Array:
        return _count_queries(q, r, x, strict=strict)

    if mesh is None:
        return count(x, radius, x)
    return _over_rows(count, mesh, [x, radius], [x])


def _count_queries(q: Array, radius: Array, x: Array, *, strict: bool) -> Array:
    """#{j : ‖x_j - q_i‖_max < radius_i} (or <=) for queries q (m, D) among x (n, D)."""
    m, d = q.shape
    if d == 1:
        return _count_within_1d(q[:, 0], radius, x[:, 0], strict=strict)
    tiles = -(-m // _QUERY_TILE)
    pad = tiles * _QUERY_TILE - m
    q = jnp.pad(q.T, ((0, 0), (0, pad))).reshape(d, tiles, _QUERY_TILE)
    r = jnp.pad(radius, (0, pad)).reshape(tiles, _QUERY_TILE)

    def count(tile):
        q, r = tile
        dist = _distance(q[:, :, None], x.T[:, None, :], "max")
        inside = dist < r[:, None] if strict else dist <= r[:, None]
        return jnp.sum(inside, axis=1, dtype=jnp.int32)

    return lax.map(count, (jnp.moveaxis(q, 1, 0), r)).reshape(-1)[:m]
