"""Tests of the critics, the trainers and `fit`: shapes, transforms, retracing, bad input."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import itjax
from itjax import (
    BilinearCritic,
    ConcatCritic,
    Estimate,
    NeuralMIFit,
    SeparableCritic,
    fit,
    make_dv,
    make_infonce,
    make_js,
    make_mine,
    make_nwj,
    make_smile,
    neural_mutual_information,
)
from itjax._src.neural.train import _default_optimizer

FACTORIES = [make_infonce, make_nwj, make_dv, make_mine, make_js, make_smile]
SMALL = SeparableCritic(hidden=(8,), embed_dim=4)


def gaussian_pairs(key, n, rho, dtype=jnp.float32):
    """x, y standard normal with correlation rho, shape (n, 1) each."""
    z = jax.random.normal(key, (n, 2), dtype)
    return z[:, :1], rho * z[:, :1] + math.sqrt(1 - rho**2) * z[:, 1:]


# --------------------------------------------------------------------------- #
# Critics.
# --------------------------------------------------------------------------- #


def _dense(params, v):
    return v @ np.asarray(params["kernel"], np.float64) + np.asarray(
        params.get("bias", 0.0), np.float64
    )


def test_separable_critic_is_an_inner_product_of_encoders():
    x = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    y = np.random.default_rng(1).normal(size=(5, 2)).astype(np.float32)
    critic = SeparableCritic(hidden=(7,), embed_dim=4, activation=nn.relu)
    params = critic.init(jax.random.key(0), x, y)
    scores = critic.apply(params, x, y)
    p = params["params"]

    def encode(enc, v):
        return _dense(enc["Dense_1"], np.maximum(_dense(enc["Dense_0"], v), 0.0))

    expected = encode(p["x_encoder"], x) @ encode(p["y_encoder"], y).T / 2.0  # sqrt(4)
    assert scores.shape == (5, 5)
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_concat_critic_equals_the_mlp_on_concatenated_pairs():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    critic = ConcatCritic(hidden=(6, 5), activation=nn.relu)
    params = critic.init(jax.random.key(1), x, y)
    scores = critic.apply(params, x, y)
    p = params["params"]
    w1 = np.concatenate([p["x_input"]["kernel"], p["y_input"]["kernel"]], axis=0)
    b1 = np.asarray(p["x_input"]["bias"])
    expected = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            h = np.maximum(np.concatenate([x[i], y[j]]) @ w1 + b1, 0.0)
            h = np.maximum(_dense(p["pair_mlp"]["Dense_0"], h), 0.0)
            expected[i, j] = _dense(p["pair_mlp"]["Dense_1"], h)[0]
    np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_bilinear_critic():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 3)).astype(np.float32), rng.normal(size=(4, 2)).astype(np.float32)
    critic = BilinearCritic()
    params = critic.init(jax.random.key(2), x, y)
    w = np.asarray(params["params"]["kernel"])
    np.testing.assert_allclose(critic.apply(params, x, y), x @ w @ y.T, rtol=1e-5, atol=1e-6)


# --------------------------------------------------------------------------- #
# Trainer protocol and fit.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_init_step_evaluate(factory):
    x, y = gaussian_pairs(jax.random.key(0), 64, 0.8)
    trainer = factory(SMALL, optax.adam(1e-2), batch_size=16)
    state = trainer.init(jax.random.key(1), x, y)

    @jax.jit
    def step_and_evaluate(key, state):
        state, info = trainer.step(key, state, x[:16], y[:16])
        return state, info, trainer.evaluate(state, x, y)

    state, info, est = step_and_evaluate(jax.random.key(2), state)
    assert info.loss.shape == () and info.estimate.shape == ()
    assert bool(jnp.isfinite(info.loss)) and bool(jnp.isfinite(info.estimate))
    assert isinstance(est, Estimate) and est.value.shape == () and est.stderr.shape == ()
    # evaluate is the mean of the read-out over the 4 disjoint held-out batches
    assert bool(jnp.isfinite(est.value)) and bool(est.stderr > 0)
    # MINE carries its moving average of the partition term in the state
    log_z = float(state.log_partition)
    assert math.isfinite(log_z)
    assert (log_z != 0.0) == (factory is make_mine)


_FIT_TRAINER = make_infonce(SMALL, optax.adam(1e-2), batch_size=30)


@jax.jit
def _fit_60_steps(key, x, y):
    return fit(key, _FIT_TRAINER, x, y, num_steps=60, eval_every=20)


@pytest.mark.parametrize(
    "critic", [ConcatCritic(hidden=(8,)), BilinearCritic()], ids=["concat", "bilinear"]
)
def test_other_critics_train(critic):
    x, y = gaussian_pairs(jax.random.key(0), 64, 0.8)
    x = jnp.concatenate([x, -x], axis=1)  # dx = 2, dy = 1
    trainer = make_nwj(critic, optax.adam(1e-2), batch_size=16)
    state = trainer.init(jax.random.key(1), x, y)

    @jax.jit
    def two_steps(state):
        state, first = trainer.step(jax.random.key(2), state, x[:16], y[:16])
        state, second = trainer.step(jax.random.key(3), state, x[:16], y[:16])
        return first, second, trainer.evaluate(state, x, y)

    first, second, est = two_steps(state)
    assert second.loss < first.loss  # the same batch twice: the objective improved
    assert bool(jnp.isfinite(est.value)) and bool(est.stderr > 0)


def test_fit_returns_the_final_estimate_and_the_history():
    x, y = gaussian_pairs(jax.random.key(0), 300, 0.8)
    result = _fit_60_steps(jax.random.key(1), x, y)
    assert isinstance(result, NeuralMIFit)
    assert result.history.loss.shape == (60,) and result.history.estimate.shape == (60,)
    assert result.evaluations.value.shape == (3,)
    # the reported estimate is the last evaluation, never the best one
    assert result.estimate.value == result.evaluations.value[-1]
    assert result.estimate.stderr == result.evaluations.stderr[-1]
    # and training made progress (I = 0.51 nats)
    assert result.estimate.value > 0.1


def test_standardization_makes_fit_affine_invariant():
    x, y = gaussian_pairs(jax.random.key(0), 300, 0.8)
    base = _fit_60_steps(jax.random.key(3), x, y).estimate
    moved = _fit_60_steps(jax.random.key(3), 100.0 + 20.0 * x, -3.0 + 0.01 * y).estimate
    np.testing.assert_allclose(moved.value, base.value, rtol=2e-3, atol=2e-4)
    np.testing.assert_allclose(moved.stderr, base.stderr, rtol=2e-2, atol=2e-4)


def test_small_held_out_part_is_evaluated_in_smaller_batches():
    x, y = gaussian_pairs(jax.random.key(0), 100, 0.8)
    trainer = make_infonce(SMALL, optax.adam(1e-2), batch_size=50)
    state = trainer.init(jax.random.key(1), x[:80], y[:80])
    est = jax.jit(trainer.evaluate)(state, x[80:], y[80:])  # 20 < batch_size held out
    assert bool(jnp.isfinite(est.value))
    assert est.value <= math.log(20)  # one batch of 20: InfoNCE <= log 20
    assert bool(jnp.isnan(est.stderr))  # one batch: no standard error


def test_float64(x64):
    x, y = gaussian_pairs(jax.random.key(0), 200, 0.8, jnp.float64)
    trainer = make_infonce(SMALL, optax.adam(1e-2), batch_size=20)
    result = fit(jax.random.key(1), trainer, x, y, num_steps=10)
    assert result.estimate.value.dtype == jnp.float64
    assert bool(jnp.isfinite(result.estimate.value))


# --------------------------------------------------------------------------- #
# vmap over seeds, tasks and learning rates; no retracing.
# --------------------------------------------------------------------------- #

_X, _Y = gaussian_pairs(jax.random.key(10), 240, 0.8)
_TRAINER = make_smile(SMALL, optax.adam(1e-2), batch_size=24)
_TRACES = []


def _fit_value(key, x, y, trainer=_TRAINER):
    _TRACES.append(None)  # a Python side effect: runs only while tracing
    return fit(key, trainer, x, y, num_steps=20).estimate.value


# fit jitted as its docstring says, the trainer and the configuration static
_one = jax.jit(fit, static_argnums=1, static_argnames=("num_steps",))
_seeds = jax.jit(jax.vmap(_fit_value, in_axes=(0, None, None)))


def _one_value(key, x, y):
    return _one(key, _TRAINER, x, y, num_steps=20).estimate.value


def test_vmap_over_seeds_equals_a_loop():
    batched = _seeds(jax.random.split(jax.random.key(0), 3), _X, _Y)
    keys = jax.random.split(jax.random.key(0), 3)
    looped = jnp.stack([_one_value(k, _X, _Y) for k in keys])
    np.testing.assert_allclose(batched, looped, rtol=1e-4, atol=1e-5)
    assert len(set(np.asarray(batched).round(6))) == 3  # different seeds differ


def test_vmap_over_tasks_of_equal_shape():
    keys = jax.random.split(jax.random.key(1), 3)
    pairs = [gaussian_pairs(k, 240, rho) for k, rho in zip(keys, [0.0, 0.5, 0.9], strict=True)]
    xs, ys = jnp.stack([p[0] for p in pairs]), jnp.stack([p[1] for p in pairs])
    batched = jax.jit(jax.vmap(_fit_value))(jax.random.split(jax.random.key(2), 3), xs, ys)
    keys = jax.random.split(jax.random.key(2), 3)
    looped = jnp.stack([_one_value(k, a, b) for k, a, b in zip(keys, xs, ys, strict=True)])
    np.testing.assert_allclose(batched, looped, rtol=1e-4, atol=1e-5)
    assert batched[0] < batched[2]  # independent data below strongly dependent data


def test_vmap_over_a_learning_rate_grid():
    lrs = jnp.array([1e-3, 1e-2, 3e-2])

    def with_lr(lr):
        trainer = make_smile(SMALL, optax.adam(lr), batch_size=24)
        return fit(jax.random.key(3), trainer, _X, _Y, num_steps=20).estimate.value

    def injected(lr):
        # the learning rate carried in the optimizer state instead of the closure
        opt = optax.inject_hyperparams(optax.adam)(learning_rate=lr)
        trainer = make_smile(SMALL, opt, batch_size=24)
        return fit(jax.random.key(3), trainer, _X, _Y, num_steps=20).estimate.value

    batched = jax.jit(jax.vmap(with_lr))(lrs)
    assert len(set(np.asarray(batched).round(6))) == 3  # the rates matter
    np.testing.assert_allclose(jax.jit(jax.vmap(injected))(lrs), batched, rtol=1e-4, atol=1e-5)
    # the middle rate is the shared trainer's adam(1e-2): the same run with the same key
    np.testing.assert_allclose(batched[1], _one_value(jax.random.key(3), _X, _Y), rtol=1e-4)


def test_second_fit_on_new_data_does_not_recompile():
    x2, y2 = gaussian_pairs(jax.random.key(11), 240, 0.3)
    first = _seeds(jax.random.split(jax.random.key(4), 3), _X, _Y)
    traced, size = len(_TRACES), _seeds._cache_size()
    second = _seeds(jax.random.split(jax.random.key(5), 3), x2, y2)
    assert len(_TRACES) == traced  # not traced again
    assert _seeds._cache_size() == size == 1
    assert bool(jnp.all(first != second))
    # the same for fit jitted with the trainer static
    _one_value(jax.random.key(6), _X, _Y)
    size = _one._cache_size()
    _one_value(jax.random.key(7), x2, y2)
    assert _one._cache_size() == size == 1


# --------------------------------------------------------------------------- #
# The one-call entry point.
# --------------------------------------------------------------------------- #


def test_neural_mutual_information_entry_point():
    x, y = gaussian_pairs(jax.random.key(0), 400, 0.8)
    # 1-D samples are (n, 1); base=2 gives bits
    bits = neural_mutual_information(
        jax.random.key(1),
        x[:, 0],
        y[:, 0],
        bound="nwj",
        critic=SMALL,
        batch_size=40,
        num_steps=30,
        base=2,
    )
    assert isinstance(bits, Estimate)
    # the same as building the trainer by hand with the documented default optimizer
    trainer = make_nwj(SMALL, _default_optimizer(), batch_size=40)
    nats = fit(jax.random.key(1), trainer, x, y, num_steps=30).estimate
    np.testing.assert_allclose(bits.value, nats.value / math.log(2), rtol=1e-5)
    np.testing.assert_allclose(bits.stderr, nats.stderr / math.log(2), rtol=1e-5)


# --------------------------------------------------------------------------- #
# Bad input, refused before tracing.
# --------------------------------------------------------------------------- #


def test_bad_input():
    x, y = gaussian_pairs(jax.random.key(0), 100, 0.5)
    key = jax.random.key(1)
    trainer = make_infonce(SMALL, optax.adam(1e-3), batch_size=40)
    with pytest.raises(ValueError, match=r"batch_size must be <= .*training samples, 80"):
        fit(key, make_infonce(SMALL, optax.adam(1e-3), batch_size=81), x, y, num_steps=5)
    with pytest.raises(ValueError, match="held-out samples"):
        fit(key, trainer, x, y, num_steps=5, test_fraction=0.01)
    with pytest.raises(ValueError, match=r"same number of samples.*\(100, 1\).*\(99, 1\)"):
        fit(key, trainer, x, y[:99], num_steps=5)
    with pytest.raises(ValueError, match="num_steps must be >= 1"):
        fit(key, trainer, x, y, num_steps=0)
    with pytest.raises(ValueError, match="eval_every must divide"):
        fit(key, trainer, x, y, num_steps=10, eval_every=3)
    with pytest.raises(ValueError, match="test_fraction"):
        fit(key, trainer, x, y, num_steps=5, test_fraction=1.0)
    with pytest.raises(TypeError, match="trainer"):
        fit(key, "infonce", x, y, num_steps=5)
    with pytest.raises(TypeError, match="critic must be a flax.linen.Module"):
        make_nwj(lambda a, b: a @ b.T, optax.adam(1e-3), batch_size=8)
    with pytest.raises(TypeError, match="optimizer must be an optax"):
        make_nwj(SMALL, 1e-3, batch_size=8)
    with pytest.raises(ValueError, match="batch_size must be >= 2"):
        make_nwj(SMALL, optax.adam(1e-3), batch_size=1)
    with pytest.raises(TypeError, match="batch_size must be a Python int"):
        make_nwj(SMALL, optax.adam(1e-3), batch_size=8.0)
    with pytest.raises(ValueError, match="bound must be one of"):
        neural_mutual_information(key, x, y, bound="mi")
    with pytest.raises(ValueError, match="x must be samples"):
        neural_mutual_information(key, x[None], y, bound="nwj")


def test_non_finite_data_is_refused():
    x, y = gaussian_pairs(jax.random.key(0), 100, 0.5)
    key = jax.random.key(1)
    bad = x.at[17, 0].set(jnp.nan)
    with pytest.raises(ValueError, match=r"x must be finite; x\[\(17, 0\)\] = nan"):
        neural_mutual_information(key, bad, y, batch_size=20, num_steps=5)
    with pytest.raises(ValueError, match="y must be finite"):
        neural_mutual_information(key, x, y.at[3, 0].set(jnp.inf), batch_size=20, num_steps=5)
    trainer = make_infonce(SMALL, optax.adam(1e-3), batch_size=20)
    with pytest.raises(ValueError, match="x must be finite"):
        fit(key, trainer, bad, y, num_steps=5, validate=True)
    # under jit the values cannot be inspected: a clear error, not a silent skip
    with pytest.raises(TypeError, match="validate=True"):
        jax.jit(lambda a: fit(key, trainer, a, y, num_steps=5, validate=True))(x)


def test_public_names():
    names = set(itjax.__all__)
    assert {"fit", "neural_mutual_information", "SeparableCritic", "ConcatCritic"} <= names
    assert {f.__name__ for f in FACTORIES} <= names
    assert {"NeuralMIState", "NeuralMIInfo", "NeuralMITrainer", "NeuralMIFit"} <= names
    assert isinstance(SMALL, nn.Module)
