"""Information quantities of a joint pmf table.

A joint distribution of several discrete variables is an array whose named axes
index the variables: `p[..., x, y]` for (X, Y). Every function names the axes of
its variables by keyword (`x_axis=`, `y_axis=`, `given_axis=`, `axes=`); each is
an int or a tuple of ints (a group of axes acts as one variable). Axes not
named are batch axes, and the table must sum to 1 over the named axes. To drop a
variable, sum it out first. Results are in nats unless `base=` says otherwise.

Each quantity is summed as one sum of non-negative terms (never as a difference
of entropies), so it is >= 0 in floating point and keeps its relative precision
when it is small. 0 · log 0 = 0, with finite gradients at zero cells.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import (
    as_float_array,
    check_axis,
    check_base,
    to_base,
    validate_probabilities,
    xlogy,
)
from itjax._src.functionals import _entr, _kl_div_terms

Array = jax.Array
Axes = int | Sequence[int]

__all__ = [
    "conditional_entropy",
    "conditional_mutual_information",
    "joint_entropy",
    "mutual_information",
    "total_correlation",
    "variation_of_information",
]


def _axes(spec: Axes, ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(spec, numbers.Integral) and not isinstance(spec, bool):
        spec = (spec,)
    if not isinstance(spec, Sequence) or len(spec) == 0:
        raise TypeError(f"{name} must be an int or a non-empty tuple of ints, got {spec!r}")
    axes = tuple(check_axis(a, ndim, name) for a in spec)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{name} must not repeat an axis, got {spec!r}")
    return axes


def _table(p: ArrayLike, named: dict[str, Axes], validate: bool) -> tuple[Array, list]:
    """The table as a float array and each named group as a tuple of axes.

    Refuses overlapping groups; with `validate`, checks eagerly that the table
    is finite, non-negative and sums to 1 over all named axes.
    """
    p = as_float_array(p, "p")
    if p.ndim == 0:
        raise ValueError("p must be a joint pmf table with one axis per variable, got a scalar")
    groups = [_axes(spec, p.ndim, name) for name, spec in named.items()]
    seen: dict[int, str] = {}
    for name, group in zip(named, groups, strict=True):
        for a in group:
            if a in seen:
                raise ValueError(f"{seen[a]} and {name} must name different axes, both name {a}")
            seen[a] = name
    if validate:
        variables = tuple(seen)
        validate_probabilities(p, "p", variables[0], atol=np.inf)  # finite and >= 0
        batch = [a for a in range(p.ndim) if a not in seen]
        flat = jnp.moveaxis(p, variables, tuple(range(p.ndim - len(variables), p.ndim)))
        flat = flat.reshape(tuple(p.shape[a] for a in batch) + (-1,))
        validate_probabilities(flat, f"p (flattened over the axes {variables})", -1)
    return p, groups


def _marginal(p: Array, keep: tuple[int, ...], variables: tuple[int, ...]) -> Array:
    """Sum out the variable axes not in `keep` (keepdims, so it broadcasts with p)."""
    drop = tuple(a for a in variables if a not in keep)
    return jnp.sum(p, axis=drop, keepdims=True) if drop else p


def _divide(a: Array, b: Array) -> Array:
    """a / b with 0 where b = 0 (there a = 0 too: b is a marginal of a)."""
    positive = b > 0
    return jnp.where(positive, a / jnp.where(positive, b, 1), 0)


def joint_entropy(
    p: ArrayLike, *, axes: Axes = (-2, -1), base: float | None = None, validate: bool = False
) -> Array:
    r"""Joint entropy H(X₁, …, Xₙ) = −Σ p(x₁, …, xₙ) log p(x₁, …, xₙ).

    Args:
      p: joint pmf table, the variables on `axes`, other axes batch axes.
      axes: the axes of the variables (default: the last two).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: check eagerly that `p` is a pmf over `axes`.

    Returns:
      H, shape of `p` without `axes`.
    """
    check_base(base)
    p, (axes,) = _table(p, {"axes": axes}, validate)
    return to_base(jnp.sum(_entr(p), axis=axes), base)


def conditional_entropy(
    p: ArrayLike,
    *,
    axis: Axes = -1,
    given_axis: Axes = -2,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Conditional entropy H(Y|X) = −Σ p(x, y) log(p(x, y)/p(x)) = H(X, Y) − H(X).

    Y is the variable on `axis`, X the one on `given_axis`: for a table
    `p[x, y]` the defaults give H(Y|X). 0 <= H(Y|X) <= H(Y).

    Args:
      p: joint pmf table of (X, Y), other axes batch axes.
      axis: the axis (or axes) of Y.
      given_axis: the axis (or axes) of X.
      base, validate: as in `joint_entropy`.

    Returns:
      H(Y|X), shape of `p` without the named axes.

    Reference: Cover & Thomas, Elements of Information Theory, eq. 2.10.
    """
    check_base(base)
    p, (y, x) = _table(p, {"axis": axis, "given_axis": given_axis}, validate)
    p_x = _marginal(p, x, x + y)
    return to_base(-jnp.sum(xlogy(p, _divide(p, p_x)), axis=x + y), base)


