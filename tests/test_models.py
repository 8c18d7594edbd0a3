"""The worked model examples: each loss decreases and every gradient is finite."""

import importlib.util
from pathlib import Path

import jax
import numpy as np
import pytest

_PATH = Path(__file__).resolve().parent.parent / "examples" / "models.py"
_spec = importlib.util.spec_from_file_location("itjax_model_examples", _PATH)
models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(models)


@pytest.mark.parametrize("name", sorted(models.EXAMPLES))
def test_loss_decreases_and_gradients_are_finite(name):
    num_steps = 120
    trace = jax.jit(lambda key: models.EXAMPLES[name](key, num_steps=num_steps))(jax.random.key(0))
    losses = np.asarray(trace.losses)
    assert losses.shape == (num_steps,)
    assert np.all(np.isfinite(losses)) and np.all(np.isfinite(trace.grad_norms))
    assert np.all(np.asarray(trace.grad_norms) > 0)
    first, last = losses[:10].mean(), losses[-10:].mean()
    # Decrease by more than the step-to-step noise of the loss at the end.
    noise = losses[-20:].std()
    assert last < first - max(4 * noise, 0.05 * abs(first)), (first, last, noise)
