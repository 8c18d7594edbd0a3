"""Neural estimators of mutual information: bounds, Flax critics, optax trainers."""
