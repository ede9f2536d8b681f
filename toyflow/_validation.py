"""Input checks at the public boundary.

Every public entry point turns user input into arrays through these helpers, so a wrong
shape, a non-finite value, σ ≤ 0 or an unknown name raises a ``ValueError`` with a sentence a
person understands, instead of a NaN or a shape error deep inside a jitted function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np


def _describe(a: Any) -> str:
    shape = getattr(a, "shape", None)
    dtype = getattr(a, "dtype", None)
    return f"shape {tuple(shape)} and dtype {dtype}" if shape is not None else type(a).__name__


def is_traced(a: Any) -> bool:
    """True for JAX tracers (inside jit/vmap), whose values cannot be checked."""
    import jax

    return isinstance(a, jax.core.Tracer)


def as_points(
    x: Any,
    name: str = "x",
    *,
    dim: int | None = None,
    allow_empty: bool = False,
    event_shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    """Check a batch of points ``(n, d)`` (or ``(n, *event_shape)``) and return float32 numpy.

    Raises ``ValueError`` for non-numeric input, wrong rank or trailing shape, NaN/inf, or an
    empty batch (unless ``allow_empty``).
    """
    try:
        arr = np.asarray(x)
    except Exception as exc:  # pragma: no cover - exotic objects
        raise ValueError(f"{name} must be an array of numbers, got {type(x).__name__}") from exc
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise ValueError(f"{name} must hold real numbers, got an array of {_describe(arr)}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(f"{name} must hold real numbers, got complex dtype {arr.dtype}")
    if event_shape is not None:
        want = len(event_shape) + 1
        if arr.ndim != want or tuple(arr.shape[1:]) != tuple(event_shape):
            raise ValueError(
                f"{name} must have shape (n, {', '.join(map(str, event_shape))}), got {_describe(arr)}"
            )
    else:
        if arr.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array of shape (n, d), got {_describe(arr)}")
        if dim is not None and arr.shape[1] != dim:
            raise ValueError(
                f"{name} must have {dim} columns (shape (n, {dim})), got {_describe(arr)}"
            )
    if arr.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name} is empty: it needs at least one point")
    with np.errstate(over="ignore"):  # values beyond float32 become inf and are rejected below
        arr = arr.astype(np.float32, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(
            f"{name} contains {bad} NaN or infinite value(s); all entries must be finite"
        )
    return arr


def as_sigma(sigma: Any, n: int | None = None, name: str = "sigma") -> np.ndarray:
    """Check a noise level: a positive finite scalar, or shape ``(n,)``. Returns float32 numpy."""
    try:
        s = np.asarray(sigma, dtype=np.float64)
    except Exception as exc:
        raise ValueError(
            f"{name} must be a positive number or an array of them, got {sigma!r}"
        ) from exc
    if s.ndim > 1 or (s.ndim == 1 and n is not None and s.shape[0] != n):
        want = "a scalar" if n is None else f"a scalar or shape ({n},)"
        raise ValueError(f"{name} must be {want}, got shape {s.shape}")
    if not np.all(np.isfinite(s)):
        raise ValueError(f"{name} must be finite, got {sigma!r}")
    if np.any(s <= 0):
        raise ValueError(f"{name} must be > 0 (a noise level), got min {float(np.min(s))!r}")
    with np.errstate(over="ignore", under="ignore"):
        s32 = s.astype(np.float32)
    if not (np.all(np.isfinite(s32)) and np.all(s32 > 0)):
        # 1e50 would become inf and 1e-50 would become 0 in float32: NaN or inf later.
        raise ValueError(
            f"{name} must lie within float32's range (about 1e-45 to 3e38), got {sigma!r}"
        )
    return s32


#: Labels index classes: a conditional model keeps a table row and the optimal denoiser a count
#: per label value, so values are capped (one label per point still fits up to a million
#: points). Data with other label values is renumbered at the data boundary
#: (:func:`toyflow.labels.dense_labels`, used by ``from_points`` and ``load_csv``).
MAX_CLASSES = 1 << 20


def _label_range_message(name: str, bad: float | int) -> str:
    if bad < 0:
        return f"{name} must be >= 0, got {bad}"
    return (
        f"{name} must be below {MAX_CLASSES} (labels index classes), got {bad}; renumber other "
        "label values to 0..k-1 with toyflow.labels.dense_labels(labels)"
    )


def dense_labels(labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Renumber arbitrary integer label values to ``0..k−1``: ``(codes (n,) int32, names (k,))``.

    ``names[codes[i]]`` is the original value of label ``i`` (kept for display), in increasing
    order, so labels that already are ``0..k−1`` come back unchanged. Values may be any integers
    (``2_000_000_000``, negative, beyond ``2**32``) and never wrap; more than
    ``MAX_CLASSES`` distinct values raise ``ValueError``.
    """
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"labels must be a 1-D array, got shape {arr.shape}")
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"labels must be integers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                f"labels must be whole numbers, got dtype {arr.dtype} with fractions or NaN"
            )
    names, codes = np.unique(arr, return_inverse=True)
    if names.size > MAX_CLASSES:
        raise ValueError(
            f"labels have {names.size} distinct values; at most {MAX_CLASSES} classes are supported"
        )
    return codes.astype(np.int32).reshape(-1), names


