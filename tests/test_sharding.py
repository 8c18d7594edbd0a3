"""Sharded batch axis equals the unsharded one, on 8 forced host devices.

`--xla_force_host_platform_device_count` must be set before jax starts, so the
checks run in a fresh Python process.
"""

import textwrap

import numpy as np
import pytest
from conftest import run_on_host_devices

_SCRIPT = textwrap.dedent(
    """
    import json

    import jax
    import numpy as np
    from jax.sharding import AxisType, Mesh

    import itjax

    jax.config.update("jax_debug_key_reuse", True)
    assert jax.device_count() == 8, jax.devices()
    meshes = {
        "explicit": jax.make_mesh((8,), ("batch",), axis_types=(AxisType.Explicit,)),
        "auto_2d": Mesh(np.array(jax.devices()).reshape(2, 4), ("a", "b")),
    }
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 7)).astype(np.float32)
    x[:, 1] += x[:, 0]
    gcmi = itjax.gaussian_copula_mutual_information

    def run(mesh):
        pairwise = jax.jit(
            lambda x: itjax.pairwise_mutual_information(
                x, method="gaussian_copula", batch_size=2, mesh=mesh
            )
        )(x)
        test = itjax.permutation_test(
            jax.random.key(1), gcmi, x[:, 0], x[:, 1], num_permutations=37, mesh=mesh
        )
        boot = itjax.bootstrap(
            jax.random.key(2), gcmi, x[:, 0], x[:, 1], num_resamples=29, mesh=mesh
        )
        return {
            "pairwise": np.asarray(pairwise).tolist(),
            "null": np.asarray(test.null).tolist(),
            "p_value": float(test.p_value),
            "boot": np.asarray(boot.samples).tolist(),
            "devices": len(getattr(test.null.sharding, "device_set", ())),
        }

    out = {"none": run(None)}
    out.update({name: run(mesh) for name, mesh in meshes.items()})
    print("@@" + json.dumps(out))
    """
)


@pytest.mark.slow
def test_sharded_equals_unsharded_on_8_host_devices():
    out = run_on_host_devices(_SCRIPT, 8)
    reference = out.pop("none")
    assert reference["devices"] == 1
    for name, sharded in out.items():
        assert sharded["devices"] == 8, name
        # Same estimates; only the vector width of the batched computation differs.
        np.testing.assert_allclose(
            np.array(sharded["pairwise"], float),
            np.array(reference["pairwise"], float),
            rtol=1e-5,
            atol=1e-6,
            err_msg=name,
        )
        np.testing.assert_allclose(sharded["null"], reference["null"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(sharded["boot"], reference["boot"], rtol=1e-5, atol=1e-6)
        assert sharded["p_value"] == reference["p_value"]
    assert np.array(reference["pairwise"], float)[0, 1] > 0.2
