"""The explorer's param model: the inputs a user sets, nothing computed.

:class:`ExplorerInputs` declares every input as a ``param`` parameter (bounds, choices, docs), so
the web app builds its widgets from them and a URL or ``--args name=value`` sets them by name.
The parameter groups below say which views depend on which inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import param

from toyflow.datasets import DATASETS
from toyflow.labels import GRANULARITIES
from toyflow.sampling import SOLVERS
from toyflow.schedules import SCHEDULES

MODEL_KINDS = ("optimal", "error-prone", "learned")
GUIDANCE_KINDS = ("none", "classifier-free", "autoguidance")
CUSTOM = "custom"  # the data set name for points drawn with the mouse or uploaded
USER = "user"  # the model kind of a denoiser passed in from Python (toyflow.explore(denoiser=...))

#: Autoguidance's worse model for the analytic denoisers: δ larger by this much.
AUTOGUIDANCE_DELTA_STEP = 0.4
#: Curves use at most this many training and validation points (subsampled with the seed).
CURVE_POINTS = 200
#: Snapshots kept while training (log-spaced steps: the "training time" axis).
N_SNAPSHOTS = 10
STEPS_PER_CALL = 250
MAX_POINTS = 5000
MAX_VALUE_CHARS = 100  # a preset value (URL query, --args) longer than this is refused unread
#: The default learned model (as shipped): trains in seconds on 2 CPU cores (the compile is most
#: of it). On the default circle (seed 0) it sits where the gap has opened but the samples still
#: look like fresh data: peak gap 0.22 at σ ≈ 0.8, 56 % memorized against a 49 % fresh-data
#: baseline (docs/results.md, "Explorer default"). The window is narrow: other seeds either
#: memorize or show no gap yet, and the training-time slider walks through it.
DEFAULT_LEARNED = dict(width=64, depth=3, train_steps=2800, batch_size=64, learning_rate=5e-3)

DATA_PARAMS = (
    "dataset",
    "n_train",
    "n_val",
    "seed",
    "granularity",
    "k",
    "custom_points",
    "custom_labels",
    "holdout",
)
MODEL_PARAMS = (
    "kind",
    "delta",
    "width",
    "depth",
    "train_steps",
    "learning_rate",
    "batch_size",
    "guidance",
    "w",
    "snapshot_index",
    "condition",
)
SAMPLING_PARAMS = (
    "schedule",
    "solver",
    "sigma_min",
    "sigma_max",
    "rho",
    "sample_steps",
    "n_samples",
)
VIEW_PARAMS = ("sigma_index", "resolution", "extent", "show_curves")
INPUT_PARAMS = DATA_PARAMS + MODEL_PARAMS + SAMPLING_PARAMS + VIEW_PARAMS
#: Inputs that change which learned model is meant (a change looks the model up in the caches).
TRAINING_PARAMS = (
    "kind",
    "dataset",
    "n_train",
    "seed",
    "granularity",
    "k",
    "custom_points",
    "custom_labels",
    "holdout",
    "width",
    "depth",
    "train_steps",
    "learning_rate",
    "batch_size",
    "schedule",
)
#: Plain inputs a URL or ``--args name=value`` may set (not the custom point arrays).
PLAIN_PARAMS = tuple(p for p in INPUT_PARAMS if p not in ("custom_points", "custom_labels"))


def _clip(text: str, limit: int = 40) -> str:
    """``text`` shortened for a one-line notice."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ExplorerInputs(param.Parameterized):
    """Every input of the explorer: data, model, sampler and view settings."""

    # -- data --------------------------------------------------------------------------------
    dataset = param.Selector(
        default="circle",
        objects=[*DATASETS, CUSTOM],
        doc="Registered 2D data set, or 'custom' for drawn / uploaded points.",
    )
    n_train = param.Integer(
        default=10, bounds=(4, MAX_POINTS), doc="Training points (the data-density knob)."
    )
    n_val = param.Integer(default=10, bounds=(0, MAX_POINTS), doc="Validation points.")
    seed = param.Integer(
        default=0,
        bounds=(0, 2**31 - 1),
        doc="Seeds the data, the training and the sampler's noise.",
    )
    granularity = param.Selector(
        default="none",
        objects=list(GRANULARITIES),
        doc="Labels: none, coarse (component), k-means K, one per point.",
    )
    k = param.Integer(default=4, bounds=(1, MAX_POINTS), doc="K of the k-means labels.")
    condition = param.Integer(
        default=-1,
        bounds=(-1, MAX_POINTS - 1),
        doc="Label to sample; -1: each sample takes a random training label.",
    )
    custom_points = param.Array(
        default=None,
        allow_None=True,
        precedence=-1,
        doc="Points (n, 2) drawn or uploaded (used when dataset='custom').",
    )
    custom_labels = param.Array(
        default=None,
        allow_None=True,
        precedence=-1,
        doc="Labels of the custom points (their coarse labels), or None.",
    )
    holdout = param.Number(
        default=0.0, bounds=(0.0, 0.9), doc="Share of custom points held out as validation points."
    )

    # -- model -------------------------------------------------------------------------------
    kind = param.Selector(default="optimal", objects=list(MODEL_KINDS), doc="The denoiser.")
    delta = param.Number(
        default=1.6,
        bounds=(0.0, 20.0),
        softbounds=(0.0, 5.0),
        doc="Model error δ of the error-prone denoiser.",
    )
    width = param.Integer(default=DEFAULT_LEARNED["width"], bounds=(4, 512), doc="MLP width.")
    depth = param.Integer(default=DEFAULT_LEARNED["depth"], bounds=(1, 8), doc="MLP hidden layers.")
    train_steps = param.Integer(
        default=DEFAULT_LEARNED["train_steps"], bounds=(10, 100_000), doc="Training steps."
    )
    learning_rate = param.Number(
        default=DEFAULT_LEARNED["learning_rate"], bounds=(1e-5, 0.1), doc="Adam learning rate."
    )
    batch_size = param.Integer(
        default=DEFAULT_LEARNED["batch_size"], bounds=(8, 4096), doc="Training batch size."
    )
    guidance = param.Selector(default="none", objects=list(GUIDANCE_KINDS), doc="Guidance.")
    w = param.Number(
        default=1.0, bounds=(0.0, 10.0), softbounds=(0.0, 4.0), doc="Guidance weight w."
    )
    snapshot_index = param.Integer(
        default=-1, bounds=(-1, None), doc="Training snapshot shown (-1: the latest)."
    )

    # -- sampling ----------------------------------------------------------------------------
    schedule = param.Selector(default="edm", objects=list(SCHEDULES), doc="Noise schedule.")
    solver = param.Selector(default="euler", objects=list(SOLVERS), doc="Sampler.")
    sigma_min = param.Number(default=0.002, bounds=(1e-4, 10.0), doc="Smallest σ of the grid.")
    sigma_max = param.Number(default=80.0, bounds=(0.1, 1000.0), doc="Largest σ of the grid.")
    rho = param.Number(default=7.0, bounds=(0.5, 20.0), doc="EDM grid exponent ρ.")
    sample_steps = param.Integer(default=40, bounds=(2, 400), doc="Sampler steps.")
    n_samples = param.Integer(default=500, bounds=(2, 5000), doc="Trajectories / samples.")

    # -- view --------------------------------------------------------------------------------
    sigma_index = param.Integer(
        default=0, bounds=(0, None), doc="Index into the σ grid (0 = σ_max)."
    )
    resolution = param.Integer(default=32, bounds=(8, 64), doc="Flow-field grid points per side.")
    extent = param.Number(default=17.5, bounds=(1.0, 1000.0), doc="Half-width of the field window.")
    show_curves = param.Boolean(default=True, doc="Compute the curves over σ (the slowest part).")

    # -- reading and writing the inputs as plain values --------------------------------------
    def config_dict(self) -> dict[str, Any]:
        """The plain inputs as JSON values (custom points are in ``to_json`` under "data")."""
        out = {}
        for name in PLAIN_PARAMS:
            v = getattr(self, name)
            out[name] = v.item() if isinstance(v, np.generic) else v
        return out

    def set_from_strings(self, pairs: dict[str, str]) -> list[str]:
        """Set plain inputs from text (URL query, ``--args name=value``); unknown names and bad
        values are skipped and reported, never raised. Returns the problems."""
        problems, updates = [], {}
        for name, text in pairs.items():
            if name not in PLAIN_PARAMS:
                problems.append(f"unknown setting {_clip(str(name))!r}")
                continue
            text = str(text)
            if len(text) > MAX_VALUE_CHARS:  # e.g. 5,000 digits: not parsed, not echoed
                problems.append(f"{name}: a value of {len(text):,} characters is too long")
                continue
            p = self.param[name]
            try:
                if isinstance(p, param.Boolean):
                    value: Any = {"true": True, "1": True, "false": False, "0": False}[
                        str(text).strip().lower()
                    ]
                elif isinstance(p, param.Integer):
                    value = int(text)
                elif isinstance(p, param.Number):
                    value = float(text)
                else:
                    value = str(text)
                p._validate(value)
            except Exception as exc:
                problems.append(f"{name}={text!r}: {_clip(str(exc), 200)}")
                continue
            updates[name] = value
        if updates:
            self.param.update(**updates)
        return problems

    def use_points(self, points, labels=None) -> None:
        """Switch to custom data (points drawn or uploaded). Raises ``ValueError`` — and changes
        nothing — for points that are not a finite ``(n, 2)`` array of 2..MAX_POINTS rows."""
        from toyflow.datasets import from_points

        pts = np.asarray(points, dtype=np.float64) if points is not None else None
        if pts is None or pts.ndim != 2 or pts.shape[1] != 2:
            raise ValueError("Points must be rows of two numbers (x, y).")
        if not 2 <= pts.shape[0] <= MAX_POINTS:
            raise ValueError(
                f"Custom data needs between 2 and {MAX_POINTS} points, got {pts.shape[0]}."
            )
        from_points(pts, None, labels)  # validates (finite values, whole non-negative labels)
        lab = None if labels is None else np.asarray(labels, np.int32)
        self.param.update(custom_points=pts.astype(np.float32), custom_labels=lab, dataset=CUSTOM)

    def upload_csv(self, content: bytes | str) -> int:
        """Use an uploaded CSV of ``x,y[,label]`` rows as the training data. Returns the number
        of points; a malformed file raises ``ValueError`` (with the line) and changes nothing."""
        from toyflow.datasets import load_csv

        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, (bytes, bytearray)) or not content:
            raise ValueError("The uploaded file is empty.")
        if len(content) > 5_000_000:
            raise ValueError("The uploaded file is larger than 5 MB.")
        ds = load_csv(bytes(content))  # bytes: parsed as CSV text, never opened as a path
        labels = ds.train_coarse if np.any(ds.train_coarse) else None
        self.use_points(ds.train_x, labels)
        return ds.n_train


