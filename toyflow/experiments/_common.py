"""What every experiment shares: settings, progress, the result dictionary and its files.

An experiment is a plain function ``fn(*, quick=False, outdir=None, progress=None, **overrides)``
returning a *tidy result*::

    {"name", "description", "paper", "quick", "config",   # what was run
     "arrays":   {name: nested lists},                      # everything the figure plots
     "shapes":   {name: [dimension names]},                 # the documented shapes ...
     "dims":     {dimension name: size},                    # ... and their sizes in this run
     "headline": {name: number or string},                  # the numbers a report quotes
     "checks":   {name: bool},                              # qualitative claims, as measured
     "wall_time", "toyflow_version"}

With ``outdir`` it writes ``outdir/NAME.json`` and ``outdir/NAME.png`` atomically. Progress is
reported as ``progress(done, total, message)`` with ``done`` possibly fractional (training
steps inside one unit of work); the CLI turns it into a tqdm bar.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

ProgressFn = Callable[[float, float, str], Any]


@dataclasses.dataclass(frozen=True)
class Experiment:
    """A registry entry: ``fn`` runs it; ``paper`` marks the paper's own (analytic) experiments;
    ``family`` is ``"paper"``, ``"learned"`` or ``"images"``."""

    name: str
    description: str
    fn: Callable[..., dict]
    paper: bool
    family: str
    figure: Callable[[dict], Any] | None = None  # redraws NAME.png from a result

    @property
    def is_2d(self) -> bool:
        return self.family in ("paper", "learned")

    def __call__(self, **kwargs) -> dict:
        return self.fn(**kwargs)


# --- settings ---------------------------------------------------------------------------------


def resolve_settings(
    name: str,
    full: Mapping[str, Any],
    quick_changes: Mapping[str, Any],
    quick: bool,
    overrides: Mapping[str, Any],
) -> dict[str, Any]:
    """The full settings, shrunk by ``quick_changes`` in quick mode, then ``overrides`` applied.

    An override that is not a setting of this experiment raises ``ValueError`` naming the valid ones.
    """
    settings = dict(full)
    if quick:
        settings.update(quick_changes)
    unknown = sorted(set(overrides) - set(settings))
    if unknown:
        raise ValueError(
            f"unknown setting(s) {', '.join(unknown)} for experiment {name!r}; "
            f"valid: {', '.join(sorted(settings))}"
        )
    settings.update(overrides)
    return settings


# --- progress -----------------------------------------------------------------------------------


class Reporter:
    """Counts units of work and forwards them to a ``progress(done, total, message)`` callback."""

    def __init__(self, progress: ProgressFn | None, total: float, name: str):
        self.progress = progress
        self.total = float(max(total, 1))
        self.name = name
        self.done = 0.0

    def advance(self, units: float = 1.0, message: str = "") -> None:
        self.done = min(self.total, self.done + units)
        if self.progress is not None:
            self.progress(self.done, self.total, message or self.name)

    def training(self, units: float = 1.0, message: str = "training") -> Callable:
        """A training callback (``toyflow.Progress``) that advances by ``units`` over the run."""
        start = self.done

        def callback(p) -> None:
            self.done = min(self.total, start + units * p.fraction)
            if self.progress is not None:
                self.progress(self.done, self.total, f"{message} {p.step}/{p.total}")

        return callback

    def finish_training(self, units: float, start: float) -> None:
        """Make sure a training's units are counted even if it stopped early."""
        self.done = min(self.total, max(self.done, start + units))


# --- results ------------------------------------------------------------------------------------


