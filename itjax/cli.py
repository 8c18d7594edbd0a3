"""The `itjax` command.

    itjax bench [--quick] [--tasks P ...] [--estimators P ...] [--sizes N ...]
                [--seeds N] [--out DIR] [--no-plot] [--list]
    itjax bench speed [--quick] [--out FILE]
    itjax estimate {entropy,mi,cmi,kl} FILE ... [--method M] [--x-cols C ...]
                [--y-cols C ...] [--z-cols C ...] [--k K] [--base B] [--seed S] [--json]

`bench` runs the ground-truth benchmark (estimators against tasks whose true value is
known) and writes CSV, JSON, Markdown and PNG results; `bench speed` runs the speed
suites against scipy, scikit-learn and the baseline trainer; `estimate` computes one
quantity from CSV or .npy files.

A mistake on the command line or in the input (a missing file, a non-numeric column, an
unknown method, too few samples for k) is reported on one line of stderr with exit
status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import math
import pkgutil
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

__all__ = ["main"]

DEFAULT_OUT = "results"


class UsageError(Exception):
    """A mistake of the person running the command: reported on one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line on stderr (exit 2) instead of usage + error."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# --------------------------------------------------------------------------- #
# Reading data.
# --------------------------------------------------------------------------- #


class Table:
    """Numeric columns read from a CSV or .npy file: `data` is `(n, m)` float64."""

    def __init__(self, path: str, columns: list[str], data: np.ndarray, named: bool) -> None:
        self.path = path
        self.columns = columns
        self.data = data
        self.named = named

    def select(self, specs: Sequence[str] | None, option: str) -> tuple[np.ndarray, list[str]]:
        """The columns named or indexed by `specs` (all when None), `(n, k)`."""
        if specs is None:
            return self.data, list(self.columns)
        indices = []
        for spec in specs:
            if self.named and spec in self.columns:
                indices.append(self.columns.index(spec))
                continue
            try:
                index = int(spec)
            except ValueError:
                known = ", ".join(self.columns) if self.named else "none (no header row)"
                raise UsageError(
                    f"{self.path}: {option} names no column {spec!r} (column names: {known}; "
                    "or give a 0-based index)"
                ) from None
            if not 0 <= index < len(self.columns):
                raise UsageError(
                    f"{self.path}: {option} index {index} is out of range for "
                    f"{len(self.columns)} columns (0-based)"
                )
            indices.append(index)
        if len(set(indices)) != len(indices):
            raise UsageError(f"{self.path}: {option} repeats a column: {' '.join(specs)}")
        return self.data[:, indices], [self.columns[i] for i in indices]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: str) -> Table:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            text = f.read()
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text (UTF-8) CSV file") from None
    delimiter = "\t" if path.endswith((".tsv", ".tab")) else ","
    try:
        rows = [row for row in csv.reader(text.splitlines(), delimiter=delimiter)]
    except csv.Error as err:
        raise UsageError(f"{path}: cannot parse CSV: {err}") from None
    numbered = [(i + 1, [c.strip() for c in row]) for i, row in enumerate(rows)]
    numbered = [(i, row) for i, row in numbered if any(row)]
    if not numbered:
        raise UsageError(f"{path}: the file is empty")
    first_line, first = numbered[0]
    named = not all(_is_number(c) for c in first if c)
    if named:
        columns, body = first, numbered[1:]
        if len(set(columns)) != len(columns):
            raise UsageError(f"{path}: the header repeats a column name")
    else:
        columns, body = [str(i) for i in range(len(first))], numbered
    if not body:
        raise UsageError(f"{path}: no data rows after the header")
    data = np.empty((len(body), len(columns)), dtype=np.float64)
    for r, (line, row) in enumerate(body):
        if len(row) != len(columns):
            raise UsageError(
                f"{path}: line {line} has {len(row)} field{'s' * (len(row) != 1)}, "
                f"expected {len(columns)} (as on line {first_line})"
            )
        for c, cell in enumerate(row):
            try:
                data[r, c] = float(cell)
            except ValueError:
                raise UsageError(
                    f"{path}: column {columns[c]!r} is not numeric: {cell!r} on line {line}"
                ) from None
    return Table(path, columns, data, named)


