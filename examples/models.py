"""itjax terms inside model losses: five small worked examples.

Each `train_*` function builds a tiny model with plain JAX parameters, trains it
with optax for `num_steps` steps in one `lax.scan` under `jax.jit`, and returns
`Trace(losses, grad_norms)`: the loss and the global gradient norm at every step.
They are small enough to run in the test suite (tests/test_models.py checks that
each loss decreases and that every gradient is finite).

1. VAE: reconstruction + `itjax.vae_kl` (the KL of the evidence lower bound).
2. Knowledge distillation: `itjax.distillation_loss` (T^2 KL at temperature T).
3. Contrastive learning: `itjax.infonce_loss` (symmetric InfoNCE, as CLIP/SimCLR).
4. Variational information bottleneck: cross-entropy + beta * `itjax.vae_kl`
   (KL(q(z|x) || N(0, I)) upper-bounds I(X; Z), Alemi et al. 2017).
5. Policy gradient with an entropy bonus: REINFORCE + beta *
   `itjax.entropy_from_logits` on a 4-armed bandit.

Run `python examples/models.py` to print the first and last losses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

import itjax


class Trace(NamedTuple):
    """Per-step loss and global gradient norm, shape `(num_steps,)` each."""

    losses: jax.Array
    grad_norms: jax.Array


def _dense(key: jax.Array, sizes: tuple[int, ...]) -> list[dict[str, jax.Array]]:
    """Parameters of an MLP with the given layer sizes (LeCun normal, zero bias)."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (a, b)) / jnp.sqrt(a), "b": jnp.zeros(b)}
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def _mlp(params: list[dict[str, jax.Array]], x: jax.Array) -> jax.Array:
    for layer in params[:-1]:
        x = jax.nn.gelu(x @ layer["w"] + layer["b"][None, :])
    return x @ params[-1]["w"] + params[-1]["b"][None, :]


