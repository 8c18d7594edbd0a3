"""Tests for itjax._src.copula: Gaussian-copula mutual information."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.special
import scipy.stats
from conftest import tolerance

import itjax

# Tests call the jitted function (one compilation per shape instead of one per
# primitive); `test_jit_vmap_and_no_recompile` checks that it equals the eager one.
eager_gcmi = itjax.gaussian_copula_mutual_information
gcmi = jax.jit(eager_gcmi, static_argnames=("bias_correction", "base", "validate"))


def numpy_gcmi(x, y, *, bias_correction=True):
    """Ince et al.'s `gcmi_cc` / `mi_gg` written independently with numpy and scipy.

    Ranks by scipy.stats.rankdata (average ranks for ties), normal scores by
    scipy.special.ndtri, entropies from numpy Cholesky factors, the bias terms from
    scipy.special.psi, as in their reference code.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    n, dx = x.shape
    dy = y.shape[1]
    scores = scipy.special.ndtri(scipy.stats.rankdata(np.hstack([x, y]), axis=0) / (n + 1))
    scores = scores - scores.mean(axis=0)
    cov = scores.T @ scores / (n - 1)

    def half_logdet(c):
        return np.sum(np.log(np.diag(np.linalg.cholesky(c))))

    hx, hy, hxy = half_logdet(cov[:dx, :dx]), half_logdet(cov[dx:, dx:]), half_logdet(cov)
    if bias_correction:
        psi = scipy.special.psi((n - np.arange(1, dx + dy + 1)) / 2) / 2
        dterm = (np.log(2) - np.log(n - 1)) / 2
        hx -= dx * dterm + psi[:dx].sum()
        hy -= dy * dterm + psi[:dy].sum()
        hxy -= (dx + dy) * dterm + psi.sum()
    return hx + hy - hxy


def correlated(rng, n, dx, dy):
    x = rng.normal(size=(n, dx))
    y = x[:, :1] * 0.7 + rng.normal(size=(n, dy))
    return x, y


# --------------------------------------------------------------------------- #
# Reference values.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("dims", [(1, 1), (2, 3)])
@pytest.mark.parametrize("bias_correction", [True, False])
def test_matches_reference_implementation(dims, bias_correction, dtype):
    rng = np.random.default_rng(sum(dims))
    x, y = correlated(rng, 300, *dims)
    expected = numpy_gcmi(x, y, bias_correction=bias_correction)
    got = gcmi(jnp.asarray(x, dtype), jnp.asarray(y, dtype), bias_correction=bias_correction)
    assert got.dtype == dtype
    # float32: the scores' covariance carries ~1e-7 relative rounding.
    np.testing.assert_allclose(got, expected, rtol=tolerance(dtype, f32=1e-4, f64=1e-10))


def test_matches_reference_with_ties(x64):
    # Discrete values: average ranks, as scipy.stats.rankdata's default.
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, size=(200, 1)).astype(np.float64)
    y = x + rng.integers(0, 3, size=(200, 1))
    np.testing.assert_allclose(gcmi(x, y), numpy_gcmi(x, y), rtol=1e-10)


def test_special_values_rank_like_scipy(dtype):
    # Signed zeros tie, infinities and the smallest normal numbers take their place in
    # the order. (Subnormals are left out: XLA on CPU flushes them to zero.)
    tiny = float(np.finfo(dtype).tiny)
    special = [0.0, -0.0, np.inf, -np.inf, tiny, -tiny, 2 * tiny, 2.0, 2.0, -3.5]
    rng = np.random.default_rng(13)
    x = np.concatenate([special, rng.normal(size=40)]).astype(dtype)
    y = (np.nan_to_num(x, posinf=9.0, neginf=-9.0) + rng.normal(size=50)).astype(dtype)
    got = gcmi(jnp.asarray(x), jnp.asarray(y))
    np.testing.assert_allclose(got, numpy_gcmi(x, y), rtol=tolerance(dtype, f32=1e-4, f64=1e-10))


def test_bivariate_gaussian_closed_form_for_large_n(x64):
    # Scores of a Gaussian sample with correlation rho have MI -1/2 log(1 - rho^2)
    # up to sampling error ~ rho / sqrt(n) (n = 20000: sd ~ 0.007).
    rho = 0.8
    rng = np.random.default_rng(3)
    z = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=20_000)
    truth = -0.5 * math.log(1 - rho**2)
    assert abs(float(gcmi(z[:, 0], z[:, 1])) - truth) < 0.03


def test_base():
    rng = np.random.default_rng(0)
    x, y = correlated(rng, 100, 1, 1)
    nats = gcmi(x.astype(np.float32), y.astype(np.float32))
    bits = gcmi(x.astype(np.float32), y.astype(np.float32), base=2)
    np.testing.assert_allclose(bits, nats / math.log(2), rtol=1e-6)


# --------------------------------------------------------------------------- #
# Invariances.
# --------------------------------------------------------------------------- #

