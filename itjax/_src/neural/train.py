"""Training critics with optax, compiled end to end.

A trainer is a NamedTuple of pure functions built by a factory (the blackjax
pattern): `init(key, x, y) -> NeuralMIState` on the training data,
`step(key, state, x, y) -> (NeuralMIState, NeuralMIInfo)` on one minibatch, and
`evaluate(state, x, y) -> Estimate` on held-out data. `fit` runs all steps in one
`lax.scan` and evaluates on the held-out split inside the same compiled graph, so
that `jax.jit(fit)` compiles once and `jax.vmap(fit)` batches seeds, tasks of equal
shape or a learning-rate grid. The result is the *final* held-out estimate with
its standard error, never a maximum over checkpoints (which is biased upward).

| factory        | trains on                   | reads the information out with |
| -------------- | --------------------------- | ------------------------------ |
| `make_infonce` | `infonce_bound`             | `infonce_bound`                |
| `make_nwj`     | `nwj_bound`                 | `nwj_bound`                    |
| `make_dv`      | `dv_bound`                  | `dv_bound`                     |
| `make_mine`    | `mine_bound` (DV, EMA grad) | `dv_bound`                     |
| `make_js`      | `js_bound`                  | `nwj_bound(scores + 1)`        |
| `make_smile`   | `js_bound`                  | `smile_bound`                  |
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

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
    mean_and_stderr,
    to_base,
    validate_finite,
)
from itjax._src.neural.bounds import (
    dv_bound,
    infonce_bound,
    js_bound,
    mine_bound,
    nwj_bound,
    smile_bound,
)
from itjax._src.neural.critics import SeparableCritic

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
    it the held-out estimate falls as training goes on.
    """
    return optax.adamw(DEFAULT_LEARNING_RATE, weight_decay=DEFAULT_WEIGHT_DECAY)


class NeuralMIState(NamedTuple):
    """The state of a critic trainer.

    Attributes:
      params: the critic's parameters.
      opt_state: the optax optimizer state.
      log_partition: MINE's moving average of log E_{p(x)p(y)}[e^f] (0 and unused
        by the other estimators).
      x_loc, x_scale, y_loc, y_scale: the standardization of the inputs, per
        column (shape `(1, d)`), from the training data: the critic sees
        (x - x_loc) / x_scale.
    """

    params: Any
    opt_state: optax.OptState
    log_partition: Array
    x_loc: Array
    x_scale: Array
    y_loc: Array
    y_scale: Array


class NeuralMIInfo(NamedTuple):
    """Diagnostics of one training step, on its minibatch.

    Attributes:
      loss: the minimised objective (minus the training bound).
      estimate: the information read out on the minibatch, in nats (biased upward
        as a measure of the truth, since the critic was just fitted to it).
    """

    loss: Array
    estimate: Array


class NeuralMITrainer(NamedTuple):
    """A critic trainer: pure functions and the static batch size.

    Attributes:
      init: `init(key, x, y) -> NeuralMIState` on the training data `(n, dx)`,
        `(n, dy)`: standardization, critic parameters, optimizer state.
      step: `step(key, state, x, y) -> (NeuralMIState, NeuralMIInfo)`, one optax
        update on a minibatch of shape `(batch_size, dx)`, `(batch_size, dy)`.
      evaluate: `evaluate(state, x, y) -> Estimate`, the information read out on
        held-out data cut into disjoint batches of `min(batch_size, n)` samples
        (the rest dropped): the mean over batches and its standard error (NaN for
        a single batch).
      batch_size: the static minibatch size.
    """

    init: Callable[[Array, Array, Array], NeuralMIState]
    step: Callable[[Array, NeuralMIState, Array, Array], tuple[NeuralMIState, NeuralMIInfo]]
    evaluate: Callable[[NeuralMIState, Array, Array], Estimate]
    batch_size: int


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
# The trainer factory.
# --------------------------------------------------------------------------- #

# objective(scores, log_partition) -> (value to maximise, next log_partition)
_Objective = Callable[[Array, Array], tuple[Array, Array]]


