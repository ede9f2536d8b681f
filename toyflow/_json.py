"""The one JSON sanitiser: NumPy and JAX values to plain, strict JSON.

Every file toyflow writes (experiment results, CLI reports, data sets, explorer runs) goes
through :func:`jsonable`, so the same value always becomes the same JSON: arrays become nested
lists, NumPy scalars Python numbers, mappings get string keys, and NaN or ±inf become ``null``
(strict JSON has no such numbers; readers turn ``null`` back into NaN where an array is numeric).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """``value`` with arrays as lists, NumPy scalars as Python numbers and NaN/±inf as ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray) or (
        hasattr(value, "__array__") and not isinstance(value, np.generic)
    ):  # NumPy and JAX arrays, 0-d ones included
        return jsonable(np.asarray(value).tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def dumps(value: Any, *, indent: int | None = 1) -> str:
    """Strict JSON text of :func:`jsonable` ``(value)`` (never ``NaN`` or ``Infinity``)."""
    return json.dumps(jsonable(value), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike[str], value: Any) -> None:
    """Write ``value`` as strict JSON to ``path`` atomically (a reader never sees half a file)."""
    from toyflow.training import atomic_write_bytes

    atomic_write_bytes(path, (dumps(value) + "\n").encode())