INCREASING_MAPS = {
    "exp": np.exp,
    "cube_plus": lambda v: v**3 + v,
    "arctan": np.arctan,
    "affine": lambda v: 3.5 * v - 2.0,
    "half_cube": lambda v: v * np.sqrt(np.abs(v)),
}


@pytest.mark.parametrize("name", sorted(INCREASING_MAPS))
def test_exactly_invariant_to_increasing_maps(name, dtype):
    rng = np.random.default_rng(11)
    x, y = correlated(rng, 257, 2, 1)
    f = INCREASING_MAPS[name]
    fx, fy = f(x), f(y)
    # The maps keep the data tie-free (a map can merge close floats; not here).
    for col in np.hstack([fx, fy]).astype(dtype).T:
        assert np.unique(col).size == col.size
    base = gcmi(jnp.asarray(x, dtype), jnp.asarray(y, dtype))
    mapped = gcmi(jnp.asarray(fx, dtype), jnp.asarray(fy, dtype))
    np.testing.assert_array_equal(np.asarray(mapped), np.asarray(base))


def test_decreasing_map_and_permutation(dtype):
    rng = np.random.default_rng(12)
    x, y = correlated(rng, 200, 1, 2)
    base = gcmi(jnp.asarray(x, dtype), jnp.asarray(y, dtype))
    flipped = gcmi(jnp.asarray(-x, dtype), jnp.asarray(np.exp(-y), dtype))
    np.testing.assert_allclose(flipped, base, rtol=tolerance(dtype, f32=1e-4, f64=1e-10))
    # Reordering the samples (the rows) changes nothing but rounding.
    perm = rng.permutation(200)
    shuffled = gcmi(jnp.asarray(x[perm], dtype), jnp.asarray(y[perm], dtype))
    np.testing.assert_allclose(shuffled, base, rtol=tolerance(dtype, f32=1e-4, f64=1e-10))
    # Symmetric in x and y.
    swapped = gcmi(jnp.asarray(y, dtype), jnp.asarray(x, dtype))
    np.testing.assert_allclose(swapped, base, rtol=tolerance(dtype, f32=1e-4, f64=1e-10))


# --------------------------------------------------------------------------- #
# Statistical behaviour over many seeds (one vmap).
# --------------------------------------------------------------------------- #


def _gaussian_pairs(key, n, rho):
    z = jax.random.normal(key, (n, 2))
    return z[:, 0], rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]


def test_bias_correction_under_independence(x64):
    # Independent scalars: the uncorrected estimate -1/2 log(1 - r^2) has mean
    # E[r^2] / 2 + O(1/n^2) = 1/(2 (n - 1)) + O(1/n^2) (r is the correlation of a random
    # pairing of two fixed score vectors); the correction is
    # (psi((n-1)/2) - psi((n-2)/2)) / 2, the same to O(1/n^2). So the corrected mean
    # is 0 and the uncorrected mean is the correction, each within 4 standard errors
    # (the O(1/n^2) ~ 1e-5 remainders are below a tenth of a standard error here).
    n, seeds = 500, 400

    def one(key):
        x, y = _gaussian_pairs(key, n, 0.0)
        return gcmi(x, y), gcmi(x, y, bias_correction=False)

    corrected, raw = map(
        np.asarray, jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(0), seeds))
    )
    correction = 0.5 * (scipy.special.psi((n - 1) / 2) - scipy.special.psi((n - 2) / 2))
    np.testing.assert_allclose(raw - corrected, correction, rtol=1e-9)
    se = corrected.std(ddof=1) / math.sqrt(seeds)
    assert abs(corrected.mean()) <= 4 * se
    assert abs(raw.mean() - correction) <= 4 * se
    assert raw.mean() > 4 * se  # the uncorrected bias is detectable
    # Not clamped: negative estimates are returned as computed.
    assert (corrected < 0).any()


@pytest.mark.slow
def test_gaussian_truth_over_seeds(x64):
    # Jointly Gaussian data after monotone maps: the Gaussian copula holds, and the
    # corrected estimate is unbiased up to the O(1/n) attenuation of the normal-score
    # correlation (measured with 8000 seeds at n = 2000, rho = 0.6: -6e-4 nats, about
    # two thirds of one standard error of the mean of the 200 seeds used here).
    n, seeds, rho = 2000, 200, 0.6
    truth = -0.5 * math.log(1 - rho**2)

    def one(key):
        x, y = _gaussian_pairs(key, n, rho)
        return gcmi(jnp.exp(x), y**3)

    values = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(1), seeds)))
    se = values.std(ddof=1) / math.sqrt(seeds)
    assert abs(values.mean() - truth) <= 4 * se


