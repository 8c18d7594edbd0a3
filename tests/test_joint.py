"""Tests of the joint-table quantities (itjax/_src/joint.py).

Oracles: scipy.stats.entropy of the marginals (the textbook identities),
scikit-learn's mutual_info_score and entropy-based clustering scores, and a
60-digit `decimal` computation near independence.
"""

import math
from decimal import Decimal, localcontext

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from conftest import jx, tolerance
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import mutual_info_score

import itjax


def table(seed, shape, zeros=0):
    rng = np.random.default_rng(seed)
    p = rng.dirichlet(np.ones(math.prod(shape)))
    if zeros:
        p[rng.choice(p.size, zeros, replace=False)] = 0.0
        p /= p.sum()
    return p.reshape(shape)


def H(p, axes=None):
    """Entropy in nats (scipy) of the marginal of `p` on `axes` (all axes by default)."""
    p = np.asarray(p, np.float64)
    if axes is not None:
        drop = tuple(a for a in range(p.ndim) if a not in axes)
        p = p.sum(axis=drop)
    return scipy.stats.entropy(p.ravel())


def test_two_variable_quantities_match_entropy_identities(dtype):
    p64 = table(0, (4, 5), zeros=4)
    p = jnp.asarray(p64, dtype)
    p64 = np.asarray(p, np.float64)
    rtol = tolerance(dtype, f32=2e-6, f64=1e-12)
    hx, hy, hxy = H(p64, (0,)), H(p64, (1,)), H(p64)
    np.testing.assert_allclose(jx.joint_entropy(p), hxy, rtol=rtol)
    np.testing.assert_allclose(jx.conditional_entropy(p), hxy - hx, rtol=rtol)  # H(Y|X)
    np.testing.assert_allclose(jx.conditional_entropy(p, axis=0, given_axis=1), hxy - hy, rtol=rtol)
    np.testing.assert_allclose(jx.mutual_information(p), hx + hy - hxy, rtol=rtol)
    np.testing.assert_allclose(jx.variation_of_information(p), 2 * hxy - hx - hy, rtol=rtol)
    np.testing.assert_allclose(jx.total_correlation(p), hx + hy - hxy, rtol=rtol)
    np.testing.assert_allclose(
        jx.mutual_information(p, base=2), (hx + hy - hxy) / math.log(2), rtol=rtol
    )
    assert jx.mutual_information(p).dtype == dtype


def test_mutual_information_matches_scikit_learn(x64):
    # sklearn's MI of a contingency table of counts, in nats.
    counts = np.random.default_rng(1).integers(0, 20, (5, 3))
    counts[0, 1] = 0
    p = counts / counts.sum()
    expected = mutual_info_score(None, None, contingency=counts)
    assert float(jx.mutual_information(jnp.asarray(p))) == pytest.approx(expected, rel=1e-12)


def test_three_variable_quantities(dtype):
    p64 = table(2, (3, 4, 2), zeros=3)
    p = jnp.asarray(p64, dtype)
    p64 = np.asarray(p, np.float64)
    rtol = tolerance(dtype, f32=2e-6, f64=1e-12)
    # I(X;Y|Z) = H(X,Z) + H(Y,Z) − H(X,Y,Z) − H(Z).
    cmi = H(p64, (0, 2)) + H(p64, (1, 2)) - H(p64) - H(p64, (2,))
    np.testing.assert_allclose(jx.conditional_mutual_information(p), cmi, rtol=rtol)
    tc = H(p64, (0,)) + H(p64, (1,)) + H(p64, (2,)) - H(p64)
    np.testing.assert_allclose(jx.total_correlation(p, axes=(0, 1, 2)), tc, rtol=rtol)
    np.testing.assert_allclose(jx.joint_entropy(p, axes=(0, 1, 2)), H(p64), rtol=rtol)
    # Groups of axes act as one variable: I((X,Z);Y) on the table reshaped to (X·Z, Y).
    grouped = jx.mutual_information(p, x_axis=(0, 2), y_axis=1)
    flat = jnp.moveaxis(p, 1, 2).reshape(6, 4)
    np.testing.assert_allclose(grouped, jx.mutual_information(flat), rtol=rtol)
    # Chain rule for MI: I(X;(Y,Z)) = I(X;Z) + I(X;Y|Z).
    i_x_yz = jx.mutual_information(p, x_axis=0, y_axis=(1, 2))
    i_xz = jx.mutual_information(p.sum(1), x_axis=0, y_axis=1)
    np.testing.assert_allclose(
        i_x_yz,
        i_xz + jx.conditional_mutual_information(p, x_axis=0, y_axis=1, given_axis=2),
        rtol=rtol,
    )


