"""Speed of the discrete entropy estimators on a batch of histograms.

10,000 count vectors of K = 1000 bins, each the histogram of N = 500 draws from a
Zipf pmf (p_i ∝ 1/i): the undersampled, long-tailed case the bias-corrected
estimators are for. itjax runs `jax.jit` of each estimator on the whole float32
batch at once (and, in the last row, all eight estimators in one jitted call).
The peer is a Python loop over the histograms that applies the same formula to
one float64 row at a time with NumPy and scipy.special, as a user of the
NumPy/SciPy stack would write it (the O(K) counts formula for the jackknife, the
R package `entropy`'s code for Chao–Shen and James–Stein). For NSB the peer
integrates the same posterior with `scipy.integrate.quad` over xi, beta(xi) by
`scipy.optimize.brentq`; it takes tens of milliseconds per histogram, so it runs
on the first rows only and its time is scaled to the batch (a loop's cost is
linear in the rows), as the notes say.

Times are the best of several runs (itjax compile time excluded, in the notes);
each measurement runs in a fresh process (`run_isolated`), so its peak memory is
its own; an itjax process also holds the JAX runtime.
"""

from __future__ import annotations

import math
import time

import numpy as np

from itjax.benchmarks._timing import SpeedRow, best_time, block, run_isolated

SUITE = "discrete"
_MODULE = "itjax.benchmarks.speed.discrete"
ESTIMATORS = (
    "plugin",
    "miller_madow",
    "grassberger",
    "chao_shen",
    "jackknife",
    "james_stein",
    "dirichlet",
    "nsb",
)
SAMPLES = 500


def _data(n: int, k: int) -> np.ndarray:
    """(n, k) integer histograms of SAMPLES draws from p_i ∝ 1/i."""
    p = 1 / np.arange(1, k + 1)
    return np.random.default_rng(0).multinomial(SAMPLES, p / p.sum(), size=n)


# --------------------------------------------------------------------------- #
# itjax.
# --------------------------------------------------------------------------- #


def itjax_case(estimator: str, n: int, k: int, repeat: int) -> dict:
    """Best seconds of the jitted estimator over the whole batch, and its compile time."""
    import jax
    import jax.numpy as jnp

    import itjax

    counts = jnp.asarray(_data(n, k), jnp.float32)
    if estimator == "all":
        functions = [getattr(itjax, f"{name}_entropy") for name in ESTIMATORS]
        fn = jax.jit(lambda c: [f(c) for f in functions])
    else:
        fn = jax.jit(getattr(itjax, f"{estimator}_entropy"))
    start = time.perf_counter()
    fn = fn.lower(counts).compile()
    compile_s = time.perf_counter() - start
    out = block(fn(counts))
    first = [float(x) for x in np.asarray(jax.tree.leaves(out)[0])[:5]]
    return {"seconds": best_time(fn, counts, repeat=repeat), "compile_s": compile_s, "first": first}


# --------------------------------------------------------------------------- #
# The peer: one histogram at a time with NumPy / scipy.special.
# --------------------------------------------------------------------------- #


def _np_plugin(n: np.ndarray) -> float:
    from scipy.special import xlogy

    p = n / n.sum()
    return float(-xlogy(p, p).sum())


def _np_miller_madow(n: np.ndarray) -> float:
    return _np_plugin(n) + (np.count_nonzero(n) - 1) / (2 * n.sum())


def _np_grassberger(n: np.ndarray) -> float:
    from scipy.special import digamma

    k = n[n > 0]
    g = digamma(k) + 0.5 * (-1.0) ** k * (digamma((k + 1) / 2) - digamma(k / 2))
    total = n.sum()
    return float(math.log(total) - (k * g).sum() / total)


def _np_chao_shen(n: np.ndarray) -> float:
    yx = n[n > 0]
    total = yx.sum()
    f1 = np.count_nonzero(yx == 1)
    if f1 == total:
        f1 = total - 1
    pa = (1 - f1 / total) * yx / total
    return float(-(pa * np.log(pa) / (1 - (1 - pa) ** total)).sum())


def _np_jackknife(n: np.ndarray) -> float:
    from scipy.special import xlogy

    total = n.sum()
    s = xlogy(n, n).sum()
    h = math.log(total) - s / total
    m = n[n > 0]
    loo = math.log(total - 1) - (s - xlogy(m, m) + xlogy(m - 1, m - 1)) / (total - 1)
    return float(total * h - (total - 1) / total * (m * loo).sum())


