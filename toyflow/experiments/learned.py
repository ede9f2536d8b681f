r"""The paper's questions asked of *learned* denoisers (Flax MLPs trained by denoising score
matching), on the same 2D footing as the toy model.

Every experiment measures, for each trained model:

- the **objective-level gap** (claim 2): ``gap(σ) = (E_val − E_train) / E_train`` on 64
  log-spaced σ in [0.002, 80] (the paper's image grid), 50 noise draws per point;
- **sample-level memorization** (claim 3): the memorized fraction of generated samples (nearest
  training point closer than 1/3 of the second-nearest) next to the *baseline* — the memorized
  fraction of fresh draws from the data distribution (the validation set), which is what a
  perfectly generalizing model would score — and the Fréchet overfit ``(FD_val − FD_train)/FD_train``.

The *central regime* of the paper is a model whose objective-level gap is clearly positive at an
intermediate σ (peak ≥ 0.1, not at either end of the grid) while its samples stay mostly
non-memorized (memorized fraction ≤ 0.5, reported beside the baseline). Each experiment reports
which of its models are in it.

Default data: a 9-component Gaussian mixture (3 × 3 grid over [−6, 6]², std 0.5), 64 training
and 1000 validation points: a 2D support sampled sparsely enough that a large model can learn
the individual points, dense enough that fresh draws are rarely "memorized" by chance.
Models of one width train together under ``vmap`` (``train_sweep`` over seeds, subsets or label
sets).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from toyflow import metrics
from toyflow.datasets import DATASETS, make_dataset
from toyflow.denoisers import OptimalDenoiser, autoguidance, classifier_free
from toyflow.experiments._common import Outcome, Reporter, Settings, experiment
from toyflow.experiments._eval import (
    baseline,
    columns,
    downsample,
    evaluate,
    in_regime,
    is_intermediate,
    log_sigmas,
    peak,
    spearman,
    stack,
)
from toyflow.labels import sample_labels
from toyflow.nets import MLPConfig
from toyflow.sampling import sample
from toyflow.schedules import SCHEDULES
from toyflow.training import train, train_sweep


@dataclasses.dataclass(frozen=True)
class Learned(
    Settings,
    quick=dict(
        n_val=200,
        width=32,
        steps=300,
        batch_size=128,
        n_sigma=16,
        n_noise=4,
        n_gap_val=64,
        n_samples=300,
        sample_steps=16,
    ),
):
    """Settings every learned-model experiment shares: data, network, training, evaluation."""

    data: str = "gaussian_mixture"
    n_train: int = 64
    n_val: int = 1000
    data_seed: int = 0
    width: int = 128
    depth: int = 3
    steps: int = 6000
    batch_size: int = 256
    learning_rate: float = 2e-3
    seed: int = 0
    n_sigma: int = 64
    n_noise: int = 50
    n_gap_val: int = 256
    n_samples: int = 2000
    sample_steps: int = 40

    def check(self) -> None:
        DATASETS[self.data]  # an unknown name raises ValueError listing the valid ones
        if self.learning_rate <= 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate}")

    def dataset(self, n_train: int | None = None):
        n = self.n_train if n_train is None else n_train
        return make_dataset(self.data, n, self.n_val, seed=self.data_seed)

    def sigmas(self) -> np.ndarray:
        return log_sigmas(self.n_sigma)

    def train_kwargs(self) -> dict[str, Any]:
        return dict(
            width=self.width,
            depth=self.depth,
            steps=self.steps,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
        )

    def eval_kwargs(self) -> dict[str, Any]:
        return dict(
            n_noise=self.n_noise,
            n_samples=self.n_samples,
            sample_steps=self.sample_steps,
            seed=self.seed,
            n_gap_val=self.n_gap_val,
        )


def _baseline_fd(data, s: Learned) -> float:
    """Relative Fréchet overfit ``(FD_val − FD_train) / FD_train`` of ``n_samples`` fresh draws
    from the data distribution: what a perfect generalizer scores (not 0: the training set is
    small, so its own mean and covariance are off by more than the larger validation set's)."""
    fresh = make_dataset(s.data, s.n_samples, 0, seed=s.data_seed + 1).train_x
    return metrics.sample_overfit(fresh, data.train_x, data.val_x)["relative_overfit"]


def _show(x, k: int = 400):
    return np.asarray(x)[:k]


def _samples_row(a: dict[str, Any], names: list[str], header: list[Any]):
    """One row of sample panels (one per model, titled with its memorized share) under
    ``header`` plots."""
    from toyflow.plotting import plot_ablation_grid

    mem = a["memorized_fraction"]
    return plot_ablation_grid(
        [list(a["grid_samples"])],
        row_labels=["samples"],
        col_labels=names,
        train_x=a["train_x"],
        memorized=[list(a["grid_memorized"])],
        extent=10.0,
        header=header,
        cell_titles=[[f"{nm}: {100 * m:.0f}% memorized" for nm, m in zip(names, mem)]],
    )


# --- width sweep --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WidthSweep(Learned, quick=dict(widths=(16, 32), n_seeds=2, n_cols=2, n_show=100)):
    widths: tuple[int, ...] = (16, 32, 64, 128, 256)
    n_seeds: int = 2
    n_cols: int = 4
    n_show: int = 300


@experiment(
    "width-sweep",
    "model width against gap, memorized fraction and sample Fréchet overfit",
    family="learned",
    settings=WidthSweep,
)
def width_sweep(s: WidthSweep, progress) -> Outcome:
    """Model size against the objective-level gap, the memorized fraction of samples and the
    sample Fréchet overfit. Each width is one ``train_sweep`` over seeds (vmapped).

    Arrays (shapes):
      widths / num_params ``(n_width,)``, sigmas ``(n_sigma,)``,
      gap ``(n_width, n_sigma)`` (mean over seeds), gap_seeds ``(n_width, n_seeds, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction / fd_train / fd_val / relative_overfit /
      final_loss ``(n_width,)`` (means over seeds), memorized_fraction_seeds ``(n_width, n_seeds)``,
      in_regime ``(n_width, n_seeds)`` (1 = clearly positive gap, mostly non-memorized),
      snapshot_steps ``(n_cols,)``, grid_samples ``(n_width, n_cols, n_show, 2)`` and
      grid_memorized ``(n_width, n_cols, n_show)`` (seed 0 at snapshot columns), train_x ``(n_train, 2)``.
    """
    data = s.dataset()
    sigmas = s.sigmas()
    widths = [int(w) for w in s.widths]
    n_seeds, n_cols = int(s.n_seeds), int(s.n_cols)
    rep = Reporter(progress, len(widths) * (3 + n_seeds), "width-sweep")
    rows: list[dict[str, Any]] = []
    for w in widths:
        start = rep.done
        sweep = train_sweep(
            data.train_x,
            seeds=[s.seed + i for i in range(n_seeds)],
            **dict(s.train_kwargs(), width=w),
            n_snapshots=8,
            callback=rep.training(3, f"width {w}"),
        )
        rep.finish_training(3, start)
        evals = []
        for r in sweep.results:
            evals.append(evaluate(r.denoiser, data.train_x, data.val_x, sigmas, **s.eval_kwargs()))
            rep.advance(1, f"width {w}: evaluate")
        first = sweep.results[0]
        cols = np.unique(np.linspace(0, len(first.snapshots) - 1, n_cols).round().astype(int))
        cols = np.pad(cols, (0, n_cols - len(cols)), mode="edge")
        grid_x, grid_m = [], []
        for c in cols:
            # Same sample count as the evaluation, so the sampler compiles once per width.
            x = np.asarray(
                sample(first.snapshots[c], s.n_samples, steps=s.sample_steps, seed=s.seed)
            )
            grid_x.append(x[: s.n_show])
            grid_m.append(metrics.memorized_mask(x, data.train_x)[: s.n_show])
        rows.append(
            dict(
                evals=evals,
                sweep=sweep,
                cols=cols,
                grid_x=grid_x,
                grid_m=grid_m,
                steps=[first.snapshot_steps[c] for c in cols],
            )
        )
    gap_seeds = np.asarray([[e["gap"] for e in r["evals"]] for r in rows])
    gap = gap_seeds.mean(axis=1)
    mean = lambda key: np.asarray([np.mean([e[key] for e in r["evals"]]) for r in rows])
    mem_seeds = np.asarray([[e["memorized_fraction"] for e in r["evals"]] for r in rows])
    regime = np.asarray([[in_regime(e, len(sigmas)) for e in r["evals"]] for r in rows], np.int8)
    peaks = [peak(sigmas, g) for g in gap]
    num_params = np.asarray([r["sweep"].results[0].denoiser.num_params for r in rows])
    final_loss = np.asarray([np.mean(r["sweep"].losses[:, -max(1, s.steps // 10) :]) for r in rows])
    headline = {
        "baseline_memorized_fraction": baseline(data),
        "baseline_relative_fd_overfit": _baseline_fd(data, s),
        "optimal_memorized_fraction": _optimal_memorization(data, s),
        "per_width": {
            str(w): {
                "peak_gap": peaks[i][0],
                "peak_sigma": peaks[i][1],
                "memorized_fraction": float(mem_seeds[i].mean()),
                "relative_fd_overfit": float(mean("relative_overfit")[i]),
                "models_in_regime": int(regime[i].sum()),
            }
            for i, w in enumerate(widths)
        },
        "gap_vs_width_rank_correlation": spearman(widths, [p[0] for p in peaks]),
        "memorization_vs_width_rank_correlation": spearman(widths, mem_seeds.mean(axis=1)),
        "widths_in_regime": [w for i, w in enumerate(widths) if regime[i].any()],
    }
    checks = {"regime_found": bool(regime.any())}
    return Outcome(
        arrays={
            "widths": (widths, ["n_width"]),
            "num_params": (num_params, ["n_width"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (gap, ["n_width", "n_sigma"]),
            "gap_seeds": (gap_seeds, ["n_width", "n_seeds", "n_sigma"]),
            "peak_gap": ([p[0] for p in peaks], ["n_width"]),
            "peak_sigma": ([p[1] for p in peaks], ["n_width"]),
            "memorized_fraction": (mem_seeds.mean(axis=1), ["n_width"]),
            "memorized_fraction_seeds": (mem_seeds, ["n_width", "n_seeds"]),
            "fd_train": (mean("fd_train"), ["n_width"]),
            "fd_val": (mean("fd_val"), ["n_width"]),
            "relative_overfit": (mean("relative_overfit"), ["n_width"]),
            "final_loss": (final_loss, ["n_width"]),
            "in_regime": (regime, ["n_width", "n_seeds"]),
            "snapshot_steps": (rows[0]["steps"], ["n_cols"]),
            "grid_samples": ([r["grid_x"] for r in rows], ["n_width", "n_cols", "n_show", 2]),
            "grid_memorized": (
                np.asarray([r["grid_m"] for r in rows], np.int8),
                ["n_width", "n_cols", "n_show"],
            ),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(
            n_width=len(widths),
            n_sigma=len(sigmas),
            n_seeds=n_seeds,
            n_cols=n_cols,
            n_show=s.n_show,
            n_train=data.n_train,
        ),
        headline=headline,
        checks=checks,
        config=dict(widths=widths),
    )


def _optimal_memorization(data, s) -> float:
    x = sample(
        OptimalDenoiser(data.train_x),
        min(s.n_samples, 500),
        steps=s.sample_steps,
        seed=s.seed,
    )
    return metrics.memorized_fraction(x, data.train_x)


def figure_width_sweep(result: dict):
    from toyflow.plotting import draw_gap_curves, plot_ablation_grid, plot_lines

    a, h = result["arrays"], result["headline"]
    widths = [int(w) for w in a["widths"]]

    def gaps(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap"], [f"width {w}" for w in widths])
        ax.set_title("gap per σ (mean over seeds)", fontsize=8)

    def lines(ax):
        plot_lines(
            widths,
            {
                "peak gap": a["peak_gap"],
                "memorized fraction": a["memorized_fraction"],
                "baseline memorized": [h["baseline_memorized_fraction"]] * len(widths),
            },
            xlabel="width",
            logx=True,
            label_x_values=True,
            ax=ax,
            title="objective vs samples",
        )

    return plot_ablation_grid(
        a["grid_samples"],
        row_labels=[f"width {w}" for w in widths],
        col_labels=[f"step {t}" for t in a["snapshot_steps"]],
        train_x=a["train_x"],
        memorized=a["grid_memorized"],
        extent=10.0,
        header=[gaps, lines],
        title="width sweep: samples over training (orange: memorized)",
    )


# --- training time ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrainingTime(Learned, quick=dict(steps=400, n_snapshots=3, n_show=100)):
    steps: int = 12000
    n_snapshots: int = 10
    n_show: int = 300


@experiment(
    "training-time",
    "gap per σ and memorized samples across training snapshots",
    family="learned",
    settings=TrainingTime,
)
def training_time(s: TrainingTime, progress) -> Outcome:
    """Gap per σ across training snapshots, beside the memorized fraction of samples drawn from
    the same snapshots: claim 2 (the objective overfits over training) against claim 3 (the
    samples do not follow).

    Arrays (shapes):
      steps ``(n_snap,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val ``(n_snap, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction / fd_train / fd_val / relative_overfit /
      in_regime ``(n_snap,)``, losses ``(n_loss,)`` (window means), grid_samples
      ``(n_snap, n_show, 2)``, grid_memorized ``(n_snap, n_show)``, train_x ``(n_train, 2)``.
    """
    data = s.dataset()
    sigmas = s.sigmas()
    rep = Reporter(progress, 6 + s.n_snapshots + 1, "training-time")
    result_t = train(
        data.train_x,
        **s.train_kwargs(),
        seed=s.seed,
        n_snapshots=s.n_snapshots,
        callback=rep.training(6),
    )
    rep.finish_training(6, 0)
    evals = []
    for snap, step in zip(result_t.snapshots, result_t.snapshot_steps):
        evals.append(evaluate(snap, data.train_x, data.val_x, sigmas, **s.eval_kwargs()))
        rep.advance(1, f"snapshot {step}")
    steps = np.asarray(result_t.snapshot_steps)
    regime = np.asarray([in_regime(e, len(sigmas)) for e in evals], np.int8)
    peak_gap = stack(evals, "peak_gap")
    mem = stack(evals, "memorized_fraction")
    best = None
    if regime.any():
        idx = np.flatnonzero(regime)
        best = int(idx[np.argmax(peak_gap[idx])])
    headline = {
        "baseline_memorized_fraction": baseline(data),
        "baseline_relative_fd_overfit": _baseline_fd(data, s),
        "optimal_memorized_fraction": _optimal_memorization(data, s),
        "peak_gap_first_snapshot": float(peak_gap[0]),
        "peak_gap_last_snapshot": float(peak_gap[-1]),
        "memorized_fraction_first_snapshot": float(mem[0]),
        "memorized_fraction_last_snapshot": float(mem[-1]),
        "gap_vs_step_rank_correlation": spearman(steps, peak_gap),
        "memorization_vs_step_rank_correlation": spearman(steps, mem),
        "snapshots_in_regime": steps[regime.astype(bool)].tolist(),
        "regime_example": None
        if best is None
        else {
            "step": int(steps[best]),
            "peak_gap": float(peak_gap[best]),
            "peak_sigma": float(evals[best]["peak_sigma"]),
            "memorized_fraction": float(mem[best]),
            "relative_fd_overfit": float(evals[best]["relative_overfit"]),
        },
    }
    rep.advance(1, "done")
    checks = {
        "regime_found": bool(regime.any()),
        "gap_grows_with_training": headline["gap_vs_step_rank_correlation"] > 0,
    }
    return Outcome(
        arrays={
            "steps": (steps, ["n_snap"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (stack(evals, "gap"), ["n_snap", "n_sigma"]),
            "e_train": (stack(evals, "e_train"), ["n_snap", "n_sigma"]),
            "e_val": (stack(evals, "e_val"), ["n_snap", "n_sigma"]),
            "peak_gap": (peak_gap, ["n_snap"]),
            "peak_sigma": (stack(evals, "peak_sigma"), ["n_snap"]),
            "memorized_fraction": (mem, ["n_snap"]),
            **columns(evals, ("fd_train", "fd_val", "relative_overfit"), "n_snap"),
            "in_regime": (regime, ["n_snap"]),
            "losses": (downsample(result_t.losses), ["n_loss"]),
            "grid_samples": (
                [_show(e["samples"], s.n_show) for e in evals],
                ["n_snap", "n_show", 2],
            ),
            "grid_memorized": (
                np.asarray([_show(e["memorized"], s.n_show) for e in evals], np.int8),
                ["n_snap", "n_show"],
            ),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(
            n_snap=len(steps),
            n_sigma=len(sigmas),
            n_loss=len(downsample(result_t.losses)),
            n_show=s.n_show,
            n_train=data.n_train,
        ),
        headline=headline,
        checks=checks,
    )


def figure_training_time(result: dict):
    from toyflow.plotting import draw_gap_curves, draw_loss_curves, plot_ablation_grid, plot_lines

    a, h = result["arrays"], result["headline"]
    steps = [int(t) for t in a["steps"]]
    cols = np.unique(np.linspace(0, len(steps) - 1, min(5, len(steps))).round().astype(int))

    def gaps(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap"], [f"step {t}" for t in steps])
        ax.set_title("gap per σ over training (claim 2)", fontsize=8)

    def lines(ax):
        plot_lines(
            steps,
            {
                "peak gap": a["peak_gap"],
                "memorized fraction": a["memorized_fraction"],
                "baseline memorized": [h["baseline_memorized_fraction"]] * len(steps),
            },
            xlabel="training step",
            logx=True,
            ax=ax,
            title="objective vs samples (claim 3)",
        )

    def loss(ax):
        n = len(a["losses"])
        draw_loss_curves(ax, a["losses"], smooth=1)
        ax.set_xlabel(f"training ({n} windows of {result['config']['steps'] // n} steps)")

    cells = [[a["grid_samples"][c] for c in cols]]
    titles = [[f"step {steps[c]}: {100 * a['memorized_fraction'][c]:.0f}% memorized" for c in cols]]
    return plot_ablation_grid(
        cells,
        row_labels=["samples"],
        col_labels=[""] * len(cols),
        train_x=a["train_x"],
        memorized=[[a["grid_memorized"][c] for c in cols]],
        extent=10.0,
        header=[gaps, lines, loss],
        cell_titles=titles,
    )


# --- dataset size -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DatasetSize(Learned, quick=dict(sizes=(4, 16, 64), n_show=100)):
    data: str = "circle"
    sizes: tuple[int, ...] = (4, 8, 16, 32, 64, 128, 256)
    n_show: int = 300
    steps: int = 4000


@experiment(
    "dataset-size",
    "from a handful of points to dense support: where the learned field stops localizing",
    family="learned",
    settings=DatasetSize,
)
def dataset_size(s: DatasetSize, progress) -> Outcome:
    """From a handful of training points to dense support on the circle (random angles): where
    the learned field stops localizing around training points, compared with the optimal
    denoiser, which always localizes. One vmapped ``train_sweep`` over nested subsets.

    Localization of samples is ``(m − b) / (1 − b)`` with ``m`` the memorized fraction of samples
    and ``b`` the baseline of fresh draws at the same size (1 = every sample on a training
    point, 0 = as a perfect generalizer).

    Arrays (shapes):
      n_train ``(n_sizes,)``, sigmas ``(n_sigma,)``, gap ``(n_sizes, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction / optimal_memorized_fraction /
      baseline_memorized_fraction / localization / optimal_localization / in_regime ``(n_sizes,)``,
      grid_samples ``(n_sizes, n_show, 2)``, grid_memorized ``(n_sizes, n_show)``,
      pool_x ``(n_pool, 2)``.
    """
    sizes = [int(n) for n in s.sizes]
    pool = make_dataset(s.data, max(sizes), s.n_val, seed=s.data_seed, layout="random")
    sigmas = s.sigmas()
    rep = Reporter(progress, 4 + 2 * len(sizes), "dataset-size")
    subsets = [list(range(n)) for n in sizes]
    start = rep.done
    sweep = train_sweep(
        pool.train_x,
        subsets=subsets,
        seeds=[s.seed] * len(sizes),
        **s.train_kwargs(),
        n_snapshots=0,
        callback=rep.training(4, "sweep over sizes"),
    )
    rep.finish_training(4, start)
    evals: list[dict[str, Any]] = []
    opt_mem: Any = []
    base: Any = []
    for n, r in zip(sizes, sweep.results):
        tx = pool.train_x[:n]
        evals.append(evaluate(r.denoiser, tx, pool.val_x, sigmas, **s.eval_kwargs()))
        rep.advance(1, f"{n} points: learned")
        x = sample(OptimalDenoiser(tx), min(s.n_samples, 1000), steps=s.sample_steps, seed=s.seed)
        opt_mem.append(metrics.memorized_fraction(x, tx))
        base.append(metrics.memorized_fraction(pool.val_x, tx))
        rep.advance(1, f"{n} points: optimal")
    mem = stack(evals, "memorized_fraction")
    opt_mem, base = np.asarray(opt_mem), np.asarray(base)
    loc = (mem - base) / np.maximum(1 - base, 1e-6)
    opt_loc = (opt_mem - base) / np.maximum(1 - base, 1e-6)
    regime = np.asarray([in_regime(e, len(sigmas)) for e in evals], np.int8)
    stops = next((n for n, l_ in zip(sizes, loc) if l_ < 0.5), None)
    headline = {
        "learned_stops_localizing_at_n_train": stops,
        "localization": dict(zip(map(str, sizes), loc.round(4).tolist())),
        "optimal_localization": dict(zip(map(str, sizes), opt_loc.round(4).tolist())),
        "peak_gap": dict(zip(map(str, sizes), stack(evals, "peak_gap").round(4).tolist())),
        "sizes_in_regime": [n for n, r in zip(sizes, regime) if r],
    }
    checks = {
        "optimal_always_localizes": bool(np.all(opt_loc > 0.8)),
        "learned_localization_falls_with_size": spearman(sizes, loc) < 0,
    }
    return Outcome(
        arrays={
            "n_train": (sizes, ["n_sizes"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (stack(evals, "gap"), ["n_sizes", "n_sigma"]),
            "peak_gap": (stack(evals, "peak_gap"), ["n_sizes"]),
            "peak_sigma": (stack(evals, "peak_sigma"), ["n_sizes"]),
            "memorized_fraction": (mem, ["n_sizes"]),
            "optimal_memorized_fraction": (opt_mem, ["n_sizes"]),
            "baseline_memorized_fraction": (base, ["n_sizes"]),
            "localization": (loc, ["n_sizes"]),
            "optimal_localization": (opt_loc, ["n_sizes"]),
            "in_regime": (regime, ["n_sizes"]),
            "grid_samples": (
                [_show(e["samples"], s.n_show) for e in evals],
                ["n_sizes", "n_show", 2],
            ),
            "grid_memorized": (
                np.asarray([_show(e["memorized"], s.n_show) for e in evals], np.int8),
                ["n_sizes", "n_show"],
            ),
            "pool_x": (pool.train_x, ["n_pool", 2]),
        },
        dims=dict(n_sizes=len(sizes), n_sigma=len(sigmas), n_show=s.n_show, n_pool=max(sizes)),
        headline=headline,
        checks=checks,
        config=dict(sizes=sizes),
    )


def figure_dataset_size(result: dict):
    from toyflow.plotting import draw_gap_curves, draw_samples, panel_figure, plot_lines

    a = result["arrays"]
    sizes = [int(n) for n in a["n_train"]]
    fig, axes = panel_figure(2 + len(sizes), ncols=4, width=3.2, height=3.0)
    draw_gap_curves(axes[0], a["sigmas"], a["gap"], [f"n = {n}" for n in sizes])
    plot_lines(
        sizes,
        {"learned": a["localization"], "optimal": a["optimal_localization"]},
        xlabel="training points",
        ylabel="localization (m − b)/(1 − b)",
        logx=True,
        label_x_values=True,
        ax=axes[1],
    )
    pool = np.asarray(a["pool_x"])
    for i, n in enumerate(sizes):
        ax = axes[2 + i]
        draw_samples(ax, a["grid_samples"][i], np.asarray(a["grid_memorized"][i], bool), size=2)
        ax.scatter(pool[:n, 0], pool[:n, 1], s=6, c="#d62728")
        ax.set_title(f"n = {n}: {100 * a['memorized_fraction'][i]:.0f}% memorized", fontsize=8)
        ax.set_xlim(-13, 13)
        ax.set_ylim(-13, 13)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


# --- condition granularity ------------------------------------------------------------------------


def _granularity_sets(data, spec, seed):
    """``[(name, train_labels, val_labels), ...]`` for the granularities in ``spec``."""
    from toyflow.labels import make_labels

    out = []
    for item in spec:
        if item == "none":
            tl = np.zeros(data.n_train, np.int32)
            out.append(("none", tl, np.zeros(data.n_val, np.int32)))
        elif item in ("coarse", "point"):
            tl, vl = make_labels(data, item)
            out.append((item, tl, vl))
        else:  # "kmeans-K"
            k = int(str(item).split("-")[1])
            tl, vl = make_labels(data, "kmeans", k=k, seed=seed)
            out.append((f"kmeans-{k}", tl, vl))
    return out


@dataclasses.dataclass(frozen=True)
class ConditionGranularity(
    Learned, quick=dict(granularities=("none", "coarse", "kmeans-4", "point"), n_show=100)
):
    granularities: tuple[str, ...] = (
        "none",
        "coarse",
        "kmeans-2",
        "kmeans-4",
        "kmeans-16",
        "kmeans-32",
        "point",
    )
    n_show: int = 300
    steps: int = 4000


@experiment(
    "condition-granularity",
    "unconditional, coarse labels, k-means K, one label per point",
    family="learned",
    settings=ConditionGranularity,
)
def condition_granularity(s: ConditionGranularity, progress) -> Outcome:
    """Unconditional, coarse labels (the mixture component), k-means K over a range, one label
    per point. All label sets train together in one vmapped sweep: the training set is repeated
    once per label set and each model trains on its own copy (``subsets``); ``none`` is a single
    label for every point, i.e. unconditional. Gap and samples are class-conditional (validation
    points take their nearest centre's label; samples draw labels like the training set).

    Arrays (shapes):
      num_labels ``(n_gran,)`` (distinct labels), sigmas ``(n_sigma,)``, gap ``(n_gran, n_sigma)``,
      peak_gap / peak_sigma / memorized_fraction / fd_train / fd_val / relative_overfit /
      in_regime ``(n_gran,)``, grid_samples ``(n_gran, n_show, 2)``, grid_memorized
      ``(n_gran, n_show)``, train_x ``(n_train, 2)``. The names are ``config["granularities"]``.
    """
    data = s.dataset()
    sigmas = s.sigmas()
    sets = _granularity_sets(data, s.granularities, s.data_seed)
    names = [n for n, _, _ in sets]
    rep = Reporter(progress, 4 + len(sets), "condition-granularity")
    n, m = data.n_train, len(sets)
    num_classes = max(int(t.max()) + 1 for _, t, _ in sets)
    big_x = np.tile(data.train_x, (m, 1))
    big_labels = np.concatenate([t for _, t, _ in sets])
    subsets = [list(range(i * n, (i + 1) * n)) for i in range(m)]
    cfg = MLPConfig(dim=2, width=s.width, depth=s.depth, num_classes=num_classes)
    start = rep.done
    sweep = train_sweep(
        big_x,
        big_labels,
        subsets=subsets,
        seeds=[s.seed] * m,
        steps=s.steps,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        config=cfg,
        n_snapshots=0,
        callback=rep.training(4, "sweep over label sets"),
    )
    rep.finish_training(4, start)
    evals = []
    for (name, tl, vl), r in zip(sets, sweep.results):
        evals.append(
            evaluate(
                r.denoiser,
                data.train_x,
                data.val_x,
                sigmas,
                train_labels=tl,
                val_labels=vl,
                sample_labels=sample_labels(tl, s.n_samples, s.seed),
                **s.eval_kwargs(),
            )
        )
        rep.advance(1, name)
    regime = np.asarray([in_regime(e, len(sigmas)) for e in evals], np.int8)
    num_labels = np.asarray([len(np.unique(t)) for _, t, _ in sets])
    mem = stack(evals, "memorized_fraction")
    headline = {
        "baseline_memorized_fraction": baseline(data),
        "baseline_relative_fd_overfit": _baseline_fd(data, s),
        "per_granularity": {
            name: {
                "labels": int(k),
                "peak_gap": float(e["peak_gap"]),
                "peak_sigma": float(e["peak_sigma"]),
                "memorized_fraction": float(e["memorized_fraction"]),
            }
            for name, k, e in zip(names, num_labels, evals)
        },
        "memorization_vs_labels_rank_correlation": spearman(num_labels, mem),
        "gap_vs_labels_rank_correlation": spearman(num_labels, stack(evals, "peak_gap")),
        "granularities_in_regime": [nm for nm, r in zip(names, regime) if r],
    }
    checks = {"finer_labels_memorize_more": bool(mem[-1] > mem[0])}
    return Outcome(
        arrays={
            "num_labels": (num_labels, ["n_gran"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (stack(evals, "gap"), ["n_gran", "n_sigma"]),
            "peak_gap": (stack(evals, "peak_gap"), ["n_gran"]),
            "peak_sigma": (stack(evals, "peak_sigma"), ["n_gran"]),
            "memorized_fraction": (mem, ["n_gran"]),
            **columns(evals, ("fd_train", "fd_val", "relative_overfit"), "n_gran"),
            "in_regime": (regime, ["n_gran"]),
            "grid_samples": (
                [_show(e["samples"], s.n_show) for e in evals],
                ["n_gran", "n_show", 2],
            ),
            "grid_memorized": (
                np.asarray([_show(e["memorized"], s.n_show) for e in evals], np.int8),
                ["n_gran", "n_show"],
            ),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(n_gran=m, n_sigma=len(sigmas), n_show=s.n_show, n_train=data.n_train),
        headline=headline,
        checks=checks,
        config=dict(granularities=names),
    )


def figure_condition_granularity(result: dict):
    from toyflow.plotting import draw_gap_curves, plot_lines

    a = result["arrays"]
    names = result["config"]["granularities"]

    def gaps(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap"], names, cmap="magma")
        ax.set_title("class-conditional gap per σ", fontsize=8)

    def lines(ax):
        order = np.argsort(np.asarray(a["num_labels"]), kind="stable")
        plot_lines(
            np.asarray(a["num_labels"])[order],
            {
                "peak gap": np.asarray(a["peak_gap"])[order],
                "memorized fraction": np.asarray(a["memorized_fraction"])[order],
            },
            xlabel="distinct labels",
            logx=True,
            label_x_values=True,
            ax=ax,
        )

    return _samples_row(a, names, [gaps, lines])


# --- guidance scale -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GuidanceScale(Learned, quick=dict(ws=(0.0, 1.0, 2.0), n_show=100)):
    ws: tuple[float, ...] = (0.0, 0.5, 1.0, 2.0, 3.0)
    n_show: int = 300


@experiment(
    "guidance-scale",
    "classifier-free and autoguidance weights with learned models",
    family="learned",
    settings=GuidanceScale,
)
def guidance_scale(s: GuidanceScale, progress) -> Outcome:
    """Classifier-free guidance (the conditional model against its own unconditional branch,
    coarse labels, label dropout 0.1) and autoguidance (the final model against an early
    snapshot, about 1/16 of training, as Karras et al. 2024) over guidance weights.

    Arrays (shapes):
      ws ``(n_w,)``, sigmas ``(n_sigma,)``, gap_cfg / gap_auto ``(n_w, n_sigma)``,
      peak_gap_cfg / peak_gap_auto / memorized_cfg / memorized_auto / relative_overfit_cfg /
      relative_overfit_auto ``(n_w,)``, grid_samples ``(2, n_w, n_show, 2)`` (CFG row, then
      autoguidance), grid_memorized ``(2, n_w, n_show)``, train_x ``(n_train, 2)``.
    """
    data = s.dataset()
    sigmas = s.sigmas()
    ws = [float(w) for w in s.ws]
    rep = Reporter(progress, 4 + 2 * len(ws), "guidance-scale")
    tl, vl = data.train_coarse, data.val_coarse
    r = train(
        data.train_x,
        tl,
        **s.train_kwargs(),
        seed=s.seed,
        n_snapshots=12,
        callback=rep.training(4),
    )
    rep.finish_training(4, 0)
    target = s.steps / 16
    bad_index = int(np.argmin([abs(np.log(st / target)) for st in r.snapshot_steps]))
    bad = r.snapshots[bad_index]
    labels = sample_labels(tl, s.n_samples, s.seed)
    out: dict[str, list[dict[str, Any]]] = {"cfg": [], "auto": []}
    for w in ws:
        for key, den in (
            ("cfg", classifier_free(r.denoiser, w)),
            ("auto", autoguidance(r.denoiser, bad, w)),
        ):
            out[key].append(
                evaluate(
                    den,
                    data.train_x,
                    data.val_x,
                    sigmas,
                    train_labels=tl,
                    val_labels=vl,
                    sample_labels=labels,
                    **s.eval_kwargs(),
                )
            )
            rep.advance(1, f"{key} w = {w:g}")
    cfg, auto = out["cfg"], out["auto"]
    headline = {
        "baseline_memorized_fraction": baseline(data),
        "baseline_relative_fd_overfit": _baseline_fd(data, s),
        "autoguidance_negative_step": int(r.snapshot_steps[bad_index]),
        "cfg": {
            f"{w:g}": {
                "peak_gap": float(e["peak_gap"]),
                "peak_sigma": float(e["peak_sigma"]),
                "memorized_fraction": float(e["memorized_fraction"]),
            }
            for w, e in zip(ws, cfg)
        },
        "autoguidance": {
            f"{w:g}": {
                "peak_gap": float(e["peak_gap"]),
                "peak_sigma": float(e["peak_sigma"]),
                "memorized_fraction": float(e["memorized_fraction"]),
            }
            for w, e in zip(ws, auto)
        },
        "cfg_memorization_vs_w_rank_correlation": spearman(ws, stack(cfg, "memorized_fraction")),
        "auto_memorization_vs_w_rank_correlation": spearman(ws, stack(auto, "memorized_fraction")),
        "cfg_gap_vs_w_rank_correlation": spearman(ws, stack(cfg, "peak_gap")),
        "auto_gap_vs_w_rank_correlation": spearman(ws, stack(auto, "peak_gap")),
    }
    shown = [[_show(e["samples"], s.n_show) for e in row] for row in (cfg, auto)]
    shown_m = np.asarray(
        [[_show(e["memorized"], s.n_show) for e in row] for row in (cfg, auto)], np.int8
    )
    return Outcome(
        arrays={
            "ws": (ws, ["n_w"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap_cfg": (stack(cfg, "gap"), ["n_w", "n_sigma"]),
            "gap_auto": (stack(auto, "gap"), ["n_w", "n_sigma"]),
            "peak_gap_cfg": (stack(cfg, "peak_gap"), ["n_w"]),
            "peak_gap_auto": (stack(auto, "peak_gap"), ["n_w"]),
            "memorized_cfg": (stack(cfg, "memorized_fraction"), ["n_w"]),
            "memorized_auto": (stack(auto, "memorized_fraction"), ["n_w"]),
            "relative_overfit_cfg": (stack(cfg, "relative_overfit"), ["n_w"]),
            "relative_overfit_auto": (stack(auto, "relative_overfit"), ["n_w"]),
            "grid_samples": (shown, [2, "n_w", "n_show", 2]),
            "grid_memorized": (shown_m, [2, "n_w", "n_show"]),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(n_w=len(ws), n_sigma=len(sigmas), n_show=s.n_show, n_train=data.n_train),
        headline=headline,
        config=dict(ws=ws),
    )


def figure_guidance_scale(result: dict):
    from toyflow.plotting import draw_gap_curves, plot_ablation_grid, plot_lines

    a = result["arrays"]
    ws = [float(w) for w in a["ws"]]

    def gap_cfg(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap_cfg"], [f"w = {w:g}" for w in ws], cmap="cividis")
        ax.set_title("classifier-free: gap per σ", fontsize=8)

    def gap_auto(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap_auto"], [f"w = {w:g}" for w in ws], cmap="cividis")
        ax.set_title("autoguidance: gap per σ", fontsize=8)

    def lines(ax):
        plot_lines(
            ws,
            {
                "CFG peak gap": a["peak_gap_cfg"],
                "auto peak gap": a["peak_gap_auto"],
                "CFG memorized": a["memorized_cfg"],
                "auto memorized": a["memorized_auto"],
            },
            xlabel="guidance weight w",
            ax=ax,
        )

    titles = [
        [
            f"{name} w = {w:g}: {100 * np.mean(m):.0f}% mem."
            for w, m in zip(ws, a["grid_memorized"][r])
        ]
        for r, name in enumerate(("CFG", "auto"))
    ]
    return plot_ablation_grid(
        a["grid_samples"],
        row_labels=["classifier-free", "autoguidance"],
        col_labels=[f"w = {w:g}" for w in ws],
        train_x=a["train_x"],
        memorized=a["grid_memorized"],
        extent=10.0,
        header=[gap_cfg, gap_auto, lines],
        cell_titles=titles,
    )


# --- noise schedule -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class NoiseSchedule(Learned, quick=dict(n_show=100)):
    schedules: tuple[str, ...] = tuple(SCHEDULES)
    n_show: int = 300
    steps: int = 4000


@experiment(
    "noise-schedule",
    "EDM, VP, VE and cosine trained and sampled on the same data",
    family="learned",
    settings=NoiseSchedule,
)
def noise_schedule(s: NoiseSchedule, progress) -> Outcome:
    """EDM, VP, VE and cosine: each fixes the training noise distribution and the sampler's
    time grid; the same data, network and step count for all (the denoiser ``D(x; σ)`` is the
    same object, so the gap is measured identically).

    Arrays (shapes):
      sigmas ``(n_sigma,)``, gap ``(n_sched, n_sigma)``, peak_gap / peak_sigma /
      memorized_fraction / fd_train / fd_val / relative_overfit / in_regime ``(n_sched,)``,
      losses ``(n_sched, n_loss)``, grid_samples ``(n_sched, n_show, 2)``, grid_memorized
      ``(n_sched, n_show)``, train_x ``(n_train, 2)``. Names in ``config["schedules"]``.
    """
    data = s.dataset()
    sigmas = s.sigmas()
    names = list(s.schedules)
    rep = Reporter(progress, 4 * len(names), "noise-schedule")
    evals, losses = [], []
    for name in names:
        start = rep.done
        r = train(
            data.train_x,
            **s.train_kwargs(),
            seed=s.seed,
            schedule=name,
            n_snapshots=0,
            callback=rep.training(3, f"train {name}"),
        )
        rep.finish_training(3, start)
        evals.append(
            evaluate(r.denoiser, data.train_x, data.val_x, sigmas, schedule=name, **s.eval_kwargs())
        )
        losses.append(downsample(r.losses))
        rep.advance(1, f"evaluate {name}")
    regime = np.asarray([in_regime(e, len(sigmas)) for e in evals], np.int8)
    headline = {
        "baseline_memorized_fraction": baseline(data),
        "baseline_relative_fd_overfit": _baseline_fd(data, s),
        "per_schedule": {
            n: {
                "peak_gap": float(e["peak_gap"]),
                "peak_sigma": float(e["peak_sigma"]),
                "memorized_fraction": float(e["memorized_fraction"]),
                "relative_fd_overfit": float(e["relative_overfit"]),
            }
            for n, e in zip(names, evals)
        },
        "schedules_in_regime": [n for n, r in zip(names, regime) if r],
    }
    return Outcome(
        arrays={
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (stack(evals, "gap"), ["n_sched", "n_sigma"]),
            **columns(
                evals,
                (
                    "peak_gap",
                    "peak_sigma",
                    "memorized_fraction",
                    "fd_train",
                    "fd_val",
                    "relative_overfit",
                ),
                "n_sched",
            ),
            "in_regime": (regime, ["n_sched"]),
            "losses": (np.asarray(losses), ["n_sched", "n_loss"]),
            "grid_samples": (
                [_show(e["samples"], s.n_show) for e in evals],
                ["n_sched", "n_show", 2],
            ),
            "grid_memorized": (
                np.asarray([_show(e["memorized"], s.n_show) for e in evals], np.int8),
                ["n_sched", "n_show"],
            ),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(
            n_sched=len(names),
            n_sigma=len(sigmas),
            n_loss=np.shape(losses)[1],
            n_show=s.n_show,
            n_train=data.n_train,
        ),
        headline=headline,
        config=dict(schedules=names),
    )


def figure_noise_schedule(result: dict):
    from toyflow.plotting import draw_gap_curves, draw_loss_curves

    a = result["arrays"]
    names = result["config"]["schedules"]

    def gaps(ax):
        draw_gap_curves(ax, a["sigmas"], a["gap"], names, cmap="tab10")
        ax.set_title("gap per σ", fontsize=8)

    def losses(ax):
        draw_loss_curves(ax, a["losses"], names, smooth=1)
        ax.set_xlabel("training (window means)")

    return _samples_row(a, names, [gaps, losses])


# --- trajectory overlap ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TrajectoryOverlap(Learned, quick=dict(n_traj=200, n_overlap_noise=2, n_show=30)):
    n_traj: int = 1000
    n_overlap_noise: int = 4
    n_show: int = 60


@experiment(
    "trajectory-overlap",
    "claim 3: model error on noisy training data vs on sampling trajectories, per σ",
    family="learned",
    settings=TrajectoryOverlap,
)
def trajectory_overlap(s: TrajectoryOverlap, progress) -> Outcome:
    """Claim 3 made visible for one learned model. Per σ of the 40-step sampling grid:

    - the model-vs-optimal error ``‖D − D*‖`` on noisy training samples ``y + σn``, on noisy
      validation samples, and on the sampler's trajectory states;
    - how far trajectory states and noisy training samples lie from the nearest training point
      (in units of ``σ√d``), and the optimal posterior's largest weight (localization);
    - the train/validation gap on the same σ, so the region where the two errors split can be
      compared with where trajectories go.

    Arrays (shapes), all ``(n_sigma,)``: sigmas, gap, e_train, e_val, error_traj,
    error_noisy_train, error_noisy_val, traj_nn_distance, noisy_nn_distance, traj_max_weight,
    noisy_max_weight, traj_log_density, noisy_log_density, overlap; plus trajectories
    ``(n_sigma + 1, n_show, 2)``, train_x ``(n_train, 2)``.
    """
    data = s.dataset()
    rep = Reporter(progress, 7, "trajectory-overlap")
    r = train(
        data.train_x, **s.train_kwargs(), seed=s.seed, n_snapshots=0, callback=rep.training(4)
    )
    rep.finish_training(4, 0)
    model = r.denoiser
    _, traj, grid = sample(
        model, s.n_traj, steps=s.sample_steps, seed=s.seed, return_trajectory=True
    )
    traj = np.asarray(traj)
    sigmas = np.asarray(grid[:-1], float)
    rep.advance(1, "sampled trajectories")
    ov = metrics.trajectory_overlap(
        model,
        traj,
        grid,
        data.train_x,
        val_x=data.val_x[: s.n_gap_val],
        n_noise=s.n_overlap_noise,
        seed=s.seed,
    )
    rep.advance(1, "overlap")
    curve = metrics.gap_curve(
        model,
        data.train_x,
        data.val_x[: s.n_gap_val],
        sigmas,
        n_noise=s.n_noise,
        seed=s.seed,
    )
    rep.advance(1, "gap")
    gap = curve.gap
    pk, pk_sigma, pk_index = peak(sigmas, gap)
    split = gap >= 0.5 * pk if pk > 0 else np.zeros_like(gap, bool)
    mean_in = lambda v: float(np.mean(np.asarray(v)[split])) if split.any() else None
    err_tr, err_va, err_tj = ov.error_noisy_train, ov.error_noisy_val, ov.error_traj
    closer_to_val = np.abs(err_tj - err_va) < np.abs(err_tj - err_tr)
    headline = {
        "peak_gap": pk,
        "peak_sigma": pk_sigma,
        "split_sigma_range": [float(sigmas[split].min()), float(sigmas[split].max())]
        if split.any()
        else None,
        "in_split_region": {
            "error_noisy_train": mean_in(err_tr),
            "error_noisy_val": mean_in(err_va),
            "error_traj": mean_in(err_tj),
            "traj_nn_distance": mean_in(ov.traj_nn_distance),
            "noisy_nn_distance": mean_in(ov.noisy_nn_distance),
            "traj_max_weight": mean_in(ov.traj_max_weight),
            "noisy_max_weight": mean_in(ov.noisy_max_weight),
            "share_of_sigmas_where_traj_error_is_closer_to_validation": mean_in(
                closer_to_val.astype(float)
            ),
        },
        "memorized_fraction": metrics.memorized_fraction(traj[-1], data.train_x),
        "baseline_memorized_fraction": baseline(data),
    }
    checks = {"gap_peak_intermediate": is_intermediate(pk_index, len(sigmas))}
    rep.advance(1, "done")
    return Outcome(
        arrays={
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (gap, ["n_sigma"]),
            "e_train": (curve.e_train, ["n_sigma"]),
            "e_val": (curve.e_val, ["n_sigma"]),
            "error_traj": (err_tj, ["n_sigma"]),
            "error_noisy_train": (err_tr, ["n_sigma"]),
            "error_noisy_val": (err_va, ["n_sigma"]),
            "traj_nn_distance": (ov.traj_nn_distance, ["n_sigma"]),
            "noisy_nn_distance": (ov.noisy_nn_distance, ["n_sigma"]),
            "traj_max_weight": (ov.traj_max_weight, ["n_sigma"]),
            "noisy_max_weight": (ov.noisy_max_weight, ["n_sigma"]),
            "traj_log_density": (ov.traj_log_density, ["n_sigma"]),
            "noisy_log_density": (ov.noisy_log_density, ["n_sigma"]),
            "overlap": (ov.overlap, ["n_sigma"]),
            "trajectories": (traj[:, : s.n_show], ["n_sigma_plus_1", "n_show", 2]),
            "train_x": (data.train_x, ["n_train", 2]),
        },
        dims=dict(
            n_sigma=len(sigmas),
            n_sigma_plus_1=len(sigmas) + 1,
            n_show=s.n_show,
            n_train=data.n_train,
        ),
        headline=headline,
        checks=checks,
    )


def figure_trajectory_overlap(result: dict):
    from toyflow.plotting import draw_gap_curves, draw_trajectories, panel_figure, plot_lines

    a = result["arrays"]
    fig, axes = panel_figure(4, ncols=4, width=3.6, height=3.2)
    s = a["sigmas"]
    plot_lines(
        s,
        {
            "noisy train": a["error_noisy_train"],
            "noisy validation": a["error_noisy_val"],
            "trajectory states": a["error_traj"],
        },
        xlabel="σ",
        ylabel="‖D − D*‖ (model vs optimal)",
        logx=True,
        logy=True,
        ax=axes[0],
        title="model error where it is measured",
    )
    draw_gap_curves(axes[1], s, [a["gap"]], ["gap"], cmap="viridis")
    axes[1].set_title("train/validation gap on the sampling grid", fontsize=8)
    plot_lines(
        s,
        {"trajectory": a["traj_nn_distance"], "noisy train": a["noisy_nn_distance"]},
        xlabel="σ",
        ylabel="nearest training point / (σ√d)",
        logx=True,
        logy=True,
        ax=axes[2],
        title="distance to training data",
    )
    ax = axes[3]
    draw_trajectories(ax, a["trajectories"])
    t = np.asarray(a["train_x"])
    ax.scatter(t[:, 0], t[:, 1], s=8, c="#d62728", zorder=5)
    ax.set_xlim(-12, 12)
    ax.set_ylim(-12, 12)
    ax.set_aspect("equal")
    ax.set_title("sampling trajectories", fontsize=8)
    return fig
