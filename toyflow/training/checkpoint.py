"""Checkpoints: a trained model, its snapshots, losses and settings in one msgpack file, written
atomically (a temporary file beside the target, fsynced, then renamed), so a crash never leaves
half a file."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import serialization

from toyflow._types import PyTree
from toyflow.nets import MLPConfig
from toyflow.training.loop import TrainResult
from toyflow.training.step import Architecture

FORMAT = "toyflow-model-v1"
#: Architecture kind → ``from_dict`` that rebuilds its config from :meth:`to_dict`'s values.
ARCHITECTURES: dict[str, Callable[[dict[str, Any]], Architecture]] = {
    "mlp": lambda d: MLPConfig(**d)
}


def register_architecture(kind: str, from_dict: Callable[[dict[str, Any]], Architecture]) -> None:
    """Let :func:`load_result` rebuild configs of another architecture (the U-Net registers)."""
    ARCHITECTURES[kind] = from_dict


def _to_numpy(tree: PyTree) -> PyTree:
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write to a temporary file beside ``path`` and rename, so a crash never leaves half a file."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_result(result: TrainResult, path: str | os.PathLike[str]) -> None:
    """Save a :class:`TrainResult` (final weights, snapshots, losses, settings) atomically."""
    cfg = result.denoiser.config
    payload = {
        "format": FORMAT,
        "kind": cfg.kind,
        "config": json.dumps(cfg.to_dict()),
        "settings": json.dumps(result.settings, default=str),
        "sigma_data": float(result.sigma_data),
        "steps_done": int(result.steps_done),
        "cancelled": bool(result.cancelled),
        "wall_time": float(result.wall_time),
        "losses": np.asarray(result.losses, np.float32),
        "snapshot_steps": np.asarray(result.snapshot_steps, np.int64),
        "snapshots": {str(i): _to_numpy(s.params) for i, s in enumerate(result.snapshots)},
        "final": _to_numpy(result.denoiser.params),
    }
    atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def _leaves(tree: PyTree) -> dict[str, Any]:
    """``{"params/in_x/kernel": leaf, ...}`` of a nested parameter tree."""
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    return {"/".join(str(getattr(k, "key", k)) for k in path): leaf for path, leaf in flat}


def check_params(cfg: Any, params: Any, what: str = "parameters") -> None:
    """Raise ``ValueError`` unless ``params`` are what ``cfg.init`` makes (the same names and
    shapes), numeric and finite. A hand-made or damaged file fails here, not inside the network
    later; parameters with NaN or infinity would only ever give NaN."""
    expected = _leaves(jax.eval_shape(cfg.init, jax.random.PRNGKey(0)))
    got = _leaves(params) if isinstance(params, dict) else {}
    if set(got) != set(expected):
        missing, extra = sorted(set(expected) - set(got)), sorted(set(got) - set(expected))
        raise ValueError(
            f"{what} do not fit the architecture (missing {missing[:3] or 'none'}, "
            f"unexpected {extra[:3] or 'none'})"
        )
    for name, spec in expected.items():
        a = np.asarray(got[name])
        if a.shape != tuple(spec.shape):
            raise ValueError(
                f"{what}: {name} has shape {a.shape}, the architecture needs {tuple(spec.shape)}"
            )
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"{what}: {name} holds {a.dtype} values, not numbers")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{what}: {name} holds NaN or infinite values")


def load_result(path: str | os.PathLike[str]) -> TrainResult:
    """Load what :func:`save_result` wrote. ``ValueError`` (never another error) for a file that
    is not one: not msgpack, another format, missing or mistyped entries, parameters whose names
    or shapes do not fit the stored architecture, or parameters holding NaN or infinity."""
    name = os.fspath(path)
    try:
        with open(path, "rb") as f:
            payload = serialization.msgpack_restore(f.read())
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except Exception as exc:
        raise ValueError(f"{name!r} is not a toyflow model file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{name!r} is not a toyflow model file (format {FORMAT})")
    kind = payload.get("kind")
    if not isinstance(kind, str) or kind not in ARCHITECTURES:
        raise ValueError(
            f"{name!r} is not a toyflow model file this version reads: unknown architecture "
            f"{kind!r} (known: {sorted(ARCHITECTURES)})"
        )
    try:
        return _rebuild(payload, kind)
    except ValueError as exc:
        raise ValueError(f"{name!r} is a damaged toyflow model file: {exc}") from exc
    except (KeyError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        what = f"missing entry {exc}" if isinstance(exc, KeyError) else str(exc)
        raise ValueError(f"{name!r} is a damaged toyflow model file ({what})") from exc


def _rebuild(payload: dict[str, Any], kind: str) -> TrainResult:
    config = json.loads(payload["config"])
    if not isinstance(config, dict):
        raise TypeError(f"config is {type(config).__name__}, not a mapping")
    cfg = ARCHITECTURES[kind](config)
    sd = float(payload["sigma_data"])
    if not (np.isfinite(sd) and sd > 0):
        raise ValueError(f"sigma_data is {sd}, not a positive number")

    def to_j(t: PyTree) -> PyTree:
        return jax.tree_util.tree_map(jnp.asarray, t)

    steps = [int(s) for s in np.atleast_1d(np.asarray(payload["snapshot_steps"]))]
    for i in range(len(steps)):
        check_params(cfg, payload["snapshots"][str(i)], f"snapshot {i}")
    check_params(cfg, payload["final"], "final parameters")
    snaps = [
        cfg.make_denoiser(to_j(payload["snapshots"][str(i)]), sd, step=s)
        for i, s in enumerate(steps)
    ]
    final = cfg.make_denoiser(to_j(payload["final"]), sd, step=int(payload["steps_done"]))
    settings = json.loads(payload["settings"])
    if not isinstance(settings, dict):
        raise TypeError(f"settings are {type(settings).__name__}, not a mapping")
    return TrainResult(
        denoiser=final,
        losses=np.asarray(payload["losses"]),
        snapshots=snaps,
        snapshot_steps=steps,
        settings=settings,
        sigma_data=sd,
        steps_done=int(payload["steps_done"]),
        cancelled=bool(payload["cancelled"]),
        wall_time=float(payload["wall_time"]),
    )