def _np_james_stein(n: np.ndarray) -> float:
    from scipy.special import xlogy

    total = n.sum()
    u = n / total
    target = 1 / len(n)
    msp = ((u - target) ** 2).sum()
    lam = 1.0 if msp == 0 or total <= 1 else (1 - (u**2).sum()) / ((total - 1) * msp)
    lam = min(max(lam, 0.0), 1.0)
    p = lam * target + (1 - lam) * u
    return float(-xlogy(p, p).sum())


def _np_dirichlet(n: np.ndarray, a: float = 0.5) -> float:
    from scipy.special import digamma

    alpha = n + a
    total = alpha.sum()
    return float(digamma(total + 1) - (alpha * digamma(alpha + 1)).sum() / total)


def _np_nsb(n: np.ndarray) -> float:
    """NSB posterior mean by scipy.integrate.quad over xi in (0, log K)."""
    import warnings

    from scipy import integrate, optimize
    from scipy.special import digamma, gammaln

    k, total = len(n), n.sum()
    seen = n[n > 0]

    def log_evidence(b):
        return gammaln(k * b) - gammaln(total + k * b) + (gammaln(seen + b) - gammaln(b)).sum()

    def beta(xi):
        f = lambda t: digamma(k * math.exp(t) + 1) - digamma(math.exp(t) + 1) - xi  # noqa: E731
        return math.exp(optimize.brentq(f, -50, 50, xtol=1e-12))

    def mean_h(b):
        a = n + b
        big = a.sum()
        return digamma(big + 1) - (a * digamma(a + 1)).sum() / big

    top = math.log(k)
    peak = optimize.minimize_scalar(
        lambda x: -log_evidence(beta(x)), bounds=(1e-6, top - 1e-6), method="bounded"
    )
    best = -peak.fun

    def weight(x):
        return math.exp(log_evidence(beta(x)) - best)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        z = integrate.quad(weight, 0, top, points=[peak.x])[0]
        m = integrate.quad(lambda x: weight(x) * mean_h(beta(x)), 0, top, points=[peak.x])[0]
    return m / z


_NUMPY = {name: globals()[f"_np_{name}"] for name in ESTIMATORS}
_LOOP_ROWS = {"nsb": 20}  # rows the peer loop runs before scaling to the batch


def numpy_case(estimator: str, n: int, k: int, repeat: int) -> dict:
    """Best seconds of the Python loop over n rows (scaled to n where it ran on fewer)."""
    counts = _data(n, k).astype(np.float64)
    names = ESTIMATORS if estimator == "all" else (estimator,)
    seconds, timed_rows, values = 0.0, n, []
    for name in names:
        rows = min(n, _LOOP_ROWS.get(name, n))
        subset, f = counts[:rows], _NUMPY[name]
        seconds += best_time(lambda s=subset, f=f: [f(c) for c in s], repeat=repeat) * n / rows
        timed_rows = min(timed_rows, rows)
        values = [f(c) for c in counts[:5]]
    return {"seconds": seconds, "rows": timed_rows, "first": values}


# --------------------------------------------------------------------------- #
# The suite.
# --------------------------------------------------------------------------- #


def run(*, quick: bool = False) -> list[SpeedRow]:
    """Each estimator on (10000, 1000) float32 counts (quick: (500, 1000)), and all in one call."""
    n, k = (500, 1000) if quick else (10000, 1000)
    rows = []
    for estimator in (*ESTIMATORS, "all"):
        repeat = 1 if estimator in ("nsb", "all") else (3 if quick else 10)
        args = dict(estimator=estimator, n=n, k=k, repeat=repeat)
        mine = run_isolated(_MODULE, "itjax_case", args, timeout=3600)
        theirs = run_isolated(_MODULE, "numpy_case", args, timeout=3600)
        if estimator != "all":  # the same formula on the same rows
            np.testing.assert_allclose(mine["first"], theirs["first"], rtol=1e-4)
        notes = [f"itjax compile {mine['compile_s']:.1f} s"]
        if estimator in ("nsb", "all"):
            notes.append(f"itjax {1e3 * mine['seconds'] / n:.3g} ms per histogram")
        if theirs["rows"] < n:
            notes.append(
                f"peer NSB loop timed on {theirs['rows']} rows, scaled to {n}: "
                f"{1e3 * theirs['seconds'] / n:.3g} ms per histogram"
                if estimator == "nsb"
                else f"peer NSB part timed on {theirs['rows']} rows and scaled"
            )
        name = "all eight estimators in one call" if estimator == "all" else f"{estimator}_entropy"
        rows.append(
            SpeedRow.measured(
                suite=SUITE,
                case=f"{name}, ({n}, {k}) float32 counts, jitted",
                peer=f"Python loop over rows, NumPy/SciPy{' quad' if estimator == 'nsb' else ''}",
                mine=mine,
                theirs=theirs,
                notes="; ".join(notes),
            )
        )
    return rows
