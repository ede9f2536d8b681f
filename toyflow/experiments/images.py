r"""Image experiments: the paper's claims measured on U-Nets trained on images.

Each function follows :mod:`toyflow.experiments`: ``fn(*, quick=False, outdir=None,
progress=None, **overrides) -> dict`` (a tidy result: config, arrays with documented shapes,
headline numbers, checks), writing ``NAME.json`` and ``NAME.png`` into ``outdir`` when given.

- ``image-gap``: relative gap ``(E_val − E_train) / E_train`` over 64 log-spaced σ in
  [0.002, 80] for each training snapshot of a U-Net (claim 2: it grows with training and
  peaks at intermediate σ), beside the optimal denoiser's.
- ``image-memorization``: samples of the optimal denoiser on a 500-image subset (all memorized,
  claim 1) and of the trained U-Net, each shown above its two nearest training images; Fréchet
  distances to training and validation images (pixels and random features); the trajectory
  overlap of the U-Net's sampling paths with noisy training images (claim 3).
- ``image-training-time``: gap peak, memorized fraction and Fréchet overfit per snapshot.
- ``image-condition-granularity``: conditional U-Nets on k-means pseudo-labels with growing
  ``K`` (one compiled model serves every ``K``: ``num_classes = max K``), beside the
  class-conditional optimal denoiser.

Defaults (``quick=False``) train a 32-channel tiny U-Net on 500 of scikit-learn's digits for
8000 steps; ``preset="cifar", data="shapes"`` (or a CIFAR folder via ``data_path``) runs the
paper-size model on a GPU. ``quick=True`` shrinks everything to well under a minute on 2 CPU
cores (and shares one compiled training step across the four experiments).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np

from toyflow import metrics
from toyflow._validation import lookup
from toyflow.experiments._common import Outcome, Reporter, Settings, experiment
from toyflow.experiments._eval import (
    baseline,
    columns,
    downsample,
    is_intermediate,
    peak,
    spearman,
)
from toyflow.images.data import (
    IMAGE_DATASETS,
    ImageDataset,
    load_cifar,
    load_folder,
    load_image_dataset,
    load_npz,
)
from toyflow.images.measure import (
    draw_nearest,
    frechet,
    image_sigmas,
    memorization,
    optimal_denoiser,
)
from toyflow.images.unet import PRESETS, unet_config
from toyflow.labels import sample_labels
from toyflow.sampling import sample
from toyflow.training import train

FILE_SOURCES: dict[str, Callable[[str], ImageDataset]] = {
    "folder": load_folder,
    "npz": load_npz,
    "cifar": load_cifar,
}


@dataclasses.dataclass(frozen=True)
class Images(
    Settings,
    quick=dict(
        model_channels=8,
        steps=200,
        batch_size=64,
        learning_rate=2e-3,
        ema=0.99,
        steps_per_call=100,
        n_snapshots=3,
        n_noise=1,
        n_gap=32,
        n_samples=64,
        sample_steps=12,
        fd_dim=32,
    ),
):
    """Settings every image experiment shares: data, U-Net, training, evaluation."""

    data: str = "digits"
    data_path: str | None = None
    data_seed: int = 0
    n_train: int = 500
    n_val: int | None = None
    preset: str = "tiny"
    model_channels: int = 32
    steps: int = 8000
    batch_size: int = 128
    learning_rate: float = 1e-3
    ema: float = 0.999
    seed: int = 0
    steps_per_call: int = 250
    n_snapshots: int = 8
    n_sigma: int = 64
    n_noise: int = 50
    n_gap: int = 256
    n_samples: int = 1000
    sample_steps: int = 40
    n_show: int = 8
    fd_dim: int = 128

    def check(self) -> None:
        lookup(PRESETS, self.preset, "U-Net preset")
        if self.data in FILE_SOURCES:
            if not self.data_path:
                raise ValueError(f"data={self.data!r} needs data_path (a {self.data} to read)")
        elif self.data not in IMAGE_DATASETS:
            valid = ", ".join(sorted([*IMAGE_DATASETS, *FILE_SOURCES]))
            raise ValueError(f"unknown image data set {self.data!r}; valid names: {valid}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1), got {self.ema}")


#: What quick mode changes (shared by the image tests to reuse one compiled training step).
QUICK = Images.QUICK


#: Per-snapshot and per-K numbers the image experiments write (one value per row).
SNAPSHOT_NUMBERS = (
    "peak_gap",
    "peak_sigma",
    "memorized_fraction",
    "fd_train",
    "fd_val",
    "relative_overfit",
)
K_NUMBERS = (
    "peak_gap",
    "peak_sigma",
    "memorized_fraction",
    "optimal_memorized_fraction",
    "relative_overfit",
    "images_per_class",
)


# --- shared pieces ------------------------------------------------------------------------------


def _load(s: Images) -> ImageDataset:
    """The data set: a built-in name, or ``data="folder"|"npz"|"cifar"`` with ``data_path``."""
    if s.data in FILE_SOURCES:
        data = FILE_SOURCES[s.data](str(s.data_path))
    else:
        data = load_image_dataset(s.data)
    n_train = min(int(s.n_train), data.n_train) if s.n_train else data.n_train
    n_val = None if s.n_val is None else min(int(s.n_val), data.n_val)
    return data.subset(n_train, n_val=n_val, seed=s.data_seed)


def _config(s: Images, data: ImageDataset, num_classes: int | None = None):
    extra = {} if s.model_channels is None else {"model_channels": int(s.model_channels)}
    return unet_config(s.preset, image_shape=data.event_shape, num_classes=num_classes, **extra)


def _train(s, data: ImageDataset, rep: Reporter, units: float, labels=None, num_classes=None):
    start = rep.done
    result = train(
        data.train_x,
        labels,
        config=_config(s, data, num_classes),
        steps=s.steps,
        batch_size=s.batch_size,
        learning_rate=s.learning_rate,
        ema=s.ema,
        seed=s.seed,
        n_snapshots=s.n_snapshots,
        steps_per_call=s.steps_per_call,
        callback=rep.training(units),
    )
    rep.finish_training(units, start)
    return result


def _gap_sets(s, data: ImageDataset):
    k = int(s.n_gap)
    tl = None if data.train_labels is None else data.train_labels[:k]
    vl = None if data.val_labels is None else data.val_labels[:k]
    return data.train_x[:k], data.val_x[:k], tl, vl


def _draw(denoiser, s, n: int | None = None, labels=None, trajectory: bool = False):
    out = sample(
        denoiser,
        n or s.n_samples,
        steps=s.sample_steps,
        seed=s.seed,
        labels=labels,
        return_trajectory=trajectory,
    )
    return tuple(np.asarray(a) for a in out) if trajectory else np.asarray(out)


def _measure(sigmas, gap, samples, data: ImageDataset) -> dict[str, Any]:
    """The gap curve's peak, and the memorized fraction and pixel-space Fréchet distances of
    ``samples`` (to the training and validation images)."""
    fd = frechet(samples, data.train_x, data.val_x, space="pixels")
    pk = peak(sigmas, gap)
    return dict(
        gap=gap,
        peak_gap=pk[0],
        peak_sigma=pk[1],
        memorized_fraction=memorization(samples, data.train_x)["fraction"],
        fd_train=fd["fd_train"],
        fd_val=fd["fd_val"],
        relative_overfit=fd["relative_overfit"],
    )


def _image_dims(data: ImageDataset) -> dict[str, int]:
    h, w, c = data.event_shape
    return {"H": h, "W": w, "C": c}


# --- image-gap --------------------------------------------------------------------------------------


@experiment(
    "image-gap",
    "per-σ generalization gap of a U-Net on images",
    family="images",
    settings=Images,
)
def image_gap(s: Images, progress) -> Outcome:
    """Relative gap per σ for every training snapshot of a U-Net (claim 2), and the optimal
    denoiser's gap for reference.

    Arrays (shapes): steps ``(n_snap,)``, sigmas ``(n_sigma,)``, gap / e_train / e_val
    ``(n_snap, n_sigma)``, peak_gap / peak_sigma ``(n_snap,)``, optimal_gap ``(n_sigma,)``,
    losses ``(n_loss,)``.
    """
    rep = Reporter(progress, 8 + s.n_snapshots + 1, "image-gap")
    data = _load(s)
    sigmas = image_sigmas(s.n_sigma)
    result_t = _train(s, data, rep, 8)
    tx, vx, _, _ = _gap_sets(s, data)
    curves = []
    for snap, step in zip(result_t.snapshots, result_t.snapshot_steps):
        curves.append(metrics.gap_curve(snap, tx, vx, sigmas, n_noise=s.n_noise, seed=s.seed))
        rep.advance(1, f"gap at step {step}")
    opt = metrics.gap_curve(
        optimal_denoiser(data.train_x), tx, vx, sigmas, n_noise=s.n_noise, seed=s.seed
    )
    rep.advance(1, "optimal denoiser")
    steps = np.asarray(result_t.snapshot_steps)
    gap = np.stack([c.gap for c in curves])
    peaks = [peak(sigmas, g) for g in gap]
    losses = downsample(result_t.losses, 100)
    headline: dict[str, Any] = {
        "peak_gap_last_snapshot": peaks[-1][0],
        "peak_sigma_last_snapshot": peaks[-1][1],
        "peak_gap_first_snapshot": peaks[0][0],
        "gap_vs_step_rank_correlation": spearman(steps, [p[0] for p in peaks]),
        "loss_first": float(np.mean(result_t.losses[:20])),
        "loss_last": float(np.mean(result_t.losses[-20:])),
        "optimal_gap_at_sigma_1": float(np.interp(0.0, np.log(sigmas), opt.gap)),
        "n_params": int(result_t.denoiser.num_params),
        "data": data.name,
        "n_train": data.n_train,
    }
    checks = {
        "finite": bool(np.all(np.isfinite(gap))),
        "loss_falls": headline["loss_last"] < headline["loss_first"],
        "peak_at_intermediate_sigma": is_intermediate(peaks[-1][2], len(sigmas)),
    }
    return Outcome(
        arrays={
            "steps": (steps, ["n_snap"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (gap, ["n_snap", "n_sigma"]),
            "e_train": (np.stack([c.e_train for c in curves]), ["n_snap", "n_sigma"]),
            "e_val": (np.stack([c.e_val for c in curves]), ["n_snap", "n_sigma"]),
            "peak_gap": ([p[0] for p in peaks], ["n_snap"]),
            "peak_sigma": ([p[1] for p in peaks], ["n_snap"]),
            "optimal_gap": (opt.gap, ["n_sigma"]),
            "losses": (losses, ["n_loss"]),
        },
        dims=dict(n_snap=len(steps), n_sigma=len(sigmas), n_loss=len(losses)),
        headline=headline,
        checks=checks,
    )


def figure_image_gap(result: dict):
    from toyflow.plotting import draw_gap_curves, draw_loss_curves, panel_figure

    a = result["arrays"]
    fig, (ax_gap, ax_err, ax_loss) = panel_figure(3, width=4.2, height=3.4)
    draw_gap_curves(
        ax_gap,
        a["sigmas"],
        a["gap"],
        [f"step {int(t)}" for t in a["steps"]],
        legend_title="snapshot",
    )
    ax_gap.set_title("U-Net: relative gap per σ (claim 2)", fontsize=9)
    s = np.asarray(a["sigmas"], float)
    ax_err.plot(s, np.asarray(a["e_train"])[-1], color="#d62728", label="U-Net, train")
    ax_err.plot(s, np.asarray(a["e_val"])[-1], color="#1f77b4", label="U-Net, validation")
    ax_err.set_xscale("log")
    ax_err.set_yscale("log")
    ax_err.set_xlabel("σ")
    ax_err.set_ylabel("mean ‖D(y + σn) − y‖", fontsize=8)
    ax_err.legend(fontsize=7)
    ax_err.set_title("errors of the last snapshot", fontsize=9)
    draw_loss_curves(ax_loss, a["losses"], smooth=1)
    ax_loss.set_title("training loss (window means)", fontsize=9)
    return fig


# --- image-memorization -----------------------------------------------------------------------------


@experiment(
    "image-memorization",
    "memorized fraction of generated images",
    family="images",
    settings=Images,
)
def image_memorization(s: Images, progress) -> Outcome:
    """Claim 1 on images (the optimal denoiser's samples are training images) against a trained
    U-Net, with nearest training images shown, Fréchet distances and trajectory overlap.

    Arrays (shapes): optimal_ratio / unet_ratio ``(n_samples,)`` (d₁/d₂), optimal_show /
    unet_show ``(n_show, H, W, C)``, optimal_nearest / unet_nearest ``(n_show, 2, H, W, C)``,
    overlap_sigmas / traj_nn_distance / noisy_nn_distance / error_traj / error_noisy_train /
    error_noisy_val ``(n_traj_sigma,)``.
    """
    rep = Reporter(progress, 8 + 4, "image-memorization")
    data = _load(s)
    n_show = min(int(s.n_show), int(s.n_samples))

    opt = optimal_denoiser(data.train_x)
    opt_x = _draw(opt, s)
    opt_mem = memorization(opt_x, data.train_x)
    rep.advance(1, "optimal denoiser samples")

    result_t = _train(s, data, rep, 8)
    unet = result_t.denoiser
    unet_x, traj, traj_sigmas = _draw(unet, s, trajectory=True)
    unet_mem = memorization(unet_x, data.train_x)
    rep.advance(1, "U-Net samples")

    fd = {}
    for who, xs in (("optimal", opt_x), ("unet", unet_x)):
        for space in ("pixels", "features"):
            fd[f"{who}_{space}"] = frechet(xs, data.train_x, data.val_x, space=space, dim=s.fd_dim)
    rep.advance(1, "Fréchet distances")
    _, vx, _, _ = _gap_sets(s, data)
    ov = metrics.trajectory_overlap(
        unet, traj, traj_sigmas, data.train_x, val_x=vx, optimal=opt, n_noise=1, seed=s.seed
    )
    rep.advance(1, "trajectory overlap")

    def nearest(xs, mem):
        idx = np.asarray(mem["indices"])[:n_show]
        return np.stack([data.train_x[idx[:, 0]], data.train_x[idx[:, 1]]], axis=1)

    headline: dict[str, Any] = {
        "optimal_memorized_fraction": opt_mem["fraction"],
        "unet_memorized_fraction": unet_mem["fraction"],
        "baseline_memorized_fraction": baseline(data),
        **{
            f"fd_{k}_{part}": v[part]
            for k, v in fd.items()
            for part in ("fd_train", "fd_val", "relative_overfit")
        },
        "mean_overlap": float(np.nanmean(ov.overlap)),
        "data": data.name,
        "n_train": data.n_train,
    }
    checks = {
        "optimal_memorizes": opt_mem["fraction"] >= 0.99,
        "finite": bool(np.all(np.isfinite(unet_x)) and np.isfinite(unet_mem["fraction"])),
        "unet_memorizes_less_than_optimal": unet_mem["fraction"] < opt_mem["fraction"],
    }
    nt = len(ov.sigmas)
    return Outcome(
        arrays={
            "optimal_ratio": (opt_mem["ratio"], ["n_samples"]),
            "unet_ratio": (unet_mem["ratio"], ["n_samples"]),
            "optimal_show": (opt_x[:n_show], ["n_show", "H", "W", "C"]),
            "unet_show": (unet_x[:n_show], ["n_show", "H", "W", "C"]),
            "optimal_nearest": (nearest(opt_x, opt_mem), ["n_show", 2, "H", "W", "C"]),
            "unet_nearest": (nearest(unet_x, unet_mem), ["n_show", 2, "H", "W", "C"]),
            "overlap_sigmas": (ov.sigmas, ["n_traj_sigma"]),
            "traj_nn_distance": (ov.traj_nn_distance, ["n_traj_sigma"]),
            "noisy_nn_distance": (ov.noisy_nn_distance, ["n_traj_sigma"]),
            "error_traj": (ov.error_traj, ["n_traj_sigma"]),
            "error_noisy_train": (ov.error_noisy_train, ["n_traj_sigma"]),
            "error_noisy_val": (ov.error_noisy_val, ["n_traj_sigma"]),
        },
        dims=dict(n_samples=len(opt_x), n_show=n_show, n_traj_sigma=nt, **_image_dims(data)),
        headline=headline,
        checks=checks,
    )


def figure_image_memorization(result: dict):
    from toyflow.plotting import _new_figure

    a, h = result["arrays"], result["headline"]
    n = len(a["optimal_show"])
    fig = _new_figure(max(6.0, 0.8 * n + 3.5), 6.6)
    top, bottom = fig.subfigures(2, 1)
    for sub, who, label in ((top, "optimal", "optimal denoiser"), (bottom, "unet", "U-Net")):
        left, right = sub.subfigures(1, 2, width_ratios=[max(n, 1), 3.2])
        axes = left.subplots(3, n, squeeze=False)
        show = np.asarray(a[f"{who}_show"])
        near = np.asarray(a[f"{who}_nearest"])
        train_like = np.concatenate([near[:, 0], near[:, 1]])
        idx = np.stack([np.arange(n), n + np.arange(n)], axis=1)
        ratio = np.asarray(a[f"{who}_ratio"])[:n]
        draw_nearest(axes, show, train_like, idx, ratio < 1 / 3, ratio)
        for r, lab in enumerate(("sample", "nearest", "2nd")):
            axes[r][0].set_ylabel(lab, fontsize=7)
        left.suptitle(f"{label}: {100 * h[f'{who}_memorized_fraction']:.0f}% memorized", fontsize=9)
        ax = right.subplots()
        ax.hist(np.asarray(a[f"{who}_ratio"], float), bins=20, range=(0, 1), color="0.4")
        ax.axvline(1 / 3, color="#ff7f0e", lw=1)
        ax.set_xlabel("d₁ / d₂ (nearest / 2nd nearest)", fontsize=7)
        ax.tick_params(labelsize=6)
        rel = h.get(f"fd_{who}_pixels_relative_overfit")
        ax.set_title(
            "FD overfit (pixels): " + ("n/a" if rel is None else f"{rel:+.2f}"), fontsize=7
        )
    return fig


# --- image-training-time -------------------------------------------------------------------------


@experiment(
    "image-training-time",
    "image gap and memorization over training",
    family="images",
    settings=Images,
)
def image_training_time(s: Images, progress) -> Outcome:
    """Gap peak, memorized fraction and Fréchet overfit of samples for each training snapshot:
    the objective overfits over training (claim 2) while the samples need not follow (claim 3).

    Arrays (shapes): steps ``(n_snap,)``, sigmas ``(n_sigma,)``, gap ``(n_snap, n_sigma)``,
    peak_gap / peak_sigma / memorized_fraction / fd_train / fd_val / relative_overfit
    ``(n_snap,)``, samples ``(n_snap, n_show, H, W, C)``, losses ``(n_loss,)``.
    """
    rep = Reporter(progress, 8 + s.n_snapshots + 1, "image-training-time")
    data = _load(s)
    sigmas = image_sigmas(s.n_sigma)
    result_t = _train(s, data, rep, 8)
    tx, vx, _, _ = _gap_sets(s, data)
    n_show = min(int(s.n_show), int(s.n_samples))
    rows = []
    for snap, step in zip(result_t.snapshots, result_t.snapshot_steps):
        curve = metrics.gap_curve(snap, tx, vx, sigmas, n_noise=s.n_noise, seed=s.seed)
        xs = _draw(snap, s)
        rows.append(
            dict(
                _measure(sigmas, curve.gap, xs, data),
                samples=xs[:n_show],
            )
        )
        rep.advance(1, f"snapshot {step}")
    steps = np.asarray(result_t.snapshot_steps)
    col = lambda k: np.asarray([r[k] for r in rows])
    losses = downsample(result_t.losses, 100)
    rep.advance(1, "done")
    headline: dict[str, Any] = {
        "baseline_memorized_fraction": baseline(data),
        "peak_gap_first_snapshot": float(col("peak_gap")[0]),
        "peak_gap_last_snapshot": float(col("peak_gap")[-1]),
        "memorized_fraction_last_snapshot": float(col("memorized_fraction")[-1]),
        "gap_vs_step_rank_correlation": spearman(steps, col("peak_gap")),
        "memorization_vs_step_rank_correlation": spearman(steps, col("memorized_fraction")),
        "data": data.name,
        "n_train": data.n_train,
    }
    checks = {
        "finite": bool(
            np.all(np.isfinite(col("gap"))) and np.all(np.isfinite(col("memorized_fraction")))
        ),
        "gap_grows_with_training": headline["gap_vs_step_rank_correlation"] > 0,
    }
    return Outcome(
        arrays={
            "steps": (steps, ["n_snap"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (col("gap"), ["n_snap", "n_sigma"]),
            **columns(rows, SNAPSHOT_NUMBERS, "n_snap"),
            "samples": (col("samples"), ["n_snap", "n_show", "H", "W", "C"]),
            "losses": (losses, ["n_loss"]),
        },
        dims=dict(
            n_snap=len(steps),
            n_sigma=len(sigmas),
            n_show=n_show,
            n_loss=len(losses),
            **_image_dims(data),
        ),
        headline=headline,
        checks=checks,
    )


def figure_image_training_time(result: dict):
    from toyflow.images.measure import image_grid
    from toyflow.plotting import _new_figure, draw_gap_curves, plot_lines

    a, h = result["arrays"], result["headline"]
    steps = [int(t) for t in a["steps"]]
    fig = _new_figure(11.0, 3.4 + 1.0 * len(steps))
    top, bottom = fig.subfigures(2, 1, height_ratios=[3.4, 1.0 * len(steps)])
    ax_gap, ax_lines = top.subplots(1, 2)
    draw_gap_curves(
        ax_gap, a["sigmas"], a["gap"], [f"step {t}" for t in steps], legend_title="snapshot"
    )
    ax_gap.set_title("relative gap per σ over training", fontsize=9)
    plot_lines(
        steps,
        {
            "peak gap": a["peak_gap"],
            "memorized fraction": a["memorized_fraction"],
            "FD overfit (pixels)": a["relative_overfit"],
            "baseline memorized": [h["baseline_memorized_fraction"]] * len(steps),
        },
        xlabel="training step",
        logx=True,
        ax=ax_lines,
        title="objective vs samples",
    )
    axes = bottom.subplots(len(steps), 1, squeeze=False)[:, 0]
    for ax, t, imgs, m in zip(axes, steps, a["samples"], a["memorized_fraction"]):
        grid = image_grid(np.asarray(imgs), ncols=len(imgs))
        ax.imshow(
            grid[..., 0] if grid.shape[-1] == 1 else grid,
            cmap="gray",
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_ylabel(f"step {t}\n{100 * m:.0f}% mem.", fontsize=7)
    return fig


# --- image-condition-granularity ---------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ImageConditionGranularity(Images, quick=dict(ks=(1, 8, 64), steps=100, n_snapshots=1)):
    ks: tuple[int, ...] = (1, 2, 10, 50, 100, 500)
    steps: int = 4000
    n_snapshots: int = 1


@experiment(
    "image-condition-granularity",
    "image gap for k-means pseudo-labels of growing K",
    family="images",
    settings=ImageConditionGranularity,
)
def image_condition_granularity(s: ImageConditionGranularity, progress) -> Outcome:
    """Conditional U-Nets on k-means pseudo-labels with ``K`` clusters (``K = 1`` is
    unconditional in effect): the finer the condition, the fewer images per class, the sooner
    the model (and the class-conditional optimal denoiser) memorizes.

    Arrays (shapes): ks ``(n_k,)``, sigmas ``(n_sigma,)``, gap ``(n_k, n_sigma)``, peak_gap /
    peak_sigma / memorized_fraction / optimal_memorized_fraction / relative_overfit ``(n_k,)``.
    """
    data = _load(s)
    ks = [int(k) for k in s.ks]
    if not ks or min(ks) < 1 or max(ks) > data.n_train:
        raise ValueError(
            f"ks must be between 1 and the number of training images ({data.n_train}), got {ks}"
        )
    rep = Reporter(progress, len(ks) * 7, "image-condition-granularity")
    sigmas = image_sigmas(s.n_sigma)
    rows = []
    for k in ks:
        if k == 1:
            labelled = data.with_labels(
                np.zeros(data.n_train, np.int32), np.zeros(data.n_val, np.int32)
            )
        else:
            labelled = data.with_kmeans_labels(k, seed=s.data_seed)
        rep.advance(1, f"k-means K={k}")
        # One architecture for every K (num_classes = max K): one compiled training step.
        result_t = _train(s, labelled, rep, 4, labels=labelled.train_labels, num_classes=max(ks))
        tx, vx, tl, vl = _gap_sets(s, labelled)
        curve = metrics.gap_curve(
            result_t.denoiser,
            tx,
            vx,
            sigmas,
            n_noise=s.n_noise,
            seed=s.seed,
            train_labels=tl,
            val_labels=vl,
        )
        rep.advance(1, f"gap K={k}")
        lab = sample_labels(labelled.train_labels, s.n_samples, s.seed)
        xs = _draw(result_t.denoiser, s, labels=lab)
        opt = optimal_denoiser(labelled.train_x, labelled.train_labels)
        xo = _draw(opt, s, labels=lab)
        rows.append(
            dict(
                _measure(sigmas, curve.gap, xs, data),
                optimal_memorized_fraction=memorization(xo, data.train_x)["fraction"],
                images_per_class=data.n_train / k,
            )
        )
        rep.advance(1, f"samples K={k}")
    col = lambda key: np.asarray([r[key] for r in rows])
    headline: dict[str, Any] = {
        "memorization_vs_k_rank_correlation": spearman(ks, col("memorized_fraction")),
        "optimal_memorization_vs_k_rank_correlation": spearman(
            ks, col("optimal_memorized_fraction")
        ),
        "gap_vs_k_rank_correlation": spearman(ks, col("peak_gap")),
        "memorized_fraction_smallest_k": float(col("memorized_fraction")[0]),
        "memorized_fraction_largest_k": float(col("memorized_fraction")[-1]),
        "data": data.name,
        "n_train": data.n_train,
    }
    checks = {
        "finite": bool(np.all(np.isfinite(col("gap")))),
        "optimal_memorizes_at_every_k": bool(np.all(col("optimal_memorized_fraction") >= 0.99)),
    }
    return Outcome(
        arrays={
            "ks": (ks, ["n_k"]),
            "sigmas": (sigmas, ["n_sigma"]),
            "gap": (col("gap"), ["n_k", "n_sigma"]),
            **columns(rows, K_NUMBERS, "n_k"),
        },
        dims=dict(n_k=len(ks), n_sigma=len(sigmas)),
        headline=headline,
        checks=checks,
    )


def figure_image_condition_granularity(result: dict):
    from toyflow.plotting import draw_gap_curves, panel_figure, plot_lines

    a = result["arrays"]
    ks = [int(k) for k in a["ks"]]
    fig, (ax_gap, ax_lines) = panel_figure(2, width=4.6, height=3.5)
    draw_gap_curves(
        ax_gap,
        a["sigmas"],
        a["gap"],
        [f"K = {k}" for k in ks],
        cmap="plasma",
        legend_title="k-means clusters",
    )
    ax_gap.set_title("relative gap per σ", fontsize=9)
    plot_lines(
        ks,
        {
            "U-Net memorized": a["memorized_fraction"],
            "optimal memorized": a["optimal_memorized_fraction"],
            "peak gap": a["peak_gap"],
        },
        xlabel="K (condition granularity)",
        logx=True,
        ax=ax_lines,
        title="memorization vs K",
    )
    return fig


__all__ = [
    "QUICK",
    "Images",
    "image_condition_granularity",
    "image_gap",
    "image_memorization",
    "image_training_time",
]
