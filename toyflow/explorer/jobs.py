"""Training jobs: a process-wide bounded pool, a visible queue, cancellation.

:class:`TrainingJob` runs :func:`toyflow.train` on a thread pool of ``TOYFLOW_TRAIN_WORKERS``
workers (default 2) shared by every session of a server process; excess jobs queue and report
their place. Progress, losses and snapshots stream to listeners while the job runs; cancelling
makes the progress callback return ``False``, which stops training at the next chunk of steps.
The pools are created lazily, so nothing starts before a ``--num-procs`` fork.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from toyflow.explorer.cache import TrainConfig, new_token, store_result
from toyflow.explorer.model import DEFAULT_LEARNED, N_SNAPSHOTS, STEPS_PER_CALL

log = logging.getLogger("toyflow.explorer")

_POOL_LOCK = threading.Lock()
_TRAIN_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_COMPUTE_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_QUEUE: list[TrainingJob] = []  # jobs submitted but not started, in order
_WARMED = False


def _env_int(name: str, default: int, lo: int = 1, hi: int = 64) -> int:
    try:
        return max(lo, min(hi, int(os.environ.get(name, default))))
    except ValueError:
        return default


def train_workers() -> int:
    """Size of the training pool (``TOYFLOW_TRAIN_WORKERS``, default 2)."""
    return _env_int("TOYFLOW_TRAIN_WORKERS", 2)


def train_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _TRAIN_POOL
    with _POOL_LOCK:
        if _TRAIN_POOL is None:
            _TRAIN_POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=train_workers(), thread_name_prefix="toyflow-train"
            )
        return _TRAIN_POOL


def compute_pool() -> concurrent.futures.ThreadPoolExecutor:
    """The pool that refreshes sessions' views in the background (``TOYFLOW_COMPUTE_WORKERS``)."""
    global _COMPUTE_POOL
    with _POOL_LOCK:
        if _COMPUTE_POOL is None:
            _COMPUTE_POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=_env_int("TOYFLOW_COMPUTE_WORKERS", 4),
                thread_name_prefix="toyflow-view",
            )
        return _COMPUTE_POOL


def warm_up_training(delay: float = 2.0):
    """Once per process, compile the default learned model's training step in the background
    (on the training pool, after ``delay`` seconds), so the first Train press does not wait for
    the compiler. ``TOYFLOW_WARMUP=0`` turns it off. Returns the future, or ``None``."""
    global _WARMED
    with _POOL_LOCK:
        if _WARMED or os.environ.get("TOYFLOW_WARMUP", "1") == "0":
            return None
        _WARMED = True

    def run():
        time.sleep(delay)
        from toyflow.datasets import make_dataset
        from toyflow.training import train

        ds = make_dataset("circle", 10, 10, seed=0)
        d = DEFAULT_LEARNED
        # Stop after the first compiled call: the compiled step is what we came for.
        train(
            ds.train_x,
            width=d["width"],
            depth=d["depth"],
            steps=d["train_steps"],
            batch_size=d["batch_size"],
            learning_rate=d["learning_rate"],
            seed=0,
            n_snapshots=N_SNAPSHOTS,
            steps_per_call=STEPS_PER_CALL,
            callback=lambda _p: False,
        )

    return train_pool().submit(run)


class TrainingJob:
    """One training run on the shared pool.

    ``status`` goes ``queued → running → done | failed | cancelled``. While it runs, ``losses``
    (per step), ``snapshots`` (denoisers) and ``snapshot_steps`` grow; listeners registered with
    :meth:`subscribe` are called on the worker thread with ``(job, event)``, where event is
    ``"status"``, ``"progress"`` or ``"snapshot"``.
    """

    def __init__(self, config: TrainConfig, train_x, train_labels=None, *, disk_cache: bool = True):
        self.config = config
        self.train_x = np.asarray(train_x, np.float32)
        self.train_labels = None if train_labels is None else np.asarray(train_labels, np.int32)
        self.disk_cache = disk_cache
        self.status = "queued"
        self.progress = 0.0
        self.step = 0
        self.losses: list[float] = []
        self.snapshots: list[Any] = []
        self.snapshot_steps: list[int] = []
        self.result: Any = None
        self.error = ""
        self.elapsed = 0.0
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._listeners: list[Callable[[TrainingJob, str], None]] = []
        self._future: concurrent.futures.Future | None = None
        self._lock = threading.Lock()
        self.token = new_token()

    # -- control ---------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[TrainingJob, str], None]) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def submit(self) -> TrainingJob:
        with _POOL_LOCK:
            _QUEUE.append(self)
        self._future = train_pool().submit(self._run)
        return self

    def cancel(self) -> None:
        """Stop at the next chunk of steps (or never start, if still queued)."""
        self._cancel.set()
        if self._future is not None and self._future.cancel():
            self._leave_queue()
            self._finish("cancelled")

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def queue_position(self) -> int:
        """1-based place among queued jobs (0 once started)."""
        with _POOL_LOCK:
            try:
                return _QUEUE.index(self) + 1
            except ValueError:
                return 0

    # -- the worker ------------------------------------------------------------------------
    def _emit(self, event: str) -> None:
        for fn in list(self._listeners):
            try:
                fn(self, event)
            except Exception:  # a view must never kill the training worker
                log.exception("training listener failed")

    def _leave_queue(self) -> None:
        with _POOL_LOCK:
            if self in _QUEUE:
                _QUEUE.remove(self)

    def _finish(self, status: str) -> None:
        with self._lock:
            if self._done.is_set():
                return
            self.status = status
            self._done.set()
        self._emit("status")

    def _callback(self, prog) -> bool:
        self.step = int(prog.step)
        self.progress = float(prog.fraction)
        self.elapsed = float(prog.elapsed)
        chunk = np.asarray(prog.losses, np.float64)
        self.losses.extend(chunk.reshape(-1, chunk.shape[-1])[0].tolist() if chunk.size else [])
        if prog.snapshot and prog.denoisers:
            self.snapshots.append(prog.denoisers[0])
            self.snapshot_steps.append(int(prog.step))
            self._emit("snapshot")
        else:
            self._emit("progress")
        return not self._cancel.is_set()

    def _run(self) -> None:
        self._leave_queue()
        if self._cancel.is_set():
            self._finish("cancelled")
            return
        self.status = "running"
        self._emit("status")
        try:
            from toyflow.training import train

            result = train(
                self.train_x,
                self.train_labels,
                callback=self._callback,
                **self.config.train_kwargs(),
            )
        except Exception as exc:
            self.error = (
                f"{type(exc).__name__}: {exc}" if not isinstance(exc, ValueError) else str(exc)
            )
            log.info("training failed: %s", self.error)
            self._finish("failed")
            return
        self.result = result
        self.snapshots = list(result.snapshots)
        self.snapshot_steps = list(result.snapshot_steps)
        self.losses = np.asarray(result.losses, np.float64).tolist()
        if result.cancelled:
            self._finish("cancelled")
            return
        self.progress = 1.0
        store_result(self.config, result, disk=self.disk_cache)
        self._finish("done")
