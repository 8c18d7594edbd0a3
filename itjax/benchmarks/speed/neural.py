"""Speed of neural MI estimation: one compiled `fit` against a Python training loop.

The peer is written here the way existing JAX estimators of mutual information
train a critic: a Python loop around a jitted optax step, a minibatch drawn each
step, a host sync per step to log the loss (`float(loss)`), and the held-out
evaluation run eagerly after the loop. It comes in two forms: the batch drawn as
existing JAX estimators draw it (`jax.random.choice(..., replace=False)` and two
gathers dispatched from Python every step), and a leaner loop that shuffles on
the host once per epoch. Both sides use the same critic (itjax's default),
optimizer, batch size, number of steps and data, and all draw minibatches without
replacement. itjax runs the same computation as
`jax.jit(fit)`: every step in one `lax.scan`, the held-out evaluation in the same
graph, no host round trip.

Cases: time per training step at batch 16 and batch 256, and 16 seeds vmapped in
one call against 16 sequential fits. Each case runs in a fresh process
(`run_isolated`) so that its peak memory is its own. Compile time is excluded
from the per-step times (best of several runs after a warm-up) and reported in
the notes.
"""

from __future__ import annotations

import math
import time

import numpy as np

from itjax.benchmarks._timing import SpeedRow, best_time, block, run_isolated

SUITE = "neural"
_MODULE = "itjax.benchmarks.speed.neural"
_N = 5000
_DIM = 5


