"""Speed and memory of the batched statistics against scikit-learn loops.

Cases (the batched-statistics issue):

1. A permutation test of independence with 1,000 permutations of a KSG mutual
   information (k = 3) at n = 1,000: one jitted `itjax.permutation_test` (the
   permutations vectorized) against a Python loop calling scikit-learn's
   `mutual_info_regression` on the observed pairing and on 1,000 permuted y.
2. All 190 column-pair KSG MIs of a (2000, 20) matrix and all 1,225 of a
   (5000, 50) matrix: one jitted `itjax.pairwise_mutual_information(method="ksg")`
   against the scikit-learn loop over the pairs.
3. Scaling of the sharded pairwise MI over a mesh of 1, 2, 4 and 8 host
   devices (KSG on the (2000, 20) matrix, the Gaussian copula on the (5000, 50)
   one), each in a fresh process started with
   `XLA_FLAGS=--xla_force_host_platform_device_count=N`; the peer of each row is
   the same call on a mesh of one device, so the ratio is the speed-up. Forced
   host devices share the machine's cores: they show what the sharding costs
   and gains on one CPU, not what separate accelerators would.

itjax runs in float32 without jitter (the data are continuous: no ties), the
peers in float64 with scikit-learn's own jitter; every column is standardized
once beforehand (scikit-learn divides by the standard deviation itself), so both
sides see the same data. scikit-learn clamps each estimate at 0 and itjax does
not: the notes compare max(itjax, 0) with scikit-learn. Every measurement runs in
a fresh process (`run_isolated`), so its peak RSS is its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager

import numpy as np

from itjax.benchmarks._timing import SpeedRow, best_time, block, run_isolated
from itjax.benchmarks.speed.knn import K, sklearn_pair_loop
from itjax.benchmarks.speed.knn import _matrix as knn_matrix

SUITE = "stats"
_MODULE = "itjax.benchmarks.speed.stats"
DEVICES = (1, 2, 4, 8)


def _pair(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x ~ N(0, 1), y = x + N(0, 1) (I(X; Y) = log(2) / 2), each standardized."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    y = x + rng.standard_normal(n)
    return x / x.std(), y / y.std()


def _matrix(n: int, d: int) -> np.ndarray:
    """The kNN suite's matrix (two shared latent factors), each column standardized."""
    data = knn_matrix(n, d)
    return data / data.std(axis=0)


@contextmanager
def _host_devices(count: int):
    """Child processes started inside see `count` forced host devices."""
    before = os.environ.get("XLA_FLAGS")
    flag = f"--xla_force_host_platform_device_count={count}"
    os.environ["XLA_FLAGS"] = f"{before} {flag}" if before else flag
    try:
        yield
    finally:
        if before is None:
            del os.environ["XLA_FLAGS"]
        else:
            os.environ["XLA_FLAGS"] = before


# --------------------------------------------------------------------------- #
# itjax.
# --------------------------------------------------------------------------- #


def itjax_permutation(n: int, num: int, repeat: int) -> dict:
    """Best seconds of one jitted permutation test of KSG MI, and its compile time."""
    import functools

    import jax
    import jax.numpy as jnp

    import itjax

    x, y = (jnp.asarray(v, jnp.float32) for v in _pair(n))
    estimator = functools.partial(itjax.ksg_mutual_information, k=K)
    fn = jax.jit(
        lambda key, x, y: itjax.permutation_test(key, estimator, x, y, num_permutations=num)
    )
    keys = iter(jax.random.split(jax.random.key(0), repeat + 2))
    start = time.perf_counter()
    fn = fn.lower(next(keys), x, y).compile()
    compile_s = time.perf_counter() - start
    result = block(fn(next(keys), x, y))
    best = float("inf")
    for key in keys:  # a fresh key each run (best_time would reuse one)
        start = time.perf_counter()
        block(fn(key, x, y))
        best = min(best, time.perf_counter() - start)
    null = np.asarray(result.null)
    single = jax.jit(estimator)
    return {
        "seconds": best,
        "single_s": best_time(single, x, y, repeat=20),
        "compile_s": compile_s,
        "statistic": float(result.statistic),
        "p_value": float(result.p_value),
        "null_mean": float(null.mean()),
        "null_sd": float(null.std()),
    }


