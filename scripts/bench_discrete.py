"""Speed of the discrete entropy estimators against a NumPy/SciPy loop (docs/bench_discrete.md).

Usage: .venv/bin/python scripts/bench_discrete.py [--quick]
"""

import os
import sys
from pathlib import Path

from itjax.benchmarks._timing import machine_description, markdown_table, provenance
from itjax.benchmarks.speed import discrete

MMAP_THRESHOLD = "2000000000"


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    machine = machine_description()
    load_before = os.getloadavg()[0]
    rows = discrete.run(quick=quick)
    os.environ["MALLOC_MMAP_THRESHOLD_"] = MMAP_THRESHOLD  # inherited by the measured processes
    tuned = discrete.run(quick=quick)
    del os.environ["MALLOC_MMAP_THRESHOLD_"]
    table, tuned_table = markdown_table(rows), markdown_table(tuned)
    command = "python scripts/bench_discrete.py" + (" --quick" if quick else "")
    print(machine)
    print(table)
    print(f"With MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}:")
    print(tuned_table)
    text = (
        "# Speed: discrete entropy estimators\n\n"
        "Each estimator on a batch of histograms (K = 1000 bins, N = 500 draws from a Zipf pmf\n"
        "p_i ∝ 1/i per histogram): `jax.jit` of the itjax function on the whole float32 batch,\n"
        "against a Python loop over the rows applying the same formula with NumPy and\n"
        "scipy.special in float64 (for NSB, `scipy.integrate.quad` of the same posterior), in the\n"
        "same run, each case in a fresh process; the suite checks that both give the same\n"
        "estimates on the first rows. Seconds are the best of several runs (itjax compile time\n"
        "excluded, in the notes); ratio = peer / itjax (> 1: itjax faster). Peak memory is the\n"
        "whole process's peak RSS (an itjax process also holds the JAX runtime). Suite:\n"
        "`itjax/benchmarks/speed/discrete.py`.\n\n"
        f"{provenance(command, machine, load_before)}"
        "## Default environment\n\n"
        f"{table}\n"
        f"## With `MALLOC_MMAP_THRESHOLD_={MMAP_THRESHOLD}` (all processes)\n\n"
        "glibc serves blocks above its mmap threshold (at most 32 MB by default) with fresh\n"
        "pages, page-faulted on every call; XLA's batch-sized temporaries (40 MB at\n"
        "(10000, 1000) float32) are such blocks. A higher threshold reuses them (see\n"
        "`docs/bench_functionals.md`). The NumPy loop works on one row at a time and is\n"
        "unaffected.\n\n"
        f"{tuned_table}"
    )
    if not quick:
        out = Path(__file__).resolve().parent.parent / "docs" / "bench_discrete.md"
        out.write_text(text)
        print(f"wrote {out.relative_to(out.parent.parent)}")


if __name__ == "__main__":
    main()
