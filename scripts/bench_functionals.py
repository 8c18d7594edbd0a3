"""Speed of the exact functionals against scipy and NumPy; writes docs/bench_functionals.md.

Usage: .venv/bin/python scripts/bench_functionals.py [--quick]
"""

import sys
from pathlib import Path

from itjax.benchmarks._timing import machine_description, markdown_table
from itjax.benchmarks.speed import functionals


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    machine = machine_description()
    rows = functionals.run(quick=quick)
    table = markdown_table(rows)
    command = "python scripts/bench_functionals.py" + (" --quick" if quick else "")
    print(machine)
    print(table)
    text = (
        "# Speed: exact functionals\n\n"
        "Entropy, cross-entropy and KL of a batch of pmfs (rows of a flat Dirichlet), reduced\n"
        "along the last axis: `jax.jit` of the itjax function against scipy and a NumPy\n"
        "one-liner on the same values, measured in the same run, each case in a fresh process.\n"
        "Seconds are the best of several runs (itjax compile time excluded, in the notes);\n"
        "ratio = peer / itjax (> 1: itjax faster). Peak memory is the whole process's peak RSS\n"
        "(an itjax process also holds the JAX runtime). Suite:\n"
        "`itjax/benchmarks/speed/functionals.py`.\n\n"
        f"Command: `{command}`\n\n"
        f"Machine: {machine}\n\n"
        f"{table}\n"
        "Entropy and cross-entropy sum arithmetic summands (0 · log 0 = 0 without a `where`),\n"
        "which XLA's CPU backend fuses into its row reduction. KL's summand selects between a\n"
        "series (p ≈ q, full precision) and the direct form and handles q = 0, and XLA cannot\n"
        "fuse selects into that reduction: it first writes the summands to batch-sized\n"
        "temporary buffers (40 MB each here), so KL is the slowest of the three. The NumPy\n"
        "one-liners give NaN at p = 0, and the KL one loses precision for nearby p and q.\n"
    )
    if not quick:
        out = Path(__file__).resolve().parent.parent / "docs" / "bench_functionals.md"
        out.write_text(text)
        print(f"wrote {out.relative_to(out.parent.parent)}")


if __name__ == "__main__":
    main()
