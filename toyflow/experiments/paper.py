r"""The paper's 2D toy experiments (Kollmann & Kaiser 2026; parameters read from the authors'
public code, see ``docs/theory.md``).

All use analytic denoisers, so they are exact up to Monte-Carlo noise in the noise draws:

- the optimal denoiser ``D*(x; σ) = Σ_i softmax_i(−‖x − y_i‖²/2σ²) y_i`` (memorizes), and
- the error-prone model ``y_δ(x, σ) = (δ² x + σ² D*(x; √(σ²+δ²))) / (σ² + δ²)``, the exact
  denoiser of the training set smoothed by ``N(0, δ² I)``; δ plays the role of model error.

Data: the symmetric circle (radius 10; ``2 n`` equidistant angles rotated by 0.01 of a turn,
alternately training and validation) unless stated. Gap curves use the 120-step EDM grid
(``σ ∈ [0.002, 80]``, ρ = 7) and 50 noise draws per point, reused for every σ:

    E_split(σ) = mean_{y, k} ‖D(y + σ n_k; σ) − y‖₂,     gap(σ) = (E_val − E_train) / E_train

**Uncertainty.** Every curve and headline number comes with ``NAME_se``, its standard error over
the Monte-Carlo draws: over the noise draws ``n_k`` for errors and gaps (the gap's by the delta
method; train and validation use independent draws), binomial for memorized fractions of the
samples, and a bootstrap over the samples for Fréchet distances. ``draws=N`` (``--draws N``)
sets the number of draws (``n_noise``, or ``n_samples`` where samples are the draws). The same
draws serve every σ and every row, so the rows' errors are correlated: one set of draws lifts or
lowers all curves together by up to about their standard error. A peak gap is the maximum over
σ of a noisy curve, but neighbouring σ share the draws, so that selection bias is small (below
0.001 at 50 draws on gap-vs-delta, see docs/results.md).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow import metrics
from toyflow.datasets import make_dataset
from toyflow.denoisers import ErrorProneDenoiser, OptimalDenoiser, autoguidance
from toyflow.experiments._common import Outcome, Reporter, Settings, experiment
from toyflow.experiments._eval import (
    GapRows,
    binomial_se,
    edm_gap_sigmas,
    gap_rows,
    is_intermediate,
    monotone,
    nearest_on_grid,
    peak_se,
    peaks,
)
from toyflow.fields import compare_fields, make_grid
from toyflow.sampling import sample
from toyflow.schedules import edm_sigmas


def _gap_arrays(name, axis, values, sigmas, rows: GapRows):
    """The arrays every gap experiment writes (with their shapes), and the peaks:
    ``(arrays, peak_gap, peak_gap_se, peak_sigma, peak indices)``."""
    peak_gap, peak_sigma, idx = peaks(sigmas, rows.gap)
    pk_se = peak_se(rows, idx)
    row, both = [axis], [axis, "n_sigma"]
    arrays = {
        name: (values, row),
        "sigmas": (sigmas, ["n_sigma"]),
        "gap": (rows.gap, both),
        "gap_se": (rows.gap_se, both),
        "e_train": (rows.e_train, both),
        "e_train_se": (rows.e_train_se, both),
        "e_val": (rows.e_val, both),
        "e_val_se": (rows.e_val_se, both),
        "peak_gap": (peak_gap, row),
        "peak_gap_se": (pk_se, row),
        "peak_sigma": (peak_sigma, row),
    }
    return arrays, peak_gap, pk_se, peak_sigma, idx


def _ratio_se(num: float, num_se: float, den: float, den_se: float) -> float:
    """Delta-method standard error of ``num / den`` (independent estimates)."""
    den = max(abs(den), 1e-12)
    return float(abs(num / den) * np.hypot(num_se / max(abs(num), 1e-12), den_se / den))


def _draws_note(result: dict) -> str:
    """Title suffix saying what the bands are."""
    cfg = result["config"]
    n = cfg.get("n_noise", cfg.get("n_samples"))
    return f"\n(bands: ± s.e. over {n} draws)" if n is not None else ""


# --- gap vs delta -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GapVsDelta(Settings, quick=dict(n_delta=6, sigma_steps=40, n_noise=10), draws="n_noise"):
    n_train: int = 10
    delta_max: float = 2.2
    delta_min: float = 1.2
    n_delta: int = 11
    sigma_steps: int = 120
    n_noise: int = 50
    seed: int = 0

    def check(self) -> None:
        if not 0 < self.delta_min < self.delta_max:
            raise ValueError(
                f"need 0 < delta_min < delta_max, got {self.delta_min}, {self.delta_max}"
            )


@experiment(
    "gap-vs-delta",
    "relative gap over σ for δ from 2.2 to 1.2 on the symmetric circle",
    family="paper",
    settings=GapVsDelta,
)
def gap_vs_delta(s: GapVsDelta, progress) -> Outcome:
    """Relative gap over σ for δ from 2.2 down to 1.2 on the symmetric circle (paper Fig. toy gap).

    Arrays (shapes):
      deltas ``(n_delta,)``, sigmas ``(n_sigma,)``,
      gap / e_train / e_val ``(n_delta, n_sigma)``, peak_gap / peak_sigma ``(n_delta,)``;
      each curve and peak_gap with ``NAME_se`` (standard error over the noise draws).
    Checks: the peak gap grows as δ shrinks; every peak lies at an intermediate σ.
    """
    data = make_dataset("circle", s.n_train, seed=s.seed)
    sigmas = edm_gap_sigmas(s.sigma_steps)
    deltas = np.linspace(s.delta_max, s.delta_min, s.n_delta)
    rep = Reporter(progress, len(deltas), "gap-vs-delta")
    optimal = OptimalDenoiser(data.train_x)
    models = [(f"δ={d:.2f}", ErrorProneDenoiser(optimal, d)) for d in deltas]
    rows = gap_rows(models, data.train_x, data.val_x, sigmas, s.n_noise, s.seed, rep, "δ")
    arrays, peak_gap, pk_se, peak_sigma, idx = _gap_arrays(
        "deltas", "n_delta", deltas, sigmas, rows
    )
    ratio = peak_gap[-1] / max(peak_gap[0], 1e-12)
    return Outcome(
        arrays=arrays,
        dims=dict(n_delta=len(deltas), n_sigma=len(sigmas)),
        headline={
            "peak_gap_at_delta_max": float(peak_gap[0]),
            "peak_gap_at_delta_max_se": float(pk_se[0]),
            "peak_gap_at_delta_min": float(peak_gap[-1]),
            "peak_gap_at_delta_min_se": float(pk_se[-1]),
            "peak_gap_ratio_min_over_max": float(ratio),
            "peak_gap_ratio_min_over_max_se": _ratio_se(
                peak_gap[-1], pk_se[-1], peak_gap[0], pk_se[0]
            ),
            "peak_sigma_range": [float(peak_sigma.min()), float(peak_sigma.max())],
        },
        checks={
            "peak_gap_grows_as_delta_shrinks": monotone(peak_gap, increasing=True),
            "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
        },
    )


def figure_gap_vs_delta(result: dict):
    from toyflow.plotting import plot_gap_curves

    a = result["arrays"]
    return plot_gap_curves(
        a["sigmas"],
        a["gap"],
        [f"{d:.2f}" for d in a["deltas"]],
        title=f"error-prone model on the symmetric circle{_draws_note(result)}",
        legend_title="δ",
        cmap="plasma",
        summary=(a["deltas"], a["peak_gap"], "δ", "peak gap"),
        errors=a.get("gap_se"),
        summary_errors=a.get("peak_gap_se"),
    )


# --- gap vs guidance --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GapVsGuidance(
    Settings,
    quick=dict(n_w=6, sigma_steps=40, n_noise=10, n_samples=300, sample_steps=20),
    draws="n_noise",
):
    n_train: int = 10
    delta_pos: float = 1.8
    delta_neg: float = 2.2
    w_max: float = 2.0
    n_w: int = 11
    sigma_steps: int = 120
    n_noise: int = 50
    n_samples: int = 1000
    sample_steps: int = 40
    seed: int = 0

    def check(self) -> None:
        if not 0 < self.delta_pos:
            raise ValueError(f"delta_pos must be > 0, got {self.delta_pos}")


@experiment(
    "gap-vs-guidance",
    "autoguidance (δ_pos 1.8, δ_neg 2.2) with w from 0 to 2",
    family="paper",
    settings=GapVsGuidance,
)
def gap_vs_guidance(s: GapVsGuidance, progress) -> Outcome:
    """Autoguidance ``D_pos + w (D_pos − D_neg)`` with δ_pos = 1.8, δ_neg = 2.2, w from 0 to 2.

    Arrays (shapes):
      ws ``(n_w,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val ``(n_w, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction ``(n_w,)`` (samples: Euler, 40 steps); each
      curve, peak_gap and memorized_fraction with ``NAME_se`` (standard error over the noise
      draws, binomial over the samples).
    Checks: the peak gap grows with w (guidance sharpens the field like a smaller δ); peaks sit
    at an intermediate σ.
    """
    data = make_dataset("circle", s.n_train, seed=s.seed)
    sigmas = edm_gap_sigmas(s.sigma_steps)
    ws = np.linspace(0.0, s.w_max, s.n_w)
    rep = Reporter(progress, 2 * len(ws), "gap-vs-guidance")
    optimal = OptimalDenoiser(data.train_x)
    pos = ErrorProneDenoiser(optimal, s.delta_pos)
    neg = ErrorProneDenoiser(optimal, s.delta_neg)
    guided = [(f"w={w:.1f}", autoguidance(pos, neg, w)) for w in ws]
    rows = gap_rows(guided, data.train_x, data.val_x, sigmas, s.n_noise, s.seed, rep, "w")
    mem: Any = []
    for name, d in guided:
        x = sample(d, s.n_samples, steps=s.sample_steps, seed=s.seed)
        mem.append(metrics.memorized_fraction(x, data.train_x))
        rep.advance(1, f"samples {name}")
    mem = np.asarray(mem)
    mem_se = binomial_se(mem, s.n_samples)
    arrays, peak_gap, pk_se, peak_sigma, idx = _gap_arrays("ws", "n_w", ws, sigmas, rows)
    return Outcome(
        arrays={
            **arrays,
            "memorized_fraction": (mem, ["n_w"]),
            "memorized_fraction_se": (mem_se, ["n_w"]),
        },
        dims=dict(n_w=len(ws), n_sigma=len(sigmas)),
        headline={
            "peak_gap_at_w0": float(peak_gap[0]),
            "peak_gap_at_w0_se": float(pk_se[0]),
            "peak_gap_at_w_max": float(peak_gap[-1]),
            "peak_gap_at_w_max_se": float(pk_se[-1]),
            "memorized_fraction_at_w0": float(mem[0]),
            "memorized_fraction_at_w0_se": float(mem_se[0]),
            "memorized_fraction_at_w_max": float(mem[-1]),
            "memorized_fraction_at_w_max_se": float(mem_se[-1]),
            "peak_sigma_range": [float(peak_sigma.min()), float(peak_sigma.max())],
        },
        checks={
            "peak_gap_grows_with_w": monotone(peak_gap, increasing=True),
            "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
        },
    )


def figure_gap_vs_guidance(result: dict):
    from toyflow.plotting import draw_gap_curves, panel_figure, plot_lines

    a = result["arrays"]
    fig, (ax0, ax1) = panel_figure(2, width=4.6)
    draw_gap_curves(
        ax0,
        a["sigmas"],
        a["gap"],
        [f"{w:.1f}" for w in a["ws"]],
        cmap="cividis",
        legend_title="w",
        errors=a.get("gap_se"),
    )
    ax0.set_title(f"autoguidance, δ_pos 1.8 / δ_neg 2.2{_draws_note(result)}", fontsize=9)
    errors = {
        "peak gap": a.get("peak_gap_se"),
        "memorized fraction": a.get("memorized_fraction_se"),
    }
    plot_lines(
        a["ws"],
        {"peak gap": a["peak_gap"], "memorized fraction": a["memorized_fraction"]},
        xlabel="guidance weight w",
        ax=ax1,
        errors={k: v for k, v in errors.items() if v is not None},
    )
    return fig


# --- gap vs density ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GapVsDensity(
    Settings, quick=dict(sigma_steps=40, n_noise=10, sizes=(8, 10, 12, 15)), draws="n_noise"
):
    n_min: int = 8
    n_max: int = 15
    sizes: tuple[int, ...] | None = None  # training-set sizes; None: every n from n_min to n_max
    delta: float = 1.6
    sigma_steps: int = 120
    n_noise: int = 50
    seed: int = 0

    def check(self) -> None:
        if self.n_min > self.n_max:
            raise ValueError(f"n_min ({self.n_min}) must be <= n_max ({self.n_max})")
        if self.sizes is not None and (
            not self.sizes or min(self.sizes) < 1 or list(self.sizes) != sorted(set(self.sizes))
        ):
            raise ValueError(f"sizes must be increasing whole numbers >= 1, got {self.sizes}")

    def replace(self, **changes):
        if ("n_min" in changes or "n_max" in changes) and "sizes" not in changes:
            changes["sizes"] = None  # a new range replaces quick mode's subset of sizes
        return super().replace(**changes)


@experiment(
    "gap-vs-density",
    "relative gap for 8 to 15 training points at δ = 1.6",
    family="paper",
    settings=GapVsDensity,
)
def gap_vs_density(s: GapVsDensity, progress) -> Outcome:
    """Relative gap for 8 … 15 training points (16 … 30 on the symmetric circle) at δ = 1.6.

    Arrays (shapes):
      n_train ``(n_sizes,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val ``(n_sizes, n_sigma)``,
      peak_gap / peak_sigma ``(n_sizes,)``; each curve and peak_gap with ``NAME_se`` (standard
      error over the noise draws).
    Checks: more training points shrink the peak gap; peaks at intermediate σ.
    """
    sizes = np.arange(s.n_min, s.n_max + 1) if s.sizes is None else np.asarray(s.sizes)
    sigmas = edm_gap_sigmas(s.sigma_steps)
    rep = Reporter(progress, len(sizes), "gap-vs-density")
    rows = []
    for n in sizes:
        data = make_dataset("circle", int(n), seed=s.seed)
        model = ErrorProneDenoiser(data.train_x, s.delta)
        rows.append(
            gap_rows(
                [(f"{n}", model)], data.train_x, data.val_x, sigmas, s.n_noise, s.seed, rep, "n ="
            )
        )
    arrays, peak_gap, pk_se, peak_sigma, idx = _gap_arrays(
        "n_train", "n_sizes", sizes, sigmas, GapRows.concat(rows)
    )
    return Outcome(
        arrays=arrays,
        dims=dict(n_sizes=len(sizes), n_sigma=len(sigmas)),
        config=dict(sizes=sizes.tolist()),
        headline={
            "peak_gap_at_fewest_points": float(peak_gap[0]),
            "peak_gap_at_fewest_points_se": float(pk_se[0]),
            "peak_gap_at_most_points": float(peak_gap[-1]),
            "peak_gap_at_most_points_se": float(pk_se[-1]),
            "peak_sigma_at_fewest_points": float(peak_sigma[0]),
            "peak_sigma_at_most_points": float(peak_sigma[-1]),
        },
        checks={
            "more_points_shrink_the_gap": monotone(peak_gap, increasing=False),
            "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
        },
    )


def figure_gap_vs_density(result: dict):
    from toyflow.plotting import plot_gap_curves

    a = result["arrays"]
    return plot_gap_curves(
        a["sigmas"],
        a["gap"],
        [str(int(n)) for n in a["n_train"]],
        title=f"δ = 1.6, symmetric circle{_draws_note(result)}",
        legend_title="training points",
        summary=(a["n_train"], a["peak_gap"], "training points", "peak gap"),
        errors=a.get("gap_se"),
        summary_errors=a.get("peak_gap_se"),
    )


# --- flow fields --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlowFields(
    Settings, quick=dict(resolution=20, n_samples=200, sample_steps=20), draws="n_samples"
):
    n_train: int = 10
    sigma_targets: tuple[float, ...] = (28.0, 2.8, 0.63)
    delta: float = 1.6
    resolution: int = 50
    extent: float = 17.5
    n_samples: int = 1000
    sample_steps: int = 40
    seed: int = 0


@experiment(
    "flow-fields",
    "optimal flow field at σ ≈ 28, 2.8, 0.63 beside the δ model",
    family="paper",
    settings=FlowFields,
)
def flow_fields(s: FlowFields, progress) -> Outcome:
    """The optimal flow field at σ ≈ 28, 2.8, 0.63 (40-step EDM grid values) on a 50 × 50 grid
    over ``[−17.5, 17.5]²``, with the δ model beside it and their difference.

    Arrays (shapes):
      sigmas ``(n_sigma,)``, grid_x / grid_y ``(r,)``,
      optimal_displacement / model_displacement ``(n_sigma, r, r, 2)`` (``D(x; σ) − x``),
      difference_norm ``(n_sigma, r, r)`` (``‖D_δ − D*‖``),
      optimal_region / model_region ``(n_sigma, r, r)`` (1 where ``‖D(x; σ) − x‖ ≤ σ``),
      optimal_samples / model_samples ``(n_samples, 2)``, train_x / val_x ``(n_train, 2)``,
      optimal_memorized / model_memorized ``(n_samples,)`` (1 = memorized).
    The fields are exact (no draws); the memorized fractions in the headline carry ``_se``
    (binomial over the samples).
    """
    data = make_dataset("circle", s.n_train, seed=s.seed)
    sigmas = nearest_on_grid(s.sigma_targets, edm_sigmas(40))
    rep = Reporter(progress, len(sigmas) + 2, "flow-fields")
    optimal = OptimalDenoiser(data.train_x)
    model = ErrorProneDenoiser(optimal, s.delta)
    grid = make_grid(s.extent, s.resolution)
    cmps = []
    for sig in sigmas:
        cmps.append(
            compare_fields(model, optimal, float(sig), extent=s.extent, resolution=s.resolution)
        )
        rep.advance(1, f"σ = {sig:.3g}")
    samples, mems = {}, {}
    for key, d in (("optimal", optimal), ("model", model)):
        x = np.asarray(sample(d, s.n_samples, steps=s.sample_steps, seed=s.seed))
        samples[key] = x
        mems[key] = metrics.memorized_mask(x, data.train_x)
        rep.advance(1, f"samples {key}")
    field, cells, pts = ["n_sigma", "r", "r"], ["n_samples"], ["n_train", 2]
    arrays = {
        "sigmas": (sigmas, ["n_sigma"]),
        "grid_x": (grid.xs, ["r"]),
        "grid_y": (grid.ys, ["r"]),
        "optimal_displacement": ([c.reference.displacement for c in cmps], [*field, 2]),
        "model_displacement": ([c.model.displacement for c in cmps], [*field, 2]),
        "difference_norm": ([c.difference_norm for c in cmps], field),
        "optimal_region": (np.asarray([c.reference.region for c in cmps], np.int8), field),
        "model_region": (np.asarray([c.model.region for c in cmps], np.int8), field),
        "optimal_samples": (samples["optimal"], [*cells, 2]),
        "model_samples": (samples["model"], [*cells, 2]),
        "optimal_memorized": (mems["optimal"].astype(np.int8), cells),
        "model_memorized": (mems["model"].astype(np.int8), cells),
        "train_x": (data.train_x, pts),
        "val_x": (data.val_x, pts),
    }
    headline = {
        "sigmas": sigmas.tolist(),
        "delta": s.delta,
        "optimal_region_fraction": [float(np.mean(c.reference.region)) for c in cmps],
        "model_region_fraction": [float(np.mean(c.model.region)) for c in cmps],
        "mean_difference_over_sigma": [
            float(np.mean(c.difference_norm) / sg) for c, sg in zip(cmps, sigmas)
        ],
        "optimal_memorized_fraction": float(np.mean(mems["optimal"])),
        "optimal_memorized_fraction_se": float(binomial_se(np.mean(mems["optimal"]), s.n_samples)),
        "model_memorized_fraction": float(np.mean(mems["model"])),
        "model_memorized_fraction_se": float(binomial_se(np.mean(mems["model"]), s.n_samples)),
    }
    return Outcome(
        arrays=arrays,
        dims=dict(n_sigma=len(sigmas), r=s.resolution, n_samples=s.n_samples, n_train=s.n_train),
        config=dict(grid_cells=grid.points.shape[0]),
        headline=headline,
        checks={"optimal_memorizes": headline["optimal_memorized_fraction"] > 0.9},
    )


def _fields_from_arrays(a, key):
    from toyflow.fields import FlowField, Grid

    xs, ys = np.asarray(a["grid_x"], np.float32), np.asarray(a["grid_y"], np.float32)
    gx, gy = np.meshgrid(xs, ys)
    grid = Grid(xs, ys, np.stack([gx.ravel(), gy.ravel()], 1))
    pts = grid.points.reshape(len(ys), len(xs), 2)
    return [FlowField(float(sg), grid, pts + np.asarray(d)) for sg, d in zip(a["sigmas"], a[key])]


def figure_flow_fields(result: dict):
    from toyflow.plotting import plot_field_grid

    a = result["arrays"]
    opt, mod = (
        _fields_from_arrays(a, "optimal_displacement"),
        _fields_from_arrays(a, "model_displacement"),
    )
    delta = result["config"]["delta"]
    fig = plot_field_grid(
        [opt, mod],
        row_labels=["optimal D*", f"δ = {delta:g}"],
        col_labels=[f"σ = {s:.3g}" for s in a["sigmas"]],
        train_x=a["train_x"],
        val_x=a["val_x"],
        difference_row=list(zip(mod, opt)),
        title="flow fields D(x; σ) − x (shaded: ‖D − x‖ ≤ σ)",
    )
    # The memorized fractions of both models' samples go into the title.
    h = result["headline"]
    fig.suptitle(
        f"flow fields D(x; σ) − x (shaded: ‖D − x‖ ≤ σ); memorized samples: optimal "
        f"{100 * h['optimal_memorized_fraction']:.0f}%, δ model "
        f"{100 * h['model_memorized_fraction']:.0f}%",
        fontsize=10,
    )
    return fig


# --- error vs angle -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ErrorVsAngle(Settings, quick=dict(n_angles=60, n_noise=10), draws="n_noise"):
    n_train: int = 10
    sigma_target: float = 1.0
    deltas: tuple[float, ...] = (2.0, 1.6, 1.2)
    n_angles: int = 200
    n_noise: int = 50
    seed: int = 0


def _errors_at(denoiser, points, sigma, n_noise, seed):
    """Per draw and point ``‖D(y + σ n_k; σ) − y‖``: ``points (m, 2)`` → ``(n_noise, m)``."""
    noise = jax.random.normal(jax.random.PRNGKey(seed), (n_noise,) + points.shape)
    x = (jnp.asarray(points)[None] + sigma * noise).reshape(-1, points.shape[1])
    den = np.asarray(denoiser(x, np.float32(sigma))).reshape(n_noise, *points.shape)
    return np.linalg.norm(den - points[None], axis=-1)


def _se(per_draw, axis=0) -> np.ndarray:
    """Standard error of the mean over ``axis`` (the draws)."""
    v = np.asarray(per_draw, np.float64)
    return v.std(axis=axis, ddof=1) / np.sqrt(v.shape[axis])


@experiment(
    "error-vs-angle",
    "denoising error along the circle between training points",
    family="paper",
    settings=ErrorVsAngle,
)
def error_vs_angle(s: ErrorVsAngle, progress) -> Outcome:
    """Denoising error along the circle (the data manifold) at σ ≈ 1.0, for δ ∈ {2.0, 1.6, 1.2}
    and the optimal denoiser: small at training angles, large between them.

    Arrays (shapes):
      angles ``(n_angles,)``, error ``(n_delta, n_angles)``, optimal_error ``(n_angles,)``,
      deltas ``(n_delta,)``, train_angles ``(n_train,)``, val_angles ``(n_train,)``,
      error_at_train / error_at_val ``(n_delta,)`` (interpolated at those angles); error,
      optimal_error, error_at_train, error_at_val and contrast ``(n_delta,)`` (their ratio)
      with ``NAME_se`` (standard error over the noise draws).
    Checks: for every δ the error between training points exceeds the error at them, and the
    contrast grows as δ shrinks.
    """
    data = make_dataset("circle", s.n_train, seed=s.seed)
    sigma = float(nearest_on_grid([s.sigma_target], edm_sigmas(120))[0])
    radius = float(data.params["radius"])
    # The angle grid is shifted to the data's rotation, so training angles lie on it.
    step = 2 * np.pi / s.n_angles
    angles = np.mod(np.arctan2(data.train_x[0, 1], data.train_x[0, 0]), step)
    angles = angles + step * np.arange(s.n_angles)
    points = radius * np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    deltas = np.asarray(s.deltas, float)
    rep = Reporter(progress, len(deltas) + 1, "error-vs-angle")
    optimal = OptimalDenoiser(data.train_x)
    per: Any = []
    for d in deltas:
        per.append(_errors_at(ErrorProneDenoiser(optimal, d), points, sigma, s.n_noise, s.seed))
        rep.advance(1, f"δ = {d:g}")
    opt_per = _errors_at(optimal, points, sigma, s.n_noise, s.seed)
    rep.advance(1, "optimal")
    per = np.asarray(per)  # (n_delta, n_noise, n_angles)
    errors, errors_se = per.mean(axis=1), _se(per, axis=1)
    opt_err, opt_se = opt_per.mean(axis=0), _se(opt_per)
    train_angles = np.mod(np.arctan2(data.train_x[:, 1], data.train_x[:, 0]), 2 * np.pi)
    val_angles = np.mod(np.arctan2(data.val_x[:, 1], data.val_x[:, 0]), 2 * np.pi)

    def per_draw_at(draws, ang):  # (..., n_noise, n_angles) -> (..., n_noise)
        return np.mean(
            np.apply_along_axis(lambda e: np.interp(ang, angles, e, period=2 * np.pi), -1, draws),
            axis=-1,
        )

    def at(err, ang):
        return float(np.mean(np.interp(ang, angles, err, period=2 * np.pi)))

    tr_draws, va_draws = per_draw_at(per, train_angles), per_draw_at(per, val_angles)
    e_train, e_train_se = tr_draws.mean(axis=1), _se(tr_draws, axis=1)
    e_val, e_val_se = va_draws.mean(axis=1), _se(va_draws, axis=1)
    contrast = e_val / np.maximum(e_train, 1e-12)
    contrast_se = np.array(
        [_ratio_se(*v) for v in zip(e_val, e_val_se, e_train, e_train_se)], np.float64
    )
    headline = {
        "sigma": sigma,
        "error_at_train_angles": dict(zip([f"{d:g}" for d in deltas], e_train.tolist())),
        "error_between_train_angles": dict(zip([f"{d:g}" for d in deltas], e_val.tolist())),
        "contrast_val_over_train": dict(zip([f"{d:g}" for d in deltas], contrast.tolist())),
        "contrast_val_over_train_se": dict(zip([f"{d:g}" for d in deltas], contrast_se.tolist())),
        "optimal_error_at_train_angles": at(opt_err, train_angles),
        "optimal_error_between_train_angles": at(opt_err, val_angles),
    }
    order = np.argsort(-deltas)  # from large δ to small δ
    checks = {
        "error_larger_between_training_points": bool(np.all(e_val > e_train)),
        "contrast_grows_as_delta_shrinks": monotone(contrast[order], increasing=True),
    }
    return Outcome(
        arrays={
            "angles": (angles, ["n_angles"]),
            "error": (errors, ["n_delta", "n_angles"]),
            "error_se": (errors_se, ["n_delta", "n_angles"]),
            "optimal_error": (opt_err, ["n_angles"]),
            "optimal_error_se": (opt_se, ["n_angles"]),
            "deltas": (deltas, ["n_delta"]),
            "train_angles": (train_angles, ["n_train"]),
            "val_angles": (val_angles, ["n_train"]),
            "error_at_train": (e_train, ["n_delta"]),
            "error_at_train_se": (e_train_se, ["n_delta"]),
            "error_at_val": (e_val, ["n_delta"]),
            "error_at_val_se": (e_val_se, ["n_delta"]),
            "contrast": (contrast, ["n_delta"]),
            "contrast_se": (contrast_se, ["n_delta"]),
        },
        dims=dict(n_angles=len(angles), n_delta=len(deltas), n_train=s.n_train),
        config=dict(sigma=sigma),
        headline=headline,
        checks=checks,
    )


def figure_error_vs_angle(result: dict):
    from toyflow.plotting import panel_figure

    a = result["arrays"]
    fig, (ax,) = panel_figure(1, width=7.0, height=3.6)
    ang = np.degrees(a["angles"])
    colors = ["#440154", "#21918c", "#fde725", "#e76f51"]
    bands = "error_se" in a
    for i, d in enumerate(a["deltas"]):
        ax.plot(ang, a["error"][i], lw=1.3, color=colors[i % 4], label=f"δ = {d:g}")
        if bands:
            e, se = np.asarray(a["error"][i]), np.asarray(a["error_se"][i])
            ax.fill_between(ang, e - se, e + se, color=colors[i % 4], alpha=0.25, lw=0)
    ax.plot(ang, a["optimal_error"], "k--", lw=1.0, label="optimal D*")
    if bands:
        e, se = np.asarray(a["optimal_error"]), np.asarray(a["optimal_error_se"])
        ax.fill_between(ang, e - se, e + se, color="k", alpha=0.15, lw=0)
    for t in np.degrees(a["train_angles"]):
        ax.axvline(t, color="#d62728", lw=0.6, alpha=0.6)
    for v in np.degrees(a["val_angles"]):
        ax.axvline(v, color="#1f77b4", lw=0.6, alpha=0.4, ls=":")
    ax.set_xlabel("angle on the circle (degrees); red: training, blue: validation")
    ax.set_ylabel("mean ‖D(y + σn; σ) − y‖")
    ax.set_title(
        f"denoising error along the manifold, σ = {result['config']['sigma']:.3g}"
        f"{_draws_note(result) if bands else ''}",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    return fig


# --- Frechet distance vs delta -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FdVsDelta(
    Settings,
    quick=dict(n_points=400, n_delta=4, n_samples=300, sample_steps=20, n_boot=20),
    draws="n_samples",
):
    n_points: int = 1000
    delta_max: float = 3.0
    delta_min: float = 0.1
    n_delta: int = 7
    n_samples: int = 1000
    sample_steps: int = 40
    n_boot: int = 100  # bootstrap resamples of the samples for the Fréchet standard errors
    seed: int = 0

    def check(self) -> None:
        if self.n_boot < 2:
            raise ValueError(f"n_boot must be >= 2, got {self.n_boot}")
        if self.n_points < 4:
            raise ValueError(
                f"n_points must be >= 4 (half train, half validation), got {self.n_points}"
            )
        if not 0 < self.delta_min < self.delta_max:
            raise ValueError(
                f"need 0 < delta_min < delta_max, got {self.delta_min}, {self.delta_max}"
            )


@experiment(
    "fd-vs-delta",
    "Fréchet distance of samples to train and validation as δ shrinks",
    family="paper",
    settings=FdVsDelta,
)
def fd_vs_delta(s: FdVsDelta, progress) -> Outcome:
    """Fréchet distance of generated samples to the training and to the validation set as δ
    shrinks (random circle, 1000 points, half training, 1000 samples, Euler 40 steps).

    Arrays (shapes):
      deltas ``(n_delta,)``, fd_train / fd_val / relative_overfit / memorized_fraction
      ``(n_delta,)``, each with ``NAME_se`` (bootstrap over the samples for the Fréchet
      distances, binomial for the memorized fraction); the optimal denoiser's values are in
      the headline.
    """
    n_train = s.n_points // 2
    data = make_dataset("circle", n_train, s.n_points - n_train, seed=s.seed, layout="random")
    deltas = np.linspace(s.delta_max, s.delta_min, s.n_delta)
    rep = Reporter(progress, len(deltas) + 1, "fd-vs-delta")
    optimal = OptimalDenoiser(data.train_x)
    rows: Any = []
    boot_se: Any = []
    boot = np.random.default_rng(s.seed).integers(0, s.n_samples, (s.n_boot, s.n_samples))
    keys = ("fd_train", "fd_val", "relative_overfit")
    for d in list(deltas) + [0.0]:
        den = optimal if d == 0.0 else ErrorProneDenoiser(optimal, d)
        x = np.asarray(sample(den, s.n_samples, steps=s.sample_steps, seed=s.seed))
        fd = metrics.sample_overfit(x, data.train_x, data.val_x)
        rows.append((*(fd[k] for k in keys), metrics.memorized_fraction(x, data.train_x)))
        resampled = [metrics.sample_overfit(x[b], data.train_x, data.val_x) for b in boot]
        boot_se.append([np.std([r[k] for r in resampled], ddof=1) for k in keys])
        rep.advance(1, f"δ = {d:g}")
    rows = np.asarray(rows)
    fd_tr, fd_va, rel, mem = rows[:-1].T
    fd_tr_se, fd_va_se, rel_se = np.asarray(boot_se)[:-1].T
    mem_se = binomial_se(mem, s.n_samples)
    baseline = metrics.memorized_fraction(data.val_x, data.train_x)
    headline = {
        "fd_train_at_delta_max": float(fd_tr[0]),
        "fd_val_at_delta_max": float(fd_va[0]),
        "fd_train_at_delta_min": float(fd_tr[-1]),
        "fd_train_at_delta_min_se": float(fd_tr_se[-1]),
        "fd_val_at_delta_min": float(fd_va[-1]),
        "fd_val_at_delta_min_se": float(fd_va_se[-1]),
        "relative_overfit_at_delta_min": float(rel[-1]),
        "relative_overfit_at_delta_min_se": float(rel_se[-1]),
        "memorized_fraction_at_delta_max": float(mem[0]),
        "memorized_fraction_at_delta_min": float(mem[-1]),
        "optimal_fd_train": float(rows[-1, 0]),
        "optimal_fd_val": float(rows[-1, 1]),
        "optimal_memorized_fraction": float(rows[-1, 3]),
        "validation_memorized_fraction": float(baseline),
        "fd_train_vs_val_sets": float(metrics.frechet_distance(data.train_x, data.val_x)),
    }
    row = ["n_delta"]
    return Outcome(
        arrays={
            "deltas": (deltas, row),
            "fd_train": (fd_tr, row),
            "fd_train_se": (fd_tr_se, row),
            "fd_val": (fd_va, row),
            "fd_val_se": (fd_va_se, row),
            "relative_overfit": (rel, row),
            "relative_overfit_se": (rel_se, row),
            "memorized_fraction": (mem, row),
            "memorized_fraction_se": (mem_se, row),
        },
        dims=dict(n_delta=len(deltas)),
        headline=headline,
        checks={"memorization_grows_as_delta_shrinks": bool(mem[-1] > mem[0])},
    )


def figure_fd_vs_delta(result: dict):
    from toyflow.plotting import panel_figure, plot_lines

    a = result["arrays"]
    fig, (ax0, ax1) = panel_figure(2, width=4.4)
    se = lambda k: {} if k + "_se" not in a else {k: a[k + "_se"]}
    names = {
        "fd_train": "FD(samples, train)",
        "fd_val": "FD(samples, val)",
        "memorized_fraction": "memorized fraction",
        "relative_overfit": "relative overfit (FD_val − FD_train)/FD_train",
    }
    errors = {names[k]: v for key in names for k, v in se(key).items()}
    plot_lines(
        a["deltas"],
        {names[k]: a[k] for k in ("fd_train", "fd_val")},
        xlabel="δ",
        ylabel="Fréchet distance",
        logy=True,
        ax=ax0,
        title=f"random circle, 500 train / 500 val{_draws_note(result) if errors else ''}",
        errors=errors,
    )
    ax0.invert_xaxis()
    plot_lines(
        a["deltas"],
        {names[k]: a[k] for k in ("memorized_fraction", "relative_overfit")},
        xlabel="δ",
        ax=ax1,
        errors=errors,
    )
    ax1.invert_xaxis()
    return fig
