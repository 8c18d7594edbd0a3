"""Tasks with known ground truth, the benchmark runner and the speed suites."""
