r"""Learned denoisers: a Flax MLP for 2D points, wrapped in EDM preconditioning.

The network ``F`` is wrapped in EDM's preconditioning, written once in :mod:`toyflow.precond`
(the maths is there)::

    D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x, c_noise(σ), label)

so ``F`` sees unit-variance inputs and predicts a unit-variance target at every σ. For 2D data
at radius 10, σ_d ≈ 7; it is measured from the training set, never assumed.

The MLP: the noise embedding (Fourier features, sinusoidal positions, or the raw ``c_noise``)
and an optional label embedding (one extra "null" class for classifier-free dropout) are added
to the first hidden layer; ``depth`` hidden layers of ``width`` units follow.

Parameters live outside the module (Linen's pure ``init``/``apply``), so training runs in a
plain ``jax.jit`` + ``lax.fori_loop`` and a sweep stacks parameters along a leading axis.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser, pytree_class
from toyflow._validation import as_labels, check_int, lookup
from toyflow.precond import loss_weight, precondition, preconditioning  # noqa: F401 (re-exported)

ACTIVATIONS = {
    "silu": nn.silu,
    "relu": nn.relu,
    "gelu": nn.gelu,
    "tanh": jnp.tanh,
    "softplus": nn.softplus,
}
EMBEDDINGS = {
    "fourier": "random Fourier features of c_noise (fixed frequencies)",
    "positional": "sinusoidal positional embedding of c_noise (transformer style)",
    "linear": "c_noise itself, fed through a linear layer",
}

MAX_WIDTH = 4096
MAX_DEPTH = 16


@dataclasses.dataclass(frozen=True)
class MLPConfig:
    """Shape of a learned 2D denoiser (hashable: it is the static part of the pytree)."""

    dim: int = 2
    width: int = 128
    depth: int = 3
    activation: str = "silu"
    embedding: str = "fourier"
    embed_dim: int = 32
    num_classes: int | None = None  # labels 0..K-1; index K is the null (unconditional) class

    def __post_init__(self):
        check_int(self.dim, "dim", 1, 1 << 20)
        check_int(self.width, "width", 1, MAX_WIDTH)
        check_int(self.depth, "depth", 1, MAX_DEPTH)
        check_int(self.embed_dim, "embed_dim", 2, 4096)
        if self.embed_dim % 2:
            raise ValueError(f"embed_dim must be even, got {self.embed_dim}")
        lookup(ACTIVATIONS, self.activation, "activation")
        lookup(EMBEDDINGS, self.embedding, "noise embedding")
        if self.num_classes is not None:
            check_int(self.num_classes, "num_classes", 1, 1 << 24)

    # --- the architecture protocol the training loop uses (the U-Net config has it too) ---
    kind = "mlp"

    @property
    def event_shape(self) -> tuple[int, ...]:
        return (self.dim,)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def init(self, key):
        """Fresh parameters."""
        return init_params(self, key)

    def apply(self, params, sigma_data, x, sigma, labels=None, *, dropout_key=None):
        """The preconditioned ``D(x; σ)`` (``dropout_key`` unused: the MLP has no dropout)."""
        return apply_denoiser(self, params, sigma_data, x, sigma, labels)

    def make_denoiser(self, params, sigma_data, step=None) -> MLPDenoiser:
        return MLPDenoiser(self, params, sigma_data, step=step)


class MLP(nn.Module):
    """``F(x_in (n, d), c_noise (n,), labels (n,) | None) -> (n, d)``."""

    config: MLPConfig

    @nn.compact
    def __call__(self, x, c_noise, labels=None):
        cfg = self.config
        act = ACTIVATIONS[cfg.activation]
        half = cfg.embed_dim // 2
        if cfg.embedding == "fourier":
            freqs = self.param("fourier_freqs", nn.initializers.normal(stddev=4.0), (half,))
            freqs = jax.lax.stop_gradient(freqs)
            ang = 2 * jnp.pi * c_noise[:, None] * freqs[None, :]
            emb = jnp.concatenate([jnp.cos(ang), jnp.sin(ang)], axis=-1)
        elif cfg.embedding == "positional":
            freqs = jnp.exp(-math.log(10000.0) * jnp.arange(half) / half)
            ang = 1000.0 * c_noise[:, None] * freqs[None, :]
            emb = jnp.concatenate([jnp.cos(ang), jnp.sin(ang)], axis=-1)
        else:
            emb = c_noise[:, None]
        h = nn.Dense(cfg.width, name="in_x")(x) + nn.Dense(cfg.width, name="in_noise")(emb)
        if cfg.num_classes is not None:
            lab = jnp.full((x.shape[0],), cfg.num_classes, jnp.int32) if labels is None else labels
            h = h + nn.Embed(cfg.num_classes + 1, cfg.width, name="label_embed")(lab)
        h = act(h)
        for i in range(cfg.depth - 1):
            h = act(nn.Dense(cfg.width, name=f"hidden_{i}")(h))
        return nn.Dense(cfg.dim, name="out", kernel_init=nn.initializers.zeros)(h)


def init_params(config: MLPConfig, key) -> Any:
    """Fresh parameters for ``config``."""
    x = jnp.zeros((1, config.dim), jnp.float32)
    c = jnp.zeros((1,), jnp.float32)
    lab = None if config.num_classes is None else jnp.zeros((1,), jnp.int32)
    return MLP(config).init(key, x, c, lab)


def apply_denoiser(config: MLPConfig, params, sigma_data, x, sigma, labels=None):
    """The preconditioned denoiser ``D(x; σ)`` as a pure function (x ``(n, d)``, σ ``(n,)``)."""
    net = MLP(config)
    return precondition(
        lambda x_in, c_noise: net.apply(params, x_in, c_noise, labels), x, sigma, sigma_data
    )


def count_params(params) -> int:
    return int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params)))


class LearnedDenoiser(Denoiser):
    """What every trained network shares behind the contract (the MLP and the U-Net): a config
    (static), parameters and ``σ_data`` (leaves), labels bounded by ``config.num_classes``.

    ``labels=None`` runs the model unconditionally (the null class), so one conditional model
    trained with label dropout serves classifier-free guidance. Subclasses add ``denoise``.
    """

    def __init__(self, config, params, sigma_data, *, step: int | None = None):
        self.config = config
        self.params = params
        self.sigma_data = jnp.float32(sigma_data)
        self.step = step

    def _post_unflatten(self):
        self.step = None

    @property
    def event_shape(self):  # type: ignore[override]
        return tuple(self.config.event_shape)

    @property
    def num_classes(self):
        return self.config.num_classes

    def check_labels(self, labels, n):
        if labels is None:
            return None
        if self.config.num_classes is None:
            raise ValueError("this model was trained without labels, so it takes labels=None")
        return as_labels(labels, n, num_classes=self.config.num_classes)

    @property
    def num_params(self) -> int:
        return count_params(self.params)


@pytree_class(dynamic=("params", "sigma_data"), static=("config",))
class MLPDenoiser(LearnedDenoiser):
    """A trained (or fresh) MLP behind the denoiser contract (see :class:`LearnedDenoiser`)."""

    def denoise(self, x, sigma, labels):
        return apply_denoiser(self.config, self.params, self.sigma_data, x, sigma, labels)

    def __repr__(self) -> str:
        c = self.config
        step = "" if self.step is None else f", step {self.step}"
        return (
            f"MLPDenoiser(width={c.width}, depth={c.depth}, {c.activation}, {c.embedding}, "
            f"{self.num_params} params{step})"
        )
