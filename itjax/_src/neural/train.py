"""Training critics with optax, compiled end to end: `fit` and `neural_mutual_information`.

`fit` runs all the steps of a trainer (see `trainers.py`) in one `lax.scan` and
evaluates on a held-out split inside the same compiled graph, so that
`jax.jit(fit)` compiles once and `jax.vmap(fit)` batches seeds, tasks of equal
shape or a learning-rate grid. The result is the *final* held-out estimate with
its standard error, never a maximum over checkpoints (which is biased upward).
The trainer factories and types are re-exported from here.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from jax.typing import ArrayLike

from itjax._src._utils import (
    Estimate,
    check_base,
    check_samples,
    check_static_float,
    check_static_int,
    to_base,
    validate_finite,
)
from itjax._src.neural.critics import SeparableCritic
from itjax._src.neural.trainers import (
    NeuralMIInfo,
    NeuralMIState,
    NeuralMITrainer,
    make_dv,
    make_infonce,
    make_js,
    make_mine,
    make_nwj,
    make_smile,
)

Array = jax.Array

__all__ = [
    "NeuralMIFit",
    "NeuralMIInfo",
    "NeuralMIState",
    "NeuralMITrainer",
    "fit",
    "make_dv",
    "make_infonce",
    "make_js",
    "make_mine",
    "make_nwj",
    "make_smile",
    "neural_mutual_information",
]

DEFAULT_LEARNING_RATE = 2e-3
DEFAULT_WEIGHT_DECAY = 1.0
DEFAULT_TEST_FRACTION = 0.2


def _default_critic() -> SeparableCritic:
    """The critic of `neural_mutual_information`: `SeparableCritic()`."""
    return SeparableCritic()


def _default_optimizer() -> optax.GradientTransformation:
    """The optimizer of `neural_mutual_information`: AdamW, lr 2e-3, weight decay 1.

    The decoupled weight decay (Loshchilov and Hutter 2019) is what keeps a critic
    trained on a few thousand samples from memorising the training pairs: without
    it the held-out estimate falls as training goes on. `optax.flatten` applies the
    same update to one concatenated parameter vector: a few kernels per step
    instead of a few per parameter array, which halves the step time of a small
    critic on CPU.
    """
    return optax.flatten(optax.adamw(DEFAULT_LEARNING_RATE, weight_decay=DEFAULT_WEIGHT_DECAY))


class NeuralMIFit(NamedTuple):
    """What `fit` returns.

    Attributes:
      estimate: the held-out estimate of the final critic, in nats, with its
        standard error over held-out batches (for a fixed critic).
      history: `NeuralMIInfo` of every training step, each of shape `(num_steps,)`.
      evaluations: held-out `Estimate`s every `eval_every` steps, shape
        `(num_steps // eval_every,)`; the last one is `estimate`. A diagnostic of
        convergence: do not report their maximum (it is biased upward).
      state: the final trainer state.
    """

    estimate: Estimate
    history: NeuralMIInfo
    evaluations: Estimate
    state: NeuralMIState


# --------------------------------------------------------------------------- #
# Fitting.
# --------------------------------------------------------------------------- #


def _check_data(x: ArrayLike, y: ArrayLike) -> tuple[Array, Array]:
    x = check_samples(x, "x")
    y = check_samples(y, "y")
    if x.shape[0] != y.shape[0]:
        raise ValueError(
            "x and y must hold the same number of samples n (paired rows), got "
            f"x of shape {x.shape} and y of shape {y.shape}"
        )
    return x, y


def _split_sizes(n: int, test_fraction: float, batch_size: int) -> tuple[int, int]:
    """(n_train, n_test): a training batch and 2 held-out samples at least, or an error."""
    n_test = int(round(n * test_fraction))
    n_train = n - n_test
    if batch_size > n_train:
        raise ValueError(
            f"batch_size must be <= the number of training samples, {n_train} "
            f"(n={n}, test_fraction={test_fraction}), got batch_size={batch_size}"
        )
    if n_test < 2:
        raise ValueError(
            f"test_fraction={test_fraction} of n={n} samples holds out {n_test}; "
            "at least 2 held-out samples are needed"
        )
    return n_train, n_test


def _epoch_order(key: Array, n_train: int, batch_size: int, num_steps: int) -> Array:
    """Minibatch indices, shape (num_steps, batch_size): epochs of fresh permutations.

    Each epoch visits `n_train // batch_size` disjoint batches of a new permutation, so
    no batch holds a sample twice (a repeated sample would put a positive pair among
    the negatives). Memory: about num_steps * batch_size int32.
    """
    per_epoch = n_train // batch_size
    num_epochs = -(-num_steps // per_epoch)
    keys = jax.random.split(key, num_epochs)
    orders = jax.vmap(lambda k: jax.random.permutation(k, n_train))(keys)
    batches = orders[:, : per_epoch * batch_size].reshape(num_epochs * per_epoch, batch_size)
    return batches[:num_steps]


def _scannable(keys: Array) -> tuple[Array, Callable[[Array], Array]]:
    """Keys as plain integers for `lax.scan`, and the function that wraps them back.

    JAX's key-reuse checker (`jax_debug_key_reuse`) reports a false positive for a
    typed key array scanned over under `vmap` (each key is used once); scanning its
    raw data avoids it. Legacy uint32 keys pass through unchanged.
    """
    if jnp.issubdtype(keys.dtype, jax.dtypes.prng_key):
        impl = jax.random.key_impl(keys)
        return jax.random.key_data(keys), partial(jax.random.wrap_key_data, impl=impl)
    return keys, lambda k: k


def fit(
    key: ArrayLike,
    trainer: NeuralMITrainer,
    x: ArrayLike,
    y: ArrayLike,
    *,
    num_steps: int,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    eval_every: int | None = None,
    validate: bool = False,
) -> NeuralMIFit:
    """Train a critic and estimate I(X; Y) on held-out data, all in one compiled graph.

    The samples are split at random into a training part and a held-out part
    (`test_fraction`); `trainer.init` standardizes with the training statistics;
    `num_steps` minibatch steps (epochs of fresh permutations, no sample twice in
    a batch) run in one `lax.scan`; every `eval_every` steps the critic is
    evaluated on the held-out part inside the same scan. The estimate is the last
    evaluation: the final critic, not the best checkpoint.

    Not jitted inside: jit it with the trainer and the keyword arguments static,
    `jax.jit(fit, static_argnums=1, static_argnames=("num_steps", ...))`, and a
    second call on new data of the same shape reuses the compiled code. `vmap`
    over keys, over stacked tasks of equal shape, or over a function that builds the
    trainer from a traced learning rate.

    Args:
      key: a PRNG key (split, never reused: split, init, order, steps).
      trainer: from a `make_*` factory.
      x: samples of shape `(n,)` or `(n, dx)`.
      y: samples of shape `(n,)` or `(n, dy)`, row i paired with row i of x.
      num_steps: static number of optimizer steps >= 1.
      test_fraction: static fraction of the n samples held out, in (0, 1). The
        training part must hold a batch; the held-out part at least 2 samples
        (it is evaluated in batches of `min(batch_size, n_test)`).
      eval_every: static; evaluate every this many steps (must divide
        `num_steps`). Default: once, at the end.
      validate: check eagerly that x and y are finite (needs concrete arrays:
        not under jit/vmap of x, y).

    Returns:
      A `NeuralMIFit`: the final held-out `Estimate` in nats, the per-step history,
      the held-out evaluations and the final state.

    Memory: the critic on one `(batch_size, batch_size)` score matrix at a time,
    the data, and the minibatch indices (num_steps * batch_size int32).
    """
    if not isinstance(trainer, NeuralMITrainer):
        raise TypeError(
            f"trainer must be a NeuralMITrainer from a make_* factory, got {type(trainer).__name__}"
        )
    x, y = _check_data(x, y)
    num_steps = check_static_int(num_steps, "num_steps", minimum=1)
    eval_every = num_steps if eval_every is None else eval_every
    eval_every = check_static_int(eval_every, "eval_every", minimum=1)
    if num_steps % eval_every:
        raise ValueError(
            f"eval_every must divide num_steps={num_steps}, got eval_every={eval_every}"
        )
    test_fraction = check_static_float(test_fraction, "test_fraction", positive=True)
    if not test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    n_train, n_test = _split_sizes(x.shape[0], test_fraction, trainer.batch_size)
    if validate:
        validate_finite(x, "x")
        validate_finite(y, "y")

    key_split, key_init, key_order, key_steps = jax.random.split(key, 4)
    permutation = jax.random.permutation(key_split, x.shape[0])
    test, train = permutation[:n_test], permutation[n_test:]
    x_test, y_test = x[test], y[test]

    # Minibatch rows index x itself (not a gathered copy of the training part), so that
    # under vmap over seeds every step gathers from the one shared x.
    num_evals = num_steps // eval_every
    order = _epoch_order(key_order, n_train, trainer.batch_size, num_steps)
    rows = train[order].reshape(num_evals, eval_every, trainer.batch_size)
    step_keys, as_key = _scannable(jax.random.split(key_steps, (num_evals, eval_every)))

    def train_step(state, inputs):
        step_key, batch = inputs
        return trainer.step(as_key(step_key), state, x[batch], y[batch])

    def train_and_evaluate(state, inputs):
        state, info = jax.lax.scan(train_step, state, inputs)
        return state, (info, trainer.evaluate(state, x_test, y_test))

    state = trainer.init(key_init, x[train], y[train])
    state, (history, evaluations) = jax.lax.scan(train_and_evaluate, state, (step_keys, rows))
    history = jax.tree.map(lambda h: h.reshape(num_steps), history)
    estimate = Estimate(evaluations.value[-1], evaluations.stderr[-1])
    return NeuralMIFit(estimate=estimate, history=history, evaluations=evaluations, state=state)


# --------------------------------------------------------------------------- #
# One-call entry point.
# --------------------------------------------------------------------------- #

_FACTORIES = {
    "infonce": make_infonce,
    "nwj": make_nwj,
    "dv": make_dv,
    "mine": make_mine,
    "js": make_js,
    "smile": make_smile,
}


def neural_mutual_information(
    key: ArrayLike,
    x: ArrayLike,
    y: ArrayLike,
    *,
    bound: str = "infonce",
    critic: nn.Module | None = None,
    optimizer: optax.GradientTransformation | None = None,
    batch_size: int = 128,
    num_steps: int = 1000,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    base: float | None = None,
    validate: bool = True,
) -> Estimate:
    """Estimate I(X; Y) by training a critic on a variational bound.

    Builds the trainer of `bound` (see `make_infonce`, `make_nwj`, `make_dv`,
    `make_mine`, `make_js`, `make_smile`) and runs `fit`: standardize, train on
    a random split, report the final critic's estimate on the held-out split.

    Args:
      key: a PRNG key.
      x: samples of shape `(n,)` or `(n, dx)`.
      y: samples of shape `(n,)` or `(n, dy)`, row i paired with row i of x.
      bound: "infonce" (default: low variance, <= log(batch_size)), "nwj", "dv",
        "mine", "smile" or "js".
      critic: a Flax critic; default `SeparableCritic()` (two 32-32 GELU
        encoders, 16-dimensional embeddings).
      optimizer: an optax optimizer; default
        `optax.flatten(optax.adamw(2e-3, weight_decay=1.0))`.
      batch_size: static minibatch size (the score matrix is batch_size^2).
      num_steps: static number of optimizer steps.
      test_fraction: static fraction of the samples held out for the estimate.
      base: logarithm base of the result (None for nats, 2 for bits).
      validate: check eagerly that x and y are finite (set False under jit/vmap
        of x or y).

    Returns:
      `Estimate(value, stderr)`: the held-out estimate of the final critic and its
      standard error over held-out batches (it does not include the variation
      between training runs).
    """
    check_base(base)
    if bound not in _FACTORIES:
        raise ValueError(f"bound must be one of {sorted(_FACTORIES)}, got {bound!r}")
    critic = _default_critic() if critic is None else critic
    optimizer = _default_optimizer() if optimizer is None else optimizer
    trainer = _FACTORIES[bound](critic, optimizer, batch_size=batch_size)
    result = fit(
        key,
        trainer,
        x,
        y,
        num_steps=num_steps,
        test_fraction=test_fraction,
        validate=validate,
    )
    value, stderr = result.estimate
    return Estimate(to_base(value, base), to_base(stderr, base))
