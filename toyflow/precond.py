r"""EDM preconditioning: one wrapper that turns a raw network ``F`` into a denoiser ``D``.

Karras et al. 2022 ("Elucidating the design space", Table 1 and Appendix B.6). With ``σ_d`` the
standard deviation of the data (measured on the training set, never assumed)::

    D(x; σ) = c_skip(σ) · x + c_out(σ) · F(c_in(σ) · x, c_noise(σ), label)

    c_skip(σ)  = σ_d² / (σ² + σ_d²)
    c_out(σ)   = σ σ_d / √(σ² + σ_d²)
    c_in(σ)    = 1 / √(σ² + σ_d²)
    c_noise(σ) = ¼ ln σ
    λ(σ)       = (σ² + σ_d²) / (σ σ_d)²          (loss weight, so that λ c_out² = 1)

Why these. For ``x = y + σ n`` with ``Var y = σ_d²``, ``Var x = σ² + σ_d²``: ``c_in`` gives the
network unit-variance input. Writing ``D = c_skip x + c_out F``, the target of ``F`` is
``(y − c_skip x) / c_out``; ``c_skip`` is the choice that minimises its variance and ``c_out``
scales it to one. The loss ``λ(σ) ‖D − y‖²`` is then ``‖F − target‖²`` with unit weight at
every σ.

Limits (used by the tests and by the samplers' last step):

- σ → 0: ``c_skip → 1``, ``c_out ~ σ → 0``, so ``D(x; σ) → x`` whatever ``F`` is: a denoiser
  leaves clean data alone.
- σ → ∞: ``c_skip ~ σ_d²/σ² → 0``, ``c_out → σ_d``, ``c_in x = O(1)``, so ``D`` is ``σ_d · F``
  of a unit-variance input: the prediction no longer depends on how far out ``x`` is.

Dtype policy: σ and the coefficients are float32 and so is ``D``, whatever precision ``F``
computes in (the U-Net may run in bfloat16; its output is cast back before the blend).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from toyflow._denoiser import broadcast_sigma
from toyflow._types import ArrayLike, JaxArrayLike


class Preconditioning(NamedTuple):
    """EDM's four coefficients, each of σ's shape."""

    c_skip: jax.Array
    c_out: jax.Array
    c_in: jax.Array
    c_noise: jax.Array


def preconditioning(sigma: ArrayLike, sigma_data: JaxArrayLike) -> Preconditioning:
    """``(c_skip, c_out, c_in, c_noise)`` for noise level(s) ``sigma`` (see the module docstring)."""
    sigma = jnp.asarray(sigma, jnp.float32)
    sd2 = jnp.square(sigma_data)
    norm = jnp.hypot(sigma, sigma_data)  # √(σ² + σ_d²) without overflow at σ > 1e19
    return Preconditioning(
        c_skip=sd2 / (sigma**2 + sd2),
        c_out=sigma * sigma_data / norm,
        c_in=1.0 / norm,
        c_noise=0.25 * jnp.log(sigma),
    )


def loss_weight(sigma: jax.Array, sigma_data: JaxArrayLike) -> jax.Array:
    """EDM's ``λ(σ) = (σ² + σ_d²) / (σ σ_d)²`` (``= 1 / c_out²``)."""
    return (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2


def precondition(
    net: Callable[[jax.Array, jax.Array], Any],
    x: jax.Array,
    sigma: ArrayLike,
    sigma_data: JaxArrayLike,
) -> jax.Array:
    """``D(x; σ) = c_skip x + c_out net(c_in x, c_noise)`` for a batch ``x (n, ...)``.

    ``sigma`` is a scalar or ``(n,)``; ``net(x_in (n, ...), c_noise (n,))`` is the raw network
    (labels, dropout and parameters closed over). The result is float32.
    """
    n, nd = x.shape[0], x.ndim
    c = preconditioning(broadcast_sigma(sigma, n), sigma_data)

    def row(v: jax.Array) -> jax.Array:
        return broadcast_sigma(v, n, nd)

    f: jax.Array = net(row(c.c_in) * x, c.c_noise).astype(jnp.float32)
    return row(c.c_skip) * x + row(c.c_out) * f
