"""Tests of the Gaussian closed forms against scipy, numpy, closed forms and Monte Carlo."""

import contextlib
import decimal
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tolerance
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy import integrate, stats

import itjax
from itjax._src import normal as normal_module

# --------------------------------------------------------------------------- #
# Helpers (numpy, float64): independent oracles and test matrices.
# --------------------------------------------------------------------------- #


def random_spd(rng, d, *, batch=()):
    """A well-conditioned random SPD matrix (Wishart-like), float64."""
    a = rng.normal(size=(*batch, d, 2 * d))
    return a @ np.swapaxes(a, -1, -2) / (2 * d) + 0.1 * np.eye(d)


def np_mutual_information(cov, s):
    """½ (log det Σx + log det Σy − log det Σ) by numpy's LU-based slogdet, float64."""
    cov = np.asarray(cov, dtype=np.float64)
    logdet = lambda m: np.linalg.slogdet(m)[1]
    return 0.5 * (logdet(cov[..., :s, :s]) + logdet(cov[..., s:, s:]) - logdet(cov))


def paired_covariance(rng, rho, *, mix=True):
    """Covariance of (X, Y) with X_i, Y_i correlated by rho_i, mixed within each block.

    I(X; Y) = −½ Σ log(1 − ρ_i²) exactly, and stays so under any invertible linear map
    applied to X alone and to Y alone.
    """
    k = len(rho)
    corr = np.eye(2 * k)
    corr[np.arange(k), k + np.arange(k)] = rho
    corr[k + np.arange(k), np.arange(k)] = rho
    if not mix:
        return corr
    block = lambda: np.linalg.qr(rng.normal(size=(k, k)))[0] * rng.uniform(0.5, 2.0, size=k)
    a = np.zeros((2 * k, 2 * k))
    a[:k, :k] = block()
    a[k:, k:] = block()
    return a @ corr @ a.T


