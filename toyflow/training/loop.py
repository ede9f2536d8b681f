r"""The host loop, written once for every model and placement.

``fit`` trains ``M`` models of one architecture together (``M = 1`` for ``train``): their
parameters, optimizer states, learning rates, seeds and data subsets are stacked along a leading
axis and one ``vmap``-ed :func:`~toyflow.training.step.make_train_step` runs a *traced* number of
steps per compiled call (``lax.fori_loop``), so any chunk length reuses one compilation. Between
calls the loop reports :class:`Progress`, honours cancellation and keeps snapshots at log-spaced
steps, which makes "training time" an axis: ``result.snapshots`` are denoisers. Where the arrays
live and how a call runs is the placement's business (:mod:`toyflow.training.placement`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._types import AnyArray, PyTree
from toyflow.nets import LearnedDenoiser
from toyflow.registry import bucket
from toyflow.schedules import Schedule
from toyflow.training.placement import Placement, pad_models
from toyflow.training.step import (
    Architecture,
    init_state,
    make_optimizer,
    make_train_step,
    measure_sigma_data,
)


@dataclasses.dataclass(frozen=True)
class Progress:
    """What a progress callback receives after each compiled chunk of steps."""

    step: int
    total: int
    loss: float  # mean loss over the last chunk (averaged over models in a sweep)
    elapsed: float
    snapshot: bool  # a snapshot was taken at this step
    losses: np.ndarray  # the chunk's per-step losses, shape (models, chunk)
    #: The snapshot's denoisers (one per model) when ``snapshot`` is True, else empty: lets a
    #: caller (the app) show snapshots while training runs.
    denoisers: tuple[LearnedDenoiser, ...] = ()

    @property
    def fraction(self) -> float:
        return self.step / max(self.total, 1)


class TrainingCancelled(Exception):
    """Raise inside a progress callback to stop training (same as returning False)."""


@dataclasses.dataclass
class TrainResult:
    """A trained model: ``.denoiser`` (EMA weights if EMA was on), per-step ``.losses``,
    ``.snapshots`` (denoisers at ``.snapshot_steps``) and the settings that made it."""

    denoiser: LearnedDenoiser
    losses: np.ndarray
    snapshots: list[LearnedDenoiser]
    snapshot_steps: list[int]
    settings: dict[str, Any]
    sigma_data: float
    steps_done: int
    cancelled: bool = False
    wall_time: float = 0.0

    @property
    def config(self) -> Architecture:
        cfg: Architecture = self.denoiser.config
        return cfg

    @property
    def steps_per_second(self) -> float:
        return self.steps_done / self.wall_time if self.wall_time > 0 else float("nan")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model, its snapshots, losses and settings atomically (msgpack)."""
        from toyflow.training.checkpoint import save_result

        save_result(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainResult:
        from toyflow.training.checkpoint import load_result

        return load_result(path)


@dataclasses.dataclass
class SweepResult:
    """Models trained together under ``vmap``: one :class:`TrainResult` per model."""

    results: list[TrainResult]
    wall_time: float = 0.0

    @property
    def denoisers(self) -> list[LearnedDenoiser]:
        return [r.denoiser for r in self.results]

    @property
    def losses(self) -> np.ndarray:
        return np.stack([r.losses for r in self.results])

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> TrainResult:
        return self.results[i]


def snapshot_schedule(steps: int, n_snapshots: int) -> list[int]:
    """``n_snapshots`` log-spaced steps in ``[1, steps]`` (always ending at ``steps``)."""
    if n_snapshots <= 0:
        return [steps]
    lo = min(10, steps)
    pts = np.unique(np.round(np.geomspace(lo, steps, n_snapshots)).astype(int))
    return sorted(set(int(p) for p in pts) | {steps})


def _pad_rows(a: np.ndarray, n: int) -> np.ndarray:
    """``a`` with zero rows appended up to ``n`` rows."""
    pad = n - a.shape[0]
    return a if pad <= 0 else np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)])


#: Compiled initialisers and runners shared across calls with equal settings (the app retrains
#: often; re-tracing costs seconds on a small CPU).
_COMPILED: dict[Hashable, Callable[..., Any]] = {}


def _cached(key: Hashable, build: Callable[[], Callable[..., Any]]) -> Callable[..., Any]:
    fn = _COMPILED.get(key)
    if fn is None:
        if len(_COMPILED) > 64:
            _COMPILED.pop(next(iter(_COMPILED)))
        fn = _COMPILED[key] = build()
    return fn


