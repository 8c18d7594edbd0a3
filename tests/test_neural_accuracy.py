"""Accuracy of the neural estimators on Gaussian tasks with known MI (slow).

Each task: n = 5000 fresh samples per seed, `neural_mutual_information` with its
defaults (the fixed budget: 1000 steps of batch 128), seeds vmapped in one
compiled call. InfoNCE, NWJ, SMILE and MINE must land within 15 % of the truth on
average over the seeds; independent data must give estimates near 0. The truth is
computed here from the covariance with numpy (I = ½ log(det Σx det Σy / det Σ)),
independently of itjax.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from itjax import neural_mutual_information

BOUNDS = ("infonce", "nwj", "smile", "mine")
N = 5000
SEEDS = 4


def pairs_covariance(dx, rhos):
    """Unit variances; x_k and y_k correlated with rho_k for k < len(rhos)."""
    cov = np.eye(2 * dx)
    for k, rho in enumerate(rhos):
        cov[k, dx + k] = cov[dx + k, k] = rho
    return cov


def dense_covariance(rhos, seed=0):
    """Canonical correlations `rhos` mixed by random rotations: every x_i, y_j correlated."""
    d = len(rhos)
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(d, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    c = u @ np.diag(rhos) @ v.T
    return np.block([[np.eye(d), c], [c.T, np.eye(d)]])


def gaussian_mi(cov, dx):
    logdet = lambda m: np.linalg.slogdet(m)[1]
    return 0.5 * (logdet(cov[:dx, :dx]) + logdet(cov[dx:, dx:]) - logdet(cov))


def estimates(covs, dx, key):
    """Estimates of shape (tasks, seeds, bounds): one compiled call for all of them."""
    chols = jnp.asarray(np.stack([np.linalg.cholesky(c) for c in covs]), jnp.float32)

    def one(chol, key):
        data_key, *fit_keys = jax.random.split(key, 1 + len(BOUNDS))
        z = jax.random.normal(data_key, (N, chol.shape[0])) @ chol.T
        x, y = z[:, :dx], z[:, dx:]
        return jnp.stack(
            [
                neural_mutual_information(k, x, y, bound=b, validate=False).value
                for b, k in zip(BOUNDS, fit_keys, strict=True)
            ]
        )

    keys = jax.random.split(key, SEEDS)
    per_task = jax.vmap(lambda chol: jax.vmap(lambda k: one(chol, k))(keys))
    return np.asarray(jax.jit(per_task)(chols))


def assert_within_15_percent(values, truth):
    mean = values.mean(axis=0)  # over seeds, per bound
    for bound, m in zip(BOUNDS, mean, strict=True):
        assert abs(m - truth) <= 0.15 * truth, f"{bound}: {m:.4f} vs truth {truth:.4f}"


def test_truths_are_the_published_numbers():
    assert math.isclose(gaussian_mi(pairs_covariance(1, [0.75]), 1), 0.4133, abs_tol=1e-4)
    assert math.isclose(gaussian_mi(pairs_covariance(25, [0.8, 0.8]), 25), 1.0217, abs_tol=1e-4)
    rhos = [0.7, 0.6, 0.5, 0.4, 0.3]
    per_pair = -0.5 * sum(math.log(1 - r**2) for r in rhos)
    assert math.isclose(gaussian_mi(dense_covariance(rhos), 5), per_pair, rel_tol=1e-9)


@pytest.mark.slow
def test_one_by_one():
    cov = pairs_covariance(1, [0.75])
    values = estimates([cov], 1, jax.random.key(0))[0]
    assert_within_15_percent(values, gaussian_mi(cov, 1))


@pytest.mark.slow
def test_five_by_five_dense_and_independent():
    dense = dense_covariance([0.7, 0.6, 0.5, 0.4, 0.3])
    assert np.all(np.abs(dense[:5, 5:]) > 1e-3)  # every x_i correlated with every y_j
    values = estimates([dense, np.eye(10)], 5, jax.random.key(1))
    assert_within_15_percent(values[0], gaussian_mi(dense, 5))
    # Independent data: every estimator is a lower bound or nearly one, so its held-out
    # value cannot be positive on average beyond noise; overfitting can only pull it
    # down, and the weight decay keeps that small.
    independent = values[1]
    mean = independent.mean(axis=0)
    se = independent.std(axis=0, ddof=1) / math.sqrt(SEEDS)
    assert np.all(mean <= 4 * se + 1e-3), mean
    assert np.all(mean >= -0.05), mean


@pytest.mark.slow
def test_two_pairs_in_25_by_25_noise():
    cov = pairs_covariance(25, [0.8, 0.8])
    values = estimates([cov], 25, jax.random.key(2))[0]
    assert_within_15_percent(values, gaussian_mi(cov, 25))
