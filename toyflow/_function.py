"""Bring your own denoiser: any callable ``D(x, sigma[, labels])`` as a toyflow denoiser.

:func:`as_denoiser` turns a plain Python or JAX function into a :class:`FunctionDenoiser`, which
samplers, flow fields, metrics and the explorer accept like any built-in model. The function
receives ``x (n, *event_shape)`` float32 and ``sigma (n,)`` float32 (one noise level per row;
use ``sigma[:, None]`` to scale points), plus ``labels (n,) int32 | None`` when it takes a third
argument, and returns the denoised batch, same shape as ``x``.

How it runs. The wrapper first traces the function abstractly (``jax.eval_shape``).

* If that works, the function is JAX-traceable: it is called inside toyflow's jitted samplers
  and metrics, fused and compiled like a built-in denoiser.
* If tracing fails (the function calls NumPy, SciPy or anything else that needs concrete
  values), it runs eagerly on the host through ``jax.pure_callback``: slower, but any Python
  code works, and the rest of toyflow still compiles around it.

Either way the output shape is checked once at wrap time, so a function that returns the wrong
shape fails with a ``ValueError`` there, not deep inside a sampler.

Example::

    def wiener(x, sigma):                       # the exact denoiser of N(0, s² I) data
        s2 = 4.0
        return x * (s2 / (s2 + sigma**2))[:, None]

    samples = toyflow.sample(wiener, 500)        # wrapped automatically
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser, pytree_class


class _Fn:
    """Hashable-by-identity holder, so any callable can sit in a pytree's static data."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable):
        self.fn = fn

    def __hash__(self) -> int:
        return id(self.fn)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Fn) and other.fn is self.fn


def _takes_labels(fn: Callable) -> bool:
    """Whether ``fn`` accepts a third positional argument (the labels)."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):  # builtins and C functions: assume the full contract
        return True
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) < 2:
        raise ValueError(
            f"a denoiser function must take (x, sigma) or (x, sigma, labels); "
            f"{getattr(fn, '__name__', fn)!r} takes {len(positional)} positional argument(s)"
        )
    return len(positional) >= 3


@pytree_class(dynamic=(), static=("_fn", "event_shape", "_num_classes", "eager", "takes_labels"))
class FunctionDenoiser(Denoiser):
    """A user function ``fn(x, sigma[, labels])`` honouring the denoiser contract.

    Args:
      fn: the function (see the module docstring for what it receives).
      event_shape: the shape of one point, ``(2,)`` for the explorer's plane.
      num_classes: the number of label values it understands; ``None`` (default) means it
        takes no labels.
    """

    def __init__(
        self, fn: Callable, event_shape: tuple[int, ...] = (2,), num_classes: int | None = None
    ):
        if not callable(fn):
            raise ValueError(f"a denoiser must be callable, got {type(fn).__name__}")
        event = tuple(int(e) for e in event_shape)
        if not event or any(e < 1 for e in event):
            raise ValueError(f"event_shape must be positive sizes, got {event_shape!r}")
        if num_classes is not None and not (1 <= int(num_classes) <= 100_000):
            raise ValueError(f"num_classes must be in [1, 100000], got {num_classes!r}")
        self._fn = _Fn(fn)
        self.event_shape = event
        self._num_classes = None if num_classes is None else int(num_classes)
        self.takes_labels = _takes_labels(fn)
        self.eager = not self._traces()

    @property
    def fn(self) -> Callable:
        return self._fn.fn

    @property
    def num_classes(self) -> int | None:
        return self._num_classes

    def _call(self, x, sigma, labels):
        if self.takes_labels:
            return self.fn(x, sigma, labels)
        return self.fn(x, sigma)

    def _probe(self):
        n = 3
        x = np.zeros((n, *self.event_shape), np.float32)
        sigma = np.ones((n,), np.float32)
        labels = None if self._num_classes is None else np.zeros((n,), np.int32)
        return x, sigma, labels

    def _traces(self) -> bool:
        """Trace once abstractly; fall back to a concrete host call to tell the two cases apart."""
        x, sigma, labels = self._probe()
        try:
            out = jax.eval_shape(self._call, x, sigma, labels)
            traced = True
        except Exception:
            traced = False
            try:
                out = np.asarray(self._call(x, sigma, labels))
            except Exception as exc:
                raise ValueError(
                    f"the denoiser function failed on a batch of shape {x.shape} with sigma "
                    f"shape {sigma.shape}: {type(exc).__name__}: {exc}"
                ) from exc
        shape = tuple(getattr(out, "shape", ()))
        if shape != x.shape:
            raise ValueError(
                f"the denoiser function must return the shape of x, {x.shape}, got {shape}"
            )
        return traced

    def denoise(self, x, sigma, labels):
        if not self.eager:
            return jnp.asarray(self._call(x, sigma, labels), jnp.float32).reshape(x.shape)

        def host(xh, sh, *lab):
            out = self._call(np.asarray(xh), np.asarray(sh), np.asarray(lab[0]) if lab else None)
            return np.asarray(out, np.float32).reshape(xh.shape)

        args = (x, sigma) if labels is None else (x, sigma, labels)
        spec = jax.ShapeDtypeStruct(x.shape, jnp.float32)
        return jax.pure_callback(host, spec, *args, vmap_method="sequential")

    def __repr__(self) -> str:
        mode = "eager" if self.eager else "jit"
        return f"FunctionDenoiser({getattr(self.fn, '__name__', 'fn')}, {mode})"


def as_denoiser(
    denoiser: Any,
    event_shape: tuple[int, ...] | None = None,
    num_classes: int | None = None,
    name: str = "denoiser",
) -> Denoiser:
    """A toyflow denoiser as it is; any other callable wrapped as a :class:`FunctionDenoiser`.

    ``event_shape`` is the shape of one point where the caller knows it (from the data), else
    ``(2,)``. Anything that is not callable raises ``ValueError``.
    """
    if isinstance(denoiser, Denoiser):
        return denoiser
    if not callable(denoiser):
        raise ValueError(
            f"{name} must be a toyflow denoiser or a function D(x, sigma[, labels]), "
            f"got {type(denoiser).__name__}"
        )
    return FunctionDenoiser(denoiser, (2,) if event_shape is None else event_shape, num_classes)
