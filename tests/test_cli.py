"""The `itjax` command, run as a subprocess: outputs, exit codes and error messages.

Values are checked against closed forms computed here with numpy on the same data
(the Gaussian plug-in on the sample covariance, the plug-in discrete MI from counts).
A few cases that need no new process (listing, the speed suites with stand-in
modules, `--base`) call `itjax.cli.main` in-process.
"""

import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from itjax import cli
from itjax.benchmarks._timing import SpeedRow

ROOT = Path(__file__).resolve().parents[1]


def itjax(*args, cwd):
    env = dict(os.environ, JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-m", "itjax.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Small data files: correlated Gaussians, labels, a tiny file, broken files."""
    d = tmp_path_factory.mktemp("cli")
    rng = np.random.default_rng(0)
    n = 300
    a = rng.normal(size=n)
    b = 0.8 * a + 0.6 * rng.normal(size=n)
    c = 0.5 * b + rng.normal(size=n)
    np.savetxt(d / "abc.csv", np.c_[a, b, c], delimiter=",", header="a,b,c", comments="")
    np.save(d / "a.npy", a)
    np.save(d / "q.npy", 1.0 + 2.0 * rng.normal(size=n))
    u = rng.integers(0, 3, n)
    v = (u + (rng.random(n) < 0.3)) % 3
    np.savetxt(d / "uv.csv", np.c_[u, v], delimiter=",", header="u,v", comments="", fmt="%d")
    (d / "tiny.csv").write_text("a,b\n1,2\n2,1\n3,5\n")
    (d / "ragged.csv").write_text("a,b\n1,2\n3\n")
    (d / "words.csv").write_text("a,b\n1,2\n3,abc\n")
    (d / "empty.csv").write_text("")
    return d


def error_line(proc):
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("itjax: error: ")
    return lines[0]


# --------------------------------------------------------------------------- #
# Estimates (subprocess).
# --------------------------------------------------------------------------- #


def test_estimate_mi_json_matches_closed_form(data):
    proc = itjax("estimate", "mi", "abc.csv", "--x-cols", "a", "--y-cols", "b",
                 "--method", "gaussian", "--json", cwd=data)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    table = np.loadtxt(data / "abc.csv", delimiter=",", skiprows=1)
    r = np.corrcoef(table[:, 0], table[:, 1])[0, 1]
    assert report["value"] == pytest.approx(-0.5 * math.log(1 - r**2), rel=1e-10)
    assert report["quantity"] == "mi" and report["method"] == "gaussian"
    assert report["units"] == "nats" and report["n"] == 300 and report["dims"] == [1, 1]
    assert report["stderr"] is None


def test_estimate_entropy_text_from_npy(data):
    proc = itjax("estimate", "entropy", "a.npy", "--method", "gaussian", cwd=data)
    assert proc.returncode == 0, proc.stderr
    match = re.match(r"entropy = (\S+) nats  \[gaussian, n = 300, dims 1\]$", proc.stdout.strip())
    assert match, proc.stdout
    var = np.var(np.load(data / "a.npy"), ddof=1)
    assert float(match.group(1)) == pytest.approx(0.5 * math.log(2 * math.pi * math.e * var), 1e-5)


def test_estimate_cmi_and_kl_match_closed_forms(data):
    table = np.loadtxt(data / "abc.csv", delimiter=",", skiprows=1)
    proc = itjax("estimate", "cmi", "abc.csv", "--x-cols", "a", "--y-cols", "c",
                 "--z-cols", "b", "--method", "gaussian", "--json", cwd=data)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    # I(A; C | B) = -½ log(1 - ρ²) with ρ the partial correlation of A and C given B.
    r = np.corrcoef(table.T)
    partial = (r[0, 2] - r[0, 1] * r[1, 2]) / math.sqrt((1 - r[0, 1] ** 2) * (1 - r[1, 2] ** 2))
    assert json.loads(proc.stdout)["value"] == pytest.approx(-0.5 * math.log(1 - partial**2), 1e-9)

    proc = itjax("estimate", "kl", "a.npy", "q.npy", "--method", "gaussian", "--json", cwd=data)
    assert proc.returncode == 0, proc.stderr
    p, q = np.load(data / "a.npy"), np.load(data / "q.npy")
    vp, vq = np.var(p, ddof=1), np.var(q, ddof=1)
    kl = 0.5 * (vp / vq + (q.mean() - p.mean()) ** 2 / vq - 1 + math.log(vq / vp))
    assert json.loads(proc.stdout)["value"] == pytest.approx(kl, 1e-9)


def test_estimate_discrete_mi_matches_plugin_by_hand(data):
    proc = itjax("estimate", "mi", "uv.csv", "--method", "plugin", "--json", cwd=data)
    assert proc.returncode == 0, proc.stderr
    uv = np.loadtxt(data / "uv.csv", delimiter=",", skiprows=1).astype(int)
    joint = np.zeros((3, 3))
    np.add.at(joint, (uv[:, 0], uv[:, 1]), 1)
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    mask = p > 0
    expected = float(np.sum(p[mask] * np.log(p[mask] / (px * py)[mask])))
    report = json.loads(proc.stdout)
    assert report["value"] == pytest.approx(expected, 1e-9)
    assert report["dims"] == [1, 1]


# --------------------------------------------------------------------------- #
# Errors a person makes (subprocess): one line, exit status 2, no traceback.
# --------------------------------------------------------------------------- #

ERRORS = [
    (["estimate", "mi", "nope.csv"], "nope.csv: no such file"),
    (["estimate", "mi", "ragged.csv", "--method", "gaussian"],
     "ragged.csv: line 3 has 1 field, expected 2 (as on line 1)"),
    (["estimate", "mi", "words.csv", "--method", "gaussian"],
     "words.csv: column 'b' is not numeric: 'abc' on line 3"),
    (["estimate", "entropy", "empty.csv"], "empty.csv: the file is empty"),
    (["estimate", "mi", "abc.csv", "--x-cols", "a", "--y-cols", "b", "--method", "magic"],
     "unknown method 'magic' for mi; choose from ksg-1, ksg-2, "),
    (["estimate", "mi", "tiny.csv", "--method", "ksg", "--k", "3"],
     "ksg-1 with k = 3 needs more than k samples, got n = 3; lower --k or give more rows"),
    (["estimate", "mi", "abc.csv", "--x-cols", "a", "--y-cols", "zz", "--method", "gaussian"],
     "abc.csv: --y-cols names no column 'zz' (column names: a, b, c; or give a 0-based index)"),
    (["estimate", "mi", "abc.csv", "--method", "gaussian"],
     "mi on one file needs --x-cols and --y-cols (the file has 3 columns: a, b, c)"),
    (["estimate", "volume", "abc.csv"], "argument quantity: invalid choice: 'volume'"),
    (["bench", "--tasks", "no-such-task"], "no task matches 'no-such-task'"),
    (["bench", "--seeds", "many"], "argument --seeds: invalid int value: 'many'"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_person_errors_are_one_line_exit_2(data, args, message):
    line = error_line(itjax(*args, cwd=data))
    assert message in line, line


# --------------------------------------------------------------------------- #
# The benchmark (subprocess, tiny configuration).
# --------------------------------------------------------------------------- #


def test_bench_tiny_run_writes_table_csv_json_and_plots(data):
    out = data / "bench-out"
    proc = itjax("bench", "--tasks", "mi-gauss-1x1", "entropy-discrete-uniform-16",
                 "--estimators", "gaussian", "plugin", "--sizes", "60", "120",
                 "--seeds", "2", "--out", out, cwd=data)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "Machine: " in proc.stdout
    assert re.search(r"\| mi-gauss-1x1 \| 0\.413 \| \S+", proc.stdout)
    assert "| entropy-discrete-uniform-16 | 2.77 |" in proc.stdout
    for name in ("benchmark.csv", "benchmark.json", "benchmark.md", "benchmark.png"):
        assert (out / name).exists()
        assert str(out / name) in proc.stdout
    rows = (out / "benchmark.csv").read_text().splitlines()
    assert len(rows) == 1 + 2 * 2 * 2  # header + tasks × sizes × seeds (one estimator each)
    assert rows[0].startswith("task,quantity,estimator,n,seed,estimate,truth,seconds")
    # stderr is not a terminal: the progress bar prints a few plain lines, no \r.
    assert "\r" not in proc.stderr
    progress = [ln for ln in proc.stderr.splitlines() if ln.startswith("bench [")]
    assert 1 <= len(progress) <= 11 and progress[-1].split()[2] == "4/4"


def test_console_script_is_declared():
    scripts = importlib.metadata.entry_points(group="console_scripts")
    (entry,) = [e for e in scripts if e.name == "itjax"]
    assert entry.value == "itjax.cli:main"


# --------------------------------------------------------------------------- #
# In-process: listing, version, `--base`, speed suites, the demo script.
# --------------------------------------------------------------------------- #


def test_list_version_and_missing_command(capsys):
    from itjax.benchmarks import ESTIMATORS, TASKS

    assert cli.main(["bench", "--list"]) == 0
    out = capsys.readouterr().out
    for name in list(TASKS) + list(ESTIMATORS):
        assert name in out
    assert cli.main(["--version"]) == 0
    assert re.match(r"itjax \d+\.\d+", capsys.readouterr().out)
    assert cli.main([]) == 2
    assert capsys.readouterr().err.startswith("itjax: error: a command is required")


def test_base_two_divides_by_log_two(data, capsys, monkeypatch):
    monkeypatch.chdir(data)
    args = ["estimate", "mi", "abc.csv", "--x-cols", "0", "--y-cols", "1,2", "--method",
            "gaussian", "--json"]  # fmt: skip
    assert cli.main(args) == 0
    nats = json.loads(capsys.readouterr().out)
    assert cli.main([*args, "--base", "2"]) == 0
    bits = json.loads(capsys.readouterr().out)
    assert bits["units"] == "bits" and nats["dims"] == [1, 2]
    assert bits["value"] == pytest.approx(nats["value"] / math.log(2), 1e-12)


def test_jitter_for_tied_samples(data, capsys, monkeypatch):
    """kNN methods on data with repeated values: a note suggests --jitter, which passes the
    key so that ties are broken (labels in {0, 1, 2} are all ties)."""
    import itjax

    if not hasattr(itjax, "ksg_mutual_information"):
        pytest.skip("this itjax has no KSG estimator")
    monkeypatch.chdir(data)
    assert cli.main(["estimate", "mi", "uv.csv", "--method", "ksg", "--json"]) == 0
    tied = capsys.readouterr()
    assert "column 'u' has repeated values" in tied.err and "--jitter" in tied.err
    assert cli.main(["estimate", "mi", "uv.csv", "--method", "ksg", "--jitter", "--json"]) == 0
    jittered = capsys.readouterr()
    assert jittered.err == ""
    assert json.loads(jittered.out)["options"] == {"jitter": True}
    assert json.loads(jittered.out)["value"] != json.loads(tied.out)["value"]
    assert cli.main(["estimate", "mi", "uv.csv", "--method", "gaussian", "--jitter"]) == 2
    assert "--jitter applies to the kNN methods" in capsys.readouterr().err


def test_bench_speed_runs_every_suite_and_reports_failures(tmp_path, capsys, monkeypatch):
    good = types.ModuleType("fake_speed_good")
    good.run = lambda *, quick=False: [
        SpeedRow("fake", f"case quick={quick}", 0.5, "peer", 2.0, 10.0, 20.0, "note")
    ]
    bad = types.ModuleType("fake_speed_bad")

    def fail(*, quick=False):
        raise RuntimeError("peer not installed")

    bad.run = fail
    monkeypatch.setitem(sys.modules, "fake_speed_good", good)
    monkeypatch.setitem(sys.modules, "fake_speed_bad", bad)
    monkeypatch.setattr(cli, "speed_suites", lambda: ["fake_speed_good", "fake_speed_bad"])
    out = tmp_path / "speed.md"
    assert cli.main(["bench", "speed", "--quick", "--out", str(out)]) == 1
    text = out.read_text()
    assert "Machine: " in text and "Command: `itjax bench speed --quick --out" in text
    assert "| fake | case quick=True | 0.5 | peer | 2 | 4x |" in text
    assert "fake_speed_bad: RuntimeError: peer not installed" in text
    captured = capsys.readouterr()
    assert "fake_speed_bad" in captured.err and "| fake |" in captured.out


def test_speed_suites_lists_the_package_modules():
    names = cli.speed_suites()
    assert all(n.startswith("itjax.benchmarks.speed.") for n in names)
    assert not any(n.rsplit(".", 1)[1].startswith("_") for n in names)


def test_demo_script_runs_the_quick_benchmark(monkeypatch):
    calls = []
    monkeypatch.setattr(cli, "main", lambda argv: calls.append(argv) or 0)
    monkeypatch.setattr(sys, "argv", ["demo.py", "--out", "somewhere"])
    source = (ROOT / "scripts" / "demo.py").read_text()
    with pytest.raises(SystemExit) as exit_info:
        exec(compile(source, "demo.py", "exec"), {"__name__": "__main__"})
    assert exit_info.value.code == 0
    assert calls == [["bench", "--quick", "--out", "somewhere"]]