@contextlib.contextmanager
def warnings_as_records():
    """Collect warnings and log records of jax's compile log without failing the test."""
    import logging

    records = []

    class Handler(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Handler()
    logger = logging.getLogger("jax")
    logger.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield records
    finally:
        logger.removeHandler(handler)


# --------------------------------------------------------------------------- #
# gaussian_mutual_information
# --------------------------------------------------------------------------- #


def test_mutual_information_of_correlated_pairs_is_closed_form(dtype):
    rho = np.array([0.0, 0.3, -0.6, 0.9, 0.999])
    cov = jnp.asarray(paired_covariance(np.random.default_rng(0), rho), dtype=dtype)
    truth = -0.5 * np.sum(np.log1p(-(rho**2)))
    # The oracle for the rounded input: numpy slogdet in float64 on the same matrix.
    oracle = np_mutual_information(np.asarray(cov), 5)
    result = itjax.gaussian_mutual_information(cov, 5)
    assert result.dtype == dtype
    np.testing.assert_allclose(oracle, truth, rtol=1e-9 if dtype == jnp.float64 else 1e-3)
    rtol = 1e-10 if dtype == jnp.float64 else 1e-4
    np.testing.assert_allclose(result, oracle, rtol=rtol)


def test_mutual_information_dimension_100_correlations_up_to_0999(dtype):
    """Stable where det Σ underflows: 50 pairs with ρ up to 0.999, mixed within blocks."""
    rng = np.random.default_rng(1)
    rho = np.concatenate([np.linspace(0.0, 0.9, 10), np.linspace(0.95, 0.999, 40)])
    rho = rho * np.where(np.arange(50) % 2, 1.0, -1.0)
    # det R = Π(1 − ρ²) ≈ 1e-50: a naive determinant underflows to 0 in float32.
    corr32 = paired_covariance(rng, rho, mix=False).astype(np.float32)
    with np.errstate(under="ignore"):
        assert np.linalg.det(corr32) == 0.0
    cov = jnp.asarray(paired_covariance(rng, rho), dtype=dtype)
    truth = -0.5 * np.sum(np.log1p(-(rho**2)))
    result = itjax.gaussian_mutual_information(cov, 50)
    assert np.isfinite(result)
    if dtype == jnp.float64:
        np.testing.assert_allclose(result, truth, rtol=1e-10)
    else:
        # Rounding the input to float32 moves the exact answer; compare with the exact
        # answer for the rounded input (float64 slogdet), to a first-order bound
        # d · eps · cond(R) on the error of a Cholesky log-determinant.
        oracle = np_mutual_information(np.asarray(cov), 50)
        std = np.sqrt(np.diag(np.asarray(cov, dtype=np.float64)))
        corr = np.asarray(cov, dtype=np.float64) / np.outer(std, std)
        bound = 100 * np.finfo(np.float32).eps * np.linalg.cond(corr)
        assert abs(float(result) - oracle) <= bound
        assert abs(float(result) - truth) / truth < 1e-3


def test_mutual_information_matches_numpy_slogdet_on_random_covariances(dtype):
    rng = np.random.default_rng(2)
    cov = random_spd(rng, 7, batch=(3, 4))
    result = itjax.gaussian_mutual_information(jnp.asarray(cov, dtype=dtype), 3)
    assert result.shape == (3, 4)
    np.testing.assert_allclose(
        result, np_mutual_information(cov, 3), rtol=100 * tolerance(dtype), atol=0
    )


def test_mutual_information_index_pair_equals_reordered_split():
    rng = np.random.default_rng(3)
    cov = jnp.asarray(random_spd(rng, 6))
    x_idx, y_idx = [4, 0], [5, 2, 1]
    order = np.array(x_idx + y_idx)
    reordered = cov[order[:, None], order[None, :]]
    np.testing.assert_allclose(
        itjax.gaussian_mutual_information(cov, (x_idx, y_idx)),
        itjax.gaussian_mutual_information(reordered, 2),
        rtol=1e-6,
    )
    # Symmetry I(X; Y) = I(Y; X).
    np.testing.assert_allclose(
        itjax.gaussian_mutual_information(cov, (y_idx, x_idx)),
        itjax.gaussian_mutual_information(cov, (x_idx, y_idx)),
        rtol=1e-5,
    )
    # Coordinate 3 is left out: the MI of the marginal of the other five.
    keep = np.array([0, 1, 2, 4, 5])
    marginal = cov[keep[:, None], keep[None, :]]
    np.testing.assert_allclose(
        itjax.gaussian_mutual_information(cov, ([0, 1], [2, 4, 5])),
        np_mutual_information(np.asarray(marginal), 2),
        rtol=1e-5,
    )


def test_mutual_information_base_and_independence():
    cov = paired_covariance(np.random.default_rng(4), np.array([0.5, 0.8]))
    nats = itjax.gaussian_mutual_information(cov, 2)
    np.testing.assert_allclose(
        itjax.gaussian_mutual_information(cov, 2, base=2), nats / math.log(2), rtol=1e-6
    )
    independent = np.diag([1.0, 2.0, 3.0])
    assert float(itjax.gaussian_mutual_information(independent, 1)) == 0.0


@given(
    seed=st.integers(0, 2**31 - 1),
    log_scale=st.lists(st.floats(-3.0, 3.0), min_size=5, max_size=5),
)
def test_mutual_information_invariant_to_invertible_maps_within_blocks(seed, log_scale):
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        cov = random_spd(rng, 5)
        # Positive scaling of each coordinate, then an invertible map within each block.
        a = np.zeros((5, 5))
        a[:2, :2] = rng.normal(size=(2, 2)) + 3 * np.eye(2)
        a[2:, 2:] = rng.normal(size=(3, 3)) + 3 * np.eye(3)
        a = a * np.exp(np.asarray(log_scale))[None, :]
        mapped = a @ cov @ a.T
        base_mi = itjax.gaussian_mutual_information(cov, 2)
        assert float(base_mi) >= 0.0
        np.testing.assert_allclose(
            itjax.gaussian_mutual_information(mapped, 2), base_mi, rtol=1e-8, atol=1e-12
        )
        # Pure per-coordinate scaling is exact up to rounding of the standardization.
        scale = np.exp(np.asarray(log_scale))
        np.testing.assert_allclose(
            itjax.gaussian_mutual_information(cov * np.outer(scale, scale), 2),
            base_mi,
            rtol=1e-12,
            atol=1e-14,
        )


def test_mutual_information_transforms(dtype):
    rng = np.random.default_rng(5)
    covs = jnp.asarray(random_spd(rng, 4, batch=(6,)), dtype=dtype)
    f = lambda c: itjax.gaussian_mutual_information(c, 2)
    eager, jitted = f(covs), jax.jit(f)
    np.testing.assert_allclose(jitted(covs), eager, rtol=10 * tolerance(dtype))
    np.testing.assert_allclose(
        jax.vmap(f)(covs), np.stack([jitted(c) for c in covs]), rtol=10 * tolerance(dtype)
    )


def test_mutual_information_bad_input():
    cov = np.eye(4)
    with pytest.raises(ValueError, match=r"cov must be a square .* got shape \(4, 3\)"):
        itjax.gaussian_mutual_information(np.ones((4, 3)), 2)
    with pytest.raises(TypeError, match="cov must have a floating dtype"):
        itjax.gaussian_mutual_information(jnp.eye(4, dtype=jnp.int32), 2)
    with pytest.raises(ValueError, match=r"split must be an int in \[1, 3\].*got 4"):
        itjax.gaussian_mutual_information(cov, 4)
    with pytest.raises(ValueError, match="split must be an int.*got 0"):
        itjax.gaussian_mutual_information(cov, 0)
    with pytest.raises(ValueError, match="overlap"):
        itjax.gaussian_mutual_information(cov, ([0, 1], [1, 2]))
    with pytest.raises(ValueError, match="out of range"):
        itjax.gaussian_mutual_information(cov, ([0], [7]))
    with pytest.raises(TypeError, match="split"):
        itjax.gaussian_mutual_information(cov, 1.5)
    with pytest.raises(TypeError, match="split.*traced"):
        jax.jit(itjax.gaussian_mutual_information)(cov, 2)
    with pytest.raises(ValueError, match="base"):
        itjax.gaussian_mutual_information(cov, 2, base=1)
    not_pd = np.array([[1.0, 2.0], [2.0, 1.0]])
    # The fast path reports a failed factorization by NaN; validate=True names it.
    assert np.isnan(itjax.gaussian_mutual_information(not_pd, 1))
    with pytest.raises(ValueError, match="cov must be positive definite"):
        itjax.gaussian_mutual_information(not_pd, 1, validate=True)
    with pytest.raises(ValueError, match=r"cov must be a symmetric matrix.*batch index \(1,\)"):
        itjax.gaussian_mutual_information(
            np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]), 1, validate=True
        )
    with pytest.raises(ValueError, match="finite"):
        itjax.gaussian_mutual_information(np.full((2, 2), np.nan), 1, validate=True)