def test_unnamed_axes_are_batch_axes(dtype):
    p = jnp.asarray(np.stack([table(s, (3, 4)) for s in range(5)], axis=1), dtype)  # (3, 5, 4)
    rtol = tolerance(dtype)
    got = jx.mutual_information(p, x_axis=0, y_axis=2)
    assert got.shape == (5,)
    looped = jnp.stack([jx.mutual_information(p[:, b, :]) for b in range(5)])
    np.testing.assert_allclose(got, looped, rtol=rtol)
    vmapped = jax.vmap(jx.conditional_entropy, in_axes=1)(p)
    np.testing.assert_allclose(vmapped, jx.conditional_entropy(p, axis=2, given_axis=0), rtol=rtol)


def test_deterministic_and_independent_tables(dtype):
    rtol = tolerance(dtype)
    # Y = X mod 2, X uniform on 4: H(Y|X) = 0, I = H(Y) = log 2, VI = H(X|Y) = log 2.
    det = np.zeros((4, 2))
    det[np.arange(4), np.arange(4) % 2] = 0.25
    det = jnp.asarray(det, dtype)
    assert float(jx.conditional_entropy(det)) == 0.0
    np.testing.assert_allclose(jx.mutual_information(det), math.log(2), rtol=rtol)
    np.testing.assert_allclose(jx.variation_of_information(det), math.log(2), rtol=rtol)
    # Independent: p(x, y) = a(x) b(y). I is rounding-level (>= 0 by construction).
    rng = np.random.default_rng(3)
    ind = jnp.asarray(np.outer(rng.dirichlet(np.ones(3)), rng.dirichlet(np.ones(5))), dtype)
    mi = float(jx.mutual_information(ind))
    assert 0.0 <= mi < (1e-12 if dtype == jnp.float32 else 1e-28)
    assert 0.0 <= float(jx.total_correlation(ind)) < 1e-12


def test_mutual_information_near_independence_keeps_full_precision(x64):
    # H(X) + H(Y) − H(X,Y) cancels when I << H; the KL form does not.
    rng = np.random.default_rng(4)
    base = np.outer(rng.dirichlet(np.ones(4)), rng.dirichlet(np.ones(6)))
    p = base * (1 + 1e-4 * rng.standard_normal(base.shape))
    p /= p.sum()
    with localcontext() as ctx:
        ctx.prec = 60
        P = [[Decimal(float(v)) for v in row] for row in p]
        total = sum(sum(row) for row in P)
        P = [[v / total for v in row] for row in P]
        px = [sum(row) for row in P]
        py = [sum(P[i][j] for i in range(4)) for j in range(6)]
        exact = float(
            sum(P[i][j] * (P[i][j] / (px[i] * py[j])).ln() for i in range(4) for j in range(6))
        )
    got = float(jx.mutual_information(jnp.asarray(p)))
    assert got == pytest.approx(exact, rel=1e-10)


# --------------------------------------------------------------------------- #
# Transforms and gradients.
# --------------------------------------------------------------------------- #


def all_values(p):
    return [
        itjax.joint_entropy(p, axes=(0, 1, 2)),
        itjax.conditional_entropy(p, axis=(1, 2), given_axis=0),
        itjax.mutual_information(p, x_axis=0, y_axis=(1, 2)),
        itjax.conditional_mutual_information(p, x_axis=0, y_axis=1, given_axis=2),
        itjax.total_correlation(p, axes=(0, 1, 2)),
        itjax.variation_of_information(p, x_axis=(0, 2), y_axis=1),
    ]


def test_jit_equals_eager_and_vmap_equals_loop():
    # Transform consistency does not depend on the dtype: float32 only.
    dtype = jnp.float32
    batch = jnp.asarray(np.stack([table(s, (2, 3, 2), zeros=2) for s in range(3)]), dtype)
    rtol = tolerance(dtype)
    eager = all_values(batch[0])
    for e, j in zip(eager, jax.jit(all_values)(batch[0]), strict=True):
        np.testing.assert_allclose(j, e, rtol=rtol)
    row = jax.jit(all_values)
    looped = [row(batch[i]) for i in range(3)]
    for i, v in enumerate(jax.jit(jax.vmap(all_values))(batch)):
        np.testing.assert_allclose(v, jnp.stack([r[i] for r in looped]), rtol=rtol)


def test_gradients(x64):
    weights = (1.0, 0.7, 1.3, 0.9, 1.1, 0.8)

    @jax.jit
    def combination(p):
        return sum(w * v for w, v in zip(weights, all_values(p), strict=True))

    grad = jax.jit(jax.grad(combination))
    # Central differences along random directions (one compilation for all six
    # functions: a wrong gradient in any of them shows in the combination).
    p = jnp.asarray(table(5, (2, 3, 2)))
    rng = np.random.default_rng(7)
    for _ in range(3):
        v = jnp.asarray(rng.standard_normal(p.shape))
        eps = 1e-6
        numeric = (combination(p + eps * v) - combination(p - eps * v)) / (2 * eps)
        assert float(jnp.vdot(grad(p), v)) == pytest.approx(float(numeric), rel=1e-6, abs=1e-9)
    # Finite at zero cells (a whole zero slice too: a zero marginal).
    q = jnp.asarray(table(6, (2, 3, 2), zeros=3)).at[1, :, 0].set(0.0)
    assert np.isfinite(grad(q / q.sum())).all()


