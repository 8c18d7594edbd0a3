"""Timing, memory and reporting helpers shared by the speed suites."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import jax


class SpeedRow(NamedTuple):
    """One comparison of itjax against a peer on the same case.

    Seconds are the best of several runs after compilation (compile time is
    reported separately where it matters); `ratio = peer_s / itjax_s`.
    Peak memory is in MiB; NaN where it was not measured.
    """

    suite: str
    case: str
    itjax_s: float
    peer: str
    peer_s: float
    itjax_peak_mib: float = float("nan")
    peer_peak_mib: float = float("nan")
    notes: str = ""

    @property
    def ratio(self) -> float:
        return self.peer_s / self.itjax_s if self.itjax_s > 0 else float("nan")

    @classmethod
    def measured(
        cls, *, suite: str, case: str, peer: str, mine: dict, theirs: dict, notes: str = ""
    ) -> SpeedRow:
        """The row of two `run_isolated` results: their "seconds" and "peak_rss_mib"."""
        return cls(
            suite=suite,
            case=case,
            itjax_s=mine["seconds"],
            peer=peer,
            peer_s=theirs["seconds"],
            itjax_peak_mib=mine["peak_rss_mib"],
            peer_peak_mib=theirs["peak_rss_mib"],
            notes=notes,
        )


def block(tree: Any) -> Any:
    """Wait for every array in `tree` (JAX dispatch is asynchronous)."""
    return jax.block_until_ready(tree)


def best_time(fn: Callable[..., Any], *args: Any, repeat: int = 5, warmup: int = 1) -> float:
    """Best wall-clock seconds of `fn(*args)` over `repeat` runs, after `warmup` runs.

    JAX outputs are blocked on, so the time includes the computation, not only
    its dispatch. The best (not the mean) is the least noisy estimate on a shared
    machine.
    """
    for _ in range(warmup):
        block(fn(*args))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        block(fn(*args))
        best = min(best, time.perf_counter() - start)
    return best


def compile_time(fn: Callable[..., Any], *args: Any) -> float:
    """Seconds of the first call of a fresh jitted `fn` (trace + compile + one run)."""
    start = time.perf_counter()
    block(fn(*args))
    return time.perf_counter() - start


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run_isolated(module: str, function: str, kwargs: dict[str, Any], timeout: float = 600) -> dict:
    """Run `module.function(**kwargs)` in a fresh Python process.

    The function must return a JSON-serializable dict. The child's peak RSS
    (MiB) is added as `peak_rss_mib`, so the memory of one measurement is not
    hidden by whatever ran before it in this process.
    """
    code = (
        "import json, sys, importlib, resource\n"
        f"mod = importlib.import_module({module!r})\n"
        f"out = getattr(mod, {function!r})(**json.loads(sys.argv[1]))\n"
        "out['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0\n"
        "print('@@RESULT@@' + json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed:\n{proc.stderr[-2000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@"))
    return json.loads(line[len("@@RESULT@@") :])


def machine_description() -> str:
    """One line naming the machine, the software and the JAX devices."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    devices = ", ".join(sorted({d.device_kind for d in jax.devices()}))
    return (
        f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, "
        f"jax {jax.__version__}; devices: {jax.default_backend()} ({devices})"
    )


def provenance(command: str, machine: str, load_before: float) -> str:
    """The lines of a speed report that say how it was made, the load at its end read now.

    Args:
      command: the command that made the report.
      machine: `machine_description()`.
      load_before: the 1-minute load average (`os.getloadavg()[0]`) when the run began.
    """
    load = f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    return (
        f"Command: `{command}`\n\n"
        f"Machine: {machine}\n\n"
        f"Load average (1 min) while it ran: {load}; other work shared the cores, so read\n"
        "the ratios (both sides measured in the same run) rather than the seconds.\n\n"
    )


def markdown_table(rows: Sequence[SpeedRow]) -> str:
    """A Markdown table of speed rows with the ratio column."""
    head = (
        "| suite | case | itjax (s) | peer | peer (s) | ratio (peer/itjax) "
        "| itjax peak (MiB) | peer peak (MiB) | notes |\n"
        "|---|---|---:|---|---:|---:|---:|---:|---|\n"
    )
    body = "".join(
        f"| {r.suite} | {r.case} | {r.itjax_s:.4g} | {r.peer} | {r.peer_s:.4g} | "
        f"{r.ratio:.3g}x | {r.itjax_peak_mib:.0f} | {r.peer_peak_mib:.0f} | {r.notes} |\n"
        for r in rows
    )
    return head + body
