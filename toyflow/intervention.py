r"""Claim 3 tested by intervention: where sampling decides memorization, and whether the states
it visits look like the noisy training data a model was fitted on.

Correlations along trajectories (``metrics.trajectory_overlap``) say where samples go; the
measures here *intervene* on the sampler and compare against controls. Every one is per σ of
the sampling grid (:func:`toyflow.sampling_sigmas`) and comes with a standard error over
independent groups of noise draws; experiments add replicates that redraw data and seeds.

**Injection memorization.** Put states ``x_k`` at grid level ``σ_k`` and integrate the
probability-flow ODE from there to σ = 0 (deterministic solvers only)::

    m(σ_k) = share of end points whose nearest training point of A is closer than 1/3 of
             the second-nearest

with ``x_k`` noisy training points ``y + σ_k n`` (``y`` in A's training set), noisy validation
points, or the model's own trajectory states at ``σ_k``. The *twin control* integrates the same
noisy-training starts with a model B trained the same way on a disjoint set: B never saw A's
points, so what B memorizes from those starts is geometry (the starts are already close), and
the excess ``m_A − m_B`` is what A's overfitting adds. All starting levels run in one compiled
call: a start at ``σ_k`` is the full grid with the first ``k`` steps made zero-length (the
state is unchanged by a step ``t → t``), ``vmap``-ed over ``k``.

**Copy ratio** (an asymmetric version of the A/B comparison of Kadkhodaie et al., ICLR 2024)::

    c(σ) = E‖D_A(x; σ) − D*_A(x; σ)‖² / E‖D_B(x; σ) − D*_A(x; σ)‖²

with ``D*_A`` the optimal denoiser of A's training set, over states ``x`` (trajectory states,
noisy training points of A, noisy validation points). ``c < 1``: A is closer than its twin to
the memorizing field of A's points, i.e. A copies; ``c ≈ 1``: it does not. ``‖D_A − D_B‖²``
is kept beside it; on its own it mixes A's and B's overfitting.

**Train-likeness.** A cross-validated two-sample classifier per σ tells trajectory states from
noisy training samples: leave-one-out k-nearest-neighbours on the pooled set, the score of a
point being the share of its ``k`` neighbours (itself excluded) that come from the first set::

    AUC = P(score(a) > score(b)) + ½ P(score(a) = score(b)),   a from set 1, b from set 2

AUC ≈ 0.5: indistinguishable (leave-one-out sits slightly below 0.5 for identical sets);
AUC → 1: separated. The standard error is Hanley & McNeil's (1982). Read against the AUC of
noisy *validation* samples against the same noisy training samples (what fresh data score)::

    train-likeness = (AUC_fresh − AUC_traj) / (AUC_fresh − ½)      (0: like fresh data,
                                                                    1: like noisy training data)

Everything is vectorised: starts and σ run under ``vmap`` or ``lax.map``, never Python loops
over points.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser
from toyflow._function import as_denoiser
from toyflow._validation import as_points, check_float, check_int
from toyflow.hybrid import BandDenoiser, HybridDenoiser, _parts
from toyflow.metrics import memorized_mask
from toyflow.sampling import sample_fn
from toyflow.schedules import get_schedule, sampling_sigmas

#: Deterministic solvers (the only ones with which a zero-length step leaves a state unchanged).
DETERMINISTIC = ("euler", "heun")


@dataclasses.dataclass(frozen=True)
class PerSigma:
    """A measure per σ: ``mean (K,)`` over groups, its standard error ``se (K,)``, and the
    per-group values ``groups (K, G)`` (a group: one set of noise draws)."""

    sigmas: np.ndarray
    mean: np.ndarray
    se: np.ndarray
    groups: np.ndarray


def _per_sigma(sigmas, groups) -> PerSigma:
    g = np.asarray(groups, np.float64)
    n = g.shape[1]
    se = g.std(axis=1, ddof=1) / np.sqrt(n) if n > 1 else np.full(g.shape[0], np.nan)
    return PerSigma(np.asarray(sigmas, np.float64), g.mean(axis=1), se, g)


# --- the grid and noisy starts ------------------------------------------------------------------


def grid(steps: int = 40, schedule: str = "edm", **grid_kw) -> np.ndarray:
    """The sampling grid's ``steps + 1`` σ values (the last 0): :func:`toyflow.sampling_sigmas`."""
    return sampling_sigmas(schedule, steps, **grid_kw)


