r"""One training engine: denoising score matching with EDM weighting, for every model.

The MLP, vmapped sweeps of MLPs and the image U-Net all train through the same four pieces:

- :mod:`~toyflow.training.step`: the loss (EDM's ``λ(σ)``-weighted denoising error, with σ from
  the schedule's training distribution and label dropout for classifier-free guidance) and the
  optax-style :func:`make_train_step`, whose compiled call runs a *traced* number of steps with
  ``lax.fori_loop`` (any chunk length reuses one compilation). Optax Adam with gradient clipping,
  optional weight decay, optional EMA of the weights.
- :mod:`~toyflow.training.loop`: the host loop: chunks of steps, progress, cancellation,
  snapshots at log-spaced steps (``result.snapshots`` are denoisers, so "training time" is an
  axis). A sweep stacks parameters, optimizer states, learning rates, seeds and data subsets
  along a leading axis and ``vmap``\ s the same step. Per-step randomness is
  ``fold_in(key, step)``: results do not depend on how steps are chunked or placed.
- :mod:`~toyflow.training.placement`: where it runs: :class:`SingleDevice` (a sweep split into
  one thread-run group per CPU core) or :class:`DataParallel` over a ``jax.sharding.Mesh``,
  across hosts after ``jax.distributed.initialize`` (:func:`initialize_distributed`).
- :mod:`~toyflow.training.checkpoint`: atomic msgpack files (:func:`save_result`,
  :func:`load_result`).

Entry points: :func:`train` and :func:`train_sweep` (``mesh=`` for data-parallel runs).
"""

import os  # noqa: F401  (tests patch toyflow.training.os to simulate a failing disk)

from toyflow.training.api import MAX_BATCH, MAX_STEPS, train, train_sweep
from toyflow.training.checkpoint import (
    ARCHITECTURES,
    FORMAT,
    atomic_write_bytes,
    load_result,
    register_architecture,
    save_result,
)
from toyflow.training.loop import (
    Progress,
    SweepResult,
    TrainingCancelled,
    TrainResult,
    fit,
    snapshot_schedule,
)
from toyflow.training.placement import (
    DataParallel,
    SingleDevice,
    available_cores,
    initialize_distributed,
    make_mesh,
    sweep_groups,
)
from toyflow.training.step import (
    TrainState,
    apply_gradients,
    denoising_loss,
    init_state,
    make_optimizer,
    make_train_step,
    measure_sigma_data,
)

__all__ = [
    "ARCHITECTURES",
    "FORMAT",
    "MAX_BATCH",
    "MAX_STEPS",
    "DataParallel",
    "Progress",
    "SingleDevice",
    "SweepResult",
    "TrainResult",
    "TrainState",
    "TrainingCancelled",
    "apply_gradients",
    "atomic_write_bytes",
    "available_cores",
    "denoising_loss",
    "fit",
    "init_state",
    "initialize_distributed",
    "load_result",
    "make_mesh",
    "make_optimizer",
    "make_train_step",
    "measure_sigma_data",
    "register_architecture",
    "save_result",
    "snapshot_schedule",
    "sweep_groups",
    "train",
    "train_sweep",
]
