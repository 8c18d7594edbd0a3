"""Tests for itjax._src.montecarlo: k1/k2/k3 estimators and mc_kl_divergence."""

import functools
import math

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tolerance
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

import itjax
from itjax import Estimate

ESTIMATORS = {
    "k1": itjax.k1_kl_divergence,
    "k2": itjax.k2_kl_divergence,
    "k3": itjax.k3_kl_divergence,
}


def numpy_terms(name, log_ratio):
    """The per-sample terms, written independently in numpy (float64)."""
    lr = np.asarray(log_ratio, dtype=np.float64)
    r = np.exp(lr)
    return {"k1": -lr, "k2": lr**2 / 2, "k3": (r - 1) - lr}[name]


def numpy_gaussian_kl(mean_p, cov_p, mean_q, cov_q):
    """KL(N(mean_p, cov_p) || N(mean_q, cov_q)), the textbook closed form in numpy."""
    d = len(mean_p)
    inv_q = np.linalg.inv(cov_q)
    diff = mean_q - mean_p
    return 0.5 * (
        np.trace(inv_q @ cov_p)
        + diff @ inv_q @ diff
        - d
        + np.linalg.slogdet(cov_q)[1]
        - np.linalg.slogdet(cov_p)[1]
    )


def normal_log_pdf(x, mean, chol):
    """log N(x; mean, L L^T) for one sample x of shape (d,)."""
    z = jax.scipy.linalg.solve_triangular(chol, x - mean, lower=True)
    d = x.shape[0]
    return (
        -0.5 * jnp.sum(z**2)
        - jnp.sum(jnp.log(jnp.diagonal(chol)))
        - 0.5 * d * math.log(2 * math.pi)
    )


# --------------------------------------------------------------------------- #
# Reference values.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("name", ["k1", "k2", "k3"])
def test_hand_worked_values(name, dtype):
    # log r = 0, log 2, -log 2: k1 terms 0, -log 2, log 2 (mean 0);
    # k2 terms 0, (log 2)^2/2 twice; k3 terms 0, 1 - log 2, -1/2 + log 2.
    log2 = math.log(2.0)
    log_ratio = jnp.asarray([0.0, log2, -log2], dtype=dtype)
    expected_terms = {
        "k1": [0.0, -log2, log2],
        "k2": [0.0, log2**2 / 2, log2**2 / 2],
        "k3": [0.0, 1 - log2, -0.5 + log2],
    }[name]
    est = ESTIMATORS[name](log_ratio)
    assert isinstance(est, Estimate)
    assert est.value.dtype == dtype
    np.testing.assert_allclose(est.value, np.mean(expected_terms), rtol=0, atol=1e-6)
    np.testing.assert_allclose(
        est.stderr, np.std(expected_terms, ddof=1) / math.sqrt(3), rtol=tolerance(dtype, f32=1e-5)
    )


@pytest.mark.parametrize("name", ["k1", "k2", "k3"])
def test_matches_numpy_on_random_log_ratios(name, dtype):
    rng = np.random.default_rng(0)
    log_ratio = rng.normal(scale=0.7, size=(50, 4))
    est = ESTIMATORS[name](jnp.asarray(log_ratio, dtype=dtype))
    terms = numpy_terms(name, log_ratio)
    rtol = tolerance(dtype, f32=1e-5, f64=1e-12)
    np.testing.assert_allclose(est.value, terms.mean(axis=0), rtol=rtol)
    np.testing.assert_allclose(est.stderr, terms.std(axis=0, ddof=1) / math.sqrt(50), rtol=rtol)


def test_axis_and_base():
    rng = np.random.default_rng(1)
    log_ratio = jnp.asarray(rng.normal(size=(6, 30)), dtype=jnp.float32)
    along_last = itjax.k3_kl_divergence(log_ratio, axis=-1)
    along_first = itjax.k3_kl_divergence(log_ratio.T, axis=0)
    np.testing.assert_allclose(along_last.value, along_first.value, rtol=1e-6)
    assert along_last.value.shape == (6,)
    in_bits = itjax.k3_kl_divergence(log_ratio, axis=-1, base=2)
    np.testing.assert_allclose(in_bits.value, along_last.value / math.log(2), rtol=1e-6)
    np.testing.assert_allclose(in_bits.stderr, along_last.stderr / math.log(2), rtol=1e-6)


