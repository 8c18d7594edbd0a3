"""Variational bounds on mutual information, as pure functions of a score matrix.

A critic f scores every pair of a batch of n samples from the joint distribution,
`scores[..., i, j] = f(x_i, y_j)`. The diagonal holds the n positive pairs, drawn
from p(x, y); the n(n - 1) off-diagonal pairs stand for draws from p(x)p(y). Each
bound below is one short function of that matrix, in nats unless `base=` says
otherwise; leading axes of `scores` are batch axes.

The numerical care is the same everywhere: partition terms are log-mean-exps
(never a sum of exponentials that can overflow), the diagonal is removed from the
marginal terms with a `where` (so that a huge positive score on the diagonal never
enters an exponential), and InfoNCE is written so that every per-row term is <= 0
in floating point too. With scores of magnitude 1e4 every bound is finite, except
NWJ when an off-diagonal score exceeds log(max float) + 1 (about 89 in float32,
710 in float64): its value, -e^(f - 1), is then honestly -inf.

References:
  Poole, Ozair, van den Oord, Alemi, Tucker (2019), "On variational bounds of
  mutual information", ICML. (Unified view; the score-matrix estimators.)
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from itjax._src._utils import as_float_array, check_base, check_static_float, to_base

Array = jax.Array

__all__ = [
    "dv_bound",
    "infonce_bound",
    "infonce_loss",
    "js_bound",
    "mine_bound",
    "nwj_bound",
    "smile_bound",
]


# --------------------------------------------------------------------------- #
# Private helpers on score matrices.
# --------------------------------------------------------------------------- #


def _check_scores(scores: ArrayLike, name: str = "scores") -> Array:
    """A floating `(..., n, n)` score matrix with n >= 2, or a clear error."""
    scores = as_float_array(scores, name)
    if scores.ndim < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"{name} must be a square matrix of shape (..., n, n), got {scores.shape}")
    if scores.shape[-1] < 2:
        raise ValueError(
            f"{name} must hold a batch of at least 2 samples (n >= 2), got shape {scores.shape}"
        )
    return scores


def _diagonal(scores: Array) -> Array:
    """The positive-pair scores f(x_i, y_i), shape (..., n)."""
    return jnp.diagonal(scores, axis1=-2, axis2=-1)


def _off_diagonal(scores: Array) -> Array:
    """Boolean mask of the n(n - 1) negative pairs, broadcast to the shape of `scores`."""
    n = scores.shape[-1]
    return jnp.broadcast_to(~jnp.eye(n, dtype=bool), scores.shape)


def _joint_term(scores: Array) -> Array:
    """E_{p(x,y)}[f] estimated by the mean of the diagonal."""
    return jnp.mean(_diagonal(scores), axis=-1)


def _marginal_logmeanexp(scores: Array) -> Array:
    """log E_{p(x)p(y)}[e^f] estimated by the log-mean-exp of the off-diagonal scores.

    The diagonal is replaced by -inf before the log-sum-exp: it adds exactly 0 to the
    sum, and its gradient is exactly 0 (a constant branch of the `where`).
    """
    n = scores.shape[-1]
    masked = jnp.where(_off_diagonal(scores), scores, -jnp.inf)
    count = jnp.asarray(n * (n - 1), dtype=scores.dtype)
    return jax.nn.logsumexp(masked, axis=(-2, -1)) - jnp.log(count)


def _infonce_cross_entropy(scores: Array) -> Array:
    """Mean over rows of -log softmax(scores[i])[i], which is >= 0 in floating point.

    -log softmax_i = log sum_j e^(s_ij - s_ii) = softplus(log sum_{j != i} e^(s_ij - s_ii)),
    and softplus(a) = max(a, 0) + log1p(e^-|a|) is never negative when rounded.
    """
    differences = scores - _diagonal(scores)[..., :, None]
    masked = jnp.where(_off_diagonal(scores), differences, -jnp.inf)
    return jnp.mean(jax.nn.softplus(jax.nn.logsumexp(masked, axis=-1)), axis=-1)


# --------------------------------------------------------------------------- #
# The bounds.
# --------------------------------------------------------------------------- #


def dv_bound(scores: ArrayLike, *, base: float | None = None) -> Array:
    r"""Donsker-Varadhan estimate of I(X; Y) from a score matrix.

    .. math::
        \hat I_{DV} = \frac1n \sum_i f_{ii}
            - \log \frac{1}{n(n-1)} \sum_{i \ne j} e^{f_{ij}}

    The population quantity E_p[f] - log E_{p(x)p(y)}[e^f] is a lower bound on
    I(X; Y) for every critic f, tight at f = log p(x, y)/(p(x)p(y)) + c
    (Donsker and Varadhan 1983; the objective of MINE, Belghazi et al. 2018).
    The minibatch estimate is *not* a lower bound: the log of a sample mean is
    biased (Jensen), so on average it exceeds the population value, and it can
    land above the truth. Its variance grows like e^I / n (Song and Ermon 2020).
    Use `nwj_bound` for an unbiased estimate of a lower bound, `infonce_bound`
    for low variance, or `smile_bound` for a tunable trade-off.

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      base: logarithm base of the result (None for nats, 2 for bits).

    Returns:
      The estimate, shape `(...)`.

    References:
      Belghazi et al. (2018), "Mutual information neural estimation", ICML.
    """
    check_base(base)
    scores = _check_scores(scores)
    return to_base(_joint_term(scores) - _marginal_logmeanexp(scores), base)


def nwj_bound(scores: ArrayLike, *, base: float | None = None) -> Array:
    r"""Nguyen-Wainwright-Jordan lower bound on I(X; Y) from a score matrix.

    .. math::
        \hat I_{NWJ} = \frac1n \sum_i f_{ii}
            - \frac{1}{n(n-1)} \sum_{i \ne j} e^{f_{ij} - 1}

    A lower bound on I(X; Y) for every critic, tight at f = 1 + log p(x, y)/(p(x)p(y)),
    and the minibatch estimate is unbiased for it (both terms are plain means), so
    its expectation never exceeds the truth. The price is variance: the
    second term is a mean of exponentials, whose variance grows like e^I / n
    (Song and Ermon 2020). (Called f-GAN KL or MINE-f elsewhere; Poole et al. 2019.)

    The second term is computed as exp(log-mean-exp - 1), so it never overflows
    before its value does: it is finite while the off-diagonal log-mean-exp stays
    below log(max float) + 1 (about 89 in float32), and the estimate is then -inf,
    the correctly rounded value of -e^(f - 1). Positive-pair scores of any size
    are harmless (they never enter an exponential).

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      base: logarithm base of the result (None for nats, 2 for bits).

    Returns:
      The estimate, shape `(...)`.

    References:
      Nguyen, Wainwright, Jordan (2010), "Estimating divergence functionals and
      the likelihood ratio by convex risk minimization", IEEE Trans. Inf. Theory.
    """
    check_base(base)
    scores = _check_scores(scores)
    return to_base(_joint_term(scores) - jnp.exp(_marginal_logmeanexp(scores) - 1.0), base)


def infonce_bound(scores: ArrayLike, *, base: float | None = None) -> Array:
    r"""InfoNCE (contrastive predictive coding) lower bound on I(X; Y).

    .. math::
        \hat I_{NCE} = \log n + \frac1n \sum_i \Big[ f_{ii} - \log \sum_j e^{f_{ij}} \Big]

    Each bracket is a log-softmax, so it is <= 0 and the estimate is <= log n for
    every score matrix; it is computed so that this holds exactly in floating
    point too. Its expectation is a lower bound on I(X; Y) for every critic
    (Poole et al. 2019), with low variance but a bias that is large when
    I(X; Y) approaches log n: use a batch with log n well above the information
    to be measured.

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      base: logarithm base of the result (None for nats, 2 for bits).

    Returns:
      The estimate, shape `(...)`, never above log n.

    References:
      van den Oord, Li, Vinyals (2018), "Representation learning with contrastive
      predictive coding", arXiv:1807.03748.
    """
    check_base(base)
    scores = _check_scores(scores)
    log_n = math.log(scores.shape[-1])
    return to_base(log_n - _infonce_cross_entropy(scores), base)


def js_bound(scores: ArrayLike, *, base: float | None = None) -> Array:
    r"""The f-GAN Jensen-Shannon objective of a score matrix (a training objective).

    .. math::
        \hat J = -\frac1n \sum_i \mathrm{softplus}(-f_{ii})
            - \frac{1}{n(n-1)} \sum_{i \ne j} \mathrm{softplus}(f_{ij})

    Its expectation is a lower bound on 2 JSD(p(x, y) || p(x)p(y)) - log 4, tight
    at f = log p(x, y)/(p(x)p(y)): it is *not* an estimate of I(X; Y), but a
    low-variance objective (a logistic classifier of positive against negative
    pairs) whose maximiser is the log density ratio. Train the critic on it and
    read the information out with `nwj_bound(scores + 1)` (Poole et al. 2019;
    `make_js` does this) or `smile_bound` (Song and Ermon 2020).
    Unbiased for its expectation; finite for scores of any size.

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      base: logarithm base of the result (None for nats, 2 for bits).

    Returns:
      The objective, shape `(...)`.

    References:
      Nowozin, Cseke, Tomioka (2016), "f-GAN: training generative neural samplers
      using variational divergence minimization", NeurIPS. Hjelm et al. (2019),
      "Learning deep representations by mutual information estimation and
      maximization", ICLR.
    """
    check_base(base)
    scores = _check_scores(scores)
    n = scores.shape[-1]
    positive = jnp.mean(-jax.nn.softplus(-_diagonal(scores)), axis=-1)
    negative_terms = jnp.where(_off_diagonal(scores), jax.nn.softplus(scores), 0.0)
    negative = jnp.sum(negative_terms, axis=(-2, -1)) / (n * (n - 1))
    return to_base(positive - negative, base)


def smile_bound(scores: ArrayLike, *, clip: float = 5.0, base: float | None = None) -> Array:
    r"""SMILE: the Donsker-Varadhan estimate with the partition term clipped at +-tau.

    .. math::
        \hat I_{SMILE} = \frac1n \sum_i f_{ii}
            - \log \frac{1}{n(n-1)} \sum_{i \ne j} e^{\mathrm{clip}(f_{ij}, -\tau, \tau)}

    Clipping the density ratio e^f to [e^-tau, e^tau] bounds the variance of each
    term of the partition sum by (e^tau - e^-tau)^2 / 4 instead of letting it grow
    like e^I, at the cost of a bias that vanishes as tau grows (tau -> inf gives
    `dv_bound`). It is an estimate, not a bound. Song and Ermon train the critic
    with `js_bound` and read the information out with this function (`make_smile`
    does this); tau = 5 is their usual choice.

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      clip: tau > 0, static.
      base: logarithm base of the result (None for nats, 2 for bits).

    Returns:
      The estimate, shape `(...)`.

    References:
      Song and Ermon (2020), "Understanding the limitations of variational mutual
      information estimators", ICLR.
    """
    check_base(base)
    clip = check_static_float(clip, "clip", positive=True)
    scores = _check_scores(scores)
    clipped = jnp.clip(scores, -clip, clip)
    return to_base(_joint_term(scores) - _marginal_logmeanexp(clipped), base)


def mine_bound(
    scores: ArrayLike, log_partition_average: ArrayLike, *, decay: float = 0.9
) -> tuple[Array, Array]:
    r"""MINE: the Donsker-Varadhan value with a bias-corrected gradient.

    The gradient of the DV objective is
    E_p[grad f] - E_q[e^f grad f] / E_q[e^f], and the minibatch estimate of the
    denominator biases it. MINE replaces the denominator by an exponential moving
    average over training steps,

    .. math::
        \bar Z_t = \delta \bar Z_{t-1} + (1 - \delta) \frac{1}{n(n-1)} \sum_{i \ne j} e^{f_{ij}},

    carried in log space (`log_partition_average`) in the training state and
    started at log Z = 0 (a critic that outputs 0 has Z = 1). The returned value
    equals `dv_bound(scores)` (the same biased minibatch estimate); only its
    gradient differs, through a surrogate with stopped gradients:
    E_B[f] - mean(e^f) / stop_gradient(Z_t).

    Args:
      scores: critic values `f(x_i, y_j)`, shape `(..., n, n)` with n >= 2,
        positive pairs on the diagonal.
      log_partition_average: log Z_{t-1}, shape `(...)`.
      decay: delta in [0, 1), static. 0 recovers the plain DV gradient.

    Returns:
      `(value, log_partition_average)`: the DV value with MINE's gradient, and
      log Z_t for the next step (no gradient flows through it).

    References:
      Belghazi et al. (2018), "Mutual information neural estimation", ICML
      (section "Correcting the bias from the stochastic gradients").
    """
    decay = check_static_float(decay, "decay", nonnegative=True)
    if not decay < 1:
        raise ValueError(f"decay must be in [0, 1), got {decay}")
    scores = _check_scores(scores)
    log_partition_average = as_float_array(log_partition_average, "log_partition_average")
    joint = _joint_term(scores)
    log_partition = _marginal_logmeanexp(scores)
    batch = jax.lax.stop_gradient(log_partition)
    if decay == 0:
        updated = batch
    else:
        updated = jnp.logaddexp(math.log(decay) + log_partition_average, math.log1p(-decay) + batch)
    surrogate = joint - jnp.exp(log_partition - updated)
    value = surrogate + jax.lax.stop_gradient(joint - log_partition - surrogate)
    return value, updated


def infonce_loss(
    x_embeddings: ArrayLike, y_embeddings: ArrayLike, *, temperature: ArrayLike = 0.1
) -> Array:
    r"""Symmetric InfoNCE loss for contrastive representation learning (CLIP, SimCLR).

    With unit-normalised embeddings u_i, v_i and scores s_ij = u_i . v_j / T,

    .. math::
        L = \frac12 \big[ (\log n - \hat I_{NCE}(S)) + (\log n - \hat I_{NCE}(S^\top)) \big],

    the mean of the row-wise (x -> y) and column-wise (y -> x) softmax cross-entropies
    with the matching pair as the label. Hence log n - L is a lower bound on
    I(X; Y) in expectation and never exceeds log n: CLIP's loss measures at most
    log(batch size) nats. For raw (unnormalised) scores use `infonce_bound`.
    Zero embeddings are left at 0 by the normalisation, with a finite gradient.

    Args:
      x_embeddings: shape `(..., n, k)`, n >= 2, row i paired with row i of
        `y_embeddings`.
      y_embeddings: shape `(..., n, k)`.
      temperature: T > 0 (a float, or an array such as a learned temperature).

    Returns:
      The loss in nats, shape `(...)`.

    References:
      Radford et al. (2021), "Learning transferable visual models from natural
      language supervision" (CLIP). Chen et al. (2020), "A simple framework for
      contrastive learning of visual representations" (SimCLR, NT-Xent).
    """
    x_embeddings = as_float_array(x_embeddings, "x_embeddings")
    y_embeddings = as_float_array(y_embeddings, "y_embeddings")
    if x_embeddings.ndim < 2 or x_embeddings.shape != y_embeddings.shape:
        raise ValueError(
            "x_embeddings and y_embeddings must have the same shape (..., n, k), got "
            f"{x_embeddings.shape} and {y_embeddings.shape}"
        )
    if not isinstance(temperature, jax.core.Tracer):  # a traced (learned) value is not checked
        t = np.asarray(temperature)
        if t.shape != () or not t > 0:
            raise ValueError(f"temperature must be a positive scalar, got {temperature!r}")
    scores = _unit(x_embeddings) @ jnp.swapaxes(_unit(y_embeddings), -1, -2) / temperature
    scores = _check_scores(scores)
    return 0.5 * (
        _infonce_cross_entropy(scores) + _infonce_cross_entropy(jnp.swapaxes(scores, -1, -2))
    )


def _unit(v: Array) -> Array:
    """Rows scaled to unit norm; a zero row stays 0 with a finite gradient (double where)."""
    squared = jnp.sum(v * v, axis=-1, keepdims=True)
    nonzero = squared > 0
    safe = jnp.where(nonzero, squared, 1.0)
    return jnp.where(nonzero, v / jnp.sqrt(safe), 0.0)
