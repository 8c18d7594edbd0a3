"""Speed and memory of the kNN estimators against scikit-learn and scipy.

Cases (the continuous-estimators issue, items 1-3, plus the kernel's memory bound):

1. One 1-D mutual information at n = 5,000: `jax.jit` of
   `itjax.ksg_mutual_information` (with its tie-breaking jitter from a key, as
   scikit-learn always adds one, and on the variables scaled to unit variance,
   as scikit-learn scales them) against
   `sklearn.feature_selection.mutual_info_regression` (KD-tree), after compilation.
2. All 190 column pairs of a (2000, 20) matrix: one jitted itjax call, `jax.vmap`
   over the pairs, against the scikit-learn loop over the pairs.
3. The same 1-D MI for n from 1,000 to 100,000: time and peak memory (`scaling`).
4. Kozachenko–Leonenko entropy at n = 100,000 in d = 10 (the brute-force tiles
   of the kernel: an (n, n, d) tensor would take 400 GB) against a numpy
   implementation on scipy's cKDTree.

itjax runs in float32, the peers in float64. Every measurement runs in a fresh
process (`run_isolated`), so its peak RSS is its own; `baseline` measures a
process that only starts JAX, to read the extra memory of an itjax case. The
process peak includes XLA's compiler; `run_mib` is the run's own memory: the
peak resident set is reset (Linux `/proc/self/clear_refs`) once the inputs
exist and the itjax function is compiled, and `run_mib` is how far it rises
above the resident set of that moment during the measured calls (NaN where
`/proc` is missing).
"""

from __future__ import annotations

import math
import time

import numpy as np

from itjax.benchmarks._timing import SpeedRow, best_time, block, run_isolated

SUITE = "knn"
_MODULE = "itjax.benchmarks.speed.knn"
K = 3
SCALING_N = (1_000, 3_000, 10_000, 30_000, 100_000)


def _pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1), y = x + N(0, 1): I(X; Y) = log(2) / 2."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    return x, x + rng.standard_normal(n)


def _matrix(n: int, d: int) -> np.ndarray:
    """(n, d) columns sharing two latent factors: pairs with MI from 0 to about 1 nat."""
    rng = np.random.default_rng(1)
    latent = rng.standard_normal((n, 2))
    loadings = rng.uniform(-1.5, 1.5, (2, d))
    return latent @ loadings + rng.standard_normal((n, d))


def _status_mib(field: str) -> float:
    with open("/proc/self/status") as f:
        line = next(ln for ln in f if ln.startswith(field))
    return int(line.split()[1]) / 1024


def _reset_peak() -> float:
    """Reset this process's peak resident set to the current one; return it (MiB)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mib("VmRSS")
    except OSError:
        return math.nan


def _run_mib(before: float) -> float:
    """How far the peak resident set rose above `before` (MiB) since `_reset_peak`."""
    return _status_mib("VmHWM") - before if math.isfinite(before) else math.nan


def baseline() -> dict:
    """A process that imports itjax and runs one tiny jitted call: the runtime's own memory."""
    import jax
    import jax.numpy as jnp

    import itjax  # noqa: F401

    block(jax.jit(lambda a: a + 1)(jnp.ones(3)))
    return {}


# --------------------------------------------------------------------------- #
# itjax.
# --------------------------------------------------------------------------- #


def itjax_mi(n: int, repeat: int) -> dict:
    """Best seconds of one jitted 1-D KSG MI (jitter included), and its compile time."""
    import jax
    import jax.numpy as jnp

    import itjax

    x, y = (jnp.asarray(v, jnp.float32) for v in _pair(n))
    key = jax.random.key(0)

    def mi(x, y, key):  # scaled to unit variance first, as scikit-learn does
        return itjax.ksg_mutual_information(x / jnp.std(x), y / jnp.std(y), k=K, key=key)

    fn = jax.jit(mi)
    start = time.perf_counter()
    fn = fn.lower(x, y, key).compile()
    compile_s = time.perf_counter() - start
    before = _reset_peak()
    value = float(fn(x, y, key))
    seconds = best_time(fn, x, y, key, repeat=repeat)
    return {"seconds": seconds, "compile_s": compile_s, "mi": value, "run_mib": _run_mib(before)}


