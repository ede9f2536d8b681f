r"""The explorer's domain model: one ``param`` store that the web app (``app/explorer.py``) and
notebooks render. It never imports Panel and holds no science of its own: every number it
shows comes from a toyflow function.

What it computes, for the chosen data, model and sampler (DESIGN §1, claims 1–5):

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

Work is cached by the settings it depends on, so moving σ recomputes only the field and the
positions (one call of a shared jitted function; σ and δ are traced values, nothing recompiles),
while the trajectories are reused.

Training: :class:`TrainingJob` runs :func:`toyflow.train` on a process-wide bounded thread pool
(``TOYFLOW_TRAIN_WORKERS``, default 2); excess jobs queue and report their place. Progress,
losses and snapshots stream into the store while the job runs, and cancelling returns ``False``
from the progress callback. Finished results are cached per process (LRU) and on disk under
``$TOYFLOW_CACHE`` (default ``~/.cache/toyflow``) in files named by a SHA-256 of the plain
configuration values, never by anything a user typed.

Nothing here touches JAX at import time: ``panel serve --num-procs N`` forks before any backend
starts.
"""

from __future__ import annotations

import collections
import concurrent.futures
import dataclasses
import hashlib
import json
import logging
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import param

from toyflow.datasets import DATASETS
from toyflow.labels import GRANULARITIES
from toyflow.sampling import SOLVERS
from toyflow.schedules import SCHEDULES

log = logging.getLogger(__name__)

MODEL_KINDS = ("optimal", "error-prone", "learned")
GUIDANCE_KINDS = ("none", "classifier-free", "autoguidance")
CUSTOM = "custom"  # the data set name for points drawn with the mouse or uploaded

#: Autoguidance's worse model for the analytic denoisers: δ larger by this much.
AUTOGUIDANCE_DELTA_STEP = 0.4
#: Curves use at most this many training and validation points (subsampled with the seed).
CURVE_POINTS = 200
#: Snapshots kept while training (log-spaced steps: the "training time" axis).
N_SNAPSHOTS = 10
STEPS_PER_CALL = 250
MAX_POINTS = 5000
#: The default learned model (as shipped): small enough to train in seconds on 2 CPU cores.
DEFAULT_LEARNED = dict(width=64, depth=3, train_steps=1500, batch_size=256, learning_rate=2e-3)

_CACHE_FORMAT = "toyflow-explorer-v1"


class NotReady(Exception):
    """The chosen model has no weights yet (a learned model before training)."""


# --- process-wide pools and caches -------------------------------------------------------------
# Module level on purpose: shared by every session of a server process (sessions keep their own
# state in ExplorerState objects). Created lazily, so nothing starts before a --num-procs fork.

_POOL_LOCK = threading.Lock()
_TRAIN_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_COMPUTE_POOL: concurrent.futures.ThreadPoolExecutor | None = None
_QUEUE: list[TrainingJob] = []  # jobs submitted but not started, in order
_RESULTS: collections.OrderedDict[str, Any] = collections.OrderedDict()
_RESULTS_MAX = 32


def _env_int(name: str, default: int, lo: int = 1, hi: int = 64) -> int:
    try:
        return max(lo, min(hi, int(os.environ.get(name, default))))
    except ValueError:
        return default


def train_workers() -> int:
    """Size of the training pool (``TOYFLOW_TRAIN_WORKERS``, default 2)."""
    return _env_int("TOYFLOW_TRAIN_WORKERS", 2)


def _train_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _TRAIN_POOL
    with _POOL_LOCK:
        if _TRAIN_POOL is None:
            _TRAIN_POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=train_workers(), thread_name_prefix="toyflow-train"
            )
        return _TRAIN_POOL


def _compute_pool() -> concurrent.futures.ThreadPoolExecutor:
    global _COMPUTE_POOL
    with _POOL_LOCK:
        if _COMPUTE_POOL is None:
            _COMPUTE_POOL = concurrent.futures.ThreadPoolExecutor(
                max_workers=_env_int("TOYFLOW_COMPUTE_WORKERS", 4),
                thread_name_prefix="toyflow-view",
            )
        return _COMPUTE_POOL


def cache_dir() -> str:
    """The on-disk cache folder: ``$TOYFLOW_CACHE`` or ``~/.cache/toyflow``."""
    return os.environ.get("TOYFLOW_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "toyflow"
    )


def enable_compilation_cache() -> None:
    """Keep JAX's compiled programs on disk (``$TOYFLOW_JAX_CACHE``, default the cache folder's
    ``jax/``), so a restarted server skips most compile time. Only sets configuration: it does
    not start a JAX backend. The served app calls it; importing toyflow does not."""
    try:
        import jax

        folder = os.environ.get("TOYFLOW_JAX_CACHE") or os.path.join(cache_dir(), "jax")
        os.makedirs(folder, exist_ok=True)
        if not jax.config.jax_compilation_cache_dir:
            jax.config.update("jax_compilation_cache_dir", folder)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except Exception as exc:  # a read-only home folder must not break the app
        log.warning("JAX compilation cache disabled: %s", exc)


_WARMED = False


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

    return _train_pool().submit(run)


# --- training configurations, jobs and the result cache ----------------------------------------


