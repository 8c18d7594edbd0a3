"""Tests of the 1-D and sliced Wasserstein distances against scipy, LPs and quadrature."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import tolerance
from hypothesis import given
from hypothesis import strategies as st
from jax.test_util import check_grads
from scipy import optimize, stats

import itjax

# Jitted once per shape: cheaper to compile than many eager ops, and the same numbers.
w1d = jax.jit(itjax.wasserstein_1d, static_argnames=("p",))
sliced = jax.jit(itjax.sliced_wasserstein, static_argnames=("num_projections", "p"))

# --------------------------------------------------------------------------- #
# Independent oracles (numpy / scipy, float64).
# --------------------------------------------------------------------------- #


def lp_wasserstein(u, v, u_weights=None, v_weights=None, p=1.0):
    """W_p by the transport linear program min Σ π_ij |u_i − v_j|^p (scipy HiGHS)."""
    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    a = np.ones(len(u)) if u_weights is None else np.asarray(u_weights, np.float64)
    b = np.ones(len(v)) if v_weights is None else np.asarray(v_weights, np.float64)
    a, b = a / a.sum(), b / b.sum()
    n, m = len(u), len(v)
    cost = np.abs(u[:, None] - v[None, :]) ** p
    rows = np.kron(np.eye(n), np.ones((1, m)))
    cols = np.kron(np.ones((1, n)), np.eye(m))
    res = optimize.linprog(
        cost.ravel(), A_eq=np.vstack([rows, cols]), b_eq=np.concatenate([a, b]), method="highs"
    )
    assert res.status == 0
    return res.fun ** (1 / p)


def cdf_condition(u, v, u_weights, v_weights):
    """κ = ∫ (F_u + F_v) dx / W_1: rounding each CDF value by a relative eps moves W_1
    by about eps · κ relative, the conditioning of W_1 in its weights."""
    u, v, a, b = (np.asarray(t, np.float64) for t in (u, v, u_weights, v_weights))
    x = np.sort(np.concatenate([u, v]))
    cdf_u = np.array([a[u <= t].sum() for t in x[:-1]]) / a.sum()
    cdf_v = np.array([b[v <= t].sum() for t in x[:-1]]) / b.sum()
    return np.sum((cdf_u + cdf_v) * np.diff(x)) / stats.wasserstein_distance(u, v, a, b)


def scipy_w1(u, v, u_weights=None, v_weights=None):
    f64 = lambda t: None if t is None else np.asarray(t, np.float64)
    return stats.wasserstein_distance(f64(u), f64(v), f64(u_weights), f64(v_weights))


# --------------------------------------------------------------------------- #
# wasserstein_1d
# --------------------------------------------------------------------------- #


@pytest.mark.parametrize("n, m", [(60, 60), (60, 97), (1, 5)])
def test_w1_matches_scipy_uniform_weights(dtype, n, m):
    rng = np.random.default_rng(n + m)
    u = jnp.asarray(rng.normal(size=n), dtype)
    v = jnp.asarray(1.5 * rng.normal(size=m) + 0.3, dtype)
    result = itjax.wasserstein_1d(u, v)
    assert result.dtype == dtype
    np.testing.assert_allclose(result, scipy_w1(u, v), rtol=tolerance(dtype))
    # Explicit unit weights take the weighted path and agree.
    ones = lambda t: jnp.ones_like(t)
    np.testing.assert_allclose(
        itjax.wasserstein_1d(u, v, u_weights=ones(u), v_weights=ones(v)),
        scipy_w1(u, v),
        rtol=tolerance(dtype),
    )


@pytest.mark.parametrize("n, m", [(50, 50), (40, 73)])
def test_w1_matches_scipy_with_weights(dtype, n, m):
    rng = np.random.default_rng(n * m)
    u = jnp.asarray(rng.normal(size=n), dtype)
    v = jnp.asarray(rng.normal(size=m) * 0.7 - 0.4, dtype)
    u_w = jnp.asarray(rng.uniform(0.0, 2.0, size=n), dtype)
    v_w = jnp.asarray(rng.uniform(0.0, 2.0, size=m), dtype)
    result = itjax.wasserstein_1d(u, v, u_weights=u_w, v_weights=v_w)
    expected = scipy_w1(u, v, u_w, v_w)
    if dtype == jnp.float64:
        rtol = tolerance(dtype)
    else:
        # Each float32 CDF value carries a relative rounding error of a few eps, which
        # moves W_1 by about eps · κ (κ from the oracle, typically 5-40 here).
        rtol = 4 * np.finfo(np.float32).eps * cdf_condition(u, v, u_w, v_w)
    np.testing.assert_allclose(result, expected, rtol=rtol)


def test_w1_large_samples_float64(x64):
    rng = np.random.default_rng(7)
    u, v = rng.standard_t(3, size=3000), rng.normal(size=2000)
    u_w = rng.uniform(size=3000)
    np.testing.assert_allclose(
        itjax.wasserstein_1d(u, v, u_weights=u_w), scipy_w1(u, v, u_w), rtol=1e-12
    )


def test_w1_hand_worked_and_disjoint_supports():
    # Point masses: W_1(δ_0, δ_a) = |a| while KL(δ_0 ‖ δ_a) = +∞.
    for a in (0.5, -3.0):
        assert float(itjax.wasserstein_1d(jnp.zeros(1), jnp.full((1,), a))) == abs(a)
    p, q = np.array([0.5, 0.5, 0.0, 0.0]), np.array([0.0, 0.0, 0.5, 0.5])
    assert stats.entropy(p, q) == np.inf
    support = jnp.asarray([0.0, 1.0, 5.0, 6.0])
    w1 = itjax.wasserstein_1d(support, support, u_weights=p, v_weights=q)
    assert float(w1) == 5.0
    # Uniform on {0, 1, 2} against uniform on {0, 3}: F_u − F_v is 1/3 − 1/2 on [0, 1),
    # 2/3 − 1/2 on [1, 2) and 1 − 1/2 on [2, 3), so W_1 = 1/6 + 1/6 + 1/2 = 5/6.
    np.testing.assert_allclose(itjax.wasserstein_1d([0.0, 1.0, 2.0], [0.0, 3.0]), 5 / 6, rtol=1e-6)
    # A translation by c costs |c| for every p.
    u = jnp.asarray([0.3, -1.2, 2.0, 0.7])
    for p in (1, 1.5, 2, 3):
        np.testing.assert_allclose(itjax.wasserstein_1d(u, u + 0.25, p=p), 0.25, rtol=1e-5)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0])
def test_wp_matches_linear_program(x64, p):
    rng = np.random.default_rng(int(10 * p))
    u, v = rng.normal(size=6), rng.exponential(size=9)
    u_w, v_w = rng.uniform(0.1, 1.0, size=6), rng.uniform(0.1, 1.0, size=9)
    np.testing.assert_allclose(
        itjax.wasserstein_1d(u, v, u_weights=u_w, v_weights=v_w, p=p),
        lp_wasserstein(u, v, u_w, v_w, p),
        rtol=1e-8,
    )
    # Uniform weights, different sizes (quantile form) and equal sizes (paired form).
    np.testing.assert_allclose(
        itjax.wasserstein_1d(u, v, p=p), lp_wasserstein(u, v, p=p), rtol=1e-8
    )
    np.testing.assert_allclose(
        itjax.wasserstein_1d(u, v[:6], p=p), lp_wasserstein(u, v[:6], p=p), rtol=1e-8
    )


def test_integer_weights_equal_repeated_values_and_zero_weights_drop(x64):
    rng = np.random.default_rng(8)
    u, v = rng.normal(size=5), rng.normal(size=4)
    repeated = np.concatenate([u, u[:2]])  # u[0] and u[1] twice
    padded = np.concatenate([u, rng.normal(size=3)])  # three extra values of weight 0
    for p in (1, 2.5):
        expected = w1d(repeated, v, p=p)
        np.testing.assert_allclose(
            w1d(u, v, u_weights=np.array([2.0, 2.0, 1.0, 1.0, 1.0]), p=p),
            expected,
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            w1d(
                np.concatenate([padded, u[:2]]),
                v,
                u_weights=np.array([1.0] * 5 + [0.0] * 3 + [1.0] * 2),
                p=p,
            ),
            expected,
            rtol=1e-12,
        )


@given(
    seed=st.integers(0, 2**31 - 1),
    scale=st.floats(0.1, 10.0),
    shift=st.floats(-5.0, 5.0),
    p=st.sampled_from([1.0, 2.0, 3.5]),
)
def test_metric_properties(seed, scale, shift, p):
    rng = np.random.default_rng(seed)
    with jax.enable_x64(True):
        u, v, w = rng.normal(size=7), rng.normal(size=5) + 1.0, rng.laplace(size=9)
        u_w = rng.uniform(0.1, 1.0, size=7)
        d = lambda a, b, **kw: float(itjax.wasserstein_1d(a, b, p=p, **kw))
        d_uv = d(u, v, u_weights=u_w)
        assert d_uv >= 0.0
        assert d(u, u) == 0.0
        np.testing.assert_allclose(d(v, u, v_weights=u_w), d_uv, rtol=1e-12)
        assert d(u, w, u_weights=u_w) <= d_uv + d(v, w) + 1e-12
        np.testing.assert_allclose(
            d(scale * u + shift, scale * v + shift, u_weights=u_w), scale * d_uv, rtol=1e-10
        )


def test_batched_over_leading_axes_equals_loop(x64):
    rng = np.random.default_rng(9)
    u = jnp.asarray(rng.normal(size=(3, 4, 20)))
    v = jnp.asarray(rng.normal(size=(4, 13)))
    v_w = jnp.asarray(rng.uniform(size=13))
    result = itjax.wasserstein_1d(u, v, v_weights=v_w)
    assert result.shape == (3, 4)
    expected = [[scipy_w1(u[i, j], v[j], None, v_w) for j in range(4)] for i in range(3)]
    np.testing.assert_allclose(result, expected, rtol=1e-12)
    f = lambda a, b: itjax.wasserstein_1d(a, b, p=2)
    jitted = jax.jit(f)
    np.testing.assert_allclose(jitted(u[0], v), f(u[0], v), rtol=1e-12)
    np.testing.assert_allclose(
        jax.jit(jax.vmap(f))(u[0], v),
        np.stack([jitted(a, b) for a, b in zip(u[0], v, strict=True)]),
        rtol=1e-12,
    )


def test_gradients(x64):
    rng = np.random.default_rng(10)
    u, v = jnp.asarray(rng.normal(size=6)), jnp.asarray(rng.normal(size=9) + 0.5)
    u_w = jnp.asarray(rng.uniform(0.5, 1.0, size=6))
    for p in (1, 2):
        f = jax.jit(lambda a, b, w, p=p: itjax.wasserstein_1d(a, b, u_weights=w, p=p))
        check_grads(f, (u, v, u_w), order=1, modes=["rev"], eps=1e-6)
    # At u = v the distance has its minimum: finite (zero) gradient, also through the root.
    grad = jax.grad(lambda a: itjax.wasserstein_1d(a, u, p=2))(u)
    np.testing.assert_array_equal(grad, 0.0)


def test_wasserstein_1d_bad_input():
    u = jnp.ones(4)
    with pytest.raises(ValueError, match=r"batch axes of u_values and v_values"):
        itjax.wasserstein_1d(jnp.ones((2, 4)), jnp.ones((3, 4)))
    with pytest.raises(TypeError, match="u_values must have a floating dtype"):
        itjax.wasserstein_1d(jnp.ones(4, jnp.int32), u)
    with pytest.raises(ValueError, match=r"v_values must have shape \(\.\.\., n\)"):
        itjax.wasserstein_1d(u, jnp.ones(0))
    with pytest.raises(ValueError, match=r"u_weights must have the shape of u_values \(4,\)"):
        itjax.wasserstein_1d(u, u, u_weights=jnp.ones(3))
    with pytest.raises(ValueError, match="p must be a finite number >= 1, got 0.5"):
        itjax.wasserstein_1d(u, u, p=0.5)
    with pytest.raises(ValueError, match=r"u_weights must be non-negative; u_weights\[\(1,\)\]"):
        itjax.wasserstein_1d(u, u, u_weights=jnp.array([1.0, -1.0, 1.0, 1.0]), validate=True)
    with pytest.raises(ValueError, match="v_weights must have a positive sum"):
        itjax.wasserstein_1d(u, u, v_weights=jnp.zeros(4), validate=True)
    with pytest.raises(ValueError, match="v_values must be finite"):
        itjax.wasserstein_1d(u, u.at[2].set(jnp.nan), validate=True)


# --------------------------------------------------------------------------- #
# sliced_wasserstein
# --------------------------------------------------------------------------- #


def test_sliced_in_one_dimension_is_wasserstein_1d(dtype):
    """In d = 1 every direction is ±1 and W_p is reflection invariant: SW_p = W_p."""
    rng = np.random.default_rng(20)
    x = jnp.asarray(rng.normal(size=(30, 1)), dtype)
    y = jnp.asarray(rng.normal(size=(45, 1)) + 1.0, dtype)
    for p, key in zip((1, 2), jax.random.split(jax.random.key(0)), strict=True):
        np.testing.assert_allclose(
            sliced(key, x, y, p=p, num_projections=4),
            w1d(x[:, 0], y[:, 0], p=p),
            rtol=10 * tolerance(dtype),
        )


@pytest.mark.parametrize("p, m", [(2, 40), (1, 57)])
def test_sliced_is_unbiased_for_the_sphere_average(x64, p, m):
    """SW_p^p averaged over 200 keys matches (1/2π) ∫ W_p^p(θ_φ) dφ within 4 standard errors."""
    rng = np.random.default_rng(21 + p)
    x = rng.normal(size=(40, 2)) * np.array([1.0, 0.3])
    y = rng.normal(size=(m, 2)) + np.array([0.5, -1.0])
    phis = np.linspace(0.0, 2 * np.pi, 2000, endpoint=False)
    per_direction = np.array(
        [
            lp_free_wasserstein_pow(x @ np.array([c, s]), y @ np.array([c, s]), p)
            for c, s in zip(np.cos(phis), np.sin(phis), strict=True)
        ]
    )
    exact = per_direction.mean()  # periodic trapezoid rule over the circle
    num_projections, num_keys = 16, 200
    f = lambda key: itjax.sliced_wasserstein(key, x, y, num_projections=num_projections, p=p) ** p
    estimates = jax.jit(jax.vmap(f))(jax.random.split(jax.random.key(1), num_keys))
    se = per_direction.std() / math.sqrt(num_projections * num_keys)
    assert abs(float(estimates.mean()) - exact) < 4 * se
    # The spread across keys is the one of L directions averaged.
    np.testing.assert_allclose(
        estimates.std(), per_direction.std() / math.sqrt(num_projections), rtol=0.25
    )


def lp_free_wasserstein_pow(u, v, p):
    """W_p^p of 1-D uniform samples: scipy for p = 1, sorted pairs for equal sizes."""
    if p == 1:
        return stats.wasserstein_distance(u, v)
    assert len(u) == len(v)
    return np.mean(np.abs(np.sort(u) - np.sort(v)) ** p)


def test_sliced_invariances_with_the_same_directions(dtype):
    rng = np.random.default_rng(22)
    x = jnp.asarray(rng.normal(size=(25, 3)), dtype)
    y = jnp.asarray(rng.normal(size=(25, 3)) * 2.0, dtype)
    key = jax.random.key(2)
    sw = lambda a, b, k: itjax.sliced_wasserstein(k, a, b, num_projections=32)
    base = sw(x, y, jax.random.clone(key))
    rtol = 10 * tolerance(dtype) if dtype == jnp.float64 else 1e-5
    shift = jnp.asarray([[1.0, -2.0, 0.5]], dtype)
    np.testing.assert_allclose(sw(x + shift, y + shift, jax.random.clone(key)), base, rtol=rtol)
    np.testing.assert_allclose(sw(3.0 * x, 3.0 * y, jax.random.clone(key)), 3.0 * base, rtol=rtol)
    np.testing.assert_allclose(sw(y, x, jax.random.clone(key)), base, rtol=rtol)
    assert float(sw(x, x, key)) == 0.0


def test_sliced_weights_equal_repeated_rows(x64):
    rng = np.random.default_rng(23)
    x, y = rng.normal(size=(6, 3)), rng.normal(size=(9, 3))
    key = jax.random.key(3)
    repeated = np.concatenate([x, x[:2]])
    weights = np.array([2.0, 2.0, 1.0, 1.0, 1.0, 1.0])
    for p in (1, 2):
        np.testing.assert_allclose(
            sliced(jax.random.clone(key), x, y, x_weights=weights, p=p),
            sliced(jax.random.clone(key), repeated, y, p=p),
            rtol=1e-12,
        )


def test_sliced_transforms_and_gradients(x64):
    rng = np.random.default_rng(24)
    x, y = jnp.asarray(rng.normal(size=(12, 3))), jnp.asarray(rng.normal(size=(12, 3)))
    key = jax.random.key(4)
    f = lambda a, b, k: itjax.sliced_wasserstein(k, a, b, num_projections=8)
    np.testing.assert_allclose(
        jax.jit(f)(x, y, jax.random.clone(key)), f(x, y, jax.random.clone(key)), rtol=1e-12
    )
    g = jax.jit(lambda a: f(a, y, jax.random.clone(key)))
    check_grads(g, (x,), order=1, modes=["rev"], eps=1e-6)
    grad = jax.grad(lambda a: f(a, x, key))(x)  # the minimum: zero, not NaN
    np.testing.assert_array_equal(grad, 0.0)


def test_sliced_bad_input():
    key = jax.random.key(5)
    x = jnp.ones((4, 3))
    with pytest.raises(ValueError, match=r"x and y must have the same dimension d"):
        itjax.sliced_wasserstein(key, x, jnp.ones((4, 2)))
    with pytest.raises(ValueError, match=r"y must be samples of shape \(n,\) or \(n, d\)"):
        itjax.sliced_wasserstein(key, x, jnp.ones((2, 2, 3)))
    with pytest.raises(ValueError, match="num_projections must be >= 1, got 0"):
        itjax.sliced_wasserstein(key, x, x, num_projections=0)
    with pytest.raises(TypeError, match="num_projections must be a Python int"):
        itjax.sliced_wasserstein(key, x, x, num_projections=2.0)
    with pytest.raises(ValueError, match="p must be a finite number >= 1"):
        itjax.sliced_wasserstein(key, x, x, p=float("inf"))
    with pytest.raises(ValueError, match=r"x_weights must have the shape of x\[:, 0\]"):
        itjax.sliced_wasserstein(key, x, x, x_weights=jnp.ones(5))
    with pytest.raises(ValueError, match=r"y must be finite; y\[\(1, 2\)\] = inf"):
        itjax.sliced_wasserstein(key, x, x.at[1, 2].set(jnp.inf), validate=True)
    with pytest.raises(ValueError, match="x_weights must be non-negative"):
        itjax.sliced_wasserstein(key, x, x, x_weights=-jnp.ones(4), validate=True)
