"""Benchmark tasks: jittable samplers whose true value is known exactly.

A task draws `n` samples with `task.sample(key, n)` (a pure JAX function: it jits and
vmaps over keys, `n` is static) and carries the true value of its quantity in nats,
`task.truth`, with the formula and the source of that value. The quantities are

- ``mi``: I(X; Y), `sample` returns `(x, y)` of shapes `(n, dx)` and `(n, dy)`;
- ``cmi``: I(X; Y | Z), `sample` returns `(x, y, z)`;
- ``entropy``: H(X) (differential, or Shannon for discrete tasks), `sample` returns `(x,)`;
- ``kl``: KL(P ‖ Q), `sample` returns `(x, y)` with x ~ P and y ~ Q, both `(n, d)`.

Discrete tasks (`task.discrete`) draw integer labels of shape `(n,)` in
`range(num_classes)`; continuous tasks draw floats of JAX's default float dtype
(float32, or float64 with x64 enabled).

The mutual-information suite follows the benchmark of Czyż, Grabowski, Vogt,
Beerenwinkel and Marx, "Beyond Normal: On the Evaluation of Mutual Information
Estimators", NeurIPS 2023: Gaussians with dense and sparse interactions, multivariate
Student-t, additive uniform noise, and the same distributions pushed through
invertible maps, which leave mutual information unchanged: I(f(X); g(Y)) = I(X; Y) for
homeomorphisms f, g (Kraskov, Stögbauer & Grassberger, Phys. Rev. E 69, 066138, 2004, §II).
Other references: Cover & Thomas, *Elements of Information Theory*, 2nd ed. (2006).

Every truth here is a closed form evaluated in float64 (relative error about 1e-15;
the digamma values are exact sums for the integer degrees of freedom used).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import ndtr

from itjax.benchmarks import _truths

Array = jax.Array

__all__ = [
    "QUANTITIES",
    "TASKS",
    "Task",
    "asinh",
    "get_task",
    "half_cube",
    "normal_cdf",
    "select_tasks",
    "spiral",
]

QUANTITIES = ("mi", "cmi", "entropy", "kl")

CLOSED_FORM = "closed form, evaluated in float64 (relative error about 1e-15)"


@dataclasses.dataclass(frozen=True)
class Task:
    """A distribution to sample from, with the exact value of one quantity.

    Attributes:
      name: unique name, e.g. ``"mi-gauss-dense-5x5"`` (quantity first).
      quantity: ``"mi"``, ``"cmi"``, ``"entropy"`` or ``"kl"``.
      truth: the true value, in nats.
      sample: ``sample(key, n) -> tuple of arrays`` (see the module docstring); pure,
        jittable with `n` static, vmappable over keys.
      dims: dimension of each returned array (``(dx, dy)`` for MI; 1 per discrete array).
      description: the distribution, in words and symbols.
      source: the formula of the truth and where it comes from.
      precision: how exactly `truth` is known.
      discrete: whether the samples are integer labels.
      num_classes: the alphabet size of each returned array (discrete tasks only).
      params: the parameters of the distribution (covariances, degrees of freedom,
        pmfs, ...), for checking the task against independent oracles.
    """

    name: str
    quantity: str
    truth: float
    sample: Callable[[Array, int], tuple[Array, ...]] = dataclasses.field(repr=False, compare=False)
    dims: tuple[int, ...]
    description: str
    source: str
    precision: str = CLOSED_FORM
    discrete: bool = False
    num_classes: tuple[int, ...] = ()
    params: Mapping[str, Any] = dataclasses.field(
        default_factory=dict, repr=False, compare=False, hash=False
    )


# --------------------------------------------------------------------------- #
# Invertible maps (they leave mutual information unchanged).
# --------------------------------------------------------------------------- #


def normal_cdf(x: Array) -> Array:
    """Φ(x) per coordinate, a diffeomorphism of ℝ onto (0, 1)."""
    return ndtr(x)


def half_cube(x: Array) -> Array:
    """x · √|x| per coordinate, a homeomorphism of ℝ (inverse: sign(y)|y|^{2/3})."""
    return x * jnp.sqrt(jnp.abs(x))


def asinh(x: Array) -> Array:
    """asinh(x) per coordinate, a diffeomorphism of ℝ that shortens heavy tails."""
    return jnp.arcsinh(x)


def spiral(x: Array, *, speed: float) -> Array:
    """x ↦ R(speed · ‖x‖²) x with R(θ) the rotation by θ in the plane of coordinates 0, 1.

    A diffeomorphism of ℝ^d, d ≥ 2: the rotation keeps ‖x‖, so the inverse rotates by
    −speed · ‖x‖². (Czyż et al. 2023, the "spiral" task, with generator e₁e₀ᵀ − e₀e₁ᵀ.)

    Args:
      x: points, shape `(n, d)` with d ≥ 2.
      speed: winding speed (radians per unit of squared norm).
    """
    theta = speed * jnp.sum(x * x, axis=-1, keepdims=True)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    first = cos * x[:, :1] - sin * x[:, 1:2]
    second = sin * x[:, :1] + cos * x[:, 1:2]
    return jnp.concatenate([first, second, x[:, 2:]], axis=-1)


# --------------------------------------------------------------------------- #
# Samplers.
# --------------------------------------------------------------------------- #


def _float() -> Any:
    return jnp.result_type(float)


def _correlated_normal(key: Array, n: int, chol: np.ndarray) -> Array:
    """n draws of N(0, L Lᵀ), shape (n, D)."""
    dtype = _float()
    z = jax.random.normal(key, (n, chol.shape[0]), dtype)
    return z @ jnp.asarray(chol.T, dtype)


def _gaussian_sampler(cov: np.ndarray, splits: tuple[int, ...]):
    chol = np.linalg.cholesky(cov)
    cuts = list(np.cumsum(splits)[:-1])

    def sample(key: Array, n: int) -> tuple[Array, ...]:
        return tuple(jnp.split(_correlated_normal(key, n, chol), cuts, axis=1))

    return sample


def _student_sampler(dispersion: np.ndarray, df: int, splits: tuple[int, ...]):
    """t_ν(0, Σ): Z √(ν / W) with Z ~ N(0, Σ) and W ~ χ²_ν independent.

    For an integer ν, W is drawn as a sum of ν squared standard normals (exact, and much
    cheaper to compile than a gamma sampler).
    """
    chol = np.linalg.cholesky(dispersion)
    cuts = list(np.cumsum(splits)[:-1])

    def sample(key: Array, n: int) -> tuple[Array, ...]:
        key_z, key_w = jax.random.split(key)
        z = _correlated_normal(key_z, n, chol)
        w = jnp.sum(jax.random.normal(key_w, (n, df), _float()) ** 2, axis=1, keepdims=True)
        return tuple(jnp.split(z * jnp.sqrt(df / w), cuts, axis=1))

    return sample


def _additive_uniform_sampler(epsilon: float):
    def sample(key: Array, n: int) -> tuple[Array, Array]:
        key_x, key_noise = jax.random.split(key)
        x = jax.random.uniform(key_x, (n, 1), _float())
        noise = jax.random.uniform(key_noise, (n, 1), _float(), -epsilon, epsilon)
        return x, x + noise

    return sample


def _transformed_sampler(base: Task, fx: Callable[[Array], Array], fy: Callable[[Array], Array]):
    def sample(key: Array, n: int) -> tuple[Array, Array]:
        x, y = base.sample(key, n)
        return fx(x), fy(y)

    return sample


def _categorical_sampler(pmf: np.ndarray):
    """Integer labels with the given pmf; a 2-D table gives the pair (row, column)."""
    flat = np.asarray(pmf, dtype=np.float64).ravel()
    shape = np.shape(pmf)

    def sample(key: Array, n: int) -> tuple[Array, ...]:
        idx = jax.random.choice(key, flat.size, (n,), p=jnp.asarray(flat, _float()))
        idx = idx.astype(jnp.int32)
        if len(shape) == 1:
            return (idx,)
        return idx // shape[1], idx % shape[1]

    return sample


# --------------------------------------------------------------------------- #
# Task builders.
# --------------------------------------------------------------------------- #

_BMI = "Czyż et al., 'Beyond Normal', NeurIPS 2023"


def _equicorrelated(dim: int, rho: float = 0.5) -> np.ndarray:
    """Unit variances and correlation ρ between every pair (the 'dense' structure)."""
    return (1.0 - rho) * np.eye(dim) + rho * np.ones((dim, dim))


def _sparse_correlation(dim_x: int, dim_y: int, pairs: int = 2, signal=0.8, noise=0.1):
    """Corr(X_i, Y_i) = signal for i < pairs, `noise` within X and within Y, 0 otherwise."""
    cov = np.eye(dim_x + dim_y)
    cov[:dim_x, :dim_x] += noise * (1 - np.eye(dim_x))
    cov[dim_x:, dim_x:] += noise * (1 - np.eye(dim_y))
    for i in range(pairs):
        cov[i, dim_x + i] = cov[dim_x + i, i] = signal
    return cov


def _gaussian_mi_task(name: str, cov: np.ndarray, dim_x: int, description: str) -> Task:
    dim_y = cov.shape[0] - dim_x
    return Task(
        name=name,
        quantity="mi",
        truth=_truths.gaussian_mi(cov, dim_x),
        sample=_gaussian_sampler(cov, (dim_x, dim_y)),
        dims=(dim_x, dim_y),
        description=description,
        source="I = h(X) + h(Y) − h(X, Y) = ½ log(det Σ_xx det Σ_yy / det Σ), with "
        "h = ½ log det(2πeΣ) (Cover & Thomas, Theorem 8.4.1 and Example 8.5.1)",
        params={"cov": cov, "dim_x": dim_x},
    )


def _student_mi_task(name: str, dispersion: np.ndarray, dim_x: int, df: int, what: str) -> Task:
    dim_y = dispersion.shape[0] - dim_x
    return Task(
        name=name,
        quantity="mi",
        truth=_truths.student_t_mi(dispersion, dim_x, df),
        sample=_student_sampler(dispersion, df, (dim_x, dim_y)),
        dims=(dim_x, dim_y),
        description=f"(X, Y) ~ multivariate Student-t, ν = {df}, dispersion {what}",
        source=(
            "I = h(X) + h(Y) − h(X, Y) with the multivariate-t entropy of Arellano-Valle, "
            "Contreras-Reyes & Genton (2013), eq. 7; = Gaussian MI of the dispersion + "
            "a term in (ν, dx, dy) only"
        ),
        params={"dispersion": dispersion, "dim_x": dim_x, "df": df},
    )


def _mi_tasks() -> Iterable[Task]:
    rho = 0.75
    yield _gaussian_mi_task(
        "mi-gauss-1x1",
        np.array([[1.0, rho], [rho, 1.0]]),
        1,
        f"(X, Y) bivariate normal, unit variances, correlation ρ = {rho}; I = −½ log(1 − ρ²)",
    )
    for d in (2, 3, 5, 25, 50):
        yield _gaussian_mi_task(
            f"mi-gauss-dense-{d}x{d}",
            _equicorrelated(2 * d),
            d,
            f"(X, Y) ∈ ℝ^{d}×ℝ^{d} normal, unit variances, correlation ½ between every pair "
            f"of the {2 * d} coordinates ({_BMI}, 'multinormal-uniform')",
        )
    for d in (3, 5, 25):
        yield _gaussian_mi_task(
            f"mi-gauss-sparse-{d}x{d}",
            _sparse_correlation(d, d),
            d,
            f"(X, Y) ∈ ℝ^{d}×ℝ^{d} normal: two pairs Corr(X_i, Y_i) = 0.8, correlation 0.1 "
            f"within X and within Y, no other interaction ({_BMI}, 'multinormal-sparse')",
        )
    for d, df in ((1, 1), (1, 2), (2, 2)):
        yield _student_mi_task(
            f"mi-student-{d}x{d}-df{df}", np.eye(2 * d), d, df, "identity (uncorrelated)"
        )
    for d, df in ((2, 5), (5, 2), (5, 5), (5, 10)):
        yield _student_mi_task(
            f"mi-student-dense-{d}x{d}-df{df}",
            _equicorrelated(2 * d),
            d,
            df,
            "½ off the diagonal (as the dense Gaussian)",
        )
    for eps in (0.1, 0.75):
        yield Task(
            name=f"mi-uniform-noise-eps{eps}",
            quantity="mi",
            truth=_truths.additive_uniform_mi(eps),
            sample=_additive_uniform_sampler(eps),
            dims=(1, 1),
            description=f"X ~ U(0, 1), Y = X + N, N ~ U(−{eps}, {eps}) independent of X",
            source="I = ε − log 2ε for ε ≤ ½, 1/(4ε) otherwise (derived from h(Y) − h(N); "
            f"{_BMI}, Appendix)",
            params={"epsilon": eps},
        )


def _transformed_task(
    base: Task,
    prefix: str,
    fx: Callable[[Array], Array],
    fy: Callable[[Array], Array],
    how: str,
    **extra: Any,
) -> Task:
    return Task(
        name=f"mi-{prefix}-{base.name.removeprefix('mi-')}",
        quantity="mi",
        truth=base.truth,
        sample=_transformed_sampler(base, fx, fy),
        dims=base.dims,
        description=f"{how}, applied to the samples of {base.name}",
        source=f"I(f(X); g(Y)) = I(X; Y) for homeomorphisms f, g (Kraskov et al. 2004, §II); "
        f"truth of {base.name}",
        precision=base.precision,
        params={"base": base.name, "transform": prefix, **extra},
    )


def _transformed_mi_tasks(by_name: Mapping[str, Task]) -> Iterable[Task]:
    for base in ("mi-gauss-1x1", "mi-gauss-dense-3x3"):
        yield _transformed_task(
            by_name[base], "normcdf", normal_cdf, normal_cdf, "Φ (normal CDF) per coordinate"
        )
        yield _transformed_task(
            by_name[base], "halfcube", half_cube, half_cube, "x·√|x| per coordinate"
        )
    for base in ("mi-student-1x1-df1", "mi-student-2x2-df2"):
        yield _transformed_task(by_name[base], "asinh", asinh, asinh, "asinh per coordinate")
    speed = 0.5
    yield _transformed_task(
        by_name["mi-gauss-dense-3x3"],
        "spiral",
        lambda x: spiral(x, speed=speed),
        lambda y: y,
        f"X ↦ R({speed}·‖X‖²) X (a spiral rotation in the plane of X₀, X₁), Y unchanged",
        speed=speed,
    )


def _discrete_mi_task(name: str, table: np.ndarray, description: str, source: str) -> Task:
    return Task(
        name=name,
        quantity="mi",
        truth=_truths.discrete_mi(table),
        sample=_categorical_sampler(table),
        dims=(1, 1),
        description=description,
        source=source,
        discrete=True,
        num_classes=table.shape,
        params={"pmf": table},
    )


def _zipf(k: int, s: float = 1.0) -> np.ndarray:
    weights = 1.0 / np.arange(1, k + 1, dtype=np.float64) ** s
    return weights / weights.sum()


def _discrete_mi_tasks() -> Iterable[Task]:
    flip = 0.1
    bsc = np.array([[1 - flip, flip], [flip, 1 - flip]]) / 2
    yield _discrete_mi_task(
        "mi-discrete-bsc",
        bsc,
        f"X ~ Bernoulli(½), Y = X xor Bernoulli({flip}) (binary symmetric channel)",
        "I = log 2 − H_b(0.1) (Cover & Thomas §7.1.4); computed as Σ p log(p / p_x p_y)",
    )
    k, keep = 10, 0.7
    symmetric = np.full((k, k), (1 - keep) / (k - 1)) / k
    np.fill_diagonal(symmetric, keep / k)
    yield _discrete_mi_task(
        f"mi-discrete-symmetric-{k}x{k}",
        symmetric,
        f"X uniform on {k} symbols, Y = X with probability {keep}, else another symbol uniformly",
        f"I = log {k} − H({keep}, {(1 - keep) / (k - 1):.4g} × {k - 1}); computed as "
        "Σ p log(p / p_x p_y)",
    )
    k, keep = 16, 0.6
    px = _zipf(k)
    channel = np.full((k, k), (1 - keep) / k) + keep * np.eye(k)
    yield _discrete_mi_task(
        f"mi-discrete-zipf-{k}x{k}",
        px[:, None] * channel,
        f"X ~ Zipf(s = 1) on {k} symbols, Y = X with probability {keep}, else uniform on all {k}",
        "exact sum Σ p(x, y) log(p(x, y) / p(x) p(y)) over the table",
    )


def _entropy_task(name, truth, sample, dims, description, source, params) -> Task:
    return Task(
        name=name,
        quantity="entropy",
        truth=truth,
        sample=sample,
        dims=dims,
        description=description,
        source=source,
        params=params,
    )


def _entropy_tasks() -> Iterable[Task]:
    for d, cov, what in ((1, np.eye(1), "N(0, 1)"), (5, _equicorrelated(5), "")):
        yield _entropy_task(
            f"entropy-gauss-{d}d" if d == 1 else f"entropy-gauss-dense-{d}d",
            _truths.gaussian_entropy(cov),
            _gaussian_sampler(cov, (d,)),
            (d,),
            what or f"N(0, Σ) in ℝ^{d}, unit variances, correlation ½ between every pair",
            "h = ½ log det(2πeΣ) (Cover & Thomas, Theorem 8.4.1)",
            {"cov": cov},
        )
    for d, width in ((1, 3.0), (3, 2.0)):

        def uniform(key, n, d=d, width=width):
            return (jax.random.uniform(key, (n, d), _float(), 0.0, width),)

        yield _entropy_task(
            f"entropy-uniform-{d}d",
            d * math.log(width),
            uniform,
            (d,),
            f"uniform on the cube [0, {width}]^{d}",
            "h = d log(width) (Cover & Thomas, Example 8.1.1)",
            {"width": width},
        )
    rate = 0.5

    def exponential(key, n):
        return (jax.random.exponential(key, (n, 1), _float()) / rate,)

    yield _entropy_task(
        "entropy-exponential-1d",
        1.0 - math.log(rate),
        exponential,
        (1,),
        f"exponential with rate λ = {rate}",
        "h = 1 − log λ (Cover & Thomas, Problem 8.1)",
        {"rate": rate},
    )
    scale = 2.0

    def laplace(key, n):
        return (scale * jax.random.laplace(key, (n, 1), _float()),)

    yield _entropy_task(
        "entropy-laplace-1d",
        1.0 + math.log(2.0 * scale),
        laplace,
        (1,),
        f"Laplace with scale b = {scale}",
        "h = 1 + log 2b (Cover & Thomas, Problem 8.1)",
        {"scale": scale},
    )
    d, df = 2, 3
    yield _entropy_task(
        f"entropy-student-{d}d-df{df}",
        _truths.student_t_entropy(np.eye(d), df),
        _student_sampler(np.eye(d), df, (d,)),
        (d,),
        f"standard multivariate Student-t in ℝ^{d}, ν = {df}",
        "Arellano-Valle, Contreras-Reyes & Genton (2013), eq. 7",
        {"dispersion": np.eye(d), "df": df},
    )


def _discrete_entropy_tasks() -> Iterable[Task]:
    for name, pmf, what, source in (
        ("entropy-discrete-uniform-16", np.full(16, 1 / 16), "uniform on 16 symbols", "log 16"),
        ("entropy-discrete-zipf-100", _zipf(100), "Zipf (s = 1) on 100 symbols", "exact sum"),
        ("entropy-discrete-zipf-1000", _zipf(1000), "Zipf (s = 1) on 1000 symbols", "exact sum"),
    ):
        yield Task(
            name=name,
            quantity="entropy",
            truth=_truths.shannon_entropy(pmf),
            sample=_categorical_sampler(pmf),
            dims=(1,),
            description=what,
            source=f"H = −Σ p log p ({source})",
            discrete=True,
            num_classes=(pmf.size,),
            params={"pmf": pmf},
        )


def _kl_tasks() -> Iterable[Task]:
    def gauss_pair(mean_p, cov_p, mean_q, cov_q):
        chol_p, chol_q = np.linalg.cholesky(cov_p), np.linalg.cholesky(cov_q)

        def sample(key, n):
            key_p, key_q = jax.random.split(key)
            x = _correlated_normal(key_p, n, chol_p) + jnp.asarray(mean_p[None, :], _float())
            y = _correlated_normal(key_q, n, chol_q) + jnp.asarray(mean_q[None, :], _float())
            return x, y

        return sample

    gauss_source = (
        "KL = ½[tr(Σq⁻¹Σp) + (μq − μp)ᵀΣq⁻¹(μq − μp) − d + log(det Σq / det Σp)] "
        "(E_P[log p − log q] integrated directly)"
    )
    for name, mp, cp, mq, cq, what in (
        ("kl-gauss-1d", [0.0], np.eye(1), [1.0], 4.0 * np.eye(1), "P = N(0, 1), Q = N(1, 2²)"),
        (
            "kl-gauss-3d",
            [0.0, 0.0, 0.0],
            _equicorrelated(3),
            [0.5, 0.0, -0.5],
            np.eye(3),
            "P = N(0, Σ) with correlation ½ between every pair, Q = N((½, 0, −½), I)",
        ),
    ):
        mp, mq = np.asarray(mp), np.asarray(mq)
        yield Task(
            name=name,
            quantity="kl",
            truth=_truths.gaussian_kl(mp, cp, mq, cq),
            sample=gauss_pair(mp, cp, mq, cq),
            dims=(len(mp), len(mq)),
            description=what,
            source=gauss_source,
            params={"mean_p": mp, "cov_p": cp, "mean_q": mq, "cov_q": cq},
        )
    rate_p, rate_q = 1.0, 0.25

    def exponentials(key, n):
        key_p, key_q = jax.random.split(key)
        x = jax.random.exponential(key_p, (n, 1), _float()) / rate_p
        y = jax.random.exponential(key_q, (n, 1), _float()) / rate_q
        return x, y

    yield Task(
        name="kl-exponential-1d",
        quantity="kl",
        truth=math.log(rate_p / rate_q) + rate_q / rate_p - 1.0,
        sample=exponentials,
        dims=(1, 1),
        description=f"P = Exponential(rate {rate_p}), Q = Exponential(rate {rate_q})",
        source="KL = log(λp/λq) + λq/λp − 1 (direct integration)",
        params={"rate_p": rate_p, "rate_q": rate_q},
    )

    def uniform_vs_normal(key, n):
        key_p, key_q = jax.random.split(key)
        x = jax.random.uniform(key_p, (n, 1), _float())
        y = jax.random.normal(key_q, (n, 1), _float())
        return x, y

    yield Task(
        name="kl-uniform-gauss-1d",
        quantity="kl",
        truth=0.5 * math.log(2.0 * math.pi) + 1.0 / 6.0,
        sample=uniform_vs_normal,
        dims=(1, 1),
        description="P = U(0, 1), Q = N(0, 1)",
        source="KL = −h(P) − E_P[log φ(X)] = 0 + ½ log 2π + E_P[X²]/2 = ½ log 2π + 1/6",
        params={},
    )


def _sparse_cmi_covariance() -> np.ndarray:
    cov = np.eye(6)
    for i in range(2):
        cov[i, 2 + i] = cov[2 + i, i] = 0.8
    cov[:4, 4:] = 0.3
    cov[4:, :4] = 0.3
    return cov


def _cmi_tasks() -> Iterable[Task]:
    chain = np.array([[1.0, 0.8, 0.6], [0.8, 1.0, 0.6], [0.6, 0.6, 1.0]])
    for name, cov, dims, what in (
        (
            "cmi-gauss-1x1x1",
            chain,
            (1, 1, 1),
            "(X, Y, Z) normal, Corr(X, Y) = 0.8, Corr(X, Z) = Corr(Y, Z) = 0.6 "
            "(partial correlation 0.6875)",
        ),
        (
            "cmi-gauss-sparse-2x2x2",
            _sparse_cmi_covariance(),
            (2, 2, 2),
            "(X, Y, Z) ∈ ℝ²×ℝ²×ℝ² normal, unit variances, Corr(X_i, Y_i) = 0.8, "
            "Corr(X_i, Z_j) = Corr(Y_i, Z_j) = 0.3, no other correlation",
        ),
    ):
        yield Task(
            name=name,
            quantity="cmi",
            truth=_truths.gaussian_cmi(cov, dims[0], dims[1]),
            sample=_gaussian_sampler(cov, dims),
            dims=dims,
            description=what,
            source="I(X; Y | Z) = ½ log(det Σ_xz det Σ_yz / (det Σ_z det Σ_xyz)) "
            "(chain rule on Gaussian entropies, Cover & Thomas Theorem 8.4.1)",
            params={"cov": cov, "dims": dims},
        )


def _all_tasks() -> dict[str, Task]:
    tasks: dict[str, Task] = {}
    for task in _mi_tasks():
        tasks[task.name] = task
    for task in _transformed_mi_tasks(tasks):
        tasks[task.name] = task
    for group in (_discrete_mi_tasks, _cmi_tasks, _entropy_tasks, _discrete_entropy_tasks):
        for task in group():
            tasks[task.name] = task
    for group in (_kl_tasks,):
        for task in group():
            tasks[task.name] = task
    return tasks


TASKS: Mapping[str, Task] = _all_tasks()
"""Every task by name, in a fixed order (MI, transformed MI, discrete MI, CMI, entropy, KL)."""


def get_task(name: str) -> Task:
    """The task called `name`, or a ValueError listing the names."""
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None


def select_tasks(patterns: Iterable[str] | None = None) -> list[Task]:
    """Tasks whose names match any of the shell-style `patterns` (all tasks if None).

    A pattern may also be a quantity (``"mi"``, ``"entropy"``, ...). The order is that
    of `TASKS`. A pattern that matches nothing raises a ValueError naming it.
    """
    if patterns is None:
        return list(TASKS.values())
    chosen: set[str] = set()
    for pattern in patterns:
        hits = [
            name
            for name, task in TASKS.items()
            if fnmatch.fnmatchcase(name, pattern) or task.quantity == pattern
        ]
        if not hits:
            raise ValueError(f"no task matches {pattern!r}; see `itjax bench --list`")
        chosen.update(hits)
    return [task for name, task in TASKS.items() if name in chosen]
