"""The explorer's store for one session: the inputs (:class:`ExplorerInputs`), the published
outputs the views draw, and the refresh that turns one into the other.

The work is done elsewhere: :class:`~toyflow.explorer.compute.ExplorerCompute` and
:class:`~toyflow.explorer.curves.Summaries` compute, the
:class:`~toyflow.explorer.trainer.TrainingController` trains, :mod:`toyflow.explorer.export`
writes the take-away files. This class schedules refreshes and publishes their results.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from toyflow.explorer import export
from toyflow.explorer.cache import TRAJ_CACHE
from toyflow.explorer.compute import ExplorerCompute, NotReady
from toyflow.explorer.curves import Summaries
from toyflow.explorer.jobs import compute_pool, warm_up_training
from toyflow.explorer.model import INPUT_PARAMS, TRAINING_PARAMS, USER, ExplorerOutputs
from toyflow.explorer.trainer import TrainingController

log = logging.getLogger("toyflow.explorer")


class ExplorerState(ExplorerOutputs):
    """The explorer's store: inputs are parameters, outputs are computed by toyflow.

    Set inputs (``state.kind = "error-prone"``); each change refreshes the outputs — at once, or
    with ``background=True`` (the web app) as one coalesced refresh on a shared thread pool.
    Read the published ``*_view`` parameters, or call :meth:`field`, :meth:`trajectories`,
    :meth:`curves`, :meth:`headline`. :meth:`train` starts a training job for a learned model.

    >>> state = ExplorerState(kind="error-prone", delta=1.2)
    >>> state.sigma_index = 20                     # σ ≈ 0.9 of the 40-step EDM grid
    >>> comparison = state.field()                 # D(x; σ) − x, model vs optimal
    >>> state.headline()["memorized_fraction"]     # doctest: +SKIP
    """

    def __init__(
        self, *, background: bool = False, auto: bool = True, disk_cache: bool = True, **params
    ):
        super().__init__(**params)
        self.compute = ExplorerCompute(self)
        self.summaries = Summaries(self.compute)
        self.training = TrainingController(self)
        self.training.disk_cache = disk_cache
        self.compute.learned = self.training.learned
        self.compute_counts = self.compute.counts
        self.timings: dict[str, float] = {}
        self._background = background
        self.auto = auto
        self._lock = threading.RLock()
        self._req_lock = threading.Lock()
        self._dirty = False
        self._running = False
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self.param.watch(self._on_input, list(INPUT_PARAMS))
        if self.kind == "learned":
            self.training.sync()

    # -- refresh scheduling --------------------------------------------------------------------
    def _on_input(self, *events) -> None:
        if self._closed:
            return
        if {e.name for e in events} & set(TRAINING_PARAMS) and self.kind == "learned":
            self.training.sync()
        if self.auto:
            self.request_refresh()

    def request_refresh(self) -> None:
        """Recompute what the current inputs need: now, or (``background=True``) on the shared
        compute pool, coalescing a burst of changes into one refresh."""
        if not self._background:
            self.refresh()
            return
        with self._req_lock:
            self._dirty = True
            if self._running or self._closed:
                return
            self._running = True
            self._idle.clear()
        compute_pool().submit(self._refresh_loop)

    def _refresh_loop(self) -> None:
        while True:
            with self._req_lock:
                if not self._dirty or self._closed:
                    self._running = False
                    self._idle.set()
                    return
                self._dirty = False
            try:
                self.refresh()
            except Exception:  # refresh reports its own errors; this is a last resort
                log.exception("refresh failed")

    def refresh_if_cached(self) -> bool:
        """Publish every view at once when this process has already computed them all (another
        session with the same settings did): a new page then arrives with its data. Returns
        False, computing nothing slow, when something is missing."""
        try:
            _, model_key = self.compute.model()
        except (NotReady, ValueError):
            return False
        if TRAJ_CACHE.get(self.compute.traj_key(model_key)) is None:
            return False
        if self.show_curves and self.summaries.cached_curves(model_key) is None:
            return False
        self.refresh()
        return not self.error

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until background refreshes are done (tests, benchmarks, notebooks)."""
        return self._idle.wait(timeout)

    def _pending(self) -> bool:
        return self._background and self._dirty

    # -- the pipeline ----------------------------------------------------------------------------
    def refresh(self) -> None:
        """Compute and publish every output the current inputs need (cached pieces are reused).

        Order: data, the fields at σ (published first, so the main view appears soonest), the
        trajectories, the headline numbers, then the curves. A ``ValueError`` from toyflow (a
        nonsensical combination) lands in ``error`` and leaves the earlier outputs in place.
        """
        with self._lock:
            try:
                self._refresh()
                if self.error:
                    self.error = ""
            except NotReady as exc:
                if self.error:
                    self.error = ""
                self.status = str(exc)
            except (ValueError, FloatingPointError) as exc:
                self.error = str(exc)
            except Exception as exc:  # keep the session usable whatever happens
                log.exception("explorer refresh failed")
                self.error = f"Unexpected error: {type(exc).__name__}: {exc}"
            finally:
                if self.busy:
                    self.busy = False

    def _refresh(self) -> None:
        c, t0 = self.compute, time.perf_counter()
        data = c.data()
        idx, sigma = c.sigma()
        optimal_field = c.compute_field(c.optimal(), ("optimal",), sigma)
        try:
            denoiser, model_key = c.model()
        except NotReady:
            self._publish_data(data)
            self.param.update(
                optimal_field_view=optimal_field,
                field_view=None,
                positions_view=None,
                trajectory_view=None,
                headline_view=self.summaries.empty_headline(),
            )
            self.field_serial += 1
            self.trajectory_serial += 1
            self.curves_view = (
                self.summaries.compute_curves(None, None) if self.show_curves else None
            )
            self.curves_serial += 1
            raise
        field = c.compute_field(denoiser, model_key, sigma)
        traj = c.cached_trajectories(model_key)
        self._publish_data(data)
        if self.status:
            self.status = ""
        self.param.update(
            optimal_field_view=optimal_field,
            field_view=field,
            positions_view=None if traj is None else traj.trajectory[idx],
        )
        self.field_serial += 1
        self.timings["field"] = time.perf_counter() - t0
        if self._pending():
            return  # newer inputs are waiting: skip the slower parts, the next pass does them
        if traj is None:
            self.busy = True  # only the slow parts show a spinner (a σ step stays quiet)
            traj = c.trajectories()
            self.positions_view = traj.trajectory[idx]
            self.field_serial += 1
        if self.trajectory_view is not traj:
            self.trajectory_view = traj
            self.trajectory_serial += 1
        self.timings["trajectories"] = time.perf_counter() - t0
        self.headline_view = self.summaries.headline()
        if self._pending():
            return
        if self.training.learned().training and self.kind == "learned":
            return  # curves are the slowest part: while snapshots stream, draw them at the end
        if not self.show_curves:
            if self.curves_view is not None:
                self.curves_view = None
                self.curves_serial += 1
            return
        if self.summaries.cached_curves(model_key) is None:
            self.busy = True
        curves = self.summaries.curves()
        if self.curves_view is not curves:
            self.curves_view = curves
            self.curves_serial += 1
        self.timings["total"] = time.perf_counter() - t0
        if self._background:
            warm_up_training()  # once per process, after the first page is complete

    def _publish_data(self, data) -> None:
        if self.data_view is not data:
            self.data_view = data
            self.data_serial += 1
        sigmas = self.compute.sigma_grid()
        if self.sigmas is None or not np.array_equal(self.sigmas, sigmas):
            self.sigmas = sigmas

    # -- what the views show, on demand ----------------------------------------------------------
    def data(self):
        return self.compute.data()

    def optimal(self):
        return self.compute.optimal()

    def current_denoiser(self):
        """The denoiser the views show (guidance included); raises :class:`NotReady` for a
        learned model without a snapshot yet."""
        return self.compute.model()[0]

    def field_label(self) -> int | None:
        return self.compute.field_label()

    def sample_labels(self) -> np.ndarray | None:
        return self.compute.sample_labels()

    def sigma_grid(self) -> np.ndarray:
        return self.compute.sigma_grid()

    def clamped_sigma_index(self) -> int:
        return self.compute.sigma()[0]

    def current_sigma(self) -> float:
        return self.compute.sigma()[1]

    def field(self):
        return self.compute.field()

    def trajectories(self):
        return self.compute.trajectories()

    def positions_at_sigma(self) -> np.ndarray:
        """Where the sampling trajectories are at the current σ: ``(n_samples, 2)``."""
        return self.trajectories().trajectory[self.clamped_sigma_index()]

    def curves(self) -> dict:
        return self.summaries.curves()

    def headline(self) -> dict:
        return self.summaries.headline()

    def _gap(self, denoiser, sigmas):
        return self.summaries.gap(denoiser, sigmas)

    # -- training --------------------------------------------------------------------------------
    def training_config(self):
        return self.training.config()

    def train(self):
        return self.training.train()

    def cancel(self) -> None:
        self.training.cancel()

    def load_result(self, result) -> None:
        self.training.load_result(result)

    def use_denoiser(self, denoiser) -> None:
        """Show a denoiser (or any ``D(x, sigma[, labels])`` function) from Python as kind "user"."""
        self.compute.use_denoiser(denoiser)
        if USER not in self.param["kind"].objects:
            self.param["kind"].objects = [*self.param["kind"].objects, USER]
        self.kind = USER
        self.request_refresh()

    @property
    def job(self):
        return self.training.job

    def close(self) -> None:
        """End of a session: cancel its training and stop refreshing."""
        self._closed = True
        self.training.close()

    # -- take-away -------------------------------------------------------------------------------
    def to_json(self, *, indent: int | None = 2) -> str:
        return export.to_json(self, indent=indent)

    def python_snippet(self) -> str:
        return export.python_snippet(self)

    def cli_command(self) -> str:
        return export.cli_command(self)

    def toyflow_command(self) -> str | None:
        return export.toyflow_command(self)
