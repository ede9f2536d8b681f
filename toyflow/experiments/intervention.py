r"""``trajectory-intervention``: claim 3 tested by intervention, with a twin control.

The paper's claim 3: models overfit the denoising objective at intermediate σ, yet samples stay
novel because sampling trajectories rarely visit the region where the model overfits. This
experiment intervenes on the sampler instead of correlating along it (the measures are defined
in :mod:`toyflow.intervention`). For each setting and each replicate (a replicate redraws the
data and the training and sampling seeds):

- model **A** is trained on ``N`` points and its **twin B** on ``N`` *other* points from the
  same distribution, with the same settings;
- **injection**: noisy training points of A, noisy validation points, and A's own trajectory
  states are put at each σ_k of the 40-step sampling grid and integrated to σ = 0 by A; the
  same noisy-training starts are integrated by B (which never saw them). Memorized shares are
  read against the **fresh-data baseline**, the share of fresh draws (validation points) that
  pass the same nearest-point test;
- **copy ratio** ``E‖D_A − D*_A‖² / E‖D_B − D*_A‖²`` on trajectory states, noisy training and
  noisy validation points, with ``E‖D_A − D_B‖²`` beside it;
- **train-likeness**: a leave-one-out k-NN classifier's AUC of trajectory states against noisy
  training samples, per σ, overall and for trajectories that end memorized / novel, read
  against the AUC of noisy validation samples (fresh data); and the nearest-point overlap of
  ``metrics.trajectory_overlap``;
- **hybrid samplers**: ``HybridDenoiser(D*_A, A, σ_s)`` (the optimal denoiser above ``σ_s``,
  A below) and ``BandDenoiser(A, D*_A, ...)`` (D*_A only in a band of ``band_steps`` grid
  steps starting at ``σ_s``), for every switch ``σ_s`` of the grid.

Settings: ``random-circle`` (the radius-10 circle, uniform angles, 32 points per model) and
``learned-default`` (the 3 × 3 Gaussian mixture, 64 points per model); both train the MLP of
the learned experiments (width 128, depth 3, 6000 steps, Adam 2·10⁻³, batch 256).

Every per-σ array has shape ``(n_settings, n_sigma)`` (row ``i`` is ``config["setups"][i]``)
and comes with ``NAME_se`` (the standard error over replicates) and ``NAME_se_draws`` (the
noise-draw standard error within replicates, propagated to the replicate mean). They are
memorized_injected_train, memorized_injected_train_twin, memorized_injected_val,
memorized_from_trajectory, copy_ratio_trajectory, copy_ratio_train, copy_ratio_val,
a_vs_b_trajectory, a_vs_b_train, a_vs_b_val, auc, auc_memorized, auc_novel, auc_fresh,
train_likeness, train_likeness_memorized, train_likeness_novel, overlap, overlap_memorized,
overlap_novel, gap, hybrid_memorized, hybrid_band_memorized, and auc_ci_lo / auc_ci_hi (the
95 % interval of auc); sigmas and band_lo are ``(n_sigma,)``. NaN marks a value that is
undefined at that σ (a measure with nothing to compare there, or a standard error from a
single replicate).
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from toyflow import intervention as iv
from toyflow import metrics
from toyflow.datasets import make_dataset
from toyflow.denoisers import OptimalDenoiser
from toyflow.experiments._common import Outcome, Reporter, Settings, experiment
from toyflow.sampling import sample
from toyflow.schedules import sampling_sigmas

NAME = "trajectory-intervention"
DESCRIPTION = "claim 3 by intervention: injection with a twin control, copy ratio, AUC, hybrids"

#: The data of each setting: (data set, its parameters, training points per model, validation).
SETUPS: dict[str, dict[str, Any]] = {
    "random-circle": dict(data="circle", params={"layout": "random"}, n_train=32, n_val=500),
    "learned-default": dict(data="gaussian_mixture", params={}, n_train=64, n_val=1000),
}

#: Per-σ measures; each is written with ``_se`` and ``_se_draws`` companions.
PER_SIGMA = (
    "memorized_injected_train",
    "memorized_injected_train_twin",
    "memorized_injected_val",
    "memorized_from_trajectory",
    "copy_ratio_trajectory",
    "copy_ratio_train",
    "copy_ratio_val",
    "a_vs_b_trajectory",
    "a_vs_b_train",
    "a_vs_b_val",
    "auc",
    "auc_memorized",
    "auc_novel",
    "auc_fresh",
    "train_likeness",
    "train_likeness_memorized",
    "train_likeness_novel",
    "overlap",
    "overlap_memorized",
    "overlap_novel",
    "gap",
    "hybrid_memorized",
    "hybrid_band_memorized",
)


_QUICK = dict(
    n_train=32,  # one N for both settings: their compiled programs are shared
    width=32,
    steps=400,
    batch_size=128,
    sample_steps=16,
    n_traj=200,
    n_draws=4,
    n_inject_traj=64,
    n_auc=120,
    knn=10,
    n_hybrid=120,
    band_steps=2,
    n_overlap_noise=2,
    n_gap_noise=4,
    n_gap_val=64,
)


@dataclasses.dataclass(frozen=True)
class Measures(Settings):
    """The measurement settings both intervention experiments share (this one and
    ``image-trajectory-intervention``): replicates, sampler steps and the sizes of each
    measure."""

    replicates: int = 3
    sample_steps: int = 40
    n_traj: int = 1000
    n_draws: int = 8
    n_inject_traj: int = 256
    n_auc: int = 400
    knn: int = 15
    n_hybrid: int = 500
    band_steps: int = 4
    n_overlap_noise: int = 4
    n_gap_noise: int = 20
    n_gap_val: int = 256

    def check(self) -> None:
        if self.replicates < 2:
            raise ValueError(f"replicates must be >= 2 (standard errors), got {self.replicates}")
        if self.sample_steps < 2:
            raise ValueError(f"sample_steps must be >= 2, got {self.sample_steps}")
        for name in ("n_traj", "n_inject_traj", "n_hybrid"):
            if int(getattr(self, name)) < 2 * self.n_draws:
                raise ValueError(f"{name} must be >= 2 × n_draws, got {getattr(self, name)}")
        if self.n_auc < 2 * self.knn or self.n_auc > self.n_traj:
            raise ValueError(f"n_auc must lie in [2 × knn, n_traj], got {self.n_auc}")
        if self.n_inject_traj > self.n_traj:
            raise ValueError(f"n_inject_traj must be <= n_traj, got {self.n_inject_traj}")


@dataclasses.dataclass(frozen=True)
class InterventionSettings(Measures, quick=_QUICK):
    """Settings of ``trajectory-intervention`` (``n_train = None``: each setting's own ``N``).
    ``quick()`` gives the ``--quick`` variant (about a minute on 2 idle CPU cores)."""

    setups: tuple[str, ...] = ("random-circle", "learned-default")
    data_seed: int = 0
    seed: int = 0
    n_train: int | None = None
    width: int = 128
    depth: int = 3
    steps: int = 6000
    batch_size: int = 256
    learning_rate: float = 2e-3

    def check(self) -> None:
        unknown = [u for u in self.setups if u not in SETUPS]
        if unknown:
            raise ValueError(f"setups must be among {', '.join(SETUPS)}; got {list(self.setups)}")
        super().check()
        if self.n_train is not None and self.n_train < 2:
            raise ValueError(
                f"n_train must be None (the setting's own) or >= 2, got {self.n_train}"
            )


# --- one replicate ------------------------------------------------------------------------------


def _train(train_x, s: InterventionSettings, seed: int):
    from toyflow.training import train

    r = train(
        train_x,
        width=s.width,
        depth=s.depth,
        steps=s.steps,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        seed=seed,
        n_snapshots=0,
    )
    return r.denoiser


def _noisy(clean, sigmas, n: int, seed: int) -> np.ndarray:
    """``n`` noisy copies ``y + σ n`` per σ, cycling through ``clean``: ``(K, n, d)``."""
    y = np.asarray(clean, np.float32)[np.arange(n) % len(clean)]
    return iv.noisy_starts(y, sigmas, 1, seed=seed)[:, 0]


def _overlaps(model, traj, grid_, train_x, masks, s, seed) -> list[np.ndarray]:
    """Nearest-point overlap (``metrics.trajectory_overlap``: noisy-training nearest distance
    over trajectory nearest distance, both in units of ``σ√d``) for the trajectories in each of
    ``masks``. The noisy-training side is the same for every subset."""
    ov = metrics.trajectory_overlap(
        model, traj, grid_, train_x, n_noise=s.n_overlap_noise, seed=seed
    )
    sig = np.asarray(grid_[:-1], float)
    t, n = traj[:-1].shape[:2]
    d = int(np.prod(traj.shape[2:]))
    dist, _ = metrics.nearest_neighbours(traj[:-1].reshape(t * n, d), train_x, k=1)
    scaled = dist[:, 0].reshape(t, n) / (sig[:, None] * np.sqrt(d))
    out = []
    for mask in masks:
        if mask.sum() < 1:
            out.append(np.full(t, np.nan))
            continue
        out.append(ov.noisy_nn_distance / np.maximum(scaled[:, mask].mean(axis=1), 1e-30))
    return out


def replicate(setup: str, r: int, s: InterventionSettings) -> dict[str, Any]:
    """Every measure for one replicate of one setting: ``{key: (mean (T,), se_draws (T,))}``
    plus scalars (``baseline``, ``memorized``)."""
    spec = SETUPS[setup]
    n = s.n_train if s.n_train is not None else spec["n_train"]
    data_seed = s.data_seed + r
    seed_a, seed_b = s.seed + 2 * r, s.seed + 2 * r + 1
    ds = make_dataset(spec["data"], 2 * n, spec["n_val"], seed=data_seed, **spec["params"])
    train_a, train_b, val = ds.train_x[:n], ds.train_x[n:], ds.val_x
    model_a = _train(train_a, s, seed_a)
    model_b = _train(train_b, s, seed_b)
    out = measure_pair(model_a, model_b, OptimalDenoiser(train_a), train_a, val, s, r, seed_a)
    out["seeds"] = dict(data_seed=data_seed, seed_a=seed_a, seed_b=seed_b)
    return out


def measure_pair(
    model_a, model_b, optimal_a, train_a, val, s: Measures, r: int, seed_a: int
) -> dict[str, Any]:
    """Every measure of one replicate, for a model A, its twin B and the optimal denoiser
    ``optimal_a`` of A's training set ``train_a`` (points ``(n, d)`` or images
    ``(n, H, W, C)``), with fresh data ``val``: ``{key: (mean (T,), se_draws (T,))}`` plus
    ``baseline``, ``memorized``, ``band_lo``, ``sigmas`` and ``n_train``."""
    n = len(train_a)

    grid_ = sampling_sigmas("edm", s.sample_steps)
    sig = grid_[:-1]
    idx = np.arange(len(sig))
    _, traj, _ = sample(
        model_a, s.n_traj, steps=s.sample_steps, seed=seed_a, return_trajectory=True
    )
    traj = np.asarray(traj)
    end_memorized = metrics.memorized_mask(traj[-1], train_a)
    out: dict[str, Any] = {}

    def put(key, ps):
        out[key] = (np.asarray(ps.mean, float), np.asarray(ps.se, float))

    # Injection at every grid σ (one vmapped call per start set and model).
    starts_train = iv.noisy_starts(train_a, sig, s.n_draws, seed=10_000 + r)
    starts_val = iv.noisy_starts(val[:n], sig, s.n_draws, seed=20_000 + r)
    starts_traj = iv.group_states(traj[:-1, : s.n_inject_traj], s.n_draws)
    for key, model, starts in (
        ("memorized_injected_train", model_a, starts_train),
        ("memorized_injected_train_twin", model_b, starts_train),
        ("memorized_injected_val", model_a, starts_val),
        ("memorized_from_trajectory", model_a, starts_traj),
    ):
        put(key, iv.injection_memorization(model, starts, idx, train_a, steps=s.sample_steps))

    # Copy ratio on the three kinds of states.
    for name, states in (
        ("trajectory", iv.group_states(traj[:-1], s.n_draws)),
        ("train", starts_train),
        ("val", starts_val),
    ):
        c = iv.copy_ratio(model_a, model_b, optimal_a, states, sig)
        put(f"copy_ratio_{name}", c.ratio)
        put(f"a_vs_b_{name}", c.a_vs_b)

    # Train-likeness: trajectory states (and noisy validation) against noisy training samples.
    a = traj[:-1, : s.n_auc]
    noisy_train = _noisy(train_a, sig, s.n_auc, seed=30_000 + r)
    noisy_val = _noisy(val, sig, s.n_auc, seed=40_000 + r)
    mem = end_memorized[: s.n_auc]
    subsets = np.stack([np.ones_like(mem), mem, ~mem])
    auc = iv.two_sample_auc(a, noisy_train, sig, k=s.knn, subsets=subsets)
    fresh = iv.two_sample_auc(noisy_val, noisy_train, sig, k=s.knn)
    for j, suffix in enumerate(("", "_memorized", "_novel")):
        out["auc" + suffix] = (auc.auc[:, j], auc.se[:, j])
        likeness = iv.train_likeness(auc.auc[:, j], fresh.auc)
        out["train_likeness" + suffix] = (likeness, np.full(len(sig), np.nan))
    out["auc_fresh"] = (fresh.auc, fresh.se)

    # Nearest-point overlap (metrics.trajectory_overlap), overall and split by the end.
    nan = np.full(len(sig), np.nan)
    masks = (np.ones(traj.shape[1], bool), end_memorized, ~end_memorized)
    overlaps = _overlaps(model_a, traj, grid_, train_a, masks, s, r)
    for suffix, ov in zip(("", "_memorized", "_novel"), overlaps):
        out["overlap" + suffix] = (ov, nan)

    curve = metrics.gap_curve(
        model_a, train_a, val[: s.n_gap_val], sig, n_noise=s.n_gap_noise, seed=seed_a
    )
    out["gap"] = (curve.gap, nan)

    # Hybrid samplers over every switch σ of the grid.
    hybrid_kw: dict[str, Any] = dict(
        n=s.n_hybrid, n_groups=s.n_draws, seed=50_000 + r, steps=s.sample_steps
    )
    hybrid = iv.hybrid_memorization(optimal_a, model_a, sig, train_a, **hybrid_kw)
    put("hybrid_memorized", hybrid)
    lo = sig[np.minimum(idx + s.band_steps - 1, len(sig) - 1)]
    bands = np.stack([lo, sig], axis=1)
    band = iv.band_memorization(model_a, optimal_a, bands, train_a, **hybrid_kw)
    put("hybrid_band_memorized", band)

    out["baseline"] = metrics.memorized_fraction(val, train_a)
    out["memorized"] = float(np.mean(end_memorized))
    out["band_lo"] = lo
    out["sigmas"] = sig
    out["n_train"] = n
    return out


# --- aggregation --------------------------------------------------------------------------------


def _combine(reps: list[dict[str, Any]], key: str):
    """Mean over replicates, its standard error over replicates, and the propagated
    within-replicate noise-draw standard error."""
    means = np.stack([r[key][0] for r in reps])
    draws = np.stack([r[key][1] for r in reps])
    n = means.shape[0]
    with warnings.catch_warnings():  # all-NaN columns (no scale, empty subsets) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(means, axis=0)
        count = np.sum(np.isfinite(means), axis=0)
        sd = np.nanstd(means, axis=0, ddof=1) if n > 1 else np.full(means.shape[1], np.nan)
        se = np.where(count > 1, sd / np.sqrt(np.maximum(count, 1)), np.nan)
        se_draws = np.sqrt(np.nansum(draws**2, axis=0)) / np.maximum(count, 1)
        se_draws = np.where(np.isfinite(draws).any(axis=0), se_draws, np.nan)
    return mean, se, se_draws


def _scalar(reps, key):
    v = np.asarray([r[key] for r in reps], float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v)))


def _crossing(sig, curve, level) -> float | None:
    """The largest σ at which ``curve`` (over decreasing σ) first reaches ``level``,
    interpolated in log σ; ``None`` if it never does."""
    c = np.asarray(curve, float)
    above = np.flatnonzero(c >= level)
    if above.size == 0:
        return None
    k = int(above[0])
    if k == 0:
        return float(sig[0])
    x0, x1 = np.log(sig[k - 1]), np.log(sig[k])
    y0, y1 = c[k - 1], c[k]
    t = (level - y0) / (y1 - y0) if y1 != y0 else 1.0
    return float(np.exp(x0 + t * (x1 - x0)))


def _at(sig, values, sigma) -> float:
    return float(np.asarray(values)[int(np.argmin(np.abs(np.log(sig) - np.log(sigma))))])


def _headline(sig, agg, base, memo) -> dict[str, Any]:
    gap = agg["gap"][0]
    k = int(np.nanargmax(gap))
    peak_sigma = float(sig[k])
    h: dict[str, Any] = {
        "baseline_memorized_fraction": base[0],
        "baseline_memorized_fraction_se": base[1],
        "model_memorized_fraction": memo[0],
        "model_memorized_fraction_se": memo[1],
        "peak_gap": float(gap[k]),
        "peak_sigma": peak_sigma,
    }
    for key in (
        "copy_ratio_trajectory",
        "copy_ratio_train",
        "copy_ratio_val",
        "auc",
        "auc_memorized",
        "auc_novel",
        "auc_fresh",
        "train_likeness",
        "train_likeness_memorized",
        "train_likeness_novel",
        "memorized_injected_train",
        "memorized_injected_train_twin",
        "memorized_injected_val",
    ):
        h[f"{key}_at_peak"] = float(agg[key][0][k])
        h[f"{key}_at_peak_se"] = float(agg[key][1][k])
    # Where injection starts to matter, and where A's excess over its twin is significant.
    tr, tr_se = agg["memorized_injected_train"][:2]
    tw, tw_se = agg["memorized_injected_train_twin"][:2]
    excess = tr - tw
    excess_se = np.sqrt(tr_se**2 + tw_se**2)
    significant = np.flatnonzero(excess > 2 * excess_se)
    h["max_excess_over_twin"] = float(np.max(excess))
    h["max_excess_over_twin_sigma"] = float(sig[int(np.argmax(excess))])
    h["excess_over_twin_significant_below_sigma"] = (
        float(sig[significant[0]]) if significant.size else None
    )
    h["injected_train_above_baseline_below_sigma"] = _crossing(
        sig, tr, base[0] + 0.5 * (1 - base[0])
    )
    # The hybrid (D* above the switch, A below): where memorization is decided.
    hyb = agg["hybrid_memorized"][0]
    h["hybrid_memorized_at_sigma_max"] = float(hyb[0])
    h["hybrid_memorized_at_sigma_min"] = float(hyb[-1])
    # Over decreasing switch σ the hybrid follows D* for longer; the switch at which it gets
    # halfway from A alone (switch at σ_max) to D* everywhere but the last step.
    midway = 0.5 * (hyb[0] + hyb[-1])
    h["hybrid_decision_sigma"] = _crossing(sig, hyb, midway) if hyb[-1] > hyb[0] else None
    band = agg["hybrid_band_memorized"][0]
    h["band_max_memorized"] = float(np.max(band))
    h["band_max_memorized_sigma"] = float(sig[int(np.argmax(band))])
    h["band_memorized_at_peak"] = _at(sig, band, peak_sigma)
    return h


@experiment(NAME, DESCRIPTION, family="learned", settings=InterventionSettings)
def trajectory_intervention(s: InterventionSettings, progress) -> Outcome:
    """Claim 3 by intervention (see the module docstring). Called as
    ``trajectory_intervention(*, quick=False, outdir=None, progress=None, **overrides)``; with
    ``outdir`` it writes ``trajectory-intervention.json`` and ``.png``; the result's
    ``wall_time`` is the runtime."""
    rep = Reporter(progress, len(s.setups) * s.replicates, NAME)
    per_setup: dict[str, list[dict[str, Any]]] = {}
    for setup in s.setups:
        reps = []
        for r in range(s.replicates):
            reps.append(replicate(setup, r, s))
            rep.advance(1, f"{setup} replicate {r + 1}/{s.replicates}")
        per_setup[setup] = reps
    return outcome(
        per_setup,
        {
            "setups": list(s.setups),
            "setup_data": {u: SETUPS[u] for u in s.setups},
            "sampler": "euler, EDM grid (toyflow.sampling_sigmas)",
        },
    )


def outcome(per_setup: dict[str, list[dict[str, Any]]], config: dict[str, Any]) -> Outcome:
    """Replicates of each setting (:func:`measure_pair`'s results, with ``seeds``) combined
    into the experiment's arrays, headline and checks; ``config`` is recorded (its ``setups``
    names the rows)."""
    setups = list(per_setup)
    arrays: dict[str, Any] = {}
    sig = per_setup[setups[0]][0]["sigmas"]
    headline: dict[str, Any] = {}
    for key in PER_SIGMA:
        stacked = [_combine(per_setup[u], key) for u in setups]
        arrays[key] = np.stack([m for m, _, _ in stacked])
        arrays[key + "_se"] = np.stack([e for _, e, _ in stacked])
        arrays[key + "_se_draws"] = np.stack([d for _, _, d in stacked])
    for i, setup in enumerate(setups):
        reps = per_setup[setup]
        agg = {k: (arrays[k][i], arrays[k + "_se"][i]) for k in PER_SIGMA}
        headline[setup] = _headline(sig, agg, _scalar(reps, "baseline"), _scalar(reps, "memorized"))
        headline[setup]["n_train"] = reps[0]["n_train"]
        headline[setup]["seeds"] = [r["seeds"] for r in reps]
    arrays["sigmas"] = sig
    arrays["band_lo"] = per_setup[setups[0]][0]["band_lo"]
    arrays["auc_ci_lo"] = np.clip(arrays["auc"] - 1.96 * arrays["auc_se"], 0, 1)
    arrays["auc_ci_hi"] = np.clip(arrays["auc"] + 1.96 * arrays["auc_se"], 0, 1)
    n_set, n_sig = len(setups), len(sig)
    shapes = {k: ["n_settings", "n_sigma"] for k in arrays if k not in ("sigmas", "band_lo")}
    shapes["sigmas"] = ["n_sigma"]
    shapes["band_lo"] = ["n_sigma"]
    checks = {}
    for i, setup in enumerate(setups):
        h = headline[setup]
        checks[f"{setup}: injected train memorized at least as often as injected validation"] = (
            bool(
                np.nanmean(arrays["memorized_injected_train"][i])
                >= np.nanmean(arrays["memorized_injected_val"][i])
            )
        )
        checks[f"{setup}: hybrid with D* everywhere but the last step memorizes most"] = bool(
            h["hybrid_memorized_at_sigma_min"] >= h["hybrid_memorized_at_sigma_max"]
        )
    return Outcome(
        arrays={k: (v, shapes[k]) for k, v in arrays.items()},
        dims=dict(n_settings=n_set, n_sigma=n_sig),
        headline=headline,
        checks=checks,
        config={"setups": setups, **config},
    )


# --- figure -------------------------------------------------------------------------------------


def _band(ax, x, values, label, color, ls="-"):
    mean = np.asarray(values[0], float)
    se = np.nan_to_num(np.asarray(values[1], float))
    ax.plot(x, mean, ls, color=color, label=label, lw=1.4)
    ax.fill_between(x, mean - se, mean + se, color=color, alpha=0.2, lw=0)


def figure_trajectory_intervention(result: dict):
    import matplotlib.pyplot as plt

    a = result["arrays"]
    setups = result["config"]["setups"]
    sig = np.asarray(a["sigmas"], float)
    fig, axes = plt.subplots(len(setups), 4, figsize=(16, 3.6 * len(setups)), squeeze=False)
    colors = ["C0", "C1", "C2", "C3", "C4", "C5"]
    for i, setup in enumerate(setups):
        h = result["headline"][setup]

        def g(k, i=i):
            return np.asarray(a[k], float)[i], np.asarray(a[k + "_se"], float)[i]

        ax = axes[i, 0]
        for j, (key, label) in enumerate(
            (
                ("memorized_injected_train", "noisy train → A"),
                ("memorized_injected_train_twin", "noisy train → twin B"),
                ("memorized_injected_val", "noisy validation → A"),
                ("memorized_from_trajectory", "A's own states → A"),
            )
        ):
            _band(ax, sig, g(key), label, colors[j])
        ax.axhline(h["baseline_memorized_fraction"], color="k", ls=":", lw=1, label="fresh data")
        ax.set_ylabel(f"{setup}\nmemorized after injection at σ")
        ax.set_title("injection memorization", fontsize=9)
        ax = axes[i, 1]
        _band(ax, sig, g("hybrid_memorized"), "D* above σ, A below", colors[4])
        _band(ax, sig, g("hybrid_band_memorized"), "D* only in a band from σ", colors[5])
        ax.axhline(h["baseline_memorized_fraction"], color="k", ls=":", lw=1, label="fresh data")
        ax.set_ylabel("memorized samples")
        ax.set_title("hybrid samplers (switch σ)", fontsize=9)
        ax = axes[i, 2]
        for j, (key, label) in enumerate(
            (
                ("copy_ratio_trajectory", "trajectory states"),
                ("copy_ratio_train", "noisy train"),
                ("copy_ratio_val", "noisy validation"),
            )
        ):
            _band(ax, sig, g(key), label, colors[j])
        ax.axhline(1.0, color="k", ls=":", lw=1)
        ax.set_ylabel("‖D_A − D*_A‖² / ‖D_B − D*_A‖²")
        ax.set_yscale("log")
        ax.set_title("copy ratio", fontsize=9)
        ax = axes[i, 3]
        for j, (key, label) in enumerate(
            (
                ("auc", "trajectory states"),
                ("auc_memorized", "… ending memorized"),
                ("auc_novel", "… ending novel"),
                ("auc_fresh", "noisy validation (fresh)"),
            )
        ):
            _band(ax, sig, g(key), label, colors[j])
        ax.axhline(0.5, color="k", ls=":", lw=1)
        ax.set_ylabel("AUC vs noisy training samples")
        ax.set_title("two-sample classifier (LOO k-NN)", fontsize=9)
        for ax in axes[i]:
            ax.set_xscale("log")
            ax.set_xlabel("σ")
            ax.axvline(h["peak_sigma"], color="grey", lw=0.8, ls="--")
            ax.legend(fontsize=6, loc="best")
    fig.suptitle(
        f"{result['name']}: mean ± s.e. over {result['config']['replicates']} replicates; "
        "dashed line: peak of A's train/validation gap",
        fontsize=10,
    )
    fig.tight_layout()
    return fig
