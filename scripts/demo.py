"""The main job: the ground-truth benchmark in quick mode (what `make demo` runs).

Runs `itjax bench --quick`: a representative set of tasks with known true values,
every estimator this itjax provides, two sample sizes and a few seeds, on CPU in a few
minutes. Prints the results table and writes CSV, JSON, Markdown and PNG plots to
`results/` (extra arguments are passed on, e.g. `--out DIR` or `--seeds 5`).
"""

import sys

from itjax.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", "--quick", *sys.argv[1:]]))