def itjax_pairs(n: int, d: int, repeat: int) -> dict:
    """All d (d - 1) / 2 column pairs in one jitted call (vmap over pairs)."""
    import jax
    import jax.numpy as jnp

    import itjax

    data = jnp.asarray(_matrix(n, d), jnp.float32)
    i, j = np.triu_indices(d, 1)
    keys = jax.random.split(jax.random.key(0), len(i))

    def all_pairs(data, keys):
        data = data / jnp.std(data, axis=0)  # unit variance, as scikit-learn
        xs, ys = data.T[i], data.T[j]
        return jax.vmap(lambda x, y, key: itjax.ksg_mutual_information(x, y, k=K, key=key))(
            xs, ys, keys
        )

    fn = jax.jit(all_pairs)
    start = time.perf_counter()
    fn = fn.lower(data, keys).compile()
    compile_s = time.perf_counter() - start
    before = _reset_peak()
    values = np.asarray(fn(data, keys)).tolist()
    seconds = best_time(fn, data, keys, repeat=repeat)
    return {"seconds": seconds, "compile_s": compile_s, "mi": values, "run_mib": _run_mib(before)}


def itjax_entropy(n: int, d: int) -> dict:
    """One jitted Kozachenko–Leonenko entropy of N(0, I_d) samples (Euclidean), run once."""
    import jax
    import jax.numpy as jnp

    import itjax

    x = jax.random.normal(jax.random.key(0), (n, d), jnp.float32)
    fn = jax.jit(lambda x: itjax.kozachenko_leonenko_entropy(x, k=K))
    start = time.perf_counter()
    fn = fn.lower(x).compile()
    compile_s = time.perf_counter() - start
    before = _reset_peak()
    start = time.perf_counter()
    value = float(block(fn(x)))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "compile_s": compile_s, "h": value, "run_mib": _run_mib(before)}


# --------------------------------------------------------------------------- #
# Peers.
# --------------------------------------------------------------------------- #


def sklearn_mi(n: int, repeat: int) -> dict:
    """Best seconds of `mutual_info_regression` (KD-tree, its own jitter) on one pair."""
    from sklearn.feature_selection import mutual_info_regression
    from sklearn.feature_selection._mutual_info import _compute_mi_cc

    x, y = _pair(n)
    fn = lambda: mutual_info_regression(x[:, None], y, n_neighbors=K, random_state=0)  # noqa: E731
    before = _reset_peak()
    value = float(fn()[0])
    seconds = best_time(fn, repeat=repeat)
    return {
        "seconds": seconds,
        "mi": value,
        "mi_cc": float(_compute_mi_cc(x, y, K)),
        "run_mib": _run_mib(before),
    }


def sklearn_pair_loop(data: np.ndarray):
    """The scikit-learn loop over the column pairs a < b of data: a function returning their MIs."""
    from sklearn.feature_selection import mutual_info_regression

    i, j = np.triu_indices(data.shape[1], 1)

    def loop() -> list[float]:
        return [
            float(
                mutual_info_regression(data[:, [a]], data[:, b], n_neighbors=K, random_state=0)[0]
            )
            for a, b in zip(i, j, strict=True)
        ]

    return loop


def sklearn_pairs(n: int, d: int, repeat: int) -> dict:
    """The scikit-learn loop over the column pairs."""
    loop = sklearn_pair_loop(_matrix(n, d))
    before = _reset_peak()
    values = loop()
    seconds = best_time(loop, repeat=repeat, warmup=0)
    return {"seconds": seconds, "mi": values, "run_mib": _run_mib(before)}


def scipy_entropy(n: int, d: int) -> dict:
    """Kozachenko–Leonenko entropy with scipy's cKDTree (k-th neighbour distances), run once."""
    from scipy.spatial import cKDTree
    from scipy.special import digamma, gammaln

    x = np.asarray(np.random.default_rng(0).standard_normal((n, d)))
    before = _reset_peak()
    start = time.perf_counter()
    dist, _ = cKDTree(x).query(x, K + 1)
    log_ball = 0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1)
    h = digamma(n) - digamma(K) + log_ball + d * np.mean(np.log(dist[:, -1]))
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "h": float(h), "run_mib": _run_mib(before)}


# --------------------------------------------------------------------------- #
# The suite.
# --------------------------------------------------------------------------- #


