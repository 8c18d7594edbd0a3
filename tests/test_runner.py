"""The benchmark runner, its summaries, outputs, progress bar and estimator registry."""

import csv
import io
import json
import math

import jax.numpy as jnp
import numpy as np
import pytest

from itjax.benchmarks import registry, runner
from itjax.benchmarks.progress import Progress, format_seconds
from itjax.benchmarks.registry import Adapter, Estimator
from itjax.benchmarks.runner import ResultRow
from itjax.benchmarks.tasks import get_task, select_tasks

# --------------------------------------------------------------------------- #
# Progress bar.
# --------------------------------------------------------------------------- #


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class TTY(io.StringIO):
    def isatty(self):
        return True


def test_format_seconds():
    assert format_seconds(0) == "0:00"
    assert format_seconds(65.4) == "1:05"
    assert format_seconds(3725) == "1:02:05"
    assert format_seconds(float("nan")) == "?"
    assert format_seconds(float("inf")) == "?"


def test_progress_line_rate_and_eta():
    clock = FakeClock()
    bar = Progress(100, stream=io.StringIO(), clock=clock, label="bench", width=10)
    clock.now = 5.0
    bar.update(10)
    line = bar.line("task-a")
    # 10 done in 5 s: 2 per second, 90 left: 45 s.
    assert line.startswith("bench [#---------] 10/100  10% 2.00/s")
    assert "elapsed 0:05 eta 0:45 task-a" in line


def test_progress_is_quiet_when_not_a_terminal():
    clock = FakeClock()
    stream = io.StringIO()
    bar = Progress(200, stream=stream, clock=clock)
    for _ in range(200):
        clock.now += 0.01
        bar.update()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert "\r" not in stream.getvalue()
    assert 9 <= len(lines) <= 11  # one line per tenth, not one per update
    assert lines[-1].split()[1] == "200/200"


def test_progress_logs_every_30_seconds_when_slow():
    clock = FakeClock()
    stream = io.StringIO()
    bar = Progress(1000, stream=stream, clock=clock)
    bar.update()  # first line (nothing logged before)
    for _ in range(5):
        clock.now += 31.0
        bar.update()
    assert len(stream.getvalue().splitlines()) == 6


def test_progress_redraws_in_place_on_a_terminal():
    clock = FakeClock()
    stream = TTY()
    bar = Progress(3, stream=stream, clock=clock)
    for _ in range(3):
        clock.now += 1.0
        bar.update(note="x")
    bar.close()
    text = stream.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "3/3 100%" in text


def test_progress_disabled_writes_nothing():
    stream = TTY()
    bar = Progress(3, stream=stream, enabled=False)
    bar.update(3)
    bar.close()
    assert stream.getvalue() == ""


# --------------------------------------------------------------------------- #
# Summaries (hand-worked numbers).
# --------------------------------------------------------------------------- #


def rows_of(task, estimator, n, values, truth=1.0):
    return [
        ResultRow(task, "mi", estimator, n, i, v, truth, 0.1, 0.3, 1.0 if i == 0 else 0.0)
        for i, v in enumerate(values)
    ]


def test_summarize_by_hand():
    rows = rows_of("t", "a", 100, [1.2, 1.4]) + rows_of("t", "b", 100, [-0.1, 0.3])
    s = {x.estimator: x for x in runner.summarize(rows)}
    a = s["a"]
    assert a.mean == pytest.approx(1.3) and a.bias == pytest.approx(0.3)
    assert a.std == pytest.approx(math.sqrt(0.02))
    assert a.rmse == pytest.approx(math.sqrt((0.04 + 0.16) / 2))
    assert a.abs_log_ratio == pytest.approx(math.log(1.3)) and a.solved
    b = s["b"]
    assert b.mean == pytest.approx(0.1) and b.abs_log_ratio == pytest.approx(math.log(10))
    assert not b.solved
    (neg,) = runner.summarize(rows_of("t", "c", 100, [-0.5, -0.3]))
    assert neg.abs_log_ratio == math.inf and not neg.solved
    # The boundary: a factor exactly 1.5 (either way) is solved, a bit more is not.
    assert runner.summarize(rows_of("t", "d", 1, [1.5]))[0].solved
    assert runner.summarize(rows_of("t", "d", 1, [1 / 1.5]))[0].solved
    assert not runner.summarize(rows_of("t", "d", 1, [1.51]))[0].solved


def test_samples_needed():
    def cells(pattern):
        rows = []
        for n, ok in zip((100, 200, 400), pattern, strict=True):
            rows += rows_of("t", "e", n, [1.0 if ok else 3.0])
        return runner.samples_needed(runner.summarize(rows))[("t", "e")]

    assert cells([False, True, True]) == 200
    assert cells([True, True, True]) == 100
    assert cells([True, False, True]) == 400  # solved from 400 on, not from 100
    assert cells([True, True, False]) is None


# --------------------------------------------------------------------------- #
# The runner on a tiny configuration, with estimators written here.
# --------------------------------------------------------------------------- #


