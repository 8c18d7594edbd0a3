"""Speed and memory of the kNN estimators (docs/bench_knn.md and docs/bench_knn.png).

Usage: .venv/bin/python scripts/bench_knn.py [--quick]
"""

import os
import sys
import tempfile
from pathlib import Path

import jax
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from itjax.benchmarks._timing import machine_description, markdown_table, provenance  # noqa: E402
from itjax.benchmarks.speed import knn  # noqa: E402

DOCS = Path(__file__).resolve().parent.parent / "docs"


def plot(points: list[dict], path: Path) -> None:
    """Seconds and memory against n for one 1-D KSG MI, itjax and scikit-learn."""
    n = [p["n"] for p in points]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 4))
    sides = (("itjax", "itjax (jit, float32)", "C0"), ("sklearn", "sklearn", "C1"))
    for side, label, color in sides:
        left.loglog(n, [p[side]["seconds"] for p in points], "o-", color=color, label=label)
        middle.semilogx(
            n, [p[side]["peak_rss_mib"] for p in points], "o-", color=color, label=label
        )
        right.semilogx(n, [p[side]["run_mib"] for p in points], "o-", color=color, label=label)
    left.set(xlabel="n", ylabel="seconds (best of 2-3, after compilation)")
    left.set_title("1-D KSG mutual information, k = 3: time")
    middle.set(xlabel="n", ylabel="MiB")
    middle.set_title("peak RSS of the process")
    right.set(xlabel="n", ylabel="MiB")
    right.set_title("the run's own memory (RSS rise)")
    for ax in (middle, right):
        ax.set_ylim(bottom=0)
    for ax in (left, middle, right):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    machine = machine_description()
    load_before = os.getloadavg()[0]
    points: list[dict] = []
    rows = knn.run(quick=quick, points=points)
    table = markdown_table(rows)
    command = "python scripts/bench_knn.py" + (" --quick" if quick else "")
    print(machine)
    print(table)
    backend_note = (
        "No GPU or TPU was available for this run: the table is CPU only.\n\n"
        if jax.default_backend() == "cpu"
        else ""
    )
    text = (
        "# Speed: k-nearest-neighbour estimators\n\n"
        "itjax's kNN estimators (`docs/knn.md`) against scikit-learn's\n"
        "`mutual_info_regression` (KD-tree neighbour search, the KSG estimator, variant 1, with\n"
        "its own tie-breaking jitter) and against scipy's `cKDTree`, in the same run, each case\n"
        "in a fresh process. itjax: `jax.jit` of the estimator in float32, with a `key` (the\n"
        "same jitter as scikit-learn's) and the variables divided by their standard deviation\n"
        "inside the jitted function (scikit-learn scales them so; itjax does not on its own);\n"
        "peers in float64. Seconds are the best of several runs\n"
        "after compilation (itjax compile time in the notes), except for the last case, run\n"
        "once; ratio = peer / itjax (> 1: itjax faster). Peak memory is the whole process's\n"
        "peak RSS: an itjax process also holds the JAX runtime and XLA's compiler. The notes\n"
        "give the run's own memory: how far the resident set rose during the measured calls,\n"
        "after the inputs existed and the itjax function was compiled. Suite:\n"
        "`itjax/benchmarks/speed/knn.py`.\n\n"
        f"{backend_note}"
        f"{provenance(command, machine, load_before)}"
        f"{table}\n"
        "![time and memory against n](bench_knn.png)\n\n"
        "Time and memory of one 1-D KSG mutual information against n (the scaling rows).\n"
    )
    if not quick:
        (DOCS / "bench_knn.md").write_text(text)
        plot(points, DOCS / "bench_knn.png")
        print("wrote docs/bench_knn.md and docs/bench_knn.png")
    else:
        path = Path(tempfile.gettempdir()) / "bench_knn_quick.png"
        plot(points, path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