def mutual_information(
    p: ArrayLike,
    *,
    x_axis: Axes = -2,
    y_axis: Axes = -1,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Mutual information I(X;Y) = Σ p(x, y) log(p(x, y)/(p(x)p(y))) = KL(p_XY‖p_X p_Y).

    Equal to H(X) + H(Y) − H(X, Y); symmetric, 0 <= I <= min(H(X), H(Y)).
    Summed as KL with non-negative terms (see `kl_divergence`), so it is >= 0
    and accurate near independence.

    Args:
      p: joint pmf table of (X, Y), other axes batch axes.
      x_axis, y_axis: the axes (or groups of axes) of X and Y.
      base, validate: as in `joint_entropy`.

    Returns:
      I(X;Y), shape of `p` without the named axes.

    Reference: Cover & Thomas, Elements of Information Theory, eq. 2.28.
    """
    check_base(base)
    p, (x, y) = _table(p, {"x_axis": x_axis, "y_axis": y_axis}, validate)
    variables = x + y
    q = _marginal(p, x, variables) * _marginal(p, y, variables)
    return to_base(jnp.sum(_kl_div_terms(p, q, q - p), axis=variables), base)


def conditional_mutual_information(
    p: ArrayLike,
    *,
    x_axis: Axes = -3,
    y_axis: Axes = -2,
    given_axis: Axes = -1,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Conditional mutual information I(X;Y|Z) = Σ p(x,y,z) log(p(z)p(x,y,z)/(p(x,z)p(y,z))).

    = Σ_z p(z) I(X;Y|Z=z) = H(X|Z) − H(X|Y,Z) >= 0. Summed as a KL between
    p(x, y, z) and p(x|z)p(y|z)p(z), with non-negative terms.

    Args:
      p: joint pmf table of (X, Y, Z), other axes batch axes.
      x_axis, y_axis, given_axis: the axes (or groups of axes) of X, Y and Z.
      base, validate: as in `joint_entropy`.

    Returns:
      I(X;Y|Z), shape of `p` without the named axes.

    Reference: Cover & Thomas, Elements of Information Theory, eq. 2.60.
    """
    check_base(base)
    p, (x, y, z) = _table(
        p, {"x_axis": x_axis, "y_axis": y_axis, "given_axis": given_axis}, validate
    )
    variables = x + y + z
    p_xz = _marginal(p, x + z, variables)
    p_yz = _marginal(p, y + z, variables)
    q = _divide(p_xz * p_yz, _marginal(p, z, variables))
    return to_base(jnp.sum(_kl_div_terms(p, q, q - p), axis=variables), base)


def total_correlation(
    p: ArrayLike,
    *,
    axes: Sequence[Axes] = (-2, -1),
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Total correlation (multi-information) C = Σᵢ H(Xᵢ) − H(X₁, …, Xₙ).

    = KL(p‖Πᵢ p(xᵢ)) >= 0, zero iff the variables are independent; for two
    variables it is I(X;Y). Summed as that KL, with non-negative terms.

    Args:
      p: joint pmf table, other axes batch axes.
      axes: one entry per variable, each an axis or a tuple of axes
        (default: the last two axes are two variables).
      base, validate: as in `joint_entropy`.

    Returns:
      C, shape of `p` without the named axes.

    Reference: Watanabe, Information Theoretical Analysis of Multivariate
    Correlation, IBM J. Res. Dev. 4(1), 1960.
    """
    check_base(base)
    if isinstance(axes, numbers.Integral) or not isinstance(axes, Sequence) or len(axes) < 2:
        raise TypeError(f"axes must be a sequence of at least two variables' axes, got {axes!r}")
    p, groups = _table(p, {f"axes[{i}]": a for i, a in enumerate(axes)}, validate)
    variables = sum(groups, ())
    q = _marginal(p, groups[0], variables)
    for group in groups[1:]:
        q = q * _marginal(p, group, variables)
    return to_base(jnp.sum(_kl_div_terms(p, q, q - p), axis=variables), base)


def variation_of_information(
    p: ArrayLike,
    *,
    x_axis: Axes = -2,
    y_axis: Axes = -1,
    base: float | None = None,
    validate: bool = False,
) -> Array:
    r"""Variation of information VI(X;Y) = H(X|Y) + H(Y|X) = H(X, Y) − I(X;Y).

    A metric on partitions (clusterings): symmetric, 0 iff X and Y determine each
    other, triangle inequality. Summed as −Σ p(x,y)[log(p(x,y)/p(x)) + log(p(x,y)/p(y))].

    Args:
      p: joint pmf table of (X, Y), other axes batch axes.
      x_axis, y_axis: the axes (or groups of axes) of X and Y.
      base, validate: as in `joint_entropy`.

    Returns:
      VI(X;Y), shape of `p` without the named axes.

    Reference: Meilă, Comparing clusterings — an information based distance,
    J. Multivariate Anal. 98(5), 2007.
    """
    check_base(base)
    p, (x, y) = _table(p, {"x_axis": x_axis, "y_axis": y_axis}, validate)
    variables = x + y
    p_x = _marginal(p, x, variables)
    p_y = _marginal(p, y, variables)
    terms = xlogy(p, _divide(p, p_x)) + xlogy(p, _divide(p, p_y))
    return to_base(-jnp.sum(terms, axis=variables), base)
