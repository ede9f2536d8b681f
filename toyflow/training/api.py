"""The public entry points: :func:`train` (one model) and :func:`train_sweep` (many models of one
architecture under ``vmap``), on one device or data-parallel over a mesh. They validate, then hand
over to the one loop, :func:`toyflow.training.loop.fit`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from jax.sharding import Mesh

from toyflow._types import ArrayLike
from toyflow._validation import as_labels, as_points, check_float, check_int
from toyflow.nets import MLPConfig
from toyflow.schedules import Schedule, get_schedule
from toyflow.training.loop import Progress, SweepResult, TrainResult, fit
from toyflow.training.placement import DataParallel, SingleDevice, sweep_groups
from toyflow.training.step import Architecture

MAX_STEPS = 10_000_000
MAX_BATCH = 1 << 16


def _prepare_data(
    train_x: ArrayLike, train_labels: ArrayLike | None, config: Architecture | None
) -> tuple[np.ndarray, np.ndarray | None]:
    event = tuple(getattr(config, "event_shape", ())) if config is not None else ()
    arr = np.asarray(train_x)
    if arr.ndim > 2 or len(event) > 1:
        x = as_points(train_x, "train_x", event_shape=event or tuple(arr.shape[1:]))
    else:
        x = as_points(train_x, "train_x")
    lab = as_labels(train_labels, x.shape[0], "train_labels")
    return x, lab


def _num_classes(lab: np.ndarray | None, config: Architecture | None) -> int | None:
    """The class count the labels need; with a given ``config``, check that it has room."""
    if lab is None:
        return None
    if config is not None:
        k = getattr(config, "num_classes", None)
        if k is None:
            raise ValueError("train_labels were given but the config has num_classes=None")
        if int(lab.max()) >= k:
            raise ValueError(
                f"train_labels go up to {int(lab.max())} but the config has num_classes={k}"
            )
    return int(lab.max()) + 1


def _check_lr(lr: Any) -> float:
    return check_float(lr, "learning_rate", 0.0, 1.0, lo_open=True)


def _subsets(subsets: Sequence[ArrayLike] | None, m: int, n: int) -> list[np.ndarray]:
    if subsets is None:
        return [np.arange(n)] * m
    out = []
    for i, s in enumerate(subsets):
        s = np.asarray(s)
        if s.ndim != 1 or s.size == 0 or not np.issubdtype(s.dtype, np.integer):
            raise ValueError(f"subsets[{i}] must be a non-empty 1-D array of integer indices")
        if s.min() < 0 or s.max() >= n:
            raise ValueError(f"subsets[{i}] has indices outside [0, {n})")
        out.append(s.astype(np.int32))
    return out


def train(
    train_x: ArrayLike,
    train_labels: ArrayLike | None = None,
    *,
    seed: int = 0,
    learning_rate: float = 2e-3,
    **options: Any,
) -> TrainResult:
    """Train one denoiser by denoising score matching.

    Every keyword of :func:`train_sweep` but ``seeds``, ``learning_rates``, ``subsets`` and
    ``groups`` applies (the defaults are the same).

    Args:
      train_x: ``(N, d)`` training points (``(N, H, W, C)`` with an image ``config``).
      train_labels: optional ``(N,)`` ints: the model becomes conditional (with a null class for
        ``labels=None``, trained by ``label_dropout``).
      width, depth, activation, embedding, embed_dim: the MLP (ignored when ``config`` is given;
        pass an architecture config such as the U-Net's to train something else).
      steps, batch_size, learning_rate, seed: the optimisation (Adam, clipped at ``grad_clip``).
      schedule: the training noise distribution (``"edm"``, ``"vp"``, ``"ve"``, ``"cosine"``).
      ema: EMA decay of the weights (``None`` = off); the denoiser and snapshots use the EMA.
      n_snapshots: snapshots at log-spaced steps (``.snapshots``, ``.snapshot_steps``).
      steps_per_call: steps per compiled call (the granularity of progress and cancel).
      callback: ``f(Progress)`` after each call; return ``False`` (or raise
        :class:`TrainingCancelled`) to stop; the result then has ``cancelled=True``.
      mesh: train data-parallel over this ``("model", "data")`` mesh
        (:func:`toyflow.training.placement.make_mesh`, model axis 1); ``batch_size`` is the
        global batch. Default: the default device.

    Returns: a :class:`TrainResult`.
    """
    return train_sweep(
        train_x, train_labels, seeds=[seed], learning_rates=[learning_rate], **options
    ).results[0]


def train_sweep(
    train_x: ArrayLike,
    train_labels: ArrayLike | None = None,
    *,
    seeds: Sequence[int] | None = None,
    learning_rates: Sequence[float] | float | None = None,
    subsets: Sequence[Sequence[int]] | None = None,
    width: int = 128,
    depth: int = 3,
    steps: int = 2000,
    batch_size: int = 512,
    learning_rate: float = 2e-3,
    activation: str = "silu",
    embedding: str = "fourier",
    embed_dim: int = 32,
    schedule: str | Schedule = "edm",
    ema: float | None = None,
    label_dropout: float = 0.1,
    n_snapshots: int = 8,
    steps_per_call: int = 250,
    grad_clip: float | None = 1.0,
    weight_decay: float = 0.0,
    config: Architecture | None = None,
    callback: Callable[[Progress], Any] | None = None,
    groups: int | None = None,
    mesh: Mesh | None = None,
) -> SweepResult:
    """Train many models of one architecture together under ``vmap`` (one compiled step).

    The sweep's size ``M`` is the common length of ``seeds``, ``learning_rates`` and ``subsets``
    (any one of them may be given; scalars broadcast). ``subsets[i]`` are indices into
    ``train_x`` that model ``i`` trains on (data-density sweeps); its ``σ_data`` is measured on
    its own subset. ``groups`` splits the models into that many vmapped groups that run at once
    from separate threads (default: one per CPU core on the CPU backend, 1 on accelerators; see
    :func:`~toyflow.training.placement.sweep_groups`); it changes speed, not results. ``mesh``
    splits the models over the mesh's model axis and each batch over its data axis instead.
    Other arguments are as in :func:`train`.
    """
    x, lab = _prepare_data(train_x, train_labels, config)
    lens = {len(v) for v in (seeds, subsets) if v is not None}
    if learning_rates is not None and np.ndim(learning_rates) == 1:
        lens.add(len(learning_rates))  # type: ignore[arg-type]  # ndim 1: sized
    if not lens:
        raise ValueError(
            "train_sweep needs seeds, learning_rates or subsets to know how many models to train"
        )
    if len(lens) > 1:
        raise ValueError(
            f"seeds, learning_rates and subsets must have the same length, got lengths {sorted(lens)}"
        )
    m = lens.pop()
    if m < 1 or m > 4096:
        raise ValueError(f"a sweep trains between 1 and 4096 models, got {m}")
    if mesh is not None and groups is not None:
        raise ValueError("give groups (one device) or mesh (data-parallel), not both")
    placement = SingleDevice(sweep_groups(m, groups)) if mesh is None else DataParallel(mesh)
    seeds = list(range(m)) if seeds is None else [check_int(s, "seed", 0, 2**31 - 1) for s in seeds]
    if learning_rates is None:
        learning_rates = [learning_rate] * m
    elif np.ndim(learning_rates) == 0:
        learning_rates = [float(learning_rates)] * m  # type: ignore[arg-type]  # ndim 0: a number
    lrs = [_check_lr(v) for v in learning_rates]  # type: ignore[union-attr]  # a list by now
    subs = _subsets(subsets, m, x.shape[0])
    num_classes = _num_classes(lab, config)
    cfg = config or MLPConfig(
        dim=x.shape[1] if x.ndim == 2 else None,  # type: ignore[arg-type]  # None: MLPConfig rejects it
        width=width,
        depth=depth,
        activation=activation,
        embedding=embedding,
        embed_dim=embed_dim,
        num_classes=num_classes,
    )
    steps = check_int(steps, "steps", 1, MAX_STEPS)
    batch_size = check_int(batch_size, "batch_size", 1, MAX_BATCH)
    ema = None if ema in (None, 0, 0.0, False) else check_float(ema, "ema", 0.0, 0.99999)
    label_dropout = check_float(label_dropout, "label_dropout", 0.0, 1.0)
    n_snapshots = check_int(n_snapshots, "n_snapshots", 0, 1000)
    steps_per_call = check_int(steps_per_call, "steps_per_call", 1, 100_000)
    grad_clip = None if not grad_clip else check_float(grad_clip, "grad_clip", 0.0, lo_open=True)
    weight_decay = check_float(weight_decay, "weight_decay", 0.0, 1.0)
    sched = get_schedule(schedule)
    settings = dict(
        architecture=cfg.to_dict(),
        kind=cfg.kind,
        steps=steps,
        batch_size=batch_size,
        schedule=sched.name,
        ema=ema,
        label_dropout=label_dropout,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        n_snapshots=n_snapshots,
    )
    return fit(
        x,
        lab,
        config=cfg,
        placement=placement,
        seeds=seeds,
        learning_rates=lrs,
        subsets=subs,
        steps=steps,
        batch_size=batch_size,
        schedule=sched,
        ema_decay=ema,
        label_dropout=label_dropout,
        n_snapshots=n_snapshots,
        steps_per_call=steps_per_call,
        grad_clip=grad_clip,
        weight_decay=weight_decay,
        callback=callback,
        settings=settings,
    )