# --------------------------------------------------------------------------- #
# Entropy.
# --------------------------------------------------------------------------- #


def test_entropy_matches_scipy(dtype):
    rng = np.random.default_rng(10)
    cov = jnp.asarray(random_spd(rng, 6, batch=(3,)), dtype=dtype)
    expected = [stats.multivariate_normal(cov=np.asarray(c, np.float64)).entropy() for c in cov]
    result = itjax.gaussian_entropy(cov)
    assert result.dtype == dtype and result.shape == (3,)
    np.testing.assert_allclose(result, expected, rtol=tolerance(dtype))
    var = jnp.asarray(rng.uniform(0.01, 5.0, size=(4, 5)), dtype=dtype)
    scale = np.sqrt(np.asarray(var, np.float64))
    np.testing.assert_allclose(
        itjax.normal_entropy(var), stats.norm(scale=scale).entropy(), rtol=tolerance(dtype)
    )
    np.testing.assert_allclose(
        itjax.diag_gaussian_entropy(var),
        stats.norm(scale=scale).entropy().sum(-1),
        rtol=tolerance(dtype),
    )
    np.testing.assert_allclose(
        itjax.diag_gaussian_entropy(var.T, axis=0), itjax.diag_gaussian_entropy(var), rtol=1e-6
    )
    diagonal = jnp.zeros((4, 5, 5), dtype).at[:, np.arange(5), np.arange(5)].set(var)
    np.testing.assert_allclose(
        itjax.gaussian_entropy(diagonal), itjax.diag_gaussian_entropy(var), rtol=tolerance(dtype)
    )


def test_entropy_hand_worked_numbers():
    """The corrected numbers of the background errata."""
    np.testing.assert_allclose(itjax.normal_entropy(0.25), 0.7258, atol=5e-5)
    np.testing.assert_allclose(itjax.normal_entropy(0.45), 1.0197, atol=5e-5)
    np.testing.assert_allclose(itjax.normal_entropy(1.0), 1.4189, atol=5e-5)
    np.testing.assert_allclose(itjax.gaussian_entropy(np.eye(3)), 3 * 1.4189, atol=2e-4)
    # Differential entropy is negative for a narrow Gaussian: ½ log(2πe · 0.01) = −0.8837.
    np.testing.assert_allclose(itjax.normal_entropy(0.01), -0.88365, atol=5e-5)
    np.testing.assert_allclose(
        itjax.normal_entropy(1.0, base=2), 0.5 * math.log2(2 * math.pi * math.e), rtol=1e-6
    )


