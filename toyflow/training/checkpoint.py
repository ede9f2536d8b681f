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

from toyflow.nets import MLPConfig
from toyflow.training.loop import TrainResult

FORMAT = "toyflow-model-v1"
ARCHITECTURES: dict[str, Callable[[dict], Any]] = {"mlp": lambda d: MLPConfig(**d)}


def register_architecture(kind: str, from_dict: Callable[[dict], Any]) -> None:
    """Let :func:`load_result` rebuild configs of another architecture (the U-Net registers)."""
    ARCHITECTURES[kind] = from_dict


def _to_numpy(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a), tree)


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
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


def save_result(result: TrainResult, path: str | os.PathLike) -> None:
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


def load_result(path: str | os.PathLike) -> TrainResult:
    """Load what :func:`save_result` wrote (``ValueError`` for a file that is not one)."""
    try:
        with open(path, "rb") as f:
            payload = serialization.msgpack_restore(f.read())
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ValueError(f"{os.fspath(path)!r} is not a toyflow model file ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ValueError(f"{os.fspath(path)!r} is not a toyflow model file (format {FORMAT})")
    kind = payload["kind"]
    if kind not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {kind!r} in {os.fspath(path)!r}; known: {sorted(ARCHITECTURES)}"
        )
    cfg = ARCHITECTURES[kind](json.loads(payload["config"]))
    sd = float(payload["sigma_data"])
    to_j = lambda t: jax.tree_util.tree_map(jnp.asarray, t)
    steps = [int(s) for s in np.asarray(payload["snapshot_steps"])]
    snaps = [
        cfg.make_denoiser(to_j(payload["snapshots"][str(i)]), sd, step=s)
        for i, s in enumerate(steps)
    ]
    final = cfg.make_denoiser(to_j(payload["final"]), sd, step=int(payload["steps_done"]))
    return TrainResult(
        denoiser=final,
        losses=np.asarray(payload["losses"]),
        snapshots=snaps,
        snapshot_steps=steps,
        settings=json.loads(payload["settings"]),
        sigma_data=sd,
        steps_done=int(payload["steps_done"]),
        cancelled=bool(payload["cancelled"]),
        wall_time=float(payload["wall_time"]),
    )
