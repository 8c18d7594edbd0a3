"""Each benchmark task's sampler against its truth, with independent oracles.

Oracles: scipy.stats densities and entropies, scipy.special digamma (exact Wishart
moments), numerical integration, and hand-worked closed forms. Statistical checks
draw many seeds in one vmap and allow 4 standard errors (Bonferroni-corrected where
many cells are checked at once).
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from itjax.benchmarks import tasks as T

TASKS = list(T.TASKS.values())
OUTPUTS = {"mi": 2, "cmi": 3, "entropy": 1, "kl": 2}


def by_kind(predicate):
    return [pytest.param(t, id=t.name) for t in TASKS if predicate(t)]


def draw(task, n, seeds, seed=0):
    """`seeds` independent draws of size n in one vmapped call, as numpy arrays.

    Eager (not jitted): the primitives' compilations are shared across tasks, which keeps
    the suite fast; `test_samplers_run_jitted_in_float32` covers jit.
    """
    keys = jax.random.split(jax.random.key(seed), seeds)
    out = jax.vmap(lambda k: task.sample(k, n))(keys)
    return tuple(np.asarray(a, dtype=np.float64 if not task.discrete else None) for a in out)


def within(values, truth, k=4.0):
    """Mean of `values` is within k standard errors of `truth`; returns (mean, se)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    mean, se = values.mean(), values.std(ddof=1) / math.sqrt(values.size)
    rounding = 1e-12 * max(1.0, abs(truth))  # a constant integrand has se = 0
    assert abs(mean - truth) <= k * se + rounding, f"mean {mean:.6g} vs {truth:.6g} (se {se:.3g})"
    return mean, se


# --------------------------------------------------------------------------- #
# Registry and shapes.
# --------------------------------------------------------------------------- #


def test_registry_is_consistent():
    names = [t.name for t in TASKS]
    assert len(names) == len(set(names))
    for t in TASKS:
        assert t.quantity in T.QUANTITIES
        assert t.name.startswith(f"{t.quantity}-")
        assert t.description and t.source and t.precision
        assert math.isfinite(t.truth) and t.truth > 0
        assert len(t.dims) == OUTPUTS[t.quantity]
        assert bool(t.num_classes) == t.discrete
    for family in ("mi-gauss-dense-", "mi-gauss-sparse-", "mi-student-", "mi-uniform-noise-"):
        assert any(n.startswith(family) for n in names), family
    for d in (2, 3, 5, 25, 50):
        assert f"mi-gauss-dense-{d}x{d}" in names
    for prefix in ("normcdf", "halfcube", "asinh", "spiral"):
        assert any(n.startswith(f"mi-{prefix}-") for n in names), prefix
    for quantity in T.QUANTITIES:
        assert any(t.quantity == quantity for t in TASKS)
    assert any(t.discrete and t.quantity == "mi" for t in TASKS)
    assert any(t.discrete and t.quantity == "entropy" for t in TASKS)


def test_select_and_get():
    assert [t.name for t in T.select_tasks(["mi-gauss-dense-*"])] == [
        f"mi-gauss-dense-{d}x{d}" for d in (2, 3, 5, 25, 50)
    ]
    assert {t.quantity for t in T.select_tasks(["kl"])} == {"kl"}
    both = T.select_tasks(["kl-gauss-1d", "entropy-gauss-1d"])
    assert [t.name for t in both] == ["entropy-gauss-1d", "kl-gauss-1d"]  # registry order
    assert len(T.select_tasks(None)) == len(TASKS)
    assert T.get_task("mi-gauss-1x1").name == "mi-gauss-1x1"
    with pytest.raises(ValueError, match="no task matches 'nope-\\*'"):
        T.select_tasks(["nope-*"])
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        T.get_task("nope")


def _one_per_sampler():
    """One task per sampler implementation (the float64 run need not repeat them all)."""
    seen, chosen = set(), []
    for t in TASKS:
        kind = t.sample.__qualname__
        if kind not in seen:
            seen.add(kind)
            chosen.append(t)
    return chosen


def check_shapes(task, out, dtype):
    assert len(out) == OUTPUTS[task.quantity], task.name
    for i, a in enumerate(out):
        if task.discrete:
            assert a.ndim == 2 and jnp.issubdtype(a.dtype, jnp.integer), task.name
        else:
            assert a.shape[2:] == (task.dims[i],) and a.dtype == dtype, task.name