def scaling(*, quick: bool = False) -> list[dict]:
    """1-D KSG MI against mutual_info_regression for each n: seconds and peak MiB."""
    sizes = SCALING_N[:3] if quick else SCALING_N
    out = []
    for n in sizes:
        repeat = 3 if n <= 10_000 else 2
        mine = run_isolated(_MODULE, "itjax_mi", {"n": n, "repeat": repeat})
        theirs = run_isolated(_MODULE, "sklearn_mi", {"n": n, "repeat": repeat})
        out.append({"n": n, "itjax": mine, "sklearn": theirs})
    return out


def _memory_note(mine: dict, theirs: dict, base: float) -> str:
    return (
        f"run's own memory {mine['run_mib']:.0f} MiB (itjax) vs {theirs['run_mib']:.0f} MiB; "
        f"itjax process {mine['peak_rss_mib'] - base:.0f} MiB over a bare JAX process "
        "(compiler included)"
    )


def run(*, quick: bool = False, points: list[dict] | None = None) -> list[SpeedRow]:
    """Cases 1-4 (quick: smaller pair matrix and entropy sizes).

    `points`, when given, receives the scaling measurements (`scaling`), for plotting.
    """
    base = run_isolated(_MODULE, "baseline", {})["peak_rss_mib"]
    rows = []

    n = 5_000
    mine = run_isolated(_MODULE, "itjax_mi", {"n": n, "repeat": 10})
    theirs = run_isolated(_MODULE, "sklearn_mi", {"n": n, "repeat": 10})
    rows.append(
        SpeedRow.measured(
            suite=SUITE,
            case=f"1-D KSG MI, n = {n:,}, k = {K}, jitted, float32",
            peer="sklearn mutual_info_regression (KD-tree)",
            mine=mine,
            theirs=theirs,
            notes=f"itjax compile {mine['compile_s']:.1f} s; MI {mine['mi']:.4f} vs "
            f"{theirs['mi']:.4f} (true {math.log(2) / 2:.4f}); {_memory_note(mine, theirs, base)}",
        )
    )

    n, d = (500, 20) if quick else (2_000, 20)
    mine = run_isolated(_MODULE, "itjax_pairs", {"n": n, "d": d, "repeat": 3})
    theirs = run_isolated(_MODULE, "sklearn_pairs", {"n": n, "d": d, "repeat": 2})
    gap = np.max(np.abs(np.maximum(mine["mi"], 0) - np.asarray(theirs["mi"])))
    rows.append(
        SpeedRow.measured(
            suite=SUITE,
            case=f"all {d * (d - 1) // 2} column pairs of ({n:,}, {d}), one call (vmap)",
            peer="sklearn mutual_info_regression, loop over pairs",
            mine=mine,
            theirs=theirs,
            notes=f"itjax compile {mine['compile_s']:.1f} s; largest MI difference {gap:.1e} "
            "(itjax clamped at 0 as scikit-learn; independent jitters); "
            + _memory_note(mine, theirs, base),
        )
    )

    measured = scaling(quick=quick)
    if points is not None:
        points.extend(measured)
    for point in measured:
        n, mine, theirs = point["n"], point["itjax"], point["sklearn"]
        rows.append(
            SpeedRow.measured(
                suite=SUITE,
                case=f"1-D KSG MI, n = {n:,} (scaling)",
                peer="sklearn mutual_info_regression (KD-tree)",
                mine=mine,
                theirs=theirs,
                notes=f"itjax compile {mine['compile_s']:.1f} s; "
                + _memory_note(mine, theirs, base),
            )
        )

    n, d = (20_000, 10) if quick else (100_000, 10)
    mine = run_isolated(_MODULE, "itjax_entropy", {"n": n, "d": d}, timeout=3600)
    theirs = run_isolated(_MODULE, "scipy_entropy", {"n": n, "d": d}, timeout=3600)
    rows.append(
        SpeedRow.measured(
            suite=SUITE,
            case=f"Kozachenko-Leonenko entropy, n = {n:,}, d = {d} (brute-force tiles)",
            peer="numpy + scipy cKDTree",
            mine=mine,
            theirs=theirs,
            notes=f"{_memory_note(mine, theirs, base)}; an (n, n, d) float32 tensor would "
            f"take {n * n * d * 4 / 2**30:.0f} GiB; H {mine['h']:.4f} vs {theirs['h']:.4f} "
            f"(true {0.5 * d * math.log(2 * math.pi * math.e):.4f}); itjax compile "
            f"{mine['compile_s']:.1f} s; run once",
        )
    )
    return rows