def _standardization(v: Array) -> tuple[Array, Array]:
    """Per-column mean and standard deviation, shape (1, d); a constant column keeps scale 1."""
    loc = jnp.mean(v, axis=0, keepdims=True)
    std = jnp.std(v, axis=0, keepdims=True)
    return loc, jnp.where(std > 0, std, jnp.ones_like(std))


def _check_trainer_args(critic: Any, optimizer: Any, batch_size: Any) -> int:
    if not isinstance(critic, nn.Module):
        raise TypeError(
            f"critic must be a flax.linen.Module mapping (x, y) to scores, got {critic!r}"
        )
    if not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            f"optimizer must be an optax.GradientTransformation, got {type(optimizer).__name__}"
        )
    return check_static_int(batch_size, "batch_size", minimum=2)


def _make_trainer(
    critic: nn.Module,
    optimizer: optax.GradientTransformation,
    batch_size: int,
    objective: _Objective,
    readout: Callable[[Array], Array],
) -> NeuralMITrainer:
    batch_size = _check_trainer_args(critic, optimizer, batch_size)

    def scores(params: Any, state: NeuralMIState, x: Array, y: Array, **kwargs: Any) -> Array:
        xs = (x - state.x_loc) / state.x_scale
        ys = (y - state.y_loc) / state.y_scale
        return critic.apply(params, xs, ys, **kwargs)

    def init(key: Array, x: Array, y: Array) -> NeuralMIState:
        x_loc, x_scale = _standardization(x)
        y_loc, y_scale = _standardization(y)
        params = critic.init(key, (x[:2] - x_loc) / x_scale, (y[:2] - y_loc) / y_scale)
        return NeuralMIState(
            params=params,
            opt_state=optimizer.init(params),
            log_partition=jnp.zeros((), dtype=x.dtype),
            x_loc=x_loc,
            x_scale=x_scale,
            y_loc=y_loc,
            y_scale=y_scale,
        )

    def step(
        key: Array, state: NeuralMIState, x: Array, y: Array
    ) -> tuple[NeuralMIState, NeuralMIInfo]:
        def loss_fn(params: Any) -> tuple[Array, tuple[Array, Array]]:
            s = scores(params, state, x, y, rngs={"dropout": key})
            value, log_partition = objective(s, state.log_partition)
            return -value, (log_partition, readout(jax.lax.stop_gradient(s)))

        (loss, (log_partition, estimate)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            state.params
        )
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        new_state = state._replace(
            params=params,
            opt_state=opt_state,
            log_partition=log_partition.astype(state.log_partition.dtype),
        )
        return new_state, NeuralMIInfo(loss=loss, estimate=estimate)

    def evaluate(state: NeuralMIState, x: Array, y: Array) -> Estimate:
        if x.shape[0] < 2:
            raise ValueError(f"evaluate needs at least 2 samples, got {x.shape[0]}")
        size = min(batch_size, x.shape[0])
        num_batches = x.shape[0] // size
        cut = num_batches * size
        xb = x[:cut].reshape(num_batches, size, x.shape[-1])
        yb = y[:cut].reshape(num_batches, size, y.shape[-1])
        values = jax.lax.map(lambda b: readout(scores(state.params, state, *b)), (xb, yb))
        return mean_and_stderr(values, axis=0)

    return NeuralMITrainer(init=init, step=step, evaluate=evaluate, batch_size=batch_size)


def _plain(bound: Callable[[Array], Array]) -> _Objective:
    """An objective without state: the bound itself, the moving average untouched."""
    return lambda scores, log_partition: (bound(scores), log_partition)


_DOC_ARGS = """
    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`
        (the default of `neural_mutual_information`). Its hyperparameters may be
        traced arrays, so a learning-rate grid can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n)."""