def test_sampler_shapes_and_dtypes(dtype):
    """Every sampler traces under vmap with the documented shapes and dtypes."""
    n, seeds = 6, 3
    keys = jax.random.split(jax.random.key(0), seeds)
    for t in TASKS:
        out = jax.eval_shape(jax.vmap(lambda k, t=t: t.sample(k, n)), keys)
        check_shapes(t, out, dtype)
        assert all(a.shape[:2] == (seeds, n) for a in out), t.name


def test_samplers_run_jitted_in_float32():
    """One task per sampler implementation runs under jit(vmap) in float32 with finite
    values and labels in range (the statistical tests below run every task eagerly in
    float64)."""
    tasks = _one_per_sampler()
    assert len(tasks) >= 10
    for i, t in enumerate(tasks):
        keys = jax.random.split(jax.random.key(i), 3)
        out = jax.jit(jax.vmap(lambda k, t=t: t.sample(k, 6)))(keys)
        check_shapes(t, out, jnp.float32)
        for j, a in enumerate(out):
            if t.discrete:
                assert int(a.min()) >= 0 and int(a.max()) < t.num_classes[j], t.name
            else:
                assert bool(jnp.all(jnp.isfinite(a))), t.name


def test_sampler_is_deterministic_in_key_and_differs_across_keys():
    t = T.get_task("mi-student-dense-2x2-df5")
    a = t.sample(jax.random.key(3), 5)
    b = t.sample(jax.random.key(3), 5)
    c = t.sample(jax.random.key(4), 5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.allclose(a[0], c[0])


# --------------------------------------------------------------------------- #
# Truths against hand-worked closed forms and scipy.
# --------------------------------------------------------------------------- #


def test_gaussian_truths_by_hand():
    assert T.get_task("mi-gauss-1x1").truth == pytest.approx(-0.5 * math.log(1 - 0.75**2), 1e-14)
    for d in (2, 3, 5, 25, 50):
        # Σ = ½I + ½11ᵀ: det = ½^(D-1) (1 + D)/2 gives I = ½ log((1 + d)² / (1 + 2d)).
        truth = T.get_task(f"mi-gauss-dense-{d}x{d}").truth
        assert truth == pytest.approx(0.5 * math.log((1 + d) ** 2 / (1 + 2 * d)), 1e-12)
    assert T.get_task("entropy-gauss-1d").truth == pytest.approx(1.4189385332046727, 1e-14)
    assert T.get_task("kl-gauss-1d").truth == pytest.approx(math.log(2) + 2 / 8 - 0.5, 1e-14)
    # Partial correlation of X, Y given Z: (0.8 − 0.36) / 0.64.
    r = (0.8 - 0.6 * 0.6) / (1 - 0.6**2)
    assert T.get_task("cmi-gauss-1x1x1").truth == pytest.approx(-0.5 * math.log(1 - r**2), 1e-12)


@pytest.mark.parametrize("task", by_kind(lambda t: t.quantity == "mi" and "student" in t.name))
def test_student_truth_from_scipy_entropies(task):
    if "base" in task.params:
        base = T.get_task(task.params["base"])
        assert task.truth == base.truth
        task = base
    disp, dx, df = task.params["dispersion"], task.params["dim_x"], task.params["df"]

    def h(block):
        return stats.multivariate_t(np.zeros(len(block)), block, df=df).entropy()

    expected = h(disp[:dx, :dx]) + h(disp[dx:, dx:]) - h(disp)
    assert task.truth == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_student_entropy_truth_from_scipy():
    t = T.get_task("entropy-student-2d-df3")
    scipy_h = stats.multivariate_t(np.zeros(2), t.params["dispersion"], df=3).entropy()
    assert t.truth == pytest.approx(scipy_h, 1e-12)


@pytest.mark.parametrize("eps", [0.1, 0.75])
def test_additive_uniform_truth_by_numerical_integration(eps):
    t = T.get_task(f"mi-uniform-noise-eps{eps}")

    def density(y):  # |[0, 1] ∩ [y − ε, y + ε]| / 2ε
        return max(0.0, min(1.0, y + eps) - max(0.0, y - eps)) / (2 * eps)

    def integrand(y):
        f = density(y)
        return -f * math.log(f) if f > 0 else 0.0

    breaks = sorted({-eps, eps, 1 - eps, 1 + eps})
    h_y = sum(
        integrate.quad(integrand, a, b, epsabs=1e-13)[0]
        for a, b in zip(breaks, breaks[1:], strict=False)
    )
    assert t.truth == pytest.approx(h_y - math.log(2 * eps), abs=1e-9)


def test_discrete_truths_from_scipy():
    bsc = T.get_task("mi-discrete-bsc")
    assert bsc.truth == pytest.approx(math.log(2) - stats.entropy([0.1, 0.9]), 1e-13)
    sym = T.get_task("mi-discrete-symmetric-10x10")
    assert sym.truth == pytest.approx(math.log(10) - stats.entropy([0.7] + [0.3 / 9] * 9), 1e-13)
    for t in TASKS:
        if t.discrete and t.quantity == "mi":
            pmf = t.params["pmf"]
            expected = (
                stats.entropy(pmf.sum(1)) + stats.entropy(pmf.sum(0)) - stats.entropy(pmf.ravel())
            )
            assert t.truth == pytest.approx(expected, 1e-12), t.name
        if t.discrete and t.quantity == "entropy":
            assert t.truth == pytest.approx(stats.entropy(t.params["pmf"]), 1e-12), t.name
    assert T.get_task("entropy-discrete-uniform-16").truth == pytest.approx(math.log(16), 1e-14)


# --------------------------------------------------------------------------- #
# Samplers against truths.
# --------------------------------------------------------------------------- #


def _wishart_logdet_bias(p: int, n: int) -> float:
    """E[log det S] − log det Σ for the ML covariance S of n Gaussian draws in ℝ^p.

    nS ~ Wishart_p(n − 1, Σ) and E[log det W_p(m, Σ)] = log det Σ + p log 2
    + Σ_{i=1}^p ψ((m − i + 1)/2) (Anderson, *Multivariate Statistical Analysis*, §7.5).
    """
    return p * math.log(2 / n) + sum(special.digamma((n - i) / 2) for i in range(1, p + 1))


def _logdet_blocks(samples, blocks):
    """log det of the ML covariance of the given coordinate blocks, per seed."""
    zc = samples - samples.mean(axis=1, keepdims=True)
    cov = np.einsum("sni,snj->sij", zc, zc) / samples.shape[1]
    return np.stack([np.linalg.slogdet(cov[:, b[:, None], b[None, :]])[1] for b in blocks], -1)


@pytest.mark.parametrize(
    "task", by_kind(lambda t: t.name.startswith(("mi-gauss-", "cmi-gauss-", "entropy-gauss-")))
)
def test_gaussian_tasks_closed_form_on_sample_covariance(task, x64):
    """The sample covariance matches Σ, and the Gaussian closed form on the sample
    covariance, averaged over seeds, equals the truth plus its exact finite-n bias
    (Wishart log-det moments) within 4 standard errors."""
    d_total = sum(task.dims)
    n = 400 if d_total <= 10 else 1000
    z = np.concatenate(draw(task, n, seeds=64), axis=-1)
    # Every entry of the sample covariance (known mean 0) is within its standard error
    # bound of Σ, Bonferroni-corrected over the entries.
    cov, pooled = task.params["cov"], z.reshape(-1, d_total)
    sample_cov = pooled.T @ pooled / pooled.shape[0]
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / pooled.shape[0])
    assert np.all(np.abs(sample_cov - cov) <= stats.norm.isf(1e-4 / (2 * cov.size)) * se)
    # The closed form on each seed's covariance.
    cuts = np.cumsum((0,) + task.dims)
    block = [np.arange(cuts[i], cuts[i + 1]) for i in range(len(task.dims))]
    everything = np.arange(d_total)
    if task.quantity == "mi":
        blocks, signs = [block[0], block[1], everything], [0.5, 0.5, -0.5]
    elif task.quantity == "cmi":
        xz, yz = np.concatenate([block[0], block[2]]), np.concatenate([block[1], block[2]])
        blocks, signs = [xz, yz, block[2], everything], [0.5, 0.5, -0.5, -0.5]
    else:
        blocks, signs = [everything], [0.5]
    logdets = _logdet_blocks(z.reshape(64, n, d_total), blocks)
    estimates = logdets @ np.asarray(signs)
    bias = sum(s * _wishart_logdet_bias(len(b), n) for s, b in zip(signs, blocks, strict=True))
    if task.quantity == "entropy":
        estimates = estimates + 0.5 * d_total * math.log(2 * math.pi * math.e)
    within(estimates, task.truth + bias)