def _gaussian_mi(fns, task):
    """The Gaussian closed form on the sample correlation of a 1×1 task."""

    def estimate(key, x, y):
        r = jnp.corrcoef(x[:, 0], y[:, 0])[0, 1]
        return -0.5 * jnp.log1p(-(r**2))

    return estimate


def _first_sample(fns, task):
    return lambda key, *samples: samples[0][0, 0]


def _fails(fns, task):
    def estimate(key, x, y):
        raise ValueError("n is too small for this estimator")

    return estimate


MI = ("mi", False)
TOY = [
    Estimator("toy-gauss", "Gaussian closed form", {MI: Adapter((), _gaussian_mi)}),
    Estimator("toy-first", "first sample", {MI: Adapter((), _first_sample)}),
    Estimator("toy-first-again", "first sample", {MI: Adapter((), _first_sample)}),
    Estimator("toy-missing", "needs a missing function", {MI: Adapter(("no_such_fn",), None)}),
    Estimator("toy-fails", "raises", {MI: Adapter((), _fails)}),
    Estimator("toy-entropy", "entropy only", {("entropy", False): Adapter((), _first_sample)}),
]


@pytest.fixture(scope="module")
def toy_result():
    tasks = [get_task("mi-gauss-1x1"), get_task("mi-normcdf-gauss-1x1")]
    return runner.run_benchmark(tasks, TOY, (64, 32), seeds=4, progress=False)


def test_runner_rows_and_columns(toy_result):
    rows = toy_result.rows
    ran = {"toy-gauss", "toy-first", "toy-first-again"}
    assert {r.estimator for r in rows} == ran  # toy-entropy does not apply to MI
    assert len(rows) == 2 * len(ran) * 2 * 4  # tasks × estimators × sizes × seeds
    assert ResultRow._fields[:8] == (
        "task", "quantity", "estimator", "n", "seed", "estimate", "truth", "seconds"
    )  # fmt: skip
    assert {r.n for r in rows} == {32, 64} and {r.seed for r in rows} == {0, 1, 2, 3}
    for r in rows:
        assert r.truth == get_task(r.task).truth
        assert math.isfinite(r.estimate) and r.seconds >= 0 and r.compile_seconds >= 0
        assert r.batch_seconds == pytest.approx(4 * r.seconds)


def test_runner_shares_data_and_compilations(toy_result):
    by = {(r.task, r.estimator, r.n, r.seed): r for r in toy_result.rows}
    # Every estimator sees the same samples for a (task, n, seed) ...
    for (task, est, n, seed), r in by.items():
        if est == "toy-first":
            assert by[(task, "toy-first-again", n, seed)].estimate == r.estimate
    # ... different seeds and sizes see different samples ...
    firsts = {r.estimate for r in toy_result.rows if r.estimator == "toy-first"}
    assert len(firsts) == 2 * 2 * 4
    # ... and tasks of the same shapes reuse one compilation per estimator and n.
    for est in ("toy-gauss", "toy-first"):
        for n in (32, 64):
            cells = [r for r in toy_result.rows if r.estimator == est and r.n == n]
            compiled = {r.task for r in cells if r.compile_seconds > 0}
            assert compiled == {"mi-gauss-1x1"}


def test_runner_reports_skips(toy_result):
    reasons = {(s.estimator, s.n): s.reason for s in toy_result.skipped}
    assert "itjax.no_such_fn" in reasons[("toy-missing", None)]
    assert reasons[("toy-fails", 32)] == "ValueError: n is too small for this estimator"
    assert ("toy-fails", 64) in reasons


def test_runner_is_deterministic(toy_result):
    tasks = [get_task("mi-gauss-1x1")]
    again = runner.run_benchmark(tasks, TOY[:1], (32,), seeds=4, progress=False)
    first = [
        r.estimate
        for r in toy_result.rows
        if (r.task, r.estimator, r.n) == ("mi-gauss-1x1", "toy-gauss", 32)
    ]
    assert [r.estimate for r in again.rows] == first


def test_runner_summary_and_estimates_are_sensible(toy_result):
    """The toy Gaussian estimator on Gaussian data (and on Φ of it, where the sample
    correlation changes) is near the truth: sanity of the plumbing, not of itjax."""
    (cell,) = [
        s
        for s in toy_result.summary
        if (s.task, s.estimator, s.n) == ("mi-gauss-1x1", "toy-gauss", 64)
    ]
    # Within 4 standard errors of the mean, plus the plug-in's O(1/2n) bias.
    assert cell.seeds == 4
    assert abs(cell.bias) <= 4 * cell.std / 2 + 1 / (2 * 64)


def test_runner_skips_sizes_below_min_n():
    tasks = [get_task("mi-gauss-1x1")]
    late = Estimator("toy-late", "from n = 64", {MI: Adapter((), _first_sample)}, min_n=64)
    clock = FakeClock()
    stream = io.StringIO()
    bar = Progress(10, stream=stream, clock=clock)
    result = runner.run_benchmark(tasks, [late], (32, 64), seeds=2, progress=bar)
    assert {r.n for r in result.rows} == {64} and result.skipped == []
    assert bar.done == 1  # one cell ran