def _indices(sigma_indices, steps: int) -> np.ndarray:
    idx = np.atleast_1d(np.asarray(sigma_indices))
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError("sigma_indices must be a non-empty 1-D list of grid indices (ints)")
    if idx.min() < 0 or idx.max() >= steps:
        raise ValueError(f"sigma_indices must lie in 0..{steps - 1} (positive grid σ only)")
    return idx.astype(np.int32)


def noisy_starts(clean_x, sigmas, n_draws: int, seed: int = 0) -> np.ndarray:
    """Noisy copies ``y + σ_k n`` of clean points ``(n, d)`` or images ``(n, H, W, C)``:
    ``(K, n_draws, n, ...)``, with the same noise draws ``n (n_draws, n, ...)`` at every σ (as in
    the gap's error curves)."""
    y = _batch(clean_x, "clean_x")
    s = np.asarray(sigmas, np.float32).reshape((-1,) + (1,) * (y.ndim + 1))
    n_draws = check_int(n_draws, "n_draws", 1, 100_000)
    noise = np.asarray(jax.random.normal(jax.random.PRNGKey(seed), (n_draws,) + y.shape))
    return (y[None, None] + s * noise[None]).astype(np.float32)


def _batch(x, name: str) -> np.ndarray:
    """A checked batch of points ``(n, d)`` or images ``(n, H, W, C)`` as float32."""
    arr = np.asarray(x)
    if arr.ndim > 2:
        return as_points(arr, name, event_shape=tuple(arr.shape[1:]))
    return as_points(arr, name)


def _flat(x) -> np.ndarray:
    a = np.asarray(x)
    return a.reshape(a.shape[0], -1)


def group_states(states, n_groups: int) -> np.ndarray:
    """Split ``(K, n, d)`` states (e.g. trajectory states, independent draws of the initial
    noise) into ``n_groups`` equal groups ``(K, n_groups, n // n_groups, d)``."""
    s = np.asarray(states, np.float32)
    n_groups = check_int(n_groups, "n_groups", 1, s.shape[1])
    m = s.shape[1] // n_groups
    return s[:, : m * n_groups].reshape(s.shape[0], n_groups, m, *s.shape[2:])


# --- memorization after integration from given states -----------------------------------------------


@functools.partial(jax.jit, static_argnames=("solver", "schedule"))
def _integrate_from(denoiser, starts, ts, start_index, labels, *, solver, schedule):
    """``starts (K, m, d)`` at times ``ts[start_index]`` → end points ``(K, m, d)``."""
    sched = get_schedule(schedule)
    run = sample_fn(solver, sched, record=False)
    key = jax.random.PRNGKey(0)  # unused by deterministic solvers
    churn = jnp.zeros((4,), jnp.float32)
    steps = jnp.arange(ts.shape[0])

    def one(x0, k):
        t = jnp.where(steps < k, ts[k], ts)  # zero-length steps before the start
        end, _ = run(denoiser, x0 * sched.s(ts[k]), t, labels, key, churn)
        return end

    return jax.vmap(one)(starts, start_index)


def integrate_from(
    denoiser: Denoiser,
    starts,
    sigma_indices,
    *,
    steps: int = 40,
    solver: str = "euler",
    schedule: str = "edm",
    labels: Any = None,
    sigma_min: float = 0.002,
    sigma_max: float = 80.0,
    rho: float = 7.0,
) -> np.ndarray:
    """Integrate states given at several grid levels to σ = 0, in one compiled call.

    Args:
      denoiser: any toyflow denoiser.
      starts: ``(K, m, d)`` states in data units; ``starts[j]`` sits at grid level
        ``σ_{sigma_indices[j]}`` of ``sampling_sigmas(schedule, steps, ...)``.
      sigma_indices: ``(K,)`` grid indices in ``0 … steps − 1``.
      solver: ``"euler"`` or ``"heun"`` (the stochastic sampler is not an ODE).

    Returns the end points ``(K, m, d)``; ``starts[j]`` ends exactly where
    ``sample(denoiser, m, x_init=starts[j], sigma_start=σ_k)`` ends.
    """
    s = np.asarray(starts, np.float32)
    denoiser = as_denoiser(denoiser, tuple(s.shape[2:]) if s.ndim >= 3 else None)
    if solver not in DETERMINISTIC:
        raise ValueError(
            f"injection integrates the probability-flow ODE: solver must be one of "
            f"{', '.join(DETERMINISTIC)}, got {solver!r}"
        )
    sched = get_schedule(schedule)
    ts = sched.time_steps(steps, sigma_min, sigma_max, rho)
    idx = _indices(sigma_indices, len(ts) - 1)
    if s.ndim != 2 + len(denoiser.event_shape) or s.shape[0] != idx.size:
        raise ValueError(
            f"starts must have shape (K={idx.size}, m, {', '.join(map(str, denoiser.event_shape))}), "
            f"got {s.shape}"
        )
    if not np.all(np.isfinite(s)):
        raise ValueError("starts contain NaN or infinite values")
    lab = denoiser.check_labels(labels, s.shape[1])
    out = _integrate_from(
        denoiser,
        jnp.asarray(s),
        jnp.asarray(ts, jnp.float32),
        jnp.asarray(idx),
        None if lab is None else jnp.asarray(lab),
        solver=solver,
        schedule=sched,
    )
    return np.asarray(out)