@given(seed=st.integers(0, 2**31 - 1))
def test_entropy_shifts_by_log_abs_det_under_linear_maps(seed):
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        cov = random_spd(rng, 4)
        a = rng.normal(size=(4, 4)) + 2 * np.eye(4)
        shift = np.linalg.slogdet(a)[1]
        np.testing.assert_allclose(
            itjax.gaussian_entropy(a @ cov @ a.T),
            itjax.gaussian_entropy(cov) + shift,
            rtol=1e-9,
            atol=1e-9,
        )


def test_entropy_monte_carlo(x64):
    """h = −E[log p(X)] within 4 standard errors, X drawn by numpy, log p by scipy."""
    rng = np.random.default_rng(11)
    mean, cov = rng.normal(size=3), random_spd(rng, 3)
    x = rng.multivariate_normal(mean, cov, size=20_000)
    neg_log_p = -stats.multivariate_normal(mean, cov).logpdf(x)
    se = neg_log_p.std(ddof=1) / math.sqrt(len(x))
    assert abs(float(itjax.gaussian_entropy(cov)) - neg_log_p.mean()) < 4 * se


# --------------------------------------------------------------------------- #
# KL and cross-entropy.
# --------------------------------------------------------------------------- #


def np_gaussian_kl(mean_p, cov_p, mean_q, cov_q):
    """The textbook formula with inv and slogdet, float64."""
    inv_q = np.linalg.inv(cov_q)
    diff = mean_q - mean_p
    return 0.5 * (
        np.trace(inv_q @ cov_p)
        + diff @ inv_q @ diff
        - len(mean_p)
        + np.linalg.slogdet(cov_q)[1]
        - np.linalg.slogdet(cov_p)[1]
    )


def two_gaussians(rng, d, *, batch=()):
    return (
        rng.normal(size=(*batch, d)),
        random_spd(rng, d, batch=batch),
        rng.normal(size=(*batch, d)),
        random_spd(rng, d, batch=batch),
    )


def test_kl_matches_textbook_formula(dtype):
    rng = np.random.default_rng(20)
    params = [jnp.asarray(a, dtype=dtype) for a in two_gaussians(rng, 5, batch=(4,))]
    expected = [np_gaussian_kl(*(np.asarray(a[i], np.float64) for a in params)) for i in range(4)]
    result = itjax.gaussian_kl(*params)
    assert result.dtype == dtype and result.shape == (4,)
    # Well-conditioned covariances (cond < 30): rounding error about d · cond · eps.
    np.testing.assert_allclose(result, expected, rtol=100 * tolerance(dtype))
    entropy = itjax.gaussian_entropy(params[1])
    np.testing.assert_allclose(
        itjax.gaussian_cross_entropy(*params), entropy + result, rtol=10 * tolerance(dtype)
    )


def test_kl_diagonal_and_univariate_forms_agree_with_full(dtype):
    rng = np.random.default_rng(21)
    m_p, m_q = rng.normal(size=(2, 3, 4))
    v_p, v_q = rng.uniform(0.1, 3.0, size=(2, 3, 4))
    cast = lambda a: jnp.asarray(a, dtype=dtype)
    diag = lambda v: cast(np.einsum("bi,ij->bij", v, np.eye(4)))
    full = itjax.gaussian_kl(cast(m_p), diag(v_p), cast(m_q), diag(v_q))
    rtol = 10 * tolerance(dtype)
    np.testing.assert_allclose(
        itjax.diag_gaussian_kl(cast(m_p), cast(v_p), cast(m_q), cast(v_q)), full, rtol=rtol
    )
    np.testing.assert_allclose(
        itjax.normal_kl(cast(m_p), cast(v_p), cast(m_q), cast(v_q)).sum(-1), full, rtol=rtol
    )
    np.testing.assert_allclose(
        itjax.diag_gaussian_cross_entropy(cast(m_p), cast(v_p), cast(m_q), cast(v_q)),
        itjax.gaussian_cross_entropy(cast(m_p), diag(v_p), cast(m_q), diag(v_q)),
        rtol=rtol,
    )


