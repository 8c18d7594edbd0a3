"""Test configuration shared by the whole suite.

- `jax_numpy_rank_promotion="raise"` catches `(n,) - (n, 1)` silently becoming `(n, n)`.
- `jax_debug_key_reuse` catches a PRNG key used twice.
- Warnings are errors (pyproject.toml).
- Hypothesis runs a fixed, derandomized set of examples with no deadline.
- The `dtype` fixture runs a test once in float32 and once with x64 enabled in float64.
"""

import functools
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import pytest
from hypothesis import settings

import itjax

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


@functools.cache
def _jit(f, static):
    return jax.jit(functools.partial(f, **dict(static)))


class _Jitted:
    """itjax's functions, each jitted once per static configuration.

    Compiling a whole function once is several times cheaper than running it
    eagerly on a new shape, which keeps the suite fast. Array keyword arguments
    (`where`) stay dynamic; the others (axis, base, alpha, ...) are static.
    """

    def __getattr__(self, name):
        f = getattr(itjax, name)

        def call(*args, **kwargs):
            dynamic = {k: v for k, v in kwargs.items() if isinstance(v, jax.Array)}
            static = tuple(sorted((k, v) for k, v in kwargs.items() if k not in dynamic))
            return _jit(f, static)(*args, **dynamic)

        return call


jx = _Jitted()


def run_on_host_devices(script: str, count: int) -> dict:
    """Run `script` in a fresh CPU process with `count` forced host devices; return its JSON.

    The flag must be set before jax starts, hence the subprocess. The script prints
    one line "@@" + json.dumps(result).
    """
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={count}")
    env["JAX_PLATFORMS"] = "cpu"
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@"))
    return json.loads(line[2:])
