r"""The loss and the optax-style train step: pure functions, no placement, no host loop.

Loss for a batch of clean points ``y`` (EDM, Karras et al. 2022)::

    L = mean_i λ(σ_i) · mean_k (D(y_i + σ_i n_i; σ_i) − y_i)_k²,   λ(σ) = (σ² + σ_d²) / (σ σ_d)²

with ``n_i ~ N(0, I)`` and σ drawn from the schedule's training distribution (EDM:
``ln σ ~ N(P_mean + ln(σ_d/0.5), P_std²)``). ``λ = 1/c_out²`` (see :mod:`toyflow.precond`), so
the raw network's regression target has unit weight at every σ. Labels are dropped to the null
class with probability ``label_dropout``, so one conditional model serves classifier-free
guidance.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np
import optax

from toyflow._denoiser import broadcast_sigma
from toyflow._types import ArrayLike, JaxArrayLike, Key, PyTree
from toyflow.precond import loss_weight
from toyflow.schedules import Schedule

if TYPE_CHECKING:
    from toyflow.nets import LearnedDenoiser


class Architecture(Protocol):
    """What the training engine asks of an architecture config (``toyflow.nets.MLPConfig``,
    ``toyflow.images.UNetConfig``): hashable, it is the static part of the trained denoiser."""

    @property
    def kind(self) -> str:
        """The registry name (:data:`toyflow.training.ARCHITECTURES`) saved with a model."""
        ...

    @property
    def num_classes(self) -> int | None:
        """Labels ``0 … K−1`` (``K`` is the null class), ``None`` for an unconditional model."""
        ...

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one point (``(d,)``, ``(H, W, C)``)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The config as JSON-able values (saved with a model)."""
        ...

    def init(self, key: Key) -> PyTree:
        """Fresh parameters."""
        ...

    def apply(
        self,
        params: PyTree,
        sigma_data: JaxArrayLike,
        x: jax.Array,
        sigma: jax.Array,
        labels: jax.Array | None = None,
        *,
        dropout_key: Key | None = None,
    ) -> jax.Array:
        """The preconditioned ``D(x; σ)`` with these parameters (dropout on with a key)."""
        ...

    def make_denoiser(
        self, params: PyTree, sigma_data: JaxArrayLike, step: int | None = None
    ) -> LearnedDenoiser:
        """The trained denoiser behind the contract ``D(x, sigma, labels=None)``."""
        ...


class TrainState(NamedTuple):
    """Everything that changes during training (a pytree)."""

    step: jax.Array
    params: PyTree
    opt_state: PyTree
    ema: PyTree


#: ``run(state, key, sigma_data, data_x, data_labels, idx, count, n_steps) -> (state, losses)``
#: of :func:`make_train_step` (and its vmapped, compiled forms).
TrainStep: TypeAlias = Callable[..., tuple[TrainState, jax.Array]]


def measure_sigma_data(x: ArrayLike) -> float:
    """The data's standard deviation (over all coordinates), used by the preconditioning."""
    sd = float(np.std(np.asarray(x, np.float64)))
    return sd if sd > 1e-6 else 1.0


def make_optimizer(
    learning_rate: float,
    *,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    warmup_steps: int = 0,
) -> optax.GradientTransformation:
    """Adam(W) with clipping, the learning rate injected as a state hyperparameter (so a sweep
    can give each model its own)."""

    def factory(learning_rate: optax.ScalarOrSchedule) -> optax.GradientTransformation:
        parts: list[optax.GradientTransformation] = []
        if grad_clip:
            parts.append(optax.clip_by_global_norm(grad_clip))
        if weight_decay:
            parts.append(optax.adamw(learning_rate, weight_decay=weight_decay))
        else:
            parts.append(optax.adam(learning_rate))
        return optax.chain(*parts)

    return optax.inject_hyperparams(factory)(learning_rate=learning_rate)


def init_state(
    config: Architecture,
    optimizer: optax.GradientTransformation,
    key: Key,
    learning_rate: JaxArrayLike,
    *,
    ema: bool = False,
) -> TrainState:
    """A fresh :class:`TrainState` (one model) with the learning rate set (traceable)."""
    params = config.init(key)
    opt_state = optimizer.init(params)
    opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
    return TrainState(jnp.int32(0), params, opt_state, params if ema else None)


