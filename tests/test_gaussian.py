"""Tests of the Gaussian closed forms against scipy, numpy, closed forms and Monte Carlo."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tolerance
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads

import itjax

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
    eager = f(covs)
    np.testing.assert_allclose(jax.jit(f)(covs), eager, rtol=10 * tolerance(dtype))
    np.testing.assert_allclose(
        jax.vmap(f)(covs), np.stack([f(c) for c in covs]), rtol=10 * tolerance(dtype)
    )


def test_mutual_information_gradients(x64):
    rng = np.random.default_rng(6)
    a = jnp.asarray(rng.normal(size=(4, 6)))
    # Parameterize by a factor so that every perturbation stays symmetric and PD.
    f = lambda a: itjax.gaussian_mutual_information(a @ a.T / 6 + 0.1 * jnp.eye(4), 2)
    check_grads(jax.jit(f), (a,), order=1, modes=["fwd", "rev"])


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