# --------------------------------------------------------------------------- #
# Properties.
# --------------------------------------------------------------------------- #

_log_ratios = hnp.arrays(
    np.float64,
    16,
    elements=st.one_of(
        st.floats(-60, 60),
        st.floats(-1e-6, 1e-6),
        st.sampled_from([0.0, 1e-30, -1e-30, 5e-8, -5e-8, 1e-300]),
    ),
)


_jit_k2 = jax.jit(itjax.k2_kl_divergence)
_jit_k3 = jax.jit(itjax.k3_kl_divergence)


@pytest.mark.parametrize("use_x64", [False, True])
@given(log_ratio=_log_ratios)
def test_k3_and_k2_terms_are_nonnegative_and_accurate(use_x64, log_ratio):
    # Two identical rows: the mean of each column is its term exactly.
    with jax.enable_x64(use_x64):
        dtype = jnp.float64 if use_x64 else jnp.float32
        pair = jnp.stack([jnp.asarray(log_ratio, dtype=dtype)] * 2)
        k3 = _jit_k3(pair).value
        k2 = _jit_k2(pair).value
        assert bool(jnp.all(k3 >= 0)), (log_ratio, k3)
        assert bool(jnp.all(k2 >= 0))
        # Each term against e^t - 1 - t in float64 from numpy (series near 0, where
        # numpy's own expm1(t) - t would cancel), to the dtype's precision.
        t = np.asarray(pair[0], dtype=np.float64)
        expected = np.where(
            np.abs(t) < 1e-2,
            t**2 * (1 / 2 + t / 6 + t**2 / 24 + t**3 / 120 + t**4 / 720),
            np.expm1(t) - t,
        )
        finite = np.isfinite(expected) & (expected < np.finfo(dtype).max)
        rtol = tolerance(dtype, f32=1e-5, f64=1e-13)
        np.testing.assert_allclose(
            np.asarray(k3, dtype=np.float64)[finite],
            expected[finite],
            rtol=rtol,
            atol=float(np.finfo(dtype).tiny),
        )


def test_k1_and_k3_are_zero_when_p_equals_q(dtype):
    log_ratio = jnp.zeros((10,), dtype=dtype)
    for fn in ESTIMATORS.values():
        est = fn(log_ratio)
        assert float(est.value) == 0.0
        assert float(est.stderr) == 0.0


# --------------------------------------------------------------------------- #
# mc_kl_divergence against the Gaussian closed form.
# --------------------------------------------------------------------------- #

MEAN_P = np.array([0.0, 0.5, -0.3])
MEAN_Q = np.array([0.4, 0.2, 0.1])
A_P = np.array([[1.0, 0.0, 0.0], [0.3, 0.8, 0.0], [-0.2, 0.1, 1.1]])
A_Q = np.array([[1.2, 0.0, 0.0], [0.1, 0.9, 0.0], [0.2, -0.3, 0.9]])
COV_P = A_P @ A_P.T
COV_Q = A_Q @ A_Q.T


def gaussian_problem(dtype):
    mean_p, mean_q = jnp.asarray(MEAN_P, dtype), jnp.asarray(MEAN_Q, dtype)
    chol_p = jnp.linalg.cholesky(jnp.asarray(COV_P, dtype))
    chol_q = jnp.linalg.cholesky(jnp.asarray(COV_Q, dtype))

    def sample_p(key):
        return mean_p + chol_p @ jax.random.normal(key, (3,), dtype)

    log_p = functools.partial(normal_log_pdf, mean=mean_p, chol=chol_p)
    log_q = functools.partial(normal_log_pdf, mean=mean_q, chol=chol_q)
    return sample_p, log_p, log_q


