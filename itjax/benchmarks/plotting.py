"""Plots of benchmark results, drawn with matplotlib's Agg canvas (no display needed).

Figures are built on `matplotlib.figure.Figure` directly rather than through pyplot, so
that saving a plot never changes the backend of the calling program (a notebook, say).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from itjax.benchmarks.runner import SOLVED_FACTOR, SummaryRow

__all__ = ["plot_results", "plot_tasks"]


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colors(names: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    cmap = colormaps["tab20" if len(names) > 10 else "tab10"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def plot_results(summary: Sequence[SummaryRow], path: str | Path) -> Path:
    """Estimate against truth (at the largest n) and time per estimate against n.

    Left: the mean estimate over seeds against the true value, log-log, one colour per
    estimator, with the identity line and the band of a factor 1.5 (a constant width on
    these axes). Estimates outside the axes (non-positive, or far off) are drawn as
    triangles on the edge they went past. Right: seconds per estimate (median over tasks)
    against n, log-log.
    """
    path = Path(path)
    largest = max(s.n for s in summary)
    estimators = list(dict.fromkeys(s.estimator for s in summary))
    colors = _colors(estimators)
    fig = _figure(12.0, 5.0)
    ax_est, ax_time = fig.subplots(1, 2)
    top = [s for s in summary if s.n == largest and s.truth > 0]
    lo = min(s.truth for s in top) / 3.0
    hi = max(s.truth for s in top) * 3.0
    grid = np.geomspace(lo, hi, 50)
    ax_est.fill_between(
        grid, grid / SOLVED_FACTOR, grid * SOLVED_FACTOR, color="0.9", label="factor 1.5"
    )
    ax_est.plot(grid, grid, color="0.4", lw=1, ls="--", label="truth")
    for est in estimators:
        mine = [s for s in top if s.estimator == est]
        inside = [s for s in mine if lo <= s.mean <= hi]
        below = [s for s in mine if not s.mean >= lo]  # includes NaN and non-positive
        above = [s for s in mine if s.mean > hi]
        color = colors[est]
        ax_est.plot([s.truth for s in inside], [s.mean for s in inside], "o", ms=5,
                    color=color, label=est)  # fmt: skip
        ax_est.plot([s.truth for s in below], [lo] * len(below), "v", ms=6, color=color)
        ax_est.plot([s.truth for s in above], [hi] * len(above), "^", ms=6, color=color)
    ax_est.set_xscale("log")
    ax_est.set_yscale("log")
    ax_est.set_xlim(lo, hi)
    ax_est.set_ylim(lo, hi)
    ax_est.set_xlabel("true value (nats)")
    ax_est.set_ylabel(f"mean estimate at n = {largest} (nats)")
    ax_est.set_title("Estimate against truth (triangles: off the axes)")
    ax_est.legend(fontsize=7, ncols=2, loc="upper left")
    for est in estimators:
        sizes = sorted({s.n for s in summary if s.estimator == est})
        mine = [s for s in summary if s.estimator == est]
        times = [np.median([s.seconds for s in mine if s.n == n]) for n in sizes]
        ax_time.plot(sizes, times, "o-", color=colors[est], label=est, ms=4)
    ax_time.set_xscale("log")
    ax_time.set_yscale("log")
    ax_time.set_xlabel("n (samples)")
    ax_time.set_ylabel("seconds per estimate (median over tasks)")
    ax_time.set_title("Time against n (vmapped over seeds, compile excluded)")
    ax_time.legend(fontsize=7, ncols=2)
    fig.savefig(path, dpi=110)
    return path


def plot_tasks(summary: Sequence[SummaryRow], path: str | Path) -> Path:
    """A task × estimator grid of estimate / truth at the largest n.

    Colour: log(mean / truth) on a diverging scale clipped at ±log 3; the number in
    each cell is the ratio; a bold frame marks a solved cell (within a factor 1.5).
    Grey: a non-positive or non-finite estimate.
    """
    from matplotlib import colormaps
    from matplotlib.colors import Normalize
    from matplotlib.patches import Rectangle

    path = Path(path)
    largest = max(s.n for s in summary)
    top = [s for s in summary if s.n == largest]
    tasks = list(dict.fromkeys(s.task for s in top))
    estimators = list(dict.fromkeys(s.estimator for s in top))
    cells = {(s.task, s.estimator): s for s in top}
    fig = _figure(1.2 + 0.75 * len(estimators) + 2.5, 1.2 + 0.32 * len(tasks))
    ax = fig.subplots()
    limit = math.log(3.0)
    norm = Normalize(-limit, limit)
    cmap = colormaps["RdBu_r"]
    for i, task in enumerate(tasks):
        for j, est in enumerate(estimators):
            s = cells.get((task, est))
            if s is None:
                continue
            ratio = s.mean / s.truth if s.truth else float("nan")
            if ratio > 0 and math.isfinite(ratio):
                color, text = cmap(norm(math.log(ratio))), f"{ratio:.2f}"
            else:
                color, text = (0.7, 0.7, 0.7, 1.0), "≤0" if ratio <= 0 else "nan"
            edge = "black" if s.solved else "white"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=color, edgecolor=edge, lw=1.5))
            ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=7)
    ax.set_xlim(0, len(estimators))
    ax.set_ylim(len(tasks), 0)
    ax.set_xticks(np.arange(len(estimators)) + 0.5, estimators, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(tasks)) + 0.5, tasks)
    ax.tick_params(length=0, labelsize=8)
    ax.set_title(f"mean estimate / truth at n = {largest} (framed: within a factor 1.5)")
    from matplotlib.cm import ScalarMappable

    bar = fig.colorbar(ScalarMappable(norm, cmap), ax=ax, shrink=0.6)
    ticks = [1 / 3, 1 / SOLVED_FACTOR, 1.0, SOLVED_FACTOR, 3.0]
    bar.set_ticks([math.log(t) for t in ticks], labels=[f"{t:.2g}" for t in ticks])
    bar.set_label("estimate / truth (log scale)")
    fig.savefig(path, dpi=110)
    return path
