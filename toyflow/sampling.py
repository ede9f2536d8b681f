r"""EDM-style samplers: Euler, Heun and the stochastic EDM sampler, for any schedule.

Deterministic solvers integrate the probability-flow ODE of a schedule ``(s(t), σ(t))``::

    dx/dt = f(x, t) = (σ̇/σ + ṡ/s) x − (s σ̇ / σ) · D(x/s; σ(t))      (EDM Algorithm 1)

over the schedule's time grid ``t_0 … t_N`` (``σ(t_N) = 0``). For EDM (s = 1, σ = t) this is
``dx/dσ = (x − D(x; σ)) / σ``. Heun applies the trapezoidal correction on every step but the last,
which goes to σ = 0 (Karras et al. 2022, Algorithm 1).

The stochastic sampler is EDM's Algorithm 2 in σ-space: before each step it raises the noise
level by ``γ = min(S_churn/N, √2 − 1)`` (for ``σ ∈ [S_tmin, S_tmax]``) adding fresh noise
``√(σ̂² − σ²) · S_noise · ε``, then takes a Heun step from σ̂ to the next grid σ.

All solvers run under one ``jax.lax.scan``; the denoiser, the grid and the initial noise are
ordinary (traced) arguments, so new σ values or a new δ never recompile. Trajectories are
recorded in data units (``x / s``), so the state at step i is comparable with noisy training
points ``y + σ_i n``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Literal, TypeAlias, overload

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser
from toyflow._function import as_denoiser
from toyflow._types import Key
from toyflow._validation import as_points, check_float, check_int
from toyflow.registry import Registry
from toyflow.schedules import Schedule, get_schedule, sampling_sigmas

#: Solver registry (name → description); the CLI and the app read it.
SOLVERS: Registry[str] = Registry(
    "solver",
    {
        "euler": "Euler steps on the probability-flow ODE (first order)",
        "heun": "Heun's second-order steps, Euler on the final step to σ = 0",
        "stochastic": "EDM's stochastic sampler (Algorithm 2): churn noise, then a Heun step",
    },
)


def _ode_drift(
    denoiser: Denoiser, schedule: Schedule, x: jax.Array, t: jax.Array, labels: jax.Array | None
) -> jax.Array:
    """``dx/dt`` of the general probability-flow ODE at scalar time ``t``."""
    sig = schedule.sigma(t)
    s = schedule.s(t)
    sig_d = schedule.sigma_deriv(t)
    s_d = schedule.s_deriv(t)
    n = x.shape[0]
    den = denoiser.denoise(x / s, jnp.full((n,), sig, jnp.float32), labels)
    return (sig_d / sig + s_d / s) * x - (s * sig_d / sig) * den


#: One scan step's inputs: (t_cur, t_next, whether it is the last step, PRNG key).
_StepInputs: TypeAlias = tuple[jax.Array, jax.Array, jax.Array, Key]


@functools.partial(jax.jit, static_argnames=("solver", "schedule", "record", "grid_steps"))
def _integrate(
    denoiser: Denoiser,
    x_init: jax.Array,
    ts: jax.Array,
    labels: jax.Array | None,
    key: Key,
    churn: jax.Array,
    *,
    solver: str,
    schedule: Schedule,
    record: bool,
    grid_steps: int = 0,
) -> tuple[jax.Array, jax.Array | None]:
    """Run the solver over times ``ts`` (``steps + 1``). Returns (samples, trajectory|None).

    ``grid_steps``: the step count of the whole grid when ``ts`` is its tail (a start partway
    down), so the stochastic sampler's churn ``S_churn / N`` is the full grid's; 0 = ``steps``.
    """
    steps = ts.shape[0] - 1
    n_grid = grid_steps or steps
    s_churn, s_tmin, s_tmax, s_noise = churn[0], churn[1], churn[2], churn[3]
    keys = jax.random.split(key, steps)
    is_last = jnp.arange(steps) == steps - 1

    def step(x: jax.Array, inputs: _StepInputs) -> tuple[jax.Array, jax.Array | None]:
        t_cur, t_next, last, k = inputs
        if solver == "stochastic":
            # EDM Algorithm 2 in σ-space (s = 1 for the churn, then data units).
            s_cur = schedule.s(t_cur)
            sig_cur = schedule.sigma(t_cur)
            sig_next = schedule.sigma(t_next)
            y = x / s_cur
            gamma = jnp.where(
                (sig_cur >= s_tmin) & (sig_cur <= s_tmax),
                jnp.minimum(s_churn / n_grid, jnp.sqrt(2.0) - 1.0),
                0.0,
            )
            sig_hat = sig_cur * (1.0 + gamma)
            y_hat = y + jnp.sqrt(
                jnp.maximum(sig_hat**2 - sig_cur**2, 0.0)
            ) * s_noise * jax.random.normal(k, y.shape)
            n = y.shape[0]
            d_cur = (y_hat - denoiser.denoise(y_hat, jnp.full((n,), sig_hat), labels)) / sig_hat
            y_next = y_hat + (sig_next - sig_hat) * d_cur

            def correct(yn: jax.Array) -> jax.Array:
                safe = jnp.maximum(sig_next, 1e-30)
                d_next = (yn - denoiser.denoise(yn, jnp.full((n,), safe), labels)) / safe
                return y_hat + (sig_next - sig_hat) * 0.5 * (d_cur + d_next)

            y_next = jax.lax.cond(last, lambda yn: yn, correct, y_next)
            x_next = y_next * schedule.s(t_next)
        else:
            f_cur = _ode_drift(denoiser, schedule, x, t_cur, labels)
            x_next = x + (t_next - t_cur) * f_cur
            if solver == "heun":

                def correct_ode(xn: jax.Array) -> jax.Array:
                    f_next = _ode_drift(denoiser, schedule, xn, t_next, labels)
                    return x + (t_next - t_cur) * 0.5 * (f_cur + f_next)

                x_next = jax.lax.cond(last, lambda xn: xn, correct_ode, x_next)
        out = x_next / schedule.s(t_next) if record else None
        return x_next, out

    x_final, traj = jax.lax.scan(step, x_init, (ts[:-1], ts[1:], is_last, keys))
    samples = x_final / schedule.s(ts[-1])
    if record:
        assert traj is not None  # record=True: the scan stacked every step's state
        traj = jnp.concatenate([(x_init / schedule.s(ts[0]))[None], traj], axis=0)
    return samples, traj


@overload
def sample(
    denoiser: Denoiser | Callable[..., Any],
    n: int,
    *,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    steps: int = 40,
    solver: str = "euler",
    labels: Any = None,
    seed: int = 0,
    x_init: Any = None,
    sigma_start: float | None = None,
    return_trajectory: Literal[False] = False,
    schedule: str | Schedule = "edm",
    s_churn: float = 40.0,
    s_tmin: float = 0.05,
    s_tmax: float = 50.0,
    s_noise: float = 1.003,
) -> jax.Array: ...


# With the trajectory: JAX samples and trajectory (typed Any: callers rebind them to numpy in
# place, ``samples, traj = np.asarray(samples), np.asarray(traj)``) and the float64 σ grid.
@overload
def sample(
    denoiser: Denoiser | Callable[..., Any],
    n: int,
    *,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    steps: int = 40,
    solver: str = "euler",
    labels: Any = None,
    seed: int = 0,
    x_init: Any = None,
    sigma_start: float | None = None,
    return_trajectory: Literal[True],
    schedule: str | Schedule = "edm",
    s_churn: float = 40.0,
    s_tmin: float = 0.05,
    s_tmax: float = 50.0,
    s_noise: float = 1.003,
) -> tuple[Any, Any, np.ndarray]: ...


@overload
def sample(
    denoiser: Denoiser | Callable[..., Any],
    n: int,
    *,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    steps: int = 40,
    solver: str = "euler",
    labels: Any = None,
    seed: int = 0,
    x_init: Any = None,
    sigma_start: float | None = None,
    return_trajectory: bool = False,
    schedule: str | Schedule = "edm",
    s_churn: float = 40.0,
    s_tmin: float = 0.05,
    s_tmax: float = 50.0,
    s_noise: float = 1.003,
) -> jax.Array | tuple[Any, Any, np.ndarray]: ...


def sample(
    denoiser: Denoiser | Callable[..., Any],
    n: int,
    *,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
    steps: int = 40,
    solver: str = "euler",
    labels: Any = None,
    seed: int = 0,
    x_init: Any = None,
    sigma_start: float | None = None,
    return_trajectory: bool = False,
    schedule: str | Schedule = "edm",
    s_churn: float = 40.0,
    s_tmin: float = 0.05,
    s_tmax: float = 50.0,
    s_noise: float = 1.003,
) -> jax.Array | tuple[Any, Any, np.ndarray]:
    """Generate ``n`` samples by integrating from ``σ_max`` to 0.

    Args:
      denoiser: any toyflow denoiser ``D(x, sigma, labels=None)``.
      n: number of samples (ignored shapes must match ``x_init`` when given).
      sigma_min, sigma_max, rho, steps: the sampling grid (EDM's rho grid, or the schedule's).
      solver: ``"euler"``, ``"heun"`` or ``"stochastic"`` (see :data:`SOLVERS`).
      labels: ``None`` or ``(n,)`` ints (or one int for all samples).
      seed: seeds the initial noise (and the stochastic sampler's churn).
      x_init: optional initial state ``(n, d)`` in data units at the start σ (the paper draws
        ``σ_max · N(0, I)``, which is the default; with ``sigma_start`` the default is
        ``sigma_start · N(0, I)``).
      sigma_start: start partway down the grid: a value of the grid
        (``sampling_sigmas(schedule, steps, sigma_min, sigma_max, rho)``, matched to a relative
        1e-5), from which the remaining steps run exactly as in a full run. ``x_init`` then holds
        the states at that σ, e.g. noisy training points ``y + σ n`` or a trajectory's states.
      return_trajectory: also return the states at every grid σ.
      schedule: ``"edm"``, ``"vp"``, ``"ve"``, ``"cosine"`` or a :class:`Schedule`.
      s_churn, s_tmin, s_tmax, s_noise: the stochastic sampler's parameters (EDM Algorithm 2).

    Returns:
      ``samples (n, d)``; with ``return_trajectory``, ``(samples, trajectory, sigmas)`` where
      ``trajectory`` is ``(steps + 1, n, d)`` (states in data units, the last the samples) and
      ``sigmas`` the ``steps + 1`` noise levels (the last 0); from ``sigma_start = sigmas[k]``
      both keep only their last ``steps + 1 − k`` entries.
    """
    init_event = np.shape(x_init)[1:] if x_init is not None and np.ndim(x_init) >= 2 else None
    denoiser = as_denoiser(denoiser, init_event or None)
    SOLVERS[solver]  # an unknown name raises ValueError listing the valid ones
    sched = get_schedule(schedule)
    ts = sched.time_steps(steps, sigma_min, sigma_max, rho)
    sigmas = sampling_sigmas(sched, steps, sigma_min, sigma_max, rho)
    grid_steps = len(ts) - 1
    if sigma_start is not None:
        k = _grid_index(sigmas, check_float(sigma_start, "sigma_start", 0.0, lo_open=True))
        ts, sigmas = ts[k:], sigmas[k:]
    event = tuple(denoiser.event_shape)
    seed = check_int(seed, "seed", 0, 2**31 - 1)
    key_init, key_churn = jax.random.split(jax.random.PRNGKey(seed))
    if x_init is None:
        n = check_int(n, "n", 1, 10_000_000)
        x0 = float(sigmas[0]) * jax.random.normal(key_init, (n,) + event)
    else:
        if len(event) == 1:
            x0 = jnp.asarray(as_points(x_init, "x_init", dim=event[0]))
        else:
            x0 = jnp.asarray(as_points(x_init, "x_init", event_shape=event))
        n = x0.shape[0]
    lab = denoiser.check_labels(labels, n)
    churn = jnp.asarray(
        [
            check_float(s_churn, "s_churn", 0.0),
            check_float(s_tmin, "s_tmin", 0.0),
            check_float(s_tmax, "s_tmax", 0.0),
            check_float(s_noise, "s_noise", 0.0),
        ],
        jnp.float32,
    )
    x_start = x0 * sched.s(jnp.float32(ts[0]))
    samples: jax.Array  # the trajectory is an array too when return_trajectory is set
    samples, traj = _integrate(
        denoiser,
        x_start,
        jnp.asarray(ts, jnp.float32),
        None if lab is None else jnp.asarray(lab),
        key_churn,
        churn,
        solver=solver,
        schedule=sched,
        record=bool(return_trajectory),
        grid_steps=grid_steps,
    )
    if return_trajectory:
        return samples, traj, sigmas
    return samples


def _grid_index(sigmas: np.ndarray, sigma_start: float) -> int:
    """The index of ``sigma_start`` among the positive grid values (``ValueError`` if absent)."""
    positive = sigmas[:-1]
    hits = [i for i, s in enumerate(positive) if abs(s - sigma_start) <= 1e-5 * s]
    if not hits:
        shown = ", ".join(f"{s:.6g}" for s in positive[:6])
        raise ValueError(
            f"sigma_start={sigma_start:g} is not a value of the sampling grid "
            f"(toyflow.sampling_sigmas with the same schedule and steps: {shown}, …)"
        )
    return hits[0]


def sample_fn(
    solver: str = "euler", schedule: str | Schedule = "edm", record: bool = True
) -> Callable[..., tuple[jax.Array, jax.Array | None]]:
    """A jitted ``f(denoiser, x_init, ts, labels, key, churn)`` for callers that manage grids
    themselves (the app): every argument is traced, so it compiles once per shape."""
    SOLVERS[solver]  # an unknown name raises ValueError listing the valid ones
    return functools.partial(
        _integrate, solver=solver, schedule=get_schedule(schedule), record=record
    )
