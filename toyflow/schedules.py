r"""Noise schedules as ``(s(t), σ(t))`` pairs (EDM paper, Karras et al. 2022, Table 1).

A schedule is a small frozen object: ``sigma(t)``, its inverse ``sigma_inv``, the derivative
``sigma_deriv``, the scale ``s(t)`` and ``s_deriv``; it also fixes the training noise
distribution and its sampling time grid. The same denoiser ``D(x; σ)`` serves every schedule,
through the general probability-flow ODE::

    dx/dt = (ṡ/s) x − s² σ̇ σ ∇ₓ log p(x/s; σ) = (σ̇/σ + ṡ/s) x − (s σ̇/σ) D(x/s; σ)

=========  ===========================================  ========================  ==================
name       σ(t)                                         s(t)                      training σ
=========  ===========================================  ========================  ==================
edm        t                                            1                         ln σ ~ N(P_mean, P_std²)
ve         √t                                           1                         log-uniform [σ_lo, σ_hi]
vp         √(exp(½β_d t² + β_min t) − 1)                1/√(1+σ²)                 t ~ U(ε_t, 1)
cosine     tan(π/2 · (t+ε)/(1+ε))                       1/√(1+σ²) = cos(…)        t ~ U(0, 1)
=========  ===========================================  ========================  ==================

EDM's rho grid (Karras et al. 2022, eq. 5): ``σ_i = (σ_max^{1/ρ} + i/(N−1)(σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ``, then
``σ_N = 0``. The other schedules use their own grids in ``t`` (VE geometric in σ², VP and cosine
uniform in t) between the times that give σ_max and σ_min.

For 2D data the EDM training distribution is shifted by ``ln(σ_data / 0.5)`` relative to the
image default ``P_mean = −1.2``: the paper's circle of radius 10 has σ_data ≈ 7, far from 0.5.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._types import AnyArray, JaxArrayLike, Key
from toyflow._validation import check_float, check_int
from toyflow.registry import Registry


def edm_sigmas(
    steps: int = 40, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
) -> np.ndarray:
    """The EDM sampling grid ``σ_0 > … > σ_{N−1}``, followed by ``σ_N = 0`` (``steps + 1`` values)."""
    steps, sigma_min, sigma_max, rho = check_grid(steps, sigma_min, sigma_max, rho)
    i = np.arange(steps, dtype=np.float64)
    frac = i / max(steps - 1, 1)
    s = (sigma_max ** (1 / rho) + frac * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))) ** rho
    return np.append(s, 0.0).astype(np.float64)


def check_grid(
    steps: int, sigma_min: float, sigma_max: float, rho: float
) -> tuple[int, float, float, float]:
    """Validate sampling-grid parameters (``ValueError`` with the allowed ranges)."""
    steps = check_int(steps, "steps", 1, 10_000)
    sigma_min = check_float(sigma_min, "sigma_min", 0.0, lo_open=True)
    sigma_max = check_float(sigma_max, "sigma_max", 0.0, 1e6, lo_open=True)
    rho = check_float(rho, "rho", 0.0, 1000.0, lo_open=True)
    if sigma_min >= sigma_max:
        raise ValueError(f"sigma_min ({sigma_min}) must be smaller than sigma_max ({sigma_max})")
    return steps, sigma_min, sigma_max, rho


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Base noise schedule. Subclasses define σ(t), its inverse and derivative, and s(t).

    ``s``, ``s_deriv`` and ``sigma_deriv`` return JAX arrays; ``sigma_inv`` (and EDM's ``sigma``)
    keep numpy input in numpy float64, which the time grids are built in.
    """

    name = "base"

    # --- σ(t) and s(t) --------------------------------------------------------------
    def sigma(self, t: JaxArrayLike) -> AnyArray:
        raise NotImplementedError

    def sigma_inv(self, sigma: AnyArray | float) -> AnyArray | float:
        raise NotImplementedError

    def sigma_deriv(self, t: JaxArrayLike) -> jax.Array:
        deriv: jax.Array = jax.grad(lambda u: self.sigma(u))(t)
        return deriv

    def s(self, t: JaxArrayLike) -> jax.Array:
        return jnp.ones_like(jnp.asarray(t, jnp.float32))

    def s_deriv(self, t: JaxArrayLike) -> jax.Array:
        return jnp.zeros_like(jnp.asarray(t, jnp.float32))

    # --- grids -------------------------------------------------------------------------
    def time_steps(
        self, steps: int = 40, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
    ) -> np.ndarray:
        """Sampling times ``t_0 … t_{N−1}`` plus ``t_N`` with ``σ(t_N) = 0`` (float64)."""
        sig = edm_sigmas(steps, sigma_min, sigma_max, rho)
        return np.append(np.asarray(self.sigma_inv(sig[:-1]), np.float64), self.t_zero)

    @property
    def t_zero(self) -> float:
        """The time at which σ = 0."""
        return 0.0

    # --- training noise -----------------------------------------------------------------
    def sample_training_sigma(
        self, key: Key, shape: Sequence[int], sigma_data: JaxArrayLike
    ) -> jax.Array:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