def test_gaussian_oracles_agree():
    # The independent numpy closed form and itjax.gaussian_kl agree.
    with jax.enable_x64(True):
        got = itjax.gaussian_kl(MEAN_P, COV_P, MEAN_Q, COV_Q)
    np.testing.assert_allclose(got, numpy_gaussian_kl(MEAN_P, COV_P, MEAN_Q, COV_Q), rtol=1e-12)


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_mc_kl_matches_gaussian_closed_form(estimator, dtype):
    truth = numpy_gaussian_kl(MEAN_P, COV_P, MEAN_Q, COV_Q)
    sample_p, log_p, log_q = gaussian_problem(dtype)
    est = itjax.mc_kl_divergence(
        jax.random.key(0), sample_p, log_p, log_q, num_samples=20_000, estimator=estimator
    )
    assert est.value.dtype == dtype
    # The test has power: 4 standard errors are a small fraction of the KL.
    assert 0 < 4 * float(est.stderr) < 0.25 * truth
    assert abs(float(est.value) - truth) <= 4 * float(est.stderr)
    with jax.enable_x64(True):
        closed_form = float(itjax.gaussian_kl(MEAN_P, COV_P, MEAN_Q, COV_Q))
    assert abs(float(est.value) - closed_form) <= 4 * float(est.stderr)


def test_mc_kl_equals_k_estimator_on_the_same_draws():
    sample_p, log_p, log_q = gaussian_problem(jnp.float32)
    key = jax.random.key(3)
    xs = jax.vmap(sample_p)(jax.random.split(jax.random.clone(key), 64))
    log_ratio = jax.vmap(log_q)(xs) - jax.vmap(log_p)(xs)
    mc = jax.jit(
        functools.partial(
            itjax.mc_kl_divergence,
            sample_p=sample_p,
            log_p=log_p,
            log_q=log_q,
            num_samples=64,
            estimator="k3",
        )
    )(key)
    direct = itjax.k3_kl_divergence(log_ratio)
    np.testing.assert_allclose(mc.value, direct.value, rtol=1e-5)
    np.testing.assert_allclose(mc.stderr, direct.stderr, rtol=1e-5)


# Unbiasedness over many seeds: p = N(0, 1), q = N(mu, s^2).
MU, S = 0.8, 1.3
KL_1D = math.log(S) + (1 + MU**2) / (2 * S**2) - 0.5


def _one_d_problem():
    def sample_p(key):
        return jax.random.normal(key, ())

    def log_p(x):
        return jax.scipy.stats.norm.logpdf(x)

    def log_q(x):
        return jax.scipy.stats.norm.logpdf(x, MU, S)

    return sample_p, log_p, log_q


@pytest.mark.parametrize("estimator", ["k1", "k3"])
def test_k1_and_k3_unbiased_over_seeds(estimator, x64):
    # 4000 independent estimates from 8 draws each, in one vmap: their mean is
    # within 4 standard errors of the truth (the estimators are exactly unbiased).
    sample_p, log_p, log_q = _one_d_problem()
    keys = jax.random.split(jax.random.key(10), 4000)
    run = functools.partial(
        itjax.mc_kl_divergence,
        sample_p=sample_p,
        log_p=log_p,
        log_q=log_q,
        num_samples=8,
        estimator=estimator,
    )
    est = jax.jit(jax.vmap(run))(keys)
    values = np.asarray(est.value)
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - KL_1D) <= 4 * se
    if estimator == "k3":
        assert bool(jnp.all(est.value >= 0))


def test_reported_stderr_is_honest(x64):
    # p = N(0, 1), q = N(mu, 1): the k1 terms -log r = mu^2/2 - mu x are Gaussian with
    # variance mu^2, so each estimate from m = 8 draws has variance mu^2 / m and
    # stderr^2 is (mu^2 / m) chi2_{m-1} / (m - 1). Over S seeds, mean(stderr^2) and the
    # sample variance of the estimates both estimate mu^2 / m, with relative standard
    # errors sqrt(2 / ((m - 1) S)) and sqrt(2 / (S - 1)).
    mu, m, seeds = 0.6, 8, 4000
    keys = jax.random.split(jax.random.key(13), seeds)

    def one(key):
        x = jax.random.normal(key, (m,))
        return itjax.k1_kl_divergence(mu * x - mu**2 / 2)

    est = jax.jit(jax.vmap(one))(keys)
    target = mu**2 / m
    rel_se_var = math.sqrt(2 / (seeds - 1))
    rel_se_stderr = math.sqrt(2 / ((m - 1) * seeds))
    assert abs(np.var(np.asarray(est.value), ddof=1) / target - 1) <= 4 * rel_se_var
    assert abs(np.mean(np.asarray(est.stderr) ** 2) / target - 1) <= 4 * rel_se_stderr