# --------------------------------------------------------------------------- #
# Properties.
# --------------------------------------------------------------------------- #


@st.composite
def joint_tables(draw):
    shape = draw(st.sampled_from([(2, 3), (4, 4)]))
    cells = st.one_of(st.just(0.0), st.floats(1e-6, 1.0))
    w = np.asarray(draw(st.lists(cells, min_size=math.prod(shape), max_size=math.prod(shape))))
    if w.sum() == 0:
        w[0] = 1.0
    return (w / w.sum()).reshape(shape)


@jax.jit
def _two_variable(p):
    return (
        itjax.joint_entropy(p),
        itjax.entropy(p.sum(1)),
        itjax.entropy(p.sum(0)),
        itjax.conditional_entropy(p),
        itjax.mutual_information(p),
        itjax.mutual_information(p.T),
        itjax.variation_of_information(p),
        itjax.mutual_information(p, base=2),
    )


@given(joint_tables())
def test_identities(p):
    hxy, hx, hy, hy_x, mi, mi_t, vi, mi_bits = (
        float(v) for v in _two_variable(jnp.asarray(p, jnp.float32))
    )
    atol = 1e-5 * max(1.0, hxy)
    assert hxy == pytest.approx(hx + hy_x, abs=atol)  # chain rule H(X,Y) = H(X) + H(Y|X)
    assert mi >= 0  # a sum of non-negative terms: exact
    assert mi == pytest.approx(hx + hy - hxy, abs=atol)
    assert mi == pytest.approx(mi_t, abs=atol)  # symmetric
    assert mi <= min(hx, hy) + atol
    assert 0 <= hy_x <= hy + atol
    assert vi == pytest.approx(hxy - mi, abs=atol)
    assert mi_bits == pytest.approx(mi / math.log(2), rel=1e-6, abs=1e-7)


# --------------------------------------------------------------------------- #
# Bad input.
# --------------------------------------------------------------------------- #


def test_bad_input():
    p = jnp.ones((2, 3)) / 6
    with pytest.raises(ValueError, match="x_axis and y_axis must name different axes, both name 1"):
        itjax.mutual_information(p, x_axis=1, y_axis=-1)
    with pytest.raises(ValueError, match="given_axis=2 is out of range for an array of rank 2"):
        itjax.conditional_entropy(p, given_axis=2)
    with pytest.raises(ValueError, match="x_axis must not repeat an axis"):
        itjax.mutual_information(jnp.ones((2, 2, 2)) / 8, x_axis=(0, 0), y_axis=1)
    with pytest.raises(TypeError, match="p must have a floating dtype"):
        itjax.joint_entropy(jnp.ones((2, 2), jnp.int32))
    with pytest.raises(TypeError, match="axes must be a sequence of at least two variables"):
        itjax.total_correlation(p, axes=(0,))
    with pytest.raises(TypeError, match="y_axis must be an int or a non-empty tuple of ints"):
        itjax.mutual_information(p, x_axis=0, y_axis=())
    with pytest.raises(ValueError, match="base must be a positive number other than 1"):
        itjax.joint_entropy(p, base=1)
    with pytest.raises(ValueError, match="p must be a joint pmf table"):
        itjax.joint_entropy(jnp.asarray(1.0), axes=0)


def test_validate():
    bad = jnp.asarray([[0.5, 0.2], [-0.1, 0.4]])
    with pytest.raises(ValueError, match=r"p must be non-negative; p\[\(1, 0\)\] = -0.1"):
        itjax.mutual_information(bad, validate=True)
    unnormalized = jnp.ones((3, 2, 2)) / 4  # batch of 3 tables over the last two axes: fine
    itjax.mutual_information(unnormalized, validate=True)
    with pytest.raises(ValueError, match="must sum to 1 along axis -1; the distribution at batch"):
        itjax.mutual_information(unnormalized, x_axis=0, y_axis=1, validate=True)
    with pytest.raises(ValueError, match=r"p must be finite; p\[\(0, 1\)\] = nan"):
        itjax.joint_entropy(jnp.asarray([[0.5, jnp.nan], [0.25, 0.25]]), validate=True)
    with pytest.raises(TypeError, match="validate=True checks the values of p eagerly"):
        jax.jit(lambda p: itjax.joint_entropy(p, validate=True))(jnp.ones((2, 2)) / 4)
