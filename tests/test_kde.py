"""Tests for itjax._src.kde: KDE entropy and mutual information."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats
from conftest import tolerance
from jax.test_util import check_grads

import itjax

# Tests call jitted functions (one compilation per shape rather than one per
# primitive); `test_jit_equals_eager_and_no_recompile` checks they equal the eager ones.
_STATIC = ("bandwidth", "leave_one_out", "block_size", "base", "validate")
entropy = jax.jit(itjax.kde_entropy, static_argnames=_STATIC)
mutual_information = jax.jit(itjax.kde_mutual_information, static_argnames=_STATIC)

LOG_2PI_E = math.log(2 * math.pi * math.e)


# --------------------------------------------------------------------------- #
# Independent oracles.
# --------------------------------------------------------------------------- #


def scipy_resubstitution_entropy(x, bw_method):
    """-mean log f_hat(x_i) with scipy.stats.gaussian_kde (each point in its own density)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    kde = scipy.stats.gaussian_kde(x.T, bw_method=bw_method)
    return -np.mean(kde.logpdf(x.T))


def numpy_leave_one_out_entropy(x, factor):
    """The leave-one-out estimate by a direct double loop in numpy (float64)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    n, d = x.shape
    cov = factor**2 * np.atleast_2d(np.cov(x, rowvar=False))
    inv = np.linalg.inv(cov)
    norm = 1.0 / math.sqrt((2 * math.pi) ** d * np.linalg.det(cov))
    log_densities = []
    for i in range(n):
        total = 0.0
        for j in range(n):
            if j != i:
                diff = x[i] - x[j]
                total += norm * math.exp(-0.5 * diff @ inv @ diff)
        log_densities.append(math.log(total / (n - 1)))
    return -np.mean(log_densities)


def _expected_log_mean(kernel, weights, n, num_t=301):
    """E log S for S the mean of n - 1 i.i.d. kernel values K(x - Y).

    The law of K(x - Y) is given by its values `kernel` on a quadrature of Y with
    `weights`. Frullani's identity log s = int_0^inf (e^{-t} - e^{-ts}) dt / t and
    independence give E log S = int_0^inf (e^{-t} - M(t)^{n-1}) dt / t with
    M(t) = E exp(-t K / (n - 1)), integrated on a log grid of t.
    """
    t = np.exp(np.linspace(-20.0, 30.0, num_t))
    m_minus_1 = np.expm1(-t[:, None] * kernel[None, :] / (n - 1)) @ weights
    m_minus_1 = np.maximum(m_minus_1, -1.0)  # quadrature rounding where M(t) ~ 0
    with np.errstate(divide="ignore"):  # M(t) = 0: log 0 = -inf, M^(n-1) = 0
        m_power = np.exp((n - 1) * np.log1p(m_minus_1))
    return np.trapezoid(np.exp(-t) - m_power, np.log(t))


def expected_loo_entropy_gaussian(n, h, d):
    """Exact mean of the leave-one-out estimate for N(0, I_d) with the fixed kernel N(0, h^2 I).

    d = 1: Gauss-Hermite nodes for x, a fine grid for Y. d = 2: by rotational
    symmetry E log f_hat(x) depends on r = |x| only (r^2 / 2 ~ Exp(1): Gauss-Laguerre);
    for a fixed x, u = |Y - x| has density u exp(-(r - u)^2 / 2) I_0(r u) on u > 0.
    """
    if d == 1:
        xs, wx = scipy.special.roots_hermitenorm(40)
        wx = wx / math.sqrt(2 * math.pi)
        y = np.linspace(-12, 12, 1601)
        wy = np.exp(-y * y / 2) / math.sqrt(2 * math.pi) * (y[1] - y[0])
        c = 1 / math.sqrt(2 * math.pi * h * h)
        terms = [_expected_log_mean(c * np.exp(-((x - y) ** 2) / (2 * h * h)), wy, n) for x in xs]
        return -np.dot(wx, terms)
    assert d == 2
    s, ws = scipy.special.roots_laguerre(32)
    u = np.linspace(0, 14, 2001)[1:]
    kernel = np.exp(-(u**2) / (2 * h * h)) / (2 * math.pi * h * h)
    terms = [
        _expected_log_mean(
            kernel, u * np.exp(-((r - u) ** 2) / 2) * scipy.special.i0e(r * u) * (u[1] - u[0]), n
        )
        for r in np.sqrt(2 * s)
    ]
    return -np.dot(ws, terms)


def expected_loo_entropy_uniform(n, s):
    """Exact mean of the leave-one-out estimate for U(0, 1) with the fixed kernel N(0, s^2)."""
    xs, wx = scipy.special.roots_legendre(24)
    xs, wx = (xs + 1) / 2, wx / 2
    y = np.linspace(0, 1, 801)
    wy = np.full(y.size, y[1] - y[0])
    wy[[0, -1]] /= 2
    c = 1 / math.sqrt(2 * math.pi * s * s)
    terms = [_expected_log_mean(c * np.exp(-((x - y) ** 2) / (2 * s * s)), wy, n) for x in xs]
    return -np.dot(wx, terms)


def test_quadrature_oracle_against_known_limits():
    # Large n: the mean of f_hat concentrates, E log f_hat -> log (f * K)(x); for the
    # Gaussian the smoothed density is N(0, 1 + h^2), whose cross-entropy with N(0, 1)
    # is 1/2 log(2 pi (1 + h^2)) + 1 / (2 (1 + h^2)) per dimension. The variance bias
    # left at n = 1e7 is below 1e-6; the quadratures are accurate to a few 1e-5, far
    # below the standard errors (~2e-3) of the statistical tests that use them.
    h, n = 0.5, 10**7
    smoothed = 0.5 * math.log(2 * math.pi * (1 + h * h)) + 0.5 / (1 + h * h)
    np.testing.assert_allclose(expected_loo_entropy_gaussian(n, h, 1), smoothed, atol=1e-4)
    np.testing.assert_allclose(expected_loo_entropy_gaussian(n, h, 2), 2 * smoothed, atol=1e-4)
    # Uniform: the smoothed density is g(x) = Phi((1 - x) / s) - Phi(-x / s) on [0, 1];
    # its cross-entropy by scipy's adaptive quadrature.
    s = 500 ** (-1 / 5) / math.sqrt(12)
    g = lambda v: scipy.stats.norm.cdf((1 - v) / s) - scipy.stats.norm.cdf(-v / s)  # noqa: E731
    smoothed = scipy.integrate.quad(lambda v: -math.log(g(v)), 0, 1, limit=200)[0]
    np.testing.assert_allclose(expected_loo_entropy_uniform(n, s), smoothed, atol=1e-4)


# --------------------------------------------------------------------------- #
# Reference values.
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize(
    ("d", "bandwidth"), [(1, "scott"), (2, "silverman"), (3, "scott"), (2, 0.4)]
)
def test_resubstitution_matches_scipy_gaussian_kde(d, bandwidth, dtype):
    rng = np.random.default_rng(d)
    x = rng.normal(size=(150, d)) @ rng.normal(size=(d, d)) + 1.0
    expected = scipy_resubstitution_entropy(x, bandwidth)
    got = entropy(jnp.asarray(x, dtype), bandwidth=bandwidth, leave_one_out=False)
    assert got.dtype == dtype
    np.testing.assert_allclose(got, expected, rtol=tolerance(dtype, f32=2e-5, f64=1e-12))


@pytest.mark.parametrize("d", [1, 2])
def test_leave_one_out_matches_double_loop(d, dtype):
    rng = np.random.default_rng(10 + d)
    x = rng.standard_t(df=4, size=(40, d))
    n = 40
    expected = numpy_leave_one_out_entropy(x, n ** (-1 / (d + 4)))
    got = entropy(jnp.asarray(x, dtype))
    np.testing.assert_allclose(got, expected, rtol=tolerance(dtype, f32=2e-5, f64=1e-12))
    # Silverman's factor and a given factor.
    silverman = (n * (d + 2) / 4) ** (-1 / (d + 4))
    np.testing.assert_allclose(
        entropy(jnp.asarray(x, dtype), bandwidth="silverman"),
        numpy_leave_one_out_entropy(x, silverman),
        rtol=tolerance(dtype, f32=2e-5, f64=1e-12),
    )
    np.testing.assert_allclose(
        entropy(jnp.asarray(x, dtype), bandwidth=0.7),
        numpy_leave_one_out_entropy(x, 0.7),
        rtol=tolerance(dtype, f32=2e-5, f64=1e-12),
    )


def test_block_size_does_not_change_the_result(x64):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(103, 2))
    whole = entropy(x, block_size=103)
    for block in (1, 7):
        np.testing.assert_allclose(entropy(x, block_size=block), whole, rtol=1e-13)


def test_mutual_information_is_the_entropy_combination(x64):
    # Same bandwidth factor (the joint rule) in all three terms.
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 2))
    y = x[:, :1] + rng.normal(size=(60, 1))
    h = 60 ** (-1 / (3 + 4))
    expected = (
        numpy_leave_one_out_entropy(x, h)
        + numpy_leave_one_out_entropy(y, h)
        - numpy_leave_one_out_entropy(np.hstack([x, y]), h)
    )
    np.testing.assert_allclose(mutual_information(x, y), expected, rtol=1e-11)
    np.testing.assert_allclose(mutual_information(x, y, base=2), expected / math.log(2), rtol=1e-11)


def test_base_and_one_dimensional_input():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60,)).astype(np.float32)
    nats = entropy(x)
    np.testing.assert_allclose(entropy(x[:, None]), nats, rtol=1e-6)
    np.testing.assert_allclose(entropy(x, base=2), nats / math.log(2), rtol=1e-6)
    np.testing.assert_allclose(entropy(x, base=10), nats / math.log(10), rtol=1e-6)


# --------------------------------------------------------------------------- #
# Properties.
# --------------------------------------------------------------------------- #


def test_affine_equivariance(dtype):
    # Kernel h^2 Sigma_hat: H(A x + b) = H(x) + log |det A|.
    rng = np.random.default_rng(6)
    x = rng.normal(size=(80, 2))
    a = np.array([[2.0, 0.5], [-0.3, 0.7]])
    rtol = tolerance(dtype, f32=1e-5, f64=1e-11)
    base = entropy(jnp.asarray(x, dtype))
    mapped = entropy(jnp.asarray(x @ a.T + 5.0, dtype))
    np.testing.assert_allclose(mapped, base + math.log(abs(np.linalg.det(a))), rtol=rtol)
    # H(c x) = H(x) + d log |c|; a narrow sample has negative entropy (not clamped).
    narrow = entropy(jnp.asarray(1e-3 * x, dtype))
    np.testing.assert_allclose(narrow, base + 2 * math.log(1e-3), rtol=rtol)
    assert narrow < 0


def test_mutual_information_invariant_to_separate_affine_maps(dtype):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(90, 1))
    y = np.hstack([x + rng.normal(size=(90, 1)), rng.normal(size=(90, 1))])
    base = mutual_information(jnp.asarray(x, dtype), jnp.asarray(y, dtype))
    scaled = mutual_information(
        jnp.asarray(-40.0 * x + 3.0, dtype),
        jnp.asarray(y @ np.array([[0.01, 0.0], [0.3, 5.0]]), dtype),
    )
    np.testing.assert_allclose(scaled, base, rtol=tolerance(dtype, f32=1e-4, f64=1e-10), atol=1e-6)


def test_resubstitution_is_below_leave_one_out():
    # f_resub(x_i) = ((n - 1) f_loo(x_i) + K(0)) / n >= f_loo(x_i), since K(0) is the
    # kernel's peak: resubstitution is biased low relative to leave-one-out, always.
    keys = jax.random.split(jax.random.key(0), 20)
    x = jax.vmap(lambda k: jax.random.normal(k, (50, 2)))(keys)
    loo = jax.vmap(entropy)(x)
    resub = jax.vmap(functools.partial(entropy, leave_one_out=False))(x)
    assert bool(jnp.all(resub < loo))


def test_permutation_invariance(x64):
    rng = np.random.default_rng(8)
    x = rng.normal(size=(70, 2))
    np.testing.assert_allclose(entropy(x[rng.permutation(70)]), entropy(x), rtol=1e-12)


# --------------------------------------------------------------------------- #
# Statistical: truths recovered, with the bias predicted exactly.
# --------------------------------------------------------------------------- #
#
# The leave-one-out estimate has a smoothing bias (order h^2) and a variance bias
# (order 1 / (n h^d)); at n = 500 both are of the size of the sampling error, so a
# test against the truth alone would have no power. For a fixed kernel the mean of
# the estimate is an explicit integral (`expected_loo_entropy_*`, by quadrature).
# The estimator's kernel h^2 Sigma_hat uses the sample covariance instead of the true
# one, which moves the mean by O(1/n): measured with 4000 seeds at n = 500 it is
# 0.0007 (1-D Gaussian), 0.0004 (uniform) and 0.0002 (Gaussian MI) nats, at most
# half of one standard error of the mean of the 200 seeds used here.

N_STAT = 500
SEEDS = 200


def _estimates(sampler, estimator):
    keys = jax.random.split(jax.random.key(42), SEEDS)
    values = jax.jit(jax.vmap(lambda k: estimator(sampler(k))))(keys)
    values = np.asarray(values)
    return values.mean(), values.std(ddof=1) / math.sqrt(SEEDS)


@pytest.mark.slow
def test_gaussian_entropy_recovered(x64):
    h = N_STAT ** (-1 / 5)
    truth = 0.5 * LOG_2PI_E
    expected = expected_loo_entropy_gaussian(N_STAT, h, 1)
    assert expected - truth > 0.005  # the bias is a visible fraction of the tolerance
    mean, se = _estimates(
        lambda k: 3.0 * jax.random.normal(k, (N_STAT, 1)) - 1.0,
        functools.partial(itjax.kde_entropy, block_size=100),
    )
    assert abs(mean - (expected + math.log(3.0))) <= 4 * se


@pytest.mark.slow
def test_uniform_entropy_recovered(x64):
    # U(0, 1): H = 0. Boundary smoothing biases the estimate up by ~0.08 nats at
    # n = 500, 100 standard errors: the quadrature predicts it.
    h = N_STAT ** (-1 / 5)
    expected = expected_loo_entropy_uniform(N_STAT, h / math.sqrt(12))
    mean, se = _estimates(
        lambda k: jax.random.uniform(k, (N_STAT, 1)),
        functools.partial(itjax.kde_entropy, block_size=100),
    )
    assert expected > 50 * se
    assert abs(mean - expected) <= 4 * se


@pytest.mark.slow
def test_gaussian_mutual_information_recovered(x64):
    # For Gaussians, smoothing with h^2 Sigma leaves the MI unchanged, so the bias is the
    # variance bias: 2 b_1 - b_2 with b_d the bias of the d-dimensional entropy term
    # (all terms with the joint factor h = n^(-1/6)).
    rho = 0.6
    truth = -0.5 * math.log(1 - rho**2)
    h = N_STAT ** (-1 / 6)
    bias = 2 * (expected_loo_entropy_gaussian(N_STAT, h, 1) - 0.5 * LOG_2PI_E) - (
        expected_loo_entropy_gaussian(N_STAT, h, 2) - LOG_2PI_E
    )

    def sampler(key):
        z = jax.random.normal(key, (N_STAT, 2))
        return jnp.stack([z[:, 0], rho * z[:, 0] + math.sqrt(1 - rho**2) * z[:, 1]], axis=1)

    mean, se = _estimates(
        sampler,
        lambda v: itjax.kde_mutual_information(v[:, :1], 2.0 * v[:, 1:], block_size=100),
    )
    assert abs(bias) > 3 * se
    assert abs(mean - (truth + bias)) <= 4 * se


# --------------------------------------------------------------------------- #
# Degenerate samples.
# --------------------------------------------------------------------------- #


def test_constant_column():
    # float32: a constant column must give an exactly zero variance there too.
    dtype = jnp.float32
    rng = np.random.default_rng(9)
    x = np.hstack([rng.normal(size=(50, 1)), np.full((50, 1), 0.1)])
    x = jnp.asarray(x, dtype)
    assert float(entropy(x)) == -np.inf
    with pytest.raises(ValueError, match=r"x has a constant column \(x\[:, 1\]\)"):
        itjax.kde_entropy(x, validate=True)
    # In the MI the constant column carries no information and changes nothing.
    y = jnp.asarray(rng.normal(size=(50, 1)), dtype) + x[:, :1]
    base = mutual_information(x[:, :1], y)
    with_constant = mutual_information(x, y)
    assert np.isfinite(with_constant)
    np.testing.assert_allclose(with_constant, base, rtol=tolerance(dtype, f32=1e-5, f64=1e-12))
    # Constant x: the MI is 0 (up to rounding).
    constant = jnp.full((50, 1), 2.0, dtype)
    np.testing.assert_allclose(mutual_information(constant, y), 0.0, atol=1e-5)


def test_collinear_columns(x64):
    rng = np.random.default_rng(10)
    a = rng.normal(size=(60, 1))
    y = rng.normal(size=(60, 1))
    collinear = np.hstack([a, 2.0 * a])
    assert float(entropy(collinear)) == -np.inf
    with pytest.raises(ValueError, match="x has linearly dependent columns.*rank 1 < d = 2"):
        itjax.kde_entropy(collinear, validate=True)
    # y = x: H(X, Y) = -inf and the MI is +inf (its true value for such a pair).
    assert float(mutual_information(a, a)) == np.inf
    # Linearly dependent columns inside x alone: undefined, NaN (documented).
    assert np.isnan(float(mutual_information(collinear, y)))
    with pytest.raises(ValueError, match="x has linearly dependent columns"):
        itjax.kde_mutual_information(collinear, y, validate=True)
    # Fewer samples than dimensions.
    assert float(entropy(rng.normal(size=(3, 4)))) == -np.inf


# --------------------------------------------------------------------------- #
# Memory bound.
# --------------------------------------------------------------------------- #


def test_memory_is_bounded_by_the_block_not_n_squared():
    # Compile only (no run): at n = 200,000 an n x n matrix would take 149 GiB in
    # float32; the tiled log-sum-exp needs a few (block_size, n) arrays.
    n, d = 200_000, 3
    spec = jax.ShapeDtypeStruct((n, d), jnp.float32)
    for block in (None, 64):
        compiled = jax.jit(functools.partial(itjax.kde_entropy, block_size=block)).lower(spec)
        temp = compiled.compile().memory_analysis().temp_size_in_bytes
        rows = block if block is not None else max(1, 2**20 // n)  # the documented default
        bound = 4 * (3 * rows * n + 16 * n * d)
        assert temp <= bound, (block, temp, bound)
        assert temp < 1e-3 * n * n * 4


# --------------------------------------------------------------------------- #
# Transforms and gradients.
# --------------------------------------------------------------------------- #


def test_jit_equals_eager_and_no_recompile():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(32, 2)).astype(np.float32)
    np.testing.assert_allclose(entropy(x), itjax.kde_entropy(x), rtol=1e-6)
    jitted = jax.jit(functools.partial(itjax.kde_entropy, bandwidth="silverman"))
    jitted(x)
    size = jitted._cache_size()
    jitted(x + 1.0)
    assert jitted._cache_size() == size


def test_vmap_equals_loop():
    xs = jax.random.normal(jax.random.key(1), (4, 40, 2))
    batched = jax.vmap(entropy)(xs)
    for i in range(4):
        np.testing.assert_allclose(batched[i], entropy(xs[i]), rtol=1e-5)


def test_gradients(x64):
    # With respect to the samples and to a traced bandwidth factor (d/dh of the
    # leave-one-out log-likelihood is the classic bandwidth selection objective).
    rng = np.random.default_rng(12)
    x = jnp.asarray(rng.normal(size=(12, 2)))
    h = jnp.asarray(0.5)
    f = jax.jit(lambda v, h: itjax.kde_entropy(v, bandwidth=h, block_size=5))
    check_grads(f, (x, h), order=1, modes=["rev"])
    # Finite gradients at the degenerate point (a constant column, entropy -inf).
    value, vjp = jax.vjp(f, x.at[:, 1].set(0.3), h)
    assert float(value) == -np.inf
    g_x, g_h = vjp(jnp.ones_like(value))
    assert bool(jnp.all(jnp.isfinite(g_x))) and bool(jnp.isfinite(g_h))


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


def test_bad_input():
    x = np.random.default_rng(13).normal(size=(20, 2)).astype(np.float32)
    for bad in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="bandwidth must be a positive finite number"):
            itjax.kde_entropy(x, bandwidth=bad)
    with pytest.raises(ValueError, match="bandwidth must be a positive finite number"):
        itjax.kde_entropy(x, bandwidth=jnp.asarray(-0.5))
    with pytest.raises(ValueError, match="bandwidth must be 'scott', 'silverman'.*got 'normal'"):
        itjax.kde_entropy(x, bandwidth="normal")
    with pytest.raises(TypeError, match="bandwidth"):
        itjax.kde_entropy(x, bandwidth=True)
    with pytest.raises(ValueError, match="bandwidth must be a scalar"):
        itjax.kde_entropy(x, bandwidth=jnp.ones(2))
    with pytest.raises(ValueError, match="at least 2 samples"):
        itjax.kde_entropy(x[:1])
    with pytest.raises(ValueError, match="same number of samples, got 20 and 19"):
        itjax.kde_mutual_information(x, x[:19])
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        itjax.kde_entropy(np.arange(10))
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        itjax.kde_entropy(x, block_size=0)
    with pytest.raises(TypeError, match="leave_one_out must be a Python bool"):
        itjax.kde_entropy(x, leave_one_out=1)
    with pytest.raises(ValueError, match="base"):
        itjax.kde_entropy(x, base=1)
    bad = x.copy()
    bad[4, 0] = np.nan
    with pytest.raises(ValueError, match=r"x must be finite; x\[\(4, 0\)\] = nan"):
        itjax.kde_entropy(bad, validate=True)
    bad[4, 0] = -np.inf
    with pytest.raises(ValueError, match=r"y must be finite; y\[\(4, 0\)\] = -inf"):
        itjax.kde_mutual_information(x, bad, validate=True)
    with pytest.raises(TypeError, match="cannot run under jit"):
        jax.jit(functools.partial(itjax.kde_entropy, validate=True))(x)
    # Without validation, non-finite samples give NaN, never a finite number or -inf.
    assert np.isnan(float(entropy(bad)))
    bad[4, 0] = np.nan
    assert np.isnan(float(entropy(bad)))
    assert np.isnan(float(mutual_information(x, bad)))
    # A valid input passes validation and gives the unvalidated value.
    np.testing.assert_allclose(itjax.kde_entropy(x, validate=True), entropy(x), rtol=1e-6)
