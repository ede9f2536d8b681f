r"""Condition granularity: which label each training (and validation) point carries.

The paper's image experiments (and toyflow's 2D ones) vary how finely the condition splits the
data; :data:`GRANULARITIES` is the registry of these label schemes:

==========  ==================================================================================
none        unconditional: no labels
coarse      the generator's component, arm, moon or quadrant (``Dataset.train_coarse``)
kmeans      k-means pseudo-labels with any ``K``; validation points get their nearest centre
point       one label per training point (``0 … n_train − 1``); a validation point gets the
            label of its nearest training point
==========  ==================================================================================

From ``none`` to ``point`` the class-conditional optimal denoiser averages over fewer and fewer
training points, so it memorizes sooner.

k-means is Lloyd's algorithm from a k-means++ start (Arthur & Vassilvitskii 2007)::

    init:   c_1 ~ U{x_i};   c_j ~ P(x_i) ∝ min_{l<j} ‖x_i − c_l‖²
    repeat: z_i = argmin_j ‖x_i − c_j‖²;   c_j = mean{x_i : z_i = j}   until z stops changing

written in JAX: squared distances come from ``‖x‖² − 2 x·cᵀ + ‖c‖²`` (on centred data, at full
float32 matmul precision) in blocks of points so memory stays O(block × K) for ``n`` up to
60 000 and ``d`` up to 3072; centre sums are a ``segment_sum``. A cluster that loses all its
points is re-seeded at the point farthest from its centre (the j-th empty cluster at the j-th
farthest point).
"""

from __future__ import annotations

import functools
from typing import Any, TypeAlias

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._types import ArrayLike, Key
from toyflow._validation import as_points, check_int
from toyflow._validation import dense_labels as dense_labels  # re-exported: part of this API
from toyflow.datasets import Dataset
from toyflow.registry import Registry, bucket

#: The label schemes (name → what a point's label is), from coarsest to finest.
GRANULARITIES: Registry[str] = Registry(
    "label granularity",
    {
        "none": "unconditional: no labels",
        "coarse": "the generator's component, arm, moon or quadrant",
        "kmeans": "k-means pseudo-labels; validation points get their nearest centre",
        "point": "one label per training point; validation points get their nearest one's",
    },
)

#: Upper bound on the entries of one block of the (points × centres) distance matrix.
_BLOCK_ENTRIES = 1 << 22
_HIGHEST = jax.lax.Precision.HIGHEST