def test_k2_bias_is_the_known_one(x64):
    # p = N(0, 1), q = N(mu, 1): log r = mu x - mu^2/2, KL = mu^2/2 and
    # E[k2] = (Var[log r] + KL^2) / 2 = KL + mu^4/8.
    mu = 1.0
    kl = mu**2 / 2
    keys = jax.random.split(jax.random.key(11), 4000)

    def one(key):
        x = jax.random.normal(key, (8,))
        return itjax.k2_kl_divergence(mu * x - mu**2 / 2).value

    values = np.asarray(jax.jit(jax.vmap(one))(keys))
    se = values.std(ddof=1) / math.sqrt(values.size)
    assert abs(values.mean() - (kl + mu**4 / 8)) <= 4 * se
    assert values.mean() - kl > 4 * se  # the bias is detectable: k2 is biased


def test_k3_has_lower_variance_than_k1_for_close_distributions():
    # p = N(0, 1), q = N(0.1, 1): Var k1 = mu^2 = 1e-2, Var k3 = e^{mu^2} - 1 - mu^2 ~ 5e-5.
    x = jax.random.normal(jax.random.key(12), (5000,))
    log_ratio = 0.1 * x - 0.005
    k1 = itjax.k1_kl_divergence(log_ratio)
    k3 = itjax.k3_kl_divergence(log_ratio)
    assert float(k3.stderr) < 0.2 * float(k1.stderr)
    np.testing.assert_allclose(float(k1.stderr) * math.sqrt(5000), 0.1, rtol=0.1)
    np.testing.assert_allclose(
        float(k3.stderr) * math.sqrt(5000), math.sqrt(math.expm1(0.01) - 0.01), rtol=0.2
    )


# --------------------------------------------------------------------------- #
# Transforms and gradients.
# --------------------------------------------------------------------------- #


def test_jit_equals_eager_and_no_recompile():
    sample_p, log_p, log_q = _one_d_problem()
    fn = functools.partial(
        itjax.mc_kl_divergence, sample_p=sample_p, log_p=log_p, log_q=log_q, num_samples=32
    )
    jitted = jax.jit(fn)
    k1, k2 = jax.random.split(jax.random.key(4))
    eager = fn(jax.random.clone(k1))
    np.testing.assert_allclose(jitted(k1).value, eager.value, rtol=1e-6)
    size = jitted._cache_size()
    jitted(k2)
    assert jitted._cache_size() == size

    estimate = jax.jit(lambda t: itjax.k3_kl_divergence(t))
    estimate(jnp.ones((16,)))
    size = estimate._cache_size()
    estimate(jnp.zeros((16,)))
    assert estimate._cache_size() == size


def test_vmap_over_log_ratios_equals_loop():
    log_ratios = jax.random.normal(jax.random.key(5), (7, 20))
    batched = jax.vmap(itjax.k3_kl_divergence)(log_ratios)
    for i in range(7):
        one = itjax.k3_kl_divergence(log_ratios[i])
        np.testing.assert_allclose(batched.value[i], one.value, rtol=1e-6)
        np.testing.assert_allclose(batched.stderr[i], one.stderr, rtol=1e-6)


def test_gradient_with_respect_to_q_is_unbiased(x64):
    # d/dmu KL(N(0,1) || N(mu,1)) = mu; the k1 gradient is mu - mean(x_i), whose
    # standard error is 1/sqrt(n).
    n = 10_000

    def kl(mu, key):
        return itjax.mc_kl_divergence(
            key,
            lambda k: jax.random.normal(k, ()),
            jax.scipy.stats.norm.logpdf,
            lambda x: jax.scipy.stats.norm.logpdf(x, mu, 1.0),
            num_samples=n,
        ).value

    grad = jax.grad(kl)(0.7, jax.random.key(6))
    assert np.isfinite(grad)
    assert abs(float(grad) - 0.7) <= 4 / math.sqrt(n)


