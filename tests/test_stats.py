"""Tests of the batched statistics: pairwise MI, permutation tests, bootstrap intervals."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from conftest import tolerance

import itjax
from itjax import Estimate
from itjax._src.stats import _random_permutation

gcmi = itjax.gaussian_copula_mutual_information


def _correlated(n: int, d: int, seed: int = 0) -> np.ndarray:
    """Samples whose columns 0-1 and 2-3 are correlated, the others independent."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    x[:, 1] += x[:, 0]
    x[:, 3] -= 0.5 * x[:, 2]
    return x


def _gaussian_mi_of_correlation(a, b):
    """-1/2 log(1 - r^2) of two (n, 1) columns, r the Pearson correlation."""
    a = a[:, 0] - jnp.mean(a)
    b = b[:, 0] - jnp.mean(b)
    r = jnp.sum(a * b) / jnp.sqrt(jnp.sum(a * a) * jnp.sum(b * b))
    return -0.5 * jnp.log1p(-r * r)


# One compiled direct KSG call for every (300,) column pair below.
_ksg = jax.jit(functools.partial(itjax.ksg_mutual_information, k=3))
# Tolerance between a direct and a batched KSG call: the neighbour counts are exact
# integer comparisons in both, so only the float32 summation order of the mean of
# n digamma terms of size about log n differs.
_KSG_ATOL = 300 * np.log(300) * np.finfo(np.float32).eps


def _abs_correlation(x, y):
    x = jnp.ravel(x) - jnp.mean(x)
    y = jnp.ravel(y) - jnp.mean(y)
    return jnp.abs(jnp.sum(x * y)) / jnp.sqrt(jnp.sum(x * x) * jnp.sum(y * y))


# --------------------------------------------------------------------------- #
# pairwise_mutual_information
# --------------------------------------------------------------------------- #


def test_pairwise_matches_numpy_oracle(dtype):
    x = _correlated(200, 6).astype(dtype)
    matrix = itjax.pairwise_mutual_information(x, method=_gaussian_mi_of_correlation, batch_size=4)
    r = np.corrcoef(np.asarray(x, np.float64), rowvar=False)
    np.fill_diagonal(r, np.nan)
    expected = -0.5 * np.log1p(-(r**2))
    assert matrix.shape == (6, 6) and matrix.dtype == dtype
    np.testing.assert_allclose(matrix, expected, rtol=tolerance(dtype, f32=1e-4, f64=1e-10))
    assert np.isnan(np.diagonal(matrix)).all()


