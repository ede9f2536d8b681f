"""Your own denoiser beside the optimal one: any function ``D(x, sigma)`` works.

Two denoisers written in user code, each sampled and compared with D* of the same data:

* a Wiener (Gaussian) denoiser, ``D(x) = μ + Σ (Σ + σ² I)⁻¹ (x − μ)`` for the data's mean and
  covariance: it never memorizes, since it only knows two moments;
* a nearest-neighbour denoiser in plain NumPy, which returns the nearest training point: it
  memorizes everything, at every σ.

toyflow wraps a function automatically: jitted when it is JAX-traceable (the Wiener one), run
eagerly through a host callback when it is not (the NumPy one).

    python examples/api/custom_denoiser.py --outdir out/custom
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import toyflow
from toyflow import metrics


def make_wiener(train_x):
    mu = jnp.asarray(train_x.mean(0))
    cov = jnp.asarray(np.cov(train_x, rowvar=False))

    def wiener(x, sigma):
        eye = jnp.eye(x.shape[1])
        gain = cov @ jnp.linalg.inv(cov[None] + (sigma**2)[:, None, None] * eye)
        return mu + jnp.einsum("nij,nj->ni", gain, x - mu)

    return wiener


def make_nearest(train_x):
    points = np.asarray(train_x)

    def nearest(x, sigma):
        d = ((np.asarray(x)[:, None, :] - points[None]) ** 2).sum(-1)
        return points[np.argmin(d, axis=1)]

    return nearest


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--outdir", default="out/custom_denoiser")
    p.add_argument("--n-samples", type=int, default=500)
    p.add_argument("--tiny", action="store_true")
    args = p.parse_args(argv)
    n = 40 if args.tiny else args.n_samples
    out = Path(args.outdir)
    out.mkdir(parents=True, exist_ok=True)

    data = toyflow.make_dataset("circle", n_train=10, seed=0)
    models = {
        "optimal D*": toyflow.OptimalDenoiser(data.train_x),
        "Wiener (user code, jit)": make_wiener(data.train_x),
        "nearest point (NumPy, eager)": make_nearest(data.train_x),
    }
    sigma_field = 2.8
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 5))
    report = {}
    for ax, (name, model) in zip(axes, models.items(), strict=True):
        samples = np.asarray(toyflow.sample(model, n, seed=1))
        field = toyflow.flow_field(model, sigma_field, extent=14, resolution=17)
        diff = toyflow.compare_fields(model, models["optimal D*"], sigma_field, resolution=17)
        report[name] = {
            "memorized": metrics.memorized_fraction(samples, data.train_x),
            "mean_field_difference_vs_optimal": float(diff.difference_norm.mean()),
        }
        g = field.grid.points.reshape(17, 17, 2)
        disp = field.denoised - g
        ax.quiver(g[..., 0], g[..., 1], disp[..., 0], disp[..., 1], angles="xy", color="0.3")
        ax.scatter(*samples.T, s=6, color="tab:orange", label="samples")
        ax.scatter(*data.train_x.T, s=30, color="tab:blue", label="training points")
        ax.set_title(f"{name}\nmemorized {report[name]['memorized']:.0%}")
        ax.set_aspect("equal")
        print(f"{name:30s} memorized {report[name]['memorized']:6.1%}")
    axes[0].legend(loc="lower left")
    fig.suptitle(f"D(x; σ) − x at σ = {sigma_field}, and samples")
    fig.tight_layout()
    fig.savefig(out / "custom_denoiser.png", dpi=110)
    (out / "custom_denoiser.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
