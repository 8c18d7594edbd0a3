"""Tests of the score-matrix bounds: formulas, InfoNCE <= log n, extreme scores, MINE."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from conftest import tolerance
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from jax.test_util import check_grads
from scipy.special import logsumexp

import itjax
from itjax import (
    dv_bound,
    infonce_bound,
    infonce_loss,
    js_bound,
    mine_bound,
    nwj_bound,
    smile_bound,
)

BOUNDS = [dv_bound, nwj_bound, infonce_bound, js_bound, smile_bound]


# --------------------------------------------------------------------------- #
# Independent numpy oracles: the formulas written with explicit loops over pairs.
# --------------------------------------------------------------------------- #


def _pairs(s):
    n = s.shape[0]
    diag = np.array([s[i, i] for i in range(n)])
    off = np.array([s[i, j] for i in range(n) for j in range(n) if i != j])
    return diag, off


def np_dv(s):
    diag, off = _pairs(s)
    return diag.mean() - (logsumexp(off) - math.log(off.size))


def np_nwj(s):
    diag, off = _pairs(s)
    return diag.mean() - np.mean(np.exp(off - 1.0))


def np_infonce(s):
    n = s.shape[0]
    return math.log(n) + np.mean([s[i, i] - logsumexp(s[i]) for i in range(n)])


def np_js(s):
    diag, off = _pairs(s)
    softplus = lambda t: np.logaddexp(0.0, t)
    return np.mean(-softplus(-diag)) - np.mean(softplus(off))


def np_smile(s, tau):
    diag, off = _pairs(s)
    clipped = np.clip(off, -tau, tau)
    return diag.mean() - (logsumexp(clipped) - math.log(off.size))


ORACLES = {
    dv_bound: np_dv,
    nwj_bound: np_nwj,
    infonce_bound: np_infonce,
    js_bound: np_js,
    smile_bound: lambda s: np_smile(s, 5.0),
}


def _random_scores(seed, n, scale=2.0):
    return np.random.default_rng(seed).normal(scale=scale, size=(n, n))


# --------------------------------------------------------------------------- #
# Reference values.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("n", [2, 17])
def test_bounds_match_formulas(bound, n, dtype):
    scores = _random_scores(n, n)
    got = bound(jnp.asarray(scores, dtype))
    assert got.dtype == dtype
    np.testing.assert_allclose(got, ORACLES[bound](scores), rtol=tolerance(dtype, f32=2e-6))


def test_hand_worked_two_by_two():
    # scores [[a, b], [c, d]] = [[2, 0], [1, 3]]
    s = jnp.array([[2.0, 0.0], [1.0, 3.0]])
    diag_mean = 2.5
    off = [0.0, 1.0]
    assert math.isclose(
        float(dv_bound(s)), diag_mean - math.log((math.e**0 + math.e**1) / 2), rel_tol=1e-6
    )
    assert math.isclose(
        float(nwj_bound(s)), diag_mean - (math.exp(-1) + math.exp(0)) / 2, rel_tol=1e-6
    )
    infonce = math.log(2) + 0.5 * (
        (2 - math.log(math.e**2 + 1)) + (3 - math.log(math.e**1 + math.e**3))
    )
    assert math.isclose(float(infonce_bound(s)), infonce, rel_tol=1e-6)
    sp = lambda t: math.log1p(math.exp(t))
    js = -0.5 * (sp(-2) + sp(-3)) - 0.5 * (sp(off[0]) + sp(off[1]))
    assert math.isclose(float(js_bound(s)), js, rel_tol=1e-6)
    # tau = 0.5 clips the off-diagonal 1 to 0.5 and leaves 0 alone.
    smile = diag_mean - math.log((1 + math.exp(0.5)) / 2)
    assert math.isclose(float(smile_bound(s, clip=0.5)), smile, rel_tol=1e-6)


def test_smile_with_large_clip_is_dv():
    s = jnp.asarray(_random_scores(0, 9))
    np.testing.assert_allclose(smile_bound(s, clip=1e3), dv_bound(s), rtol=1e-6)


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
def test_base_conversion(bound):
    s = jnp.asarray(_random_scores(1, 6))
    np.testing.assert_allclose(bound(s, base=2), bound(s) / math.log(2), rtol=1e-6)


# --------------------------------------------------------------------------- #
# InfoNCE never exceeds log n, exactly.
# --------------------------------------------------------------------------- #


_jit_infonce = jax.jit(infonce_bound)


@given(
    arrays(
        np.float32,
        st.sampled_from([2, 5, 12]).map(lambda n: (n, n)),
        elements=st.floats(-1e4, 1e4, width=32),
    )
)
def test_infonce_never_above_log_n(scores):
    n = scores.shape[0]
    value = _jit_infonce(jnp.asarray(scores))
    assert bool(jnp.isfinite(value))
    assert float(value) <= float(jnp.log(jnp.float32(n)))


@pytest.mark.parametrize("n", [2, 7, 128])
def test_infonce_reaches_log_n_at_the_limit(n, dtype):
    # A dominant diagonal reaches log n (not above); a constant matrix gives 0.
    log_n = jnp.log(jnp.asarray(n, dtype))
    dominant = jnp.where(jnp.eye(n, dtype=bool), 1e4, -1e4).astype(dtype)
    assert infonce_bound(dominant) <= log_n
    np.testing.assert_allclose(infonce_bound(dominant), log_n, rtol=tolerance(dtype))
    constant = infonce_bound(jnp.full((n, n), 3.0, dtype))
    np.testing.assert_allclose(constant, 0.0, atol=10 * jnp.finfo(dtype).eps)


def test_infonce_at_most_log_n_over_many_random_matrices():
    # Near-ties of the diagonal with the row maximum are where rounding would cross log n.
    keys = jax.random.split(jax.random.key(0), 500)
    n = 64

    def one(key):
        k1, k2 = jax.random.split(key)
        s = 30.0 * jax.random.normal(k1, (n, n))
        # make the diagonal the row maximum (the case where each term is ~0)
        s = s.at[jnp.arange(n), jnp.arange(n)].set(jnp.max(s, axis=1) + jax.random.uniform(k2))
        return infonce_bound(s)

    values = jax.jit(jax.vmap(one))(keys)
    assert bool(jnp.all(values <= jnp.log(jnp.float32(n))))


# --------------------------------------------------------------------------- #
# Extreme scores: finite values and gradients.
# --------------------------------------------------------------------------- #


def _sign_matrix(seed, n):
    return 1e4 * np.sign(np.random.default_rng(seed).normal(size=(n, n))).astype(np.float32)


@pytest.mark.parametrize(
    "bound", [dv_bound, infonce_bound, js_bound, smile_bound], ids=lambda f: f.__name__
)
def test_finite_at_scores_of_1e4(bound, dtype):
    signs = jnp.asarray(np.stack([_sign_matrix(seed, 16) for seed in range(4)]), dtype)
    dominant = jnp.where(jnp.eye(16, dtype=bool), 1e4, -1e4).astype(dtype)[None]
    scores = jnp.concatenate([signs, -signs, dominant, -dominant])
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(bound)))(scores)
    assert bool(jnp.all(jnp.isfinite(values)))
    assert bool(jnp.all(jnp.isfinite(grads)))


def test_nwj_at_scores_of_1e4(dtype):
    eye = jnp.eye(16, dtype=bool)
    scores = jnp.stack(
        [
            jnp.where(eye, 1e4, -1e4),  # positive-pair scores never enter an exponential
            jnp.where(eye, -1e4, -1e4),
            jnp.where(eye, 0.0, 80.0),  # below the overflow threshold (about 88.7 in float32)
            jnp.where(eye, 0.0, 1e4),  # the bound is -e^9999: -inf, never NaN
        ]
    ).astype(dtype)
    values, grads = jax.jit(jax.vmap(jax.value_and_grad(nwj_bound)))(scores)
    assert float(values[0]) == 1e4 and float(values[1]) == -1e4
    assert bool(jnp.all(jnp.isfinite(grads[:3])))
    assert bool(jnp.isfinite(values[2]))
    assert float(values[3]) == -math.inf


def test_mine_finite_at_scores_of_1e4():
    s = jnp.asarray(_sign_matrix(0, 16))
    value, log_z = mine_bound(s, jnp.float32(0.0))
    grad = jax.grad(lambda t: mine_bound(t, jnp.float32(0.0))[0])(s)
    assert bool(jnp.isfinite(value)) and bool(jnp.isfinite(log_z))
    assert bool(jnp.all(jnp.isfinite(grad)))


# --------------------------------------------------------------------------- #
# Transforms, gradients, properties.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
def test_jit_vmap_and_batch_axes(bound):
    s = jnp.asarray(np.stack([_random_scores(k, 5) for k in range(3)]), jnp.float32)
    loop = jnp.stack([bound(m) for m in s])
    np.testing.assert_allclose(jax.jit(bound)(s[0]), loop[0], rtol=1e-6)
    np.testing.assert_allclose(jax.vmap(bound)(s), loop, rtol=1e-6)
    np.testing.assert_allclose(bound(s), loop, rtol=1e-6)  # leading axes are batch axes


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
def test_gradients(bound, x64):
    s = jnp.asarray(_random_scores(3, 4, scale=1.0))
    check_grads(jax.jit(bound), (s,), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
def test_invariant_to_reordering_the_batch(bound):
    s = jnp.asarray(_random_scores(5, 8), jnp.float32)
    perm = np.random.default_rng(0).permutation(8)
    np.testing.assert_allclose(bound(s[perm][:, perm]), bound(s), rtol=1e-5)


def test_shift_invariances():
    s = jnp.asarray(_random_scores(6, 8), jnp.float32)
    shift = jnp.arange(8.0)[:, None]  # a(x_i), constant along each row
    np.testing.assert_allclose(infonce_bound(s + shift), infonce_bound(s), rtol=1e-5)
    np.testing.assert_allclose(dv_bound(s + 3.0), dv_bound(s), rtol=1e-5)
    # NWJ is not shift invariant: the bound changes as 3 - (e^3 - 1) * E_q[e^(f - 1)].
    np.testing.assert_allclose(
        nwj_bound(s + 3.0) - nwj_bound(s),
        3.0 - (math.exp(3.0) - 1) * np_nwj_partition(np.asarray(s)),
        rtol=1e-4,
    )


def np_nwj_partition(s):
    _, off = _pairs(s)
    return np.mean(np.exp(off - 1.0))


def test_bounds_with_the_optimal_critic_on_a_gaussian():
    # X, Y standard normal with correlation rho; the log density ratio is known.
    # NWJ at f = 1 + log r is unbiased for I, InfoNCE stays below I, DV lies above NWJ.
    rho, n, batches = 0.75, 64, 200
    truth = -0.5 * math.log(1 - rho**2)

    def log_ratio(x, y):
        return -0.5 * math.log(1 - rho**2) - (rho**2 * (x**2 + y**2) - 2 * rho * x * y) / (
            2 * (1 - rho**2)
        )

    def one(key):
        z = jax.random.normal(key, (2, n))
        x, y = z[0], rho * z[0] + math.sqrt(1 - rho**2) * z[1]
        f = log_ratio(x[:, None], y[None, :])
        return jnp.stack([nwj_bound(f + 1.0), infonce_bound(f), dv_bound(f)])

    values = jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), batches))
    mean = values.mean(axis=0)
    se = values.std(axis=0, ddof=1) / math.sqrt(batches)
    assert abs(mean[0] - truth) < 4 * se[0]  # NWJ: unbiased at the optimum
    assert mean[1] < truth + 4 * se[1]  # InfoNCE: a lower bound
    assert mean[1] > truth - 0.05  # and nearly tight at log(64) >> I
    assert bool(jnp.all(values[:, 2] >= values[:, 0] - 1e-5))  # log u <= u - 1 termwise


# --------------------------------------------------------------------------- #
# MINE's moving average.
# --------------------------------------------------------------------------- #


def test_mine_value_is_dv_and_average_update():
    s = jnp.asarray(_random_scores(7, 6), jnp.float32)
    log_z_prev = jnp.float32(0.3)
    value, log_z = mine_bound(s, log_z_prev, decay=0.9)
    np.testing.assert_allclose(value, dv_bound(s), rtol=1e-6)
    _, off = _pairs(np.asarray(s, np.float64))
    expected = math.log(0.9 * math.exp(0.3) + 0.1 * np.mean(np.exp(off)))
    np.testing.assert_allclose(log_z, expected, rtol=1e-5)


def test_mine_gradient_uses_the_moving_average():
    n = 6
    s = jnp.asarray(_random_scores(8, n), jnp.float32)
    log_z_prev = jnp.float32(0.7)
    grad = jax.grad(lambda t: mine_bound(t, log_z_prev, decay=0.9)[0])(s)
    _, log_z = mine_bound(s, log_z_prev, decay=0.9)
    # d/d f_ii = 1/n; d/d f_ij = -e^f_ij / (n(n - 1) Z_t) off the diagonal.
    expected = -np.exp(np.asarray(s, np.float64)) / (n * (n - 1) * math.exp(float(log_z)))
    np.fill_diagonal(expected, 1.0 / n)
    np.testing.assert_allclose(grad, expected, rtol=1e-5)
    # decay = 0 is the plain DV gradient.
    grad0 = jax.grad(lambda t: mine_bound(t, log_z_prev, decay=0.0)[0])(s)
    np.testing.assert_allclose(grad0, jax.grad(dv_bound)(s), rtol=1e-5, atol=1e-7)


# --------------------------------------------------------------------------- #
# Contrastive loss.
# --------------------------------------------------------------------------- #


def test_infonce_loss_against_optax_cross_entropy(dtype):
    rng = np.random.default_rng(9)
    u = jnp.asarray(rng.normal(size=(10, 4)), dtype)
    v = jnp.asarray(rng.normal(size=(10, 4)), dtype)
    t = 0.07

    @jax.jit
    def losses(u, v):
        un = u / jnp.linalg.norm(u, axis=1, keepdims=True)
        vn = v / jnp.linalg.norm(v, axis=1, keepdims=True)
        logits = un @ vn.T / t
        labels = jnp.arange(10)
        expected = 0.5 * (
            optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
            + optax.softmax_cross_entropy_with_integer_labels(logits.T, labels).mean()
        )
        ours = [infonce_loss(a, b, temperature=t) for a, b in [(u, v), (v, u), (3 * u, 0.5 * v)]]
        return expected, jnp.stack(ours)

    expected, (got, swapped, scaled) = losses(u, v)
    np.testing.assert_allclose(got, expected, rtol=tolerance(dtype, f32=1e-5, f64=1e-10))
    # symmetric, scale invariant (embeddings are normalised), log n - loss <= log n
    np.testing.assert_allclose(swapped, got, rtol=1e-5)
    np.testing.assert_allclose(scaled, got, rtol=1e-5)
    assert got >= 0


def test_infonce_loss_learned_temperature_and_zero_embedding():
    u = jnp.zeros((4, 3)).at[1:].set(jnp.eye(3))
    v = jnp.eye(4, 3)
    loss = lambda a, b, t: infonce_loss(a, b, temperature=t)
    value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1, 2)))(u, v, jnp.float32(0.5))
    for g in grads:
        assert bool(jnp.all(jnp.isfinite(g)))
    np.testing.assert_allclose(value, loss(u, v, 0.5), rtol=1e-6)  # jit equals eager


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("bound", BOUNDS, ids=lambda f: f.__name__)
def test_bad_scores(bound):
    with pytest.raises(ValueError, match="square"):
        bound(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="square"):
        bound(jnp.zeros(3))
    with pytest.raises(ValueError, match="at least 2"):
        bound(jnp.zeros((1, 1)))
    with pytest.raises(TypeError, match="floating"):
        bound(jnp.zeros((3, 3), jnp.int32))
    with pytest.raises(ValueError, match="base"):
        bound(jnp.zeros((3, 3)), base=1)


def test_bad_configuration():
    s = jnp.zeros((3, 3))
    with pytest.raises(ValueError, match="clip"):
        smile_bound(s, clip=0.0)
    with pytest.raises(ValueError, match="decay"):
        mine_bound(s, 0.0, decay=1.0)
    with pytest.raises(ValueError, match="same shape"):
        infonce_loss(jnp.zeros((4, 3)), jnp.zeros((4, 2)))
    with pytest.raises(ValueError, match="temperature"):
        infonce_loss(jnp.zeros((4, 3)), jnp.zeros((4, 3)), temperature=0.0)


def test_public_names():
    for name in ["dv_bound", "nwj_bound", "infonce_bound", "js_bound", "smile_bound"]:
        assert name in itjax.__all__
    assert {"mine_bound", "infonce_loss"} <= set(itjax.__all__)