def test_univariate_forms_match_numerical_integration(x64):
    """KL and cross-entropy of 1-D normals against scipy.integrate.quad of their integrals."""
    for m_p, v_p, m_q, v_q in [(0.0, 1.0, 1.0, 2.0), (-0.3, 0.2, 0.5, 0.7), (2.0, 4.0, 0.0, 1.0)]:
        p, q = stats.norm(m_p, math.sqrt(v_p)), stats.norm(m_q, math.sqrt(v_q))
        lo, hi = m_p - 30 * math.sqrt(v_p), m_p + 30 * math.sqrt(v_p)
        kl = integrate.quad(lambda x, p=p, q=q: p.pdf(x) * (p.logpdf(x) - q.logpdf(x)), lo, hi)[0]
        cross = integrate.quad(lambda x, p=p, q=q: -p.pdf(x) * q.logpdf(x), lo, hi)[0]
        np.testing.assert_allclose(itjax.normal_kl(m_p, v_p, m_q, v_q), kl, rtol=1e-9)
        np.testing.assert_allclose(itjax.normal_cross_entropy(m_p, v_p, m_q, v_q), cross, rtol=1e-9)


def exact_t_minus_log1p(t: float) -> float:
    """t − log(1 + t) in 60-digit decimal arithmetic for the float t."""
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        t = decimal.Decimal(t)
        return float(t - (1 + t).ln())


def test_t_minus_log1p_is_accurate_near_zero_and_far(dtype):
    ts = np.array(
        [-0.999, -0.5, -0.2500001, -0.25, -0.1, -1e-3, -1e-6, -1e-9, 0.0, 1e-12, 1e-7, 1e-4]
        + [0.01, 0.24999, 0.25, 0.3, 1.0, 7.5, 1e3, 1e12]
    )
    ts = np.asarray(ts.astype(dtype), np.float64)  # exactly representable in dtype
    expected = np.array([exact_t_minus_log1p(t) for t in ts])
    f = jax.jit(normal_module._t_minus_log1p)
    result = f(jnp.asarray(ts, dtype=dtype))
    # A few ulps: 16 eps relative at worst (the direct form at |t| = 1/4).
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(result, expected, rtol=32 * eps, atol=0)
    assert f(jnp.asarray(jnp.inf, dtype)) == jnp.inf
    grad = jax.jit(jax.grad(normal_module._t_minus_log1p))(jnp.asarray(1e-3, dtype))
    np.testing.assert_allclose(grad, 1e-3 / (1 + 1e-3), rtol=1e-5)


def test_kl_between_nearly_equal_normals_keeps_relative_precision(dtype):
    """σ_q² = σ_p² (1 + ε): the KL ≈ ε²/4 keeps a few ulps of relative precision."""
    eps = np.finfo(dtype).eps
    var_p = np.asarray(1.3, dtype)
    for gap in (0.3, 1.7e-2, 3.1e-3, 4.3e-5, 2.9e-6, 3.3e-9, 7.7e-13):
        var_q = np.asarray(1.3 * (1 + gap), dtype)
        if var_q == var_p:
            continue
        with decimal.localcontext() as ctx:
            ctx.prec = 60
            r = decimal.Decimal(float(var_p)) / decimal.Decimal(float(var_q))
            exact = float((r - 1 - r.ln()) / 2)
        result = itjax.normal_kl(jnp.zeros((), dtype), var_p, jnp.zeros((), dtype), var_q)
        np.testing.assert_allclose(result, exact, rtol=16 * eps, atol=0, err_msg=str(gap))


def test_full_kl_between_nearly_equal_gaussians(x64):
    """Σ_q = c Σ_p: KL = ½ d (1/c − 1 + log c). The error stays near eps · cond / (c − 1)."""
    rng = np.random.default_rng(22)
    a = rng.integers(-3, 4, size=(6, 12)).astype(np.float64)
    cov = a @ a.T + np.eye(6)  # small integers: c · cov is exact in float64
    mean = rng.normal(size=6)
    eps64 = np.finfo(np.float64).eps
    for k in (10, 20, 30):
        c = 1.0 + 2.0**-k
        exact = 0.5 * 6 * exact_t_minus_log1p(1.0 / c - 1.0)
        result = float(itjax.gaussian_kl(mean, cov, mean, c * cov))
        bound = 6 * eps64 * np.linalg.cond(cov) / (c - 1)
        assert abs(result - exact) <= bound * exact
        naive = np_gaussian_kl(mean, cov, mean, c * cov)
        if k == 30:
            assert abs(naive - exact) > bound * exact  # the textbook formula fails it
    # KL(p‖p) is zero up to squared rounding.
    assert 0.0 <= float(itjax.gaussian_kl(mean, cov, mean, cov)) < 1e-25


