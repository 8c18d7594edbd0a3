"""The estimators the benchmark knows, as adapters from a task's samples to a number.

Each `Estimator` names the itjax functions it needs and, for every kind of task it
applies to (quantity, discrete or continuous), an adapter
`estimate(key, *samples) -> scalar` built for that task. Functions are looked up on
`itjax` when the adapter is built, so the benchmark runs with whichever estimators
the installed itjax provides and reports the others as unavailable.

Static settings follow each method's usual default (k = 3 neighbours, Scott's
bandwidth, an InfoNCE critic trained for a fixed number of steps), so that the
benchmark measures the methods as a user would first call them.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import jax
import jax.numpy as jnp

import itjax
from itjax.benchmarks.tasks import Task

Array = jax.Array

__all__ = [
    "ESTIMATORS",
    "Estimator",
    "select_estimators",
]

# build(functions, task, **options) -> estimate(key, *samples) -> scalar
Builder = Callable[..., Callable[..., Array]]
Kind = tuple[str, bool]  # (quantity, discrete)


@dataclasses.dataclass(frozen=True)
class Adapter:
    """How an estimator applies to one kind of task.

    Attributes:
      functions: the itjax functions it needs.
      build: `build(functions, task, **options) -> estimate(key, *samples)`.
      options: the static options `build` accepts (e.g. ``("k",)``).
    """

    functions: tuple[str, ...]
    build: Builder = dataclasses.field(compare=False)
    options: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Estimator:
    """A named estimator and the kinds of tasks it applies to.

    Attributes:
      name: the name used on the command line, e.g. ``"ksg-1"``.
      description: the method and its static settings, in words.
      adapters: for each `(quantity, discrete)` kind, the itjax functions needed and
        the builder of `estimate(key, *samples) -> scalar` for a task.
      max_dim: the largest total dimension it is run on (None: no limit); neural and
        kernel methods are left out of the highest-dimensional tasks on purpose, since
        their cost there says nothing new.
      min_n: the smallest sample size it is run at (neural critics train on half the
        samples and need a few hundred to say anything).
    """

    name: str
    description: str
    adapters: Mapping[Kind, Adapter] = dataclasses.field(compare=False, hash=False)
    max_dim: int | None = None
    min_n: int = 2

    def supports(self, task: Task) -> bool:
        """Whether the estimator applies to this kind of task at this dimension."""
        kind = (task.quantity, task.discrete)
        if kind not in self.adapters:
            return False
        return self.max_dim is None or sum(task.dims) <= self.max_dim

    def missing(self, task: Task) -> list[str]:
        """The itjax functions it needs for `task` that this itjax does not have."""
        adapter = self.adapters[(task.quantity, task.discrete)]
        return [f for f in adapter.functions if not hasattr(itjax, f)]

    def options(self, task: Task) -> tuple[str, ...]:
        """The static options (e.g. ``k``) the estimator accepts for this kind of task."""
        return self.adapters[(task.quantity, task.discrete)].options

    def build_raw(self, task: Task, **options: Any) -> Callable[..., Any]:
        """`estimate(key, *samples)` for `task` returning what the itjax function returns
        (a scalar, or an `Estimate` with its standard error).

        `options` override the estimator's static settings (see `options`); an option it
        does not take is a ValueError. The itjax functions must exist (see `missing`).
        """
        adapter = self.adapters[(task.quantity, task.discrete)]
        unknown = sorted(set(options) - set(adapter.options))
        if unknown:
            takes = ", ".join(adapter.options) or "none"
            raise ValueError(
                f"{self.name} takes no option {unknown[0]!r} for {task.quantity} "
                f"(its options: {takes})"
            )
        functions = {f: getattr(itjax, f) for f in adapter.functions}
        return adapter.build(functions, task, **options)

    def build(self, task: Task, **options: Any) -> Callable[..., Array]:
        """`estimate(key, *samples) -> scalar` for `task`: the point estimate only."""
        estimate = self.build_raw(task, **options)

        def scalar(key: Array, *samples: Array) -> Array:
            return _value(estimate(key, *samples))

        return scalar


def _value(result: Any) -> Array:
    """The point estimate of a result: a scalar, or the `.value` of an `Estimate`."""
    value = getattr(result, "value", result)
    return jnp.asarray(value)


# --------------------------------------------------------------------------- #
# Gaussian plug-ins (the closed forms on the sample covariance).
# --------------------------------------------------------------------------- #


def _sample_cov(z: Array) -> Array:
    """Sample covariance (ddof = 1) of samples `(n, d)`."""
    centred = z - jnp.mean(z, axis=0, keepdims=True)
    return centred.T @ centred / (z.shape[0] - 1)


def _gaussian_mi(fns, task, **_):
    def estimate(key, x, y):
        return fns["gaussian_mutual_information"](
            _sample_cov(jnp.concatenate([x, y], axis=1)), x.shape[1]
        )

    return estimate


def _gaussian_cmi(fns, task, **_):
    h = fns["gaussian_entropy"]

    def estimate(key, x, y, z):
        cov = _sample_cov(jnp.concatenate([x, y, z], axis=1))
        dx, dy = x.shape[1], y.shape[1]
        xz = list(range(dx)) + list(range(dx + dy, cov.shape[0]))
        yz = list(range(dx, cov.shape[0]))
        zz = list(range(dx + dy, cov.shape[0]))
        sub = lambda idx: cov[jnp.ix_(jnp.asarray(idx), jnp.asarray(idx))]
        return h(sub(xz)) + h(sub(yz)) - h(sub(zz)) - h(cov)

    return estimate


def _gaussian_entropy(fns, task, **_):
    return lambda key, x: fns["gaussian_entropy"](_sample_cov(x))


def _gaussian_kl(fns, task, **_):
    def estimate(key, x, y):
        return fns["gaussian_kl"](
            jnp.mean(x, axis=0), _sample_cov(x), jnp.mean(y, axis=0), _sample_cov(y)
        )

    return estimate


# --------------------------------------------------------------------------- #
# Discrete estimators (counts of integer labels).
# --------------------------------------------------------------------------- #


def _discrete_entropy(function: str) -> Adapter:
    def build(fns, task):
        (k,) = task.num_classes
        return lambda key, labels: fns[function](fns["counts"](labels, num_classes=k))

    return Adapter((function, "counts"), build)


_DISCRETE_MI = {
    "mi": "discrete_mutual_information",
    "cmi": "discrete_conditional_mutual_information",
}


def _discrete_mi(quantity: str, method: str) -> Adapter:
    """Discrete (conditional) MI from three (four) entropy estimates: `method` is a name
    the discrete module knows, or an itjax entropy function (``nsb_entropy``) whose
    point estimate is used."""
    function = _DISCRETE_MI[quantity]
    if method.endswith("_entropy"):
        needs = (function, method)
        estimator_of = lambda fns: lambda c: _value(fns[method](c))
    else:
        needs = (function,)
        estimator_of = lambda fns: method

    def build(fns, task):
        estimator = estimator_of(fns)
        return lambda key, *labels: fns[function](
            *labels, num_classes=task.num_classes, estimator=estimator
        )

    return Adapter(needs, build)


# --------------------------------------------------------------------------- #
# The registry.
# --------------------------------------------------------------------------- #

K = 3  # neighbours for the kNN estimators (Kraskov et al. 2004 recommend 2-4)
NEURAL_STEPS = 300
NEURAL_BATCH = 64
NEURAL_MIN_N = 500


def _knn(function: str, **fixed: Any) -> Adapter:
    """An estimator `function(*samples, k=k, **fixed)` on the kNN kernel.

    Options: `k`, and `jitter`: pass the PRNG key, so that the estimator adds tiny
    independent noise to break ties between samples (for data with repeated values).
    """

    def build(fns, task, k=K, jitter=False):
        def estimate(key, *samples):
            noise = {"key": key} if jitter else {}
            return fns[function](*samples, k=k, **fixed, **noise)

        return estimate

    return Adapter((function,), build, ("k", "jitter"))


def _ksg(variant: int) -> Adapter:
    return _knn("ksg_mutual_information", variant=variant)


def _neural(bound: str) -> Adapter:
    def build(fns, task, **_):
        def estimate(key, x, y):
            return fns["neural_mutual_information"](
                key,
                x,
                y,
                bound=bound,
                batch_size=min(NEURAL_BATCH, x.shape[0] // 2),
                test_fraction=0.5,  # train on one half, report on the other
                num_steps=NEURAL_STEPS,
                validate=False,
            )

        return estimate

    return Adapter(("neural_mutual_information",), build)


def _one(function: str) -> Adapter:
    """An estimator `function(*samples)` with its default settings."""
    return Adapter((function,), lambda fns, task: lambda key, *s: fns[function](*s))


MI, CMI, H, KL = "mi", "cmi", "entropy", "kl"
CONT, DISC = False, True

_DISCRETE = {
    "plugin": "plugin_entropy",
    "miller-madow": "miller_madow_entropy",
    "grassberger": "grassberger_entropy",
    "chao-shen": "chao_shen_entropy",
    "jackknife": "jackknife_entropy",
    "james-stein": "james_stein_entropy",
}


def _registry() -> dict[str, Estimator]:
    est: list[Estimator] = [
        Estimator(
            "ksg-1",
            f"Kraskov–Stögbauer–Grassberger MI, algorithm 1, k = {K}",
            {(MI, CONT): _ksg(1)},
        ),
        Estimator(
            "ksg-2",
            f"Kraskov–Stögbauer–Grassberger MI, algorithm 2, k = {K}",
            {(MI, CONT): _ksg(2)},
        ),
        Estimator(
            "frenzel-pompe",
            f"Frenzel–Pompe conditional MI (KSG for CMI), k = {K}",
            {(CMI, CONT): _knn("ksg_conditional_mutual_information")},
        ),
        Estimator(
            "kozachenko-leonenko",
            f"Kozachenko–Leonenko kNN entropy, k = {K}",
            {(H, CONT): _knn("kozachenko_leonenko_entropy")},
        ),
        Estimator(
            "wang-kulkarni-verdu",
            f"Wang–Kulkarni–Verdú kNN KL divergence, k = {K}",
            {(KL, CONT): _knn("knn_kl_divergence")},
        ),
        Estimator(
            "kde",
            "Gaussian kernel density, leave-one-out, Scott's bandwidth",
            {
                (H, CONT): _one("kde_entropy"),
                (MI, CONT): _one("kde_mutual_information"),
            },
            max_dim=20,
        ),
        Estimator(
            "gaussian-copula",
            "Gaussian-copula MI of the normal scores, bias-corrected (Ince et al. 2017)",
            {(MI, CONT): _one("gaussian_copula_mutual_information")},
        ),
        Estimator(
            "gaussian",
            "Gaussian closed form on the sample mean and covariance (a linear baseline)",
            {
                (MI, CONT): Adapter(("gaussian_mutual_information",), _gaussian_mi),
                (CMI, CONT): Adapter(("gaussian_entropy",), _gaussian_cmi),
                (H, CONT): Adapter(("gaussian_entropy",), _gaussian_entropy),
                (KL, CONT): Adapter(("gaussian_kl",), _gaussian_kl),
            },
        ),
        Estimator(
            "infonce",
            f"InfoNCE critic (separable MLP), {NEURAL_STEPS} Adam steps, batch "
            f"{NEURAL_BATCH}, held-out estimate (at most log {NEURAL_BATCH})",
            {(MI, CONT): _neural("infonce")},
            max_dim=20,
            min_n=NEURAL_MIN_N,
        ),
        Estimator(
            "smile",
            f"SMILE critic (τ = 5), {NEURAL_STEPS} Adam steps, batch {NEURAL_BATCH}, "
            "held-out estimate",
            {(MI, CONT): _neural("smile")},
            max_dim=20,
            min_n=NEURAL_MIN_N,
        ),
    ]
    for name, function in _DISCRETE.items():
        method = function.removesuffix("_entropy")
        est.append(
            Estimator(
                name,
                f"{name} entropy of the counts (MI as H(X) + H(Y) − H(X, Y))",
                {
                    (H, DISC): _discrete_entropy(function),
                    (MI, DISC): _discrete_mi("mi", method),
                    (CMI, DISC): _discrete_mi("cmi", method),
                },
            )
        )
    est.append(
        Estimator(
            "nsb",
            "Nemenman–Shafee–Bialek posterior-mean entropy (MI from three entropies)",
            {
                (H, DISC): _discrete_entropy("nsb_entropy"),
                (MI, DISC): _discrete_mi("mi", "nsb_entropy"),
                (CMI, DISC): _discrete_mi("cmi", "nsb_entropy"),
            },
        )
    )
    return {e.name: e for e in est}


ESTIMATORS: Mapping[str, Estimator] = _registry()
"""Every estimator the benchmark knows, by name."""


def select_estimators(patterns: Iterable[str] | None = None) -> list[Estimator]:
    """Estimators whose names match any of the shell-style `patterns` (all if None)."""
    if patterns is None:
        return list(ESTIMATORS.values())
    chosen: set[str] = set()
    for pattern in patterns:
        hits = [name for name in ESTIMATORS if fnmatch.fnmatchcase(name, pattern)]
        if not hits:
            raise ValueError(
                f"no estimator matches {pattern!r}; known estimators: {', '.join(ESTIMATORS)}"
            )
        chosen.update(hits)
    return [e for name, e in ESTIMATORS.items() if name in chosen]