def as_labels(
    labels: Any,
    n: int,
    name: str = "labels",
    *,
    num_classes: int | None = None,
    allowed: Iterable[int] | None = None,
) -> np.ndarray | None:
    """Check integer labels of shape ``(n,)``; ``None`` passes through.

    ``num_classes`` bounds the labels to ``[0, num_classes)``; ``allowed`` is the set of labels a
    conditional denoiser has seen in training.
    """
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim == 0:
        arr = np.full((n,), arr)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have shape ({n},) to match the points, got shape {arr.shape}"
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(
                f"{name} must be whole numbers, got dtype {arr.dtype} with fractions or NaN"
            )
    with np.errstate(invalid="ignore"):
        wide = arr.astype(np.int64) if np.issubdtype(arr.dtype, np.integer) else None
    if wide is None:  # whole floats: compare as floats so 1e30 never wraps on the way
        if arr.size and (np.min(arr) < 0 or np.max(arr) >= MAX_CLASSES):
            bad = float(np.min(arr)) if np.min(arr) < 0 else float(np.max(arr))
            raise ValueError(_label_range_message(name, bad))
        arr = arr.astype(np.int32)
    else:
        if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.size and arr.max() > 2**62:
            raise ValueError(_label_range_message(name, int(arr.max())))
        if wide.size and (wide.min() < 0 or wide.max() >= MAX_CLASSES):
            bad = int(wide.min()) if wide.min() < 0 else int(wide.max())
            raise ValueError(_label_range_message(name, bad))
        arr = wide.astype(np.int32)
    if num_classes is not None and arr.size and arr.max() >= num_classes:
        raise ValueError(
            f"{name} must be < {num_classes} (the number of classes), got {int(arr.max())}"
        )
    if allowed is not None:
        allowed_set = set(int(a) for a in allowed)
        unseen = sorted(set(np.unique(arr).tolist()) - allowed_set)
        if unseen:
            show = sorted(allowed_set)
            show_txt = str(show) if len(show) <= 20 else f"{show[:20]}... ({len(show)} labels)"
            raise ValueError(
                f"{name} {unseen[:10]} were not seen in the training data; known labels: {show_txt}"
            )
    return arr


def check_int(value: Any, name: str, lo: int, hi: int) -> int:
    """An integer in ``[lo, hi]``, else ``ValueError`` naming the bounds."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ValueError(f"{name} must be an integer in [{lo}, {hi}], got {value!r}")
    number = int(value)
    if not lo <= number <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi}], got {number}")
    return number


def check_float(
    value: Any,
    name: str,
    lo: float | None = None,
    hi: float | None = None,
    *,
    lo_open: bool = False,
) -> float:
    """A finite float within bounds (``lo_open`` makes the lower bound strict)."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a number, got {value!r}") from exc
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        op = ">" if lo_open else ">="
        raise ValueError(f"{name} must be {op} {lo}, got {v}")
    if hi is not None and v > hi:
        raise ValueError(f"{name} must be <= {hi}, got {v}")
    return v


def lookup(registry: Mapping[str, Any], name: Any, what: str) -> Any:
    """Registry lookup whose error lists the valid names."""
    if not isinstance(name, str) or name not in registry:
        raise ValueError(f"unknown {what} {name!r}; valid names: {', '.join(sorted(registry))}")
    return registry[name]
