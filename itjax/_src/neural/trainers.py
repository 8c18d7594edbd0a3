"""Critic trainers: a NamedTuple of pure functions built by a factory.

The blackjax pattern, driven by optax: `init(key, x, y) -> NeuralMIState` on the
training data, `step(key, state, x, y) -> (NeuralMIState, NeuralMIInfo)` on one
minibatch, `evaluate(state, x, y) -> Estimate` on held-out data. State and
diagnostics are NamedTuples of arrays; the configuration lives in the closure.
`fit` (in `train.py`) runs the steps in one `lax.scan`.

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

from itjax._src._utils import Estimate, check_static_float, check_static_int, mean_and_stderr
from itjax._src.neural.bounds import (
    dv_bound,
    infonce_bound,
    js_bound,
    mine_bound,
    nwj_bound,
    smile_bound,
)

Array = jax.Array

__all__ = [
    "NeuralMIInfo",
    "NeuralMIState",
    "NeuralMITrainer",
    "make_dv",
    "make_infonce",
    "make_js",
    "make_mine",
    "make_nwj",
    "make_smile",
]


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
        The objectives here are deterministic, so `key` is not used; it keeps
        the blackjax `step(key, state, ...)` protocol for trainers that draw
        (a dropout critic, sampled negatives). (Passing it to Flax as an rng
        stream when unused costs about as much as the step of a small critic.)
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


# --------------------------------------------------------------------------- #
# The factories.
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

    def scores(params: Any, state: NeuralMIState, x: Array, y: Array) -> Array:
        xs = (x - state.x_loc) / state.x_scale
        ys = (y - state.y_loc) / state.y_scale
        return critic.apply(params, xs, ys)

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
            s = scores(params, state, x, y)
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


def make_infonce(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """A trainer that maximises `infonce_bound` and reads it out on held-out data.

    Low variance; the estimate never exceeds log(batch_size), so choose the batch
    with log(batch_size) well above the information to be measured.

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).

    Returns:
      A `NeuralMITrainer`.
    """
    return _make_trainer(critic, optimizer, batch_size, _plain(infonce_bound), infonce_bound)


def make_nwj(
    critic: nn.Module, optimizer: optax.GradientTransformation, *, batch_size: int
) -> NeuralMITrainer:
    """A trainer that maximises `nwj_bound` and reads it out on held-out data.

    An unbiased estimate of a lower bound for each critic; variance grows like e^I.

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).

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

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).

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

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).
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

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).

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

    Args:
      critic: a Flax module mapping `x (n, dx), y (n, dy)` to `(n, n)` scores, e.g.
        `SeparableCritic()`.
      optimizer: an optax optimizer, e.g. `optax.adamw(2e-3, weight_decay=1.0)`.
        Its hyperparameters may be traced arrays, so that a learning-rate grid
        can be vmapped.
      batch_size: static minibatch size n >= 2 (the score matrix is n x n).
      clip: tau > 0 of `smile_bound`.

    Returns:
      A `NeuralMITrainer`.
    """
    clip = check_static_float(clip, "clip", positive=True)
    return _make_trainer(
        critic, optimizer, batch_size, _plain(js_bound), partial(smile_bound, clip=clip)
    )
