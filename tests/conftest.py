"""Test configuration shared by the whole suite.

- `jax_numpy_rank_promotion="raise"` catches `(n,) - (n, 1)` silently becoming `(n, n)`.
- `jax_debug_key_reuse` catches a PRNG key used twice.
- Warnings are errors (pyproject.toml).
- Hypothesis runs a fixed, derandomized set of examples with no deadline.
- The `dtype` fixture runs a test once in float32 and once with x64 enabled in float64.
"""

import jax
import jax.numpy as jnp
import pytest
from hypothesis import settings

jax.config.update("jax_numpy_rank_promotion", "raise")
jax.config.update("jax_debug_key_reuse", True)

settings.register_profile("itjax", deadline=None, derandomize=True, max_examples=30)
settings.load_profile("itjax")


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    """Run the test in float32, then again with `jax_enable_x64` on in float64."""
    x64 = request.param == "float64"
    with jax.enable_x64(x64):
        yield jnp.float64 if x64 else jnp.float32


@pytest.fixture
def x64():
    """Run the test with `jax_enable_x64` on."""
    with jax.enable_x64(True):
        yield


def tolerance(dtype, *, f32: float = 1e-6, f64: float = 1e-12) -> float:
    """The relative tolerance for a dtype (the issue's 1e-6 / 1e-12 by default)."""
    return f64 if dtype == jnp.float64 else f32
