"""The denoiser contract every model honours.

A denoiser is a callable ``D(x, sigma, labels=None) -> x0_hat`` that estimates the clean point
``E[y | x]`` from a noisy one ``x = y + sigma * n`` (EDM convention). ``x`` has shape ``(n, d)``
(or ``(n, H, W, C)`` for images), ``sigma`` is a scalar or ``(n,)``, ``labels`` is ``None`` or
``(n,)`` ints. Everything else is derived from ``D``:

    score     ∇ log p_σ(x) = (D(x; σ) − x) / σ²
    velocity  dx/dσ        = (x − D(x; σ)) / σ       (probability-flow ODE in σ)

Implementation notes. Every denoiser is a JAX pytree: its arrays (training points, network
parameters, δ, the guidance weight) are leaves, its configuration is static. That lets samplers,
metrics and flow fields take a denoiser as an ordinary argument of a jitted function, so a new σ,
δ or guidance weight is a new *value*, never a recompilation. Subclasses implement
``denoise(x, sigma, labels)`` on JAX arrays with ``sigma`` already broadcast to ``(n,)``; the
public ``__call__`` validates input and dispatches to one shared jitted function.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._types import ArrayLike
from toyflow._validation import as_labels, as_points, as_sigma, is_traced

_DenoiserT = TypeVar("_DenoiserT", bound="Denoiser")


def pytree_class(
    dynamic: tuple[str, ...], static: tuple[str, ...] = ()
) -> Callable[[type[_DenoiserT]], type[_DenoiserT]]:
    """Register a class as a pytree with ``dynamic`` attributes as leaves and ``static`` as aux.

    Unflattening bypasses ``__init__`` so constructors may validate freely.
    """

    def wrap(cls: type[_DenoiserT]) -> type[_DenoiserT]:
        cls._dynamic_fields = dynamic
        cls._static_fields = static

        def flatten(obj: _DenoiserT) -> tuple[list[Any], tuple[Any, ...]]:
            return [getattr(obj, f) for f in dynamic], tuple(getattr(obj, f) for f in static)

        def unflatten(aux: tuple[Any, ...], children: list[Any]) -> _DenoiserT:
            obj = object.__new__(cls)
            for f, v in zip(dynamic, children):
                object.__setattr__(obj, f, v)
            for f, v in zip(static, aux):
                object.__setattr__(obj, f, v)
            obj._post_unflatten()
            return obj

        jax.tree_util.register_pytree_node(cls, flatten, unflatten)
        return cls

    return wrap


@jax.jit
def _apply(
    denoiser: Denoiser, x: jax.Array, sigma: jax.Array, labels: jax.Array | None
) -> jax.Array:
    return denoiser.denoise(x, sigma, labels)


def broadcast_sigma(sigma: ArrayLike, n: int, ndim: int = 1) -> jax.Array:
    """Scalar or ``(n,)`` σ as a float32 JAX array of shape ``(n,) + (1,) * (ndim − 1)``.

    ``ndim=1`` gives one σ per query, ``(n,)``; ``ndim=x.ndim`` gives the shape that multiplies
    a batch ``x (n, ...)`` row by row. The one σ-broadcast of the project (any per-row scalar,
    such as a preconditioning coefficient, goes through it too).
    """
    sigma = jnp.asarray(sigma, dtype=jnp.float32)
    sigma = jnp.broadcast_to(sigma.reshape(-1) if sigma.ndim else sigma, (n,))
    return sigma.reshape((n,) + (1,) * (ndim - 1)) if ndim > 1 else sigma


class Denoiser:
    """Base class: validation, dispatch, and what every model shares.

    Subclasses set ``event_shape`` (``(d,)`` for points) and implement :meth:`denoise`.
    """

    event_shape: tuple[int, ...]
    # Set by :func:`pytree_class` on each registered subclass.
    _dynamic_fields: ClassVar[tuple[str, ...]]
    _static_fields: ClassVar[tuple[str, ...]]

    def _post_unflatten(self) -> None:
        """Hook run after pytree unflattening (restore derived attributes)."""

    # --- to implement -------------------------------------------------------------------
    def denoise(self, x: jax.Array, sigma: jax.Array, labels: jax.Array | None) -> jax.Array:
        """Pure JAX: ``x (n, *event_shape)``, ``sigma (n,)``, ``labels (n,) int32 | None``."""
        raise NotImplementedError

    # --- shared ---------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        """Number of coordinates of one point (``d``; ``H·W·C`` for images)."""
        return int(np.prod(self.event_shape))

    @property
    def num_classes(self) -> int | None:
        """Number of label values this denoiser understands, ``None`` if it takes no labels."""
        return None

    def check_labels(self, labels: Any, n: int) -> np.ndarray | None:
        """Validate labels for ``n`` queries; subclasses narrow the allowed values."""
        if labels is None:
            return None
        if self.num_classes is None:
            raise ValueError(
                f"{type(self).__name__} was built without labels, so it takes labels=None"
            )
        return as_labels(labels, n, num_classes=self.num_classes)

    def __call__(self, x: Any, sigma: Any, labels: Any = None) -> jax.Array:
        """``D(x, sigma, labels=None)``: the denoised estimate, same shape as ``x``."""
        if is_traced(x) or is_traced(sigma) or is_traced(labels):
            x = jnp.asarray(x, jnp.float32)
            lab = None if labels is None else jnp.asarray(labels, jnp.int32)
            return self.denoise(x, broadcast_sigma(sigma, x.shape[0]), lab)
        event = tuple(self.event_shape)
        if len(event) == 1:
            xs = as_points(x, "x", dim=event[0], allow_empty=True)
        else:
            xs = as_points(x, "x", event_shape=event, allow_empty=True)
        n = xs.shape[0]
        s = as_sigma(sigma, n)
        checked = self.check_labels(labels, n)
        if n == 0:
            return jnp.zeros(xs.shape, jnp.float32)
        lab_j = None if checked is None else jnp.asarray(checked)
        out: jax.Array = _apply(self, jnp.asarray(xs), broadcast_sigma(s, n), lab_j)
        return out

    def unconditional(self) -> Denoiser:
        """The same model with labels ignored (the negative branch of classifier-free guidance)."""
        return Unconditional(self)

    # Derived quantities, never re-implemented per model.
    def score(self, x: ArrayLike, sigma: ArrayLike, labels: Any = None) -> jax.Array:
        """``∇ log p_σ(x) = (D(x; σ) − x) / σ²``."""
        x = jnp.asarray(x, jnp.float32)
        s = broadcast_sigma(sigma, x.shape[0], x.ndim)
        return (self(x, sigma, labels) - x) / s**2

    def velocity(self, x: ArrayLike, sigma: ArrayLike, labels: Any = None) -> jax.Array:
        """Probability-flow ODE ``dx/dσ = (x − D(x; σ)) / σ``."""
        x = jnp.asarray(x, jnp.float32)
        s = broadcast_sigma(sigma, x.shape[0], x.ndim)
        return (x - self(x, sigma, labels)) / s


@pytree_class(dynamic=("base",), static=())
class Unconditional(Denoiser):
    """Wrap a denoiser so that it always runs unconditionally (labels dropped)."""

    def __init__(self, base: Denoiser) -> None:
        self.base = base

    @property
    def event_shape(self) -> tuple[int, ...]:  # type: ignore[override]  # property for an attribute
        return self.base.event_shape

    @property
    def num_classes(self) -> int | None:
        return self.base.num_classes

    def check_labels(self, labels: Any, n: int) -> np.ndarray | None:
        return None if labels is None else self.base.check_labels(labels, n)

    def denoise(self, x: jax.Array, sigma: jax.Array, labels: jax.Array | None) -> jax.Array:
        return self.base.denoise(x, sigma, None)

    def __repr__(self) -> str:
        return f"Unconditional({self.base!r})"