def injection_memorization(
    denoiser: Denoiser,
    starts,
    sigma_indices,
    train_x,
    *,
    ratio: float = 1 / 3,
    steps: int = 40,
    solver: str = "euler",
    schedule: str = "edm",
    **grid_kw: float,
) -> PerSigma:
    """Memorized share of the end points of states injected at grid levels.

    ``starts (K, G, m, d)``: ``G`` groups (noise draws) of ``m`` states at level
    ``σ_{sigma_indices[j]}`` (see :func:`noisy_starts`, :func:`group_states`); memorization is
    judged against ``train_x`` (A's training set, also for the twin). ``grid_kw``:
    ``sigma_min``, ``sigma_max``, ``rho`` of the grid. Returns a :class:`PerSigma` whose
    standard error is over the ``G`` groups.
    """
    s = np.asarray(starts, np.float32)
    if s.ndim < 4:
        raise ValueError(
            f"starts must have shape (K, groups, m, d) or (K, groups, m, H, W, C), got {s.shape}"
        )
    k, g, m = s.shape[:3]
    event = tuple(s.shape[3:])
    tx = _batch(train_x, "train_x")
    if tuple(tx.shape[1:]) != event:
        raise ValueError(f"train_x has points of shape {tx.shape[1:]}, the starts {event}")
    if tx.shape[0] < 2:
        raise ValueError("memorization needs at least 2 training points")
    ratio = check_float(ratio, "ratio", 0.0, 1.0, lo_open=True)
    ends = integrate_from(
        denoiser,
        s.reshape((k, g * m) + event),
        sigma_indices,
        steps=steps,
        solver=solver,
        schedule=schedule,
        **grid_kw,
    )
    mask = memorized_mask(_flat(ends.reshape((k * g * m,) + event)), _flat(tx), ratio)
    sig = grid(steps, schedule, **grid_kw)[np.asarray(sigma_indices)]
    return _per_sigma(sig, mask.reshape(k, g, m).mean(axis=2))


# --- hybrid samplers over a sweep of switch levels ----------------------------------------------------


@functools.partial(jax.jit, static_argnames=("solver", "schedule", "band"))
def _switch_ends(first, second, levels, x0, ts, labels, *, solver, schedule, band: bool):
    """End points ``(S, n, d)`` of hybrids built from each row of ``levels (S, 2)``."""
    sched = get_schedule(schedule)
    run = sample_fn(solver, sched, record=False)
    key = jax.random.PRNGKey(0)
    churn = jnp.zeros((4,), jnp.float32)

    def one(level):
        if band:
            d = BandDenoiser(first, second, level[0], level[1])
        else:
            d = HybridDenoiser(first, second, level[0])
        end, _ = run(d, x0 * sched.s(ts[0]), ts, labels, key, churn)
        return end

    return jax.vmap(one)(levels)


