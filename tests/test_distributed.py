"""The multi-process example: two local processes joined by jax.distributed.initialize."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import itjax

_EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "distributed_pairwise_mi.py"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _example_module():
    spec = importlib.util.spec_from_file_location("distributed_pairwise_mi", _EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_two_processes_equal_one(tmp_path):
    n, d, port = 300, 6, _free_port()
    out = tmp_path / "matrix.json"
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    env.pop("XLA_FLAGS", None)
    common = [sys.executable, str(_EXAMPLE), "--port", str(port), "--n", str(n), "--d", str(d)]
    procs = [
        subprocess.Popen(
            [*common, "--process-id", str(i)] + (["--out", str(out)] if i == 0 else []),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(2)
    ]
    logs = []
    try:
        for proc in procs:
            logs.append(proc.communicate(timeout=300)[0])
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(proc.returncode == 0 for proc in procs), "\n".join(logs)[-3000:]
    assert "2 processes, 2 devices: 15 pairs" in logs[0]
    matrix = np.array(json.loads(out.read_text()), dtype=float)
    x = _example_module().make_data(n, d)
    expected = np.asarray(itjax.pairwise_mutual_information(x, method="gaussian_copula"))
    np.testing.assert_allclose(matrix, expected, rtol=1e-5, atol=1e-6)
    # Neighbouring columns share a latent: r = 0.8 / 1.64, I = -1/2 log(1 - r^2) = 0.136.
    assert np.all(np.diagonal(matrix, 1) > 0.05)