@dataclasses.dataclass(frozen=True)
class EDM(Schedule):
    """σ(t) = t, s = 1; training ``ln σ ~ N(P_mean + ln(σ_data/0.5), P_std²)``."""

    p_mean: float = -1.2
    p_std: float = 1.2
    name = "edm"

    def sigma(self, t: JaxArrayLike) -> AnyArray:
        return jnp.asarray(t, jnp.float32) if not isinstance(t, np.ndarray) else t

    def sigma_inv(self, sigma: AnyArray | float) -> AnyArray | float:
        return sigma

    def sigma_deriv(self, t: JaxArrayLike) -> jax.Array:
        return jnp.ones_like(jnp.asarray(t, jnp.float32))

    def sample_training_sigma(
        self, key: Key, shape: Sequence[int], sigma_data: JaxArrayLike
    ) -> jax.Array:
        shift = jnp.log(jnp.asarray(sigma_data, jnp.float32) / 0.5)
        return jnp.exp(self.p_mean + shift + self.p_std * jax.random.normal(key, shape))


@dataclasses.dataclass(frozen=True)
class VE(Schedule):
    """σ(t) = √t, s = 1; training σ log-uniform in ``[σ_lo, σ_hi]·σ_data/0.5``; grid geometric."""

    sigma_lo: float = 0.02
    sigma_hi: float = 100.0
    name = "ve"

    def sigma(self, t: JaxArrayLike) -> jax.Array:
        return jnp.sqrt(jnp.maximum(jnp.asarray(t, jnp.float32), 0.0))

    def sigma_inv(self, sigma: AnyArray | float) -> AnyArray | float:
        return (
            np.asarray(sigma, np.float64) ** 2
            if isinstance(sigma, np.ndarray)
            else jnp.square(sigma)
        )

    def sigma_deriv(self, t: JaxArrayLike) -> jax.Array:
        return 0.5 / jnp.sqrt(jnp.maximum(jnp.asarray(t, jnp.float32), 1e-30))

    def time_steps(
        self, steps: int = 40, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
    ) -> np.ndarray:
        steps, sigma_min, sigma_max, rho = check_grid(steps, sigma_min, sigma_max, rho)
        frac = np.arange(steps, dtype=np.float64) / max(steps - 1, 1)
        sig2 = sigma_max**2 * (sigma_min**2 / sigma_max**2) ** frac
        return np.append(sig2, 0.0)

    def sample_training_sigma(
        self, key: Key, shape: Sequence[int], sigma_data: JaxArrayLike
    ) -> jax.Array:
        scale = jnp.asarray(sigma_data, jnp.float32) / 0.5
        lo, hi = math.log(self.sigma_lo), math.log(self.sigma_hi)
        return scale * jnp.exp(jax.random.uniform(key, shape, minval=lo, maxval=hi))


@dataclasses.dataclass(frozen=True)
class VP(Schedule):
    """Variance preserving (DDPM): σ(t) = √(exp(½β_d t² + β_min t) − 1), s = 1/√(1+σ²)."""

    beta_min: float = 0.1
    beta_d: float = 19.9
    eps_t: float = 1e-5
    name = "vp"

    def sigma(self, t: JaxArrayLike) -> jax.Array:
        t = jnp.asarray(t, jnp.float32)
        return jnp.sqrt(jnp.expm1(0.5 * self.beta_d * t**2 + self.beta_min * t))

    def sigma_inv(self, sigma: AnyArray | float) -> AnyArray | float:
        if isinstance(sigma, np.ndarray) or np.isscalar(sigma):
            lg = np.log1p(np.asarray(sigma, np.float64) ** 2)
            return (np.sqrt(self.beta_min**2 + 2 * self.beta_d * lg) - self.beta_min) / self.beta_d
        lg_j = jnp.log1p(jnp.square(sigma))
        return (jnp.sqrt(self.beta_min**2 + 2 * self.beta_d * lg_j) - self.beta_min) / self.beta_d

    def sigma_deriv(self, t: JaxArrayLike) -> jax.Array:
        t = jnp.asarray(t, jnp.float32)
        sig = self.sigma(t)
        e = jnp.exp(0.5 * self.beta_d * t**2 + self.beta_min * t)
        return 0.5 * (self.beta_d * t + self.beta_min) * e / jnp.maximum(sig, 1e-30)

    def s(self, t: JaxArrayLike) -> jax.Array:
        return 1.0 / jnp.sqrt(1.0 + self.sigma(t) ** 2)

    def s_deriv(self, t: JaxArrayLike) -> jax.Array:
        sig = self.sigma(t)
        return -sig * self.sigma_deriv(t) * (1.0 + sig**2) ** -1.5

    def time_steps(
        self, steps: int = 40, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
    ) -> np.ndarray:
        steps, sigma_min, sigma_max, rho = check_grid(steps, sigma_min, sigma_max, rho)
        t_hi, t_lo = self.sigma_inv(np.float64(sigma_max)), self.sigma_inv(np.float64(sigma_min))
        return np.append(np.linspace(t_hi, t_lo, steps), 0.0)

    def sample_training_sigma(
        self, key: Key, shape: Sequence[int], sigma_data: JaxArrayLike
    ) -> jax.Array:
        t = jax.random.uniform(key, shape, minval=self.eps_t, maxval=1.0)
        return self.sigma(t) * jnp.asarray(sigma_data, jnp.float32) / 0.5


