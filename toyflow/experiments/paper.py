r"""The paper's 2D toy experiments (Kollmann & Kaiser 2026; parameters in DESIGN §6).

All use analytic denoisers, so they are exact up to Monte-Carlo noise in the noise draws:

- the optimal denoiser ``D*(x; σ) = Σ_i softmax_i(−‖x − y_i‖²/2σ²) y_i`` (memorizes), and
- the error-prone model ``y_δ(x, σ) = (δ² x + σ² D*(x; √(σ²+δ²))) / (σ² + δ²)``, the exact
  denoiser of the training set smoothed by ``N(0, δ² I)``; δ plays the role of model error.

Data: the symmetric circle (radius 10; ``2 n`` equidistant angles offset by 0.01 rad, alternately
training and validation) unless stated. Gap curves use the 120-step EDM grid
(``σ ∈ [0.002, 80]``, ρ = 7) and 50 noise draws per point, reused for every σ:

    E_split(σ) = mean_{y, k} ‖D(y + σ n_k; σ) − y‖₂,     gap(σ) = (E_val − E_train) / E_train
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from toyflow import metrics
from toyflow.datasets import make_dataset
from toyflow.denoisers import ErrorProneDenoiser, OptimalDenoiser, autoguidance
from toyflow.experiments._common import (
    Reporter,
    edm_gap_sigmas,
    is_intermediate,
    make_result,
    monotone,
    nearest_on_grid,
    peak,
    resolve_settings,
    write_result,
)
from toyflow.fields import compare_fields, make_grid
from toyflow.sampling import sample
from toyflow.schedules import edm_sigmas


def _gap_rows(denoisers, train_x, val_x, sigmas, n_noise, seed, reporter, label):
    """Gap curves for several denoisers: ``(e_train, e_val, gap)`` each ``(k, T)``."""
    e_tr, e_va = [], []
    for name, d in denoisers:
        curve = metrics.gap_curve(d, train_x, val_x, sigmas, n_noise=n_noise, seed=seed)
        e_tr.append(curve.e_train)
        e_va.append(curve.e_val)
        reporter.advance(1, f"{label} {name}")
    e_tr, e_va = np.asarray(e_tr), np.asarray(e_va)
    return e_tr, e_va, (e_va - e_tr) / np.maximum(e_tr, 1e-30)


def _peaks(sigmas, gaps):
    rows = [peak(sigmas, g) for g in gaps]
    return (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), [r[2] for r in rows])


# --- gap vs delta -----------------------------------------------------------------------------

GAP_VS_DELTA = dict(
    n_train=10, delta_max=2.2, delta_min=1.2, n_delta=11, sigma_steps=120, n_noise=50, seed=0
)


def gap_vs_delta(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """Relative gap over σ for δ from 2.2 down to 1.2 on the symmetric circle (paper Fig. toy gap).

    Arrays (shapes):
      deltas ``(n_delta,)``, sigmas ``(n_sigma,)``,
      gap / e_train / e_val ``(n_delta, n_sigma)``, peak_gap / peak_sigma ``(n_delta,)``.
    Checks: the peak gap grows as δ shrinks; every peak lies at an intermediate σ.
    """
    started = time.perf_counter()
    s = resolve_settings(
        "gap-vs-delta", GAP_VS_DELTA, dict(n_delta=6, sigma_steps=40, n_noise=10), quick, overrides
    )
    data = make_dataset("circle", s["n_train"], seed=s["seed"])
    sigmas = edm_gap_sigmas(s["sigma_steps"])
    deltas = np.linspace(s["delta_max"], s["delta_min"], s["n_delta"])
    rep = Reporter(progress, len(deltas), "gap-vs-delta")
    optimal = OptimalDenoiser(data.train_x)
    e_tr, e_va, gaps = _gap_rows(
        [(f"δ={d:.2f}", ErrorProneDenoiser(optimal, d)) for d in deltas],
        data.train_x,
        data.val_x,
        sigmas,
        s["n_noise"],
        s["seed"],
        rep,
        "δ",
    )
    peak_gap, peak_sigma, idx = _peaks(sigmas, gaps)
    headline = {
        "peak_gap_at_delta_max": float(peak_gap[0]),
        "peak_gap_at_delta_min": float(peak_gap[-1]),
        "peak_gap_ratio_min_over_max": float(peak_gap[-1] / max(peak_gap[0], 1e-12)),
        "peak_sigma_range": [float(peak_sigma.min()), float(peak_sigma.max())],
    }
    checks = {
        "peak_gap_grows_as_delta_shrinks": monotone(peak_gap, increasing=True),
        "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
    }
    result = make_result(
        "gap-vs-delta",
        "relative gap over σ for δ from 2.2 to 1.2 (symmetric circle)",
        paper=True,
        quick=quick,
        config=s,
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            deltas=deltas,
            sigmas=sigmas,
            gap=gaps,
            e_train=e_tr,
            e_val=e_va,
            peak_gap=peak_gap,
            peak_sigma=peak_sigma,
        ),
        shapes=dict(
            deltas=["n_delta"],
            sigmas=["n_sigma"],
            gap=["n_delta", "n_sigma"],
            e_train=["n_delta", "n_sigma"],
            e_val=["n_delta", "n_sigma"],
            peak_gap=["n_delta"],
            peak_sigma=["n_delta"],
        ),
        dims=dict(n_delta=len(deltas), n_sigma=len(sigmas)),
    )
    return write_result(result, outdir, figure_gap_vs_delta)


def figure_gap_vs_delta(result: dict):
    from toyflow.plotting import plot_gap_curves

    a = result["arrays"]
    return plot_gap_curves(
        a["sigmas"],
        a["gap"],
        [f"{d:.2f}" for d in a["deltas"]],
        title="error-prone model on the symmetric circle",
        legend_title="δ",
        cmap="plasma",
        summary=(a["deltas"], a["peak_gap"], "δ", "peak gap"),
    )


# --- gap vs guidance --------------------------------------------------------------------------

GAP_VS_GUIDANCE = dict(
    n_train=10,
    delta_pos=1.8,
    delta_neg=2.2,
    w_max=2.0,
    n_w=11,
    sigma_steps=120,
    n_noise=50,
    n_samples=1000,
    sample_steps=40,
    seed=0,
)


def gap_vs_guidance(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """Autoguidance ``D_pos + w (D_pos − D_neg)`` with δ_pos = 1.8, δ_neg = 2.2, w from 0 to 2.

    Arrays (shapes):
      ws ``(n_w,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val ``(n_w, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction ``(n_w,)`` (samples: Euler, 40 steps).
    Checks: the peak gap grows with w (guidance sharpens the field like a smaller δ); peaks sit
    at an intermediate σ.
    """
    started = time.perf_counter()
    s = resolve_settings(
        "gap-vs-guidance",
        GAP_VS_GUIDANCE,
        dict(n_w=6, sigma_steps=40, n_noise=10, n_samples=300, sample_steps=20),
        quick,
        overrides,
    )
    data = make_dataset("circle", s["n_train"], seed=s["seed"])
    sigmas = edm_gap_sigmas(s["sigma_steps"])
    ws = np.linspace(0.0, s["w_max"], s["n_w"])
    rep = Reporter(progress, 2 * len(ws), "gap-vs-guidance")
    optimal = OptimalDenoiser(data.train_x)
    pos, neg = (
        ErrorProneDenoiser(optimal, s["delta_pos"]),
        ErrorProneDenoiser(optimal, s["delta_neg"]),
    )
    guided = [(f"w={w:.1f}", autoguidance(pos, neg, w)) for w in ws]
    e_tr, e_va, gaps = _gap_rows(
        guided, data.train_x, data.val_x, sigmas, s["n_noise"], s["seed"], rep, "w"
    )
    mem = []
    for name, d in guided:
        x = sample(d, s["n_samples"], steps=s["sample_steps"], seed=s["seed"])
        mem.append(metrics.memorized_fraction(x, data.train_x))
        rep.advance(1, f"samples {name}")
    mem = np.asarray(mem)
    peak_gap, peak_sigma, idx = _peaks(sigmas, gaps)
    headline = {
        "peak_gap_at_w0": float(peak_gap[0]),
        "peak_gap_at_w_max": float(peak_gap[-1]),
        "memorized_fraction_at_w0": float(mem[0]),
        "memorized_fraction_at_w_max": float(mem[-1]),
        "peak_sigma_range": [float(peak_sigma.min()), float(peak_sigma.max())],
    }
    checks = {
        "peak_gap_grows_with_w": monotone(peak_gap, increasing=True),
        "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
    }
    result = make_result(
        "gap-vs-guidance",
        "autoguidance (δ_pos 1.8, δ_neg 2.2) with w from 0 to 2",
        paper=True,
        quick=quick,
        config=s,
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            ws=ws,
            sigmas=sigmas,
            gap=gaps,
            e_train=e_tr,
            e_val=e_va,
            peak_gap=peak_gap,
            peak_sigma=peak_sigma,
            memorized_fraction=mem,
        ),
        shapes=dict(
            ws=["n_w"],
            sigmas=["n_sigma"],
            gap=["n_w", "n_sigma"],
            e_train=["n_w", "n_sigma"],
            e_val=["n_w", "n_sigma"],
            peak_gap=["n_w"],
            peak_sigma=["n_w"],
            memorized_fraction=["n_w"],
        ),
        dims=dict(n_w=len(ws), n_sigma=len(sigmas)),
    )
    return write_result(result, outdir, figure_gap_vs_guidance)


def figure_gap_vs_guidance(result: dict):
    from toyflow.plotting import draw_gap_curves, panel_figure, plot_lines

    a = result["arrays"]
    fig, (ax0, ax1) = panel_figure(2, width=4.6)
    draw_gap_curves(
        ax0, a["sigmas"], a["gap"], [f"{w:.1f}" for w in a["ws"]], cmap="cividis", legend_title="w"
    )
    ax0.set_title("autoguidance, δ_pos 1.8 / δ_neg 2.2", fontsize=9)
    plot_lines(
        a["ws"],
        {"peak gap": a["peak_gap"], "memorized fraction": a["memorized_fraction"]},
        xlabel="guidance weight w",
        ax=ax1,
    )
    return fig


# --- gap vs density ---------------------------------------------------------------------------

GAP_VS_DENSITY = dict(n_min=8, n_max=15, delta=1.6, sigma_steps=120, n_noise=50, seed=0)


def gap_vs_density(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """Relative gap for 8 … 15 training points (16 … 30 on the symmetric circle) at δ = 1.6.

    Arrays (shapes):
      n_train ``(n_sizes,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val ``(n_sizes, n_sigma)``,
      peak_gap / peak_sigma ``(n_sizes,)``.
    Checks: more training points shrink the peak gap; peaks at intermediate σ.
    """
    started = time.perf_counter()
    s = resolve_settings(
        "gap-vs-density", GAP_VS_DENSITY, dict(sigma_steps=40, n_noise=10), quick, overrides
    )
    sizes = np.arange(s["n_min"], s["n_max"] + 1)
    if quick and "n_min" not in overrides and "n_max" not in overrides:
        sizes = np.array([8, 10, 12, 15])
    sigmas = edm_gap_sigmas(s["sigma_steps"])
    rep = Reporter(progress, len(sizes), "gap-vs-density")
    e_tr, e_va = [], []
    for n in sizes:
        data = make_dataset("circle", int(n), seed=s["seed"])
        curve = metrics.gap_curve(
            ErrorProneDenoiser(data.train_x, s["delta"]),
            data.train_x,
            data.val_x,
            sigmas,
            n_noise=s["n_noise"],
            seed=s["seed"],
        )
        e_tr.append(curve.e_train)
        e_va.append(curve.e_val)
        rep.advance(1, f"{n} training points")
    e_tr, e_va = np.asarray(e_tr), np.asarray(e_va)
    gaps = (e_va - e_tr) / np.maximum(e_tr, 1e-30)
    peak_gap, peak_sigma, idx = _peaks(sigmas, gaps)
    headline = {
        "peak_gap_at_fewest_points": float(peak_gap[0]),
        "peak_gap_at_most_points": float(peak_gap[-1]),
        "peak_sigma_at_fewest_points": float(peak_sigma[0]),
        "peak_sigma_at_most_points": float(peak_sigma[-1]),
    }
    checks = {
        "more_points_shrink_the_gap": monotone(peak_gap, increasing=False),
        "peak_at_intermediate_sigma": all(is_intermediate(i, len(sigmas)) for i in idx),
    }
    result = make_result(
        "gap-vs-density",
        "relative gap for 8 to 15 training points at δ = 1.6",
        paper=True,
        quick=quick,
        config=dict(s, sizes=sizes.tolist()),
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            n_train=sizes,
            sigmas=sigmas,
            gap=gaps,
            e_train=e_tr,
            e_val=e_va,
            peak_gap=peak_gap,
            peak_sigma=peak_sigma,
        ),
        shapes=dict(
            n_train=["n_sizes"],
            sigmas=["n_sigma"],
            gap=["n_sizes", "n_sigma"],
            e_train=["n_sizes", "n_sigma"],
            e_val=["n_sizes", "n_sigma"],
            peak_gap=["n_sizes"],
            peak_sigma=["n_sizes"],
        ),
        dims=dict(n_sizes=len(sizes), n_sigma=len(sigmas)),
    )
    return write_result(result, outdir, figure_gap_vs_density)


def figure_gap_vs_density(result: dict):
    from toyflow.plotting import plot_gap_curves

    a = result["arrays"]
    return plot_gap_curves(
        a["sigmas"],
        a["gap"],
        [str(int(n)) for n in a["n_train"]],
        title="δ = 1.6, symmetric circle",
        legend_title="training points",
        summary=(a["n_train"], a["peak_gap"], "training points", "peak gap"),
    )


# --- flow fields --------------------------------------------------------------------------------

FLOW_FIELDS = dict(
    n_train=10,
    sigma_targets=(28.0, 2.8, 0.63),
    delta=1.6,
    resolution=50,
    extent=17.5,
    n_samples=1000,
    sample_steps=40,
    seed=0,
)


def flow_fields(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """The optimal flow field at σ ≈ 28, 2.8, 0.63 (40-step EDM grid values) on a 50 × 50 grid
    over ``[−17.5, 17.5]²``, with the δ model beside it and their difference.

    Arrays (shapes):
      sigmas ``(n_sigma,)``, grid_x / grid_y ``(r,)``,
      optimal_displacement / model_displacement ``(n_sigma, r, r, 2)`` (``D(x; σ) − x``),
      difference_norm ``(n_sigma, r, r)`` (``‖D_δ − D*‖``),
      optimal_region / model_region ``(n_sigma, r, r)`` (1 where ``‖D(x; σ) − x‖ ≤ σ``),
      optimal_samples / model_samples ``(n_samples, 2)``, train_x / val_x ``(n_train, 2)``,
      optimal_memorized / model_memorized ``(n_samples,)`` (1 = memorized).
    """
    started = time.perf_counter()
    s = resolve_settings(
        "flow-fields",
        FLOW_FIELDS,
        dict(resolution=20, n_samples=200, sample_steps=20),
        quick,
        overrides,
    )
    data = make_dataset("circle", s["n_train"], seed=s["seed"])
    sigmas = nearest_on_grid(s["sigma_targets"], edm_sigmas(40))
    rep = Reporter(progress, len(sigmas) + 2, "flow-fields")
    optimal = OptimalDenoiser(data.train_x)
    model = ErrorProneDenoiser(optimal, s["delta"])
    grid = make_grid(s["extent"], s["resolution"])
    opt_d, mod_d, diff, opt_r, mod_r = [], [], [], [], []
    for sig in sigmas:
        cmp = compare_fields(
            model, optimal, float(sig), extent=s["extent"], resolution=s["resolution"]
        )
        mod_d.append(cmp.model.displacement)
        opt_d.append(cmp.reference.displacement)
        diff.append(cmp.difference_norm)
        mod_r.append(cmp.model.region)
        opt_r.append(cmp.reference.region)
        rep.advance(1, f"σ = {sig:.3g}")
    samples, mems = {}, {}
    for key, d in (("optimal", optimal), ("model", model)):
        x = np.asarray(sample(d, s["n_samples"], steps=s["sample_steps"], seed=s["seed"]))
        samples[key] = x
        mems[key] = metrics.memorized_mask(x, data.train_x)
        rep.advance(1, f"samples {key}")
    n_cells = grid.points.shape[0]
    headline = {
        "sigmas": sigmas.tolist(),
        "delta": s["delta"],
        "optimal_region_fraction": [float(np.mean(r)) for r in opt_r],
        "model_region_fraction": [float(np.mean(r)) for r in mod_r],
        "mean_difference_over_sigma": [float(np.mean(d) / sg) for d, sg in zip(diff, sigmas)],
        "optimal_memorized_fraction": float(np.mean(mems["optimal"])),
        "model_memorized_fraction": float(np.mean(mems["model"])),
    }
    checks = {"optimal_memorizes": float(np.mean(mems["optimal"])) > 0.9}
    r = s["resolution"]
    result = make_result(
        "flow-fields",
        "optimal flow field at σ ≈ 28, 2.8, 0.63 beside the δ model",
        paper=True,
        quick=quick,
        config=dict(s, sigma_targets=list(s["sigma_targets"]), grid_cells=n_cells),
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            sigmas=sigmas,
            grid_x=grid.xs,
            grid_y=grid.ys,
            optimal_displacement=opt_d,
            model_displacement=mod_d,
            difference_norm=diff,
            optimal_region=np.asarray(opt_r, np.int8),
            model_region=np.asarray(mod_r, np.int8),
            optimal_samples=samples["optimal"],
            model_samples=samples["model"],
            optimal_memorized=mems["optimal"].astype(np.int8),
            model_memorized=mems["model"].astype(np.int8),
            train_x=data.train_x,
            val_x=data.val_x,
        ),
        shapes=dict(
            sigmas=["n_sigma"],
            grid_x=["r"],
            grid_y=["r"],
            optimal_displacement=["n_sigma", "r", "r", 2],
            model_displacement=["n_sigma", "r", "r", 2],
            difference_norm=["n_sigma", "r", "r"],
            optimal_region=["n_sigma", "r", "r"],
            model_region=["n_sigma", "r", "r"],
            optimal_samples=["n_samples", 2],
            model_samples=["n_samples", 2],
            optimal_memorized=["n_samples"],
            model_memorized=["n_samples"],
            train_x=["n_train", 2],
            val_x=["n_train", 2],
        ),
        dims=dict(n_sigma=len(sigmas), r=r, n_samples=s["n_samples"], n_train=s["n_train"]),
    )
    return write_result(result, outdir, figure_flow_fields)


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

ERROR_VS_ANGLE = dict(
    n_train=10, sigma_target=1.0, deltas=(2.0, 1.6, 1.2), n_angles=200, n_noise=50, seed=0
)


def _errors_at(denoiser, points, sigma, n_noise, seed):
    """Per point ``mean_k ‖D(y + σ n_k; σ) − y‖``: ``points (m, 2)`` → ``(m,)``."""
    noise = jax.random.normal(jax.random.PRNGKey(seed), (n_noise,) + points.shape)
    x = (jnp.asarray(points)[None] + sigma * noise).reshape(-1, points.shape[1])
    den = np.asarray(denoiser(x, np.float32(sigma))).reshape(n_noise, *points.shape)
    return np.linalg.norm(den - points[None], axis=-1).mean(axis=0)


def error_vs_angle(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """Denoising error along the circle (the data manifold) at σ ≈ 1.0, for δ ∈ {2.0, 1.6, 1.2}
    and the optimal denoiser: small at training angles, large between them.

    Arrays (shapes):
      angles ``(n_angles,)``, error ``(n_delta, n_angles)``, optimal_error ``(n_angles,)``,
      deltas ``(n_delta,)``, train_angles ``(n_train,)``, val_angles ``(n_train,)``,
      error_at_train / error_at_val ``(n_delta,)`` (interpolated at those angles).
    Checks: for every δ the error between training points exceeds the error at them, and the
    contrast grows as δ shrinks.
    """
    started = time.perf_counter()
    s = resolve_settings(
        "error-vs-angle", ERROR_VS_ANGLE, dict(n_angles=60, n_noise=10), quick, overrides
    )
    data = make_dataset("circle", s["n_train"], seed=s["seed"])
    sigma = float(nearest_on_grid([s["sigma_target"]], edm_sigmas(120))[0])
    radius = float(data.params["radius"])
    angles = np.linspace(0.0, 2 * np.pi, s["n_angles"], endpoint=False)
    points = radius * np.stack([np.cos(angles), np.sin(angles)], 1).astype(np.float32)
    deltas = np.asarray(s["deltas"], float)
    rep = Reporter(progress, len(deltas) + 1, "error-vs-angle")
    optimal = OptimalDenoiser(data.train_x)
    errors = []
    for d in deltas:
        errors.append(
            _errors_at(ErrorProneDenoiser(optimal, d), points, sigma, s["n_noise"], s["seed"])
        )
        rep.advance(1, f"δ = {d:g}")
    opt_err = _errors_at(optimal, points, sigma, s["n_noise"], s["seed"])
    rep.advance(1, "optimal")
    errors = np.asarray(errors)
    train_angles = np.mod(np.arctan2(data.train_x[:, 1], data.train_x[:, 0]), 2 * np.pi)
    val_angles = np.mod(np.arctan2(data.val_x[:, 1], data.val_x[:, 0]), 2 * np.pi)

    def at(err, ang):
        return float(np.mean(np.interp(ang, angles, err, period=2 * np.pi)))

    e_train = np.array([at(e, train_angles) for e in errors])
    e_val = np.array([at(e, val_angles) for e in errors])
    contrast = e_val / np.maximum(e_train, 1e-12)
    headline = {
        "sigma": sigma,
        "error_at_train_angles": dict(zip([f"{d:g}" for d in deltas], e_train.tolist())),
        "error_between_train_angles": dict(zip([f"{d:g}" for d in deltas], e_val.tolist())),
        "contrast_val_over_train": dict(zip([f"{d:g}" for d in deltas], contrast.tolist())),
        "optimal_error_at_train_angles": at(opt_err, train_angles),
        "optimal_error_between_train_angles": at(opt_err, val_angles),
    }
    order = np.argsort(-deltas)  # from large δ to small δ
    checks = {
        "error_larger_between_training_points": bool(np.all(e_val > e_train)),
        "contrast_grows_as_delta_shrinks": monotone(contrast[order], increasing=True),
    }
    result = make_result(
        "error-vs-angle",
        "denoising error along the circle at σ ≈ 1 for δ ∈ {2.0, 1.6, 1.2}",
        paper=True,
        quick=quick,
        config=dict(s, deltas=list(s["deltas"]), sigma=sigma),
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            angles=angles,
            error=errors,
            optimal_error=opt_err,
            deltas=deltas,
            train_angles=train_angles,
            val_angles=val_angles,
            error_at_train=e_train,
            error_at_val=e_val,
        ),
        shapes=dict(
            angles=["n_angles"],
            error=["n_delta", "n_angles"],
            optimal_error=["n_angles"],
            deltas=["n_delta"],
            train_angles=["n_train"],
            val_angles=["n_train"],
            error_at_train=["n_delta"],
            error_at_val=["n_delta"],
        ),
        dims=dict(n_angles=len(angles), n_delta=len(deltas), n_train=s["n_train"]),
    )
    return write_result(result, outdir, figure_error_vs_angle)


def figure_error_vs_angle(result: dict):
    from toyflow.plotting import panel_figure

    a = result["arrays"]
    fig, (ax,) = panel_figure(1, width=7.0, height=3.6)
    ang = np.degrees(a["angles"])
    colors = ["#440154", "#21918c", "#fde725", "#e76f51"]
    for i, d in enumerate(a["deltas"]):
        ax.plot(ang, a["error"][i], lw=1.3, color=colors[i % 4], label=f"δ = {d:g}")
    ax.plot(ang, a["optimal_error"], "k--", lw=1.0, label="optimal D*")
    for t in np.degrees(a["train_angles"]):
        ax.axvline(t, color="#d62728", lw=0.6, alpha=0.6)
    for v in np.degrees(a["val_angles"]):
        ax.axvline(v, color="#1f77b4", lw=0.6, alpha=0.4, ls=":")
    ax.set_xlabel("angle on the circle (degrees); red: training, blue: validation")
    ax.set_ylabel("mean ‖D(y + σn; σ) − y‖")
    ax.set_title(
        f"denoising error along the manifold, σ = {result['config']['sigma']:.3g}", fontsize=9
    )
    ax.legend(fontsize=7)
    return fig


# --- Frechet distance vs delta -------------------------------------------------------------------

FD_VS_DELTA = dict(
    n_points=1000, delta_max=3.0, delta_min=0.1, n_delta=7, n_samples=1000, sample_steps=40, seed=0
)


def fd_vs_delta(*, quick: bool = False, outdir=None, progress=None, **overrides) -> dict:
    """Fréchet distance of generated samples to the training and to the validation set as δ
    shrinks (random circle, 1000 points, half training, 1000 samples, Euler 40 steps).

    Arrays (shapes):
      deltas ``(n_delta,)``, fd_train / fd_val / relative_overfit / memorized_fraction
      ``(n_delta,)``; the optimal denoiser's values are in the headline.
    """
    started = time.perf_counter()
    s = resolve_settings(
        "fd-vs-delta",
        FD_VS_DELTA,
        dict(n_points=400, n_delta=4, n_samples=300, sample_steps=20),
        quick,
        overrides,
    )
    n_train = s["n_points"] // 2
    data = make_dataset("circle", n_train, s["n_points"] - n_train, seed=s["seed"], layout="random")
    deltas = np.linspace(s["delta_max"], s["delta_min"], s["n_delta"])
    rep = Reporter(progress, len(deltas) + 1, "fd-vs-delta")
    optimal = OptimalDenoiser(data.train_x)
    rows = []
    for d in list(deltas) + [0.0]:
        den = optimal if d == 0.0 else ErrorProneDenoiser(optimal, d)
        x = sample(den, s["n_samples"], steps=s["sample_steps"], seed=s["seed"])
        fd = metrics.sample_overfit(x, data.train_x, data.val_x)
        rows.append(
            (
                fd["fd_train"],
                fd["fd_val"],
                fd["relative_overfit"],
                metrics.memorized_fraction(x, data.train_x),
            )
        )
        rep.advance(1, f"δ = {d:g}")
    rows = np.asarray(rows)
    fd_tr, fd_va, rel, mem = rows[:-1].T
    baseline = metrics.memorized_fraction(data.val_x, data.train_x)
    headline = {
        "fd_train_at_delta_max": float(fd_tr[0]),
        "fd_val_at_delta_max": float(fd_va[0]),
        "fd_train_at_delta_min": float(fd_tr[-1]),
        "fd_val_at_delta_min": float(fd_va[-1]),
        "relative_overfit_at_delta_min": float(rel[-1]),
        "memorized_fraction_at_delta_max": float(mem[0]),
        "memorized_fraction_at_delta_min": float(mem[-1]),
        "optimal_fd_train": float(rows[-1, 0]),
        "optimal_fd_val": float(rows[-1, 1]),
        "optimal_memorized_fraction": float(rows[-1, 3]),
        "validation_memorized_fraction": float(baseline),
        "fd_train_vs_val_sets": float(metrics.frechet_distance(data.train_x, data.val_x)),
    }
    checks = {"memorization_grows_as_delta_shrinks": bool(mem[-1] > mem[0])}
    result = make_result(
        "fd-vs-delta",
        "Fréchet distance of samples to train and validation as δ shrinks",
        paper=True,
        quick=quick,
        config=s,
        started=started,
        headline=headline,
        checks=checks,
        arrays=dict(
            deltas=deltas,
            fd_train=fd_tr,
            fd_val=fd_va,
            relative_overfit=rel,
            memorized_fraction=mem,
        ),
        shapes=dict(
            deltas=["n_delta"],
            fd_train=["n_delta"],
            fd_val=["n_delta"],
            relative_overfit=["n_delta"],
            memorized_fraction=["n_delta"],
        ),
        dims=dict(n_delta=len(deltas)),
    )
    return write_result(result, outdir, figure_fd_vs_delta)


def figure_fd_vs_delta(result: dict):
    from toyflow.plotting import panel_figure, plot_lines

    a = result["arrays"]
    fig, (ax0, ax1) = panel_figure(2, width=4.4)
    plot_lines(
        a["deltas"],
        {"FD(samples, train)": a["fd_train"], "FD(samples, val)": a["fd_val"]},
        xlabel="δ",
        ylabel="Fréchet distance",
        logy=True,
        ax=ax0,
        title="random circle, 500 train / 500 val",
    )
    ax0.invert_xaxis()
    plot_lines(
        a["deltas"],
        {
            "memorized fraction": a["memorized_fraction"],
            "relative overfit (FD_val − FD_train)/FD_train": a["relative_overfit"],
        },
        xlabel="δ",
        ax=ax1,
    )
    ax1.invert_xaxis()
    return fig