def _to_jsonable(value: Any) -> Any:
    """Arrays and numpy scalars as lists and floats; NaN and ±inf become ``None`` (strict JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    return value


def check_shapes(
    arrays: Mapping[str, Any], shapes: Mapping[str, Any], dims: Mapping[str, int]
) -> None:
    """Raise ``AssertionError`` if an array does not have its documented shape."""
    for key, spec in shapes.items():
        want = tuple(int(dims[d]) if isinstance(d, str) else int(d) for d in spec)
        got = np.shape(arrays[key])
        if got != want:
            raise AssertionError(
                f"array {key!r} has shape {got}, documented {tuple(spec)} = {want}"
            )


def make_result(
    name: str,
    description: str,
    *,
    paper: bool,
    quick: bool,
    config: Mapping[str, Any],
    arrays: Mapping[str, Any],
    shapes: Mapping[str, Any],
    dims: Mapping[str, int],
    headline: Mapping[str, Any],
    checks: Mapping[str, bool] | None = None,
    started: float | None = None,
) -> dict:
    """Assemble the tidy result dictionary (arrays as NumPy; :func:`write_result` makes JSON)."""
    from toyflow import __version__

    arrays = {k: np.asarray(v) for k, v in arrays.items()}
    check_shapes(arrays, shapes, dims)
    return {
        "name": name,
        "description": description,
        "paper": bool(paper),
        "quick": bool(quick),
        "config": dict(config),
        "arrays": arrays,
        "shapes": {k: list(v) for k, v in shapes.items()},
        "dims": {k: int(v) for k, v in dims.items()},
        "headline": dict(headline),
        "checks": {k: bool(v) for k, v in (checks or {}).items()},
        "wall_time": None if started is None else round(time.perf_counter() - started, 3),
        "toyflow_version": __version__,
    }


def result_json(result: Mapping[str, Any]) -> str:
    """The result as strict JSON text (no NaN: non-finite numbers become ``null``)."""
    return json.dumps(_to_jsonable(result), indent=1, allow_nan=False)


def write_result(
    result: dict, outdir: str | os.PathLike | None, figure: Callable[[dict], Any] | None = None
) -> dict:
    """Write ``NAME.json`` (and ``NAME.png`` from ``figure(result)``) into ``outdir``, atomically.

    Adds ``result["files"]`` with the paths written. Returns ``result``.
    """
    if outdir is None:
        return result
    from toyflow.training import atomic_write_bytes

    outdir = os.fspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    files = {}
    if figure is not None:
        from toyflow.plotting import save_figure

        png = os.path.join(outdir, f"{result['name']}.png")
        save_figure(figure(result), png)
        files["png"] = png
    path = os.path.join(outdir, f"{result['name']}.json")
    files["json"] = path
    result["files"] = files
    atomic_write_bytes(path, (result_json(result) + "\n").encode())
    return result


# --- small numerical helpers --------------------------------------------------------------------


def edm_gap_sigmas(steps: int) -> np.ndarray:
    """The positive noise levels of the EDM grid with ``steps`` steps (DESIGN: 120 for gap curves)."""
    from toyflow.schedules import edm_sigmas

    return edm_sigmas(steps)[:-1].astype(np.float64)


def log_sigmas(n: int, lo: float = 0.002, hi: float = 80.0) -> np.ndarray:
    """``n`` log-spaced noise levels in ``[lo, hi]`` (the paper's image grid: 64 in [0.002, 80])."""
    return np.geomspace(lo, hi, n)


def nearest_on_grid(targets, grid) -> np.ndarray:
    """For each target σ, the closest value of ``grid`` (in log distance)."""
    g = np.asarray(grid, float)
    g = g[g > 0]
    return np.array([g[np.argmin(np.abs(np.log(g) - np.log(t)))] for t in np.atleast_1d(targets)])


def peak(sigmas, gap) -> tuple[float, float, int]:
    """``(peak gap, σ at the peak, index)`` of one gap curve."""
    g = np.asarray(gap, float)
    k = int(np.nanargmax(g))
    return float(g[k]), float(np.asarray(sigmas)[k]), k


def is_intermediate(index: int, n: int, margin: int = 1) -> bool:
    """Whether a peak index lies strictly inside the σ grid (not at either end)."""
    return margin <= index <= n - 1 - margin


def monotone(values, *, increasing: bool, tol: float = 0.0) -> bool:
    """Whether consecutive values change in one direction (allowing ``tol`` of slack)."""
    d = np.diff(np.asarray(values, float))
    return bool(np.all(d > -tol) if increasing else np.all(d < tol))


def spearman(x, y) -> float:
    """Spearman rank correlation (ties broken by order): the sign says which way a trend goes."""
    rx = np.argsort(np.argsort(np.asarray(x, float)))
    ry = np.argsort(np.argsort(np.asarray(y, float)))
    if np.std(rx) == 0 or np.std(ry) == 0:
        return 0.0
    return float(np.corrcoef(rx, ry)[0, 1])