def make_infonce(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """A trainer that maximises `infonce_bound` and reads it out on held-out data.

    Low variance; the estimate never exceeds log(batch_size), so choose the batch
    with log(batch_size) well above the information to be measured.
    {args}

    Returns:
      A `NeuralMITrainer`.
    """
    return _make_trainer(critic, optimizer, batch_size, _plain(infonce_bound), infonce_bound)


def make_nwj(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """A trainer that maximises `nwj_bound` and reads it out on held-out data.

    An unbiased estimate of a lower bound for each critic; variance grows like e^I.
    {args}

    Returns:
      A `NeuralMITrainer`.
    """
    return _make_trainer(critic, optimizer, batch_size, _plain(nwj_bound), nwj_bound)


def make_dv(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """A trainer that maximises `dv_bound` with plain minibatch gradients.

    The minibatch gradient of the log-partition term is biased; `make_mine`
    corrects it. The read-out is the (upward-biased) minibatch DV estimate.
    {args}

    Returns:
      A `NeuralMITrainer`.
    """
    return _make_trainer(critic, optimizer, batch_size, _plain(dv_bound), dv_bound)


def make_mine(
    critic: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    decay: float = 0.9,
) -> NeuralMITrainer:
    """MINE: maximises the DV bound with the moving-average gradient of `mine_bound`.

    The moving average of the partition term lives in `NeuralMIState.log_partition`.
    The read-out is `dv_bound` on held-out batches.
    {args}
      decay: the moving-average decay delta in [0, 1) (Belghazi et al. use a
        small rate 1 - delta).

    Returns:
      A `NeuralMITrainer`.
    """
    decay = check_static_float(decay, "decay", nonnegative=True)
    if not decay < 1:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    return _make_trainer(critic, optimizer, batch_size, partial(mine_bound, decay=decay), dv_bound)


def make_js(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """Trains on the f-GAN Jensen-Shannon objective and reads out NWJ at f + 1.

    The JS objective is maximised by the log density ratio f* = log p/(p p), and
    NWJ is tight at f = 1 + log ratio, so the read-out is `nwj_bound(scores + 1)`
    = 1 + E_p[f] - E_{p(x)p(y)}[e^f], a lower bound for every critic (Poole et al.
    2019). Low-variance training, NWJ's variance at read-out.
    {args}

    Returns:
      A `NeuralMITrainer`.
    """
    return _make_trainer(
        critic, optimizer, batch_size, _plain(js_bound), lambda s: nwj_bound(s + 1.0)
    )


def make_smile(
    critic: nn.Module,
    optimizer: optax.GradientTransformation,
    *,
    batch_size: int,
    clip: float = 5.0,
) -> NeuralMITrainer:
    """SMILE: trains on the Jensen-Shannon objective, reads out `smile_bound`.

    As in Song and Ermon (2020): the JS objective gives a low-variance critic,
    and the clipped DV read-out trades a small bias for bounded variance.
    {args}
      clip: tau > 0 of `smile_bound`.

    Returns:
      A `NeuralMITrainer`.
    """
    clip = check_static_float(clip, "clip", positive=True)
    return _make_trainer(
        critic, optimizer, batch_size, _plain(js_bound), partial(smile_bound, clip=clip)
    )


for _factory in (make_infonce, make_nwj, make_dv, make_mine, make_js, make_smile):
    _factory.__doc__ = _factory.__doc__.replace("{args}", _DOC_ARGS.strip("\n").lstrip())
del _factory


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
    x_train, y_train, x_test, y_test = x[train], y[train], x[test], y[test]

    num_evals = num_steps // eval_every
    order = _epoch_order(key_order, n_train, trainer.batch_size, num_steps)
    order = order.reshape(num_evals, eval_every, trainer.batch_size)
    step_keys, as_key = _scannable(jax.random.split(key_steps, (num_evals, eval_every)))

    def train_step(state, inputs):
        step_key, index = inputs
        return trainer.step(as_key(step_key), state, x_train[index], y_train[index])

    def train_and_evaluate(state, inputs):
        state, info = jax.lax.scan(train_step, state, inputs)
        return state, (info, trainer.evaluate(state, x_test, y_test))

    state = trainer.init(key_init, x_train, y_train)
    state, (history, evaluations) = jax.lax.scan(train_and_evaluate, state, (step_keys, order))
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
        `optax.adamw(2e-3, weight_decay=1.0)`.
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
