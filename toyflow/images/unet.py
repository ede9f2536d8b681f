r"""A Flax U-Net of the DDPM++ family behind the denoiser contract, on ``(n, H, W, C)`` images.

The network ``F`` is wrapped in EDM's preconditioning, the same one as the MLP's (the maths
is in :mod:`toyflow.precond`)::

    D(x; σ) = c_skip(σ) x + c_out(σ) F(c_in(σ) x, c_noise(σ), label)

Architecture (Song et al. 2021 "DDPM++", as configured in EDM's ``SongUNet``):

- noise embedding of ``c_noise`` (sinusoidal ``"positional"`` or random ``"fourier"``
  features), plus a learned label embedding with one extra *null* class (index
  ``num_classes``) used for ``labels=None`` and for classifier-free label dropout; two dense
  layers with SiLU map it to ``4·model_channels`` channels;
- an encoder: a 3×3 input convolution, then per resolution level ``num_blocks`` residual blocks
  with ``model_channels · channel_mult[level]`` channels (self-attention at the resolutions in
  ``attn_resolutions``) and a down-sampling residual block between levels;
- a bottleneck (a residual block with attention and a plain one), then a decoder with
  ``num_blocks + 1`` residual blocks per level, each taking a skip connection from the encoder,
  and an up-sampling block between levels;
- output: GroupNorm, SiLU, a zero-initialised 3×3 convolution back to ``C`` channels.

A residual block: ``GroupNorm → SiLU → conv3×3 → + Dense(embedding) → GroupNorm → SiLU → dropout
→ conv3×3``, added to a (1×1-projected, resampled) skip path and scaled by ``√½``. Down-sampling
is 2×2 average pooling, up-sampling nearest-neighbour (EDM's ``[1, 1]`` resample filter).

Parameters live outside the module (Linen's pure ``init``/``apply``), so the training loop of
:mod:`toyflow.training` runs unchanged: :class:`UNetConfig` implements the same *architecture
protocol* as :class:`toyflow.nets.MLPConfig` (``kind``, ``num_classes``, ``event_shape``,
``to_dict``, ``init``, ``apply``, ``make_denoiser``)::

    >>> from toyflow.images import unet_config, digits
    >>> from toyflow.training import train
    >>> data = digits()
    >>> cfg = unet_config("tiny", image_shape=data.event_shape)
    >>> result = train(data.train_x, config=cfg, steps=300, batch_size=64)  # doctest: +SKIP
    >>> x0 = result.denoiser(data.val_x[:4], 0.5)                             # doctest: +SKIP

``compute_dtype="bfloat16"`` runs convolutions, dense layers and attention in bf16 (parameters,
normalisation statistics, the softmax and the preconditioning stay in float32).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import pytree_class
from toyflow._validation import check_float, check_int, lookup
from toyflow.nets import LearnedDenoiser, count_params
from toyflow.precond import precondition

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
NOISE_EMBEDDINGS = {
    "positional": "sinusoidal embedding of c_noise (DDPM++ / EDM default)",
    "fourier": "random Fourier features of c_noise (NCSN++ style, scale 16)",
}

#: Queries per forward pass when a :class:`UNetDenoiser` is called on many images at once
#: (bounds activation memory for metrics that denoise thousands of images).
EVAL_BLOCK = 256

SKIP_SCALE = math.sqrt(0.5)


def _int_tuple(value: Any, name: str, *, allow_empty: bool = False) -> tuple[int, ...]:
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (int(value),)
    try:
        items = tuple(value)
    except TypeError as exc:
        raise ValueError(f"{name} must be a sequence of positive integers, got {value!r}") from exc
    out = tuple(check_int(v, f"{name} entries", 1, 1 << 16) for v in items)
    if not out and not allow_empty:
        raise ValueError(f"{name} must not be empty")
    return out


def _groups(channels: int) -> int:
    """GroupNorm groups as in EDM: at most 32, at least 4 channels per group."""
    return max(1, min(32, channels // 4))


@dataclasses.dataclass(frozen=True)
class UNetConfig:
    """Shape of a learned image denoiser (hashable: the static part of the pytree).

    Attributes:
      image_shape: ``(H, W, C)`` of the images; H and W divisible by ``2**(levels − 1)``.
      model_channels: base channel count (128 in the paper's CIFAR model).
      channel_mult: one multiplier per resolution level (``(2, 2, 2)``: 32→16→8 for 32×32).
      num_blocks: residual blocks per resolution level.
      attn_resolutions: resolutions (image height at a level) with self-attention.
      dropout: dropout rate inside residual blocks (active only in training).
      num_classes: labels ``0..K−1`` (``None`` = unconditional); index ``K`` is the null class.
      embedding: ``"positional"`` or ``"fourier"`` noise embedding.
      num_heads: attention heads (DDPM++ uses 1).
      compute_dtype: ``"float32"`` or ``"bfloat16"``.
    """

    image_shape: tuple[int, int, int] = (32, 32, 3)
    model_channels: int = 128
    channel_mult: tuple[int, ...] = (2, 2, 2)
    num_blocks: int = 4
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.13
    num_classes: int | None = None
    embedding: str = "positional"
    num_heads: int = 1
    compute_dtype: str = "float32"

    def __post_init__(self):
        set_ = lambda k, v: object.__setattr__(self, k, v)
        shape = _int_tuple(self.image_shape, "image_shape")
        if len(shape) != 3:
            raise ValueError(f"image_shape must be (H, W, C), got {self.image_shape!r}")
        set_("image_shape", shape)
        set_("model_channels", check_int(self.model_channels, "model_channels", 4, 4096))
        set_("channel_mult", _int_tuple(self.channel_mult, "channel_mult"))
        set_("num_blocks", check_int(self.num_blocks, "num_blocks", 1, 32))
        set_(
            "attn_resolutions",
            _int_tuple(self.attn_resolutions, "attn_resolutions", allow_empty=True),
        )
        set_("dropout", check_float(self.dropout, "dropout", 0.0, 0.99))
        set_("num_heads", check_int(self.num_heads, "num_heads", 1, 256))
        if self.num_classes is not None:
            set_("num_classes", check_int(self.num_classes, "num_classes", 1, 1 << 20))
        lookup(NOISE_EMBEDDINGS, self.embedding, "noise embedding")
        lookup(COMPUTE_DTYPES, self.compute_dtype, "compute dtype")
        h, w, _ = shape
        factor = 2 ** (len(self.channel_mult) - 1)
        if h % factor or w % factor:
            raise ValueError(
                f"image height and width ({h}×{w}) must be divisible by {factor} for "
                f"{len(self.channel_mult)} resolution levels; pad or resize the images "
                f"or use fewer channel_mult entries"
            )
        for ch in sorted(
            {self.model_channels} | {self.model_channels * m for m in self.channel_mult}
        ):
            if ch % _groups(ch):
                raise ValueError(
                    f"{ch} channels cannot be split into {_groups(ch)} GroupNorm groups; "
                    f"choose model_channels and channel_mult so every level has a "
                    f"multiple of {_groups(ch)} channels"
                )
            if ch in self.attention_channels and ch % self.num_heads:
                raise ValueError(
                    f"{ch} channels at an attention level are not divisible by "
                    f"num_heads={self.num_heads}"
                )

    # --- derived -----------------------------------------------------------------------------
    @property
    def levels(self) -> int:
        return len(self.channel_mult)

    @property
    def resolutions(self) -> tuple[int, ...]:
        """Image height at each level."""
        return tuple(self.image_shape[0] >> i for i in range(self.levels))

    @property
    def attention_channels(self) -> set[int]:
        chans = {self.model_channels * self.channel_mult[-1]}  # the bottleneck always attends
        for lvl, res in enumerate(self.resolutions):
            if res in self.attn_resolutions:
                chans.add(self.model_channels * self.channel_mult[lvl])
        return chans

    # --- the architecture protocol of toyflow.training ---------------------------------------
    kind = "unet"

    @property
    def event_shape(self) -> tuple[int, int, int]:
        return tuple(self.image_shape)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> UNetConfig:
        """Inverse of :meth:`to_dict` (JSON turns tuples into lists; unknown keys raise)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"unknown UNetConfig fields {unknown}; valid: {sorted(names)}")
        fixed: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
        return cls(**fixed)

    def init(self, key):
        """Fresh parameters (float32). Traceable (``vmap``/``jit``); called eagerly it runs one
        compiled function per config instead of hundreds of single operations."""
        if isinstance(key, jax.core.Tracer):
            return _init_params(self, key)
        return _init_jit(self, key)

    def apply(self, params, sigma_data, x, sigma, labels=None, *, dropout_key=None):
        """The preconditioned ``D(x; σ)``: ``x (n, H, W, C)``, ``σ (n,)``, labels ``(n,)`` or None.

        Dropout is active only when ``dropout_key`` is given (training).
        """
        train = dropout_key is not None and self.dropout > 0
        net = lambda x_in, c_noise: UNet(self).apply(
            params,
            x_in,
            c_noise,
            labels,
            deterministic=not train,
            rngs={"dropout": dropout_key} if train else None,
        )
        return precondition(net, x, sigma, sigma_data)

    def make_denoiser(self, params, sigma_data, step=None) -> UNetDenoiser:
        return UNetDenoiser(self, params, sigma_data, step=step)

    def describe(self) -> str:
        h, w, c = self.image_shape
        return (
            f"U-Net {h}×{w}×{c}, {self.model_channels} ch × {self.channel_mult}, "
            f"{self.num_blocks} blocks, attention at {self.attn_resolutions}, "
            f"dropout {self.dropout:g}, {self.compute_dtype}"
        )