def test_kl_and_cross_entropy_monte_carlo(x64):
    """KL = E_p[log p − log q] and H(p, q) = −E_p[log q] within 4 standard errors."""
    rng = np.random.default_rng(23)
    mean_p, cov_p, mean_q, cov_q = two_gaussians(rng, 3)
    cov_q = cov_q + np.eye(3)  # keep the log-ratio's variance moderate
    x = rng.multivariate_normal(mean_p, cov_p, size=20_000)
    log_p = stats.multivariate_normal(mean_p, cov_p).logpdf(x)
    log_q = stats.multivariate_normal(mean_q, cov_q).logpdf(x)
    for value, samples in [
        (itjax.gaussian_kl(mean_p, cov_p, mean_q, cov_q), log_p - log_q),
        (itjax.gaussian_cross_entropy(mean_p, cov_p, mean_q, cov_q), -log_q),
    ]:
        se = samples.std(ddof=1) / math.sqrt(len(x))
        assert abs(float(value) - samples.mean()) < 4 * se


@given(seed=st.integers(0, 2**31 - 1))
def test_kl_properties(seed):
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        mean_p, cov_p, mean_q, cov_q = two_gaussians(rng, 3)
        kl = float(itjax.gaussian_kl(mean_p, cov_p, mean_q, cov_q))
        assert kl >= 0.0
        assert float(itjax.gaussian_kl(mean_p, cov_p, mean_p, cov_p)) < 1e-25
        # Invariance under the same invertible affine map of both Gaussians.
        a = rng.normal(size=(3, 3)) + 2 * np.eye(3)
        b = rng.normal(size=3)
        mapped = itjax.gaussian_kl(a @ mean_p + b, a @ cov_p @ a.T, a @ mean_q + b, a @ cov_q @ a.T)
        np.testing.assert_allclose(mapped, kl, rtol=1e-8, atol=1e-12)
        cross = float(itjax.gaussian_cross_entropy(mean_p, cov_p, mean_q, cov_q))
        assert cross >= float(itjax.gaussian_entropy(cov_p))
        np.testing.assert_allclose(
            itjax.gaussian_kl(mean_p, cov_p, mean_q, cov_q, base=2), kl / math.log(2), rtol=1e-12
        )


def test_vae_kl(dtype):
    """The errata example and the closed form ½ Σ (μ² + σ² − 1 − log σ²)."""
    mean = jnp.full((20,), 0.5, dtype)
    log_var = jnp.full((20,), math.log(1.44), dtype)
    np.testing.assert_allclose(itjax.vae_kl(mean, log_var), 3.2536, atol=5e-5)
    rng = np.random.default_rng(24)
    mu, lv = rng.normal(size=(2, 8, 16))
    expected = 0.5 * np.sum(mu**2 + np.exp(lv) - 1 - lv, axis=-1)
    result = itjax.vae_kl(jnp.asarray(mu, dtype), jnp.asarray(lv, dtype))
    assert result.shape == (8,) and result.dtype == dtype
    np.testing.assert_allclose(result, expected, rtol=10 * tolerance(dtype))
    np.testing.assert_allclose(
        itjax.vae_kl(jnp.asarray(mu, dtype), jnp.asarray(lv, dtype)),
        itjax.diag_gaussian_kl(
            jnp.asarray(mu, dtype), jnp.exp(jnp.asarray(lv, dtype)), jnp.zeros((), dtype), 1.0
        ),
        rtol=10 * tolerance(dtype),
    )
    # A collapsed posterior: log σ² = 1e-6 gives KL = ½ (expm1(1e-6) − 1e-6) ≈ 2.5e-13 per
    # coordinate, kept to full relative precision.
    tiny = itjax.vae_kl(jnp.zeros(1, dtype), jnp.full((1,), 1e-6, dtype))
    lv_exact = float(jnp.asarray(1e-6, dtype))
    np.testing.assert_allclose(tiny, 0.5 * (math.expm1(lv_exact) - lv_exact), rtol=1e-5)


# --------------------------------------------------------------------------- #
# Fisher information.
# --------------------------------------------------------------------------- #


def test_fisher_information_is_the_inverse_covariance(dtype):
    rng = np.random.default_rng(30)
    cov = random_spd(rng, 5, batch=(2,))
    fisher = itjax.gaussian_fisher_information(jnp.asarray(cov, dtype))
    assert fisher.shape == (2, 5, 5)
    np.testing.assert_allclose(fisher, np.linalg.inv(cov), rtol=100 * tolerance(dtype), atol=0)


