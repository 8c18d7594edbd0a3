import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from itjax._src import _utils


def test_xlogy_zero_times_log_zero_is_zero_with_finite_gradient():
    assert _utils.xlogx(jnp.asarray(0.0)) == 0.0
    g = jax.grad(lambda x: _utils.xlogy(x, x))(jnp.asarray(0.0))
    # d/dx x log x = log x + 1 is -inf at 0; the double where gives a finite value.
    assert jnp.isfinite(g)
    assert _utils.xlogy(jnp.asarray(1.0), jnp.asarray(0.0)) == -jnp.inf


@pytest.mark.parametrize("y", [0.25, 1.0, 3.0])
def test_xlogy_gradient_at_zero_x_is_log_y(y):
    # xlogy is linear in x: d/dx = log y, finite wherever y > 0, as in jax.scipy.special.
    x = jnp.asarray(0.0)
    gx, gy = jax.grad(_utils.xlogy, argnums=(0, 1))(x, jnp.asarray(y))
    ref_gx, ref_gy = jax.grad(jax.scipy.special.xlogy, argnums=(0, 1))(x, jnp.asarray(y))
    assert float(gx) == pytest.approx(math.log(y), rel=1e-6, abs=1e-7)
    assert float(gx) == pytest.approx(float(ref_gx), rel=1e-6, abs=1e-7)
    assert float(gy) == 0.0 == float(ref_gy)
    assert float(_utils.xlogy(x, jnp.asarray(y))) == 0.0


def test_xlogy_value_and_gradient_at_zero_zero_are_finite():
    g = jax.grad(_utils.xlogy, argnums=(0, 1))(jnp.asarray(0.0), jnp.asarray(0.0))
    assert float(_utils.xlogy(jnp.asarray(0.0), jnp.asarray(0.0))) == 0.0
    assert all(bool(jnp.isfinite(gi)) for gi in g)
    # and x log x has a zero gradient at 0 (the derivative log x + 1 has no finite limit)
    assert float(jax.grad(_utils.xlogx)(jnp.asarray(0.0))) == 0.0


def test_xlogy_matches_jax_away_from_zero():
    x = jnp.asarray([0.0, 0.5, 2.0, 1e-30])
    y = jnp.asarray([0.7, 1e-3, 4.0, 0.2])
    np.testing.assert_allclose(_utils.xlogy(x, y), jax.scipy.special.xlogy(x, y), rtol=1e-6)
    ours = jax.vmap(jax.grad(_utils.xlogy, argnums=(0, 1)))(x, y)
    ref = jax.vmap(jax.grad(jax.scipy.special.xlogy, argnums=(0, 1)))(x, y)
    for a, b in zip(ours, ref, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)


def test_logmeanexp_matches_naive():
    a = jnp.asarray([[0.1, 2.0, -3.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(
        _utils.logmeanexp(a, axis=-1), np.log(np.mean(np.exp(np.asarray(a)), axis=-1)), rtol=1e-6
    )
    assert _utils.logmeanexp(jnp.asarray([1e4, 1e4])) == pytest.approx(1e4)


def test_to_base_and_check_base():
    assert float(_utils.to_base(jnp.asarray(math.log(2.0)), 2)) == pytest.approx(1.0)
    for bad in (0, -1.0, 1, float("inf")):
        with pytest.raises(ValueError, match="base"):
            _utils.to_base(jnp.asarray(1.0), bad)
    with pytest.raises(TypeError, match="base"):
        _utils.to_base(jnp.asarray(1.0), "2")


def test_as_float_array_refuses_integers():
    with pytest.raises(TypeError, match="p must have a floating dtype"):
        _utils.as_float_array(jnp.asarray([1, 0]), "p")
    assert _utils.as_float_array([0.5, 0.5], "p").dtype == jnp.float32


def test_validate_probabilities_names_location():
    with pytest.raises(ValueError, match=r"p\[\(1,\)\] = -0.1"):
        _utils.validate_probabilities(jnp.asarray([0.6, -0.1, 0.5]), "p")
    with pytest.raises(ValueError, match="batch index"):
        _utils.validate_probabilities(jnp.asarray([[0.5, 0.5], [0.5, 0.6]]), "p")
    with pytest.raises(ValueError, match="finite"):
        _utils.validate_probabilities(jnp.asarray([jnp.nan, 1.0]), "p")
    _utils.validate_probabilities(jnp.asarray([[0.5, 0.5], [0.0, 1.0]]), "p")


def test_validate_under_jit_is_a_clear_error():
    with pytest.raises(TypeError, match="validate=True"):
        jax.jit(lambda p: _utils.validate_probabilities(p, "p"))(jnp.ones(2) / 2)


def test_check_static_int():
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        _utils.check_static_int(0, "k", minimum=1)
    with pytest.raises(TypeError, match="k must be a Python int"):
        _utils.check_static_int(1.5, "k")


def test_mean_and_stderr():
    est = _utils.mean_and_stderr(jnp.asarray([1.0, 2.0, 3.0, 4.0]))
    assert float(est.value) == pytest.approx(2.5)
    assert float(est.stderr) == pytest.approx(np.std([1, 2, 3, 4], ddof=1) / 2, rel=1e-6)


def test_check_key_accepts_one_key_and_names_the_argument_otherwise():
    typed, raw = jax.random.split(jax.random.key(0))
    assert _utils.check_key(typed) is typed
    raw_data = jax.random.key_data(raw)
    assert _utils.check_key(raw_data) is raw_data
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        _utils.check_key(0)
    with pytest.raises(ValueError, match=r"single PRNG key, got a key array of shape \(2,\)"):
        _utils.check_key(jax.random.split(jax.random.key(1)))
    with pytest.raises(TypeError, match="dtype float32"):
        _utils.check_key(jnp.zeros(2))


def test_expm1mx_series_keeps_relative_precision_near_zero(dtype):
    from decimal import Decimal, localcontext

    dtype = np.dtype(dtype)
    t = np.asarray([-0.5, -0.3, -1e-3, -1e-7, 1e-12, 1e-5, 0.1, 0.5], dtype=dtype)
    with localcontext() as ctx:
        ctx.prec = 50
        exact = [float(Decimal(float(x)).exp() - 1 - Decimal(float(x))) for x in t]
    got = np.asarray(_utils.expm1mx_series(jnp.asarray(t)))
    assert got.dtype == dtype
    # a Horner sum of positive-ratio terms: a few roundings, no cancellation
    np.testing.assert_allclose(got, exact, rtol=8 * np.finfo(dtype).eps, atol=0)
