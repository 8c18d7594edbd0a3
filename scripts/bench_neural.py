"""Speed of neural MI training: one compiled `fit` against a Python training loop.

Writes docs/bench_neural.md. Usage: .venv/bin/python scripts/bench_neural.py [--quick]
"""

import os
import sys
from pathlib import Path

import jax

from itjax.benchmarks._timing import machine_description, markdown_table
from itjax.benchmarks.speed import neural


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    load = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    rows = neural.run(quick=quick)
    machine = machine_description()
    table = markdown_table(rows)
    backend_note = (
        "No GPU or TPU was available for this run: the table is CPU only.\n\n"
        if jax.default_backend() == "cpu"
        else ""
    )
    command = "python scripts/bench_neural.py" + (" --quick" if quick else "")
    print(machine)
    print(table)
    text = (
        "# Speed: neural mutual information\n\n"
        "Training an InfoNCE critic (itjax's default separable critic and optimizer) on a\n"
        "5 x 5 Gaussian task with n = 5000 samples, held-out evaluation included.\n"
        "itjax: `jax.jit(fit)`, every step in one `lax.scan` and the held-out evaluation in\n"
        "the same graph. Peers: the loop existing JAX estimators use, a Python loop around a\n"
        "jitted optax step with one host sync per step (`float(loss)`, for logging) and an\n"
        "eager evaluation after training, in two forms: minibatches drawn as those estimators\n"
        "draw them (`jax.random.choice(..., replace=False)` and two gathers dispatched from\n"
        "Python every step), and a leaner loop that shuffles on the host once per epoch. Same\n"
        "critic, optimizer, batch size, steps and data on all sides, measured in the same run,\n"
        "each case in a fresh process. Seconds are the best of several runs after compilation\n"
        "(itjax compile time in the notes); ratio = peer / itjax (> 1: itjax faster). Peak\n"
        "memory is the whole process's peak RSS. Suite: `itjax/benchmarks/speed/neural.py`.\n\n"
        f"{backend_note}"
        f"Command: `{command}`\n\n"
        f"Machine: {machine}; load average {load:.1f} when the run started.\n\n"
        f"{table}"
    )
    if not quick:
        out = Path(__file__).resolve().parent.parent / "docs" / "bench_neural.md"
        out.write_text(text)
        print(f"wrote {out.relative_to(out.parent.parent)}")


if __name__ == "__main__":
    main()