def test_pairwise_equals_one_call_per_pair_with_config():
    x = jnp.asarray(_correlated(150, 5), jnp.float32)
    matrix = itjax.pairwise_mutual_information(x, method="gaussian_copula", base=2)
    one = jax.jit(functools.partial(gcmi, base=2))
    for a in range(5):
        for b in range(a + 1, 5):
            direct = one(x[:, a], x[:, b])
            np.testing.assert_allclose(matrix[a, b], direct, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(matrix, matrix.T)


def test_pairwise_groups_and_kde_method():
    x = jnp.asarray(_correlated(120, 6, seed=1), jnp.float32)
    groups = ((0, 2), (1, 3), (4, 5))
    matrix = itjax.pairwise_mutual_information(x, method="kde", groups=groups, bandwidth=0.6)
    one = jax.jit(functools.partial(itjax.kde_mutual_information, bandwidth=0.6))
    for a, b in ((0, 1), (0, 2), (1, 2)):
        direct = one(x[:, list(groups[a])], x[:, list(groups[b])])
        np.testing.assert_allclose(matrix[a, b], direct, rtol=1e-5, atol=1e-6)
        assert matrix[b, a] == matrix[a, b]
    # Groups (0, 2) and (1, 3) share the dependent pairs 0-1 and 2-3.
    assert matrix[0, 1] > 0.3 and abs(matrix[0, 2]) < 0.15


def test_pairwise_ksg_equals_direct_calls_elementwise():
    # KSG is the default method; every entry equals a direct call on that column pair.
    x = jnp.asarray(_correlated(300, 4, seed=2), jnp.float32)
    matrix = itjax.pairwise_mutual_information(x, k=3, batch_size=4)
    for a in range(4):
        for b in range(a + 1, 4):
            direct = _ksg(x[:, a], x[:, b])
            np.testing.assert_allclose(matrix[a, b], direct, rtol=0, atol=_KSG_ATOL)
            assert matrix[b, a] == matrix[a, b]
    assert np.isnan(np.diagonal(matrix)).all()
    # Columns 0-1 are dependent (I = log(2) / 2), columns 0 and 2 independent.
    assert matrix[0, 1] > 0.2 and abs(matrix[0, 2]) < 0.1


def test_pairwise_jit_equals_eager_and_estimate_results():
    x = jnp.asarray(_correlated(100, 4), jnp.float32)

    def with_stderr(a, b):
        return Estimate(_gaussian_mi_of_correlation(a, b), jnp.nan)

    eager = itjax.pairwise_mutual_information(x, method=with_stderr)
    jitted = jax.jit(lambda x: itjax.pairwise_mutual_information(x, method=with_stderr))(x)
    np.testing.assert_allclose(eager, jitted, rtol=1e-6)
    plain = itjax.pairwise_mutual_information(x, method=_gaussian_mi_of_correlation)
    np.testing.assert_allclose(eager, plain, rtol=1e-6)


# --------------------------------------------------------------------------- #
# permutation_test
# --------------------------------------------------------------------------- #


def test_permutation_p_value_formula_and_floor():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(80,)).astype(np.float32)
    y = rng.normal(size=(80,)).astype(np.float32)
    test = jax.jit(
        lambda key, x, y: itjax.permutation_test(key, _abs_correlation, x, y, num_permutations=49)
    )
    result = test(jax.random.key(0), x, 2 * x + 0.1)
    assert result.null.shape == (49,)
    np.testing.assert_allclose(result.statistic, 1.0, rtol=1e-5)
    # No permutation reaches a perfect correlation: the smallest p-value, never 0.
    assert float(result.p_value) == pytest.approx(1 / 50)
    result = test(jax.random.key(1), x, y)
    exceed = np.sum(np.asarray(result.null) >= np.asarray(result.statistic))
    assert float(result.p_value) == pytest.approx((1 + exceed) / 50)
    single = itjax.permutation_test(jax.random.key(2), _abs_correlation, x, y, num_permutations=1)
    assert float(single.p_value) in (0.5, 1.0)