#: Presets from CPU tests to the paper's CIFAR-10 model. ``image_shape`` is a default: pass the
#: data's ``event_shape`` to :func:`unet_config`.
PRESETS: dict[str, dict[str, Any]] = {
    "tiny": dict(
        image_shape=(8, 8, 1),
        model_channels=16,
        channel_mult=(1, 2),
        num_blocks=1,
        attn_resolutions=(),
        dropout=0.0,
    ),
    "small": dict(
        image_shape=(32, 32, 3),
        model_channels=64,
        channel_mult=(1, 2, 2),
        num_blocks=2,
        attn_resolutions=(16,),
        dropout=0.1,
    ),
    "cifar": dict(
        image_shape=(32, 32, 3),
        model_channels=128,
        channel_mult=(2, 2, 2),
        num_blocks=4,
        attn_resolutions=(16,),
        dropout=0.13,
    ),
}


def unet_config(preset: str = "tiny", **overrides) -> UNetConfig:
    """A :class:`UNetConfig` from a preset name (``"tiny"``, ``"small"``, ``"cifar"``) with
    any field overridden, e.g. ``unet_config("cifar", num_classes=10, compute_dtype="bfloat16")``."""
    base = dict(lookup(PRESETS, preset, "U-Net preset"))
    names = {f.name for f in dataclasses.fields(UNetConfig)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ValueError(f"unknown U-Net setting(s) {unknown}; valid: {sorted(names)}")
    base.update(overrides)
    return UNetConfig(**base)


# --- the network --------------------------------------------------------------------------------


class NoiseEmbedding(nn.Module):
    """``c_noise (n,) -> (n, channels)`` sinusoidal or random-Fourier features."""

    channels: int
    kind: str = "positional"

    @nn.compact
    def __call__(self, c_noise):
        half = self.channels // 2
        if self.kind == "fourier":
            freqs = self.param("fourier_freqs", nn.initializers.normal(stddev=16.0), (half,))
            freqs = jax.lax.stop_gradient(freqs)
            ang = 2 * jnp.pi * c_noise[:, None] * freqs[None, :]
        else:
            # EDM's PositionalEmbedding(max_positions=10000, endpoint=True).
            freqs = (1.0 / 10000.0) ** (jnp.arange(half, dtype=jnp.float32) / max(half - 1, 1))
            ang = c_noise[:, None] * freqs[None, :]
        return jnp.concatenate([jnp.cos(ang), jnp.sin(ang)], axis=-1)


CONV_IMPLS = {
    "xla": "lax.conv_general_dilated and its standard gradient (the GPU/TPU default)",
    "matmul": "3×3 patches (shifted slices) times the kernel, forward and backward (the CPU default)",
}


def conv_impl() -> str:
    """How 3×3 convolutions run (see :data:`CONV_IMPLS`); ``TOYFLOW_CONV`` overrides.

    By default the CPU backend uses ``"matmul"``: XLA's CPU convolutions are fast in the forward
    direction, but the *gradient* convolutions (kernel and input transposes) take a slow path
    inside a compiled training loop (``lax.fori_loop``), measured 15–80× slower here than the
    same products written as matmuls of shifted slices. (A custom VJP with forward-direction
    gradient convolutions was measured too: faster to compile by ~20 %, slower per step.) Both
    implementations use the same parameters and agree up to float rounding.
    """
    impl = os.environ.get("TOYFLOW_CONV", "auto").lower()
    if impl != "auto" and impl not in CONV_IMPLS:
        raise ValueError(f"TOYFLOW_CONV must be auto, {' or '.join(CONV_IMPLS)}; got {impl!r}")
    if impl == "auto":
        impl = "matmul" if jax.default_backend() == "cpu" else "xla"
    return impl


def _conv_same(x, kernel):
    return jax.lax.conv_general_dilated(
        x, kernel, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


class Conv(nn.Module):
    """A stride-1 'SAME' convolution with kernel ``(k, k, C_in, C_out)`` (Flax ``nn.Conv``'s
    parameter layout), run as :func:`conv_impl` says."""

    features: int
    kernel_size: int = 3
    dtype: Any = jnp.float32
    kernel_init: Any = nn.initializers.lecun_normal()

    @nn.compact
    def __call__(self, x):
        k = self.kernel_size
        cin = x.shape[-1]
        kernel = self.param("kernel", self.kernel_init, (k, k, cin, self.features), jnp.float32)
        bias = self.param("bias", nn.initializers.zeros, (self.features,), jnp.float32)
        x = x.astype(self.dtype)
        kernel = kernel.astype(self.dtype)
        impl = conv_impl()
        if k == 1:
            y = x @ kernel[0, 0]
        elif impl == "matmul":
            h, w = x.shape[1], x.shape[2]
            lo = (k - 1) // 2
            xp = jnp.pad(x, ((0, 0), (lo, k - 1 - lo), (lo, k - 1 - lo), (0, 0)))
            patches = jnp.concatenate(
                [xp[:, i : i + h, j : j + w, :] for i in range(k) for j in range(k)], axis=-1
            )
            y = patches @ kernel.reshape(k * k * cin, self.features)
        else:
            y = _conv_same(x, kernel)
        return y + bias.astype(self.dtype)


def _norm(channels: int, name: str) -> nn.GroupNorm:
    # Statistics in float32 whatever the compute dtype.
    return nn.GroupNorm(num_groups=_groups(channels), epsilon=1e-6, dtype=jnp.float32, name=name)


def _downsample(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).mean(axis=(2, 4))


def _upsample(x):
    return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)


class Attention(nn.Module):
    """Self-attention over the ``H·W`` positions (softmax in float32), residual, scaled by √½."""

    channels: int
    num_heads: int
    dtype: Any

    @nn.compact
    def __call__(self, x):
        n, h, w, c = x.shape
        heads = self.num_heads
        qkv = Conv(3 * c, 1, dtype=self.dtype, name="qkv")(_norm(c, "norm")(x).astype(self.dtype))
        qkv = qkv.reshape(n, h * w, 3, heads, c // heads)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        logits = jnp.einsum("nqhc,nkhc->nhqk", q, k).astype(jnp.float32) / math.sqrt(c // heads)
        weights = jax.nn.softmax(logits, axis=-1).astype(self.dtype)
        out = jnp.einsum("nhqk,nkhc->nqhc", weights, v).reshape(n, h, w, c)
        out = Conv(c, 1, dtype=self.dtype, kernel_init=nn.initializers.zeros, name="proj")(out)
        return (x + out.astype(x.dtype)) * SKIP_SCALE


class ResBlock(nn.Module):
    """DDPM++ residual block with optional resampling and attention (see module docstring)."""

    out_channels: int
    dropout: float
    dtype: Any
    attention: bool = False
    num_heads: int = 1
    resample: str | None = None  # None, "down" or "up"

    @nn.compact
    def __call__(self, x, emb, deterministic: bool):
        cin = x.shape[-1]
        skip = x
        h = nn.silu(_norm(cin, "norm0")(x)).astype(self.dtype)
        if self.resample == "down":
            h, skip = _downsample(h), _downsample(skip)
        elif self.resample == "up":
            h, skip = _upsample(h), _upsample(skip)
        h = Conv(self.out_channels, 3, dtype=self.dtype, name="conv0")(h)
        h = h + nn.Dense(self.out_channels, dtype=self.dtype, name="affine")(emb)[:, None, None, :]
        h = nn.silu(_norm(self.out_channels, "norm1")(h)).astype(self.dtype)
        h = nn.Dropout(self.dropout)(h, deterministic=deterministic)
        h = Conv(
            self.out_channels, 3, dtype=self.dtype, kernel_init=nn.initializers.zeros, name="conv1"
        )(h)
        if cin != self.out_channels or self.resample is not None:
            skip = Conv(self.out_channels, 1, dtype=self.dtype, name="skip")(
                skip.astype(self.dtype)
            )
        out = (h.astype(jnp.float32) + skip.astype(jnp.float32)) * SKIP_SCALE
        if self.attention:
            out = Attention(self.out_channels, self.num_heads, self.dtype, name="attn")(out)
        return out


class UNet(nn.Module):
    """``F(x_in (n, H, W, C), c_noise (n,), labels (n,) | None) -> (n, H, W, C)``."""

    config: UNetConfig

    @nn.compact
    def __call__(self, x, c_noise, labels=None, deterministic: bool = True):
        cfg = self.config
        dtype = COMPUTE_DTYPES[cfg.compute_dtype]
        mc = cfg.model_channels
        emb_ch = 4 * mc
        block = lambda ch, name, **kw: ResBlock(
            ch,
            cfg.dropout,
            dtype,
            num_heads=cfg.num_heads,
            name=name,
            **kw,
        )

        # Noise (and label) embedding.
        emb = NoiseEmbedding(mc, cfg.embedding, name="noise_embed")(c_noise.astype(jnp.float32))
        if cfg.num_classes is not None:
            lab = jnp.full((x.shape[0],), cfg.num_classes, jnp.int32) if labels is None else labels
            emb = emb + nn.Embed(cfg.num_classes + 1, mc, name="label_embed")(lab.astype(jnp.int32))
        emb = nn.silu(nn.Dense(emb_ch, name="map0")(emb))
        emb = nn.silu(nn.Dense(emb_ch, name="map1")(emb)).astype(dtype)

        # Encoder: remember every output for the skip connections.
        h = Conv(mc, 3, dtype=dtype, name="enc_in")(x.astype(dtype)).astype(jnp.float32)
        skips = [h]
        for lvl, (mult, res) in enumerate(zip(cfg.channel_mult, cfg.resolutions)):
            if lvl > 0:
                h = block(h.shape[-1], f"enc{res}_down", resample="down")(h, emb, deterministic)
                skips.append(h)
            for i in range(cfg.num_blocks):
                h = block(mc * mult, f"enc{res}_block{i}", attention=res in cfg.attn_resolutions)(
                    h, emb, deterministic
                )
                skips.append(h)

        # Bottleneck and decoder.
        for lvl in reversed(range(cfg.levels)):
            mult, res = cfg.channel_mult[lvl], cfg.resolutions[lvl]
            if lvl == cfg.levels - 1:
                h = block(h.shape[-1], f"dec{res}_in0", attention=True)(h, emb, deterministic)
                h = block(h.shape[-1], f"dec{res}_in1")(h, emb, deterministic)
            else:
                h = block(h.shape[-1], f"dec{res}_up", resample="up")(h, emb, deterministic)
            for i in range(cfg.num_blocks + 1):
                h = jnp.concatenate([h, skips.pop()], axis=-1)
                attn = i == cfg.num_blocks and res in cfg.attn_resolutions
                h = block(mc * mult, f"dec{res}_block{i}", attention=attn)(h, emb, deterministic)

        h = nn.silu(_norm(h.shape[-1], "out_norm")(h)).astype(dtype)
        out = Conv(
            cfg.image_shape[-1], 3, dtype=dtype, kernel_init=nn.initializers.zeros, name="out_conv"
        )(h)
        return out.astype(jnp.float32)


def _init_params(config: UNetConfig, key):
    h, w, c = config.image_shape
    x = jnp.zeros((1, h, w, c), jnp.float32)
    lab = None if config.num_classes is None else jnp.zeros((1,), jnp.int32)
    return UNet(config).init(key, x, jnp.zeros((1,), jnp.float32), lab, deterministic=True)


_init_jit = jax.jit(_init_params, static_argnums=0)


# --- the denoiser ------------------------------------------------------------------------------


@pytree_class(dynamic=("params", "sigma_data"), static=("config",))
class UNetDenoiser(LearnedDenoiser):
    """A trained (or fresh) U-Net behind the denoiser contract ``D(x, sigma, labels=None)``.

    ``x`` is ``(n, H, W, C)``; large batches are evaluated in blocks of :data:`EVAL_BLOCK`.
    ``labels=None`` runs a conditional model unconditionally (the null class), so one model
    trained with label dropout serves classifier-free guidance.
    """

    def __init__(self, config: UNetConfig, params, sigma_data, *, step: int | None = None):
        if not isinstance(config, UNetConfig):
            raise ValueError(f"config must be a UNetConfig, got {type(config).__name__}")
        super().__init__(config, params, sigma_data, step=step)

    def _forward(self, x, sigma, labels):
        return self.config.apply(self.params, self.sigma_data, x, sigma, labels)

    def denoise(self, x, sigma, labels):
        n = x.shape[0]
        if n <= EVAL_BLOCK:
            return self._forward(x, sigma, labels)
        # Blocks of EVAL_BLOCK queries under lax.map: activation memory stays bounded.
        blocks = -(-n // EVAL_BLOCK)
        pad = blocks * EVAL_BLOCK - n
        xp = jnp.concatenate([x, jnp.zeros((pad,) + x.shape[1:], x.dtype)])
        sp = jnp.concatenate([sigma, jnp.ones((pad,), sigma.dtype)])
        xb = xp.reshape((blocks, EVAL_BLOCK) + x.shape[1:])
        sb = sp.reshape(blocks, EVAL_BLOCK)
        if labels is None:
            out = jax.lax.map(lambda a: self._forward(a[0], a[1], None), (xb, sb))
        else:
            lp = jnp.concatenate([labels, jnp.zeros((pad,), labels.dtype)]).reshape(
                blocks, EVAL_BLOCK
            )
            out = jax.lax.map(lambda a: self._forward(*a), (xb, sb, lp))
        return out.reshape((blocks * EVAL_BLOCK,) + x.shape[1:])[:n]

    def __repr__(self) -> str:
        step = "" if self.step is None else f", step {self.step}"
        return f"UNetDenoiser({self.config.describe()}, {self.num_params} params{step})"


def config_from_dict(d: dict[str, Any]) -> UNetConfig:
    """What :func:`toyflow.training.load_result` calls for ``kind == "unet"``."""
    return UNetConfig.from_dict(d)


def param_count(config: UNetConfig) -> int:
    """Number of parameters of ``config`` (shapes only; nothing is computed)."""
    shapes = jax.eval_shape(functools.partial(_init_params, config), jax.random.PRNGKey(0))
    return count_params(shapes)


__all__: Sequence[str] = (
    "COMPUTE_DTYPES",
    "EVAL_BLOCK",
    "NOISE_EMBEDDINGS",
    "PRESETS",
    "UNetConfig",
    "UNetDenoiser",
    "param_count",
    "unet_config",
)