def test_k_estimators_gradients():
    with jax.enable_x64(True):
        log_ratio = jnp.asarray([0.3, -0.2, 1.1, 0.0])
        check_grads(lambda t: itjax.k3_kl_divergence(t).value, (log_ratio,), order=1, modes=["rev"])
        # d k3 / d log r = r - 1: zero at log r = 0, finite everywhere.
        g = jax.grad(lambda t: itjax.k3_kl_divergence(t).value)(log_ratio)
        np.testing.assert_allclose(g, np.expm1(np.asarray(log_ratio)) / 4, rtol=1e-12)
        # d k1 / d log r = -1, d k2 / d log r = log r (means over 4 samples).
        g = jax.grad(lambda t: itjax.k1_kl_divergence(t).value)(log_ratio)
        np.testing.assert_allclose(g, np.full(4, -0.25), rtol=1e-12)
        g = jax.grad(lambda t: itjax.k2_kl_divergence(t).value)(log_ratio)
        np.testing.assert_allclose(g, np.asarray(log_ratio) / 4, rtol=1e-12)


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


def test_bad_log_ratio():
    with pytest.raises(ValueError, match="at least 2 samples"):
        itjax.k1_kl_divergence(jnp.ones((1,)))
    with pytest.raises(ValueError, match="scalar"):
        itjax.k1_kl_divergence(jnp.float32(1.0))
    with pytest.raises(TypeError, match="log_ratio must have a floating dtype"):
        itjax.k3_kl_divergence(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match="axis"):
        itjax.k2_kl_divergence(jnp.ones((3,)), axis=1)
    with pytest.raises(ValueError, match="base"):
        itjax.k2_kl_divergence(jnp.ones((3,)), base=1)
    with pytest.raises(ValueError, match=r"log_ratio must be finite; log_ratio\[\(1,\)\] = nan"):
        itjax.k3_kl_divergence(jnp.asarray([0.0, jnp.nan, 1.0]), validate=True)
    with pytest.raises(ValueError, match="log_ratio must be finite"):
        itjax.k1_kl_divergence(jnp.asarray([0.0, -jnp.inf]), validate=True)


def test_bad_mc_arguments():
    sample_p, log_p, log_q = _one_d_problem()
    with pytest.raises(ValueError, match="num_samples must be >= 2, got 1"):
        itjax.mc_kl_divergence(jax.random.key(1), sample_p, log_p, log_q, num_samples=1)
    with pytest.raises(TypeError, match="num_samples must be a Python int"):
        itjax.mc_kl_divergence(jax.random.key(2), sample_p, log_p, log_q, num_samples=10.0)
    with pytest.raises(TypeError, match="log_q must be a callable"):
        itjax.mc_kl_divergence(jax.random.key(3), sample_p, log_p, 3.0, num_samples=10)
    with pytest.raises(ValueError, match="estimator must be 'k1', 'k2' or 'k3', got 'k4'"):
        itjax.mc_kl_divergence(
            jax.random.key(4), sample_p, log_p, log_q, num_samples=10, estimator="k4"
        )
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        itjax.mc_kl_divergence(0, sample_p, log_p, log_q, num_samples=10)
    with pytest.raises(ValueError, match="single PRNG key"):
        itjax.mc_kl_divergence(
            jax.random.split(jax.random.key(5), 2), sample_p, log_p, log_q, num_samples=10
        )
    with pytest.raises(ValueError, match="log_p must map one sample to a scalar"):
        itjax.mc_kl_divergence(
            jax.random.key(6), sample_p, lambda x: jnp.stack([x, x]), log_q, num_samples=10
        )
    # A legacy raw uint32 key is accepted.
    est = itjax.mc_kl_divergence(jax.random.PRNGKey(0), sample_p, log_p, log_q, num_samples=10)
    assert np.isfinite(est.value)