def _read_npy(path: str) -> Table:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise UsageError(f"{path}: cannot read as .npy: {err}") from None
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "biuf":
        raise UsageError(f"{path}: expected a numeric array, got dtype {array.dtype}")
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] == 0:
        raise UsageError(f"{path}: expected samples of shape (n,) or (n, d), got {array.shape}")
    columns = [str(i) for i in range(array.shape[1])]
    return Table(path, columns, array.astype(np.float64), named=False)


def read_table(path: str) -> Table:
    """A CSV (header row optional) or .npy file as numeric columns, or a UsageError."""
    file = Path(path)
    if not file.exists():
        raise UsageError(f"{path}: no such file")
    if file.is_dir():
        raise UsageError(f"{path}: is a directory, expected a file")
    table = _read_npy(path) if file.suffix == ".npy" else _read_csv(path)
    bad = ~np.isfinite(table.data)
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise UsageError(
            f"{path}: column {table.columns[c]!r} has a non-finite value "
            f"({table.data[r, c]}) in data row {r + 1}"
        )
    return table


# --------------------------------------------------------------------------- #
# `itjax estimate`.
# --------------------------------------------------------------------------- #

_DEFAULT_METHOD = {
    "mi": "ksg-1",
    "cmi": "frenzel-pompe",
    "entropy": "kozachenko-leonenko",
    "kl": "wang-kulkarni-verdu",
}
_ALIASES = {
    "ksg": {"mi": "ksg-1", "cmi": "frenzel-pompe"},
    "knn": _DEFAULT_METHOD,
    "copula": {"mi": "gaussian-copula"},
    "neural": {"mi": "infonce"},
}
_ROLES = {"entropy": ("x",), "mi": ("x", "y"), "cmi": ("x", "y", "z"), "kl": ("p", "q")}


def _method(quantity: str, name: str | None):
    """The registry estimator for `quantity` and whether it takes discrete labels."""
    from itjax.benchmarks.registry import ESTIMATORS

    name = _DEFAULT_METHOD[quantity] if name is None else name
    name = _ALIASES.get(name, {}).get(quantity, name)
    est = ESTIMATORS.get(name)
    usable = [
        e.name
        for e in ESTIMATORS.values()
        if (quantity, False) in e.adapters or (quantity, True) in e.adapters
    ]
    if est is None or name not in usable:
        raise UsageError(f"unknown method {name!r} for {quantity}; choose from {', '.join(usable)}")
    return est, (quantity, True) in est.adapters


