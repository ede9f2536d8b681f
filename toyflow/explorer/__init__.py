r"""The explorer's domain: what the web app (:mod:`toyflow.app`) and notebooks render. It never
imports Panel and holds no science of its own: every number it shows comes from a toyflow
function.

What it computes, for the chosen data, model and sampler:

- at the σ of the slider, ``σ_i`` of the sampling grid: the flow field ``D(x; σ_i) − x`` of the
  chosen model beside the optimal denoiser's (:func:`toyflow.compare_fields`), their difference
  ``‖D − D*‖ / σ``, the displacement region ``‖D(x; σ) − x‖ ≤ σ`` and where the sampling
  trajectories are at ``σ_i``;
- the full trajectories and the generated samples, each flagged memorized when its nearest
  training point is closer than 1/3 of the second-nearest (:func:`toyflow.metrics.memorized_mask`);
- curves over the grid σ: the relative train/validation gap ``(E_val − E_train)/E_train`` of the
  model and of the optimal denoiser, the model-vs-optimal error on noisy training samples and on
  trajectory states, and the trajectory-overlap measure (:mod:`toyflow.metrics`);
- headline numbers: memorized fraction, Fréchet overfit ``(FD_val − FD_train)/FD_train``, loss.

Where each part lives:

=====================  ==========================================================================
``model``              :class:`ExplorerInputs`, the param model holding only the inputs
``compute``            inputs → data, denoisers, the σ grid (σ resolved in one place), fields,
                       trajectories
``curves``             curves over σ and the headline numbers
``jobs``               training jobs: the process-wide pool, the queue, cancellation
``trainer``            one session's training controller (which model, its job or result)
``cache``              trained models in memory and on disk; computed views in memory
``export``             JSON, the Python snippet, the commands
``state``              :class:`ExplorerState`: inputs + published outputs + the refresh
``guide``              the page's words: what each view shows per model kind, the glossary,
                       the paper's key settings as presets, reset to defaults
``intervention``       claim 3 by intervention: hybrid at σ_switch, injection beside a twin
=====================  ==========================================================================

Nothing here touches JAX at import time: ``panel serve --num-procs N`` forks before any backend
starts.
"""

from __future__ import annotations

from toyflow.explorer.cache import (
    TrainConfig,
    cache_dir,
    cached_result,
    clear_memory_cache,
    clear_view_caches,
    enable_compilation_cache,
    store_result,
)
from toyflow.explorer.compute import DataView, ExplorerCompute, NotReady, TrajectoryView
from toyflow.explorer.intervention import InterventionRunner
from toyflow.explorer.jobs import TrainingJob, train_workers, warm_up_training
from toyflow.explorer.model import (
    CUSTOM,
    DEFAULT_LEARNED,
    GUIDANCE_KINDS,
    INPUT_PARAMS,
    MAX_POINTS,
    MODEL_KINDS,
    N_SNAPSHOTS,
    PLAIN_PARAMS,
    STEPS_PER_CALL,
    TRAINING_PARAMS,
    ExplorerInputs,
)
from toyflow.explorer.state import ExplorerState


def explore(*, result=None, state: ExplorerState | None = None, denoiser=None, **params):
    """The explorer for a notebook (displays inline in Jupyter) or for ``pn.serve``.

    ``params`` are :class:`ExplorerState` inputs (``kind="error-prone", delta=1.2``);
    ``result`` opens a :class:`toyflow.TrainResult` trained by a script (pass the data
    parameters it was trained on); ``state`` reuses an existing store; ``denoiser`` shows your
    own denoiser or function ``D(x, sigma[, labels])`` beside the optimal one (model kind
    "user"). Needs Panel (imported here, not by ``import toyflow``).

    >>> toyflow.explore(kind="error-prone", delta=1.2, n_train=40)   # doctest: +SKIP
    """
    from toyflow.app import ExplorerApp

    return ExplorerApp.from_params(result=result, state=state, denoiser=denoiser, **params)


__all__ = [
    "CUSTOM",
    "DEFAULT_LEARNED",
    "GUIDANCE_KINDS",
    "INPUT_PARAMS",
    "MAX_POINTS",
    "MODEL_KINDS",
    "N_SNAPSHOTS",
    "PLAIN_PARAMS",
    "STEPS_PER_CALL",
    "TRAINING_PARAMS",
    "DataView",
    "ExplorerCompute",
    "ExplorerInputs",
    "ExplorerState",
    "InterventionRunner",
    "NotReady",
    "TrainConfig",
    "TrainingJob",
    "TrajectoryView",
    "cache_dir",
    "cached_result",
    "clear_memory_cache",
    "clear_view_caches",
    "enable_compilation_cache",
    "explore",
    "store_result",
    "train_workers",
    "warm_up_training",
]