class ExplorerOutputs(ExplorerInputs):
    """The inputs plus what the store publishes for the views: set by refresh and by training,
    never by a user (``precedence=-1`` keeps them out of generated widgets)."""

    error = param.String(default="", precedence=-1, doc="Why the views could not update.")
    status = param.String(default="", precedence=-1, doc="What the model view is waiting for.")
    busy = param.Boolean(default=False, precedence=-1)
    sigmas = param.Array(default=None, allow_None=True, precedence=-1)
    data_view = param.Parameter(default=None, precedence=-1)
    field_view = param.Parameter(default=None, precedence=-1)
    optimal_field_view = param.Parameter(default=None, precedence=-1)
    trajectory_view = param.Parameter(default=None, precedence=-1)
    positions_view = param.Parameter(default=None, precedence=-1)
    curves_view = param.Parameter(default=None, precedence=-1)
    headline_view = param.Parameter(default=None, precedence=-1)
    train_status = param.String(
        default="idle",
        precedence=-1,
        doc="idle | queued | running | done | cached | failed | cancelled",
    )
    train_progress = param.Number(default=0.0, bounds=(0.0, 1.0), precedence=-1)
    train_message = param.String(default="", precedence=-1)
    loss_history = param.Array(default=None, allow_None=True, precedence=-1)
    snapshot_steps = param.List(default=[], precedence=-1)
    # Serial numbers the views watch (one per view group), bumped on every publish.
    data_serial = param.Integer(default=0, precedence=-1)
    field_serial = param.Integer(default=0, precedence=-1)
    trajectory_serial = param.Integer(default=0, precedence=-1)
    curves_serial = param.Integer(default=0, precedence=-1)
    train_serial = param.Integer(default=0, precedence=-1)