def _student_logpdf(z, dispersion, df):
    return stats.multivariate_t(np.zeros(len(dispersion)), dispersion, df=df).logpdf(z)


@pytest.mark.parametrize(
    "task", by_kind(lambda t: t.quantity == "mi" and t.name.startswith("mi-student-"))
)
def test_student_tasks_monte_carlo_mi(task, x64):
    """E[log p(x, y) − log p(x) − log p(y)] over the task's samples, with scipy's
    multivariate-t densities, is within 4 standard errors of the truth; each coordinate
    is t_ν-distributed (Kolmogorov–Smirnov)."""
    disp, dx, df = task.params["dispersion"], task.params["dim_x"], task.params["df"]
    x, y = draw(task, 1000, seeds=8)
    x, y = x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])
    xy = np.concatenate([x, y], axis=1)
    log_ratio = (
        _student_logpdf(xy, disp, df)
        - _student_logpdf(x, disp[:dx, :dx], df)
        - _student_logpdf(y, disp[dx:, dx:], df)
    )
    within(log_ratio, task.truth)
    for j in range(xy.shape[1]):
        assert stats.kstest(xy[:, j], stats.t(df).cdf).pvalue > 1e-4


@pytest.mark.parametrize("eps", [0.1, 0.75])
def test_additive_uniform_sampler(eps):
    t = T.get_task(f"mi-uniform-noise-eps{eps}")
    x, y = draw(t, 2000, seeds=4)
    x, noise = x.ravel(), (y - x).ravel()
    assert x.min() >= 0 and x.max() <= 1
    assert np.abs(noise).max() <= eps * (1 + 1e-6)
    assert stats.kstest(x, stats.uniform(0, 1).cdf).pvalue > 1e-4
    assert stats.kstest(noise, stats.uniform(-eps, 2 * eps).cdf).pvalue > 1e-4
    # Independence of X and N: their correlation has standard error 1/√n.
    assert abs(np.corrcoef(x, noise)[0, 1]) <= 4 / math.sqrt(x.size)