def _as_matrix(x: ArrayLike, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """Points ``(n, d)`` as float32 numpy; higher-rank batches (images) are flattened."""
    arr = np.asarray(x)
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    return as_points(arr, name, allow_empty=allow_empty)


def _block_size(n_pad: int, k_pad: int) -> int:
    """Rows per distance block: all of them, or a power of two dividing ``n_pad``, so that a
    block has at most ``_BLOCK_ENTRIES`` entries."""
    if n_pad * k_pad <= _BLOCK_ENTRIES:
        return n_pad
    cap = 1 << max(0, (_BLOCK_ENTRIES // k_pad).bit_length() - 1)
    return int(min(n_pad & -n_pad, cap))


def _pad_rows(x: np.ndarray, n_pad: int) -> np.ndarray:
    if x.shape[0] == n_pad:
        return x
    out = np.zeros((n_pad, x.shape[1]), np.float32)
    out[: x.shape[0]] = x
    return out


def _nearest(
    x_pad: jax.Array, centers: jax.Array, active: jax.Array, block: int
) -> tuple[jax.Array, jax.Array]:
    """Nearest active centre and its squared distance for each row of ``x_pad (m·block, d)``."""
    c_sq = jnp.where(active, jnp.sum(centers * centers, axis=1), jnp.inf)

    def one_block(xb: jax.Array) -> tuple[jax.Array, jax.Array]:
        d2 = (
            jnp.sum(xb * xb, axis=1)[:, None]
            - 2.0 * jnp.matmul(xb, centers.T, precision=_HIGHEST)
            + c_sq[None, :]
        )
        return jnp.argmin(d2, axis=1).astype(jnp.int32), jnp.maximum(jnp.min(d2, axis=1), 0.0)

    if x_pad.shape[0] == block:  # one block: no loop to compile
        return one_block(x_pad)
    labels: jax.Array
    d2: jax.Array
    labels, d2 = jax.lax.map(one_block, x_pad.reshape(-1, block, x_pad.shape[1]))
    return labels.reshape(-1), d2.reshape(-1)


@functools.partial(jax.jit, static_argnames=("block",))
def _assign_jit(x_pad: jax.Array, centers_pad: jax.Array, k: jax.Array, block: int) -> jax.Array:
    active = jnp.arange(centers_pad.shape[0]) < k
    # Centre both on the centres' mean to limit cancellation in ‖x‖² − 2x·c + ‖c‖².
    shift = jnp.sum(jnp.where(active[:, None], centers_pad, 0.0), axis=0) / k
    labels, _ = _nearest(x_pad - shift, centers_pad - shift, active, block)
    return labels


def _plusplus_init(
    u: jax.Array, x_pad: jax.Array, n: jax.Array, k: jax.Array, k_pad: int
) -> jax.Array:
    """k-means++ seeding of ``k`` centres (rows ``≥ k`` stay zero) from uniforms ``u (k_pad,)``.

    Sampling ∝ D² is an inverse-CDF lookup; padded rows (index ``≥ n``) have weight 0.
    """
    valid = jnp.arange(x_pad.shape[0]) < n
    x_sq = jnp.sum(x_pad * x_pad, axis=1)

    def dist_to(c: jax.Array) -> jax.Array:
        return jnp.maximum(x_sq - 2.0 * jnp.matmul(x_pad, c, precision=_HIGHEST) + c @ c, 0.0)

    def pick(u_j: jax.Array, min_d2: jax.Array) -> jax.Array:
        cdf = jnp.cumsum(jnp.where(valid, min_d2, 0.0))
        by_d2 = jnp.sum(cdf <= u_j * cdf[-1])
        # Uniform when every point already coincides with a centre.
        idx = jnp.where(cdf[-1] > 0, by_d2, jnp.floor(u_j * n).astype(jnp.int32))
        return jnp.clip(idx, 0, n - 1)

    first = x_pad[pick(u[0], jnp.zeros(x_pad.shape[0]))]
    centers = jnp.zeros((k_pad, x_pad.shape[1]), x_pad.dtype).at[0].set(first)

    def body(j: jax.Array, state: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        centers, min_d2 = state
        c = x_pad[pick(u[j], min_d2)]
        return centers.at[j].set(c), jnp.minimum(min_d2, dist_to(c))

    seeded: jax.Array
    seeded, _ = jax.lax.fori_loop(1, k, body, (centers, dist_to(first)))
    return seeded


#: Lloyd's loop state: (iteration, centres, labels, whether anything changed).
_LloydState: TypeAlias = tuple[jax.Array, jax.Array, jax.Array, jax.Array]


@functools.partial(jax.jit, static_argnames=("k_pad", "block"))
def _kmeans_jit(
    x_pad: jax.Array,
    n: jax.Array,
    k: jax.Array,
    iters: jax.Array,
    key: Key,
    k_pad: int,
    block: int,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Lloyd on the first ``n`` rows of ``x_pad`` with the first ``k`` of ``k_pad`` centres."""
    valid = jnp.arange(x_pad.shape[0]) < n
    active = jnp.arange(k_pad) < k
    weight = valid.astype(x_pad.dtype)
    mean = jnp.sum(x_pad, axis=0) / n  # padded rows are zero
    x_c = (x_pad - mean) * weight[:, None]
    centers = _plusplus_init(jax.random.uniform(key, (k_pad,)), x_c, n, k, k_pad)

    def lloyd(state: _LloydState) -> _LloydState:
        i, centers, prev, _ = state
        labels, d2 = _nearest(x_c, centers, active, block)
        labels = jnp.where(valid, labels, 0)
        # New centres: means of their points (padded rows are zero and carry no weight).
        sums = jax.ops.segment_sum(x_c, labels, num_segments=k_pad)
        counts = jax.ops.segment_sum(weight, labels, num_segments=k_pad)
        means = sums / jnp.maximum(counts, 1.0)[:, None]
        # Empty clusters: the j-th empty one moves to the j-th farthest point.
        empty = (counts == 0) & active
        _, far = jax.lax.top_k(jnp.where(valid, d2, -jnp.inf), k_pad)
        rank = jnp.clip(jnp.cumsum(empty) - 1, 0, k_pad - 1)
        centers = jnp.where(empty[:, None], x_c[far[rank]], jnp.where(active[:, None], means, 0.0))
        changed = jnp.any((labels != prev) & valid) | jnp.any(empty)
        return i + 1, centers, labels, changed

    state = (jnp.int32(0), centers, jnp.full(x_pad.shape[0], -1, jnp.int32), jnp.bool_(True))
    _, centers, _, _ = jax.lax.while_loop(lambda s: (s[0] < iters) & s[3], lloyd, state)
    labels, d2 = _nearest(x_c, centers, active, block)
    inertia = jnp.sum(jnp.where(valid, d2, 0.0))
    return centers + mean, labels, inertia


def kmeans(
    x: ArrayLike, k: int, *, seed: int = 0, iters: int = 50, n_init: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Lloyd's k-means with k-means++ seeding.

    x: ``(n, d)`` points (higher-rank batches such as images are flattened); ``1 ≤ k ≤ n``.
    ``n_init`` runs from different seeds and keeps the one with the smallest inertia
    ``Σ_i ‖x_i − c_{z_i}‖²``. Returns ``centers (k, d)`` float32 and ``labels (n,)`` int32,
    where each label is the nearest centre.
    """
    x = _as_matrix(x, "x")
    n = x.shape[0]
    k = _check_k(k, n)
    seed = check_int(seed, "seed", 0, 2**63 - 1)
    iters = check_int(iters, "iters", 1, 100_000)
    n_init = check_int(n_init, "n_init", 1, 100)
    n_pad, k_pad = bucket(n), bucket(k)
    block = _block_size(n_pad, k_pad)
    x_pad = jnp.asarray(_pad_rows(x, n_pad))
    best = None
    for key in jax.random.split(jax.random.key(seed % 2**32), n_init):
        centers, labels, inertia = _kmeans_jit(
            x_pad, np.int32(n), np.int32(k), np.int32(iters), key, k_pad, block
        )
        if best is None or float(inertia) < best[2]:
            best = (centers, labels, float(inertia))
    assert best is not None  # restarts >= 1
    return np.asarray(best[0][:k], np.float32), np.asarray(best[1][:n], np.int32)


def _check_k(k: Any, n: int) -> int:
    if isinstance(k, float) and k.is_integer():
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= n:
        raise ValueError(f"k must be between 1 and the number of training points ({n}), got {k!r}")
    return int(k)


def assign(x: ArrayLike, centers: ArrayLike) -> np.ndarray:
    """Index of the nearest centre for each point. x: ``(n, d)``, centers: ``(k, d)`` → ``(n,)`` int32."""
    centers = _as_matrix(centers, "centers")
    x = _as_matrix(x, "x", allow_empty=True)
    if x.shape[1] != centers.shape[1]:
        raise ValueError(f"x has {x.shape[1]} columns but centers have {centers.shape[1]}")
    if x.shape[0] == 0:
        return np.zeros(0, np.int32)
    n, k = x.shape[0], centers.shape[0]
    n_pad, k_pad = bucket(n), bucket(k)
    labels = _assign_jit(
        jnp.asarray(_pad_rows(x, n_pad)),
        jnp.asarray(_pad_rows(centers, k_pad)),
        np.int32(k),
        _block_size(n_pad, k_pad),
    )
    return np.asarray(labels[:n], np.int32)


def make_labels(
    dataset_or_train_x: Dataset | ArrayLike,
    granularity: str,
    *,
    k: int | None = None,
    val_x: ArrayLike | None = None,
    seed: int = 0,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Labels ``(train_labels, val_labels)`` at one granularity (see the module docstring).

    ``dataset_or_train_x`` is a ``Dataset`` (its validation set is labelled too) or training
    points ``(n, d)`` with optional ``val_x``; without validation points ``val_labels`` is
    ``None``. ``k`` is required for ``"kmeans"`` and ignored otherwise. Labels are int32.
    """
    GRANULARITIES[granularity]  # an unknown name raises ValueError listing the valid ones
    if isinstance(dataset_or_train_x, Dataset):
        if val_x is not None:
            raise ValueError("val_x is taken from the Dataset; do not pass it separately")
        train = dataset_or_train_x.train_x
        val: np.ndarray | None = dataset_or_train_x.val_x
    else:
        train = _as_matrix(dataset_or_train_x, "train_x")
        val = None if val_x is None else _as_matrix(val_x, "val_x", allow_empty=True)
        if val is not None and val.shape[1] != train.shape[1]:
            raise ValueError(f"val_x has {val.shape[1]} columns but train_x has {train.shape[1]}")

    if granularity == "none":
        return None, None
    if granularity == "coarse":
        if not isinstance(dataset_or_train_x, Dataset):
            raise ValueError(
                "coarse labels need a Dataset (plain points carry no component or arm); "
                "use 'kmeans' or 'point', or pass a Dataset"
            )
        return dataset_or_train_x.train_coarse.copy(), dataset_or_train_x.val_coarse.copy()
    if granularity == "kmeans":
        if k is None:
            raise ValueError(
                f"granularity 'kmeans' needs k, between 1 and the number of training "
                f"points ({train.shape[0]})"
            )
        centers, train_labels = kmeans(train, k, seed=seed)
        return train_labels, None if val is None else assign(val, centers)
    # "point": every training point is its own class.
    train_labels = np.arange(train.shape[0], dtype=np.int32)
    return train_labels, None if val is None else assign(val, train)


def sample_labels(train_labels: ArrayLike | None, n: int, seed: int = 0) -> np.ndarray | None:
    """``n`` labels for conditional sampling, drawn uniformly from the training labels (so each
    class in proportion to its size) with ``np.random.default_rng(seed)``: the one rule the
    experiments, the command line and the explorer share. ``None`` passes through."""
    if train_labels is None:
        return None
    labels = np.asarray(train_labels)
    rng = np.random.default_rng(check_int(seed, "seed", 0, 2**63 - 1))
    return labels[rng.integers(0, len(labels), size=check_int(n, "n", 0, 10**9))].astype(np.int32)