def _fingerprint(*arrays) -> str:
    h = hashlib.sha256()
    for a in arrays:
        if a is None:
            h.update(b"none")
        else:
            arr = np.ascontiguousarray(a)
            h.update(str(arr.dtype).encode() + str(arr.shape).encode())
            h.update(arr.tobytes())
    return h.hexdigest()


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Plain values that fix a trained model (the cache key). ``data`` is a SHA-256 of the
    training points and labels; the other fields are the data's description and the optimiser's
    settings."""

    data: str
    dataset: str
    n_train: int
    seed: int
    granularity: str
    k: int | None
    num_classes: int | None
    width: int
    depth: int
    steps: int
    batch_size: int
    learning_rate: float
    schedule: str
    n_snapshots: int = N_SNAPSHOTS
    steps_per_call: int = STEPS_PER_CALL

    def key(self) -> str:
        text = json.dumps({"format": _CACHE_FORMAT, **dataclasses.asdict(self)}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def path(self) -> str:
        """The on-disk cache file (a hash: no user text reaches the file system)."""
        return os.path.join(cache_dir(), "explorer", self.key() + ".msgpack")

    def train_kwargs(self) -> dict[str, Any]:
        return dict(
            width=self.width,
            depth=self.depth,
            steps=self.steps,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            seed=self.seed,
            schedule=self.schedule,
            n_snapshots=self.n_snapshots,
            steps_per_call=self.steps_per_call,
        )


def cached_result(config: TrainConfig, *, disk: bool = True):
    """A finished :class:`toyflow.TrainResult` for ``config`` from this process or the disk cache."""
    key = config.key()
    with _POOL_LOCK:
        if key in _RESULTS:
            _RESULTS.move_to_end(key)
            return _RESULTS[key]
    if not disk:
        return None
    path = config.path()
    if not os.path.exists(path):
        return None
    try:
        from toyflow.training import load_result

        result = load_result(path)
    except Exception as exc:  # a damaged file is ignored (and retrained)
        log.warning("ignoring cached model %s: %s", os.path.basename(path), exc)
        return None
    _remember(key, result)
    return result


def _remember(key: str, result) -> None:
    with _POOL_LOCK:
        _RESULTS[key] = result
        _RESULTS.move_to_end(key)
        while len(_RESULTS) > _RESULTS_MAX:
            _RESULTS.popitem(last=False)


def store_result(config: TrainConfig, result, *, disk: bool = True) -> None:
    """Put a finished result in the process cache and (best effort) on disk."""
    _remember(config.key(), result)
    if disk:
        try:
            result.save(config.path())
        except Exception as exc:
            log.warning("could not write the model cache: %s", exc)


def clear_memory_cache() -> None:
    """Forget the process-level results (tests, benchmarks)."""
    with _POOL_LOCK:
        _RESULTS.clear()


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
        self.result = None
        self.error = ""
        self.elapsed = 0.0
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._listeners: list[Callable[[TrainingJob, str], None]] = []
        self._future: concurrent.futures.Future | None = None
        self._lock = threading.Lock()
        self.token = _new_token()

    # -- control ---------------------------------------------------------------------------
    def subscribe(self, fn: Callable[[TrainingJob, str], None]) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def submit(self) -> TrainingJob:
        with _POOL_LOCK:
            _QUEUE.append(self)
        self._future = _train_pool().submit(self._run)
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


# --- what the views draw -----------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class DataView:
    """The current data: points, labels (``None`` without labels) and a description."""

    dataset: Any  # toyflow.Dataset
    train_labels: np.ndarray | None
    val_labels: np.ndarray | None
    key: tuple

    @property
    def num_classes(self) -> int | None:
        return None if self.train_labels is None else int(self.train_labels.max()) + 1


@dataclasses.dataclass(frozen=True)
class TrajectoryView:
    """Sampling trajectories ``(T+1, n, 2)`` over ``sigmas (T+1,)`` (last σ = 0), the samples and
    their memorized flags."""

    trajectory: np.ndarray
    sigmas: np.ndarray
    samples: np.ndarray
    labels: np.ndarray | None
    memorized: np.ndarray | None = None


def _sigma_grid(
    schedule: str, steps: int, sigma_min: float, sigma_max: float, rho: float
) -> np.ndarray:
    """The σ values the sampler visits (``steps + 1``, the last 0), as :func:`toyflow.sample`
    returns them."""
    from toyflow.schedules import sampling_sigmas

    return sampling_sigmas(schedule, steps, sigma_min, sigma_max, rho)


class _LRU:
    """A small thread-safe LRU cache."""

    def __init__(self, size: int):
        self.size = size
        self.data: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key in self.data:
                self.data.move_to_end(key)
                return self.data[key]
            return None

    def put(self, key, value):
        with self._lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)
        return value

    def __contains__(self, key):
        with self._lock:
            return key in self.data

    def clear(self):
        with self._lock:
            self.data.clear()


# Results of deterministic computations, shared by the sessions of a process. Keys hold only
# plain values (names, numbers, hashes) and, for learned models, a token unique to one
# trained result, so two sessions looking at the same configuration compute it once.
_DATA_CACHE = _LRU(64)
_FIELD_CACHE = _LRU(1024)
_TRAJ_CACHE = _LRU(48)
_CURVE_CACHE = _LRU(48)
_TOKENS = iter(range(1, 1 << 62))
_TOKEN_LOCK = threading.Lock()


def _new_token() -> int:
    with _TOKEN_LOCK:
        return next(_TOKENS)


def clear_view_caches() -> None:
    """Forget shared computed views (tests, benchmarks)."""
    for c in (_DATA_CACHE, _FIELD_CACHE, _TRAJ_CACHE, _CURVE_CACHE):
        c.clear()


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


class ExplorerState(param.Parameterized):
    """The explorer's store: inputs are parameters, outputs are computed by toyflow.

    Set inputs (``state.kind = "error-prone"``); each change refreshes the outputs — at once, or
    with ``background=True`` (the web app) as one coalesced refresh on a shared thread pool.
    Read the published ``*_view`` parameters, or call :meth:`field`, :meth:`trajectories`,
    :meth:`positions_at_sigma`, :meth:`curves`, :meth:`headline`. :meth:`train` starts a
    :class:`TrainingJob` for a learned model.

    >>> state = ExplorerState(kind="error-prone", delta=1.2)
    >>> state.sigma_index = 20                     # σ ≈ 0.9 of the 40-step EDM grid
    >>> comparison = state.field()                 # D(x; σ) − x, model vs optimal
    >>> state.headline()["memorized_fraction"]     # doctest: +SKIP
    """

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

    # -- outputs (set by refresh and by training; not inputs) --------------------------------
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

    def __init__(
        self, *, background: bool = False, auto: bool = True, disk_cache: bool = True, **params
    ):
        super().__init__(**params)
        self._background = background
        self._auto = auto
        self._disk_cache = disk_cache
        self._lock = threading.RLock()
        self._req_lock = threading.Lock()
        self._dirty = False
        self._running = False
        self._closed = False
        self._idle = threading.Event()
        self._idle.set()
        self._job: TrainingJob | None = None
        self._result = None  # a finished TrainResult for the current training config
        self._result_config: TrainConfig | None = None
        self._result_token = 0
        self._model_serial = 0
        self.compute_counts: collections.Counter = collections.Counter()
        self.timings: dict[str, float] = {}
        self.param.watch(self._on_input, list(INPUT_PARAMS))
        if self.kind == "learned":
            self._sync_training()

    # ------------------------------------------------------------------------------------------
    # refresh scheduling

    def _on_input(self, *events) -> None:
        if self._closed:
            return
        names = {e.name for e in events}
        if names & set(TRAINING_PARAMS) and self.kind == "learned":
            self._sync_training()
        if self._auto:
            self.request_refresh()

    @property
    def auto(self) -> bool:
        """Whether input changes refresh the outputs by themselves."""
        return self._auto

    @auto.setter
    def auto(self, value: bool) -> None:
        self._auto = bool(value)

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
        _compute_pool().submit(self._refresh_loop)

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
            _, model_key = self._model()
        except (NotReady, ValueError):
            return False
        key = self._traj_key(model_key)
        if _TRAJ_CACHE.get(key) is None:
            return False
        if self.show_curves and _CURVE_CACHE.get(("curves", key)) is None:
            return False
        self.refresh()
        return not self.error

    def wait_idle(self, timeout: float = 120.0) -> bool:
        """Block until background refreshes are done (tests, benchmarks, notebooks)."""
        return self._idle.wait(timeout)

    def _pending(self) -> bool:
        return self._background and self._dirty

    # ------------------------------------------------------------------------------------------
    # the pipeline

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
        t0 = time.perf_counter()
        data = self.data()
        sigmas = self.sigma_grid()
        idx = self.clamped_sigma_index()
        sigma = float(sigmas[idx])
        optimal_field = self._compute_field(self.optimal(), ("optimal",), sigma)
        try:
            denoiser, model_key = self._model()
        except NotReady:
            self._publish_data(data, sigmas)
            self.param.update(
                optimal_field_view=optimal_field,
                field_view=None,
                positions_view=None,
                trajectory_view=None,
                headline_view=self._empty_headline(),
            )
            self.field_serial += 1
            self.trajectory_serial += 1
            self.curves_view = self._curves(None, None) if self.show_curves else None
            self.curves_serial += 1
            raise
        field = self._compute_field(denoiser, model_key, sigma)
        traj = _TRAJ_CACHE.get(self._traj_key(model_key))
        self._publish_data(data, sigmas)
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
            traj = self.trajectories()
            self.positions_view = traj.trajectory[idx]
            self.field_serial += 1
        if self.trajectory_view is not traj:
            self.trajectory_view = traj
            self.trajectory_serial += 1
        self.timings["trajectories"] = time.perf_counter() - t0
        self.headline_view = self.headline()
        if self._pending():
            return
        if (
            self._job is not None
            and self._job.status in ("queued", "running")
            and self.kind == "learned"
        ):
            return  # curves are the slowest part: while snapshots stream, draw them at the end
        if not self.show_curves:
            if self.curves_view is not None:
                self.curves_view = None
                self.curves_serial += 1
            return
        if _CURVE_CACHE.get(("curves", self._traj_key(model_key))) is None:
            self.busy = True
        curves = self.curves()
        if self.curves_view is not curves:
            self.curves_view = curves
            self.curves_serial += 1
        self.timings["total"] = time.perf_counter() - t0
        if self._background:
            warm_up_training()  # once per process, after the first page is complete

    def _publish_data(self, data, sigmas) -> None:
        if self.data_view is not data:
            self.data_view = data
            self.data_serial += 1
        if self.sigmas is None or not np.array_equal(self.sigmas, sigmas):
            self.sigmas = sigmas

    # ------------------------------------------------------------------------------------------
    # data

    def _data_key(self) -> tuple:
        k = self.k if self.granularity == "kmeans" else None
        if self.dataset == CUSTOM:
            return (
                CUSTOM,
                _fingerprint(self.custom_points, self.custom_labels),
                float(self.holdout),
                self.seed,
                self.granularity,
                k,
            )
        return (self.dataset, self.n_train, self.n_val, self.seed, self.granularity, k)

    def data(self) -> DataView:
        """The data set and its labels at the chosen granularity (``ValueError`` for a
        combination that makes no sense, such as K larger than the number of points)."""
        key = self._data_key()
        hit = _DATA_CACHE.get(("data", key))
        if hit is not None:
            return hit
        from toyflow.datasets import from_points, make_dataset
        from toyflow.labels import make_labels

        self.compute_counts["data"] += 1
        if self.dataset == CUSTOM:
            if self.custom_points is None or len(self.custom_points) < 2:
                raise ValueError(
                    "Custom data needs at least 2 points: draw them on the canvas and "
                    "press 'Use drawn points', or upload a CSV of x,y rows."
                )
            if len(self.custom_points) > MAX_POINTS:
                raise ValueError(
                    f"Custom data has {len(self.custom_points)} points; the explorer "
                    f"takes at most {MAX_POINTS}."
                )
            ds = from_points(
                self.custom_points,
                None,
                self.custom_labels,
                name=CUSTOM,
                val_fraction=self.holdout,
                seed=self.seed,
            )
            if ds.n_train < 2:
                raise ValueError("Keep at least 2 training points: lower the held-out share.")
        else:
            ds = make_dataset(self.dataset, self.n_train, self.n_val, seed=self.seed)
        if self.granularity == "kmeans" and self.k > ds.n_train:
            raise ValueError(
                f"K = {self.k} is larger than the number of training points "
                f"({ds.n_train}); choose K between 1 and {ds.n_train}."
            )
        tl, vl = make_labels(
            ds, self.granularity, k=self.k if self.granularity == "kmeans" else None, seed=self.seed
        )
        if tl is not None and vl is None:
            vl = np.zeros(0, np.int32)
        return _DATA_CACHE.put(("data", key), DataView(ds, tl, vl, key))

    def optimal(self):
        """The optimal (empirical) denoiser of the training set, class-conditional with labels."""
        data = self.data()
        key = ("optimal", data.key)
        hit = _DATA_CACHE.get(key)
        if hit is None:
            from toyflow.denoisers import OptimalDenoiser

            hit = _DATA_CACHE.put(key, OptimalDenoiser(data.dataset.train_x, data.train_labels))
        return hit

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

    def sample_labels(self) -> np.ndarray | None:
        """Labels of the samples: ``None`` without labels; one class (``condition``), or each
        sample a training label drawn with the seed (``condition = -1``)."""
        data = self.data()
        if data.train_labels is None:
            return None
        self._check_condition(data)
        if self.condition >= 0:
            return np.full(self.n_samples, self.condition, np.int32)
        return (
            np.random.default_rng(self.seed)
            .choice(data.train_labels, self.n_samples)
            .astype(np.int32)
        )

    def field_label(self) -> int | None:
        """The label the flow field is drawn for (``None``: unconditional)."""
        data = self.data()
        if data.train_labels is None or self.condition < 0:
            return None
        self._check_condition(data)
        return int(self.condition)

    def _check_condition(self, data: DataView) -> None:
        if self.condition >= 0 and self.condition not in set(np.unique(data.train_labels).tolist()):
            raise ValueError(
                f"Condition label {self.condition} has no training points; choose -1 "
                f"(all labels) or a label between 0 and {data.num_classes - 1}."
            )

    # ------------------------------------------------------------------------------------------
    # models

    def training_config(self) -> TrainConfig:
        """The plain values that identify the learned model for the current inputs."""
        data = self.data()
        ds = data.dataset
        return TrainConfig(
            data=_fingerprint(ds.train_x, data.train_labels),
            dataset=ds.name,
            n_train=ds.n_train,
            seed=self.seed,
            granularity=self.granularity,
            k=self.k if self.granularity == "kmeans" else None,
            num_classes=data.num_classes,
            width=self.width,
            depth=self.depth,
            steps=self.train_steps,
            batch_size=self.batch_size,
            learning_rate=float(self.learning_rate),
            schedule=self.schedule,
        )

    def _learned_snapshots(self) -> tuple[list, list[int], Any, int]:
        """``(snapshots, steps, owner, token)`` for the current config: from the finished result,
        or from this session's job while it runs (or after it was cancelled)."""
        try:
            cfg = self.training_config()
        except ValueError:
            return [], [], None, 0
        if self._result is not None and self._result_config == cfg:
            return (
                list(self._result.snapshots),
                list(self._result.snapshot_steps),
                self._result,
                self._result_token,
            )
        job = self._job
        if job is not None and job.config == cfg and job.snapshots:
            return list(job.snapshots), list(job.snapshot_steps), job, job.token
        return [], [], None, 0

    def _snapshot_position(self, n: int) -> int:
        return n - 1 if self.snapshot_index < 0 else min(self.snapshot_index, n - 1)

    def _base_model(self):
        """``(denoiser, key)`` of the chosen model before guidance."""
        if self.kind == "optimal":
            return self.optimal(), ("optimal",)
        if self.kind == "error-prone":
            from toyflow.denoisers import ErrorProneDenoiser

            return ErrorProneDenoiser(self.optimal(), self.delta), (
                "error-prone",
                float(self.delta),
            )
        snaps, steps, owner, token = self._learned_snapshots()
        if not snaps:
            job = self._job
            if job is not None and job.status in ("queued", "running"):
                raise NotReady("Training… the first snapshot appears in a moment.")
            raise NotReady(
                "Press Train to train this model (a configuration trained before "
                "comes back at once)."
            )
        i = self._snapshot_position(len(snaps))
        return snaps[i], ("learned", token, steps[i], len(snaps))

    def _model(self):
        """``(denoiser, key)`` of the chosen model with guidance; the key fixes every cache."""
        base, key = self._base_model()
        data_key = self.data().key
        if self.guidance == "none":
            return base, (data_key, key)
        from toyflow._denoiser import Unconditional
        from toyflow.denoisers import ErrorProneDenoiser, GuidedDenoiser, autoguidance

        if self.guidance == "classifier-free":
            if self.data().train_labels is None:
                raise ValueError(
                    "Classifier-free guidance needs labels: choose a label granularity "
                    "other than 'none'."
                )
            # The conditional model against itself with labels dropped (Unconditional accepts
            # the samples' labels and ignores them).
            guided = GuidedDenoiser(base, Unconditional(base), self.w)
            return guided, (data_key, key, "cfg", float(self.w))
        # Autoguidance: guide with a worse version of the same model.
        if self.kind == "learned":
            snaps, _, _, _ = self._learned_snapshots()
            j = max(0, self._snapshot_position(len(snaps)) - 2)  # a snapshot ~4× fewer steps back
            return autoguidance(base, snaps[j], self.w), (data_key, key, "auto", float(self.w), j)
        delta = (self.delta if self.kind == "error-prone" else 0.0) + AUTOGUIDANCE_DELTA_STEP
        worse = ErrorProneDenoiser(self.optimal(), delta)
        return autoguidance(base, worse, self.w), (data_key, key, "auto", float(self.w))

    def current_denoiser(self):
        """The denoiser the views show (guidance included); raises :class:`NotReady` for a
        learned model without a snapshot yet."""
        return self._model()[0]

    # ------------------------------------------------------------------------------------------
    # sampling grid, field, trajectories

    def sigma_grid(self) -> np.ndarray:
        """The sampler's σ values (``sample_steps + 1``, the last 0)."""
        if self.sigma_min >= self.sigma_max:
            raise ValueError(
                f"σ_min ({self.sigma_min:g}) must be smaller than σ_max ({self.sigma_max:g})."
            )
        key = (
            "grid",
            self.schedule,
            self.sample_steps,
            float(self.sigma_min),
            float(self.sigma_max),
            float(self.rho),
        )
        hit = _DATA_CACHE.get(key)
        if hit is None:
            hit = _DATA_CACHE.put(
                key,
                _sigma_grid(
                    self.schedule, self.sample_steps, self.sigma_min, self.sigma_max, self.rho
                ),
            )
        return hit

    def clamped_sigma_index(self) -> int:
        return int(min(max(self.sigma_index, 0), self.sample_steps - 1))

    def current_sigma(self) -> float:
        return float(self.sigma_grid()[self.clamped_sigma_index()])

    def _compute_field(self, denoiser, model_key, sigma: float):
        label = self.field_label()
        key = (model_key, self.data().key, sigma, self.resolution, float(self.extent), label)
        hit = _FIELD_CACHE.get(key)
        if hit is not None:
            return hit
        from toyflow.fields import flow_field, make_grid

        self.compute_counts["field"] += 1
        gkey = ("grid2d", self.resolution, float(self.extent))
        grid = _DATA_CACHE.get(gkey) or _DATA_CACHE.put(
            gkey, make_grid(self.extent, self.resolution)
        )
        return _FIELD_CACHE.put(key, flow_field(denoiser, sigma, grid=grid, labels=label))

    def field(self):
        """:class:`toyflow.fields.FieldComparison` of the model and the optimal denoiser at σ."""
        from toyflow.fields import FieldComparison

        sigma = self.current_sigma()
        denoiser, key = self._model()
        return FieldComparison(
            self._compute_field(denoiser, key, sigma),
            self._compute_field(self.optimal(), ("optimal",), sigma),
        )

    def _traj_key(self, model_key) -> tuple:
        return (
            model_key,
            self.schedule,
            self.solver,
            self.sample_steps,
            float(self.sigma_min),
            float(self.sigma_max),
            float(self.rho),
            self.n_samples,
            self.seed,
            self.condition,
        )

    def trajectories(self) -> TrajectoryView:
        """Sampling trajectories of the current model (cached per model and sampler settings),
        with the samples' memorized flags."""
        denoiser, model_key = self._model()
        key = self._traj_key(model_key)
        hit = _TRAJ_CACHE.get(key)
        if hit is not None:
            return hit
        from toyflow.metrics import memorized_mask
        from toyflow.sampling import sample

        self.compute_counts["trajectories"] += 1
        labels = self.sample_labels()
        samples, traj, sigmas = sample(
            denoiser,
            self.n_samples,
            sigma_min=self.sigma_min,
            sigma_max=self.sigma_max,
            rho=self.rho,
            steps=self.sample_steps,
            solver=self.solver,
            schedule=self.schedule,
            labels=labels,
            seed=self.seed,
            return_trajectory=True,
        )
        samples, traj = np.asarray(samples), np.asarray(traj)
        if not np.all(np.isfinite(traj)):
            raise FloatingPointError(
                "The sampler produced NaN or infinite states; try more steps, "
                "a smaller guidance weight or a smaller learning rate."
            )
        mem = memorized_mask(samples, self.data().dataset.train_x)
        return _TRAJ_CACHE.put(key, TrajectoryView(traj, np.asarray(sigmas), samples, labels, mem))

    def positions_at_sigma(self) -> np.ndarray:
        """Where the sampling trajectories are at the current σ: ``(n_samples, 2)``."""
        return self.trajectories().trajectory[self.clamped_sigma_index()]

    # ------------------------------------------------------------------------------------------
    # curves and headline numbers

    def _curve_points(self):
        """Training and validation points for the curves (at most CURVE_POINTS each, seeded)."""
        data = self.data()
        ds = data.dataset
        rng = np.random.default_rng(self.seed)

        def pick(x, lab):
            if x.shape[0] <= CURVE_POINTS:
                return x, lab
            idx = np.sort(rng.choice(x.shape[0], CURVE_POINTS, replace=False))
            return x[idx], None if lab is None else lab[idx]

        tx, tl = pick(ds.train_x, data.train_labels)
        vx, vl = pick(ds.val_x, data.val_labels)
        return tx, tl, vx, vl

    def _gap(self, denoiser, sigmas):
        from toyflow.metrics import gap_curve

        tx, tl, vx, vl = self._curve_points()
        if vx.shape[0] == 0:
            return None
        n_noise = 50 if tx.shape[0] <= 40 else 16  # few values: each one compiles once
        return gap_curve(
            denoiser,
            tx,
            vx,
            sigmas,
            n_noise=n_noise,
            seed=self.seed,
            train_labels=tl,
            val_labels=vl,
        )

    def _curves(self, denoiser, traj: TrajectoryView | None) -> dict:
        """Gap curves (model and optimal), model-vs-optimal errors and the overlap over σ."""
        sig = self.sigma_grid()[:-1]
        okey = ("optimal-gap", self.data().key, sig.tobytes())
        opt = _CURVE_CACHE.get(okey)
        if opt is None:
            self.compute_counts["optimal_curves"] += 1
            opt = _CURVE_CACHE.put(okey, {"gap": self._gap(self.optimal(), sig)})
        out = {"sigmas": sig, "optimal_gap": opt["gap"], "model_gap": None, "overlap": None}
        if denoiser is None:
            return out
        from toyflow.metrics import trajectory_overlap

        self.compute_counts["curves"] += 1
        same = self.kind == "optimal" and self.guidance == "none"
        out["model_gap"] = opt["gap"] if same else self._gap(denoiser, sig)
        tx, tl, vx, vl = self._curve_points()
        has_val = vx.shape[0] > 0
        cond = traj.labels is not None
        out["overlap"] = trajectory_overlap(
            denoiser,
            traj.trajectory,
            traj.sigmas,
            tx,
            val_x=vx if has_val else None,
            optimal=self.optimal(),
            labels=traj.labels,
            train_labels=tl if cond else None,
            val_labels=vl if cond and has_val else None,
            seed=self.seed,
        )
        return out

    def curves(self) -> dict:
        """Curves over the grid σ (cached per model and sampler settings): ``sigmas``,
        ``model_gap`` / ``optimal_gap`` (:class:`toyflow.metrics.GapCurve`, ``None`` without
        validation points) and ``overlap`` (:class:`toyflow.metrics.TrajectoryOverlap`)."""
        denoiser, model_key = self._model()
        key = ("curves", self._traj_key(model_key))
        hit = _CURVE_CACHE.get(key)
        if hit is None:
            hit = _CURVE_CACHE.put(key, self._curves(denoiser, self.trajectories()))
        return hit

    def _training_loss(self) -> float | None:
        if self.kind != "learned":
            return None
        _, steps, owner, _ = self._learned_snapshots()
        if owner is None:
            return None
        losses = np.asarray(owner.losses, np.float64).reshape(-1)
        upto = min(
            steps[self._snapshot_position(len(steps))] if steps else losses.size, losses.size
        )
        tail = losses[max(0, upto - max(1, upto // 10)) : upto]
        return float(np.mean(tail)) if tail.size else None

    def _empty_headline(self) -> dict:
        return {
            "memorized_fraction": None,
            "relative_overfit": None,
            "fd_train": None,
            "fd_val": None,
            "training_loss": None,
            "sigma": self.current_sigma(),
        }

    def headline(self) -> dict:
        """Memorized fraction of the samples (1/3 rule), Fréchet distances of the samples to the
        training and validation sets and the relative overfit, the training loss (learned)."""
        from toyflow.metrics import sample_overfit

        traj = self.trajectories()
        ds = self.data().dataset
        out = self._empty_headline()
        out["memorized_fraction"] = float(np.mean(traj.memorized))
        if ds.n_val >= 2 and ds.n_train >= 2:
            out.update(sample_overfit(traj.samples, ds.train_x, ds.val_x))
        out["training_loss"] = self._training_loss()
        return out

    # ------------------------------------------------------------------------------------------
    # training

    def _sync_training(self) -> None:
        """After a change that names another learned model: show its finished result when this
        process or the disk cache has one (a configuration trained before comes back at once)."""
        try:
            cfg = self.training_config()
        except ValueError:
            return
        if self._result_config == cfg:
            return
        job = self._job
        if job is not None and job.config == cfg and job.status == "done":
            self._adopt(cfg, job.result, "done")
            return
        hit = cached_result(cfg, disk=self._disk_cache)
        if hit is not None:
            self._adopt(cfg, hit, "cached")
            return
        self._result, self._result_config = None, None
        if job is not None and job.config == cfg:
            return  # the running (or cancelled) job's state stays on show
        self._publish_training(
            status="idle",
            progress=0.0,
            losses=None,
            steps=[],
            message="Not trained yet: press Train.",
        )

    def _adopt(self, cfg: TrainConfig, result, status: str) -> None:
        self._result, self._result_config = result, cfg
        self._result_token = _new_token()
        msg = (
            "Trained before: loaded at once."
            if status == "cached"
            else f"Trained {result.steps_done} steps in {result.wall_time:.1f} s."
        )
        self._publish_training(
            status=status,
            progress=1.0,
            losses=np.asarray(result.losses),
            steps=list(result.snapshot_steps),
            message=msg,
        )

    def _publish_training(self, *, status, progress, losses, steps, message) -> None:
        self.param.update(
            train_status=status,
            train_progress=float(min(max(progress, 0.0), 1.0)),
            loss_history=losses,
            snapshot_steps=list(steps),
            train_message=message,
        )
        self.train_serial += 1

    def train(self) -> TrainingJob | None:
        """Train the learned model for the current inputs on the shared pool (or load it from
        the caches at once). Returns the job, or ``None`` when a cached result was used.
        A session trains one model at a time: a running job of this session is cancelled."""
        try:
            cfg = self.training_config()
        except ValueError as exc:
            self.error = str(exc)
            return None
        self.cancel()
        hit = cached_result(cfg, disk=self._disk_cache)
        if hit is not None:
            self._adopt(cfg, hit, "cached")
            if self.kind != "learned":
                self.kind = "learned"
            else:
                self.request_refresh()
            return None
        data = self.data()
        job = TrainingJob(cfg, data.dataset.train_x, data.train_labels, disk_cache=self._disk_cache)
        job.subscribe(self._on_job)
        self._job = job
        self._result, self._result_config = None, None
        self._publish_training(
            status="queued",
            progress=0.0,
            losses=None,
            steps=[],
            message="Waiting for a training worker…",
        )
        with param.parameterized.discard_events(self):
            self.snapshot_index = -1
        job.submit()
        if job.status == "queued":
            pos = job.queue_position
            if pos:
                self.train_message = self._queued_message(pos)
        if self.kind != "learned":
            self.kind = "learned"
        else:
            self.request_refresh()
        return job

    @staticmethod
    def _queued_message(pos: int) -> str:
        return (
            f"Queued: number {pos} in line for a training worker "
            f"({train_workers()} models train at a time on this server)."
        )

    def cancel(self) -> None:
        """Cancel this session's training job, if one is queued or running."""
        job = self._job
        if job is not None and not job.finished:
            job.cancel()

    def _on_job(self, job: TrainingJob, event: str) -> None:
        """Updates from a training job (called on the training worker thread)."""
        if job is not self._job or self._closed:
            return
        losses = np.asarray(job.losses, np.float64) if job.losses else None
        if event == "status" and job.finished:
            if job.status == "done":
                self._adopt(job.config, job.result, "done")
            elif job.status == "failed":
                self._publish_training(
                    status="failed",
                    progress=job.progress,
                    losses=losses,
                    steps=list(job.snapshot_steps),
                    message=f"Training failed: {job.error} The session is still "
                    f"usable: change the settings and press Train again.",
                )
            else:  # cancelled: what was trained so far stays viewable (but is not cached)
                self._publish_training(
                    status="cancelled",
                    progress=job.progress,
                    losses=losses,
                    steps=list(job.snapshot_steps),
                    message=f"Cancelled at step {job.step}.",
                )
            self.request_refresh()
            return
        if job.status == "running":
            msg = f"Training: step {job.step} of {job.config.steps} ({job.elapsed:.1f} s)."
        else:
            msg = self._queued_message(max(job.queue_position, 1))
        self._publish_training(
            status=job.status,
            progress=job.progress,
            losses=losses,
            steps=list(job.snapshot_steps),
            message=msg,
        )
        if event == "snapshot" and self.kind == "learned":
            self.request_refresh()

    def load_result(self, result) -> None:
        """Show a :class:`toyflow.TrainResult` trained elsewhere (a script, a notebook).

        Width, depth, steps, batch size, learning rate and schedule are read from the result; set
        the data parameters it was trained on first (``explore(result=..., n_train=...)`` does).
        """
        settings = dict(getattr(result, "settings", {}) or {})
        arch = settings.get("architecture", {}) or {}
        updates = {"kind": "learned"}
        for src, dst in (("width", "width"), ("depth", "depth")):
            if src in arch:
                updates[dst] = int(arch[src])
        for src, dst in (
            ("steps", "train_steps"),
            ("batch_size", "batch_size"),
            ("learning_rate", "learning_rate"),
            ("schedule", "schedule"),
        ):
            if settings.get(src) is not None:
                updates[dst] = settings[src]
        n = settings.get("n_train")
        if n is not None and self.dataset != CUSTOM and int(n) != self.n_train:
            raise ValueError(
                f"The result was trained on {n} points but n_train is {self.n_train}; "
                f"pass the data parameters the script used."
            )
        with param.parameterized.discard_events(self):
            self.param.update(**updates)
        cfg = self.training_config()
        _remember(cfg.key(), result)
        self._adopt(cfg, result, "cached")
        self.train_message = "Loaded from a script run."
        self.request_refresh()

    def close(self) -> None:
        """End of a session: cancel its training and stop refreshing."""
        self._closed = True
        job = self._job
        if job is not None:
            job.unsubscribe(self._on_job)
            if not job.finished:
                job.cancel()

    @property
    def job(self) -> TrainingJob | None:
        return self._job

    # ------------------------------------------------------------------------------------------
    # take-away: JSON, Python, command line

    def config_dict(self) -> dict[str, Any]:
        """The plain inputs as JSON values (custom points are in :meth:`to_json` under "data")."""
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
                problems.append(f"unknown setting {name!r}")
                continue
            p = self.param[name]
            try:
                if isinstance(p, param.Integer):
                    value = int(text)
                elif isinstance(p, param.Number):
                    value = float(text)
                else:
                    value = str(text)
                p._validate(value)
            except Exception as exc:
                problems.append(f"{name}={text!r}: {exc}")
                continue
            updates[name] = value
        if updates:
            self.param.update(**updates)
        return problems

    def to_json(self, *, indent: int | None = 2) -> str:
        """Configuration, headline metrics and curves as JSON (custom points under "data")."""

        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return None
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, np.ndarray):
                return clean(v.tolist())
            if isinstance(v, np.generic):
                return clean(v.item())
            return v

        from toyflow import __version__

        doc: dict[str, Any] = {
            "format": "toyflow-explorer-run-v1",
            "toyflow": __version__,
            "config": self.config_dict(),
        }
        try:
            doc["sigma"] = self.current_sigma()
            doc["metrics"] = self.headline()
            curves = self.curves()
            doc["curves"] = {"sigmas": curves["sigmas"]}
            for name in ("model_gap", "optimal_gap"):
                if curves[name] is not None:
                    doc["curves"][name] = curves[name].to_dict()
            if curves["overlap"] is not None:
                doc["curves"]["trajectory_overlap"] = curves["overlap"].to_dict()
        except NotReady as exc:
            doc["metrics"] = None
            doc["note"] = str(exc)
        except (ValueError, FloatingPointError) as exc:
            doc["error"] = str(exc)
        if self.kind == "learned":
            try:
                doc["training"] = {
                    **dataclasses.asdict(self.training_config()),
                    "status": self.train_status,
                    "snapshot_steps": list(self.snapshot_steps),
                }
            except ValueError as exc:  # settings the page already flags: say so in the file too
                doc["training_error"] = str(exc)
        if self.dataset == CUSTOM:
            try:
                doc["data"] = self.data().dataset.to_dict()
            except ValueError as exc:
                doc["data_error"] = str(exc)
        doc["python"] = self.python_snippet()
        doc["command"] = self.cli_command()
        doc["toyflow_command"] = self.toyflow_command()
        return json.dumps(clean(doc), indent=indent)

    def python_snippet(self) -> str:
        """A Python script that reproduces the current run with the toyflow API."""
        lines = ["import numpy as np", "import toyflow", ""]
        if self.dataset == CUSTOM:
            lines += [
                "import json",
                '# Your points are in the explorer\'s JSON download, under "data".',
                'with open("toyflow-run.json") as f:',
                '    data = toyflow.Dataset.from_dict(json.load(f)["data"])',
            ]
        else:
            lines.append(
                f"data = toyflow.make_dataset({self.dataset!r}, n_train={self.n_train}, "
                f"n_val={self.n_val}, seed={self.seed})"
            )
        k = f", k={self.k}" if self.granularity == "kmeans" else ""
        lines.append(
            f"train_labels, val_labels = toyflow.make_labels(data, {self.granularity!r}{k}, "
            f"seed={self.seed})"
        )
        lines.append("optimal = toyflow.OptimalDenoiser(data.train_x, train_labels)")
        if self.kind == "optimal":
            lines.append("model = optimal")
        elif self.kind == "error-prone":
            lines.append(f"model = toyflow.ErrorProneDenoiser(optimal, delta={self.delta!r})")
        else:
            snap = "-1" if self.snapshot_index < 0 else str(self.snapshot_index)
            lines += [
                f"result = toyflow.train(data.train_x, train_labels, width={self.width}, "
                f"depth={self.depth}, steps={self.train_steps}, batch_size={self.batch_size},",
                f"                       learning_rate={self.learning_rate!r}, seed={self.seed}, "
                f"schedule={self.schedule!r}, n_snapshots={N_SNAPSHOTS}, "
                f"steps_per_call={STEPS_PER_CALL})",
                f"i = {snap} % len(result.snapshots)  # the training-time slider",
                "model = result.snapshots[i]",
            ]
        if self.guidance == "classifier-free":
            lines.append(
                f"model = toyflow.GuidedDenoiser(model, toyflow.Unconditional(model), "
                f"w={self.w!r})  # classifier-free"
            )
        elif self.guidance == "autoguidance":
            if self.kind == "learned":
                lines.append(
                    f"model = toyflow.autoguidance(model, result.snapshots[max(0, i - 2)], "
                    f"w={self.w!r})"
                )
            else:
                d = (self.delta if self.kind == "error-prone" else 0.0) + AUTOGUIDANCE_DELTA_STEP
                lines.append(
                    f"model = toyflow.autoguidance(model, toyflow.ErrorProneDenoiser("
                    f"optimal, delta={d!r}), w={self.w!r})"
                )
        if self.granularity == "none":
            lines.append("labels = None")
        elif self.condition >= 0:
            lines.append(f"labels = np.full({self.n_samples}, {self.condition})")
        else:
            lines.append(
                f"labels = np.random.default_rng({self.seed}).choice(train_labels, "
                f"{self.n_samples})"
            )
        lines += [
            "samples, trajectory, sigmas = toyflow.sample(",
            f"    model, {self.n_samples}, sigma_min={self.sigma_min!r}, sigma_max={self.sigma_max!r}, "
            f"rho={self.rho!r}, steps={self.sample_steps},",
            f"    solver={self.solver!r}, schedule={self.schedule!r}, labels=labels, seed={self.seed}, "
            f"return_trajectory=True)",
            "memorized = toyflow.metrics.memorized_fraction(samples, data.train_x)",
            'print(f"memorized fraction: {memorized:.3f}")',
            "if len(data.val_x):",
            "    gap = toyflow.metrics.gap_curve(model, data.train_x, data.val_x, sigmas[:-1],",
            "                                    train_labels=train_labels, val_labels=val_labels)",
            '    print(f"largest relative gap {gap.peak_gap:.3f} at sigma {gap.peak_sigma:.3g}")',
            f"field = toyflow.compare_fields(model, optimal, sigmas[{self.clamped_sigma_index()}], "
            f"resolution={self.resolution}, extent={self.extent!r})",
        ]
        return "\n".join(lines) + "\n"

    def cli_command(self) -> str:
        """The command that serves the explorer opened on this configuration (the non-default
        plain inputs, as ``--args name=value``)."""
        args = [
            f"{name}={value}"
            for name, value in self.config_dict().items()
            if value != self.param[name].default
        ]
        if self.dataset == CUSTOM:
            args = [a for a in args if not a.startswith("dataset=")]
        tail = (" --args " + " ".join(args)) if args else ""
        return f"panel serve app/explorer.py --show{tail}"

    def toyflow_command(self) -> str | None:
        """The ``toyflow`` command-line run closest to this one: ``toyflow train`` for a learned
        model (the same data, labels and optimiser settings), ``toyflow sample`` for the analytic
        denoisers (the sampler's own default grid; no guidance). ``None`` for custom data."""
        if self.dataset == CUSTOM:
            return None
        data = (
            f"--data {self.dataset} --n-train {self.n_train} --n-val {self.n_val} "
            f"--data-seed {self.seed}"
        )
        if self.kind == "learned":
            k = f" --k {self.k}" if self.granularity == "kmeans" else ""
            return (
                f"toyflow train {data} --labels {self.granularity}{k} --width {self.width} "
                f"--depth {self.depth} --steps {self.train_steps} --batch-size {self.batch_size} "
                f"--lr {self.learning_rate:g} --schedule {self.schedule} --seed {self.seed} "
                f"--snapshots {N_SNAPSHOTS} --n-samples {self.n_samples} "
                f"--sample-steps {self.sample_steps}"
            )
        delta = f" --delta {self.delta:g}" if self.kind == "error-prone" else ""
        return (
            f"toyflow sample {data} --denoiser {self.kind}{delta} --n {self.n_samples} "
            f"--steps {self.sample_steps} --solver {self.solver} --schedule {self.schedule} "
            f"--seed {self.seed}"
        )


def explore(*, result=None, state: ExplorerState | None = None, **params):
    """The explorer for a notebook (displays inline in Jupyter) or for ``pn.serve``.

    ``params`` are :class:`ExplorerState` inputs (``kind="error-prone", delta=1.2``);
    ``result`` opens a :class:`toyflow.TrainResult` trained by a script (pass the data
    parameters it was trained on); ``state`` reuses an existing store. Needs Panel.

    >>> toyflow.explore(kind="error-prone", delta=1.2, n_train=40)   # doctest: +SKIP
    """
    module = load_app_module()
    return module.ExplorerApp.from_params(result=result, state=state, **params)


def load_app_module():
    """Import ``app/explorer.py`` (the Panel app) from the checkout next to the package, or
    from the working folder."""
    import importlib.util
    import sys

    name = "toyflow_explorer_app"
    if name in sys.modules:
        return sys.modules[name]
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for path in (
        os.path.join(here, "app", "explorer.py"),
        os.path.join(os.getcwd(), "app", "explorer.py"),
    ):
        if os.path.exists(path):
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
            return module
    raise ImportError(
        "the explorer app (app/explorer.py) was not found next to the toyflow package "
        "or in the working folder; run from a checkout of the toyflow repository"
    )