def fit(
    x: np.ndarray,
    labels: np.ndarray | None,
    *,
    config: Architecture,
    placement: Placement,
    seeds: Sequence[int],
    learning_rates: Sequence[float],
    subsets: Sequence[np.ndarray],
    steps: int,
    batch_size: int,
    schedule: Schedule,
    ema_decay: float | None,
    label_dropout: float,
    n_snapshots: int,
    steps_per_call: int,
    grad_clip: float | None,
    weight_decay: float,
    callback: Callable[[Progress], Any] | None,
    settings: dict[str, Any],
) -> SweepResult:
    """Train ``M = len(seeds)`` models together on ``placement`` (validated arguments)."""
    t_start = time.perf_counter()
    m = len(seeds)
    total = placement.start(m, batch_size)  # the model count padded to the placement's groups

    def pad(a: AnyArray) -> AnyArray:
        return pad_models(a, total)

    sigma_data = np.array([measure_sigma_data(x[s]) for s in subsets], np.float32)
    # Subsets as padded index arrays with counts. Index arrays and data are padded to a bucket
    # size (toyflow.registry.bucket); only idx[:count] is ever sampled, so padding changes no result.
    idx = np.zeros((m, bucket(max(len(s) for s in subsets))), np.int32)
    for i, s in enumerate(subsets):
        idx[i, : len(s)] = s
    counts = np.array([len(s) for s in subsets], np.int32)

    optimizer = make_optimizer(1.0, grad_clip=grad_clip, weight_decay=weight_decay)
    keys = pad(jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds]))
    init_keys, run_keys = jax.vmap(jax.random.split)(keys).transpose(1, 0, 2)
    has_ema = ema_decay is not None
    init_fn = _cached(
        ("init", config, (grad_clip, weight_decay), has_ema),
        lambda: jax.jit(jax.vmap(lambda k, lr: init_state(config, optimizer, k, lr, ema=has_ema))),
    )
    state = init_fn(init_keys, pad(jnp.asarray(learning_rates, jnp.float32)))
    max_chunk = int(min(steps_per_call, steps))
    has_labels = labels is not None
    step_args = (schedule, batch_size, label_dropout, ema_decay, max_chunk)
    run = _cached(
        ("run", config, (grad_clip, weight_decay), *step_args, placement.cache_key(has_labels)),
        lambda: placement.compile(
            make_train_step(
                placement.step_config(config),
                optimizer,
                schedule,
                batch_size=batch_size,
                label_dropout=label_dropout,
                ema_decay=ema_decay,
                max_chunk=max_chunk,
            ),
            has_labels,
        ),
    )
    n_rows = bucket(x.shape[0])
    shared = (
        placement.shared(_pad_rows(x, n_rows)),
        None if labels is None else placement.shared(_pad_rows(labels, n_rows)),
    )
    # Per group: [state, run key, σ_data, subset indices, subset sizes].
    per_model = (state, run_keys, pad(sigma_data), pad(idx), pad(counts))
    parts = list(zip(*(placement.per_model(a) for a in per_model)))

    def weights() -> PyTree:
        return placement.gather([p[0].ema if has_ema else p[0].params for p in parts])

    def denoiser(w: PyTree, i: int, step: int) -> LearnedDenoiser:
        return config.make_denoiser(
            jax.tree_util.tree_map(lambda a: a[i], w), sigma_data[i], step=step
        )

    snap_set = set(snapshot_schedule(steps, n_snapshots))
    boundaries = sorted(snap_set | {steps})
    losses: list[np.ndarray] = []
    snaps: list[tuple[int, Any]] = []
    done, cancelled = 0, False
    try:
        while done < steps:
            n = min(next(b for b in boundaries if b > done) - done, max_chunk)
            outs = placement.call(run, parts, shared, n)
            parts = [(st,) + tuple(p[1:]) for (st, _), p in zip(outs, parts)]
            chunk_losses = placement.gather([buf for _, buf in outs], host=True)[:, :n]
            losses.append(chunk_losses)
            done += n
            took_snapshot = done in snap_set
            snap_denoisers: tuple[LearnedDenoiser, ...] = ()
            if took_snapshot:
                snaps.append((done, weights()))
                if callback is not None:
                    snap_denoisers = tuple(denoiser(snaps[-1][1], i, done) for i in range(m))
            if callback is not None:
                prog = Progress(
                    step=done,
                    total=steps,
                    loss=float(np.mean(chunk_losses)),
                    elapsed=time.perf_counter() - t_start,
                    snapshot=took_snapshot,
                    losses=chunk_losses,
                    denoisers=snap_denoisers,
                )
                try:
                    keep_going = callback(prog)
                except TrainingCancelled:
                    keep_going = False
                if keep_going is False:
                    cancelled = done < steps
                    break
    finally:
        placement.close()
    wall = time.perf_counter() - t_start
    all_losses = np.concatenate(losses, axis=1) if losses else np.zeros((m, 0), np.float32)
    if not np.all(np.isfinite(all_losses)):
        bad = int(np.argmax(~np.all(np.isfinite(all_losses), axis=0)))
        raise FloatingPointError(
            f"training diverged (non-finite loss at step {bad + 1}); "
            f"try a smaller learning_rate than {max(learning_rates):g}"
        )
    if not snaps or snaps[-1][0] != done:
        snaps.append((done, weights()))

    results: list[TrainResult] = []
    for i in range(m):
        snapshots = [denoiser(w, i, s) for s, w in snaps]
        s_i = dict(
            settings,
            seed=int(seeds[i]),
            learning_rate=float(learning_rates[i]),
            n_train=int(counts[i]),
            **placement.settings(),
        )
        results.append(
            TrainResult(
                denoiser=snapshots[-1],
                losses=all_losses[i],
                snapshots=snapshots,
                snapshot_steps=[s for s, _ in snaps],
                settings=s_i,
                sigma_data=float(sigma_data[i]),
                steps_done=done,
                cancelled=cancelled,
                wall_time=wall,
            )
        )
    return SweepResult(results, wall_time=wall)
