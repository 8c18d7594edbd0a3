"""Monte Carlo estimators of KL(p || q) from samples of p and log-density ratios.

With x ~ p and the log-ratio log r(x) = log q(x) - log p(x), three per-sample
estimators of KL(p || q) = E_p[-log r] are in use (Schulman 2020, "Approximating
KL divergence"):

- k1 = -log r: unbiased; its variance Var_p[log r] can be large, and single terms
  are negative wherever q(x) > p(x).
- k2 = (log r)^2 / 2: biased (its mean is the f-divergence with f(r) = (log r)^2 / 2,
  which agrees with KL to second order as q -> p), non-negative, and of low variance
  when p and q are close.
- k3 = (r - 1) - log r: unbiased (E_p[r] = 1) and non-negative (log r <= r - 1),
  with a low variance when p and q are close; when q has heavier tails than p its
  variance contains E_p[r^2] = 1 + chi^2(q || p), which may be infinite.

Each returns an `Estimate(value, stderr)`: the sample mean of the per-sample terms
and its standard error sqrt(var / n) (ddof = 1).
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from itjax._src._utils import (
    EXPM1MX_SERIES_RADIUS,
    Estimate,
    as_float_array,
    check_axis,
    check_base,
    check_key,
    check_static_int,
    expm1mx_series,
    mean_and_stderr,
    to_base,
    validate_finite,
)

__all__ = ["k1_kl_divergence", "k2_kl_divergence", "k3_kl_divergence", "mc_kl_divergence"]

Array = jax.Array


def _k1(log_ratio: Array) -> Array:
    """k1 = -log r."""
    return -log_ratio


def _k2(log_ratio: Array) -> Array:
    """k2 = (log r)^2 / 2."""
    return 0.5 * jnp.square(log_ratio)


def _k3(log_ratio: Array) -> Array:
    """k3 = (r - 1) - log r = e^t - 1 - t for t = log r, accurate also near r = 1.

    Written as expm1(t) - t it is the difference of two nearly equal numbers when
    p and q are close (t = 1e-5 keeps two digits in float32); there the series
    t^2 (1/2 + t/6 + t^2/24 + ...) is used instead (with an inner `where` so that
    the unused branch stays finite, also in gradients).
    """
    t = log_ratio
    small = jnp.abs(t) < EXPM1MX_SERIES_RADIUS
    return jnp.where(small, expm1mx_series(jnp.where(small, t, 0)), jnp.expm1(t) - t)


_TERMS = {"k1": _k1, "k2": _k2, "k3": _k3}


def _estimate(
    terms: Callable[[Array], Array],
    log_ratio: ArrayLike,
    axis: int,
    base: float | None,
    validate: bool,
) -> Estimate:
    log_ratio = as_float_array(log_ratio, "log_ratio")
    if log_ratio.ndim == 0:
        raise ValueError("log_ratio must hold samples along `axis`, got a scalar")
    axis = check_axis(axis, log_ratio.ndim)
    if log_ratio.shape[axis] < 2:
        raise ValueError(
            f"log_ratio must hold at least 2 samples along axis {axis} (for the standard "
            f"error), got shape {log_ratio.shape}"
        )
    check_base(base)
    if validate:
        validate_finite(log_ratio, "log_ratio")
    value, stderr = mean_and_stderr(terms(log_ratio), axis=axis)
    return Estimate(to_base(value, base), to_base(stderr, base))


def k1_kl_divergence(
    log_ratio: ArrayLike, *, axis: int = 0, base: float | None = None, validate: bool = False
) -> Estimate:
    r"""The k1 estimate of KL(p || q): the sample mean of -log r, unbiased.

    .. math::
        \widehat{KL} = \frac{1}{n} \sum_{i=1}^n -\log r(x_i), \qquad
        \log r(x) = \log q(x) - \log p(x), \quad x_i \sim p.

    E_p[-log r] = KL(p || q) exactly; the variance is Var_p[log r] / n.

    Args:
      log_ratio: log q(x_i) - log p(x_i) at samples x_i ~ p; samples along `axis`
        (at least 2), other axes are batch axes.
      axis: the sample axis (default 0: samples first).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: eagerly check that `log_ratio` is finite (not under jit).

    Returns:
      `Estimate(value, stderr)`, each of the batch shape.

    References:
      J. Schulman, "Approximating KL divergence" (2020), joschu.net/blog/kl-approx.html.
    """
    return _estimate(_k1, log_ratio, axis, base, validate)


def k2_kl_divergence(
    log_ratio: ArrayLike, *, axis: int = 0, base: float | None = None, validate: bool = False
) -> Estimate:
    r"""The k2 estimate of KL(p || q): the sample mean of (log r)^2 / 2, biased, low variance.

    .. math::
        \widehat{KL} = \frac{1}{n} \sum_{i=1}^n \tfrac12 \big(\log r(x_i)\big)^2,
        \qquad x_i \sim p.

    Biased: E_p[k2] = (Var_p[log r] + KL^2) / 2, which equals KL only to second
    order as q -> p (for p = N(0, 1), q = N(mu, 1): KL = mu^2 / 2 and
    E_p[k2] = KL + mu^4 / 8). Every term is non-negative, and its variance is small
    when p and q are close.

    Args:
      log_ratio: log q(x_i) - log p(x_i) at samples x_i ~ p, samples along `axis`.
      axis: the sample axis (default 0).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: eagerly check that `log_ratio` is finite (not under jit).

    Returns:
      `Estimate(value, stderr)`; the standard error is that of the mean of the k2
      terms (it does not include the bias).

    References:
      J. Schulman, "Approximating KL divergence" (2020).
    """
    return _estimate(_k2, log_ratio, axis, base, validate)


def k3_kl_divergence(
    log_ratio: ArrayLike, *, axis: int = 0, base: float | None = None, validate: bool = False
) -> Estimate:
    r"""The k3 estimate of KL(p || q): the sample mean of (r - 1) - log r, unbiased, >= 0.

    .. math::
        \widehat{KL} = \frac{1}{n} \sum_{i=1}^n \big(r(x_i) - 1\big) - \log r(x_i),
        \qquad x_i \sim p.

    Unbiased because E_p[r] = E_p[q / p] = 1 (where q vanishes outside the support of
    p; otherwise E_p[r] < 1 and the estimate is biased low), and every term is >= 0
    because log r <= r - 1. Each term is computed without cancellation, from a
    series near r = 1, so it keeps its relative precision when p and q are close
    (the regime where k3 is preferred) and is >= 0 elementwise in floating point.
    Its variance is small when p and q are close, but contains
    E_p[r^2] = 1 + chi^2(q || p), infinite when q has much heavier tails than p;
    k1 is then the safer choice. For log r beyond the exponent range (about 88 in
    float32) the term is +inf.

    Args:
      log_ratio: log q(x_i) - log p(x_i) at samples x_i ~ p, samples along `axis`.
      axis: the sample axis (default 0).
      base: logarithm base of the result (None: nats, 2: bits).
      validate: eagerly check that `log_ratio` is finite (not under jit).

    Returns:
      `Estimate(value, stderr)`.

    References:
      J. Schulman, "Approximating KL divergence" (2020).
    """
    return _estimate(_k3, log_ratio, axis, base, validate)


def mc_kl_divergence(
    key: ArrayLike,
    sample_p: Callable[[Array], Array],
    log_p: Callable[[Array], Array],
    log_q: Callable[[Array], Array],
    *,
    num_samples: int,
    estimator: str = "k1",
    base: float | None = None,
) -> Estimate:
    r"""Monte Carlo estimate of KL(p || q) from a sampler of p and two log-densities.

    .. math::
        \widehat{KL} = \frac{1}{n} \sum_{i=1}^n k\big(\log q(x_i) - \log p(x_i)\big),
        \qquad x_i = \mathrm{sample\_p}(\mathrm{key}_i),

    with n = `num_samples` independent keys split from `key` and k one of the
    per-sample estimators k1 (default, unbiased), k2 (biased, low variance) or k3
    (unbiased, non-negative); see `k1_kl_divergence`, `k2_kl_divergence`,
    `k3_kl_divergence`. The argument order follows KL(p || q): samples come from p,
    the first distribution.

    The three callables act on one sample and are vectorized with `jax.vmap`:
    `sample_p(key)` returns one draw of any shape, `log_p(x)` and `log_q(x)` return
    its log-density as a scalar. They may close over parameters, so the estimate is
    differentiable with respect to those of `log_q`, and of `p` where `sample_p` is
    reparameterized.

    Args:
      key: a PRNG key (`jax.random.key`), split into `num_samples` keys.
      sample_p: `key -> x`, one draw from p.
      log_p: `x -> log p(x)`, a scalar.
      log_q: `x -> log q(x)`, a scalar.
      num_samples: the number of draws n >= 2 (static).
      estimator: `"k1"`, `"k2"` or `"k3"` (static).
      base: logarithm base of the result (None: nats, 2: bits).

    Returns:
      `Estimate(value, stderr)`, scalars, stderr = sqrt(var / n) of the per-sample
      terms.

    References:
      J. Schulman, "Approximating KL divergence" (2020).
    """
    for name, fn in (("sample_p", sample_p), ("log_p", log_p), ("log_q", log_q)):
        if not callable(fn):
            raise TypeError(f"{name} must be a callable, got {type(fn).__name__}")
    num_samples = check_static_int(num_samples, "num_samples", minimum=2)
    if not isinstance(estimator, str) or estimator not in _TERMS:
        raise ValueError(f"estimator must be 'k1', 'k2' or 'k3', got {estimator!r}")
    check_base(base)
    key = check_key(key)
    samples = jax.vmap(sample_p)(jax.random.split(key, num_samples))
    log_ratio = _scalar_per_sample(log_q, samples, "log_q") - _scalar_per_sample(
        log_p, samples, "log_p"
    )
    value, stderr = mean_and_stderr(_TERMS[estimator](log_ratio), axis=0)
    return Estimate(to_base(value, base), to_base(stderr, base))


def _scalar_per_sample(log_density: Callable[[Array], Array], samples, name: str) -> Array:
    values = jax.vmap(log_density)(samples)
    num = jax.tree_util.tree_leaves(samples)[0].shape[0]
    if values.shape != (num,):
        raise ValueError(
            f"{name} must map one sample to a scalar log-density; vectorized over "
            f"{num} samples it returned shape {values.shape}"
        )
    if not jnp.issubdtype(values.dtype, jnp.floating):
        raise TypeError(f"{name} must return a floating value, got dtype {values.dtype}")
    return values
