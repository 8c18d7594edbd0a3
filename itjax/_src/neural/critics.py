"""Flax critics: networks that score every pair of a batch, `scores[i, j] = f(x_i, y_j)`.

Each critic is a `flax.linen.Module` whose `__call__(x, y)` takes a batch
`x` of shape `(n, dx)` and `y` of shape `(n, dy)` and returns the `(n, n)` score
matrix the bounds of `itjax` read (positive pairs on the diagonal). Their
fields are static, hashable configuration, so a critic can be closed over by a
jitted function or passed as a static argument. The defaults are meant for
standardized inputs (the trainers standardize) and work without tuning on
the Gaussian benchmark tasks.

References:
  Poole, Ozair, van den Oord, Alemi, Tucker (2019), "On variational bounds of
  mutual information", ICML (separable and concatenated critics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

Array = jax.Array

__all__ = ["BilinearCritic", "ConcatCritic", "SeparableCritic"]


class _MLP(nn.Module):
    """A multilayer perceptron: Dense -> activation for each hidden width, then Dense.

    Attributes:
      hidden: widths of the hidden layers (a tuple, so that the module is hashable).
      out: width of the output layer.
      activation: the nonlinearity between layers.
    """

    hidden: Sequence[int] = (64, 64)
    out: int = 1
    activation: Callable[[Array], Array] = nn.relu

    @nn.compact
    def __call__(self, x: Array) -> Array:
        for width in self.hidden:
            x = self.activation(nn.Dense(width)(x))
        return nn.Dense(self.out)(x)


class SeparableCritic(nn.Module):
    r"""f(x, y) = g(x) . h(y), with two MLP encoders g and h.

    The encoders run once per sample, O(n (dx + dy)) work, and the score matrix
    is one `(n, k) @ (k, n)` product: the cheapest critic, and the one InfoNCE
    and contrastive learning use. It can represent any log density ratio up to
    terms in x alone given enough width (Poole et al. 2019). The product is
    divided by sqrt(k), as in scaled dot-product attention, so that the initial
    spread of the scores does not grow with the embedding width (NWJ and DV
    exponentiate them). The defaults, with the default optimizer of
    `neural_mutual_information`, were chosen on the Gaussian tasks of the tests
    (up to 25 x 25 at n = 5000).

    Attributes:
      hidden: hidden widths of each encoder.
      embed_dim: k, the width of the embeddings.
      activation: the nonlinearity of the encoders.

    Shapes: `x (n, dx), y (n, dy) -> (n, n)`; memory O(n (width + n)).
    """

    hidden: Sequence[int] = (32, 32)
    embed_dim: int = 16
    activation: Callable[[Array], Array] = nn.gelu

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        gx = _MLP(tuple(self.hidden), self.embed_dim, self.activation, name="x_encoder")(x)
        hy = _MLP(tuple(self.hidden), self.embed_dim, self.activation, name="y_encoder")(y)
        return gx @ hy.T / jnp.sqrt(jnp.asarray(self.embed_dim, gx.dtype))


class ConcatCritic(nn.Module):
    r"""f(x, y) = MLP([x, y]), evaluated on all n x n pairs of the batch.

    The first layer is affine, W [x; y] + b = (W_x x + b) + W_y y, so it is
    computed once per sample, `(n, h)` for x and `(n, h)` for y, and broadcast
    to the `(n, n, h)` first hidden layer: the `(n, n, dx + dy)` concatenated
    input is never formed. The remaining layers run on the n^2 pairs. More
    expressive than a separable critic, n times more work.

    Attributes:
      hidden: hidden widths (at least one layer).
      activation: the nonlinearity.

    Shapes: `x (n, dx), y (n, dy) -> (n, n)`; memory O(n^2 max(hidden)).
    """

    hidden: Sequence[int] = (32, 32)
    activation: Callable[[Array], Array] = nn.gelu

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        if len(self.hidden) < 1:
            raise ValueError(f"hidden must hold at least one width, got {self.hidden!r}")
        first = self.hidden[0]
        hx = nn.Dense(first, name="x_input")(x)
        hy = nn.Dense(first, use_bias=False, name="y_input")(y)
        h = self.activation(hx[:, None, :] + hy[None, :, :])
        return _MLP(tuple(self.hidden[1:]), 1, self.activation, name="pair_mlp")(h)[..., 0]


class BilinearCritic(nn.Module):
    r"""f(x, y) = x^T W y, a bilinear form with a learned `(dx, dy)` matrix W.

    The linear baseline: on jointly Gaussian data it captures the cross term of
    the log density ratio, log p(x, y)/(p(x)p(y)) = x^T W y + (terms in x or y
    alone) + c, but not the terms in y alone. O(n dx dy + n^2 dy) work.

    Shapes: `x (n, dx), y (n, dy) -> (n, n)`.
    """

    @nn.compact
    def __call__(self, x: Array, y: Array) -> Array:
        w = self.param("kernel", nn.initializers.lecun_normal(), (x.shape[-1], y.shape[-1]))
        return (x @ w) @ jnp.swapaxes(y, -1, -2)
