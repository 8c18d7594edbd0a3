"""Tests of the exact discrete functionals (functionals.py, divergences.py, binary.py).

Oracles: scipy.stats.entropy, scipy.special (entr, rel_entr, kl_div, xlogy,
softmax, log_softmax), scipy.spatial.distance.jensenshannon, optax's losses,
closed forms, and a 60-digit `decimal` computation where float64 itself loses
digits (nearby distributions).
"""

import math
from decimal import Decimal, localcontext
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import scipy.special as sp
import scipy.stats
from conftest import jx, tolerance
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy.optimize import brentq
from scipy.spatial.distance import jensenshannon

import itjax

# --------------------------------------------------------------------------- #
# Data.
# --------------------------------------------------------------------------- #


def dirichlet(seed, shape, concentration=1.0, zeros=0):
    """Random pmfs on the last axis; `zeros` entries per row set to 0 first."""
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.full(shape[-1], concentration), size=shape[:-1])
    if zeros:
        for row in p.reshape(-1, shape[-1]):
            row[rng.choice(shape[-1], zeros, replace=False)] = 0.0
        p /= p.sum(-1, keepdims=True)
    return p


def cast(x, dtype):
    """`x` in `dtype`, and the float64 numpy value of that cast (the oracle's input)."""
    arr = jnp.asarray(x, dtype)
    return arr, np.asarray(arr, np.float64)


def decimal_kl(p, q):
    """KL of the normalized p and q in 60-digit decimal arithmetic."""
    with localcontext() as ctx:
        ctx.prec = 60
        P = [Decimal(float(v)) for v in np.ravel(p)]
        Q = [Decimal(float(v)) for v in np.ravel(q)]
        sp_, sq = sum(P), sum(Q)
        return float(
            sum((a / sp_) * ((a / sp_) / (b / sq)).ln() for a, b in zip(P, Q, strict=True) if a > 0)
        )


def softmax64(z, axis=-1):
    return sp.softmax(np.asarray(z, np.float64), axis=axis)


# --------------------------------------------------------------------------- #
# Reference values against scipy.
# --------------------------------------------------------------------------- #