def _variables(args: argparse.Namespace) -> list[tuple[np.ndarray, list[str], str]]:
    """The arrays of the quantity's variables, from one file or one file per variable."""
    roles = _ROLES[args.quantity]
    specs = {"x": args.x_cols, "y": args.y_cols, "z": args.z_cols}
    tables = [read_table(p) for p in args.files]
    if args.quantity == "kl":
        if len(tables) != 2:
            raise UsageError(f"kl needs two files (samples of P, then of Q), got {len(tables)}")
        if args.y_cols or args.z_cols:
            raise UsageError("kl takes --x-cols only (the same columns of both files)")
        chosen = [t.select(args.x_cols, "--x-cols") for t in tables]
        if chosen[0][0].shape[1] != chosen[1][0].shape[1]:
            raise UsageError(
                f"kl: {args.files[0]} has {chosen[0][0].shape[1]} columns and "
                f"{args.files[1]} has {chosen[1][0].shape[1]}; select the same with --x-cols"
            )
        return [(a, names, t.path) for (a, names), t in zip(chosen, tables, strict=True)]
    for role in ("x", "y", "z"):
        if role not in roles and specs[role]:
            raise UsageError(f"{args.quantity} takes no --{role}-cols")
    if len(tables) == len(roles):  # one file per variable
        chosen = [
            (*t.select(specs[r], f"--{r}-cols"), t.path) for t, r in zip(tables, roles, strict=True)
        ]
        sizes = {a.shape[0] for a, _, _ in chosen}
        if len(sizes) > 1:
            raise UsageError(
                f"{args.quantity}: the files have different numbers of rows "
                f"({', '.join(str(a.shape[0]) for a, _, _ in chosen)}); rows must be paired"
            )
        return chosen
    if len(tables) != 1:
        raise UsageError(
            f"{args.quantity} takes one file with --{'/--'.join(roles)}-cols, or "
            f"{len(roles)} files (one per variable); got {len(tables)} files"
        )
    table = tables[0]
    if len(roles) == 1:
        return [(*table.select(specs["x"], "--x-cols"), table.path)]
    given = [specs[r] for r in roles]
    if all(g is None for g in given) and len(table.columns) == len(roles):
        given = [[str(i)] for i in range(len(roles))]  # one column per variable
    missing = [f"--{r}-cols" for r, g in zip(roles, given, strict=True) if g is None]
    if missing:
        raise UsageError(
            f"{args.quantity} on one file needs {' and '.join(missing)} "
            f"(the file has {len(table.columns)} columns: {', '.join(table.columns)})"
        )
    chosen = [
        (*table.select(g, f"--{r}-cols"), table.path) for r, g in zip(roles, given, strict=True)
    ]
    used = [name for _, names, _ in chosen for name in names]
    if len(set(used)) != len(used):
        raise UsageError(f"{args.quantity}: the variables share a column; give disjoint columns")
    return chosen


def _labels(array: np.ndarray, names: list[str], path: str) -> tuple[np.ndarray, int]:
    """Integer labels 0..K-1 for the rows of `array` (each distinct row is a symbol)."""
    frac = array != np.round(array)
    if frac.any():
        r, c = (int(i) for i in np.argwhere(frac)[0])
        raise UsageError(
            f"{path}: a discrete method needs integer labels; column {names[c]!r} has "
            f"{array[r, c]} in data row {r + 1}"
        )
    _, labels = np.unique(array, axis=0, return_inverse=True)
    labels = labels.reshape(-1).astype(np.int32)
    return labels, int(labels.max()) + 1


def _warn_ties(variables: list[tuple[np.ndarray, list[str], str]]) -> None:
    """A note on stderr when a column repeats values: kNN estimators assume distinct points."""
    for array, names, path in variables:
        for j, name in enumerate(names):
            column = array[:, j]
            if np.unique(column).size < column.size:
                print(
                    f"itjax: note: {path}: column {name!r} has repeated values; kNN estimates "
                    "assume distinct points (add --jitter to break ties)",
                    file=sys.stderr,
                )
                return


def _units(base: float | None) -> str:
    if base is None:
        return "nats"
    return {2.0: "bits", 10.0: "hartleys"}.get(float(base), f"log-base-{base:g} units")