def test_fisher_is_the_curvature_of_kl(x64):
    """KL(p_θ ‖ p_θ+δ) ≈ ½ δᵀ F δ, and the Hessian of the KL at δ = 0 is F."""
    rng = np.random.default_rng(31)
    mean, cov = rng.normal(size=4), random_spd(rng, 4)
    fisher = itjax.gaussian_fisher_information(cov)
    delta = 1e-2 * rng.normal(size=4)
    # For the mean the relation is exact.
    np.testing.assert_allclose(
        itjax.gaussian_kl(mean, cov, mean + delta, cov), 0.5 * delta @ fisher @ delta, rtol=1e-12
    )
    hessian = jax.jit(jax.hessian(lambda d: itjax.gaussian_kl(mean, cov, mean + d, cov)))(
        np.zeros(4)
    )
    np.testing.assert_allclose(hessian, fisher, rtol=1e-10)
    # Diagonal Gaussian in θ = (μ, σ²): with s = δ_v / σ², the exact KL of a variance step
    # is s²/4 − s³/3 + O(s⁴), so the ratio to ½ δᵀFδ = s²/4 is 1 − 4s/3 + O(s²).
    var = rng.uniform(0.5, 2.0, size=4)
    info = itjax.diag_gaussian_fisher_information(var)
    np.testing.assert_allclose(info.mean, 1 / var, rtol=1e-14)
    np.testing.assert_allclose(info.var, 1 / (2 * var**2), rtol=1e-14)
    s = 1e-3
    kl = itjax.diag_gaussian_kl(mean, var, mean, var * (1 + s))
    quadratic = 0.5 * np.sum(info.var * (s * var) ** 2)
    assert abs(float(kl) / quadratic - 1) <= 2 * s
    theta = np.concatenate([mean, var])
    kl_theta = lambda th: itjax.diag_gaussian_kl(mean, var, th[:4], th[4:])
    np.testing.assert_allclose(
        jax.jit(jax.hessian(kl_theta))(theta),
        np.diag(np.concatenate([info.mean, info.var])),
        rtol=1e-10,
        atol=1e-12,
    )


# --------------------------------------------------------------------------- #
# Transforms, gradients, bad input.
# --------------------------------------------------------------------------- #


def _all_forms(rng, dtype):
    """(name, function of arrays, batched arguments) for every Gaussian quantity."""
    cast = lambda a: jnp.asarray(a, dtype)
    m_p, c_p, m_q, c_q = (cast(a) for a in two_gaussians(rng, 3, batch=(3,)))
    m, v_p, v_q = (cast(a) for a in rng.uniform(0.2, 2.0, size=(3, 3, 3)))
    return [
        ("gaussian_entropy", itjax.gaussian_entropy, (c_p,)),
        ("gaussian_kl", itjax.gaussian_kl, (m_p, c_p, m_q, c_q)),
        ("gaussian_cross_entropy", itjax.gaussian_cross_entropy, (m_p, c_p, m_q, c_q)),
        ("gaussian_fisher_information", itjax.gaussian_fisher_information, (c_p,)),
        ("diag_gaussian_entropy", itjax.diag_gaussian_entropy, (v_p,)),
        ("diag_gaussian_kl", itjax.diag_gaussian_kl, (m, v_p, m_q, v_q)),
        ("diag_gaussian_cross_entropy", itjax.diag_gaussian_cross_entropy, (m, v_p, m_q, v_q)),
        ("normal_kl", itjax.normal_kl, (m, v_p, m_q, v_q)),
        ("vae_kl", itjax.vae_kl, (m, v_p)),
    ]


def test_jit_equals_eager_and_vmap_equals_loop():
    dtype = jnp.float32
    for name, f, args in _all_forms(np.random.default_rng(40), dtype):
        eager = f(*args)
        jitted = jax.jit(f)
        rtol = 10 * tolerance(dtype)
        np.testing.assert_allclose(jitted(*args), eager, rtol=rtol, err_msg=name)
        loop = np.stack([jitted(*(a[i] for a in args)) for i in range(len(args[0]))])
        np.testing.assert_allclose(jax.jit(jax.vmap(f))(*args), loop, rtol=rtol, err_msg=name)
        assert eager.dtype == dtype, name


def test_no_recompilation_for_new_data():
    f = jax.jit(itjax.gaussian_kl)
    rng = np.random.default_rng(41)
    f(*(jnp.asarray(a, jnp.float32) for a in two_gaussians(rng, 3)))
    with jax.log_compiles(True), warnings_as_records() as records:
        f(*(jnp.asarray(a, jnp.float32) for a in two_gaussians(rng, 3)))
    assert not [r for r in records if "Compiling" in str(r.message)]