def itjax_pairwise(n: int, d: int, repeat: int, devices: int = 0, method: str = "ksg") -> dict:
    """All d (d - 1) / 2 column pairs in one jitted call; `devices` > 0: on a mesh of them."""
    import jax
    import jax.numpy as jnp

    import itjax

    if devices and jax.device_count() != devices:
        raise RuntimeError(f"expected {devices} host devices, found {jax.device_count()}")
    mesh = jax.make_mesh((devices,), ("batch",)) if devices else None
    data = jnp.asarray(_matrix(n, d), jnp.float32)
    config = {"k": K} if method == "ksg" else {}
    fn = jax.jit(
        lambda data: itjax.pairwise_mutual_information(data, method=method, mesh=mesh, **config)
    )
    start = time.perf_counter()
    fn = fn.lower(data).compile()
    compile_s = time.perf_counter() - start
    matrix = np.asarray(fn(data))
    seconds = best_time(fn, data, repeat=repeat)
    i, j = np.triu_indices(d, 1)
    return {"seconds": seconds, "compile_s": compile_s, "mi": matrix[i, j].tolist()}


# --------------------------------------------------------------------------- #
# Peers.
# --------------------------------------------------------------------------- #


def sklearn_permutation(n: int, num: int, repeat: int) -> dict:
    """The same test as a Python loop over `mutual_info_regression` (KD-tree KSG)."""
    from sklearn.feature_selection import mutual_info_regression

    x, y = _pair(n)
    column = x[:, None]

    def mi(y: np.ndarray, seed: int) -> float:
        return float(mutual_info_regression(column, y, n_neighbors=K, random_state=seed)[0])

    def test(seed: int) -> tuple[float, np.ndarray]:
        rng = np.random.default_rng(seed)
        statistic = mi(y, 0)
        null = np.array([mi(y[rng.permutation(n)], j + 1) for j in range(num)])
        return statistic, null

    best = float("inf")
    for seed in range(repeat):
        start = time.perf_counter()
        statistic, null = test(seed)
        best = min(best, time.perf_counter() - start)
    return {
        "seconds": best,
        "statistic": statistic,
        "p_value": (1 + int(np.sum(null >= statistic))) / (1 + num),
        "null_mean": float(null.mean()),
        "null_sd": float(null.std()),
    }


def sklearn_pairwise(n: int, d: int, repeat: int) -> dict:
    """The scikit-learn loop over the column pairs."""
    loop = sklearn_pair_loop(_matrix(n, d))
    start = time.perf_counter()
    values = loop()
    first = time.perf_counter() - start
    seconds = min(first, best_time(loop, repeat=repeat - 1, warmup=0)) if repeat > 1 else first
    return {"seconds": seconds, "mi": values}


# --------------------------------------------------------------------------- #
# The suite.
# --------------------------------------------------------------------------- #


def _gap(mine: list[float], theirs: list[float]) -> float:
    """Largest abs(max(itjax, 0) - sklearn) (scikit-learn clamps at 0)."""
    return float(np.max(np.abs(np.maximum(mine, 0.0) - np.asarray(theirs))))


def _failure(kwargs: dict) -> str:
    """Why `itjax_pairwise(**kwargs)` fails: the first XLA check or error line of its stderr.

    Run again in a child of its own (run_isolated keeps only the end of stderr,
    which for an XLA abort is the C++ stack trace).
    """
    code = f"import {_MODULE} as m, json, sys; m.itjax_pairwise(**json.loads(sys.argv[1]))"
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    lines = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
    for marker in ("Check failed", "Error"):
        for ln in lines:
            if marker in ln:
                return ln[ln.index(marker) :][:300].replace("|", "/")  # a table cell
    return f"exit status {proc.returncode}"


