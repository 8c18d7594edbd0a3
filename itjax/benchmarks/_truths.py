"""Closed forms of the benchmark truths, in float64 numpy.

Each function is the formula of its docstring, with its source; `tasks.py` builds the
tasks on them. Nothing here is traced: truths are Python floats.
"""

from __future__ import annotations

import math

import numpy as np

EULER_GAMMA = 0.57721566490153286061


def digamma_half_integer(two_x: int) -> float:
    """ψ(x) for x = two_x / 2 a positive integer or half-integer, as an exact sum.

    ψ(m) = -γ + Σ_{k=1}^{m-1} 1/k and ψ(m + ½) = -γ - 2 log 2 + Σ_{k=1}^{m} 2/(2k - 1)
    (Abramowitz & Stegun 6.3.2 and 6.3.4).
    """
    if two_x % 2 == 0:
        m = two_x // 2
        return -EULER_GAMMA + math.fsum(1.0 / k for k in range(1, m))
    m = (two_x - 1) // 2
    return (
        -EULER_GAMMA - 2.0 * math.log(2.0) + math.fsum(2.0 / (2 * k - 1) for k in range(1, m + 1))
    )


def logdet(cov: np.ndarray) -> float:
    sign, value = np.linalg.slogdet(np.asarray(cov, dtype=np.float64))
    if sign <= 0:
        raise ValueError("the covariance matrix must be positive definite")
    return float(value)


def gaussian_entropy(cov: np.ndarray) -> float:
    """h(N(μ, Σ)) = ½ log det(2πeΣ)."""
    d = cov.shape[0]
    return 0.5 * (d * math.log(2.0 * math.pi * math.e) + logdet(cov))


def gaussian_mi(cov: np.ndarray, dim_x: int) -> float:
    """I(X; Y) = ½ log(det Σ_xx det Σ_yy / det Σ) for jointly Gaussian (X, Y)."""
    return 0.5 * (logdet(cov[:dim_x, :dim_x]) + logdet(cov[dim_x:, dim_x:]) - logdet(cov))


def gaussian_cmi(cov: np.ndarray, dim_x: int, dim_y: int) -> float:
    """I(X; Y | Z) = ½ log(det Σ_xz det Σ_yz / (det Σ_z det Σ_xyz)) for jointly Gaussian."""
    ix = np.arange(dim_x)
    iy = np.arange(dim_x, dim_x + dim_y)
    iz = np.arange(dim_x + dim_y, cov.shape[0])
    xz = np.concatenate([ix, iz])
    yz = np.concatenate([iy, iz])
    sub = lambda idx: cov[np.ix_(idx, idx)]
    return 0.5 * (logdet(sub(xz)) + logdet(sub(yz)) - logdet(sub(iz)) - logdet(cov))


def gaussian_kl(mean_p, cov_p, mean_q, cov_q) -> float:
    """KL(N_p ‖ N_q) = ½[tr(Σq⁻¹Σp) + (μq−μp)ᵀΣq⁻¹(μq−μp) − d + log(det Σq / det Σp)]."""
    cov_p, cov_q = np.asarray(cov_p, float), np.asarray(cov_q, float)
    diff = np.asarray(mean_q, float) - np.asarray(mean_p, float)
    d = cov_p.shape[0]
    trace = float(np.trace(np.linalg.solve(cov_q, cov_p)))
    mahalanobis = float(diff @ np.linalg.solve(cov_q, diff))
    return 0.5 * (trace + mahalanobis - d + logdet(cov_q) - logdet(cov_p))


def student_t_entropy(dispersion: np.ndarray, df: int) -> float:
    """Differential entropy of the k-variate Student-t t_ν(μ, Σ).

    h = ½ log det Σ + log Γ(ν/2) − log Γ((ν+k)/2) + (k/2) log(νπ)
        + ((ν+k)/2) [ψ((ν+k)/2) − ψ(ν/2)]

    (Arellano-Valle, Contreras-Reyes & Genton 2013, Scand. J. Statist. 40:42–62, eq. 7;
    also Kotz & Nadarajah, *Multivariate t Distributions*, 2004).
    """
    k = dispersion.shape[0]
    return (
        0.5 * logdet(dispersion)
        + math.lgamma(df / 2)
        - math.lgamma((df + k) / 2)
        + 0.5 * k * math.log(df * math.pi)
        + 0.5 * (df + k) * (digamma_half_integer(df + k) - digamma_half_integer(df))
    )


def student_t_mi(dispersion: np.ndarray, dim_x: int, df: int) -> float:
    """I(X; Y) = h(X) + h(Y) − h(X, Y) for (X, Y) ~ t_ν(0, Σ).

    The marginals of a multivariate t are t with the same ν and the diagonal blocks
    of Σ (Kotz & Nadarajah, *Multivariate t Distributions*, 2004, ch. 1), so the three
    entropies are closed forms. The (k/2) log(νπ) terms cancel and the log-det terms
    give the Gaussian MI of Σ:
    I = ½ log(det Σ_xx det Σ_yy / det Σ) + c(ν, dx, dy) with
    c = log Γ(ν/2) + log Γ((ν+dx+dy)/2) − log Γ((ν+dx)/2) − log Γ((ν+dy)/2)
        + Σ_{k ∈ {dx, dy}} ((ν+k)/2)[ψ((ν+k)/2) − ψ(ν/2)]
        − ((ν+dx+dy)/2)[ψ((ν+dx+dy)/2) − ψ(ν/2)].
    The entropies follow Arellano-Valle et al. (2013), eq. 7; we combine them directly
    (as Czyż et al. 2023 do) rather than use that paper's final MI expression.
    """
    return (
        student_t_entropy(dispersion[:dim_x, :dim_x], df)
        + student_t_entropy(dispersion[dim_x:, dim_x:], df)
        - student_t_entropy(dispersion, df)
    )


def additive_uniform_mi(epsilon: float) -> float:
    """I(X; X + N) for X ~ U(0, 1), N ~ U(−ε, ε): ε − log 2ε if ε ≤ ½, else 1/(4ε).

    Derivation: I = h(Y) − h(N) with h(N) = log 2ε. The density of Y is the trapezoid
    f(y) = |[0, 1] ∩ [y − ε, y + ε]| / 2ε. For ε ≤ ½ it has two linear ramps of width
    2ε from 0 to 1 and a plateau at 1 (no entropy); each ramp gives
    −∫₀^{2ε} (t/2ε) log(t/2ε) dt = ε/2, so h(Y) = ε. For ε > ½ the ramps have width 1
    and height 1/2ε and the plateau has width 2ε − 1, which gives h(Y) = 1/(4ε) + log 2ε.
    (Czyż et al. 2023, Appendix.)
    """
    if epsilon <= 0.5:
        return epsilon - math.log(2.0 * epsilon)
    return 0.25 / epsilon


def shannon_entropy(pmf: np.ndarray) -> float:
    """H(p) = −Σ p log p (0 log 0 = 0)."""
    p = np.asarray(pmf, dtype=np.float64).ravel()
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def discrete_mi(table: np.ndarray) -> float:
    """I(X; Y) = Σ p(x, y) log(p(x, y) / (p(x) p(y))) of a joint pmf table."""
    table = np.asarray(table, dtype=np.float64)
    px = table.sum(axis=1, keepdims=True)
    py = table.sum(axis=0, keepdims=True)
    mask = table > 0
    ratio = np.where(mask, table, 1.0) / (px * py)
    return float(np.sum(np.where(mask, table * np.log(ratio), 0.0)))
