r"""Measurements every experiment shares, written once: σ grids, gap curves and their peaks,
trends, the evaluation of one model (gap, samples, memorization, Fréchet overfit) and the
baselines a perfect generalizer would score.

The relative gap at noise level σ is

    E_split(σ) = mean_{y ∈ split, k} ‖D(y + σ n_k; σ) − y‖₂,     gap(σ) = (E_val − E_train) / E_train

with the same noise draws ``n_k`` reused for every σ. A sample is *memorized* when its nearest
training point is closer than 1/3 of the second-nearest.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from toyflow import metrics
from toyflow.sampling import sample

#: A gap at least this large (10 %) at an intermediate σ counts as "clearly positive".
GAP_THRESHOLD = 0.1
#: Samples count as "mostly non-memorized" when at most this share is memorized.
MEMORIZED_LIMIT = 0.5


# --- σ grids and curve summaries -----------------------------------------------------------------


def edm_gap_sigmas(steps: int) -> np.ndarray:
    """The positive noise levels of the EDM grid with ``steps`` steps (the paper's gap curves
    use 120)."""
    from toyflow.schedules import edm_sigmas

    return edm_sigmas(steps)[:-1].astype(np.float64)


def log_sigmas(n: int, lo: float = 0.002, hi: float = 80.0) -> np.ndarray:
    """``n`` log-spaced noise levels in ``[lo, hi]`` (the paper's image grid: 64 in [0.002, 80])."""
    return np.geomspace(lo, hi, n)


def nearest_on_grid(targets: ArrayLike, grid: ArrayLike) -> np.ndarray:
    """For each target σ, the closest value of ``grid`` (in log distance)."""
    g = np.asarray(grid, float)
    g = g[g > 0]
    picks = [g[np.argmin(np.abs(np.log(g) - np.log(t)))] for t in np.atleast_1d(targets)]
    return np.array(picks)


def peak(sigmas: ArrayLike, gap: ArrayLike) -> tuple[float, float, int]:
    """``(peak gap, σ at the peak, index)`` of one gap curve."""
    g = np.asarray(gap, float)
    k = int(np.nanargmax(g))
    return float(g[k]), float(np.asarray(sigmas)[k]), k


def peaks(sigmas: ArrayLike, gaps: Iterable[ArrayLike]) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """:func:`peak` of each row: ``(peak gaps, σ at the peaks, indices)``."""
    rows = [peak(sigmas, g) for g in gaps]
    return np.array([r[0] for r in rows]), np.array([r[1] for r in rows]), [r[2] for r in rows]


def is_intermediate(index: int, n: int, margin: int = 1) -> bool:
    """Whether a peak index lies strictly inside the σ grid (not at either end)."""
    return margin <= index <= n - 1 - margin


def monotone(values: ArrayLike, *, increasing: bool, tol: float = 0.0) -> bool:
    """Whether consecutive values change in one direction (allowing ``tol`` of slack)."""
    d = np.diff(np.asarray(values, float))
    return bool(np.all(d > -tol) if increasing else np.all(d < tol))


def spearman(x: ArrayLike, y: ArrayLike) -> float:
    """Spearman rank correlation (ties broken by order): the sign says which way a trend goes;
    0 when either side does not change at all."""
    if np.ptp(np.asarray(x, float)) == 0 or np.ptp(np.asarray(y, float)) == 0:
        return 0.0
    rx = np.argsort(np.argsort(np.asarray(x, float)))
    ry = np.argsort(np.argsort(np.asarray(y, float)))
    return float(np.corrcoef(rx, ry)[0, 1])


def downsample(losses: ArrayLike, n: int = 200) -> np.ndarray:
    """Mean of the last axis in ``n`` equal windows (for plotting long loss curves)."""
    arr = np.asarray(losses, float)
    if arr.shape[-1] <= n:
        return arr
    edges = np.linspace(0, arr.shape[-1], n + 1).astype(int)
    return np.stack([arr[..., a:b].mean(axis=-1) for a, b in zip(edges[:-1], edges[1:])], axis=-1)


def stack(rows: Sequence[dict[str, Any]], key: str) -> np.ndarray:
    """``rows[i][key]`` as one array."""
    return np.asarray([r[key] for r in rows])


def columns(
    rows: Sequence[dict[str, Any]], keys: Sequence[str], axis: str
) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per-model numbers as experiment arrays: ``{key: (stack(rows, key), [axis])}``."""
    return {key: (stack(rows, key), [axis]) for key in keys}


# --- gap curves and evaluation -------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GapRows:
    """Gap curves of several models, each ``(k, T)``, with standard errors over the noise
    draws (``*_se``; the gap's by the delta method, train and validation draws independent)."""

    e_train: np.ndarray
    e_val: np.ndarray
    gap: np.ndarray
    e_train_se: np.ndarray
    e_val_se: np.ndarray
    gap_se: np.ndarray

    @classmethod
    def concat(cls, parts: Sequence[GapRows]) -> GapRows:
        return cls(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in dataclasses.fields(cls))
        )


def gap_rows(
    denoisers: Sequence[tuple[str, Any]],
    train_x: np.ndarray,
    val_x: np.ndarray,
    sigmas: np.ndarray,
    n_noise: int,
    seed: int,
    reporter: Any,
    label: str,
) -> GapRows:
    """Gap curves for several ``(name, denoiser)``, with their standard errors."""
    curves = []
    for name, d in denoisers:
        curves.append(metrics.gap_curve(d, train_x, val_x, sigmas, n_noise=n_noise, seed=seed))
        reporter.advance(1, f"{label} {name}")
    return GapRows(
        **{
            f.name: np.asarray([getattr(c, f.name) for c in curves], np.float64)
            for f in dataclasses.fields(GapRows)
        }
    )


def peak_se(rows: GapRows, index: Sequence[int]) -> np.ndarray:
    """The gap's standard error at each row's peak. (The peak is the max over σ of a noisy
    curve, but neighbouring σ share the noise draws, so that selection bias is far smaller.)"""
    return np.asarray([rows.gap_se[i, k] for i, k in enumerate(index)])


def binomial_se(p: ArrayLike, n: int) -> np.ndarray:
    """Standard error ``√(p (1 − p) / n)`` of a share ``p`` of ``n`` independent draws."""
    q = np.asarray(p, np.float64)
    return np.sqrt(q * (1 - q) / max(int(n), 1))


def evaluate(
    denoiser: Any,
    train_x: np.ndarray,
    val_x: np.ndarray,
    sigmas: np.ndarray,
    *,
    n_noise: int,
    n_samples: int,
    sample_steps: int,
    seed: int = 0,
    train_labels: np.ndarray | None = None,
    val_labels: np.ndarray | None = None,
    sample_labels: np.ndarray | None = None,
    schedule: str = "edm",
    n_gap_val: int | None = None,
) -> dict[str, Any]:
    """Gap curve, samples, memorized fraction and Fréchet overfit of one denoiser (the gap on
    the first ``n_gap_val`` validation points)."""
    k = slice(None) if n_gap_val is None else slice(0, n_gap_val)
    curve = metrics.gap_curve(
        denoiser,
        train_x,
        val_x[k],
        sigmas,
        n_noise=n_noise,
        seed=seed,
        train_labels=train_labels,
        val_labels=None if val_labels is None else val_labels[k],
    )
    x = np.asarray(
        sample(
            denoiser,
            n_samples,
            steps=sample_steps,
            seed=seed,
            labels=sample_labels,
            schedule=schedule,
        )
    )
    mask = metrics.memorized_mask(x, train_x)
    fd = metrics.sample_overfit(x, train_x, val_x)
    pk, pk_sigma, pk_index = peak(sigmas, curve.gap)
    return dict(
        gap=curve.gap,
        e_train=curve.e_train,
        e_val=curve.e_val,
        peak_gap=pk,
        peak_sigma=pk_sigma,
        peak_index=pk_index,
        memorized_fraction=float(np.mean(mask)),
        fd_train=fd["fd_train"],
        fd_val=fd["fd_val"],
        relative_overfit=fd["relative_overfit"],
        samples=x,
        memorized=mask,
    )


def in_regime(ev: dict[str, Any], n_sigma: int) -> bool:
    """The paper's central regime: an objective-level gap clearly positive at an intermediate σ
    while the samples stay mostly non-memorized."""
    return bool(
        ev["peak_gap"] >= GAP_THRESHOLD
        and is_intermediate(ev["peak_index"], n_sigma)
        and ev["memorized_fraction"] <= MEMORIZED_LIMIT
    )


def baseline(data: Any) -> float:
    """Memorized fraction of fresh draws (the validation set): a perfect generalizer's score
    (NaN without validation data)."""
    if not data.n_val:
        return float("nan")
    return metrics.memorized_fraction(data.val_x, data.train_x)