def scaling(*, quick: bool = False) -> list[dict]:
    """Sharded pairwise MI on meshes of 1, 2, 4, 8 forced host devices, per method.

    KSG on the (2000, 20) matrix and the Gaussian copula on the (5000, 50) one;
    a child that fails is recorded with its reason instead of stopping the suite.
    """
    cases = (("ksg", 500, 12), ("gaussian_copula", 1_000, 20))
    if not quick:
        cases = (("ksg", 2_000, 20), ("gaussian_copula", 5_000, 50))
    out = []
    for method, n, d in cases:
        for count in DEVICES[:2] if quick else DEVICES:
            kwargs = {"n": n, "d": d, "repeat": 5, "devices": count, "method": method}
            point = {"method": method, "devices": count, "n": n, "d": d}
            with _host_devices(count):
                try:
                    point.update(run_isolated(_MODULE, "itjax_pairwise", kwargs))
                except RuntimeError:
                    point["failed"] = _failure(kwargs)
            out.append(point)
    return out


def run(*, quick: bool = False) -> list[SpeedRow]:
    """Cases 1-3 (quick: 200 permutations, smaller matrices, 1 and 2 devices)."""
    rows = []

    n, num = 1_000, (200 if quick else 1_000)
    mine = run_isolated(_MODULE, "itjax_permutation", {"n": n, "num": num, "repeat": 3})
    theirs = run_isolated(
        _MODULE, "sklearn_permutation", {"n": n, "num": num, "repeat": 1 if quick else 2}
    )
    rows.append(
        SpeedRow.measured(
            suite=SUITE,
            case=f"permutation test, {num:,} permutations of KSG MI (k = {K}), n = {n:,}",
            peer="sklearn mutual_info_regression, Python loop over permutations",
            mine=mine,
            theirs=theirs,
            notes=f"itjax compile {mine['compile_s']:.1f} s; one itjax estimate "
            f"{1e3 * mine['seconds'] / (num + 1):.2f} ms in the batch, "
            f"{1e3 * mine['single_s']:.2f} ms alone; statistic {mine['statistic']:.4f} "
            f"vs {theirs['statistic']:.4f} (true {np.log(2) / 2:.4f}); p {mine['p_value']:.4f} "
            f"vs {theirs['p_value']:.4f}; null mean ± sd {mine['null_mean']:.4f} ± "
            f"{mine['null_sd']:.4f} vs {theirs['null_mean']:.4f} ± {theirs['null_sd']:.4f} "
            "(scikit-learn clamps at 0)",
        )
    )

    for n, d in ((500, 12), (1_000, 20)) if quick else ((2_000, 20), (5_000, 50)):
        mine = run_isolated(_MODULE, "itjax_pairwise", {"n": n, "d": d, "repeat": 2})
        theirs = run_isolated(_MODULE, "sklearn_pairwise", {"n": n, "d": d, "repeat": 1})
        rows.append(
            SpeedRow.measured(
                suite=SUITE,
                case=f"pairwise KSG MI, all {d * (d - 1) // 2:,} column pairs of ({n:,}, {d})",
                peer="sklearn mutual_info_regression, loop over pairs",
                mine=mine,
                theirs=theirs,
                notes=f"itjax compile {mine['compile_s']:.1f} s; largest abs. difference of "
                f"max(MI, 0) {_gap(mine['mi'], theirs['mi']):.1e}",
            )
        )

    points = scaling(quick=quick)
    for point in points:
        one = next(p for p in points if p["method"] == point["method"] and p["devices"] == 1)
        devices = f"{point['devices']} host device{'s' if point['devices'] > 1 else ''}"
        case = f"pairwise {point['method']} MI of ({point['n']:,}, {point['d']}), mesh of {devices}"
        peer = "itjax, mesh of 1 host device"
        if "failed" in point or "failed" in one:
            nan = float("nan")
            rows.append(
                SpeedRow(
                    SUITE,
                    case,
                    nan,
                    peer,
                    one.get("seconds", nan),
                    notes="failed: " + point.get("failed", one.get("failed", "")),
                )
            )
            continue
        gap = np.max(np.abs(np.subtract(point["mi"], one["mi"])))
        rows.append(
            SpeedRow.measured(
                suite=SUITE,
                case=case,
                peer=peer,
                mine=point,
                theirs=one,
                notes=f"ratio = speed-up; compile {point['compile_s']:.1f} s; largest abs. "
                f"difference from 1 device {gap:.1e}",
            )
        )
    return rows
