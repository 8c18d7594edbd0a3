"""Bernoulli (binary) entropy and cross-entropy, elementwise.

Probabilities or logits of one event, any shape (no outcome axis): every entry
is its own Bernoulli distribution. Results are in nats unless `base=` says
otherwise. As for the categorical forms in `functionals.py`: 0 · log 0 = 0 with
finite gradients, +inf where a prediction excludes its target, cross-entropies
linear in their targets; `validate=True` checks the inputs eagerly.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    check_base,
    check_same_shape,
    first_index,
    mul_or_zero,
    require_concrete,
    to_base,
    xlogx,
    xlogy,
)

Array = jax.Array

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_from_logits",
    "binary_entropy",
    "binary_entropy_from_logits",
]


def _times_log1p(x: Array, y: Array) -> Array:
    """x · log1p(y) with 0 · log1p(−1) = 0; gradient log1p(y) in x."""
    return x * jnp.log1p(jnp.where((x == 0) & (y == -1), 0, y))


def _bernoulli(named: dict[str, ArrayLike], validate: bool) -> list[Array]:
    arrays = [as_float_array(x, name) for name, x in named.items()]
    names = list(named)
    for name, x in zip(names[1:], arrays[1:], strict=True):
        check_same_shape(arrays[0], x, names[0], name)
    dtype = jnp.result_type(*arrays)
    arrays = [x.astype(dtype) for x in arrays]
    if validate:
        for name, x in zip(names, arrays, strict=True):
            value = require_concrete(x, name)
            bad = ~((value >= 0) & (value <= 1))
            if bad.any():
                idx = first_index(np.atleast_1d(bad))
                shown = value[idx] if value.ndim else value
                raise ValueError(f"{name} must lie in [0, 1]; {name}[{idx}] = {shown}")
    return arrays


def binary_entropy(p: ArrayLike, *, base: float | None = None, validate: bool = False) -> Array:
    r"""Bernoulli entropy h(p) = −p log p − (1 − p) log(1 − p), elementwise.

    log(1 − p) is computed as log1p(−p), accurate for tiny p.

    Args:
      p: probabilities of the event, any shape.
      base: logarithm base (None: nats, 2: bits; h(1/2) = 1 bit).
      validate: check eagerly that 0 <= p <= 1.

    Returns:
      h(p), shape of `p`.
    """
    check_base(base)
    (p,) = _bernoulli({"p": p}, validate)
    return to_base(-xlogx(p) - _times_log1p(1 - p, -p), base)


def binary_entropy_from_logits(
    logits: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli entropy of p = σ(z) from the logit z, elementwise.

    h = σ(z)·softplus(−z) + σ(−z)·softplus(z): a sum of non-negative terms, so
    no cancellation at large |z|; 0 at z = ±inf.

    Args:
      logits: logits z, any shape; ±inf allowed.
      base: logarithm base.
      validate: check eagerly that no logit is NaN.

    Returns:
      h(σ(z)), shape of `logits`.
    """
    check_base(base)
    (z,) = _bernoulli({"logits": logits}, False)
    if validate:
        _validate_not_nan(z, "logits")
    infinite = jnp.isinf(z)
    z1 = jnp.where(infinite, 0, z)
    h = jax.nn.sigmoid(z1) * jax.nn.softplus(-z1) + jax.nn.sigmoid(-z1) * jax.nn.softplus(z1)
    return to_base(jnp.where(infinite, 0, h), base)


def binary_cross_entropy(
    p: ArrayLike, q: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli cross-entropy −p log q − (1 − p) log(1 − q), elementwise.

    Args:
      p: target probabilities (labels in {0, 1} or soft), any shape.
      q: predicted probabilities, same shape.
      base: logarithm base.
      validate: check eagerly that p and q lie in [0, 1].

    Returns:
      The loss, shape of `p`; +inf where the prediction excludes the target.
    """
    check_base(base)
    p, q = _bernoulli({"p": p, "q": q}, validate)
    return to_base(-xlogy(p, q) - _times_log1p(1 - p, -q), base)


def binary_cross_entropy_from_logits(
    targets: ArrayLike, logits: ArrayLike, *, base: float | None = None, validate: bool = False
) -> Array:
    r"""Bernoulli cross-entropy of targets t and q = σ(z), in softplus form.

    −t log σ(z) − (1 − t) log σ(−z) = t·softplus(−z) + (1 − t)·softplus(z):
    no log(0), no overflow; 0 · inf = 0 at infinite logits. Same values as
    optax's `sigmoid_binary_cross_entropy(logits, targets)`.

    Args:
      targets: target probabilities t in [0, 1], any shape.
      logits: logits z, same shape; ±inf allowed.
      base: logarithm base.
      validate: check eagerly that targets lie in [0, 1] and logits are not NaN.

    Returns:
      The loss, shape of `logits`.
    """
    check_base(base)
    t, z = _bernoulli({"targets": targets, "logits": logits}, False)
    if validate:
        _bernoulli({"targets": t}, True)
        _validate_not_nan(z, "logits")
    loss = mul_or_zero(t, jax.nn.softplus(-z)) + mul_or_zero(1 - t, jax.nn.softplus(z))
    return to_base(loss, base)


def _validate_not_nan(x: Array, name: str) -> None:
    value = require_concrete(x, name)
    bad = np.isnan(value)
    if bad.any():
        idx = first_index(np.atleast_1d(bad))
        raise ValueError(f"{name} must not be NaN; {name}[{idx}] is NaN")