def _switch_memorization(
    first,
    second,
    levels,
    train_x,
    *,
    band: bool,
    n: int = 500,
    n_groups: int = 8,
    seed: int = 0,
    steps: int = 40,
    solver: str = "euler",
    schedule: str = "edm",
    ratio: float = 1 / 3,
    **grid_kw: float,
):
    if solver not in DETERMINISTIC:
        raise ValueError(f"solver must be one of {', '.join(DETERMINISTIC)}, got {solver!r}")
    first, second = _parts(first=first, second=second)
    sched = get_schedule(schedule)
    ts = sched.time_steps(steps, **grid_kw)
    sig = sampling_sigmas(sched, steps, **grid_kw)
    lv = np.asarray(levels, np.float32).reshape(-1, 2)
    if not (np.all(np.isfinite(lv)) and np.all(lv > 0)):
        raise ValueError("switch levels must all be finite and > 0")
    n = check_int(n, "n", 2, 10_000_000)
    n_groups = check_int(n_groups, "n_groups", 1, n)
    x0 = float(sig[0]) * jax.random.normal(
        jax.random.PRNGKey(seed), (n,) + tuple(first.event_shape)
    )
    ends = np.asarray(
        _switch_ends(
            first,
            second,
            jnp.asarray(lv),
            x0,
            jnp.asarray(ts, jnp.float32),
            None,
            solver=solver,
            schedule=sched,
            band=band,
        )
    )
    tx = _batch(train_x, "train_x")
    flat_ends = ends.reshape(lv.shape[0] * n, -1)
    mask = memorized_mask(flat_ends, _flat(tx), ratio).reshape(lv.shape[0], n)
    m = n // n_groups
    return mask[:, : m * n_groups].reshape(lv.shape[0], n_groups, m).mean(axis=2)


def hybrid_memorization(
    high: Denoiser, low: Denoiser, switch_sigmas, train_x, **options: Any
) -> PerSigma:
    """Memorized share of samples of ``HybridDenoiser(high, low, σ_s)`` for each switch ``σ_s``
    (all switches in one compiled ``vmap``; the same initial noise for every switch).

    With ``high = OptimalDenoiser(train_x)`` and ``low`` a learned model, the curve over
    ``σ_s`` says from which σ on the learned model decides whether a sample is memorized.
    The standard error is over ``n_groups`` groups of initial noise draws. ``options``:
    ``n`` samples (500), ``n_groups`` (8), ``seed``, ``steps`` (40), ``solver`` ("euler"),
    ``schedule`` ("edm"), the memorization ``ratio`` (1/3) and the grid's ``sigma_min``,
    ``sigma_max``, ``rho``.
    """
    sw = np.asarray(switch_sigmas, np.float64).reshape(-1)
    levels = np.stack([sw, sw], axis=1)
    return _per_sigma(sw, _switch_memorization(high, low, levels, train_x, band=False, **options))


def band_memorization(
    outside: Denoiser, inside: Denoiser, bands, train_x, **options: Any
) -> PerSigma:
    """Memorized share of samples of ``BandDenoiser(outside, inside, σ_lo, σ_hi)`` for each row
    ``(σ_lo, σ_hi)`` of ``bands (S, 2)``; ``sigmas`` of the result are the bands' upper edges.
    ``options`` as :func:`hybrid_memorization`'s."""
    b = np.asarray(bands, np.float64).reshape(-1, 2)
    if np.any(b[:, 0] > b[:, 1]):
        raise ValueError("each band must be (sigma_lo, sigma_hi) with sigma_lo <= sigma_hi")
    return _per_sigma(
        b[:, 1], _switch_memorization(outside, inside, b, train_x, band=True, **options)
    )


# --- copy ratio --------------------------------------------------------------------------------------


@jax.jit
def _copy_terms(model_a, model_b, optimal_a, states, sigmas):
    """Per σ and group: E‖D_A − D*_A‖², E‖D_B − D*_A‖², E‖D_A − D_B‖²  → (K, G, 3)."""

    def one(x, sigma):
        g, m = x.shape[0], x.shape[1]
        flat = x.reshape(g * m, *x.shape[2:])
        sig = jnp.full((g * m,), sigma, jnp.float32)
        da = model_a.denoise(flat, sig, None)
        db = model_b.denoise(flat, sig, None)
        ds = optimal_a.denoise(flat, sig, None)
        sq = lambda u: jnp.sum(u.reshape(g, m, -1) ** 2, axis=-1).mean(axis=1)
        return jnp.stack([sq(da - ds), sq(db - ds), sq(da - db)], axis=-1)

    return jax.lax.map(lambda a: one(*a), (states, sigmas))


@dataclasses.dataclass(frozen=True)
class CopyRatio:
    """Copy ratio per σ (see the module docstring): ``ratio`` (ratio of the group-mean
    numerator and denominator) with its standard error over groups, and the terms."""

    ratio: PerSigma
    numerator: PerSigma  # E‖D_A − D*_A‖²
    denominator: PerSigma  # E‖D_B − D*_A‖²
    a_vs_b: PerSigma  # E‖D_A − D_B‖²