def _estimate(args: argparse.Namespace) -> int:
    import jax
    import jax.numpy as jnp

    from itjax.benchmarks.tasks import Task

    est, discrete = _method(args.quantity, args.method)
    if args.base is not None and not (args.base > 0 and args.base != 1):
        raise UsageError(f"--base must be a positive number other than 1, got {args.base:g}")
    variables = _variables(args)
    n = min(a.shape[0] for a, _, _ in variables)
    arrays: list[np.ndarray] = []
    num_classes: list[int] = []
    for array, names, path in variables:
        if discrete:
            labels, k = _labels(array, names, path)
            arrays.append(labels)
            num_classes.append(k)
        else:
            arrays.append(array)
    task = Task(
        name="input",
        quantity=args.quantity,
        truth=float("nan"),
        sample=None,
        dims=tuple(1 if discrete else a.shape[1] for a in arrays),
        description="command-line input",
        source="",
        discrete=discrete,
        num_classes=tuple(num_classes),
    )
    options: dict[str, Any] = {}
    if args.k is not None:
        if "k" not in est.options(task):
            raise UsageError(f"--k applies to the kNN methods, not to {est.name}")
        options["k"] = args.k
    if args.jitter:
        if "jitter" not in est.options(task):
            raise UsageError(f"--jitter applies to the kNN methods, not to {est.name}")
        options["jitter"] = True
    elif "jitter" in est.options(task):
        _warn_ties(variables)
    k = options.get("k", 3) if "k" in est.options(task) else None
    if k is not None:
        if k < 1:
            raise UsageError(f"--k must be >= 1, got {k}")
        if n <= k:
            raise UsageError(
                f"{est.name} with k = {k} needs more than k samples, got n = {n}; "
                "lower --k or give more rows"
            )
    missing = est.missing(task)
    if missing:
        raise UsageError(
            f"method {est.name} needs {', '.join('itjax.' + m for m in missing)}, which "
            "this installation of itjax does not provide"
        )
    with jax.enable_x64(True):
        try:
            estimate = est.build_raw(task, **options)
            result = estimate(jax.random.key(args.seed), *(jnp.asarray(a) for a in arrays))
            value = float(getattr(result, "value", result))
            stderr = getattr(result, "stderr", None)
        except (ValueError, TypeError) as err:
            raise UsageError(f"{est.name}: {str(err).strip().splitlines()[0]}") from None
    stderr = float(stderr) if stderr is not None and math.isfinite(float(stderr)) else None
    scale = 1.0 if args.base is None else math.log(args.base)
    value, stderr = value / scale, (None if stderr is None else stderr / scale)
    report = {
        "quantity": args.quantity,
        "method": est.name,
        "value": value,
        "stderr": stderr,
        "units": _units(args.base),
        "n": int(variables[0][0].shape[0]),
        "dims": [int(d) for d in task.dims],
        "files": list(args.files),
        "options": options,
    }
    if args.quantity == "kl":
        report["n_q"] = int(variables[1][0].shape[0])
    if args.json:
        print(json.dumps(report))
    else:
        se = "" if stderr is None else f" ± {stderr:.4g} (standard error)"
        dims = "×".join(str(d) for d in task.dims)
        rows = f"{report['n']} and {report['n_q']}" if "n_q" in report else f"{report['n']}"
        print(
            f"{args.quantity} = {value:.6g} {report['units']}{se}  [{est.name}, n = {rows}, "
            f"dims {dims}]"
        )
    return 0


# --------------------------------------------------------------------------- #
# `itjax bench`.
# --------------------------------------------------------------------------- #


def _list(out) -> int:
    import itjax
    from itjax.benchmarks.registry import ESTIMATORS
    from itjax.benchmarks.tasks import TASKS

    print("Tasks (name, true value in nats, distribution):", file=out)
    for t in TASKS.values():
        print(f"  {t.name:34s} {t.truth:8.4f}  {t.description}", file=out)
    print("\nEstimators (name, available, method):", file=out)
    for e in ESTIMATORS.values():
        functions = {f for a in e.adapters.values() for f in a.functions}
        ok = all(hasattr(itjax, f) for f in functions)
        print(f"  {e.name:22s} {'yes' if ok else 'no ':3s}  {e.description}", file=out)
    return 0


