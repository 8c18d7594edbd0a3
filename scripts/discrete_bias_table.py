"""Measured bias of every discrete entropy estimator on three cases; updates docs/discrete.md.

Cases (the discrete estimators issue): a uniform pmf with K = 100 and N = 200; a
uniform pmf with K = 1000 and N = 500 (undersampled); a Zipf pmf p_i ∝ 1/i with
K = 1000 and N = 500. Each estimator runs on DRAWS histograms of each case, all in
one jitted call per estimator; the table gives the mean error (bias) with its
standard error, the standard deviation and the root-mean-square and mean absolute
errors, in nats. For NSB it also gives the mean posterior standard deviation.

Usage: .venv/bin/python scripts/discrete_bias_table.py [--draws 2000]
"""

import argparse
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import itjax
from itjax.benchmarks._timing import machine_description
from itjax.benchmarks.speed.discrete import ESTIMATORS

START, END = "<!-- bias-table:start -->", "<!-- bias-table:end -->"


def cases() -> dict[str, tuple[np.ndarray, int]]:
    zipf = 1 / np.arange(1, 1001)
    return {
        "uniform, K = 100, N = 200": (np.full(100, 1 / 100), 200),
        "uniform, K = 1000, N = 500": (np.full(1000, 1 / 1000), 500),
        "Zipf p_i ∝ 1/i, K = 1000, N = 500": (zipf / zipf.sum(), 500),
    }


def draw_counts(key: jax.Array, probs: np.ndarray, samples: int, draws: int) -> jax.Array:
    """Histograms of `draws` samples of size `samples`, by inverse-CDF sampling."""
    cdf = jnp.cumsum(jnp.asarray(probs, jnp.float32))
    labels = jnp.searchsorted(
        cdf / cdf[-1], jax.random.uniform(key, (draws, samples)), side="right"
    )
    return itjax.counts(labels, num_classes=len(probs)).astype(jnp.float32)


def table(draws: int, seed: int) -> str:
    lines = []
    keys = jax.random.split(jax.random.key(seed), len(cases()))
    for key, (name, (probs, samples)) in zip(keys, cases().items(), strict=True):
        truth = float(-(probs * np.log(probs)).sum())
        counts = draw_counts(key, probs, samples, draws)
        lines += [
            f"**{name}**: H = {truth:.4f} nats, {draws} histograms.\n",
            "| estimator | bias (nats) | ± s.e. | std | RMSE | MAE | notes |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for estimator in ESTIMATORS:
            out = jax.jit(getattr(itjax, f"{estimator}_entropy"))(counts)
            value = np.asarray(out.value if estimator == "nsb" else out, np.float64)
            err = value - truth
            notes = ""
            if estimator == "nsb":
                notes = f"mean posterior std {float(jnp.mean(out.stderr)):.4f}"
            if estimator == "dirichlet":
                notes = "pseudocount 1/2"
            std = err.std(ddof=1)
            lines.append(
                f"| `{estimator}_entropy` | {err.mean():+.4f} | {std / math.sqrt(draws):.4f}"
                f" | {std:.4f} | {math.sqrt((err**2).mean()):.4f} | {np.abs(err).mean():.4f}"
                f" | {notes} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    body = table(args.draws, args.seed)
    command = f"python scripts/discrete_bias_table.py --draws {args.draws} --seed {args.seed}"
    block = (
        f"{START}\n\nCommand: `{command}` (float32).\n\n"
        f"Machine: {machine_description()}\n\n{body}\n{END}"
    )
    print(block)
    doc = Path(__file__).resolve().parent.parent / "docs" / "discrete.md"
    text = doc.read_text()
    if START in text and END in text:
        head, rest = text.split(START, 1)
        doc.write_text(head + block + rest.split(END, 1)[1])
        print(f"updated {doc.relative_to(doc.parent.parent)}")


if __name__ == "__main__":
    main()
