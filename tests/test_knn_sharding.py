"""kNN estimators with their query rows split over 8 forced host devices equal the unsharded ones.

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
    from jax.sharding import Mesh

    import itjax

    jax.config.update("jax_debug_key_reuse", True)
    assert jax.device_count() == 8, jax.devices()
    meshes = {
        "1d": jax.make_mesh((8,), ("rows",)),
        "2d": Mesh(np.array(jax.devices()).reshape(2, 4), ("a", "b")),
    }
    rng = np.random.default_rng(0)
    n = 1003  # not a multiple of 8: the padding must be dropped
    z = rng.standard_normal((n, 3)).astype(np.float32)
    x = z[:, :1] + 0.5 * rng.standard_normal((n, 1)).astype(np.float32)
    y = z[:, :2] @ np.ones((2, 2), np.float32) + rng.standard_normal((n, 2)).astype(np.float32)
    wide = rng.standard_normal((n, 5)).astype(np.float32)
    rounded = np.round(x, 1)  # ties and duplicates

    def run(mesh):
        key = jax.random.key(3)
        out = {
            "ksg1": itjax.ksg_mutual_information(x, y, mesh=mesh),
            "ksg2": itjax.ksg_mutual_information(x, y, variant=2, mesh=mesh),
            "ksg1_ties": itjax.ksg_mutual_information(rounded, z[:, 0], mesh=mesh),
            "ksg_key": itjax.ksg_mutual_information(rounded, z[:, 0], key=key, mesh=mesh),
            "cmi": itjax.ksg_conditional_mutual_information(x, y, z[:, 2], mesh=mesh),
            "kl_h_tree": itjax.kozachenko_leonenko_entropy(z[:, :2], mesh=mesh),
            "kl_h_tiles": itjax.kozachenko_leonenko_entropy(wide, norm="max", mesh=mesh),
            "wkv": itjax.knn_kl_divergence(z[:500, :2], 1.5 * z[500:, :2], mesh=mesh),
            "jit": jax.jit(lambda x, y: itjax.ksg_mutual_information(x, y, mesh=mesh))(x, y),
        }
        return {name: float(v) for name, v in out.items()}

    result = {"none": run(None)}
    result.update({name: run(mesh) for name, mesh in meshes.items()})
    print("@@" + json.dumps(result))
    """
)


@pytest.mark.slow
def test_knn_estimators_sharded_over_rows_equal_unsharded():
    out = run_on_host_devices(_SCRIPT, 8)
    reference = out.pop("none")
    assert all(np.isfinite(v) for v in reference.values()), reference
    for name, sharded in out.items():
        for estimate, value in sharded.items():
            # The neighbour distances and counts are exact either way; only the
            # order of the final mean's summation may differ.
            np.testing.assert_allclose(
                value, reference[estimate], rtol=1e-5, atol=1e-6, err_msg=f"{name} {estimate}"
            )
