"""Type aliases shared by the core's annotations (no runtime behaviour).

- :data:`ArrayLike`: what the public functions accept and pass to ``np.asarray`` /
  ``jnp.asarray``: Python scalars and (nested) lists, numpy and JAX arrays.
- :data:`JaxArrayLike`: what ``jax.numpy`` functions accept (arrays and scalars, no lists);
  for pure-JAX helpers.
- :data:`AnyArray`: a JAX or a numpy array, for functions that keep numpy input in numpy (the
  float64 σ grids) and JAX input in JAX.
- :data:`PyTree`: a JAX pytree (nested tuples, lists, dicts of arrays); JAX itself types these
  as ``Any``.
- :data:`Key`: a JAX PRNG key (``jax.random.key``), a ``jax.Array``.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import jax
import numpy as np
import numpy.typing as npt

ArrayLike: TypeAlias = npt.ArrayLike
JaxArrayLike: TypeAlias = jax.typing.ArrayLike
AnyArray: TypeAlias = jax.Array | np.ndarray
PyTree: TypeAlias = Any
Key: TypeAlias = jax.Array