def test_runner_refuses_bad_configuration():
    tasks = [get_task("mi-gauss-1x1")]
    with pytest.raises(ValueError, match="seeds"):
        runner.run_benchmark(tasks, TOY[:1], (32,), seeds=0, progress=False)
    with pytest.raises(ValueError, match="sizes"):
        runner.run_benchmark(tasks, TOY[:1], (1,), seeds=2, progress=False)


def test_write_results(toy_result, tmp_path):
    paths = runner.write_results(toy_result, tmp_path, command="itjax bench --quick")
    with open(paths["csv"], newline="") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(toy_result.rows)
    for column in ("task", "estimator", "n", "seed", "estimate", "truth", "seconds"):
        assert column in table[0]
    assert "compile_seconds" in table[0]
    assert float(table[0]["estimate"]) == toy_result.rows[0].estimate
    document = json.loads(paths["json"].read_text())  # strict JSON: no NaN tokens
    assert document["command"] == "itjax bench --quick"
    assert len(document["rows"]) == len(toy_result.rows)
    assert {s["estimator"] for s in document["skipped"]} == {"toy-missing", "toy-fails"}
    assert document["summary"][0]["solved"] in (True, False)
    text = paths["markdown"].read_text()
    assert "Command: `itjax bench --quick`" in text and "Machine:" in text
    assert "| mi-gauss-1x1 | 0.413 |" in text
    assert "Samples needed" in text and "toy-missing (not available" in text
    for kind in ("plot", "plot_tasks"):
        data = paths[kind].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_results_markdown_marks_solved_cells():
    rows = rows_of("mi-gauss-1x1", "a", 10, [1.0, 1.2]) + rows_of("mi-gauss-1x1", "b", 10, [3.0])
    result = runner.BenchmarkResult(rows, runner.summarize(rows), [], {"seeds": 2}, "m", 0.0)
    text = runner.results_markdown(result)
    assert "| mi-gauss-1x1 | 1 | 1.1 ✓ | 3 |" in text


# --------------------------------------------------------------------------- #
# Registry and configurations.
# --------------------------------------------------------------------------- #


def test_select_estimators():
    names = [e.name for e in registry.select_estimators(["ksg-*"])]
    assert names == ["ksg-1", "ksg-2"]
    assert len(registry.select_estimators(None)) == len(registry.ESTIMATORS)
    with pytest.raises(ValueError, match="no estimator matches 'nope'"):
        registry.select_estimators(["nope"])


def test_registry_kinds_and_options():
    gauss = get_task("mi-gauss-1x1")
    for est in registry.ESTIMATORS.values():
        assert est.description
        for (quantity, _), adapter in est.adapters.items():
            assert quantity in ("mi", "cmi", "entropy", "kl")
            assert all(isinstance(f, str) for f in adapter.functions)
    assert registry.ESTIMATORS["ksg-1"].options(gauss) == ("k", "jitter")
    with pytest.raises(ValueError, match="gaussian takes no option 'k'"):
        registry.ESTIMATORS["gaussian"].build_raw(gauss, k=3)
    big = get_task("mi-gauss-dense-50x50")
    assert registry.ESTIMATORS["ksg-1"].supports(big)
    assert not registry.ESTIMATORS["infonce"].supports(big)  # max_dim
    assert not registry.ESTIMATORS["plugin"].supports(gauss)
    assert registry.ESTIMATORS["plugin"].supports(get_task("mi-discrete-bsc"))


def test_quick_and_full_configurations_name_real_tasks():
    quick = select_tasks(runner.QUICK.tasks)
    assert len(quick) == len(runner.QUICK.tasks)
    assert {t.quantity for t in quick} == {"mi", "cmi", "entropy", "kl"}
    assert any(t.discrete for t in quick)
    assert len(select_tasks(runner.FULL.tasks)) == len(select_tasks(None))
    registry.select_estimators(runner.QUICK.estimators)


@pytest.mark.slow
def test_every_available_estimator_runs_through_the_runner():
    """Each estimator that this itjax provides runs on a small task of every kind it
    supports and gives a finite estimate (the adapters match the real signatures)."""
    kinds = {}
    for t in select_tasks(None):
        kinds.setdefault((t.quantity, t.discrete), t)
    tasks = list(kinds.values())
    n = registry.NEURAL_MIN_N  # the smallest size every estimator runs at
    result = runner.run_benchmark(tasks, registry.select_estimators(None), (n,), seeds=2,
                                  progress=False)  # fmt: skip
    ran = {r.estimator for r in result.rows}
    for est in registry.select_estimators(None):
        supported = [t for t in tasks if est.supports(t) and not est.missing(t)]
        assert not supported or est.name in ran, est.name
    failures = [s for s in result.skipped if not s.reason.startswith("not available")]
    assert failures == []
    for row in result.rows:
        assert np.isfinite(row.estimate), row
