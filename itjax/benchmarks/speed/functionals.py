"""Speed of the exact functionals: entropy, cross-entropy and KL over a batch of pmfs.

A (10000, 1000) float32 batch of pmfs (rows drawn from a flat Dirichlet, so no
zeros), reduced along the last axis. itjax runs `jax.jit(itjax.entropy)` (and
`cross_entropy`, `kl_divergence`) on the device arrays; the peers run on the same
values as NumPy arrays:

- scipy: `scipy.stats.entropy(p, axis=1)` for H and `scipy.stats.entropy(p, q,
  axis=1)` for KL (it normalizes the rows first, which itjax does not);
  `-scipy.special.xlogy(p, q).sum(1)` for the cross-entropy (scipy has no
  cross-entropy function).
- NumPy: the one-line expressions `-(p * log p).sum(1)`, `-(p * log q).sum(1)`,
  `(p * log(p / q)).sum(1)` (valid here only because the data has no zeros).

Times are the best of several runs; itjax's compile time is excluded and given
in the notes. Each measurement runs in a fresh process (`run_isolated`), so its
peak memory is its own; an itjax process also holds the JAX runtime.
"""

from __future__ import annotations

import time

import numpy as np

from itjax.benchmarks._timing import SpeedRow, best_time, block, run_isolated

SUITE = "functionals"
_MODULE = "itjax.benchmarks.speed.functionals"
QUANTITIES = ("entropy", "cross_entropy", "kl_divergence")


def _data(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    q = rng.dirichlet(np.ones(k), size=n).astype(np.float32)
    return p, q


def itjax_case(quantity: str, n: int, k: int, repeat: int) -> dict:
    """Best seconds of the jitted itjax function, and its compile time."""
    import jax
    import jax.numpy as jnp

    import itjax

    p, q = (jnp.asarray(x) for x in _data(n, k))
    function = getattr(itjax, quantity)
    fn = jax.jit(function) if quantity == "entropy" else jax.jit(lambda p, q: function(p, q))
    args = (p,) if quantity == "entropy" else (p, q)
    start = time.perf_counter()
    block(fn(*args))
    compile_s = time.perf_counter() - start
    return {"seconds": best_time(fn, *args, repeat=repeat), "compile_s": compile_s}


def scipy_case(quantity: str, n: int, k: int, repeat: int) -> dict:
    import scipy.special
    import scipy.stats

    p, q = _data(n, k)
    fns = {
        "entropy": lambda: scipy.stats.entropy(p, axis=1),
        "cross_entropy": lambda: -scipy.special.xlogy(p, q).sum(1),
        "kl_divergence": lambda: scipy.stats.entropy(p, q, axis=1),
    }
    return {"seconds": best_time(fns[quantity], repeat=repeat)}


def numpy_case(quantity: str, n: int, k: int, repeat: int) -> dict:
    p, q = _data(n, k)
    fns = {
        "entropy": lambda: -(p * np.log(p)).sum(1),
        "cross_entropy": lambda: -(p * np.log(q)).sum(1),
        "kl_divergence": lambda: (p * np.log(p / q)).sum(1),
    }
    return {"seconds": best_time(fns[quantity], repeat=repeat)}


_PEERS = {
    "entropy": ("scipy.stats.entropy", "NumPy -(p log p).sum"),
    "cross_entropy": ("-scipy.special.xlogy(p, q).sum", "NumPy -(p log q).sum"),
    "kl_divergence": ("scipy.stats.entropy(p, q)", "NumPy (p log(p/q)).sum"),
}


def run(*, quick: bool = False) -> list[SpeedRow]:
    """Entropy, cross-entropy and KL over a (10000, 1000) float32 batch (quick: 1000 rows)."""
    n, k = (1000, 1000) if quick else (10000, 1000)
    repeat = 5 if quick else 25
    rows = []
    for quantity in QUANTITIES:
        args = dict(quantity=quantity, n=n, k=k, repeat=repeat)
        mine = run_isolated(_MODULE, "itjax_case", args)
        for peer, function in zip(_PEERS[quantity], ("scipy_case", "numpy_case"), strict=True):
            theirs = run_isolated(_MODULE, function, args)
            rows.append(
                SpeedRow.measured(
                    suite=SUITE,
                    case=f"{quantity}, ({n}, {k}) float32, jitted",
                    peer=peer,
                    mine=mine,
                    theirs=theirs,
                    notes=f"itjax compile {mine['compile_s']:.2f} s",
                )
            )
    return rows