def _numpy_inverse(kind, z, params):
    if kind == "normcdf":
        return special.ndtri(z)
    if kind == "halfcube":
        return np.sign(z) * np.abs(z) ** (2 / 3)
    if kind == "asinh":
        return np.sinh(z)
    raise AssertionError(kind)


def _numpy_unspiral(x, speed):
    theta = -speed * np.sum(x**2, axis=-1)
    out = x.copy()
    out[:, 0] = np.cos(theta) * x[:, 0] - np.sin(theta) * x[:, 1]
    out[:, 1] = np.sin(theta) * x[:, 0] + np.cos(theta) * x[:, 1]
    return out


@pytest.mark.parametrize("task", by_kind(lambda t: "base" in t.params))
def test_transformed_tasks_invert_to_their_base(task, x64):
    """Same key: the transformed samples are an invertible image of the base samples (an
    independent numpy inverse recovers them), so MI, and the truth, are the base's."""
    base = T.get_task(task.params["base"])
    assert task.truth == base.truth and task.dims == base.dims
    n = 500
    bx, by = (np.asarray(a) for a in base.sample(jax.random.key(7), n))
    tx, ty = (np.asarray(a) for a in task.sample(jax.random.key(7), n))
    kind = task.params["transform"]
    if kind == "spiral":
        np.testing.assert_allclose(_numpy_unspiral(tx, task.params["speed"]), bx, atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(tx, axis=1), np.linalg.norm(bx, axis=1))
        np.testing.assert_array_equal(ty, by)
        assert not np.allclose(tx, bx, atol=0.1)
        return
    for base_z, z in ((bx, tx), (by, ty)):
        mask = np.abs(base_z) < 7  # Φ is exactly 1 beyond that in float64
        np.testing.assert_allclose(
            _numpy_inverse(kind, z, task.params)[mask], base_z[mask], rtol=1e-7, atol=1e-9
        )
        order = np.argsort(base_z, axis=0)  # per-coordinate maps are increasing
        assert np.all(np.diff(np.take_along_axis(z, order, axis=0), axis=0) >= 0)