@pytest.mark.slow
def test_lower_bound_for_a_student_t_copula(x64):
    # A bivariate Student-t (nu = 2) with uncorrelated coordinates is dependent
    # (a common scale), with MI = 2 h(t_2) - h(t_2, bivariate) = 0.083 nats from
    # scipy's entropies; its normal scores are uncorrelated, so the estimate is about 0.
    nu, n, seeds = 2, 1000, 100
    truth = (
        2 * scipy.stats.t(df=nu).entropy()
        - scipy.stats.multivariate_t(shape=np.eye(2), df=nu).entropy()
    )

    def one(key):
        z = jax.random.normal(key, (n, 4))
        w = jnp.sum(z[:, 2:] ** 2, axis=1, keepdims=True) / nu  # chi2_2 / 2
        sample = z[:, :2] / jnp.sqrt(w)
        return gcmi(sample[:, 0], sample[:, 1])

    values = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(2), seeds)))
    se = values.std(ddof=1) / math.sqrt(seeds)
    assert values.mean() + 4 * se < truth
    assert abs(values.mean()) <= 4 * se


# --------------------------------------------------------------------------- #
# Degenerate input.
# --------------------------------------------------------------------------- #


def test_constant_column_adds_nothing(dtype):
    rng = np.random.default_rng(5)
    x, y = correlated(rng, 150, 1, 1)
    with_constant = np.hstack([x, np.full((150, 1), 0.1)])
    base = gcmi(jnp.asarray(x, dtype), jnp.asarray(y, dtype), bias_correction=False)
    got = gcmi(jnp.asarray(with_constant, dtype), jnp.asarray(y, dtype), bias_correction=False)
    assert np.isfinite(got)
    np.testing.assert_allclose(got, base, rtol=tolerance(dtype, f32=1e-5, f64=1e-12))


def test_constant_variable_gives_minus_the_correction(x64):
    # A constant x: the uncorrected estimate is exactly 0, the corrected one is minus
    # the (finite, documented) bias correction.
    rng = np.random.default_rng(6)
    y = rng.normal(size=(80, 1))
    x = np.full((80, 1), 3.0)
    assert float(gcmi(x, y, bias_correction=False)) == 0.0
    n = 80
    correction = 0.5 * (scipy.special.psi((n - 1) / 2) - scipy.special.psi((n - 2) / 2))
    np.testing.assert_allclose(gcmi(x, y), -correction, rtol=1e-10)


# --------------------------------------------------------------------------- #
# Transforms.
# --------------------------------------------------------------------------- #


def test_jit_vmap_and_no_recompile():
    rng = np.random.default_rng(8)
    xs = rng.normal(size=(3, 64, 2)).astype(np.float32)
    ys = (xs[..., :1] + rng.normal(size=(3, 64, 1))).astype(np.float32)
    batched = jax.jit(jax.vmap(eager_gcmi))(xs, ys)
    for i in range(3):
        np.testing.assert_allclose(batched[i], gcmi(xs[i], ys[i]), rtol=1e-5)
    np.testing.assert_allclose(gcmi(xs[0], ys[0]), eager_gcmi(xs[0], ys[0]), rtol=1e-6)
    size = gcmi._cache_size()
    gcmi(xs[1] + 1.0, ys[1])
    assert gcmi._cache_size() == size


def test_gradient_is_zero_and_finite():
    rng = np.random.default_rng(9)
    x = jnp.asarray(rng.normal(size=(50,)), jnp.float32)
    y = x + jnp.asarray(rng.normal(size=(50,)), jnp.float32)
    g = jax.jit(jax.grad(eager_gcmi))(x, y)
    assert g.shape == x.shape
    np.testing.assert_array_equal(g, np.zeros(50, np.float32))


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


def test_bad_input():
    x = np.zeros((10, 2), np.float32) + np.arange(10, dtype=np.float32)[:, None]
    with pytest.raises(ValueError, match="same number of samples, got 10 and 9"):
        gcmi(x, x[:9])
    with pytest.raises(ValueError, match=r"n > d_x \+ d_y = 4"):
        gcmi(x[:4], x[:4])
    with pytest.raises(TypeError, match="same dtype"):
        gcmi(x, x.astype(np.float16))
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        gcmi(np.arange(10), x)
    with pytest.raises(ValueError, match=r"shape \(n,\) or \(n, d\)"):
        gcmi(np.zeros((10, 2, 2), np.float32), x)
    with pytest.raises(TypeError, match="bias_correction must be a Python bool"):
        gcmi(x, x, bias_correction=1)
    with pytest.raises(ValueError, match="base"):
        gcmi(x, x, base=-2.0)
    bad = x.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"y must be finite; y\[\(3, 1\)\] = nan"):
        eager_gcmi(x, bad, validate=True)
    with pytest.raises(ValueError, match=r"y must be finite; y\[\(3, 1\)\] = inf"):
        eager_gcmi(x, np.where(np.isnan(bad), np.inf, bad), validate=True)
    with pytest.raises(TypeError, match="cannot run under jit"):
        jax.jit(functools.partial(eager_gcmi, validate=True))(x, x)
    # Without validation NaN gives NaN (it has no rank), never a finite number.
    assert np.isnan(float(gcmi(x, bad)))