def _data(seed: int = 0):
    """5 x 5 Gaussian task: 5 pairs with correlation 0.5, n = 5000 (float32)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(_N, _DIM)).astype(np.float32)
    y = (0.5 * x + math.sqrt(0.75) * rng.normal(size=(_N, _DIM))).astype(np.float32)
    return x, y


def _trainer(batch_size: int):
    import itjax
    from itjax._src.neural.train import _default_critic, _default_optimizer

    return itjax.make_infonce(_default_critic(), _default_optimizer(), batch_size=batch_size)


def itjax_fit(batch_size: int, num_steps: int, num_seeds: int, repeat: int) -> dict:
    """Seconds of `jax.jit(fit)` (vmapped over seeds when num_seeds > 1)."""
    import jax

    import itjax

    x, y = _data()
    trainer = _trainer(batch_size)

    def one(key):
        return itjax.fit(key, trainer, x, y, num_steps=num_steps).estimate

    fn = jax.jit(jax.vmap(one) if num_seeds > 1 else one)
    counter = [0]

    def keys():
        counter[0] += 1
        k = jax.random.key(counter[0])
        return jax.random.split(k, num_seeds) if num_seeds > 1 else k

    start = time.perf_counter()
    block(fn(keys()))
    compile_s = time.perf_counter() - start
    seconds = best_time(lambda: fn(keys()), repeat=repeat, warmup=0)
    return {"seconds": seconds, "compile_s": compile_s}


def itjax_sequential(batch_size: int, num_steps: int, num_seeds: int, repeat: int) -> dict:
    """Seconds of `num_seeds` sequential calls of the compiled `fit` (one seed each)."""
    import jax

    import itjax

    x, y = _data()
    trainer = _trainer(batch_size)
    fn = jax.jit(lambda key: itjax.fit(key, trainer, x, y, num_steps=num_steps).estimate)
    block(fn(jax.random.key(0)))
    counter = [0]

    def run_all():
        out = []
        for _ in range(num_seeds):
            counter[0] += 1
            out.append(fn(jax.random.key(counter[0])))
        return out

    return {"seconds": best_time(run_all, repeat=repeat, warmup=0)}


def python_loop(
    batch_size: int, num_steps: int, num_seeds: int, repeat: int, batches: str = "numpy"
) -> dict:
    """Seconds of the peer: Python loop, jitted step, host sync per step, eager evaluation.

    `batches="jax"` draws each minibatch as existing JAX estimators do, with
    `jax.random.choice(key, n, (batch_size,), replace=False)` and two gathers
    dispatched from Python every step; `batches="numpy"` is a leaner loop that
    shuffles on the host once per epoch (a data loader) and sends each batch.
    """
    import jax
    import jax.numpy as jnp
    import optax

    import itjax
    from itjax._src.neural.train import (
        DEFAULT_TEST_FRACTION,
        _default_critic,
        _default_optimizer,
    )

    x_all, y_all = _data()
    critic, optimizer = _default_critic(), _default_optimizer()

    @jax.jit
    def step(params, opt_state, xb, yb):
        def loss_fn(p):
            return -itjax.infonce_bound(critic.apply(p, xb, yb))

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    @jax.jit
    def evaluate(params, xb, yb):
        return itjax.infonce_bound(critic.apply(params, xb, yb))

    def numpy_batches(seed, n_train):
        rng = np.random.default_rng(seed)
        while True:
            p = rng.permutation(n_train)
            yield from np.split(p[: n_train // batch_size * batch_size], n_train // batch_size)

    def jax_batches(seed, n_train):
        for key in jax.random.split(jax.random.key(seed), num_steps):
            yield jax.random.choice(key, n_train, (batch_size,), replace=False)

    draw = {"numpy": numpy_batches, "jax": jax_batches}[batches]

    def train_one(seed: int) -> float:
        perm = np.random.default_rng(seed).permutation(_N)
        n_test = round(_N * DEFAULT_TEST_FRACTION)
        test, train = perm[:n_test], perm[n_test:]
        mx, sx = x_all[train].mean(0), x_all[train].std(0)
        my, sy = y_all[train].mean(0), y_all[train].std(0)
        x, y = (x_all - mx) / sx, (y_all - my) / sy
        x_train, y_train = jnp.asarray(x[train]), jnp.asarray(y[train])
        x_test, y_test = jnp.asarray(x[test]), jnp.asarray(y[test])
        params = critic.init(jax.random.key(seed), x_train[:2], y_train[:2])
        opt_state = optimizer.init(params)
        losses = []
        for _, index in zip(range(num_steps), draw(seed, len(train)), strict=False):
            params, opt_state, loss = step(params, opt_state, x_train[index], y_train[index])
            losses.append(float(loss))  # the per-step host sync of a logging loop
        values = [
            float(evaluate(params, x_test[i : i + batch_size], y_test[i : i + batch_size]))
            for i in range(0, n_test - batch_size + 1, batch_size)
        ]
        return float(np.mean(values))

    train_one(0)  # compile
    counter = [0]

    def run_all():
        out = []
        for _ in range(num_seeds):
            counter[0] += 1
            out.append(train_one(counter[0]))
        return out

    return {"seconds": best_time(run_all, repeat=repeat, warmup=0)}


_PEERS = {
    "jax": "Python loop, jax.random.choice batches",
    "numpy": "Python loop, NumPy batches",
}


def run(*, quick: bool = False) -> list[SpeedRow]:
    """Per-step time at batch 16 and 256, and 16 seeds vmapped vs 16 sequential fits."""
    steps = 200 if quick else 2000
    repeat = 2 if quick else 5
    rows = []
    for batch_size in (16, 256):
        args = dict(batch_size=batch_size, num_steps=steps, num_seeds=1, repeat=repeat)
        mine = run_isolated(_MODULE, "itjax_fit", args)
        for batches, peer in _PEERS.items():
            theirs = run_isolated(_MODULE, "python_loop", args | {"batches": batches})
            rows.append(
                SpeedRow(
                    suite=SUITE,
                    case=f"InfoNCE fit, seconds per step, batch {batch_size}, 5x5 n={_N}",
                    itjax_s=mine["seconds"] / steps,
                    peer=peer,
                    peer_s=theirs["seconds"] / steps,
                    itjax_peak_mib=mine["peak_rss_mib"],
                    peer_peak_mib=theirs["peak_rss_mib"],
                    notes=f"{steps} steps + held-out eval; itjax compile {mine['compile_s']:.1f} s",
                )
            )
    seeds = 16
    seed_steps = steps // 2
    args = dict(batch_size=128, num_steps=seed_steps, num_seeds=seeds, repeat=max(2, repeat // 2))
    mine = run_isolated(_MODULE, "itjax_fit", args)
    peers = [("itjax jit(fit), sequential", "itjax_sequential", {})] + [
        (peer, "python_loop", {"batches": batches}) for batches, peer in _PEERS.items()
    ]
    for name, function, extra in peers:
        theirs = run_isolated(_MODULE, function, args | extra)
        rows.append(
            SpeedRow.measured(
                suite=SUITE,
                case=f"{seeds} seeds, batch 128, {seed_steps} steps: vmap in one call",
                peer=f"{seeds} sequential fits: {name}",
                mine=mine,
                theirs=theirs,
                notes=f"itjax compile {mine['compile_s']:.1f} s",
            )
        )
    return rows