def test_permutation_test_of_ksg_matches_direct_calls():
    x = _correlated(300, 4, seed=17).astype(np.float32)
    estimator = functools.partial(itjax.ksg_mutual_information, k=3)
    num = 39
    result = jax.jit(
        lambda key, x, y: itjax.permutation_test(key, estimator, x, y, num_permutations=num)
    )(jax.random.key(18), x[:, 0], x[:, 1])
    assert result.null.shape == (num,)
    direct = _ksg(x[:, 0], x[:, 1])
    np.testing.assert_allclose(result.statistic, direct, rtol=0, atol=_KSG_ATOL)
    # The null sample j is the estimate on y permuted by the j-th of num split keys.
    data = jax.random.key_data(jax.random.split(jax.random.key(18), num))
    for j in (0, num // 2, num - 1):
        perm = _random_permutation(jax.random.wrap_key_data(data[j]), 300)
        direct = _ksg(x[:, 0], x[perm, 1])
        np.testing.assert_allclose(result.null[j], direct, rtol=0, atol=_KSG_ATOL)
    # The p-value is exactly (1 + #{null >= statistic}) / (1 + B) of its own samples.
    exceed = int(np.sum(np.asarray(result.null) >= np.asarray(result.statistic)))
    assert float(result.p_value) == np.float32((1 + exceed) / (1 + num))
    # Dependent columns: no permutation reaches the observed estimate.
    assert exceed == 0


def _uniformity_p_value(perms: np.ndarray) -> float:
    """Chi-square p-value of the counts of the 24 orders of 4 elements against uniform."""
    codes = perms @ np.array([64, 16, 4, 1])
    _, counts = np.unique(codes, return_counts=True)
    counts = np.pad(counts, (0, 24 - counts.size))  # an order never drawn counts 0
    return float(scipy.stats.chisquare(counts).pvalue)


def test_random_permutation_is_exactly_uniform_even_when_draws_tie():
    # 4 elements with 2 random bits each: all 4 draws differ with probability
    # 4! / 4^4 = 0.09, so nearly every permutation goes through redraws.
    num = 24_000
    keys = jax.random.split(jax.random.key(11), num)
    perms = jax.jit(jax.vmap(lambda k: _random_permutation(k, 4, random_bits=2)))(keys)
    perms = np.asarray(perms)
    assert (np.sort(perms, axis=1) == np.arange(4)).all()
    # A uniform sampler fails this at the 1e-4 level once in 10,000 seeds.
    assert _uniformity_p_value(perms) > 1e-4
    # The check has power: the same kind of draws with ties broken by index
    # (no redraw) favour the identity and fail it by far.
    draws = np.random.default_rng(12).integers(0, 4, size=(num, 4))
    assert _uniformity_p_value(np.argsort(draws, axis=1, kind="stable")) < 1e-12


@pytest.mark.parametrize("n", [1, 2, 1000, 3000])
def test_random_permutation_is_a_permutation_under_vmap(n):
    # n = 3000 exceeds the packed sort's range and uses jax.random.permutation.
    keys = jax.random.split(jax.random.key(n), 8)
    perms = np.asarray(jax.jit(jax.vmap(lambda k: _random_permutation(k, n)))(keys))
    assert (np.sort(perms, axis=1) == np.arange(n)).all()
    if n >= 1000:
        assert len({p.tobytes() for p in perms}) == 8


def test_permutation_null_has_the_exact_permutation_moments(x64):
    # For T = sum_i x_i y_pi(i) over uniform permutations pi:
    # E T = n mean(x) mean(y), Var T = Sxx Syy / (n - 1).
    rng = np.random.default_rng(4)
    n, num = 30, 4000
    x = rng.normal(size=n) + 1.0
    y = rng.exponential(size=n)
    result = itjax.permutation_test(
        jax.random.key(5), lambda a, b: jnp.sum(a * b), x, y, num_permutations=num
    )
    mean = n * x.mean() * y.mean()
    var = np.sum((x - x.mean()) ** 2) * np.sum((y - y.mean()) ** 2) / (n - 1)
    null = np.asarray(result.null)
    assert abs(null.mean() - mean) < 4 * np.sqrt(var / num)
    # Sample variance: relative standard error about sqrt(2 / num) (near-normal null).
    assert abs(null.var(ddof=1) / var - 1) < 4 * np.sqrt(2 / num) + 0.02


@pytest.mark.slow
def test_permutation_p_values_are_valid_under_independence():
    num_seeds, n, num = 400, 40, 99

    def one(key):
        kx, ky, kp = jax.random.split(key, 3)
        x = jax.random.normal(kx, (n,))
        y = jax.random.normal(ky, (n,))
        return itjax.permutation_test(kp, _abs_correlation, x, y, num_permutations=num).p_value

    p = np.asarray(jax.jit(jax.vmap(one))(jax.random.split(jax.random.key(6), num_seeds)))
    # Under the null the p-value is uniform on {1, ..., 100} / 100 (no ties): P(p <= 0.05) = 0.05.
    rate = np.mean(p <= 0.05)
    assert abs(rate - 0.05) < 4 * np.sqrt(0.05 * 0.95 / num_seeds)
    assert abs(p.mean() - 0.505) < 4 * np.sqrt((100**2 - 1) / 12 / 100**2 / num_seeds)
    assert p.min() >= 1 / (1 + num)


@pytest.mark.slow
def test_permutation_test_with_copula_mi_detects_dependence():
    x = _correlated(200, 4, seed=7).astype(np.float32)
    estimator = functools.partial(gcmi, bias_correction=False)
    dependent = itjax.permutation_test(
        jax.random.key(8), estimator, x[:, 0], x[:, 1], num_permutations=199
    )
    assert float(dependent.p_value) == pytest.approx(1 / 200)
    np.testing.assert_allclose(dependent.statistic, estimator(x[:, 0], x[:, 1]), rtol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 7, 16, 50])
