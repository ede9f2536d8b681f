r"""``image-trajectory-intervention``: claim 3 tested by intervention on U-Nets trained on images.

The image variant of ``trajectory-intervention`` (:mod:`.intervention`, whose module docstring
defines every measure; the metrics are :mod:`toyflow.intervention`'s, which take any denoiser).
Per replicate (which redraws the split and every seed) a U-Net **A** is trained on ``n_train``
images and its **twin B** on ``n_train`` *other* images of the same data set, with the same
settings; then, per σ of the sampling grid (Euler, EDM): injection of noisy training /
validation images and of A's own trajectory states (with the twin control), the copy ratio
``E‖D_A − D*_A‖² / E‖D_B − D*_A‖²``, the leave-one-out k-NN AUC of trajectory states against
noisy training images (on flattened pixels), and the hybrid and band samplers with the optimal
denoiser ``D*_A`` of A's images.

Data, U-Net and training settings are those of the other image experiments (:mod:`.images`:
``data``, ``data_path``, ``preset``, ``model_channels``, ``steps``, ``batch_size``,
``learning_rate``, ``ema``, ``steps_per_call``, ``seed``, ``data_seed``; ``n_train`` counts the
images *per model*); the measurement settings are ``trajectory-intervention``'s (``replicates``,
``sample_steps``, ``n_traj``, ``n_draws``, ...). The evaluation settings of the other image
experiments (``n_snapshots``, ``n_noise``, ``n_gap``, ``n_samples``, ``n_show``, ``fd_dim``,
``n_sigma``) are not used here. ``--quick`` is the tiny preset (8-channel U-Net, 100 steps, 32
images per model, 8 sampler steps): it checks the pipeline in well under a minute on a CPU and
measures nothing. At scale: ``--set preset=cifar,data=shapes`` or a CIFAR folder, on a GPU
(``benchmarks/device_check.sh``).

Arrays are those of ``trajectory-intervention`` with one row (``n_settings = 1``, the data set):
every per-σ array ``(n_settings, n_sigma)`` comes with ``NAME_se`` (standard error over
replicates) and ``NAME_se_draws`` (noise-draw standard error within replicates): they are
memorized_injected_train, memorized_injected_train_twin, memorized_injected_val,
memorized_from_trajectory, copy_ratio_trajectory, copy_ratio_train, copy_ratio_val,
a_vs_b_trajectory, a_vs_b_train, a_vs_b_val, auc, auc_memorized, auc_novel, auc_fresh,
train_likeness, train_likeness_memorized, train_likeness_novel, overlap, overlap_memorized,
overlap_novel, gap, hybrid_memorized, hybrid_band_memorized, and auc_ci_lo / auc_ci_hi; sigmas
and band_lo are ``(n_sigma,)``. NaN marks a value that is undefined at that σ. The headline
holds, per data set, the numbers at the gap peak and the replicates' ``seeds``; the result's
``wall_time`` is the runtime.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from toyflow.experiments._common import Outcome, Reporter, experiment
from toyflow.experiments.images import Images, _config, _load
from toyflow.experiments.intervention import (
    Measures,
    figure_trajectory_intervention,
    measure_pair,
    outcome,
)
from toyflow.images.measure import optimal_denoiser

NAME = "image-trajectory-intervention"

#: The tiny preset of ``--quick`` (shares the compiled training step of the other image
#: experiments' quick mode: same U-Net, batch and optimizer).
_TINY = dict(
    model_channels=8,
    steps=100,
    batch_size=64,
    learning_rate=2e-3,
    ema=0.99,
    steps_per_call=100,
    n_train=32,
    n_val=64,
    replicates=2,
    sample_steps=8,
    n_traj=64,  # 64 = 2 draws × 32 images: injection and copy-ratio starts share one shape,
    n_draws=2,  # so each compiles once
    n_inject_traj=64,
    n_auc=24,
    knn=5,
    n_hybrid=16,
    band_steps=2,
    n_overlap_noise=1,
    n_gap_noise=2,
    n_gap_val=32,
)


@dataclasses.dataclass(frozen=True)
class ImageInterventionSettings(Images, Measures, quick=_TINY):
    """Settings of ``image-trajectory-intervention``: the image experiments' data, U-Net and
    training (``n_train`` images per model) and ``trajectory-intervention``'s measures."""

    n_train: int = 250
    n_val: int | None = 500
    n_traj: int = 500
    n_auc: int = 250
    n_inject_traj: int = 128
    n_hybrid: int = 256

    def check(self) -> None:
        Images.check(self)
        Measures.check(self)


def _replicate(s: ImageInterventionSettings, r: int) -> dict[str, Any]:
    from toyflow.training import train

    n = int(s.n_train)
    data = _load(dataclasses.replace(s, n_train=2 * n, data_seed=s.data_seed + r))
    if data.n_train < 2 * n:
        raise ValueError(
            f"{data.name} has {data.n_train} training images; A and its twin need "
            f"2 × n_train = {2 * n} (lower n_train)"
        )
    train_a, train_b = data.train_x[:n], data.train_x[n:]
    seed_a, seed_b = s.seed + 2 * r, s.seed + 2 * r + 1
    models = []
    for images, seed in ((train_a, seed_a), (train_b, seed_b)):
        result = train(
            images,
            config=_config(s, data),
            steps=s.steps,
            batch_size=s.batch_size,
            learning_rate=s.learning_rate,
            ema=s.ema,
            seed=seed,
            n_snapshots=0,
            steps_per_call=s.steps_per_call,
        )
        models.append(result.denoiser)
    out = measure_pair(
        models[0], models[1], optimal_denoiser(train_a), train_a, data.val_x, s, r, seed_a
    )
    out["seeds"] = dict(data_seed=s.data_seed + r, seed_a=seed_a, seed_b=seed_b)
    return out


@experiment(
    NAME,
    "claim 3 by intervention on U-Nets: injection with a twin, copy ratio, AUC, hybrids",
    family="images",
    settings=ImageInterventionSettings,
)
def image_trajectory_intervention(s: ImageInterventionSettings, progress) -> Outcome:
    """Claim 3 by intervention on images (see the module docstring)."""
    rep = Reporter(progress, s.replicates, NAME)
    reps = []
    for r in range(s.replicates):
        reps.append(_replicate(s, r))
        rep.advance(1, f"replicate {r + 1}/{s.replicates}")
    return outcome(
        {str(s.data): reps},
        {"sampler": "euler, EDM grid (toyflow.sampling_sigmas)", "model": "U-Net A and twin B"},
    )


def figure_image_trajectory_intervention(result: dict):
    return figure_trajectory_intervention(result)