def denoising_loss(
    config: Architecture,
    params: PyTree,
    sigma_data: JaxArrayLike,
    y: jax.Array,
    labels: jax.Array | None,
    sigma: jax.Array,
    noise: jax.Array,
    *,
    dropout_key: Key | None = None,
) -> jax.Array:
    """The EDM loss (module docstring) on an explicit batch.

    y, noise: ``(B, *event)``; sigma: ``(B,)``; labels: ``(B,)`` or None (already dropped to the
    null class where wanted). ``config.apply`` is the preconditioned denoiser.
    """
    x = y + broadcast_sigma(sigma, y.shape[0], y.ndim) * noise
    den = config.apply(params, sigma_data, x, sigma, labels, dropout_key=dropout_key)
    err = jnp.mean(jnp.square(den - y).reshape(y.shape[0], -1), axis=1)
    return jnp.mean(loss_weight(sigma, sigma_data) * err)


def apply_gradients(
    state: TrainState,
    grads: PyTree,
    optimizer: optax.GradientTransformation,
    ema_decay: float | None,
) -> TrainState:
    """One optimizer update, then the EMA of the weights (if on)."""
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    ema = state.ema
    if ema_decay is not None:
        ema = jax.tree_util.tree_map(lambda e, p: ema_decay * e + (1 - ema_decay) * p, ema, params)
    return TrainState(state.step + 1, params, opt_state, ema)


def make_train_step(
    config: Architecture,
    optimizer: optax.GradientTransformation,
    schedule: Schedule,
    *,
    batch_size: int,
    label_dropout: float = 0.1,
    ema_decay: float | None = None,
    max_chunk: int = 1000,
) -> TrainStep:
    """Factory (optax style) for ``run(state, key, sigma_data, data_x, data_labels, idx, count,
    n_steps) -> (state, losses)``.

    ``idx (N_max,)`` / ``count`` pick the model's subset of ``data_x``; ``n_steps ≤ max_chunk``
    is traced, so every chunk length shares one compilation. ``losses`` has length
    ``max_chunk``; entries past ``n_steps`` are zero. Per-step randomness is
    ``fold_in(key, step)``, so results do not depend on how steps are chunked. Not jitted: jit
    or ``vmap`` it (the placements of :mod:`toyflow.training.placement` do).
    """
    num_classes = getattr(config, "num_classes", None)

    def loss_fn(
        params: PyTree, key: Key, sigma_data: jax.Array, y: jax.Array, labels: jax.Array | None
    ) -> jax.Array:
        k_sigma, k_noise, k_drop, k_dropout = jax.random.split(key, 4)
        sigma = schedule.sample_training_sigma(k_sigma, (y.shape[0],), sigma_data)
        noise = jax.random.normal(k_noise, y.shape)
        if labels is not None and num_classes is not None:
            drop = jax.random.uniform(k_drop, labels.shape) < label_dropout
            labels = jnp.where(drop, num_classes, labels)
        return denoising_loss(
            config, params, sigma_data, y, labels, sigma, noise, dropout_key=k_dropout
        )

    grad_fn = jax.value_and_grad(loss_fn)

    def one_step(
        state: TrainState,
        key: Key,
        sigma_data: jax.Array,
        data_x: jax.Array,
        data_labels: jax.Array | None,
        idx: jax.Array,
        count: jax.Array,
    ) -> tuple[TrainState, jax.Array]:
        k_batch, k_loss = jax.random.split(jax.random.fold_in(key, state.step))
        pick = idx[jax.random.randint(k_batch, (batch_size,), 0, count)]
        labels = None if data_labels is None else data_labels[pick]
        loss, grads = grad_fn(state.params, k_loss, sigma_data, data_x[pick], labels)
        return apply_gradients(state, grads, optimizer, ema_decay), loss

    def run(
        state: TrainState,
        key: Key,
        sigma_data: jax.Array,
        data_x: jax.Array,
        data_labels: jax.Array | None,
        idx: jax.Array,
        count: jax.Array,
        n_steps: jax.Array,
    ) -> tuple[TrainState, jax.Array]:
        def body(i: jax.Array, carry: tuple[TrainState, jax.Array]) -> tuple[TrainState, jax.Array]:
            st, buf = carry
            st, loss = one_step(st, key, sigma_data, data_x, data_labels, idx, count)
            return st, buf.at[i].set(loss)

        buf = jnp.zeros((max_chunk,), jnp.float32)
        out: tuple[TrainState, jax.Array] = jax.lax.fori_loop(0, n_steps, body, (state, buf))
        return out

    return run