@pytest.mark.parametrize("task", by_kind(lambda t: t.discrete))
def test_discrete_frequencies_match_the_pmf(task):
    """Every cell's frequency is within z standard errors of its probability, z the
    Bonferroni bound for a family-wise false alarm of 1e-4 over all cells."""
    pmf = task.params["pmf"]
    n, seeds = 5000, 8
    out = draw(task, n, seeds=seeds)
    flat = out[0].ravel() if pmf.ndim == 1 else (out[0] * pmf.shape[1] + out[1]).ravel()
    freq = np.bincount(flat, minlength=pmf.size) / flat.size
    p = pmf.ravel()
    se = np.sqrt(p * (1 - p) / flat.size)
    z = stats.norm.isf(1e-4 / (2 * p.size))
    assert np.all(np.abs(freq - p) <= z * se + 1e-12)


def _logpdf_entropy_task(task, z):
    p = task.params
    name = task.name
    if name.startswith("entropy-uniform"):
        return stats.uniform(0, p["width"]).logpdf(z).sum(axis=1), task.dims[0] * math.log(
            p["width"]
        )
    dist = {
        "entropy-exponential-1d": stats.expon(scale=1 / p.get("rate", 1.0)),
        "entropy-laplace-1d": stats.laplace(scale=p.get("scale", 1.0)),
    }.get(name)
    if dist is not None:
        return dist.logpdf(z[:, 0]), dist.entropy()
    if name.startswith("entropy-student"):
        mvt = stats.multivariate_t(np.zeros(task.dims[0]), p["dispersion"], df=p["df"])
        return mvt.logpdf(z), mvt.entropy()
    mvn = stats.multivariate_normal(np.zeros(task.dims[0]), p["cov"])
    return mvn.logpdf(z), mvn.entropy()


@pytest.mark.parametrize("task", by_kind(lambda t: t.quantity == "entropy" and not t.discrete))
def test_continuous_entropy_tasks_monte_carlo(task, x64):
    """−E[log p(X)] with scipy's density over the task's samples is within 4 standard
    errors of the truth, which equals scipy's closed-form entropy."""
    (z,) = draw(task, 2000, seeds=8)
    logp, scipy_entropy = _logpdf_entropy_task(task, z.reshape(-1, task.dims[0]))
    assert np.all(np.isfinite(logp))  # every sample lies in the support
    assert task.truth == pytest.approx(float(scipy_entropy), 1e-12)
    within(-logp, task.truth)
    if task.name.startswith("entropy-uniform"):  # log p is constant: check uniformity
        for j in range(task.dims[0]):
            cdf = stats.uniform(0, task.params["width"]).cdf
            assert stats.kstest(z.reshape(-1, task.dims[0])[:, j], cdf).pvalue > 1e-4


def _kl_pair(task):
    p = task.params
    if task.name.startswith("kl-gauss"):
        return (
            stats.multivariate_normal(p["mean_p"], p["cov_p"]),
            stats.multivariate_normal(p["mean_q"], p["cov_q"]),
        )
    if task.name == "kl-exponential-1d":
        return stats.expon(scale=1 / p["rate_p"]), stats.expon(scale=1 / p["rate_q"])
    return stats.uniform(0, 1), stats.norm(0, 1)


@pytest.mark.parametrize("task", by_kind(lambda t: t.quantity == "kl"))
def test_kl_tasks_monte_carlo(task, x64):
    """E_P[log p − log q] over the x samples is within 4 standard errors of the truth,
    and the y samples have Q's mean log-density (−h(Q)) within 4 standard errors."""
    dist_p, dist_q = _kl_pair(task)
    x, y = draw(task, 2000, seeds=8)
    x, y = x.reshape(-1, task.dims[0]), y.reshape(-1, task.dims[1])
    squeeze = (lambda a: a[:, 0]) if task.dims[0] == 1 else (lambda a: a)
    within(dist_p.logpdf(squeeze(x)) - dist_q.logpdf(squeeze(x)), task.truth)
    within(-dist_q.logpdf(squeeze(y)), float(dist_q.entropy()))
    if task.dims[0] == 1:
        assert stats.kstest(x[:, 0], dist_p.cdf).pvalue > 1e-4
        assert stats.kstest(y[:, 0], dist_q.cdf).pvalue > 1e-4
