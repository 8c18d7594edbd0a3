"""Tasks with known ground truth, the benchmark runner and the speed suites.

    >>> from itjax import benchmarks
    >>> task = benchmarks.get_task("mi-gauss-dense-5x5")
    >>> x, y = task.sample(jax.random.key(0), 1000)       # doctest: +SKIP
    >>> result = benchmarks.run_config(benchmarks.QUICK)   # doctest: +SKIP

`itjax bench` runs the benchmark from the command line; `itjax bench speed` runs the
speed suites of `itjax.benchmarks.speed`.
"""

from itjax.benchmarks.registry import ESTIMATORS, Estimator, select_estimators
from itjax.benchmarks.runner import (
    FULL,
    QUICK,
    SOLVED_FACTOR,
    BenchConfig,
    BenchmarkResult,
    ResultRow,
    Skip,
    SummaryRow,
    results_markdown,
    run_benchmark,
    run_config,
    samples_needed,
    summarize,
    write_results,
)
from itjax.benchmarks.tasks import QUANTITIES, TASKS, Task, get_task, select_tasks

__all__ = [
    "ESTIMATORS",
    "FULL",
    "QUANTITIES",
    "QUICK",
    "SOLVED_FACTOR",
    "TASKS",
    "BenchConfig",
    "BenchmarkResult",
    "Estimator",
    "ResultRow",
    "Skip",
    "SummaryRow",
    "Task",
    "get_task",
    "results_markdown",
    "run_benchmark",
    "run_config",
    "samples_needed",
    "select_estimators",
    "select_tasks",
    "summarize",
    "write_results",
]
