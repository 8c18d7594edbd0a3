"""Speed of the exact functionals against scipy and NumPy; writes docs/bench_functionals.md.

Usage: .venv/bin/python scripts/bench_functionals.py [--quick]
"""

import sys
from pathlib import Path

from itjax.benchmarks._timing import machine_description, markdown_table
from itjax.benchmarks.speed import functionals


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    rows = functionals.run(quick=quick)
    machine = machine_description()
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
        f"{table}"
    )
    if not quick:
        out = Path(__file__).resolve().parent.parent / "docs" / "bench_functionals.md"
        out.write_text(text)
        print(f"wrote {out.relative_to(out.parent.parent)}")


if __name__ == "__main__":
    main()
