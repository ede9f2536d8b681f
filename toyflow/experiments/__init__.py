"""Experiments: every 2D result of the paper, and the same questions asked of learned models.

Each experiment is a library function ``fn(*, quick=False, outdir=None, progress=None,
**overrides) -> dict`` returning a tidy result (see :mod:`toyflow.experiments._common`):
the configuration, the arrays plotted (with their documented shapes), the headline numbers and
the qualitative checks. With ``outdir`` it writes ``NAME.json`` and ``NAME.png`` atomically.

    >>> from toyflow.experiments import EXPERIMENTS, run_experiment
    >>> sorted(EXPERIMENTS)[:3]
    ['condition-granularity', 'dataset-size', 'error-vs-angle']
    >>> result = run_experiment("gap-vs-delta", quick=True)        # doctest: +SKIP
    >>> result["headline"]["peak_gap_at_delta_min"]                 # doctest: +SKIP

``EXPERIMENTS`` is the registry the CLI (``toyflow experiment --list``), the examples and the
tests read. The paper's analytic experiments live in :mod:`.paper`, the learned-model ones in
:mod:`.learned`; image experiments (``toyflow.images.experiments``) are registered lazily when
that module is present, and imported only when run.
"""

from __future__ import annotations

import os
from typing import Any

from toyflow._validation import lookup
from toyflow.experiments import learned, paper
from toyflow.experiments._common import Experiment, ProgressFn, result_json, write_result

EXPERIMENTS: dict[str, Experiment] = {}


def register(
    name: str, description: str, fn, *, paper: bool, family: str, figure=None
) -> Experiment:
    """Add an experiment to :data:`EXPERIMENTS` (names are unique). ``figure(result)`` redraws
    its PNG from a result (defaults to ``figure_<name>`` in ``fn``'s module)."""
    if name in EXPERIMENTS:
        raise ValueError(f"experiment {name!r} is already registered")
    if figure is None:
        import sys

        module = sys.modules.get(getattr(fn, "__module__", ""), None)
        figure = getattr(module, "figure_" + name.replace("-", "_"), None)
    exp = Experiment(name, description, fn, paper, family, figure)
    EXPERIMENTS[name] = exp
    return exp


# The paper's toy experiments (DESIGN §6).
register(
    "gap-vs-delta",
    "relative gap over σ for δ from 2.2 to 1.2 on the symmetric circle",
    paper.gap_vs_delta,
    paper=True,
    family="paper",
)
register(
    "gap-vs-guidance",
    "autoguidance (δ_pos 1.8, δ_neg 2.2) with w from 0 to 2",
    paper.gap_vs_guidance,
    paper=True,
    family="paper",
)
register(
    "gap-vs-density",
    "relative gap for 8 to 15 training points at δ = 1.6",
    paper.gap_vs_density,
    paper=True,
    family="paper",
)
register(
    "flow-fields",
    "optimal flow field at σ ≈ 28, 2.8, 0.63 beside the δ model",
    paper.flow_fields,
    paper=True,
    family="paper",
)
register(
    "error-vs-angle",
    "denoising error along the circle between training points",
    paper.error_vs_angle,
    paper=True,
    family="paper",
)
register(
    "fd-vs-delta",
    "Fréchet distance of samples to train and validation as δ shrinks",
    paper.fd_vs_delta,
    paper=True,
    family="paper",
)

# The same questions with learned MLPs.
register(
    "width-sweep",
    "model width against gap, memorized fraction and sample Fréchet overfit",
    learned.width_sweep,
    paper=False,
    family="learned",
)
register(
    "training-time",
    "gap per σ and memorized samples across training snapshots",
    learned.training_time,
    paper=False,
    family="learned",
)
register(
    "dataset-size",
    "from a handful of points to dense support: where the learned field stops localizing",
    learned.dataset_size,
    paper=False,
    family="learned",
)
register(
    "condition-granularity",
    "unconditional, coarse labels, k-means K, one label per point",
    learned.condition_granularity,
    paper=False,
    family="learned",
)
register(
    "guidance-scale",
    "classifier-free and autoguidance weights with learned models",
    learned.guidance_scale,
    paper=False,
    family="learned",
)
register(
    "noise-schedule",
    "EDM, VP, VE and cosine trained and sampled on the same data",
    learned.noise_schedule,
    paper=False,
    family="learned",
)
register(
    "trajectory-overlap",
    "claim 3: model error on noisy training data vs on sampling trajectories, per σ",
    learned.trajectory_overlap,
    paper=False,
    family="learned",
)

