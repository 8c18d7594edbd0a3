"""Pairwise mutual information of a large matrix across processes with jax.distributed.

Every process runs this same script. `jax.distributed.initialize` joins them into
one JAX runtime; `jax.devices()` then lists the devices of all processes, and a
mesh over them splits the column pairs of `itjax.pairwise_mutual_information`
across processes (each process evaluates its share of the pairs on its own
devices; the data is replicated). On a cluster the coordinator is the address of
process 0; here two processes on one machine talk over 127.0.0.1.

Run two processes on this machine (CPU):

    python examples/distributed_pairwise_mi.py --port 12345 --num-processes 2 --process-id 0 &
    python examples/distributed_pairwise_mi.py --port 12345 --num-processes 2 --process-id 1

Process 0 prints the matrix (or writes it with --out). On GPUs or TPUs pass
`--platform gpu` (or tpu); with a cluster scheduler (SLURM, Kubernetes, Cloud TPU)
`jax.distributed.initialize()` finds the coordinator and process ids by itself.
"""

from __future__ import annotations

import argparse
import json

import numpy as np


def make_data(n: int, d: int, seed: int = 0) -> np.ndarray:
    """A deterministic (n, d) float32 matrix: neighbouring columns are correlated."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, d + 1))
    return (z[:, :-1] + 0.8 * z[:, 1:]).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--num-processes", type=int, default=2)
    parser.add_argument("--process-id", type=int, required=True)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=12)
    parser.add_argument("--method", default="gaussian_copula")
    parser.add_argument("--out", default=None, help="write the matrix as JSON (process 0)")
    parser.add_argument("--platform", default="cpu", help="cpu, gpu or tpu")
    args = parser.parse_args()

    import jax

    jax.config.update("jax_platforms", args.platform)
    if args.platform == "cpu":
        # CPU collectives between processes go through gloo.
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(
        coordinator_address=f"{args.host}:{args.port}",
        num_processes=args.num_processes,
        process_id=args.process_id,
    )
    import itjax

    mesh = jax.make_mesh((jax.device_count(),), ("batch",))
    x = make_data(args.n, args.d)
    pairwise = jax.jit(
        lambda x: itjax.pairwise_mutual_information(x, method=args.method, mesh=mesh)
    )
    matrix = pairwise(x)  # replicated on every device of every process
    matrix = np.asarray(matrix.addressable_data(0))
    if jax.process_index() == 0:
        print(
            f"{jax.process_count()} processes, {jax.device_count()} devices: "
            f"{args.d * (args.d - 1) // 2} pairs of n = {args.n}"
        )
        if args.out:
            with open(args.out, "w") as f:
                json.dump(np.where(np.isnan(matrix), None, matrix).tolist(), f)
        else:
            print(np.array2string(matrix, precision=3))
    jax.distributed.shutdown()


if __name__ == "__main__":
    main()
