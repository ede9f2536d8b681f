r"""Measurements on images: what is image-specific on top of :mod:`toyflow.metrics`.

:mod:`toyflow.metrics` already works on ``(n, H, W, C)`` arrays (it flattens); this module adds

- :func:`optimal_denoiser`: the closed-form optimal denoiser of a training set of images,
  streamed over chunks of training images (memory O(query block × chunk); see ``docs/theory.md``);
- :func:`snapshot_gaps`: the relative gap ``(E_val − E_train) / E_train`` on the paper's image
  grid (64 log-spaced σ in [0.002, 80], :func:`image_sigmas`) for every training snapshot;
- :func:`memorization`: nearest and second-nearest training image of every sample (pixel
  space); a sample is memorized when ``d₁ / d₂ < 1/3``;
- :func:`random_features`: a *fixed* random convolutional embedding
  ``φ(x) = P · pool(relu(W₂ ∗ pool(relu(W₁ ∗ x))))`` (weights drawn from ``seed`` and the image
  shape only, never trained), for Fréchet distances that look at local structure rather than
  raw pixels; :func:`frechet` computes ``FD(samples, train)``, ``FD(samples, val)`` and the
  relative overfit ``(FD_val − FD_train) / FD_train`` in either space;
- figures: a nearest-training-image grid (each sample above its two nearest training images),
  gap curves over σ, and image grids. Matplotlib with the Agg canvas, never pyplot.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow import metrics
from toyflow._validation import check_int, lookup
from toyflow.denoisers import OptimalDenoiser

FEATURE_SPACES = {
    "pixels": "flattened pixels",
    "features": "a fixed random convolutional embedding (random_features)",
}


def image_sigmas(n: int = 64, lo: float = 0.002, hi: float = 80.0) -> np.ndarray:
    """The paper's image grid: ``n`` log-spaced σ in ``[lo, hi]``."""
    n = check_int(n, "n_sigma", 1, 10_000)
    return np.geomspace(lo, hi, n)


def optimal_denoiser(
    train_x, train_labels=None, *, chunk: int = 512, query_block: int = 256
) -> OptimalDenoiser:
    """The optimal denoiser of ``train_x (N, H, W, C)``, streamed over ``chunk`` training images
    per step for ``query_block`` queries at a time (d = H·W·C can be thousands)."""
    return OptimalDenoiser(train_x, train_labels, chunk=chunk, query_block=query_block)


def snapshot_gaps(
    denoisers: Sequence[Any],
    train_x,
    val_x,
    sigmas=None,
    *,
    n_noise: int = 50,
    seed: int = 0,
    kind: str = "l2",
    train_labels=None,
    val_labels=None,
) -> list[metrics.GapCurve]:
    """One :class:`toyflow.metrics.GapCurve` per denoiser (e.g. ``result.snapshots``), all on the
    same σ grid and the same noise draws, so curves are comparable across training time."""
    sigmas = image_sigmas() if sigmas is None else sigmas
    options: dict[str, Any] = dict(
        n_noise=n_noise, seed=seed, kind=kind, train_labels=train_labels, val_labels=val_labels
    )
    return [metrics.gap_curve(d, train_x, val_x, sigmas, **options) for d in denoisers]


def memorization(samples, train_x, ratio: float = 1 / 3) -> dict[str, np.ndarray | float]:
    """Nearest-neighbour memorization in pixel space.

    Returns ``fraction`` (share memorized), ``mask (n,)``, ``ratio (n,)`` = d₁/d₂, ``distances
    (n, 2)`` and ``indices (n, 2)`` of the two nearest training images.
    """
    d, idx = metrics.nearest_neighbours(samples, train_x, k=2)
    r = d[:, 0] / np.maximum(d[:, 1], 1e-30)
    mask = d[:, 0] < ratio * d[:, 1]
    return {
        "fraction": float(np.mean(mask)),
        "mask": mask,
        "ratio": r,
        "distances": d,
        "indices": idx,
    }


# --- Fréchet distances ----------------------------------------------------------------------------