# Claim 3 by intervention (its own module; imported here to register it).
from toyflow.experiments import intervention as _intervention  # noqa: E402

register(
    _intervention.NAME,
    "claim 3 by intervention: injection with a twin control, copy ratio, AUC, hybrid samplers",
    _intervention.trajectory_intervention,
    paper=False,
    family="learned",
)

# Image experiments, written elsewhere: registered only when their module exists, imported on use.
IMAGE_EXPERIMENTS = {
    "image-gap": ("image_gap", "per-σ generalization gap of a U-Net on images"),
    "image-memorization": ("image_memorization", "memorized fraction of generated images"),
    "image-training-time": ("image_training_time", "image gap and memorization over training"),
    "image-condition-granularity": (
        "image_condition_granularity",
        "image gap for k-means pseudo-labels of growing K",
    ),
}


def _image_module_path() -> str:
    return os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "images", "experiments.py"
    )


def _lazy_image(function_name: str):
    def run(**kwargs) -> dict:
        from toyflow.images import experiments as image_experiments

        return getattr(image_experiments, function_name)(**kwargs)

    run.__name__ = function_name
    run.__doc__ = f"Runs ``toyflow.images.experiments.{function_name}`` (imported on first use)."
    return run


def _lazy_image_figure(function_name: str):
    def figure(result: dict):
        from toyflow.images import experiments as image_experiments

        return getattr(image_experiments, "figure_" + function_name)(result)

    return figure


if os.path.exists(_image_module_path()):
    for _name, (_fn, _desc) in IMAGE_EXPERIMENTS.items():
        register(
            _name,
            _desc,
            _lazy_image(_fn),
            paper=False,
            family="images",
            figure=_lazy_image_figure(_fn),
        )


def load_result(path: str | os.PathLike) -> dict:
    """Read a ``NAME.json`` written by an experiment, arrays back as NumPy (``null`` → NaN)."""
    import json

    import numpy as np

    with open(path) as f:
        result = json.load(f)
    result["arrays"] = {
        k: np.asarray(v, dtype=float) if _numeric(v) else np.asarray(v)
        for k, v in result["arrays"].items()
    }
    return result


def _numeric(v) -> bool:
    import numpy as np

    try:
        np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return True


def plot_result(result: dict | str | os.PathLike):
    """Redraw an experiment's figure from its result (or the path of its JSON)."""
    if not isinstance(result, dict):
        result = load_result(result)
    exp = lookup(EXPERIMENTS, result["name"], "experiment")
    if exp.figure is None:
        raise ValueError(f"experiment {exp.name!r} has no figure function")
    return exp.figure(result)


def list_experiments(family: str | None = None) -> list[Experiment]:
    """Registered experiments (optionally of one family), in registry order."""
    return [e for e in EXPERIMENTS.values() if family is None or e.family == family]


def run_experiment(
    name: str,
    *,
    quick: bool = False,
    outdir: str | os.PathLike | None = None,
    progress: ProgressFn | None = None,
    **overrides: Any,
) -> dict:
    """Run a registered experiment by name (``ValueError`` lists the valid names).

    ``quick`` shrinks it to well under a minute on 2 CPU cores; ``outdir`` receives
    ``NAME.json`` and ``NAME.png``; ``progress(done, total, message)`` is called as work
    completes; ``overrides`` replace individual settings (unknown ones raise ``ValueError``).
    """
    exp = lookup(EXPERIMENTS, name, "experiment")
    return exp.fn(quick=quick, outdir=outdir, progress=progress, **overrides)


__all__ = [
    "EXPERIMENTS",
    "IMAGE_EXPERIMENTS",
    "Experiment",
    "list_experiments",
    "load_result",
    "plot_result",
    "register",
    "result_json",
    "run_experiment",
    "write_result",
]
