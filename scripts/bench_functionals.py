"""Speed of the exact functionals against scipy and NumPy; writes docs/bench_functionals.md.

Runs the suite twice: in the default environment, then with glibc's
`MALLOC_MMAP_THRESHOLD_` raised for every measured process (itjax and peers
alike), which shows how much of the time goes to page-faulting the large
temporary buffers that a (10000, 1000) batch needs.

Usage: .venv/bin/python scripts/bench_functionals.py [--quick]
"""

import os
import sys
from pathlib import Path

from itjax.benchmarks._timing import machine_description, markdown_table
from itjax.benchmarks.speed import functionals

MMAP_THRESHOLD = "2000000000"


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    machine = machine_description()
    rows = functionals.run(quick=quick)
    os.environ["MALLOC_MMAP_THRESHOLD_"] = MMAP_THRESHOLD  # inherited by the measured processes
    tuned = functionals.run(quick=quick)
    del os.environ["MALLOC_MMAP_THRESHOLD_"]
    table, tuned_table = markdown_table(rows), markdown_table(tuned)
    command = "python scripts/bench_functionals.py" + (" --quick" if quick else "")
    print(machine)
    print(table)
    print(f"With MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}:")
    print(tuned_table)
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
        "## Default environment\n\n"
        f"{table}\n"
        f"## With `MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}` (all processes)\n\n"
        "XLA's CPU backend sums rows with a YNNPACK reduction that cannot absorb `where`\n"
        "selects (used for 0 · log 0 = 0 and the q = 0 cases), so the summand is first written to\n"
        "a temporary buffer the size of the batch (40 MB at (10000, 1000) float32; several for\n"
        "KL). glibc serves blocks above its mmap threshold (at most 32 MB by default) with fresh\n"
        "pages, page-faulted on every call; a higher threshold reuses them. NumPy's expressions\n"
        "also allocate batch-sized temporaries and benefit as well.\n\n"
        f"{tuned_table}"
    )
    if not quick:
        out = Path(__file__).resolve().parent.parent / "docs" / "bench_functionals.md"
        out.write_text(text)
        print(f"wrote {out.relative_to(out.parent.parent)}")


if __name__ == "__main__":
    main()
