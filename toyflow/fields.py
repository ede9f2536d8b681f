r"""Flow fields of any denoiser on a 2D grid.

At noise level σ, for grid points ``x``:

    displacement  D(x; σ) − x                 (where the denoiser pulls a noisy point)
    velocity      dx/dσ = (x − D(x; σ)) / σ   (the probability-flow ODE, EDM convention)
    region        ‖D(x; σ) − x‖ ≤ σ           (the displacement region: points a denoiser moves by
                                               at most one noise standard deviation)

and the model-minus-reference difference ``D_model − D_ref``. The denoiser and σ enter one
shared jitted function as arguments, so a σ slider never recompiles (see the tests' compile
count).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from toyflow._denoiser import Denoiser
from toyflow._function import as_denoiser
from toyflow._validation import as_sigma, check_float, check_int


@dataclasses.dataclass(frozen=True)
class Grid:
    """A regular ``resolution × resolution`` grid; ``points`` is ``(r·r, 2)`` in row-major
    order (``y`` rows, ``x`` columns), so ``values.reshape(r, r, ...)`` is image-shaped."""

    xs: np.ndarray
    ys: np.ndarray
    points: np.ndarray

    @property
    def resolution(self) -> int:
        return int(self.xs.shape[0])

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        return float(self.xs[0]), float(self.ys[0]), float(self.xs[-1]), float(self.ys[-1])


def make_grid(extent: Any = 17.5, resolution: int = 32) -> Grid:
    """Grid over ``[−e, e]²`` (``extent`` a number) or ``(xmin, xmax, ymin, ymax)``."""
    resolution = check_int(resolution, "resolution", 2, 1024)
    if np.ndim(extent) == 0:
        e = check_float(extent, "extent", 0.0, 1e6, lo_open=True)
        box: tuple[float, ...] = (-e, e, -e, e)
    else:
        box = tuple(check_float(v, "extent", -1e6, 1e6) for v in extent)
        if len(box) != 4 or box[0] >= box[1] or box[2] >= box[3]:
            raise ValueError(
                f"extent must be a number or (xmin, xmax, ymin, ymax) with min < max, got {extent!r}"
            )
    xs = np.linspace(box[0], box[1], resolution, dtype=np.float32)
    ys = np.linspace(box[2], box[3], resolution, dtype=np.float32)
    gx, gy = np.meshgrid(xs, ys)
    return Grid(xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float32))


@dataclasses.dataclass(frozen=True)
class FlowField:
    """A denoiser's field at one σ on a :class:`Grid` (arrays shaped ``(r, r, 2)`` / ``(r, r)``)."""

    sigma: float
    grid: Grid
    denoised: np.ndarray

    @property
    def displacement(self) -> np.ndarray:
        """``D(x; σ) − x``."""
        r = self.grid.resolution
        return self.denoised - self.grid.points.reshape(r, r, 2)

    @property
    def velocity(self) -> np.ndarray:
        """``dx/dσ = (x − D(x; σ)) / σ``."""
        return -self.displacement / self.sigma

    @property
    def magnitude(self) -> np.ndarray:
        return np.linalg.norm(self.displacement, axis=-1)

    @property
    def region(self) -> np.ndarray:
        """The displacement region ``‖D(x; σ) − x‖ ≤ σ`` as a boolean ``(r, r)`` mask."""
        return self.magnitude <= self.sigma


def flow_field(
    denoiser: Denoiser,
    sigma: float,
    *,
    extent: Any = 17.5,
    resolution: int = 32,
    labels: Any = None,
    grid: Grid | None = None,
) -> FlowField:
    """Evaluate ``denoiser`` on a grid at noise level ``sigma`` (one label for the whole grid,
    or ``None``)."""
    denoiser = as_denoiser(denoiser, (2,))
    if tuple(denoiser.event_shape) != (2,):
        raise ValueError(
            f"flow fields are drawn for 2D points; this denoiser works on {denoiser.event_shape}"
        )
    if np.ndim(sigma) != 0:
        raise ValueError(
            f"sigma must be one noise level for a flow field, got shape {np.shape(sigma)}"
        )
    s = float(as_sigma(sigma))
    g = grid if grid is not None else make_grid(extent, resolution)
    n = g.points.shape[0]
    lab = None if labels is None else np.full((n,), labels) if np.ndim(labels) == 0 else labels
    den = np.asarray(denoiser(g.points, np.float32(s), lab))
    r = g.resolution
    return FlowField(s, g, den.reshape(r, r, 2))


@dataclasses.dataclass(frozen=True)
class FieldComparison:
    """A model's field beside a reference (usually the optimal denoiser) and their difference."""

    model: FlowField
    reference: FlowField

    @property
    def difference(self) -> np.ndarray:
        """``D_model − D_ref`` on the grid, ``(r, r, 2)``."""
        return self.model.denoised - self.reference.denoised

    @property
    def difference_norm(self) -> np.ndarray:
        """``‖D_model − D_ref‖``, ``(r, r)``; in units of σ via ``/ self.model.sigma``."""
        return np.linalg.norm(self.difference, axis=-1)


def compare_fields(
    model: Denoiser,
    reference: Denoiser,
    sigma: float,
    *,
    extent: Any = 17.5,
    resolution: int = 32,
    labels: Any = None,
) -> FieldComparison:
    """Both fields on one grid, with their difference (model minus reference)."""
    g = make_grid(extent, resolution)
    return FieldComparison(
        flow_field(model, sigma, grid=g, labels=labels),
        flow_field(reference, sigma, grid=g, labels=labels),
    )