@dataclasses.dataclass(frozen=True)
class Cosine(Schedule):
    """Cosine (Nichol & Dhariwal 2021): ᾱ(t) = cos²(π/2·(t+ε)/(1+ε)), so σ = tan(…), s = cos(…)."""

    eps: float = 0.008
    name = "cosine"

    def _angle(self, t: JaxArrayLike) -> jax.Array:
        return 0.5 * jnp.pi * (jnp.asarray(t, jnp.float32) + self.eps) / (1.0 + self.eps)

    def sigma(self, t: JaxArrayLike) -> jax.Array:
        return jnp.tan(self._angle(t))

    def sigma_inv(self, sigma: AnyArray | float) -> AnyArray | float:
        if isinstance(sigma, np.ndarray) or np.isscalar(sigma):
            return np.arctan(np.asarray(sigma, np.float64)) * 2 / np.pi * (1 + self.eps) - self.eps
        return jnp.arctan(sigma) * 2 / jnp.pi * (1 + self.eps) - self.eps

    def sigma_deriv(self, t: JaxArrayLike) -> jax.Array:
        return 0.5 * jnp.pi / (1.0 + self.eps) / jnp.cos(self._angle(t)) ** 2

    def s(self, t: JaxArrayLike) -> jax.Array:
        return jnp.cos(self._angle(t))

    def s_deriv(self, t: JaxArrayLike) -> jax.Array:
        return -0.5 * jnp.pi / (1.0 + self.eps) * jnp.sin(self._angle(t))

    @property
    def t_zero(self) -> float:
        return -self.eps

    def time_steps(
        self, steps: int = 40, sigma_min: float = 0.002, sigma_max: float = 80.0, rho: float = 7.0
    ) -> np.ndarray:
        steps, sigma_min, sigma_max, rho = check_grid(steps, sigma_min, sigma_max, rho)
        t_hi, t_lo = self.sigma_inv(np.float64(sigma_max)), self.sigma_inv(np.float64(sigma_min))
        return np.append(np.linspace(t_hi, t_lo, steps), self.t_zero)

    def sample_training_sigma(
        self, key: Key, shape: Sequence[int], sigma_data: JaxArrayLike
    ) -> jax.Array:
        t = jax.random.uniform(key, shape, minval=0.0, maxval=1.0 - 1e-3)
        return self.sigma(t) * jnp.asarray(sigma_data, jnp.float32) / 0.5


#: The schedule registry: the CLI's choices, the app's drop-down and the tests read it.
SCHEDULES: Registry[type[Schedule]] = Registry(
    "noise schedule", {"edm": EDM, "vp": VP, "ve": VE, "cosine": Cosine}
)


def sampling_sigmas(
    schedule: str | Schedule = "edm",
    steps: int = 40,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
) -> np.ndarray:
    """The σ values a sampler visits: ``σ(t_0) > … > σ(t_{N−1})`` followed by ``0`` (float64).

    This is the one σ grid of toyflow: :func:`toyflow.sample` returns it beside trajectories,
    and the explorer and the experiments index views and curves by it. σ is rounded through
    float32 exactly as the sampler evaluates ``schedule.sigma(t)``, so a grid value equals the
    σ at which the sampler called the denoiser.
    """
    sched = get_schedule(schedule)
    ts = sched.time_steps(steps, sigma_min, sigma_max, rho)
    visited = np.asarray(sched.sigma(jnp.asarray(ts[:-1], jnp.float32)), np.float64)
    return np.append(visited, 0.0)


def get_schedule(name_or_schedule: str | Schedule = "edm") -> Schedule:
    """A schedule instance from its registry name (or pass an instance through)."""
    if isinstance(name_or_schedule, Schedule):
        return name_or_schedule
    return SCHEDULES[name_or_schedule]()