def copy_ratio(
    model_a: Denoiser, model_b: Denoiser, optimal_a: Denoiser, states, sigmas
) -> CopyRatio:
    """``E‖D_A − D*_A‖² / E‖D_B − D*_A‖²`` per σ on ``states (K, G, m, d)`` at ``sigmas (K,)``.

    The ratio's standard error is the delta-method one of a ratio of group means.
    """
    s = np.asarray(states, np.float32)
    event = tuple(s.shape[3:]) if s.ndim >= 4 else None
    model_a, model_b, optimal_a = (
        as_denoiser(d, event, name=name)
        for name, d in (("model_a", model_a), ("model_b", model_b), ("optimal_a", optimal_a))
    )
    sig = np.asarray(sigmas, np.float64).reshape(-1)
    if s.ndim < 4 or s.shape[0] != sig.size:
        raise ValueError(f"states must be (K={sig.size}, groups, m, ...), got {s.shape}")
    if not (np.all(np.isfinite(sig)) and np.all(sig > 0)):
        raise ValueError("sigmas must all be finite and > 0")
    t = np.asarray(
        _copy_terms(model_a, model_b, optimal_a, jnp.asarray(s), jnp.asarray(sig, jnp.float32)),
        np.float64,
    )
    num, den, ab = (_per_sigma(sig, t[..., j]) for j in range(3))
    ratio_mean = num.mean / np.maximum(den.mean, 1e-30)
    n = t.shape[1]
    if n > 1:
        centred = t[..., :2] - t[..., :2].mean(axis=1, keepdims=True)
        cov = np.sum(centred[..., 0] * centred[..., 1], axis=1) / (n - 1) / n
        rel = (
            (num.se / np.maximum(num.mean, 1e-30)) ** 2
            + (den.se / np.maximum(den.mean, 1e-30)) ** 2
            - 2 * cov / np.maximum(num.mean * den.mean, 1e-30)
        )
        se = np.abs(ratio_mean) * np.sqrt(np.maximum(rel, 0.0))
    else:
        se = np.full(sig.size, np.nan)
    groups = t[..., 0] / np.maximum(t[..., 1], 1e-30)
    return CopyRatio(PerSigma(sig, ratio_mean, se, groups), num, den, ab)


# --- two-sample classifier AUC ------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnames=("k",))
def _knn_scores(a, b, *, k: int):
    """Leave-one-out k-NN score (share of neighbours from ``a``) for the pooled ``a``, ``b``."""
    from toyflow.denoisers import _sq_dists

    pooled = jnp.concatenate([a, b])
    from_a = jnp.concatenate([jnp.ones(a.shape[0]), jnp.zeros(b.shape[0])])
    d2 = _sq_dists(pooled, pooled)
    d2 = jnp.where(jnp.eye(pooled.shape[0], dtype=bool), jnp.inf, d2)  # leave one out
    _, nb = jax.lax.top_k(-d2, k)
    score = from_a[nb].mean(axis=1)
    return score[: a.shape[0]], score[a.shape[0] :]


def _auc(score_a, score_b, weight_a):
    """Mann–Whitney AUC with ties counted ½; rows of ``a`` weighted by ``weight_a``."""
    gt = (score_a[:, None] > score_b[None, :]).astype(jnp.float32)
    eq = (score_a[:, None] == score_b[None, :]).astype(jnp.float32)
    per_a = jnp.mean(gt + 0.5 * eq, axis=1)
    return jnp.sum(per_a * weight_a) / jnp.maximum(jnp.sum(weight_a), 1e-30)


@functools.partial(jax.jit, static_argnames=("k",))
def _auc_per_sigma(a, b, weights, *, k: int):
    """``a (K, n, d)``, ``b (K, m, d)``, ``weights (W, n)`` → AUC ``(K, W)``."""

    def one(pair):
        sa, sb = _knn_scores(pair[0], pair[1], k=k)
        return jax.vmap(lambda w: _auc(sa, sb, w))(weights)

    return jax.lax.map(one, (a, b))


def hanley_mcneil_se(auc, n_a, n_b):
    """Standard error of an AUC from ``n_a`` and ``n_b`` scores (Hanley & McNeil, 1982)."""
    a = np.clip(np.asarray(auc, np.float64), 1e-9, 1 - 1e-9)
    n_a = np.asarray(n_a, np.float64)
    q1, q2 = a / (2 - a), 2 * a**2 / (1 + a)
    var = (a * (1 - a) + (n_a - 1) * (q1 - a**2) + (n_b - 1) * (q2 - a**2)) / np.maximum(
        n_a * n_b, 1
    )
    return np.sqrt(np.maximum(var, 0.0))