def _bench(args: argparse.Namespace) -> int:
    from itjax.benchmarks import runner
    from itjax.benchmarks.registry import select_estimators
    from itjax.benchmarks.tasks import select_tasks

    if args.list:
        return _list(sys.stdout)
    base = runner.QUICK if args.quick else runner.FULL
    try:
        tasks = select_tasks(args.tasks if args.tasks else base.tasks)
        estimators = select_estimators(args.estimators if args.estimators else base.estimators)
    except ValueError as err:
        raise UsageError(str(err)) from None
    sizes = tuple(args.sizes) if args.sizes else base.sizes
    seeds = args.seeds if args.seeds is not None else base.seeds
    if seeds < 1:
        raise UsageError(f"--seeds must be >= 1, got {seeds}")
    if any(n < 2 for n in sizes):
        raise UsageError(f"--sizes must be >= 2, got {' '.join(map(str, sizes))}")
    out = Path(args.out)
    _check_writable(out)
    mode = "quick" if args.quick else "full"
    print(
        f"itjax bench ({mode}): {len(tasks)} tasks, {len(estimators)} estimators, "
        f"n = {', '.join(map(str, sizes))}, {seeds} seeds",
        file=sys.stderr,
    )
    result = runner.run_benchmark(
        tasks, estimators, sizes, seeds=seeds, seed=args.seed, progress=not args.no_progress
    )
    command = "itjax " + " ".join(shlex.quote(a) for a in args.argv)
    try:
        paths = runner.write_results(result, out, plot=not args.no_plot, command=command)
    except ImportError as err:  # matplotlib is an optional dependency
        print(f"itjax: no plot ({err}); install matplotlib for PNGs", file=sys.stderr)
        paths = runner.write_results(result, out, plot=False, command=command)
    print(f"Machine: {result.machine}")
    print()
    print(runner.results_markdown(result))
    print(f"{len(result.rows)} estimates in {result.wall_seconds:.1f} s.")
    for kind, path in paths.items():
        print(f"  {kind:10s} {path}")
    return 0


def _check_writable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--out {out}: cannot create the directory ({err.strerror})") from None


def speed_suites() -> list[str]:
    """The modules of `itjax.benchmarks.speed` (each exposes `run(*, quick)`)."""
    import itjax.benchmarks.speed as speed

    return sorted(
        f"itjax.benchmarks.speed.{m.name}"
        for m in pkgutil.iter_modules(speed.__path__)
        if not m.name.startswith("_")
    )


def _bench_speed(args: argparse.Namespace) -> int:
    from itjax.benchmarks._timing import machine_description, markdown_table

    out = Path(args.out) if args.out else Path(DEFAULT_OUT) / "bench_speed.md"
    if out.exists() and out.is_dir():
        raise UsageError(f"--out {out}: is a directory, expected a file name")
    _check_writable(out.parent)
    suites = speed_suites()
    if not suites:
        print("itjax: no speed suites in itjax.benchmarks.speed", file=sys.stderr)
    rows, failed = [], []
    start = time.perf_counter()
    for name in suites:
        print(f"itjax bench speed: {name} ...", file=sys.stderr)
        try:
            module = importlib.import_module(name)
            rows.extend(module.run(quick=args.quick))
        except Exception as err:  # one failing suite does not stop the others
            failed.append(f"{name}: {type(err).__name__}: {err}".splitlines()[0])
            print(f"itjax: speed suite {failed[-1]}", file=sys.stderr)
    command = "itjax " + " ".join(shlex.quote(a) for a in args.argv)
    text = [
        "# Speed",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_description()}",
        "",
        "Ratio = peer seconds / itjax seconds (> 1: itjax is faster), best of several runs "
        "after compilation, measured in the same run on the same machine.",
        "",
        markdown_table(rows),
    ]
    if failed:
        text += ["Suites that failed:", ""] + [f"- {f}" for f in failed] + [""]
    out.write_text("\n".join(text))
    print("\n".join(text[4:]))
    print(
        f"{len(rows)} rows from {len(suites) - len(failed)} suites in "
        f"{time.perf_counter() - start:.1f} s; written to {out}"
    )
    return 1 if failed else 0


# --------------------------------------------------------------------------- #
# Entry point.
# --------------------------------------------------------------------------- #