def test_batch_size_changes_chunks_not_results(batch_size):
    # 50 permutations in ceil(50 / batch_size) equal chunks (the last index repeated
    # to fill them): the estimator is traced once for the statistic and once for the
    # batch, never for a remainder chunk, and the null does not depend on the chunks.
    traces = []

    def counting(x, y):
        traces.append(1)
        return jnp.sum(x * y)

    x, y = np.random.default_rng(20).integers(-8, 8, size=(2, 30)).astype(np.float32)
    result = itjax.permutation_test(
        jax.random.key(21), counting, x, y, num_permutations=50, batch_size=batch_size
    )
    assert len(traces) == 2
    reference = itjax.permutation_test(
        jax.random.key(21), lambda a, b: jnp.sum(a * b), x, y, num_permutations=50, batch_size=50
    )
    # Sums of small integers: exact in float32 whatever the vector width.
    np.testing.assert_array_equal(result.null, reference.null)


def test_no_retrace_on_new_data():
    traces = []

    def counting(x, y):
        traces.append(1)
        return _abs_correlation(x, y)

    test = jax.jit(
        lambda key, x, y: itjax.permutation_test(key, counting, x, y, num_permutations=20)
    )
    pairwise = jax.jit(lambda x: itjax.pairwise_mutual_information(x, method=counting))
    boot = jax.jit(lambda key, x, y: itjax.bootstrap(key, counting, x, y, num_resamples=20))
    rng = np.random.default_rng(9)
    for fn in (test, boot):
        first = fn(jax.random.key(0), *rng.normal(size=(2, 50)).astype(np.float32))
        count = len(traces)
        second = fn(jax.random.key(1), *rng.normal(size=(2, 50)).astype(np.float32))
        assert len(traces) == count and fn._cache_size() == 1
        assert not np.array_equal(first.statistic, second.statistic)
    pairwise(rng.normal(size=(50, 4)).astype(np.float32))
    count = len(traces)
    pairwise(rng.normal(size=(50, 4)).astype(np.float32))
    assert len(traces) == count and pairwise._cache_size() == 1


# --------------------------------------------------------------------------- #
# bootstrap
# --------------------------------------------------------------------------- #


def test_bootstrap_interval_is_the_percentile_of_the_samples(dtype):
    x = np.random.default_rng(10).normal(size=60).astype(dtype)
    result = itjax.bootstrap(jax.random.key(11), jnp.mean, x, num_resamples=200, confidence=0.9)
    samples = np.asarray(result.samples, np.float64)
    rtol = tolerance(dtype, f32=1e-5, f64=1e-12)
    np.testing.assert_allclose(result.low, np.quantile(samples, 0.05), rtol=rtol)
    np.testing.assert_allclose(result.high, np.quantile(samples, 0.95), rtol=rtol)
    np.testing.assert_allclose(result.stderr, samples.std(ddof=1), rtol=rtol)
    np.testing.assert_allclose(result.statistic, x.mean(), rtol=rtol)
    assert result.samples.dtype == dtype


