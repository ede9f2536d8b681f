"""Caching for the explorer: trained models (memory and disk) and computed views (memory).

Trained models: finished :class:`toyflow.TrainResult` objects are kept per process (LRU) and on
disk under ``$TOYFLOW_CACHE`` (default ``~/.cache/toyflow``), in files named by a SHA-256 of the
plain configuration values (:class:`TrainConfig`), never by anything a user typed.

Views: deterministic results (data, fields, trajectories, curves) are shared by the sessions of a
process in small LRU caches. Their keys hold only plain values (names, numbers, hashes) and, for
learned models, a token unique to one trained result, so two sessions looking at the same
configuration compute it once.

Module level on purpose: shared by every session of a server process. Nothing here starts JAX.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import os
import threading
from typing import Any

import numpy as np

from toyflow.explorer.model import N_SNAPSHOTS, STEPS_PER_CALL

log = logging.getLogger("toyflow.explorer")

_CACHE_FORMAT = "toyflow-explorer-v1"
_RESULTS_MAX = 32


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
        if not jax.config.jax_compilation_cache_dir:  # type: ignore[attr-defined]
            jax.config.update("jax_compilation_cache_dir", folder)
            jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except Exception as exc:  # a read-only home folder must not break the app
        log.warning("JAX compilation cache disabled: %s", exc)


def fingerprint(*arrays) -> str:
    """SHA-256 of arrays (dtype, shape and bytes; ``None`` allowed)."""
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


class LRU:
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


# --- trained models ----------------------------------------------------------------------------
_RESULTS = LRU(_RESULTS_MAX)


def cached_result(config: TrainConfig, *, disk: bool = True):
    """A finished :class:`toyflow.TrainResult` for ``config`` from this process or the disk cache."""
    key = config.key()
    hit = _RESULTS.get(key)
    if hit is not None or not disk:
        return hit
    path = config.path()
    if not os.path.exists(path):
        return None
    try:
        from toyflow.training import load_result

        result = load_result(path)  # checks parameter names, shapes and finiteness
        check_cached(config, result)
    except Exception as exc:  # a damaged or foreign file counts as missing (and is retrained)
        log.warning(
            "ignoring cached model %s (%s); it will be trained again", os.path.basename(path), exc
        )
        try:
            os.unlink(path)  # a file named by the hash of a configuration it does not hold
        except OSError:
            pass
        return None
    return remember(config, result)


def check_cached(config: TrainConfig, result) -> None:
    """Raise ``ValueError`` unless ``result`` is a finished training of ``config``: a file that
    loads but was made by other settings (copied, hand-made, or written by an older version)
    must not be shown as this configuration's model."""
    arch = result.config
    want = {
        "architecture": "mlp",
        "width": config.width,
        "depth": config.depth,
        "num_classes": config.num_classes,
        "steps": config.steps,
    }
    got = {
        "architecture": getattr(arch, "kind", None),
        "width": getattr(arch, "width", None),
        "depth": getattr(arch, "depth", None),
        "num_classes": getattr(arch, "num_classes", None),
        "steps": result.steps_done,
    }
    settings = result.settings or {}
    for key, value in (("batch_size", config.batch_size), ("schedule", config.schedule)):
        want[key], got[key] = value, settings.get(key)
    wrong = [f"{k} {got[k]!r} (expected {want[k]!r})" for k in want if got[k] != want[k]]
    if result.cancelled:
        wrong.append("training was cancelled")
    if wrong:
        raise ValueError("made by other settings: " + ", ".join(wrong))


def remember(config: TrainConfig, result):
    """Keep a finished result in the process cache (not on disk)."""
    return _RESULTS.put(config.key(), result)


def store_result(config: TrainConfig, result, *, disk: bool = True) -> None:
    """Put a finished result in the process cache and (best effort) on disk."""
    remember(config, result)
    if disk:
        try:
            result.save(config.path())
        except Exception as exc:
            log.warning("could not write the model cache: %s", exc)


def clear_memory_cache() -> None:
    """Forget the process-level results (tests, benchmarks)."""
    _RESULTS.clear()


# --- computed views ----------------------------------------------------------------------------
DATA_CACHE = LRU(64)
FIELD_CACHE = LRU(1024)
TRAJ_CACHE = LRU(48)
CURVE_CACHE = LRU(48)
_TOKENS = iter(range(1, 1 << 62))
_TOKEN_LOCK = threading.Lock()


def new_token() -> int:
    """A number unique in this process: names one trained result in the view caches' keys."""
    with _TOKEN_LOCK:
        return next(_TOKENS)


def clear_view_caches() -> None:
    """Forget shared computed views (tests, benchmarks)."""
    for c in (DATA_CACHE, FIELD_CACHE, TRAJ_CACHE, CURVE_CACHE):
        c.clear()