def test_entropy_matches_scipy(dtype):
    p, p64 = cast(dirichlet(0, (3, 6), zeros=2), dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(jx.entropy(p), scipy.stats.entropy(p64, axis=-1), rtol=rtol)
    np.testing.assert_allclose(
        jx.entropy(p.T, axis=0, base=2), scipy.stats.entropy(p64.T, axis=0, base=2), rtol=rtol
    )
    np.testing.assert_allclose(jx.entropy(p), sp.entr(p64).sum(-1), rtol=rtol)
    assert jx.entropy(p).dtype == dtype


def test_kl_and_cross_entropy_match_scipy(dtype):
    p, p64 = cast(dirichlet(1, (3, 6), zeros=2), dtype)
    q, q64 = cast(dirichlet(2, (3, 6)), dtype)
    rtol = tolerance(dtype)
    kl = jx.kl_divergence(p, q)
    np.testing.assert_allclose(kl, scipy.stats.entropy(p64, q64, axis=-1), rtol=rtol)
    np.testing.assert_allclose(kl, sp.rel_entr(p64, q64).sum(-1), rtol=rtol)
    np.testing.assert_allclose(kl, sp.kl_div(p64, q64).sum(-1), rtol=rtol)
    np.testing.assert_allclose(
        jx.kl_divergence(p, q, base=10),
        scipy.stats.entropy(p64, q64, axis=-1, base=10),
        rtol=rtol,
    )
    np.testing.assert_allclose(jx.cross_entropy(p, q), -sp.xlogy(p64, q64).sum(-1), rtol=rtol)
    assert kl.dtype == dtype


def test_kl_is_the_sum_of_kl_div_terms_off_the_simplex(dtype):
    # The documented summation form Σ p log(p/q) − p + q, checked on positive measures.
    rng = np.random.default_rng(3)
    p, p64 = cast(rng.uniform(0.1, 2.0, (3, 6)), dtype)
    q, q64 = cast(rng.uniform(0.1, 2.0, (3, 6)), dtype)
    np.testing.assert_allclose(
        jx.kl_divergence(p, q), sp.kl_div(p64, q64).sum(-1), rtol=tolerance(dtype)
    )


def test_edge_cases_match_scipy(x64):
    # Each row: zeros in p only, in both, in q where p > 0 (+inf), one-hot p, p = q.
    p = np.array(
        [
            [0.0, 0.5, 0.5, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.25, 0.25, 0.25, 0.25],
            [1.0, 0.0, 0.0, 0.0],
            [0.1, 0.2, 0.3, 0.4],
        ]
    )
    q = np.array(
        [
            [0.25, 0.25, 0.25, 0.25],
            [0.0, 0.5, 0.5, 0.0],
            [0.0, 0.5, 0.5, 0.0],
            [0.5, 0.5, 0.0, 0.0],
            [0.1, 0.2, 0.3, 0.4],
        ]
    )
    pj, qj = jnp.asarray(p), jnp.asarray(q)
    np.testing.assert_allclose(jx.entropy(pj), scipy.stats.entropy(p, axis=-1), rtol=1e-12)
    np.testing.assert_allclose(
        jx.kl_divergence(pj, qj), scipy.stats.entropy(p, q, axis=-1), rtol=1e-12
    )
    np.testing.assert_allclose(jx.cross_entropy(pj, qj), -sp.xlogy(p, q).sum(-1), rtol=1e-12)
    assert jx.kl_divergence(pj, qj)[2] == np.inf
    assert jx.kl_divergence(pj, qj)[4] == 0.0
    assert jx.entropy(pj)[3] == 0.0
    # The elementwise edge cases of scipy.special.kl_div: NaN, negative entries.
    for a, b in [(np.nan, 0.5), (0.5, np.nan), (-0.1, 0.5), (0.0, -0.1), (0.5, 0.0)]:
        got = jx.kl_divergence(jnp.asarray([a, 0.5]), jnp.asarray([b, 0.5]))
        np.testing.assert_array_equal(got, sp.kl_div([a, 0.5], [b, 0.5]).sum())
    # A negative probability gives NaN (scipy's entr gives -inf): loud either way.
    assert np.isnan(jx.entropy(jnp.asarray([-0.1, 1.1])))
    assert np.isnan(jx.entropy(jnp.asarray([np.nan, 1.0])))
    assert np.isnan(jx.cross_entropy(jnp.asarray([0.5, 0.5]), jnp.asarray([np.nan, 1.0])))


@pytest.mark.parametrize("closeness", [0.2, 1e-3, 1e-5, 1e-7])
def test_kl_of_nearby_distributions_keeps_full_precision(x64, closeness):
    # p ≈ q: Σ p log(p/q) cancels (scipy.stats.entropy keeps only ~log10(KL/eps)
    # digits here); the oracle is a 60-digit computation on the normalized inputs.
    rng = np.random.default_rng(4)
    p = rng.dirichlet(np.ones(64))
    q = p * (1 + closeness * rng.standard_normal(64))
    q /= q.sum()
    got = float(jx.kl_divergence(jnp.asarray(p), jnp.asarray(q)))
    assert got == pytest.approx(decimal_kl(p, q), rel=1e-12)
    js = 0.5 * (decimal_kl(p, (p + q) / 2) + decimal_kl(q, (p + q) / 2))
    got_js = float(jx.js_divergence(jnp.asarray(p), jnp.asarray(q)))
    assert got_js == pytest.approx(js, rel=1e-11)


def test_kl_of_nearby_distributions_float32():
    # float32 inputs, oracle on their exact (float64) values: the series keeps
    # the relative error at a few float32 ulps where the plain sum loses ~1e-4.
    rng = np.random.default_rng(5)
    p = rng.dirichlet(np.ones(64)).astype(np.float32)
    q = (p * (1 + 1e-3 * rng.standard_normal(64))).astype(np.float32)
    q = (q / q.sum()).astype(np.float32)
    got = float(jx.kl_divergence(jnp.asarray(p), jnp.asarray(q)))
    assert got == pytest.approx(decimal_kl(p, q), rel=1e-6)
    assert got == pytest.approx(scipy.stats.entropy(p.astype(float), q.astype(float)), rel=1e-6)


def test_js_matches_scipy(dtype):
    p, p64 = cast(dirichlet(6, (3, 6), zeros=2), dtype)
    q, q64 = cast(dirichlet(7, (3, 6), zeros=2), dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(
        jx.js_divergence(p, q), jensenshannon(p64, q64, axis=-1) ** 2, rtol=rtol
    )
    np.testing.assert_allclose(
        jx.js_distance(p, q, base=2), jensenshannon(p64, q64, axis=-1, base=2), rtol=rtol
    )


def test_disjoint_supports_give_the_maxima(dtype):
    p = jnp.asarray([0.5, 0.5, 0.0, 0.0, 0.0, 0.0], dtype)
    q = jnp.asarray([0.0, 0.0, 0.3, 0.7, 0.0, 0.0], dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(jx.js_divergence(p, q), math.log(2), rtol=rtol)
    np.testing.assert_allclose(jx.js_distance(p, q, base=2), 1.0, rtol=rtol)
    np.testing.assert_allclose(jx.total_variation(p, q), 1.0, rtol=rtol)
    np.testing.assert_allclose(jx.squared_hellinger_distance(p, q), 1.0, rtol=rtol)
    assert jx.kl_divergence(p, q) == np.inf
    assert jx.chi2_divergence(p, q) == np.inf
    assert jx.renyi_divergence(p, q, alpha=0.5) == np.inf  # Σ √(pq) = 0


# --------------------------------------------------------------------------- #
# Log-space forms.
# --------------------------------------------------------------------------- #


def test_from_logits_match_scipy(dtype):
    rng = np.random.default_rng(8)
    a, a64 = cast(3 * rng.standard_normal((3, 6)), dtype)
    b, b64 = cast(3 * rng.standard_normal((3, 6)), dtype)
    t, t64 = cast(dirichlet(9, (3, 6)), dtype)
    pa, pb = softmax64(a64), softmax64(b64)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(
        jx.entropy_from_logits(a), scipy.stats.entropy(pa, axis=-1), rtol=rtol
    )
    np.testing.assert_allclose(
        jx.entropy_from_logits(a, temperature=2.5),
        scipy.stats.entropy(softmax64(a64 / 2.5), axis=-1),
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.kl_divergence_from_logits(a, b), scipy.stats.entropy(pa, pb, axis=-1), rtol=rtol
    )
    np.testing.assert_allclose(
        jx.cross_entropy_from_logits(t, b),
        -(t64 * sp.log_softmax(b64, axis=-1)).sum(-1),
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.js_divergence_from_logits(a, b, base=2),
        jensenshannon(pa, pb, axis=-1, base=2) ** 2,
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.cross_entropy_from_logits(t, b), optax.softmax_cross_entropy(b, t), rtol=10 * rtol
    )


def test_kl_from_logits_is_finite_where_probabilities_underflow(dtype):
    # q(x) = e^-200 underflows to 0 in float32: the probability form says +inf,
    # the log-space form gives the finite value.
    a = jnp.asarray([0.0, 0.0, 0.0], dtype)
    b = jnp.asarray([0.0, 0.0, -200.0], dtype)
    la, lb = sp.log_softmax([0.0, 0.0, 0.0]), sp.log_softmax([0.0, 0.0, -200.0])
    expected = np.sum(np.exp(la) * (la - lb))
    np.testing.assert_allclose(jx.kl_divergence_from_logits(a, b), expected, rtol=tolerance(dtype))


def test_kl_from_logits_of_nearby_distributions(x64):
    rng = np.random.default_rng(10)
    a = rng.standard_normal(32)
    b = a + 1e-6 * rng.standard_normal(32)
    expected = decimal_kl(softmax64(a), softmax64(b))
    got = float(jx.kl_divergence_from_logits(jnp.asarray(a), jnp.asarray(b)))
    # The logits are rounded to 1e-16 absolute, so KL ~ 1e-13 has ~1e-9 relative conditioning.
    assert got == pytest.approx(expected, rel=1e-8)
    assert got > 0


def test_minus_inf_logits(dtype):
    a = jnp.asarray([0.0, 1.0, -jnp.inf], dtype)
    b = jnp.asarray([0.5, -jnp.inf, -jnp.inf], dtype)
    p = np.array([1.0, np.e, 0.0]) / (1 + np.e)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(jx.entropy_from_logits(a), scipy.stats.entropy(p), rtol=rtol)
    assert jx.kl_divergence_from_logits(a, b) == np.inf  # b excludes an outcome of a
    np.testing.assert_allclose(jx.kl_divergence_from_logits(b, a), -np.log(p[0]), rtol=rtol)
    np.testing.assert_allclose(
        jx.cross_entropy_from_logits(jnp.asarray([1.0, 0, 0], dtype), b), 0.0
    )
    assert jx.cross_entropy_from_logits(jnp.asarray([0.5, 0.5, 0], dtype), b) == np.inf


# --------------------------------------------------------------------------- #
# Rényi.
# --------------------------------------------------------------------------- #


def renyi_entropy_np(p, alpha):
    p = p[p > 0]
    if alpha == 0:
        return np.log(p.size)
    if alpha == 1:
        return -np.sum(p * np.log(p))
    if alpha == np.inf:
        return -np.log(p.max())
    return np.log(np.sum(p**alpha)) / (1 - alpha)


def renyi_divergence_np(p, q, alpha):
    s = p > 0
    p, q = p[s], q[s]
    if alpha == 0:
        return -np.log(q.sum())
    if alpha == 1:
        return np.sum(p * np.log(p / q))
    if alpha == np.inf:
        return np.log(np.max(p / q))
    return np.log(np.sum(p**alpha * q ** (1 - alpha))) / (alpha - 1)


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0, 2.0, 3.5, math.inf])
def test_renyi_matches_closed_forms(dtype, alpha):
    p, p64 = cast(dirichlet(11, (3, 6), zeros=2), dtype)
    q, q64 = cast(dirichlet(12, (3, 6)), dtype)
    rtol = tolerance(dtype, f32=2e-6)
    h = jx.renyi_entropy(p, alpha=alpha)
    d = jx.renyi_divergence(p, q, alpha=alpha)
    np.testing.assert_allclose(h, [renyi_entropy_np(r, alpha) for r in p64], rtol=rtol, atol=rtol)
    np.testing.assert_allclose(
        d,
        [renyi_divergence_np(a, b, alpha) for a, b in zip(p64, q64, strict=True)],
        rtol=rtol,
        atol=rtol,
    )
    logp, logq = jnp.log(p), jnp.log(q)
    np.testing.assert_allclose(
        jx.renyi_entropy_from_logits(logp, alpha=alpha), h, rtol=rtol, atol=rtol
    )
    np.testing.assert_allclose(
        jx.renyi_divergence_from_logits(logp, logq, alpha=alpha), d, rtol=rtol, atol=rtol
    )


def test_renyi_special_orders(x64):
    p = jnp.asarray(dirichlet(13, (6,)))
    q = jnp.asarray(dirichlet(14, (6,)))
    # α = 1/2 is −2 log of the Bhattacharyya coefficient; α = 2 is log(1 + χ²).
    bc = np.sum(np.sqrt(np.asarray(p) * np.asarray(q)))
    assert float(jx.renyi_divergence(p, q, alpha=0.5)) == pytest.approx(-2 * np.log(bc), rel=1e-12)
    chi2 = float(jx.chi2_divergence(p, q))
    assert float(jx.renyi_divergence(p, q, alpha=2)) == pytest.approx(np.log1p(chi2), rel=1e-12)
    assert float(jx.renyi_entropy(p, alpha=2)) == pytest.approx(
        -np.log(np.sum(np.asarray(p) ** 2)), rel=1e-12
    )
    # The limits α -> 1 approach the Shannon quantities at rate O(|α − 1|).
    for eps in (1e-3, -1e-3):
        assert float(jx.renyi_entropy(p, alpha=1 + eps)) == pytest.approx(
            float(jx.entropy(p)), rel=10 * abs(eps)
        )
        assert float(jx.renyi_divergence(p, q, alpha=1 + eps)) == pytest.approx(
            float(jx.kl_divergence(p, q)), rel=10 * abs(eps)
        )


def test_renyi_divergence_where_q_misses_support(dtype):
    p = jnp.asarray([0.5, 0.5, 0.0], dtype)
    q = jnp.asarray([1.0, 0.0, 0.0], dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(jx.renyi_divergence(p, q, alpha=0.0), 0.0, atol=rtol)
    np.testing.assert_allclose(
        jx.renyi_divergence(p, q, alpha=0.5), -2 * np.log(np.sqrt(0.5)), rtol=rtol
    )
    for alpha in (1.0, 2.0, math.inf):
        assert jx.renyi_divergence(p, q, alpha=alpha) == np.inf


# --------------------------------------------------------------------------- #
# f-divergences.
# --------------------------------------------------------------------------- #


def test_f_divergence_generators_give_the_named_divergences(dtype):
    p, p64 = cast(dirichlet(15, (3, 6), zeros=2), dtype)
    q, q64 = cast(dirichlet(16, (3, 6), zeros=2), dtype)
    rtol = tolerance(dtype, f32=2e-6)
    kl = jx.f_divergence(p, q, f=lambda t: jax.scipy.special.xlogy(t, t))
    np.testing.assert_array_equal(np.isinf(kl), np.isinf(scipy.stats.entropy(p64, q64, axis=-1)))
    tv = jx.f_divergence(p, q, f=lambda t: 0.5 * jnp.abs(t - 1), f_prime_inf=0.5)
    np.testing.assert_allclose(tv, 0.5 * np.abs(p64 - q64).sum(-1), rtol=rtol)
    np.testing.assert_allclose(jx.total_variation(p, q), 0.5 * np.abs(p64 - q64).sum(-1), rtol=rtol)
    h2 = jx.f_divergence(p, q, f=lambda t: 0.5 * (jnp.sqrt(t) - 1) ** 2, f_prime_inf=0.5)
    expected_h2 = 0.5 * ((np.sqrt(p64) - np.sqrt(q64)) ** 2).sum(-1)
    np.testing.assert_allclose(h2, expected_h2, rtol=rtol)
    np.testing.assert_allclose(jx.squared_hellinger_distance(p, q), expected_h2, rtol=rtol)
    np.testing.assert_allclose(jx.hellinger_distance(p, q), np.sqrt(expected_h2), rtol=rtol)
    rkl = jx.f_divergence(p, q, f=lambda t: -jnp.log(t), f_prime_inf=0.0)
    np.testing.assert_array_equal(np.isinf(rkl), np.isinf(scipy.stats.entropy(q64, p64, axis=-1)))


def test_f_divergence_equals_kl_and_chi2_with_full_support(dtype):
    p, p64 = cast(dirichlet(17, (3, 6)), dtype)
    q, q64 = cast(dirichlet(18, (3, 6)), dtype)
    rtol = tolerance(dtype, f32=2e-6)
    np.testing.assert_allclose(
        jx.f_divergence(p, q, f=lambda t: jax.scipy.special.xlogy(t, t)),
        scipy.stats.entropy(p64, q64, axis=-1),
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.f_divergence(p, q, f=lambda t: -jnp.log(t)),
        scipy.stats.entropy(q64, p64, axis=-1),
        rtol=rtol,
    )
    chi2 = ((p64 - q64) ** 2 / q64).sum(-1)
    np.testing.assert_allclose(jx.chi2_divergence(p, q), chi2, rtol=rtol)
    np.testing.assert_allclose(jx.f_divergence(p, q, f=lambda t: (t - 1) ** 2), chi2, rtol=rtol)


# --------------------------------------------------------------------------- #
# Binary.
# --------------------------------------------------------------------------- #


def test_binary_quantities(dtype):
    rng = np.random.default_rng(19)
    p, p64 = cast(rng.uniform(0.01, 0.99, (3, 6)), dtype)
    q, q64 = cast(rng.uniform(0.01, 0.99, (3, 6)), dtype)
    z, z64 = cast(rng.normal(0, 4, (3, 6)), dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(
        jx.binary_entropy(p), scipy.stats.entropy(np.stack([p64, 1 - p64]), axis=0), rtol=rtol
    )
    np.testing.assert_allclose(jx.binary_entropy(jnp.asarray(0.5, dtype), base=2), 1.0, rtol=rtol)
    np.testing.assert_allclose(
        jx.binary_cross_entropy(p, q), -p64 * np.log(q64) - (1 - p64) * np.log1p(-q64), rtol=rtol
    )
    s = sp.expit(z64)
    np.testing.assert_allclose(
        jx.binary_entropy_from_logits(z), sp.entr(s) + sp.entr(sp.expit(-z64)), rtol=rtol
    )
    np.testing.assert_allclose(
        jx.binary_cross_entropy_from_logits(p, z),
        -p64 * sp.log_expit(z64) - (1 - p64) * sp.log_expit(-z64),
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.binary_cross_entropy_from_logits(p, z),
        optax.sigmoid_binary_cross_entropy(z, p),
        rtol=10 * rtol,
    )


def test_binary_extremes(x64):
    # h(1e-10) = 1e-10 (1 − log 1e-10) + O(1e-20): log(1 − p) must be log1p(−p).
    p = 1e-10
    with localcontext() as ctx:
        ctx.prec = 50
        d = Decimal(p)
        exact = float(-d * d.ln() - (1 - d) * (1 - d).ln())
    assert float(jx.binary_entropy(jnp.asarray(p))) == pytest.approx(exact, rel=1e-12)
    assert float(jx.binary_entropy(jnp.asarray(1 - 2**-40))) == pytest.approx(
        float(jx.binary_entropy(jnp.asarray(2**-40))), rel=1e-12
    )
    # Large logits: h(σ(30)) = (1 + 30) e^-30 (1 + O(e^-30)), no cancellation.
    assert float(jx.binary_entropy_from_logits(jnp.asarray(30.0))) == pytest.approx(
        31 * np.exp(-30.0), rel=1e-12
    )
    z = jnp.asarray([-jnp.inf, jnp.inf, -jnp.inf, jnp.inf])
    t = jnp.asarray([0.0, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(jx.binary_cross_entropy_from_logits(t, z), [0, 0, np.inf, np.inf])
    np.testing.assert_array_equal(jx.binary_entropy_from_logits(z[:2]), [0, 0])
    np.testing.assert_array_equal(
        jx.binary_cross_entropy(jnp.asarray([1.0, 0.0]), jnp.asarray([0.0, 0.0])), [np.inf, 0]
    )


# --------------------------------------------------------------------------- #
# Labels, smoothing, distillation, Fisher information.
# --------------------------------------------------------------------------- #


def test_cross_entropy_from_labels_matches_optax(dtype):
    rng = np.random.default_rng(20)
    logits = jnp.asarray(rng.normal(0, 2, (5, 4)), dtype)
    labels = jnp.asarray([0, 3, 1, 1, 2])
    rtol = tolerance(dtype, f32=1e-5)
    np.testing.assert_allclose(
        jx.cross_entropy_from_labels(labels, logits),
        optax.softmax_cross_entropy_with_integer_labels(logits, labels),
        rtol=rtol,
    )
    smoothed = optax.smooth_labels(jax.nn.one_hot(labels, 4, dtype=dtype), 0.2)
    np.testing.assert_allclose(
        jx.cross_entropy_from_labels(labels, logits, label_smoothing=0.2),
        optax.softmax_cross_entropy(logits, smoothed),
        rtol=rtol,
    )
    np.testing.assert_allclose(
        jx.smooth_labels(jax.nn.one_hot(labels, 4, dtype=dtype), epsilon=0.2), smoothed
    )
    # A label out of range or on a masked-out class is NaN, never a silent number.
    bad = jx.cross_entropy_from_labels(jnp.asarray([4, -1, 0]), logits[:3])
    assert np.isnan(bad[:2]).all() and np.isfinite(bad[2])
    where = jnp.asarray([True, False, True, True])
    masked = jx.cross_entropy_from_labels(labels, logits, where=where)
    assert np.isnan(masked[3]) and np.isnan(masked[2]) and np.isfinite(masked[0])


def test_entropy_of_smoothed_one_hot_matches_the_errata(dtype):
    # ERRATA 004 eq. 14.1.26: H((1 − ε)e_y + εU) = −a log a − (n − 1) b log b,
    # b = ε/n, a = 1 − ε + b (not (1 − ε)H(P) + ε log n + …).
    n, eps = 10, 0.1
    b = eps / n
    a = 1 - eps + b
    smoothed = jx.smooth_labels(jax.nn.one_hot(3, n, dtype=dtype), epsilon=eps)
    np.testing.assert_allclose(
        jx.entropy(smoothed), -a * np.log(a) - (n - 1) * b * np.log(b), rtol=tolerance(dtype)
    )


def test_distillation_loss(dtype):
    rng = np.random.default_rng(21)
    s, s64 = cast(rng.normal(0, 2, (3, 6)), dtype)
    t, t64 = cast(rng.normal(0, 2, (3, 6)), dtype)
    temp = 3.0
    expected = temp**2 * scipy.stats.entropy(softmax64(t64 / temp), softmax64(s64 / temp), axis=-1)
    np.testing.assert_allclose(
        jx.distillation_loss(s, t, temperature=temp), expected, rtol=tolerance(dtype)
    )
    # d/ds T² KL(p_T‖q_T) = T (q_T − p_T).
    grad = jax.grad(lambda s_: jx.distillation_loss(s_, t, temperature=temp).sum())(s)
    expected_grad = temp * (softmax64(s64 / temp) - softmax64(t64 / temp))
    np.testing.assert_allclose(grad, expected_grad, rtol=tolerance(dtype, f32=1e-5), atol=1e-7)


def test_distillation_gradient_is_temperature_free_at_high_temperature(x64):
    # Hinton et al. §2.1: for zero-mean logits and T >> |logits|, the T²-scaled
    # gradient tends to (s − t)/K, with a relative error O(|logits|/T).
    rng = np.random.default_rng(22)
    s = rng.normal(0, 1, 6)
    t = rng.normal(0, 1, 6)
    s, t = s - s.mean(), t - t.mean()
    for temp in (100.0, 1000.0):
        loss = partial(jx.distillation_loss, teacher_logits=jnp.asarray(t), temperature=temp)
        grad = jax.grad(loss)(jnp.asarray(s))
        np.testing.assert_allclose(grad, (s - t) / 6, rtol=10 / temp, atol=1e-3 / temp)


def test_categorical_fisher_information(x64):
    rng = np.random.default_rng(23)
    theta = jnp.asarray(rng.normal(0, 1, (2, 5)))
    fisher = jx.categorical_fisher_information(theta)
    assert fisher.shape == (2, 5, 5)
    # Independent oracles: F = E_x[∇ log p(x) ∇ log p(x)ᵀ], and the Hessian of
    # θ' -> KL(p_θ‖p_θ') at θ' = θ.
    jac = jax.jit(jax.vmap(jax.jacobian(jax.nn.log_softmax)))(theta)  # jac[b, x, i]
    p = jax.nn.softmax(theta)
    outer = jnp.einsum("bx,bxi,bxj->bij", p, jac, jac)
    np.testing.assert_allclose(fisher, outer, rtol=1e-12, atol=1e-15)
    hess = jax.jit(jax.vmap(jax.hessian(jx.kl_divergence_from_logits, argnums=1)))(theta, theta)
    np.testing.assert_allclose(fisher, hess, rtol=1e-9, atol=1e-12)
    # KL(p_θ‖p_{θ+δ}) = ½ δᵀFδ + O(|δ|³): the relative error shrinks linearly with |δ|.
    direction = jnp.asarray(rng.normal(0, 1, 5))
    errors = []
    for h in (1e-2, 1e-3, 1e-4):
        delta = h * direction
        kl = jx.kl_divergence_from_logits(theta[0], theta[0] + delta)
        quad = 0.5 * delta @ fisher[0] @ delta
        errors.append(abs(float(kl / quad) - 1))
    assert errors[2] < 1e-3
    assert 5 < errors[0] / errors[1] < 20 and 5 < errors[1] / errors[2] < 20
    # Axis placement: classes on axis 0.
    np.testing.assert_allclose(jx.categorical_fisher_information(theta.T, axis=0), fisher)


# --------------------------------------------------------------------------- #
# Transforms: jit, vmap, no recompilation, dtypes.
# --------------------------------------------------------------------------- #

PAIR_FUNCTIONS = [
    itjax.cross_entropy,
    itjax.kl_divergence,
    itjax.js_divergence,
    itjax.js_distance,
    partial(itjax.renyi_divergence, alpha=0.5),
    partial(itjax.renyi_divergence, alpha=math.inf),
    itjax.chi2_divergence,
    itjax.hellinger_distance,
    itjax.squared_hellinger_distance,
    itjax.total_variation,
    partial(itjax.f_divergence, f=lambda t: (t - 1) ** 2),
]
SINGLE_FUNCTIONS = [
    itjax.entropy,
    partial(itjax.renyi_entropy, alpha=2.0),
    partial(itjax.renyi_entropy, alpha=0.0),
]
LOGIT_PAIR_FUNCTIONS = [
    itjax.kl_divergence_from_logits,
    itjax.js_divergence_from_logits,
    partial(itjax.renyi_divergence_from_logits, alpha=3.0),
    partial(itjax.distillation_loss, temperature=2.0),
]
LOGIT_FUNCTIONS = [
    itjax.entropy_from_logits,
    partial(itjax.entropy_from_logits, temperature=0.5),
    partial(itjax.renyi_entropy_from_logits, alpha=math.inf),
]


def all_values(p, q, a, b, labels):
    """Every function on one batch: probabilities p, q, logits a, b, labels."""
    values = [f(p, q) for f in PAIR_FUNCTIONS] + [f(p) for f in SINGLE_FUNCTIONS]
    values += [f(a, b) for f in LOGIT_PAIR_FUNCTIONS] + [f(a) for f in LOGIT_FUNCTIONS]
    values += [
        itjax.cross_entropy_from_logits(p, b),
        itjax.cross_entropy_from_labels(labels, b, label_smoothing=0.1),
        itjax.binary_entropy(p),
        itjax.binary_cross_entropy(p, q),
        itjax.binary_entropy_from_logits(a),
        itjax.binary_cross_entropy_from_logits(p, b),
    ]
    return values


def test_jit_equals_eager_and_vmap_equals_loop():
    # Transform consistency does not depend on the dtype (the reference-value
    # tests run both): float32 only, to keep the suite fast.
    dtype = jnp.float32
    p, _ = cast(dirichlet(24, (3, 6), zeros=1), dtype)
    q, _ = cast(dirichlet(25, (3, 6), zeros=1), dtype)
    a = jnp.log(p) + 0.3
    b = jnp.log(q) - 1.0
    labels = jnp.asarray([0, 2, 5])
    args = (p, q, a, b, labels)
    eager = all_values(*args)
    jitted = jax.jit(all_values)(*args)
    vmapped = jax.jit(jax.vmap(all_values))(*args)
    row = jax.jit(all_values)
    looped = [row(*(x[i] for x in args)) for i in range(3)]
    rtol = tolerance(dtype, f32=1e-6, f64=1e-13)
    for i, (e, j, v) in enumerate(zip(eager, jitted, vmapped, strict=True)):
        assert e.dtype == dtype and j.dtype == dtype, i
        np.testing.assert_allclose(j, e, rtol=rtol, err_msg=f"value {i}")
        np.testing.assert_allclose(v, jnp.stack([r[i] for r in looped]), rtol=rtol, err_msg=f"{i}")


def test_no_recompilation_for_new_data_of_the_same_shape():
    traces = []

    @jax.jit
    def f(p, q):
        traces.append(None)
        return itjax.kl_divergence(p, q, base=2) + itjax.entropy_from_logits(jnp.log(q))

    for seed in range(3):
        f(
            jnp.asarray(dirichlet(seed, (3, 6)), jnp.float32),
            jnp.asarray(dirichlet(seed + 9, (3, 6)), jnp.float32),
        )
    assert len(traces) == 1


# --------------------------------------------------------------------------- #
# Gradients.
# --------------------------------------------------------------------------- #


def test_gradients_match_finite_differences(x64):
    # The functions with their own gradient logic (masks, series, softplus forms);
    # the others are compositions covered by jax's own primitives.
    p = jnp.asarray(dirichlet(26, (6,), concentration=5.0))
    q = jnp.asarray(dirichlet(27, (6,), concentration=5.0))
    a, b = jnp.log(p) + 0.2, jnp.log(q) - 0.1
    cases = [
        (itjax.kl_divergence, (p, q)),
        (itjax.js_distance, (p, q)),
        (partial(itjax.renyi_divergence, alpha=0.5), (p, q)),
        (itjax.hellinger_distance, (p, q)),
        (partial(itjax.f_divergence, f=lambda t: (t - 1) ** 2), (p, q)),
        (itjax.kl_divergence_from_logits, (a, b)),
        (partial(itjax.entropy_from_logits, temperature=0.7), (a,)),
        (partial(itjax.cross_entropy_from_labels, jnp.asarray(3), label_smoothing=0.1), (b,)),
        (lambda x: itjax.binary_cross_entropy(x, q).sum(), (p,)),
        (lambda z: itjax.binary_entropy_from_logits(z).sum(), (3 * a,)),
    ]
    for f, args in cases:
        check_grads(jax.jit(f), args, order=1, modes=("rev",), eps=1e-6)
    kl = jax.jit(itjax.kl_divergence)
    kl_logits = jax.jit(itjax.kl_divergence_from_logits)
    check_grads(kl, (p, q), order=2, modes=("rev",), eps=1e-6)
    # Exactly at the switches of the series (|s| = 1/4 at q/p = 5/3; |d| = 1/2),
    # so that the finite differences straddle both branches.
    check_grads(kl, (jnp.asarray([0.3, 0.7]), jnp.asarray([0.5, 0.5])), order=1, eps=1e-6)
    x = brentq(lambda x: x - np.log1p(np.exp(x)) + np.log(2) - 0.5, 0.0, 5.0)  # d_0 = 1/2
    check_grads(kl_logits, (jnp.zeros(2), jnp.asarray([x, 0.0])), order=1, eps=1e-6)


def test_gradient_vanishes_at_p_equals_q(dtype):
    p = jnp.asarray(dirichlet(28, (6,)), dtype)
    gp, gq = jax.grad(itjax.kl_divergence, argnums=(0, 1))(p, p)
    np.testing.assert_array_equal(gp, 0)
    np.testing.assert_array_equal(gq, 0)


def sum_of_all(p, q, x):
    """Every probability-form function, summed: its gradient is finite iff all are."""
    total = sum(f(p, q) for f in PAIR_FUNCTIONS + [partial(itjax.renyi_divergence, alpha=0.0)])
    singles = SINGLE_FUNCTIONS + [partial(itjax.renyi_entropy, alpha=math.inf)]
    total += sum(f(p) for f in singles)
    return total + jnp.sum(itjax.binary_entropy(x) + itjax.binary_cross_entropy(x, q))


def test_finite_gradients_at_zero_probabilities(dtype):
    p = jnp.asarray([0.0, 0.3, 0.7, 0.0], dtype)
    q = jnp.asarray([0.0, 0.6, 0.2, 0.2], dtype)
    x = jnp.asarray([0.0, 1.0, 0.5, 0.0], dtype)
    for g in jax.jit(jax.grad(sum_of_all, argnums=(0, 1, 2)))(p, q, x):
        assert np.isfinite(g).all(), g
    # The gradient at 0 is the one the double `where` selects: the p = 0 term is constant.
    g = jax.grad(itjax.entropy)(p)
    np.testing.assert_allclose(g[1:3], -np.log(np.asarray(p[1:3], np.float64)) - 1, rtol=1e-5)
    assert g[0] == 0 and g[3] == 0


def test_cross_entropies_are_linear_in_their_targets(dtype):
    # H(p, q) is linear in p: ∂H/∂p(x) = −log q(x), also where p(x) = 0 (the
    # 0 · log 0 convention must not zero it).
    p = jnp.asarray([0.0, 0.3, 0.7, 0.0], dtype)
    q = jnp.asarray([0.1, 0.6, 0.2, 0.1], dtype)
    z = jnp.asarray([0.5, -1.0, 2.0, 0.0], dtype)
    rtol = tolerance(dtype)
    np.testing.assert_allclose(jax.grad(itjax.cross_entropy)(p, q), -jnp.log(q), rtol=rtol)
    np.testing.assert_allclose(
        jax.grad(itjax.cross_entropy_from_logits)(p, z), -jax.nn.log_softmax(z), rtol=rtol
    )
    t = jnp.asarray([0.0, 1.0, 0.3, 0.0], dtype)
    g = jax.grad(lambda t: itjax.binary_cross_entropy_from_logits(t, z).sum())(t)
    np.testing.assert_allclose(g, -z, rtol=rtol, atol=1e-6)  # softplus(−z) − softplus(z)
    g = jax.grad(lambda t: itjax.binary_cross_entropy(t, q).sum())(t)
    np.testing.assert_allclose(g, jnp.log1p(-q) - jnp.log(q), rtol=rtol)


def minus_inf_logit_values_and_gradients(a, c, t, z, labels):
    """Values and gradients at logits that may be -inf (KL(a‖c) is finite)."""
    cases = [
        (itjax.entropy_from_logits, (a,)),
        (partial(itjax.entropy_from_logits, temperature=2.0), (a,)),
        (itjax.kl_divergence_from_logits, (a, c)),
        (itjax.js_divergence_from_logits, (a, c)),
        (partial(itjax.renyi_entropy_from_logits, alpha=2.0), (a,)),
        (partial(itjax.renyi_divergence_from_logits, alpha=0.5), (a, c)),
        (partial(itjax.renyi_divergence_from_logits, alpha=2.0), (a, c)),
        (partial(itjax.distillation_loss, temperature=2.0), (c, a)),
        (partial(itjax.cross_entropy_from_logits, t), (a,)),  # in the logits only
    ]
    out = []
    for f, args in cases:
        out.append(f(*args))
        out.extend(jax.grad(f, argnums=tuple(range(len(args))))(*args))
    for f in (
        itjax.binary_entropy_from_logits,
        partial(itjax.binary_cross_entropy_from_logits, labels),
    ):
        out.append(f(z))
        out.append(jax.grad(lambda x, f=f: f(x).sum())(z))
    return out


def test_gradients_at_minus_inf_logits_equal_clipped(dtype):
    a = jnp.asarray([0.3, -jnp.inf, 1.0, -jnp.inf], dtype)
    c = jnp.asarray([-0.5, 0.2, 0.7, -jnp.inf], dtype)  # supp softmax(c) ⊇ supp softmax(a)
    t = jnp.asarray([0.4, 0.0, 0.6, 0.0], dtype)  # targets on the support of a
    z = jnp.asarray([-jnp.inf, jnp.inf, 0.5, -jnp.inf], dtype)
    labels = jnp.asarray([0.0, 1.0, 0.3, 0.0], dtype)
    f = jax.jit(minus_inf_logit_values_and_gradients)
    got = f(a, c, t, z, labels)
    clipped = f(jnp.maximum(a, -1e4), jnp.maximum(c, -1e4), t, jnp.clip(z, -1e4, 1e4), labels)
    for i, (g, g_clipped) in enumerate(zip(got, clipped, strict=True)):
        assert np.isfinite(g).all(), (i, g)
        np.testing.assert_allclose(g, g_clipped, rtol=tolerance(dtype), atol=0, err_msg=f"{i}")


# --------------------------------------------------------------------------- #
# `where` masks: masked equals sliced.
# --------------------------------------------------------------------------- #


def masked_and_sliced(p, q, a, b, sp_, sq, sa, sb, where):
    pairs = [(f(p, q, where=where), f(sp_, sq)) for f in PAIR_FUNCTIONS]
    pairs += [(f(p, where=where), f(sp_)) for f in SINGLE_FUNCTIONS]
    pairs += [(f(a, b, where=where), f(sa, sb)) for f in LOGIT_PAIR_FUNCTIONS]
    pairs += [(f(a, where=where), f(sa)) for f in LOGIT_FUNCTIONS]
    pairs += [
        (
            itjax.cross_entropy_from_logits(p, b, where=where),
            itjax.cross_entropy_from_logits(sp_, sb),
        ),
        (
            itjax.cross_entropy_from_labels(
                jnp.asarray([0, 5]), b, label_smoothing=0.1, where=where
            ),
            itjax.cross_entropy_from_labels(jnp.asarray([0, 3]), sb, label_smoothing=0.1),
        ),
    ]
    # Gradients are finite despite the NaN/inf garbage, and zero there.
    grads = [
        jax.grad(lambda x: sum(f(x, q, where=where).sum() for f in PAIR_FUNCTIONS))(p),
        jax.grad(lambda x: sum(f(x, b, where=where).sum() for f in LOGIT_PAIR_FUNCTIONS))(a),
    ]
    return pairs, grads


def test_masked_equals_sliced():
    dtype = jnp.float32  # masking logic is dtype-independent
    keep = np.array([True, False, True, True, False, True])
    rng = np.random.default_rng(29)
    inner_p = rng.dirichlet(np.ones(4), size=2)
    inner_q = rng.dirichlet(np.ones(4), size=2)
    p = np.full((2, 6), np.nan)  # garbage where masked out
    q = np.full((2, 6), -3.0)
    p[:, keep], q[:, keep] = inner_p, inner_q
    a = np.full((2, 6), np.nan)
    b = np.full((2, 6), np.inf)
    a[:, keep], b[:, keep] = np.log(inner_p), np.log(inner_q) + 2.0
    arrays = [jnp.asarray(x, dtype) for x in (p, q, a, b)]
    sliced = [x[:, keep] for x in arrays]
    pairs, grads = jax.jit(masked_and_sliced)(*arrays, *sliced, jnp.asarray(keep))
    for i, (masked, reference) in enumerate(pairs):
        assert np.isfinite(reference).all(), i
        np.testing.assert_allclose(masked, reference, rtol=tolerance(dtype), err_msg=f"{i}")
    for i, g in enumerate(grads):
        assert np.isfinite(g).all() and (g[:, ~keep] == 0).all(), (i, g)


# --------------------------------------------------------------------------- #
# Properties.
# --------------------------------------------------------------------------- #

SIZES = (2, 6)


@st.composite
def pmf_pairs(draw):
    k = draw(st.sampled_from(SIZES))
    weights = st.lists(
        st.one_of(st.just(0.0), st.floats(1e-6, 1.0)), min_size=k, max_size=k
    ).filter(lambda w: sum(w) > 0)
    p = np.asarray(draw(weights))
    q = np.asarray(draw(weights))
    return p / p.sum(), q / q.sum()


_kl = jax.jit(itjax.kl_divergence, static_argnames="base")
_entropy = jax.jit(itjax.entropy, static_argnames="base")
_js = jax.jit(itjax.js_divergence)
_ce = jax.jit(itjax.cross_entropy)


@given(pmf_pairs())
def test_divergence_properties(pair):
    p, q = (jnp.asarray(x, jnp.float32) for x in pair)
    kl = float(_kl(p, q))
    assert kl >= 0  # every summed term is >= 0: exact, no tolerance
    assert float(_kl(p, p)) == 0.0
    assert float(_kl(q, q)) == 0.0
    k = p.shape[0]
    h = float(_entropy(p))
    assert 0 <= h <= math.log(k) * (1 + 1e-6)
    js = float(_js(p, q))
    assert float(_js(q, p)) == js
    assert 0 <= js <= math.log(2) * (1 + 1e-6)
    # Gibbs: H(p, q) = H(p) + KL(p‖q) >= H(p).
    ce = float(_ce(p, q))
    if math.isfinite(kl):
        assert ce == pytest.approx(h + kl, rel=1e-5, abs=1e-6)
        # Pinsker: TV <= √(KL/2).
        assert float(_tv(p, q)) <= math.sqrt(kl / 2) + 1e-6
    else:
        assert ce == math.inf


_renyi2 = jax.jit(partial(itjax.renyi_entropy, alpha=2.0), static_argnames="base")
_tv = jax.jit(itjax.total_variation)


@given(pmf_pairs(), st.sampled_from([2, 10, 0.5]))
def test_base_conversion(pair, base):
    p, q = (jnp.asarray(x, jnp.float32) for x in pair)
    for f in (_entropy, _renyi2):
        assert float(f(p, base=base)) == pytest.approx(
            float(f(p)) / math.log(base), rel=1e-6, abs=1e-7
        )
    assert float(_kl(p, q, base=base)) == pytest.approx(float(_kl(p, q)) / math.log(base), rel=1e-6)


ALPHAS = (0.0, 0.5, 1.0, 2.0, math.inf)


@jax.jit
def _renyi_all_orders(p, q):
    h = jnp.stack([itjax.renyi_entropy(p, alpha=a) for a in ALPHAS])
    d = jnp.stack([itjax.renyi_divergence(p, q, alpha=a) for a in ALPHAS])
    return h, d


@given(pmf_pairs())
def test_renyi_is_monotone_in_alpha(pair):
    p, q = (jnp.asarray(x, jnp.float32) for x in pair)
    h, d = (np.asarray(x, np.float64) for x in _renyi_all_orders(p, q))
    # Non-increasing H_α, non-decreasing D_α; slack: a few float32 ulps.
    assert all(y <= x + 1e-6 * (1 + abs(x)) for x, y in zip(h[:-1], h[1:], strict=True))
    assert all(
        y == np.inf or y >= x - 1e-6 * (1 + abs(x)) for x, y in zip(d[:-1], d[1:], strict=True)
    )


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


def test_bad_input_is_refused_before_tracing():
    p = jnp.asarray([0.5, 0.5])
    with pytest.raises(
        ValueError, match=r"p and q must have the same shape, got \(2,\) and \(3,\)"
    ):
        itjax.kl_divergence(p, jnp.ones(3) / 3)
    with pytest.raises(
        TypeError, match="p must have a floating dtype, got an array of dtype int32"
    ):
        itjax.entropy(jnp.asarray([1, 0], jnp.int32))
    with pytest.raises(ValueError, match="axis=1 is out of range for an array of rank 1"):
        itjax.entropy(p, axis=1)
    for base in (0, -2.0, 1):
        with pytest.raises(ValueError, match="base must be a positive number other than 1"):
            itjax.kl_divergence(p, p, base=base)
    with pytest.raises(ValueError, match="p must have at least one dimension"):
        itjax.entropy(jnp.asarray(1.0))
    with pytest.raises(TypeError, match="where must be a boolean mask"):
        itjax.entropy(p, where=jnp.asarray([1, 0]))
    with pytest.raises(ValueError, match=r"where must broadcast to shape \(2,\), got shape \(3,\)"):
        itjax.entropy(p, where=jnp.asarray([True, False, True]))
    with pytest.raises(ValueError, match="alpha must be >= 0, got -1.0"):
        itjax.renyi_entropy(p, alpha=-1.0)
    with pytest.raises(TypeError, match="alpha must be a static Python number"):
        jax.jit(lambda a: itjax.renyi_entropy(p, alpha=a))(2.0)
    with pytest.raises(ValueError, match="temperature must be > 0, got 0.0"):
        itjax.entropy_from_logits(p, temperature=0.0)
    with pytest.raises(ValueError, match="epsilon must be in"):
        itjax.cross_entropy_from_labels(jnp.asarray(0), p, label_smoothing=1.5)
    with pytest.raises(
        ValueError, match=r"labels must have the shape of logits without axis 1, \(2,\), got \(3,\)"
    ):
        itjax.cross_entropy_from_labels(jnp.asarray([0, 1, 0]), jnp.zeros((2, 3)))
    with pytest.raises(TypeError, match="labels must have an integer dtype"):
        itjax.cross_entropy_from_labels(jnp.asarray([0.0, 1.0]), jnp.zeros((2, 3)))
    with pytest.raises(TypeError, match="f must be a callable"):
        itjax.f_divergence(p, p, "kl")
    with pytest.raises(
        ValueError, match="student_logits and teacher_logits must have the same shape"
    ):
        itjax.distillation_loss(jnp.zeros(3), jnp.zeros(4), temperature=2.0)
    with pytest.raises(ValueError, match="p and q must have the same shape"):
        itjax.binary_cross_entropy(jnp.zeros(3), jnp.zeros(4))


def test_validate_reports_bad_values_with_their_location():
    with pytest.raises(ValueError, match=r"p must be non-negative; p\[\(1, 2\)\] = -0.1"):
        itjax.entropy(jnp.asarray([[0.5, 0.5, 0.0], [0.6, 0.5, -0.1]]), validate=True)
    with pytest.raises(ValueError, match=r"q must sum to 1 along axis 1; .* batch index \(1,\)"):
        itjax.kl_divergence(
            jnp.ones((2, 2)) / 2, jnp.asarray([[0.5, 0.5], [0.5, 0.6]]), validate=True
        )
    with pytest.raises(ValueError, match=r"p must be finite; p\[\(0,\)\] = nan"):
        itjax.js_divergence(jnp.asarray([jnp.nan, 1.0]), jnp.asarray([0.5, 0.5]), validate=True)
    with pytest.raises(ValueError, match=r"logits must be finite or -inf; logits\[\(1,\)\] = inf"):
        itjax.entropy_from_logits(jnp.asarray([0.0, jnp.inf]), validate=True)
    with pytest.raises(ValueError, match="q_logits must have a finite logit"):
        itjax.kl_divergence_from_logits(jnp.zeros(2), jnp.full(2, -jnp.inf), validate=True)
    with pytest.raises(
        ValueError, match=r"labels must index an included class in \[0, 3\); labels\[\(1,\)\] = 3"
    ):
        itjax.cross_entropy_from_labels(jnp.asarray([0, 3]), jnp.zeros((2, 3)), validate=True)
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\]; p\[\(1,\)\] = 1.5"):
        itjax.binary_entropy(jnp.asarray([0.5, 1.5]), validate=True)
    with pytest.raises(ValueError, match="logits must not be NaN"):
        itjax.binary_entropy_from_logits(jnp.asarray([0.5, jnp.nan]), validate=True)
    # Masked-out entries are not validated; the included ones must be a pmf.
    itjax.entropy(
        jnp.asarray([0.5, -7.0, 0.5]), where=jnp.asarray([True, False, True]), validate=True
    )
    with pytest.raises(TypeError, match="validate=True checks the values of p eagerly"):
        jax.jit(lambda p: itjax.entropy(p, validate=True))(jnp.ones(2) / 2)