def test_gradients(x64):
    rng = np.random.default_rng(42)
    spd = lambda a: a @ a.T / 5 + 0.2 * jnp.eye(3)

    def every_quantity(m_p, a_p, m_q, a_q, v_p, v_q, log_var):
        # One sum of all quantities: a wrong gradient in any term breaks the check.
        c_p, c_q = spd(a_p), spd(a_q)
        return (
            itjax.gaussian_entropy(c_p)
            + itjax.gaussian_kl(m_p, c_p, m_q, c_q)
            + itjax.gaussian_cross_entropy(m_q, c_q, m_p, c_p)
            + itjax.gaussian_mutual_information(c_p, 1)
            + itjax.diag_gaussian_kl(m_p, v_p, m_q, v_q)
            + itjax.diag_gaussian_cross_entropy(m_p, v_p, m_q, v_q)
            + itjax.vae_kl(m_q, log_var)
        )

    args = (
        *(jnp.asarray(rng.normal(size=shape)) for shape in ((3,), (3, 5), (3,), (3, 5))),
        *(jnp.asarray(rng.uniform(0.5, 2.0, size=3)) for _ in range(2)),
        jnp.asarray(rng.normal(size=3)),
    )
    check_grads(jax.jit(every_quantity), args, order=1, modes=["rev"])
    # At p = q the KL has its minimum: a zero, finite gradient (the series branch).
    grad = jax.jit(jax.grad(lambda v: itjax.normal_kl(0.0, v, 0.0, 1.0)))(1.0)
    assert grad == 0.0
    grad = jax.jit(jax.grad(lambda lv: itjax.vae_kl(jnp.zeros(2), lv)))(jnp.zeros(2))
    np.testing.assert_array_equal(grad, 0.0)


def test_bad_input():
    eye = np.eye(3)
    zeros = np.zeros(3)
    with pytest.raises(ValueError, match=r"cov must be a square .*got shape \(3,\)"):
        itjax.gaussian_entropy(zeros)
    with pytest.raises(ValueError, match=r"cov_q must be a square .*got shape \(3, 2\)"):
        itjax.gaussian_kl(zeros, eye, zeros, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"mean_q must have dimension d = 3 .*got shape \(4,\)"):
        itjax.gaussian_kl(zeros, eye, np.zeros(4), eye)
    with pytest.raises(ValueError, match=r"batch axes of mean_p, cov_p, mean_q, cov_q"):
        itjax.gaussian_kl(np.zeros((2, 3)), eye, np.zeros((5, 3)), eye)
    with pytest.raises(ValueError, match=r"var_p, mean_q.*must broadcast"):
        itjax.normal_kl(np.zeros(2), np.ones(3), 0.0, 1.0)
    with pytest.raises(TypeError, match="var must have a floating dtype"):
        itjax.diag_gaussian_entropy(np.ones(3, dtype=np.int32))
    with pytest.raises(TypeError, match="log_var must have a floating dtype"):
        itjax.vae_kl(zeros, np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        itjax.diag_gaussian_kl(zeros, 1.0, zeros, 1.0, axis=2)
    for bad in (0, -2.0, 1):
        with pytest.raises(ValueError, match="base"):
            itjax.gaussian_kl(zeros, eye, zeros, eye, base=bad)
        with pytest.raises(ValueError, match="base"):
            itjax.vae_kl(zeros, zeros, base=bad)
    not_pd = np.diag([1.0, -1.0, 1.0])
    assert np.isnan(itjax.gaussian_entropy(not_pd))
    assert np.isnan(itjax.gaussian_kl(zeros, eye, zeros, not_pd))
    with pytest.raises(ValueError, match="cov_q must be positive definite"):
        itjax.gaussian_kl(zeros, eye, zeros, not_pd, validate=True)
    with pytest.raises(ValueError, match=r"mean_p must be finite; mean_p\[\(1,\)\] = nan"):
        itjax.gaussian_kl(np.array([0.0, np.nan, 0.0]), eye, zeros, eye, validate=True)
    with pytest.raises(ValueError, match=r"var_q must be positive; var_q\[\(2,\)\] = 0.0"):
        itjax.diag_gaussian_kl(zeros, np.ones(3), zeros, np.array([1.0, 1.0, 0.0]), validate=True)
    with pytest.raises(ValueError, match="var must be positive"):
        itjax.diag_gaussian_fisher_information(-np.ones(2), validate=True)
    with pytest.raises(TypeError, match="validate=True .*cannot run under jit"):
        jax.jit(lambda c: itjax.gaussian_entropy(c, validate=True))(eye)
