"""Where do sampling trajectories go? A trajectory analysis with toyflow's metrics.

Trains a small MLP on a sparse circle, samples with recorded trajectories, and asks at every σ
of the sampling grid how trajectory states compare with noisy training samples ``y + σ n``:
nearest-training-point distance (in units of σ√d), the optimal posterior's largest weight, and
the model's error against D* on both. Writes a figure and the numbers.

    python examples/api/trajectory_analysis.py --outdir out/trajectories
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import toyflow
from toyflow import metrics


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--outdir", default="out/trajectory_analysis")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--n-samples", type=int, default=400)
    p.add_argument("--tiny", action="store_true")
    args = p.parse_args(argv)
    if args.tiny:
        args.steps, args.n_samples = 60, 32
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)

    data = toyflow.make_dataset("circle", n_train=20, n_val=20, seed=0)
    model = toyflow.train(data.train_x, width=256, steps=args.steps, seed=0).denoiser
    samples, trajectory, sigmas = toyflow.sample(model, args.n_samples, return_trajectory=True)
    overlap = metrics.trajectory_overlap(model, trajectory, sigmas, data.train_x, val_x=data.val_x)
    gap = metrics.relative_gap(model, data.train_x, data.val_x, overlap.sigmas, n_noise=8)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.semilogx(overlap.sigmas, overlap.traj_nn_distance, label="trajectory states")
    a1.semilogx(overlap.sigmas, overlap.noisy_nn_distance, label="noisy training samples")
    a1.set(xlabel="σ", ylabel="nearest training point / (σ √d)", title="how close to the data")
    a1.legend()
    a2.semilogx(overlap.sigmas, overlap.error_traj, label="‖D − D*‖ on trajectory states")
    a2.semilogx(overlap.sigmas, overlap.error_noisy_train, label="on noisy training samples")
    a2.semilogx(overlap.sigmas, overlap.error_noisy_val, label="on noisy validation samples")
    twin = a2.twinx()
    twin.semilogx(overlap.sigmas, gap, color="0.4", ls="--", label="relative gap")
    twin.set_ylabel("relative gap (dashed)")
    a2.set(xlabel="σ", ylabel="model vs optimal", title="where the model departs from D*")
    a2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "trajectory_analysis.png", dpi=110)

    peak = int(np.argmax(gap))
    report = {
        "peak_gap_sigma": float(overlap.sigmas[peak]),
        "peak_gap": float(gap[peak]),
        "error_traj_at_peak": float(overlap.error_traj[peak]),
        "error_noisy_train_at_peak": float(overlap.error_noisy_train[peak]),
        "memorized": metrics.memorized_fraction(samples, data.train_x),
    }
    (out / "trajectory_analysis.json").write_text(json.dumps(report, indent=2))
    for k, v in report.items():
        print(f"{k:28s} {v:.4g}")
    return report


if __name__ == "__main__":
    main()