def _parser() -> _Parser:
    parser = _Parser(
        prog="itjax",
        description="Information theory in JAX: the ground-truth benchmark, speed suites "
        "and estimates from files.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    commands = parser.add_subparsers(dest="command", metavar="{bench,estimate}")

    bench = commands.add_parser(
        "bench",
        help="run the ground-truth benchmark (or `bench speed`)",
        description="Run estimators on tasks whose true value is known; write CSV, JSON, "
        "Markdown and PNG results. `itjax bench speed` runs the speed suites instead.",
    )
    bench.add_argument("--quick", action="store_true", help="a representative subset (minutes)")
    bench.add_argument("--tasks", nargs="+", metavar="P", help="task names or patterns")
    bench.add_argument("--estimators", nargs="+", metavar="P", help="estimator names or patterns")
    bench.add_argument("--sizes", nargs="+", type=int, metavar="N", help="sample sizes")
    bench.add_argument("--seeds", type=int, metavar="N", help="seeds per cell")
    bench.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    bench.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help=f"output directory ({DEFAULT_OUT}/)"
    )
    bench.add_argument("--no-plot", action="store_true", help="skip the PNG plots")
    bench.add_argument("--no-progress", action="store_true", help="no progress bar")
    bench.add_argument("--list", action="store_true", help="list tasks and estimators")
    bench_sub = bench.add_subparsers(dest="bench_command", metavar="{speed}")
    speed = bench_sub.add_parser(
        "speed",
        help="run the speed suites against their peers",
        description="Run every speed suite of itjax.benchmarks.speed and write one "
        "Markdown table of ratios against the peers, with the machine described.",
    )
    speed.add_argument("--quick", action="store_true", help="small cases only")
    speed.add_argument(
        "--out", metavar="FILE", help=f"Markdown output ({DEFAULT_OUT}/bench_speed.md)"
    )

    estimate = commands.add_parser(
        "estimate",
        help="estimate entropy, MI, CMI or KL from CSV or .npy files",
        description="Estimate a quantity from samples in CSV (header row optional) or .npy "
        "files. Columns are chosen by header name or 0-based index. Units: nats unless "
        "--base says otherwise.",
    )
    estimate.add_argument("quantity", choices=["entropy", "mi", "cmi", "kl"])
    estimate.add_argument("files", nargs="+", metavar="FILE")
    estimate.add_argument(
        "--method",
        help="estimator name as in `itjax bench --list` (default: the kNN method; "
        "aliases: ksg, knn, copula, neural)",
    )
    for role, what in (("x", "X (or of P and Q for kl)"), ("y", "Y"), ("z", "Z (cmi)")):
        estimate.add_argument(
            f"--{role}-cols", nargs="+", metavar="C", type=_split_cols, help=f"columns of {what}"
        )
    estimate.add_argument("--k", type=int, help="neighbours for the kNN methods (default 3)")
    estimate.add_argument("--base", type=float, help="logarithm base (2: bits; default e)")
    estimate.add_argument(
        "--jitter",
        action="store_true",
        help="kNN methods: add tiny noise (relative 1e-10) to break ties between samples",
    )
    estimate.add_argument(
        "--seed", type=int, default=0, help="PRNG seed (neural methods, --jitter)"
    )
    estimate.add_argument("--json", action="store_true", help="print a JSON object")
    return parser


def _split_cols(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _flatten(specs: list[list[str]] | None) -> list[str] | None:
    return None if specs is None else [s for group in specs for s in group]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `itjax` command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = _parser().parse_args(argv)
        args.argv = argv
        if args.version:
            import itjax

            print(f"itjax {itjax.__version__}")
            return 0
        if args.command is None:
            raise UsageError("a command is required: bench or estimate (see `itjax --help`)")
        if args.command == "estimate":
            for role in ("x", "y", "z"):
                setattr(args, f"{role}_cols", _flatten(getattr(args, f"{role}_cols")))
            return _estimate(args)
        if args.bench_command == "speed":
            return _bench_speed(args)
        return _bench(args)
    except UsageError as err:
        print(f"itjax: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("itjax: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