def test_bootstrap_stderr_of_the_mean(x64):
    # The bootstrap distribution of the mean has sd s_n / sqrt(n), s_n with ddof = 0;
    # B resamples estimate it with relative standard error about 1 / sqrt(2 B).
    n, num = 100, 2000
    x = np.random.default_rng(12).exponential(size=n)
    result = itjax.bootstrap(jax.random.key(13), jnp.mean, x, num_resamples=num)
    exact = x.std(ddof=0) / np.sqrt(n)
    assert abs(float(result.stderr) / exact - 1) < 4 / np.sqrt(2 * num) + 0.02
    assert result.low < x.mean() < result.high


def test_bootstrap_resamples_rows_together():
    x = np.random.default_rng(14).normal(size=(50, 1)).astype(np.float32)
    result = itjax.bootstrap(jax.random.key(15), _abs_correlation, x, 3 * x, num_resamples=30)
    np.testing.assert_allclose(result.samples, 1.0, rtol=1e-5)


@pytest.mark.slow
def test_bootstrap_interval_coverage():
    num_seeds, n = 300, 60

    def covers(key):
        kx, kb = jax.random.split(key)
        x = jax.random.normal(kx, (n,))
        result = itjax.bootstrap(kb, jnp.mean, x, num_resamples=400, batch_size=400)
        return (result.low <= 0.0) & (0.0 <= result.high)

    hits = jax.jit(jax.vmap(covers))(jax.random.split(jax.random.key(16), num_seeds))
    # Percentile intervals of the mean under-cover by about (1 - 1/n) at this n (< 1 %).
    coverage = float(np.mean(hits))
    assert abs(coverage - 0.95) < 4 * np.sqrt(0.05 * 0.95 / num_seeds) + 0.01


# --------------------------------------------------------------------------- #
# Bad input
# --------------------------------------------------------------------------- #


def test_bad_input_is_refused_before_tracing():
    key = jax.random.key(0)
    x = np.zeros((20, 2), np.float32)
    with pytest.raises(TypeError, match="estimator must be a callable"):
        itjax.permutation_test(key, "ksg", x, x)
    with pytest.raises(TypeError, match="static configuration.*bandwidth"):
        itjax.bootstrap(
            key, functools.partial(itjax.kde_mutual_information, bandwidth=jnp.ones(())), x, x
        )
    with pytest.raises(TypeError, match="static.*hashable"):
        itjax.permutation_test(key, functools.partial(gcmi, base=[2]), x, x)
    with pytest.raises(ValueError, match="num_permutations must be >= 1, got 0"):
        itjax.permutation_test(key, gcmi, x, x, num_permutations=0)
    with pytest.raises(ValueError, match="same number of samples, got 20 and 19"):
        itjax.permutation_test(key, gcmi, x, x[:19])
    with pytest.raises(ValueError, match="method must be one of .* got 'kgs'"):
        itjax.pairwise_mutual_information(x, method="kgs")
    with pytest.raises(ValueError, match="same number of columns"):
        itjax.pairwise_mutual_information(
            np.zeros((20, 3), np.float32), method="gaussian_copula", groups=((0,), (1, 2))
        )
    with pytest.raises(ValueError, match="groups holds column 5"):
        itjax.pairwise_mutual_information(x, method="gaussian_copula", groups=((0,), (5,)))
    with pytest.raises(TypeError, match="mesh must be a jax.sharding.Mesh"):
        itjax.permutation_test(key, gcmi, x, x, mesh="cpu")
    with pytest.raises(ValueError, match="confidence must be in"):
        itjax.bootstrap(key, jnp.mean, x, confidence=1.0)
    with pytest.raises(ValueError, match="leading \\(sample\\) dimension"):
        itjax.bootstrap(key, gcmi, x, x[:10])
    with pytest.raises(TypeError, match="key must be a PRNG key"):
        itjax.bootstrap(3, jnp.mean, x)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        itjax.pairwise_mutual_information(x, method="gaussian_copula", batch_size=0)
    with pytest.raises(TypeError, match="x must have a floating dtype"):
        itjax.pairwise_mutual_information(np.zeros((20, 2), np.int32), method="gaussian_copula")