@dataclasses.dataclass(frozen=True)
class AUCResult:
    """Per σ (``(K,)`` arrays, or ``(K, W)`` with ``W`` subsets of the first set): the AUC, its
    Hanley–McNeil standard error and 95 % interval, and the subset sizes."""

    sigmas: np.ndarray
    auc: np.ndarray
    se: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    n_a: np.ndarray
    n_b: int


def two_sample_auc(a, b, sigmas, *, k: int = 15, subsets=None) -> AUCResult:
    """Cross-validated (leave-one-out k-NN) AUC of telling ``a`` from ``b``, per σ.

    Args:
      a: ``(K, n, d)`` first set per σ (e.g. trajectory states); images ``(K, n, H, W, C)``
        are compared as flattened vectors.
      b: ``(K, m, d)`` second set per σ (e.g. noisy training samples); use ``m ≈ n``.
      sigmas: ``(K,)`` the σ of each slice (carried into the result).
      k: neighbours per point.
      subsets: optional ``(W, n)`` booleans: also score only the rows of ``a`` in each subset
        against all of ``b`` (e.g. trajectories that end memorized / novel), with the classifier
        fitted on all of ``a``. The result's arrays are then ``(K, W)``.
    """
    a_ = np.asarray(a, np.float32)
    b_ = np.asarray(b, np.float32)
    if a_.ndim > 3 and b_.ndim > 3:  # images: classify flattened pixel vectors
        a_ = a_.reshape(a_.shape[0], a_.shape[1], -1)
        b_ = b_.reshape(b_.shape[0], b_.shape[1], -1)
    if a_.ndim != 3 or b_.ndim != 3 or a_.shape[0] != b_.shape[0] or a_.shape[2] != b_.shape[2]:
        raise ValueError(f"a and b must be (K, n, d) and (K, m, d), got {a_.shape} and {b_.shape}")
    if not (np.all(np.isfinite(a_)) and np.all(np.isfinite(b_))):
        raise ValueError("a and b must be finite")
    n, m = a_.shape[1], b_.shape[1]
    if n < 2 or m < 2:
        raise ValueError("each set needs at least 2 points")
    k = check_int(k, "k", 1, n + m - 2)
    w = np.ones((1, n), bool) if subsets is None else np.asarray(subsets, bool).reshape(-1, n)
    auc = np.asarray(
        _auc_per_sigma(jnp.asarray(a_), jnp.asarray(b_), jnp.asarray(w, jnp.float32), k=k),
        np.float64,
    )
    n_a = w.sum(axis=1)[None, :] * np.ones_like(auc)
    auc = np.where(n_a > 0, auc, np.nan)
    se = hanley_mcneil_se(auc, n_a, m)
    if subsets is None:
        auc, se, n_a = auc[:, 0], se[:, 0], n_a[:, 0]
    return AUCResult(
        np.asarray(sigmas, np.float64).reshape(-1),
        auc,
        se,
        np.clip(auc - 1.96 * se, 0, 1),
        np.clip(auc + 1.96 * se, 0, 1),
        n_a,
        m,
    )


def train_likeness(auc, auc_fresh, *, min_separation: float = 0.05) -> np.ndarray:
    """``(AUC_fresh − AUC) / (AUC_fresh − ½)``: 0 = like fresh data, 1 = like noisy training
    data. NaN where fresh data themselves are within ``min_separation`` of ½ (no scale)."""
    auc = np.asarray(auc, np.float64)
    fresh = np.asarray(auc_fresh, np.float64)
    sep = fresh - 0.5
    sep = sep.reshape(sep.shape + (1,) * (auc.ndim - sep.ndim))
    fresh = fresh.reshape(sep.shape)
    return np.where(sep > min_separation, (fresh - auc) / np.where(sep > 0, sep, 1.0), np.nan)


__all__ = [
    "AUCResult",
    "CopyRatio",
    "PerSigma",
    "band_memorization",
    "copy_ratio",
    "grid",
    "group_states",
    "hanley_mcneil_se",
    "hybrid_memorization",
    "injection_memorization",
    "integrate_from",
    "noisy_starts",
    "train_likeness",
    "two_sample_auc",
]