def _feature_weights(shape: tuple[int, int, int], dim: int, seed: int):
    h, w, c = shape
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    c1, c2 = 32, 64
    w1 = jax.random.normal(k1, (3, 3, c, c1)) / np.sqrt(9 * c)
    w2 = jax.random.normal(k2, (3, 3, c1, c2)) / np.sqrt(9 * c1)
    grid = min(4, h // 2 if h >= 4 else 1, w // 2 if w >= 4 else 1)
    proj = jax.random.normal(k3, (c2 * grid * grid + c2, dim)) / np.sqrt(c2 * grid * grid + c2)
    return w1, w2, proj, grid


@functools.partial(jax.jit, static_argnames=("grid",))
def _embed(x, w1, w2, proj, *, grid: int):
    conv = lambda a, k: jax.lax.conv_general_dilated(
        a, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    h = jax.nn.relu(conv(x, w1))
    if h.shape[1] >= 4 and h.shape[2] >= 4 and h.shape[1] % 2 == 0 and h.shape[2] % 2 == 0:
        n, hh, ww, c = h.shape
        h = h.reshape(n, hh // 2, 2, ww // 2, 2, c).mean(axis=(2, 4))
    h = jax.nn.relu(conv(h, w2))
    n, hh, ww, c = h.shape
    pooled = jax.image.resize(h, (n, grid, grid, c), "linear", antialias=True).reshape(n, -1)
    feats = jnp.concatenate([pooled, h.mean(axis=(1, 2))], axis=1)
    return feats @ proj


def random_features(x, *, dim: int = 128, seed: int = 0, block: int = 1024) -> np.ndarray:
    """A fixed random convolutional embedding of images ``(n, H, W, C)`` → ``(n, dim)``.

    Two 3×3 convolutions with Gaussian weights and ReLU (with 2×2 average pooling between),
    spatial pooling to a ≤4×4 grid plus the global mean, then a Gaussian projection to ``dim``.
    The weights depend only on ``seed`` and the image shape, so the same embedding is used for
    samples, training and validation images.
    """
    arr = np.asarray(x, np.float32)
    if arr.ndim != 4:
        raise ValueError(
            f"random_features needs images of shape (n, H, W, C), got shape {arr.shape}"
        )
    dim = check_int(dim, "dim", 1, 8192)
    w1, w2, proj, grid = _feature_weights(
        tuple(arr.shape[1:]), dim, check_int(seed, "seed", 0, 2**31 - 1)
    )
    out = [
        np.asarray(_embed(jnp.asarray(arr[i : i + block]), w1, w2, proj, grid=grid))
        for i in range(0, arr.shape[0], block)
    ]
    return np.concatenate(out).astype(np.float64)


def frechet(
    samples, train_x, val_x, *, space: str = "pixels", dim: int = 128, seed: int = 0
) -> dict[str, float]:
    """``fd_train``, ``fd_val`` and ``relative_overfit = (FD_val − FD_train) / FD_train`` of
    samples against training and validation images, in pixel space or random-feature space."""
    lookup(FEATURE_SPACES, space, "Fréchet feature space")
    if space == "features":
        samples, train_x, val_x = (
            random_features(a, dim=dim, seed=seed) for a in (samples, train_x, val_x)
        )
    out = metrics.sample_overfit(samples, train_x, val_x)
    out["space"] = space  # type: ignore[assignment]
    return out


# --- pictures ----------------------------------------------------------------------------------


def to_display(images) -> np.ndarray:
    """``[-1, 1]`` images ``(n, H, W, C)`` as ``[0, 1]`` arrays for ``imshow`` (C = 1 squeezed)."""
    a = np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    return a[..., 0] if a.shape[-1] == 1 else a[..., :3]


def image_grid(images, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """Tile ``(n, H, W, C)`` images into one ``(rows·(H+pad), cols·(W+pad), C)`` array in [0, 1]."""
    a = np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)
    n, h, w, c = a.shape
    ncols = ncols or int(np.ceil(np.sqrt(n)))
    nrows = -(-n // ncols)
    out = np.ones((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncols)
        out[
            pad + r * (h + pad) : pad + r * (h + pad) + h,
            pad + q * (w + pad) : pad + q * (w + pad) + w,
        ] = a[i]
    return out


def _imshow(ax, img):
    img = np.asarray(img)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    ax.imshow(
        img, cmap="gray" if img.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest"
    )
    ax.set_xticks([])
    ax.set_yticks([])


def draw_nearest(axes_rows, samples, train_x, indices, mask=None, ratio=None):
    """Fill a 3-row block of axes: samples, their nearest and second-nearest training images."""
    from toyflow.plotting import MEMORIZED_COLOR, NOVEL_COLOR

    s, t = to_display(samples), to_display(train_x)
    for j in range(len(axes_rows[0])):
        _imshow(axes_rows[0][j], s[j])
        _imshow(axes_rows[1][j], t[indices[j, 0]])
        _imshow(axes_rows[2][j], t[indices[j, 1]])
        if mask is not None:
            color = MEMORIZED_COLOR if mask[j] else NOVEL_COLOR
            for side in axes_rows[0][j].spines.values():
                side.set_color(color)
                side.set_linewidth(2.5)
            if ratio is not None:
                axes_rows[0][j].set_title(f"{ratio[j]:.2f}", fontsize=6, color=color)


def plot_nearest(
    samples,
    train_x,
    mem: dict[str, Any] | None = None,
    *,
    n_show: int = 8,
    title: str | None = None,
):
    """Samples (top row) beside their nearest (middle) and second-nearest (bottom) training
    images; a sample's frame is orange when memorized (d₁/d₂ < 1/3, the number above it)."""
    from toyflow.plotting import _new_figure

    mem = memorization(samples, train_x) if mem is None else mem
    n = min(int(n_show), len(samples))
    fig = _new_figure(max(3.0, 0.9 * n), 3.2)
    axes = fig.subplots(3, n, squeeze=False)
    draw_nearest(
        axes,
        np.asarray(samples)[:n],
        train_x,
        np.asarray(mem["indices"])[:n],
        np.asarray(mem["mask"])[:n],
        np.asarray(mem["ratio"])[:n],
    )
    for r, lab in enumerate(("sample", "nearest", "2nd nearest")):
        axes[r][0].set_ylabel(lab, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def plot_image_gaps(sigmas, gaps, labels: Sequence[str] | None = None, *, title: str | None = None):
    """Relative gap over σ (log axis), one curve per snapshot (see :func:`snapshot_gaps`)."""
    from toyflow.plotting import plot_gap_curves

    return plot_gap_curves(sigmas, gaps, labels, title=title, legend_title="snapshot")