def _fit(
    key: jax.Array,
    params,
    loss_fn: Callable[[jax.Array, object], jax.Array],
    *,
    num_steps: int,
    learning_rate: float,
) -> Trace:
    """Adam on loss_fn(key, params), a fresh key per step, in one lax.scan."""
    optimizer = optax.adam(learning_rate)

    def step(carry, key):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(loss_fn, argnums=1)(key, params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return (optax.apply_updates(params, updates), opt_state), (
            loss,
            optax.tree.norm(grads),
        )

    keys = jax.random.split(key, num_steps)
    _, (losses, norms) = jax.lax.scan(step, (params, optimizer.init(params)), keys)
    return Trace(losses, norms)


# --------------------------------------------------------------------------- #
# 1. VAE.
# --------------------------------------------------------------------------- #


def train_vae(key: jax.Array, *, num_steps: int = 150) -> Trace:
    """A Gaussian VAE on 8-D data lying near a 2-D plane; loss = -ELBO per sample.

    -ELBO = E_q ||x - dec(z)||^2 / 2 + KL(N(mu, diag sigma^2) || N(0, I)), the KL by
    `itjax.vae_kl` from the encoder's (mu, log sigma^2), z by reparameterization.
    """
    k_data, k_mix, k_enc, k_dec, k_fit = jax.random.split(key, 5)
    latent = jax.random.normal(k_data, (256, 2))
    x = latent @ jax.random.normal(k_mix, (2, 8))
    params = {"enc": _dense(k_enc, (8, 32, 4)), "dec": _dense(k_dec, (2, 32, 8))}

    def loss_fn(key, params):
        stats = _mlp(params["enc"], x)
        mean, log_var = stats[:, :2], stats[:, 2:]
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        reconstruction = 0.5 * jnp.sum((x - _mlp(params["dec"], z)) ** 2, axis=-1)
        return jnp.mean(reconstruction + itjax.vae_kl(mean, log_var))

    return _fit(k_fit, params, loss_fn, num_steps=num_steps, learning_rate=3e-3)


# --------------------------------------------------------------------------- #
# 2. Knowledge distillation.
# --------------------------------------------------------------------------- #


def train_distillation(key: jax.Array, *, num_steps: int = 150, temperature: float = 4.0) -> Trace:
    """A small student fitted to a fixed random teacher's softened outputs (10 classes)."""
    k_teacher, k_student, k_fit = jax.random.split(key, 3)
    teacher = _dense(k_teacher, (6, 64, 10))
    student = _dense(k_student, (6, 16, 10))

    def loss_fn(key, student):
        x = jax.random.normal(key, (128, 6))
        teacher_logits = jax.lax.stop_gradient(_mlp(teacher, x)) * 3.0
        loss = itjax.distillation_loss(_mlp(student, x), teacher_logits, temperature=temperature)
        return jnp.mean(loss)

    return _fit(k_fit, student, loss_fn, num_steps=num_steps, learning_rate=3e-3)


# --------------------------------------------------------------------------- #
# 3. Contrastive representation learning.
# --------------------------------------------------------------------------- #


def train_contrastive(key: jax.Array, *, num_steps: int = 150) -> Trace:
    """Two views of a shared 4-D signal, embedded by two encoders, trained by InfoNCE.

    log n - loss is a lower bound on I(view1; view2) (capped at log n), so a
    decreasing loss means the embeddings keep more of the shared signal.
    """
    k_a, k_b, k_mix_a, k_mix_b, k_fit = jax.random.split(key, 5)
    mix_a = jax.random.normal(k_mix_a, (4, 12))
    mix_b = jax.random.normal(k_mix_b, (4, 12))
    params = {
        "a": _dense(k_a, (12, 32, 8)),
        "b": _dense(k_b, (12, 32, 8)),
        "log_temperature": jnp.log(0.2),  # learned, as in CLIP
    }

    def loss_fn(key, params):
        k_s, k_na, k_nb = jax.random.split(key, 3)
        signal = jax.random.normal(k_s, (128, 4))
        view_a = signal @ mix_a + 0.5 * jax.random.normal(k_na, (128, 12))
        view_b = signal @ mix_b + 0.5 * jax.random.normal(k_nb, (128, 12))
        temperature = jnp.exp(params["log_temperature"])
        return itjax.infonce_loss(
            _mlp(params["a"], view_a), _mlp(params["b"], view_b), temperature=temperature
        )

    return _fit(k_fit, params, loss_fn, num_steps=num_steps, learning_rate=3e-3)


# --------------------------------------------------------------------------- #
# 4. Variational information bottleneck.
# --------------------------------------------------------------------------- #


def train_information_bottleneck(
    key: jax.Array, *, num_steps: int = 150, beta: float = 1e-2
) -> Trace:
    """Deep VIB (Alemi et al. 2017): classify from a stochastic code z ~ N(mu(x), sigma(x)^2).

    loss = E[-log p(y | z)] + beta * KL(q(z | x) || N(0, I)); the KL term (by
    `itjax.vae_kl`) bounds I(X; Z) from above, so beta trades accuracy for compression.
    """
    k_data, k_enc, k_dec, k_fit = jax.random.split(key, 4)
    x = jax.random.normal(k_data, (256, 10))
    labels = (x[:, 0] + x[:, 1] > 0).astype(jnp.int32) + 2 * (x[:, 2] > 0).astype(jnp.int32)
    params = {"enc": _dense(k_enc, (10, 32, 8)), "dec": _dense(k_dec, (4, 4))}

    def loss_fn(key, params):
        stats = _mlp(params["enc"], x)
        mean, log_var = stats[:, :4], stats[:, 4:]
        z = mean + jnp.exp(0.5 * log_var) * jax.random.normal(key, mean.shape)
        logits = _mlp(params["dec"], z)
        nll = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        return jnp.mean(nll + beta * itjax.vae_kl(mean, log_var))

    return _fit(k_fit, params, loss_fn, num_steps=num_steps, learning_rate=1e-2)


# --------------------------------------------------------------------------- #
# 5. Policy gradient with an entropy bonus.
# --------------------------------------------------------------------------- #


def train_policy_gradient(key: jax.Array, *, num_steps: int = 150, beta: float = 0.05) -> Trace:
    """REINFORCE on a 4-armed bandit with an entropy bonus beta * H(pi).

    The surrogate loss -mean(log pi(a) (r - baseline)) - beta * H(pi) gives the
    policy gradient of E[r] + beta * H(pi); the entropy (by
    `itjax.entropy_from_logits`, exact and differentiable) keeps the policy from
    collapsing early. The reported loss is the exact objective's negative,
    -(pi . r + beta H(pi)), so that its decrease is not hidden by sampling noise.
    """
    rewards = jnp.asarray([0.1, 0.5, 0.2, 1.0])
    logits = jnp.zeros(4)

    def objective(logits):
        policy = jax.nn.softmax(logits)
        return -(policy @ rewards + beta * itjax.entropy_from_logits(logits))

    def loss_fn(key, logits):
        k_a, k_r = jax.random.split(key)
        actions = jax.random.categorical(k_a, logits, shape=(64,))
        reward = rewards[actions] + 0.1 * jax.random.normal(k_r, (64,))
        log_pi = jax.nn.log_softmax(logits)[actions]
        advantage = jax.lax.stop_gradient(reward - jnp.mean(reward))
        surrogate = -jnp.mean(log_pi * advantage) - beta * itjax.entropy_from_logits(logits)
        # Value of the exact objective, gradient of the sampled surrogate.
        return (
            surrogate - jax.lax.stop_gradient(surrogate) + jax.lax.stop_gradient(objective(logits))
        )

    return _fit(key, logits, loss_fn, num_steps=num_steps, learning_rate=5e-2)


EXAMPLES = {
    "vae": train_vae,
    "distillation": train_distillation,
    "contrastive": train_contrastive,
    "information_bottleneck": train_information_bottleneck,
    "policy_gradient": train_policy_gradient,
}


if __name__ == "__main__":
    for name, train in EXAMPLES.items():
        trace = jax.jit(train)(jax.random.key(0))
        print(f"{name:>24}: loss {float(trace.losses[0]):.4f} -> {float(trace.losses[-1]):.4f}")
