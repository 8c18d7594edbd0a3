"""The ground-truth benchmark: estimators × tasks × sample sizes × seeds.

For each task and sample size the samples of every seed are drawn once, in one vmapped
call, and shared by all estimators (so estimators are compared on the same data).
Each estimator then runs on all seeds in one compiled, vmapped call: the compile time
(trace, lower and compile) and the run time are measured separately.

Results: one row per (task, estimator, n, seed), a summary per (task, estimator, n)
with the bias, |log(mean / truth)| and whether the task is *solved* (mean estimate
within a factor 1.5 of the truth, as in Czyż et al. 2023), and the *samples needed*:
the smallest n of the run from which the estimator solves the task at every larger n.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import time
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import jax
import numpy as np

from itjax.benchmarks.progress import Progress
from itjax.benchmarks.registry import Estimator, select_estimators
from itjax.benchmarks.tasks import Task, select_tasks

__all__ = [
    "FULL",
    "QUICK",
    "SOLVED_FACTOR",
    "BenchConfig",
    "BenchmarkResult",
    "ResultRow",
    "Skip",
    "SummaryRow",
    "results_markdown",
    "run_benchmark",
    "run_config",
    "samples_needed",
    "summarize",
    "write_results",
]

SOLVED_FACTOR = 1.5


@dataclasses.dataclass(frozen=True)
class BenchConfig:
    """What to run: task and estimator name patterns, sample sizes, seeds."""

    tasks: tuple[str, ...] | None = None
    estimators: tuple[str, ...] | None = None
    sizes: tuple[int, ...] = (250, 1000, 4000)
    seeds: int = 5
    seed: int = 0


FULL = BenchConfig()
"""Every task and estimator at n = 250, 1000, 4000 with 5 seeds."""

QUICK = BenchConfig(
    tasks=(
        "mi-gauss-1x1",
        "mi-gauss-dense-5x5",
        "mi-gauss-sparse-5x5",
        "mi-student-1x1-df1",
        "mi-uniform-noise-eps0.1",
        "mi-halfcube-gauss-1x1",
        "mi-asinh-student-1x1-df1",
        "mi-discrete-symmetric-10x10",
        "cmi-gauss-1x1x1",
        "entropy-gauss-dense-5d",
        "entropy-exponential-1d",
        "entropy-discrete-zipf-100",
        "kl-gauss-3d",
    ),
    estimators=(
        "ksg-1",
        "frenzel-pompe",
        "kozachenko-leonenko",
        "wang-kulkarni-verdu",
        "kde",
        "gaussian-copula",
        "gaussian",
        "infonce",
        "plugin",
        "miller-madow",
        "chao-shen",
        "nsb",
    ),
    sizes=(200, 1000),
    seeds=3,
)
"""A representative subset at two sample sizes (what `itjax bench --quick` and `make demo`
run): every family of tasks, every estimator family; a few minutes on 2 CPU cores."""


class ResultRow(NamedTuple):
    """One estimate. `seconds` is the run time of the vmapped call divided by the
    number of seeds (the cost of one estimate when batched); `batch_seconds` the whole
    call; `compile_seconds` tracing, lowering and compiling it: once per estimator and
    shape, 0 in the cells that reuse a compilation."""

    task: str
    quantity: str
    estimator: str
    n: int
    seed: int
    estimate: float
    truth: float
    seconds: float
    batch_seconds: float
    compile_seconds: float


class SummaryRow(NamedTuple):
    """The seeds of one (task, estimator, n) cell, summarized."""

    task: str
    quantity: str
    estimator: str
    n: int
    seeds: int
    truth: float
    mean: float
    std: float
    bias: float
    rmse: float
    abs_log_ratio: float
    solved: bool
    seconds: float
    compile_seconds: float


class Skip(NamedTuple):
    """A (task, estimator) cell that did not run, and why."""

    task: str
    estimator: str
    n: int | None
    reason: str


class BenchmarkResult(NamedTuple):
    rows: list[ResultRow]
    summary: list[SummaryRow]
    skipped: list[Skip]
    config: dict[str, Any]
    machine: str
    wall_seconds: float


# --------------------------------------------------------------------------- #
# Running.
# --------------------------------------------------------------------------- #


def _stable_int(*parts: Any) -> int:
    """A deterministic 31-bit integer from the parts (for folding into PRNG keys)."""
    return zlib.crc32("/".join(map(str, parts)).encode()) & 0x7FFFFFFF


def _keys(seed: int, seeds: int, *parts: Any) -> jax.Array:
    """Raw key data for `seeds` independent streams named by `parts` (uint32)."""
    key = jax.random.fold_in(jax.random.key(seed), _stable_int(*parts))
    return jax.random.key_data(jax.random.split(key, seeds))


def _draw(task: Task, n: int, raw_keys: jax.Array) -> tuple[jax.Array, ...]:
    """The samples of every seed, in one vmapped call.

    Eager rather than jitted: sampling is not what is measured, and eager primitives
    are compiled once and shared across tasks, which is cheaper than compiling one
    sampler per task and size.
    """
    sample = jax.vmap(lambda k: task.sample(jax.random.wrap_key_data(k), n))
    return jax.block_until_ready(sample(raw_keys))


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}".strip()


def _signature(estimator: Estimator, task: Task, *arrays: jax.Array) -> tuple:
    """What a compiled estimator depends on: its name, the kind of task and the shapes.

    Adapters depend on a task only through its quantity, discreteness, alphabet sizes
    and the shapes of its samples, so tasks that agree on these share one compilation
    (the 1×1 MI tasks, say).
    """
    shapes = tuple((a.shape, str(a.dtype)) for a in arrays)
    return (estimator.name, task.quantity, task.discrete, task.num_classes, shapes)


def _run_cell(
    estimator: Estimator,
    task: Task,
    data: tuple[jax.Array, ...],
    raw_keys: jax.Array,
    cache: dict[tuple, Any],
) -> tuple[np.ndarray, float, float]:
    """Estimates of every seed, run seconds and compile seconds (0 when reused)."""
    signature = _signature(estimator, task, raw_keys, *data)
    compiled = cache.get(signature)
    compile_seconds = 0.0
    if compiled is None:
        estimate = estimator.build(task)
        batched = jax.jit(jax.vmap(lambda k, *s: estimate(jax.random.wrap_key_data(k), *s)))
        start = time.perf_counter()
        compiled = batched.lower(raw_keys, *data).compile()
        compile_seconds = time.perf_counter() - start
        cache[signature] = compiled
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(raw_keys, *data))
    seconds = time.perf_counter() - start
    return np.asarray(out, dtype=np.float64).reshape(-1), seconds, compile_seconds


def run_benchmark(
    tasks: Sequence[Task],
    estimators: Sequence[Estimator],
    sizes: Sequence[int],
    *,
    seeds: int,
    seed: int = 0,
    progress: bool | Progress = True,
) -> BenchmarkResult:
    """Run every estimator on every task it applies to, at every size, on every seed.

    An estimator whose itjax functions are missing is skipped with a note, as is a cell
    that raises (e.g. n too small for k): the run goes on and `skipped` says why.

    Args:
      tasks: the tasks (see `itjax.benchmarks.TASKS`).
      estimators: the estimators (see `itjax.benchmarks.ESTIMATORS`).
      sizes: sample sizes n.
      seeds: independent repetitions per cell, vmapped in one call.
      seed: the base seed; data for (task, n, seed index) do not depend on which
        estimators run.
      progress: show a progress bar on stderr (or pass a `Progress`).
    """
    from itjax.benchmarks._timing import machine_description

    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not sizes or any(int(n) < 2 for n in sizes):
        raise ValueError(f"sizes must be integers >= 2, got {list(sizes)}")
    sizes = sorted({int(n) for n in sizes})
    start = time.perf_counter()
    rows: list[ResultRow] = []
    skipped: list[Skip] = []
    plan: list[tuple[Task, list[Estimator]]] = []
    for task in tasks:
        runnable = []
        for est in estimators:
            if not est.supports(task):
                continue
            missing = est.missing(task)
            if missing:
                reason = "not available in this itjax: " + ", ".join(f"itjax.{m}" for m in missing)
                skipped.append(Skip(task.name, est.name, None, reason))
            else:
                runnable.append(est)
        plan.append((task, runnable))
    total = sum(1 for _, runnable in plan for e in runnable for n in sizes if n >= e.min_n)
    cache: dict[tuple, Any] = {}
    bar = (
        progress
        if isinstance(progress, Progress)
        else Progress(total, label="bench", enabled=bool(progress))
    )
    for task, runnable in plan:
        for n in sizes:
            if not any(n >= e.min_n for e in runnable):
                continue
            data = _draw(task, n, _keys(seed, seeds, "data", task.name, n))
            for est in runnable:
                if n < est.min_n:
                    continue
                try:
                    keys = _keys(seed, seeds, "estimator", task.name, est.name, n)
                    values, secs, compile_secs = _run_cell(est, task, data, keys, cache)
                except Exception as err:  # a benchmark reports a failing cell and goes on
                    skipped.append(Skip(task.name, est.name, n, _first_line(err)))
                else:
                    rows.extend(
                        ResultRow(
                            task.name,
                            task.quantity,
                            est.name,
                            n,
                            i,
                            float(v),
                            task.truth,
                            secs / seeds,
                            secs,
                            compile_secs,
                        )
                        for i, v in enumerate(values)
                    )
                bar.update(note=f"{task.name} {est.name} n={n}")
    bar.close()
    config = {"tasks": [t.name for t in tasks], "estimators": [e.name for e in estimators]}
    config |= {"sizes": sizes, "seeds": seeds, "seed": seed}
    return BenchmarkResult(
        rows=rows,
        summary=summarize(rows),
        skipped=skipped,
        config=config,
        machine=machine_description(),
        wall_seconds=time.perf_counter() - start,
    )


def run_config(config: BenchConfig, *, progress: bool | Progress = True) -> BenchmarkResult:
    """`run_benchmark` on the tasks and estimators a `BenchConfig` names."""
    return run_benchmark(
        select_tasks(config.tasks),
        select_estimators(config.estimators),
        config.sizes,
        seeds=config.seeds,
        seed=config.seed,
        progress=progress,
    )


# --------------------------------------------------------------------------- #
# Summaries.
# --------------------------------------------------------------------------- #


def _abs_log_ratio(estimate: float, truth: float) -> float:
    """|log(estimate / truth)|, +inf when the ratio is not positive (or not finite)."""
    ratio = estimate / truth if truth != 0 else float("nan")
    if not (ratio > 0 and math.isfinite(ratio)):
        return float("inf")
    return abs(math.log(ratio))


def summarize(rows: Iterable[ResultRow]) -> list[SummaryRow]:
    """One `SummaryRow` per (task, estimator, n), in the order the rows came."""
    cells: dict[tuple[str, str, int], list[ResultRow]] = {}
    for row in rows:
        cells.setdefault((row.task, row.estimator, row.n), []).append(row)
    out = []
    for (task, estimator, n), group in cells.items():
        values = np.array([r.estimate for r in group], dtype=np.float64)
        truth = group[0].truth
        mean = float(values.mean())
        std = float(values.std(ddof=1)) if values.size > 1 else float("nan")
        abs_log = _abs_log_ratio(mean, truth)
        out.append(
            SummaryRow(
                task=task,
                quantity=group[0].quantity,
                estimator=estimator,
                n=n,
                seeds=values.size,
                truth=truth,
                mean=mean,
                std=std,
                bias=mean - truth,
                rmse=float(np.sqrt(np.mean((values - truth) ** 2))),
                abs_log_ratio=abs_log,
                solved=abs_log <= math.log(SOLVED_FACTOR) + 1e-12,  # rounding at the edge
                seconds=group[0].seconds,
                compile_seconds=group[0].compile_seconds,
            )
        )
    return out


def samples_needed(summary: Iterable[SummaryRow]) -> dict[tuple[str, str], int | None]:
    """For each (task, estimator): the smallest n of the run from which it is solved at
    every larger n of the run; None if it is not solved at the largest n."""
    by_cell: dict[tuple[str, str], list[SummaryRow]] = {}
    for s in summary:
        by_cell.setdefault((s.task, s.estimator), []).append(s)
    needed: dict[tuple[str, str], int | None] = {}
    for cell, group in by_cell.items():
        group = sorted(group, key=lambda s: s.n)
        first = None
        for s in reversed(group):
            if not s.solved:
                break
            first = s.n
        needed[cell] = first
    return needed


# --------------------------------------------------------------------------- #
# Output.
# --------------------------------------------------------------------------- #


def _fmt(value: float, digits: int = 3) -> str:
    if value != value:
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{digits}g}"


def _group_of(s: SummaryRow, discrete: set[str]) -> str:
    kind = {"mi": "Mutual information", "cmi": "Conditional mutual information"}
    kind |= {"entropy": "Entropy", "kl": "KL divergence"}
    title = kind[s.quantity]
    return f"{title}, discrete" if s.task in discrete else title


def results_markdown(result: BenchmarkResult) -> str:
    """Markdown tables of the summary at the largest n, samples needed, and timings."""
    from itjax.benchmarks.tasks import TASKS

    summary = result.summary
    if not summary:
        return "No estimates were produced.\n"
    discrete = {name for name, t in TASKS.items() if t.discrete}
    largest = max(s.n for s in summary)
    sizes = sorted({s.n for s in summary})
    needed = samples_needed(summary)
    lines = [
        f"Mean estimate over {result.config['seeds']} seeds at n = {largest} (nats); "
        f"✓: within a factor {SOLVED_FACTOR} of the truth.",
        "",
    ]
    groups: dict[str, list[SummaryRow]] = {}
    for s in summary:
        groups.setdefault(_group_of(s, discrete), []).append(s)
    for title, group in groups.items():
        estimators = list(dict.fromkeys(s.estimator for s in group))
        tasks = list(dict.fromkeys(s.task for s in group))
        at = {(s.task, s.estimator): s for s in group if s.n == largest}
        lines += [f"**{title}**", ""]
        lines.append("| task | truth | " + " | ".join(estimators) + " |")
        lines.append("|---|---:|" + "---:|" * len(estimators))
        for task in tasks:
            truth = next(s.truth for s in group if s.task == task)
            cells = []
            for est in estimators:
                s = at.get((task, est))
                cells.append("" if s is None else _fmt(s.mean) + (" ✓" if s.solved else ""))
            lines.append(f"| {task} | {_fmt(truth)} | " + " | ".join(cells) + " |")
        lines.append("")
        if len(sizes) > 1:
            lines.append(f"Samples needed (smallest n of {sizes} solved from there on):")
            lines.append("")
            lines.append("| task | " + " | ".join(estimators) + " |")
            lines.append("|---|" + "---:|" * len(estimators))
            for task in tasks:
                cells = []
                for est in estimators:
                    if (task, est) not in needed:
                        cells.append("")
                    else:
                        value = needed[(task, est)]
                        cells.append("—" if value is None else str(value))
                lines.append(f"| {task} | " + " | ".join(cells) + " |")
            lines.append("")
    lines += [
        "**Time per estimate** (seconds, median over tasks; vmapped over seeds, compile "
        "excluded), compile time (seconds, median over compilations; tasks with the same "
        f"shapes share one) and tasks solved at n = {largest}",
        "",
        "| estimator | " + " | ".join(f"n = {n}" for n in sizes) + " | compile | solved |",
        "|---|" + "---:|" * (len(sizes) + 2),
    ]
    for est in dict.fromkeys(s.estimator for s in summary):
        mine = [s for s in summary if s.estimator == est]
        times = [
            _fmt(float(np.median([s.seconds for s in mine if s.n == n])))
            if any(s.n == n for s in mine)
            else ""
            for n in sizes
        ]
        compiled = [s.compile_seconds for s in mine if s.compile_seconds > 0]
        compile_s = _fmt(float(np.median(compiled))) if compiled else ""
        top = [s for s in mine if s.n == largest]
        solved = f"{sum(s.solved for s in top)}/{len(top)}"
        lines.append(f"| {est} | " + " | ".join(times) + f" | {compile_s} | {solved} |")
    lines.append("")
    if result.skipped:
        lines += ["Not run:", ""]
        for reason, cells in _group_skips(result.skipped).items():
            lines.append(f"- {reason}: {cells}")
        lines.append("")
    return "\n".join(lines)


def _group_skips(skipped: Iterable[Skip]) -> dict[str, str]:
    """Skips grouped by (estimator, reason), for a short report."""
    groups: dict[str, list[str]] = {}
    for s in skipped:
        key = f"{s.estimator} ({s.reason})"
        where = s.task if s.n is None else f"{s.task} n={s.n}"
        groups.setdefault(key, []).append(where)
    out = {}
    for key, where in groups.items():
        shown = ", ".join(where[:4]) + (f" and {len(where) - 4} more" if len(where) > 4 else "")
        out[key] = shown
    return out


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if value != value else ("inf" if value > 0 else "-inf")
    return value


def write_results(
    result: BenchmarkResult, out_dir: str | Path, *, plot: bool = True, command: str = ""
) -> dict[str, Path]:
    """Write CSV, JSON, Markdown and (optionally) PNG plots into `out_dir`.

    Returns the paths written, by kind (``csv``, ``json``, ``markdown``, ``plot``,
    ``plot_tasks``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"csv": out / "benchmark.csv", "json": out / "benchmark.json"}
    paths["markdown"] = out / "benchmark.md"
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(ResultRow._fields)
        writer.writerows(result.rows)
    needed = samples_needed(result.summary)
    document = {
        "machine": result.machine,
        "command": command,
        "config": result.config,
        "wall_seconds": result.wall_seconds,
        "solved_factor": SOLVED_FACTOR,
        "rows": [{k: _json_number(v) for k, v in r._asdict().items()} for r in result.rows],
        "summary": [{k: _json_number(v) for k, v in s._asdict().items()} for s in result.summary],
        "samples_needed": [{"task": t, "estimator": e, "n": n} for (t, e), n in needed.items()],
        "skipped": [s._asdict() for s in result.skipped],
    }
    with open(paths["json"], "w") as f:
        json.dump(document, f, indent=1, allow_nan=False)
    header = [f"Machine: {result.machine}", "", ""]
    if command:
        header = [f"Command: `{command}`", ""] + header
    paths["markdown"].write_text("\n".join(header) + results_markdown(result))
    if plot and result.summary:
        from itjax.benchmarks.plotting import plot_results, plot_tasks

        paths["plot"] = plot_results(result.summary, out / "benchmark.png")
        paths["plot_tasks"] = plot_tasks(result.summary, out / "benchmark_tasks.png")
    return paths
