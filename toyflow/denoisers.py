r"""Analytic denoisers: the optimal (empirical) one, the paper's error-prone δ model, guidance,
and an exact Gaussian denoiser for testing samplers.

Optimal denoiser of the empirical training set ``{y_i}`` (Kollmann & Kaiser 2026)::

    D*(x; σ) = Σ_i w_i y_i,    w = softmax_i(−‖x − y_i‖² / 2σ²)

Class-conditional: the softmax runs over training points that carry the query's label. It is
computed in log space and *streamed*: training points are visited in chunks while a running
maximum ``m``, a running normaliser ``s`` and a running weighted sum ``a`` are rescaled
(``s ← s·e^{m−m'} + Σ e^{l−m'}``), so memory is O(query block × chunk) and a million training
points work. The tiling is chosen per backend and problem size (:func:`choose_blocking`), and
the arithmetic runs in the training set's normalised frame (:func:`data_frame`). The same pass
yields the log-sum-exp (the noisy training mixture's log-density)
and the largest posterior weight (localisation), which the trajectory metrics use.

Error-prone denoiser (the paper's analytic model error δ): the exact denoiser of the Gaussian-smoothed data
``P̂ ∗ N(0, δ² I)``::

    y_δ(x, σ) = (δ² x + σ² D*(x; √(σ² + δ²))) / (σ² + δ²)

Guidance: ``D_pos + w (D_pos − D_neg)``; classifier-free when ``D_neg`` is the unconditional
version of ``D_pos``, autoguidance when ``D_neg`` is a worse model.

Gaussian: for data ``N(μ, Σ)`` the exact denoiser is ``μ + Σ (Σ + σ² I)⁻¹ (x − μ)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from toyflow._denoiser import Denoiser, Unconditional, broadcast_sigma, pytree_class
from toyflow._validation import as_labels, as_points, as_sigma, check_float, check_int, is_traced

#: Below this σ the optimal denoiser returns the nearest training point; clamping keeps
#: ``σ²`` a normal float32 so the logits never become NaN.
SIGMA_FLOOR = 1e-12

ANY_LABEL = -1  # query label meaning "softmax over every training point"

#: Logits within this relative distance of the running max (8 float32 ulps) are float32 ties.
_TIE_ULPS = 8.0 * float(np.finfo(np.float32).eps)


class PosteriorStats(NamedTuple):
    """One streamed pass over the training set for queries ``x (n, d)`` at ``σ (n,)``.

    denoised:   ``D*(x; σ)``, shape ``(n, d)``.
    logsumexp:  ``log Σ_i exp(−‖x − y_i‖² / 2σ²)`` over the eligible points, ``(n,)``.
    max_logit:  ``max_i −‖x − y_i‖² / 2σ²`` (so the nearest distance is ``√(−2σ² max_logit)``).
    """

    denoised: jax.Array
    logsumexp: jax.Array
    max_logit: jax.Array

    @property
    def max_weight(self) -> jax.Array:
        """The optimal posterior's largest weight (1 = fully localised on one training point)."""
        return jnp.exp(self.max_logit - self.logsumexp)


def _sq_dists(xq: jax.Array, yc: jax.Array) -> jax.Array:
    """Squared distances ``(q, c)`` between query rows and chunk rows, flattened to vectors."""
    if xq.shape[1] <= LOW_DIM:
        return _direct_sq_dists(xq, yc)
    return _matmul_sq_dists(xq, yc, jnp.sum(yc * yc, axis=1), _HIGHEST)


def _direct_sq_dists(xq: jax.Array, yc: jax.Array) -> jax.Array:
    """``Σ_k (x_k − y_k)²`` written out per coordinate: exact for near-coincident points, and
    faster than a matmul in low dimension."""
    out = (xq[:, None, 0] - yc[None, :, 0]) ** 2
    for k in range(1, xq.shape[1]):
        out = out + (xq[:, None, k] - yc[None, :, k]) ** 2
    return out


def _matmul_sq_dists(xq, yc, y2, precision) -> jax.Array:
    """``‖x‖² + ‖y‖² − 2 x·y`` with one matmul, clamped at zero. Its rounding error is about
    ``ε·(‖x‖² + ‖y‖²)``, so callers pass coordinates relative to the training set's centre."""
    x2 = jnp.sum(xq * xq, axis=1)[:, None]
    return jnp.maximum(x2 + y2[None, :] - 2.0 * jnp.matmul(xq, yc.T, precision=precision), 0.0)


#: Dimensions up to this use the per-coordinate distance form; above it (images) the matmul form.
LOW_DIM = 16
#: At most this many training chunks are unrolled inside one query block. XLA's CPU backend runs
#: a loop nested inside another loop several times slower than straight-line code (measured here:
#: 670 vs 165 cpu-ms for 20,000 × 4,096), so in low dimension the chunk loop is unrolled and chunks
#: grow with N; beyond ``MAX_UNROLLED_CHUNKS × MAX_CHUNK`` points a loop takes over.
MAX_UNROLLED_CHUNKS = 32
#: Full float32 matmuls (GPUs would otherwise use TF32 and lose the float64-level exactness).
_HIGHEST = jax.lax.Precision.HIGHEST
MAX_CHUNK = 1 << 16
#: Beyond this many units of ``−log`` weight a term is below float32's smallest normal number
#: (e^−87 ≈ 1.6e−38): it is set to zero rather than computed as a slow subnormal.
_EXP_CUTOFF = 87.0
#: Accelerators: elements in one (query block × chunk) tile; fused reductions never store it.
_ACCEL_TILE = 1 << 26


class Blocking(NamedTuple):
    """How :func:`posterior_stream` tiles its (queries × training points) work.

    query_block: queries per block (blocks run one after another under ``lax.map``).
    chunk:       training points per chunk (a running log-sum-exp carries across chunks).
    distances:   ``"direct"`` writes ``Σ_k (x_k − y_k)²`` out per coordinate (exact, low d);
                 ``"matmul"`` uses ``‖x‖² + ‖y‖² − 2 x·y`` (images: one matmul per chunk).
    sums:        ``"matmul"``: the weighted sums ``Σ_j p_ij [1, y_j]`` as ``p @ [1 | Y]`` (CPU,
                 images); ``"reduce"``: as one fused reduction that never stores ``p`` (GPU, low d).
    unroll:      chunks written out in straight-line code; more chunks run in a ``fori_loop``.
    precision:   matmul precision (``"highest"`` keeps float32 exactness; ``"default"`` lets a
                 GPU use TF32/bf16 passes).
    """

    query_block: int
    chunk: int
    distances: str
    sums: str
    unroll: int = MAX_UNROLLED_CHUNKS
    precision: str = "highest"


def choose_blocking(
    n: int,
    num_train: int,
    dim: int,
    backend: str | None = None,
    *,
    chunk: int | None = None,
    query_block: int | None = None,
) -> Blocking:
    """The tiling for ``n`` queries against ``num_train`` points in ``dim`` dimensions.

    ``backend`` (``"cpu"``, ``"gpu"``, ``"tpu"``; default ``jax.default_backend()``) picks the
    tile shapes; explicit ``chunk`` / ``query_block`` override them.

    - CPU, low d: blocks of 64 queries, chunks of 2,048 points unrolled (a tile of 512 KiB stays
      in L2 cache; the weighted sums are one small matmul per chunk).
    - CPU, images: the matmul distance form, 256 queries × 1,024 points per tile.
    - GPU/TPU, low d: every query in one block and chunks as large as a 2²⁶-element tile; the
      sums are fused reductions, so no tile is ever stored (the per-block loop and small tiles
      that suit a CPU left an H200 slower than a naive dense softmax).
    - GPU/TPU, images: the matmul form, up to 2,048 queries × 4,096 points per tile.
    """
    backend = backend or jax.default_backend()
    n = max(int(n), 1)
    num_train = max(int(num_train), 1)
    low = dim <= LOW_DIM
    if backend == "cpu":
        qb, ch = (64, 2048) if low else (256, 1024)
        sums = "matmul"
    else:
        qb = min(n, 8192) if low else min(n, 2048)
        ch = max(_ACCEL_TILE // qb, 1024) if low else 4096
        sums = "reduce" if low else "matmul"
    qb = min(int(query_block or qb), n)
    ch = min(int(chunk or ch), num_train)
    if low and -(-num_train // ch) > MAX_UNROLLED_CHUNKS:
        ch = int(min(-(-num_train // MAX_UNROLLED_CHUNKS), MAX_CHUNK))
    return Blocking(qb, ch, "direct" if low else "matmul", sums, MAX_UNROLLED_CHUNKS)


def data_frame(train_x) -> tuple[np.ndarray, float]:
    """Centre (the mean, float64-accurate) and scale of a training set, for normalised coordinates.

    The optimal denoiser commutes with shifts and scalings, ``D*_X(x, σ) = c + s·D*_{(X−c)/s}(
    (x−c)/s, σ/s)``, so the stream computes at unit scale around the data's centre: coordinates
    near 1e15 or 1e−15 give the same answer as near 1, and the matmul distance form loses no
    precision to a large common offset. The scale is the power of two nearest the largest
    per-point RMS distance from the centre (1 when every point is the same): dividing by a power
    of two is exact, so at tiny σ the nearest training point comes back bit for bit.
    """
    y = np.asarray(train_x)
    y = y.reshape(y.shape[0], -1)
    centre: np.ndarray = np.asarray(np.mean(y, axis=0, dtype=np.float64))
    spread = 0.0
    for start in range(0, y.shape[0], 4096):  # in blocks: no float64 copy of an image set
        dev = y[start : start + 4096].astype(np.float64) - centre
        spread = max(spread, float(np.max(np.mean(dev * dev, axis=1))))
    spread = float(np.sqrt(spread))
    if not (spread > 0 and np.isfinite(spread)):
        return centre.astype(np.float32), 1.0
    return centre.astype(np.float32), 2.0 ** min(max(round(math.log2(spread)), -120), 120)


def posterior_stream(
    x: jax.Array,
    sigma: jax.Array,
    train_x: jax.Array,
    train_labels: jax.Array | None,
    query_labels: jax.Array | None,
    *,
    chunk: int | None = None,
    query_block: int | None = None,
    centre: jax.Array | None = None,
    scale: jax.Array | None = None,
    blocking: Blocking | None = None,
) -> PosteriorStats:
    """Streamed optimal-denoiser statistics (pure JAX, jit-friendly).

    x: ``(n, d)`` queries; sigma: ``(n,)``; train_x: ``(N, d)``; train_labels: ``(N,)`` or None;
    query_labels: ``(n,)`` (``ANY_LABEL`` entries use every point) or None. ``centre`` ``(d,)``
    and ``scale`` (see :func:`data_frame`; default: the training mean and 1) set the normalised
    frame the arithmetic runs in. ``blocking`` (default :func:`choose_blocking` for this backend,
    with ``chunk`` / ``query_block`` as overrides) sets the tiling; every tiling gives the same
    result up to float32 rounding.

    Queries run in blocks (``lax.map``); within a block the training set is visited in chunks
    with a running minimum squared distance ``m`` and running sums ``[Σ p, Σ p·y]`` of the
    weights ``p = e^{−(‖x−y‖² − m)/2σ²}``, rescaled by ``e^{−(m − m')/2σ²}`` when ``m`` drops.
    Memory per block is ``query_block × chunk`` floats; the training set is never copied.
    """
    n, d = x.shape
    big_n = train_x.shape[0]
    plan = blocking or choose_blocking(n, big_n, d, chunk=chunk, query_block=query_block)
    qb, ch = max(1, min(plan.query_block, n)), max(1, min(plan.chunk, big_n))
    precision = _HIGHEST if plan.precision == "highest" else None
    f32 = jnp.float32
    c = jnp.mean(train_x.astype(f32), axis=0) if centre is None else centre.astype(f32)
    inv_s = 1.0 / jnp.asarray(1.0 if scale is None else scale, f32)
    masked = train_labels is not None
    tl = None if train_labels is None else train_labels.astype(jnp.int32)
    ql = (
        jnp.full((n,), ANY_LABEL, jnp.int32)
        if query_labels is None
        else query_labels.astype(jnp.int32)
    )
    direct = plan.distances == "direct"
    if direct and d > LOW_DIM:
        raise ValueError(
            f"direct distances are written out per coordinate: d <= {LOW_DIM}, got {d}"
        )
    # Distances: the per-coordinate form subtracts coordinates directly and needs only the scale
    # (a power of two: exact); the matmul form also subtracts the centre, so that ‖x‖² and ‖y‖²
    # stay small beside ‖x − y‖². Weighted sums run on Y/s, so a one-hot weight returns a
    # training point exactly.
    x_raw = x.astype(f32)
    xn = x_raw * inv_s if direct else (x_raw - c) * inv_s
    sn = sigma.astype(f32) * inv_s
    inv_two_var = 0.5 / jnp.maximum(sn, SIGMA_FLOOR) ** 2
    # Low d: [1 | Y/s] built once, so the chunk sums are one product p @ [1 | Y/s]. It is stored
    # coordinate-major, (d+1) × N, so each coordinate of a chunk is a contiguous row (vector
    # loads; measured 7–9% faster on a CPU than point-major rows). Images: chunks are scaled as
    # they are read, so the training set is never copied.
    src = (
        jnp.concatenate([jnp.ones((big_n, 1), f32), train_x.astype(f32) * inv_s], axis=1).T
        if direct
        else train_x
    )
    axis = 1 if direct else 0

    def read(start, size, traced):
        rows = (
            jax.lax.dynamic_slice_in_dim(src, start, size, axis=axis)
            if traced
            else jax.lax.slice_in_dim(src, start, start + size, axis=axis)
        )
        lab = None
        if masked:
            lab = (
                jax.lax.dynamic_slice_in_dim(tl, start, size)
                if traced
                else jax.lax.slice_in_dim(tl, start, start + size)
            )
        return rows, lab

    def one_block(args):
        xq, iv, lq = args
        q = xq.shape[0]
        x2 = None if direct else jnp.sum(xq * xq, axis=1)

        def step(carry, yc, tc):
            m, acc_s, acc_y = carry
            if direct:
                d2 = (xq[:, None, 0] - yc[None, 1, :]) ** 2
                for k in range(1, d):
                    d2 = d2 + (xq[:, None, k] - yc[None, k + 1, :]) ** 2
            else:
                rows = yc.astype(f32)
                yc = (rows - c) * inv_s
                y2 = jnp.sum(yc * yc, axis=1)
                dot = jnp.matmul(xq, yc.T, precision=precision)
                # ‖x − y‖² − ‖x‖²: the query's own ‖x‖² is common to its whole softmax, and
                # leaving it out keeps the rounding at the scale of ‖y‖², not ‖x‖² (at large σ,
                # ‖x‖² ≫ ‖y‖²). It is added back for the max logit and the log-sum-exp.
                d2 = y2[None, :] - 2.0 * dot
                yc = rows * inv_s
            if tc is not None:
                eligible = (lq[:, None] == ANY_LABEL) | (tc[None, :] == lq[:, None])
                d2 = jnp.where(eligible, d2, jnp.inf)
            m_new = jnp.minimum(m, jnp.min(d2, axis=1))
            shift = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
            # m ≥ m_new, so the rescale factor is ≤ 1; nothing was summed while m was +inf.
            alpha = jnp.where(jnp.isfinite(m), jnp.exp(-(m - shift) * iv), 0.0)
            # XLA may compute d² separately for the minimum and here (with different FMA
            # contraction), so distances within that rounding noise of the minimum count as the
            # minimum (weight 1): at tiny σ, far queries could otherwise lose the nearest point.
            excess = d2 - shift[:, None]
            if direct:
                tie = excess <= _TIE_ULPS * shift[:, None]
            else:  # the rounding of ‖y‖² − 2x·y is relative to ‖y‖² and |shift|
                tie = excess <= _TIE_ULPS * (y2[None, :] + jnp.abs(shift)[:, None])
            t = jnp.maximum(excess, 0.0) * iv[:, None]
            p = jnp.where(tie, 1.0, jnp.where(t < _EXP_CUTOFF, jnp.exp(-t), 0.0))
            if plan.sums == "reduce":
                pts = yc.T if direct else yc
                sums = jnp.sum(p[:, :, None] * pts[None, :, :], axis=1)
                if direct:
                    s_new, y_new = sums[:, 0], sums[:, 1:]
                else:
                    s_new, y_new = jnp.sum(p, axis=1), sums
            elif direct:  # p @ [1 | Y/s], with the chunk stored coordinate-major
                dims = (((1,), (1,)), ((), ()))
                sums = jax.lax.dot_general(p, yc, dims, precision=_HIGHEST)
                s_new, y_new = sums[:, 0], sums[:, 1:]
            else:
                s_new = jnp.sum(p, axis=1)
                y_new = jnp.matmul(p, yc, precision=precision)
            return (m_new, acc_s * alpha + s_new, acc_y * alpha[:, None] + y_new)

        carry = (
            jnp.full((q,), jnp.inf, f32),
            jnp.zeros((q,), f32),
            jnp.zeros((q, d), f32),
        )
        n_full, rest = divmod(big_n, ch)
        if n_full + (rest > 0) <= plan.unroll:
            for i in range(n_full):
                carry = step(carry, *read(i * ch, ch, False))
        else:
            carry = jax.lax.fori_loop(
                0, n_full, lambda i, cr: step(cr, *read(i * ch, ch, True)), carry
            )
        if rest:
            carry = step(carry, *read(n_full * ch, rest, False))
        m, s, acc = carry
        ok = s > 0
        denoised = acc / jnp.where(ok, s, 1.0)[:, None]
        nearest = m if direct else jnp.maximum(m + x2, 0.0)
        max_logit = jnp.where(jnp.isfinite(m), -nearest * iv, -jnp.inf)
        lse = jnp.where(ok, max_logit + jnp.log(jnp.where(ok, s, 1.0)), -jnp.inf)
        return denoised, lse, max_logit, ok

    if n <= qb:
        den, lse, mlog, ok = one_block((xn, inv_two_var, ql))
    else:
        n_blocks = -(-n // qb)
        qpad = n_blocks * qb - n
        xb = jnp.concatenate([xn, jnp.zeros((qpad, d), f32)]).reshape(n_blocks, qb, d)
        ivb = jnp.concatenate([inv_two_var, jnp.ones((qpad,), f32)]).reshape(n_blocks, qb)
        lb = jnp.concatenate([ql, jnp.full((qpad,), ANY_LABEL, jnp.int32)]).reshape(n_blocks, qb)
        den, lse, mlog, ok = jax.lax.map(one_block, (xb, ivb, lb))
        den, lse, mlog, ok = (
            den.reshape(-1, d)[:n],
            lse.reshape(-1)[:n],
            mlog.reshape(-1)[:n],
            ok.reshape(-1)[:n],
        )
    # Back from the normalised frame (D = s·D'). Queries with no eligible point return x.
    return PosteriorStats(jnp.where(ok[:, None], den / inv_s, x_raw), lse, mlog)


#: Queries farther than this many training-set scales from the training centre, at a σ below that
#: distance, are refused: float32 squared distances there no longer resolve the training points.
FAR_QUERY = 1e6


def _check_far_queries(x, sigma, centre, scale: float) -> None:
    x = np.asarray(x, np.float64)
    x = x.reshape(x.shape[0], -1)
    sig = np.abs(np.asarray(sigma, np.float64)).reshape(-1)
    if x.shape[1] != centre.shape[0] or sig.shape[0] not in (1, x.shape[0]):
        return  # wrong shapes: the caller's validation reports them
    with np.errstate(over="ignore", invalid="ignore"):
        dist = np.sqrt(np.max((x - centre) ** 2, axis=1)) / scale
    sig = np.broadcast_to(sig, (x.shape[0],))
    bad = (dist > FAR_QUERY) & (sig / scale < dist)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"query {i} lies {dist[i]:.3g} training-set scales ({scale:.3g}) from the training "
            f"data at σ = {sig[i]:.3g}: float32 cannot resolve the training points from that far "
            f"(limit {FAR_QUERY:g} scales unless σ exceeds the distance); move the queries nearer"
        )


def _check_float32_resolution(original, stored, centre, scale: float) -> None:
    """Refuse training sets whose float32 copy has lost their shape (e.g. a spread of 1 around an
    offset of 1e15, where float32's spacing is 1e8)."""
    orig = np.asarray(original)
    if orig.dtype == np.float32 or not np.issubdtype(orig.dtype, np.number):
        return
    orig = orig.reshape(orig.shape[0], -1)
    if orig.shape[0] < 2 or orig.size > (1 << 24):
        return
    exact = orig.astype(np.float64)
    spread64 = float(np.sqrt(np.max(np.mean((exact - exact.mean(axis=0)) ** 2, axis=1))))
    if spread64 == 0.0:
        return
    err = float(np.max(np.abs(np.asarray(stored, np.float64).reshape(exact.shape) - exact)))
    if err > 1e-3 * spread64:
        raise ValueError(
            f"train_x does not survive float32: its points spread {spread64:.3g} around an offset "
            f"of {float(np.max(np.abs(centre))):.3g}, and rounding to float32 moves them by "
            f"{err:.3g}; subtract the offset (or rescale) before building the denoiser"
        )


def _flatten_points(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)


@pytree_class(
    dynamic=("train_x", "train_labels", "class_counts", "centre", "scale"),
    static=("event_shape", "chunk", "query_block"),
)
class OptimalDenoiser(Denoiser):
    """The closed-form optimal denoiser of the empirical training set (it memorises).

    Args:
      train_x: ``(N, d)`` training points (or ``(N, H, W, C)`` images).
      train_labels: optional ``(N,)`` ints; with labels, a query's softmax runs only over
        training points of its label (labels=None at call time still uses every point).
      chunk: training points per streamed chunk; query_block: queries per block (default: chosen
        per backend and problem size by :func:`choose_blocking`; every choice gives the same D*).

    The stream runs in the training set's normalised frame (see :func:`data_frame`), so the
    result is right at any finite coordinate scale, 1e−15 as well as 1e15.

    Example::

        >>> import numpy as np, toyflow
        >>> D = toyflow.OptimalDenoiser(np.array([[0., 0.], [10., 0.]]))
        >>> np.asarray(D(np.array([[1., 0.]]), 1e-3)).round(3)
        array([[0., 0.]], dtype=float32)
    """

    def __init__(
        self,
        train_x,
        train_labels=None,
        *,
        chunk: int | None = None,
        query_block: int | None = None,
    ):
        x = np.asarray(train_x)
        if x.ndim == 2:
            arr = as_points(x, "train_x")
        elif x.ndim >= 3:
            arr = as_points(x, "train_x", event_shape=tuple(x.shape[1:]))
        else:
            raise ValueError(f"train_x must have shape (N, d) or (N, H, W, C), got shape {x.shape}")
        self.event_shape = tuple(int(s) for s in arr.shape[1:])
        self.chunk = None if chunk is None else check_int(chunk, "chunk", 1, 1 << 22)
        self.query_block = (
            None if query_block is None else check_int(query_block, "query_block", 1, 1 << 20)
        )
        self.train_x = jnp.asarray(arr)
        centre, scale = data_frame(arr)
        _check_float32_resolution(x, arr, centre, scale)
        self.centre = jnp.asarray(centre)
        self.scale = jnp.float32(scale)
        if train_labels is None:
            self.train_labels = None
            self.class_counts = None
        else:
            lab = as_labels(train_labels, arr.shape[0], "train_labels")
            self.train_labels = jnp.asarray(lab)
            self.class_counts = jnp.asarray(np.bincount(np.asarray(lab)).astype(np.int32))

    @property
    def num_train(self) -> int:
        return int(self.train_x.shape[0])

    @property
    def num_classes(self):
        return None if self.class_counts is None else int(self.class_counts.shape[0])

    def check_labels(self, labels, n):
        if labels is None:
            return None
        if self.class_counts is None:
            raise ValueError(
                "this OptimalDenoiser was built without train_labels, so it takes labels=None"
            )
        counts = np.asarray(self.class_counts)
        return as_labels(labels, n, allowed=np.flatnonzero(counts > 0))

    def check_queries(self, x: np.ndarray, sigma: np.ndarray) -> None:
        """Raise ``ValueError`` for queries float32 cannot denoise (see :data:`FAR_QUERY`)."""
        _check_far_queries(x, sigma, np.asarray(self.centre), float(self.scale))

    def __call__(self, x, sigma, labels=None):
        if not (is_traced(x) or is_traced(sigma)):
            xs, s = np.asarray(x), np.asarray(sigma)
            # Real, finite input of a plausible shape; anything else is reported by validation.
            if xs.ndim >= 2 and xs.shape[0] and xs.dtype.kind in "fiu" and s.dtype.kind in "fiu":
                if np.all(np.isfinite(xs)):
                    self.check_queries(xs.reshape(xs.shape[0], -1), s)
        return super().__call__(x, sigma, labels)

    def posterior(self, x, sigma, labels=None) -> PosteriorStats:
        """Streamed statistics (see :class:`PosteriorStats`) for flattened queries (pure JAX)."""
        n = x.shape[0]
        return posterior_stream(
            _flatten_points(x),
            broadcast_sigma(sigma, n),
            _flatten_points(self.train_x),
            self.train_labels,
            None if self.train_labels is None else labels,
            chunk=self.chunk,
            query_block=self.query_block,
            centre=self.centre,
            scale=self.scale,
        )

    def denoise(self, x, sigma, labels):
        return self.posterior(x, sigma, labels).denoised.reshape(x.shape)

    def unconditional(self) -> OptimalDenoiser:
        return OptimalDenoiser(self.train_x, None, chunk=self.chunk, query_block=self.query_block)

    def __repr__(self) -> str:
        lab = "" if self.class_counts is None else f", {self.num_classes} classes"
        return f"OptimalDenoiser({self.num_train} points in {self.event_shape}{lab})"


@pytree_class(dynamic=("optimal", "delta"), static=())
class ErrorProneDenoiser(Denoiser):
    """The paper's analytic model error: the exact denoiser of the data smoothed by ``N(0, δ²I)``.

    ``y_δ(x, σ) = (δ² x + σ² D*(x; √(σ²+δ²))) / (σ² + δ²)``; δ = 0 gives the optimal denoiser.
    δ is a pytree leaf, so a δ slider never recompiles.
    """

    def __init__(self, train_x, delta, train_labels=None, **kwargs):
        if isinstance(train_x, OptimalDenoiser):
            self.optimal = train_x
        else:
            self.optimal = OptimalDenoiser(train_x, train_labels, **kwargs)
        if is_traced(delta):
            self.delta = delta
        else:
            self.delta = jnp.float32(check_float(delta, "delta", 0.0))

    @property
    def event_shape(self):  # type: ignore[override]
        return self.optimal.event_shape

    @property
    def train_x(self):
        return self.optimal.train_x

    @property
    def train_labels(self):
        return self.optimal.train_labels

    @property
    def num_classes(self):
        return self.optimal.num_classes

    def check_labels(self, labels, n):
        return self.optimal.check_labels(labels, n)

    def denoise(self, x, sigma, labels):
        delta = jnp.abs(jnp.asarray(self.delta, jnp.float32))
        # δ²/(σ²+δ²) and σ²/(σ²+δ²) from r = min(σ, δ)/max(σ, δ) ≤ 1, so that σ² never
        # overflows (σ = 1e30 gave inf/inf = NaN) or underflows.
        big = jnp.maximum(sigma, delta)
        r2 = jnp.square(jnp.minimum(sigma, delta) / big)
        near, far = 1.0 / (1.0 + r2), r2 / (1.0 + r2)
        sigma_wins = sigma >= delta
        w_x = jnp.where(sigma_wins, far, near)  # δ²/(σ²+δ²)
        w_smooth = jnp.where(sigma_wins, near, far)  # σ²/(σ²+δ²)
        smoothed = self.optimal.denoise(x, big * jnp.sqrt(1.0 + r2), labels)  # √(σ²+δ²)
        n, nd = x.shape[0], x.ndim
        return broadcast_sigma(w_x, n, nd) * x + broadcast_sigma(w_smooth, n, nd) * smoothed

    def unconditional(self) -> ErrorProneDenoiser:
        return ErrorProneDenoiser(self.optimal.unconditional(), self.delta)

    def __repr__(self) -> str:
        return f"ErrorProneDenoiser(delta={float(self.delta):g}, {self.optimal!r})"


@pytree_class(dynamic=("positive", "negative", "w"), static=())
class GuidedDenoiser(Denoiser):
    """Guidance ``D_pos + w (D_pos − D_neg)`` (the weight ``w`` is a leaf: no recompiles).

    Classifier-free guidance: ``negative = positive.unconditional()`` (see :func:`classifier_free`).
    Autoguidance: ``negative`` a worse model — smaller, an earlier snapshot, or a larger δ.
    """

    def __init__(self, positive: Denoiser, negative: Denoiser, w=1.0):
        for name, d in (("positive", positive), ("negative", negative)):
            if not isinstance(d, Denoiser):
                raise ValueError(f"{name} must be a toyflow denoiser, got {type(d).__name__}")
        if tuple(positive.event_shape) != tuple(negative.event_shape):
            raise ValueError(
                f"positive and negative denoisers work on different shapes: "
                f"{positive.event_shape} vs {negative.event_shape}"
            )
        self.positive = positive
        self.negative = negative
        self.w = w if is_traced(w) else jnp.float32(check_float(w, "w", -10.0, 100.0))

    @property
    def event_shape(self):  # type: ignore[override]
        return self.positive.event_shape

    @property
    def num_classes(self):
        return self.positive.num_classes

    def check_labels(self, labels, n):
        lab = self.positive.check_labels(labels, n)
        # An unconditional negative (e.g. OptimalDenoiser.unconditional() in classifier-free
        # guidance) ignores labels; only a conditional one must know them.
        if (
            lab is not None
            and self.negative.num_classes is not None
            and not isinstance(self.negative, Unconditional)
        ):
            self.negative.check_labels(lab, n)
        return lab

    def denoise(self, x, sigma, labels):
        pos = self.positive.denoise(x, sigma, labels)
        neg = self.negative.denoise(x, sigma, labels)
        return pos + jnp.asarray(self.w, jnp.float32) * (pos - neg)

    def __repr__(self) -> str:
        return f"GuidedDenoiser(w={float(self.w):g}, positive={self.positive!r}, negative={self.negative!r})"


def classifier_free(denoiser: Denoiser, w) -> GuidedDenoiser:
    """Classifier-free guidance: the conditional model against its own unconditional version."""
    return GuidedDenoiser(denoiser, denoiser.unconditional(), w)


def autoguidance(good: Denoiser, bad: Denoiser, w) -> GuidedDenoiser:
    """Autoguidance (Karras et al. 2024): guide a model with a worse version of itself."""
    return GuidedDenoiser(good, bad, w)


@pytree_class(dynamic=("mean", "eigvecs", "eigvals"), static=("event_shape",))
class GaussianDenoiser(Denoiser):
    """Exact denoiser of ``N(mean, cov)``: ``μ + Σ (Σ + σ² I)⁻¹ (x − μ)``.

    The probability-flow ODE with this denoiser maps ``N(0, σ_max² I)`` to (nearly) the
    Gaussian itself, which makes it the reference for testing samplers.
    """

    def __init__(self, mean, cov):
        mu = np.asarray(mean, np.float64).reshape(-1)
        c = np.asarray(cov, np.float64)
        if c.shape != (mu.size, mu.size):
            raise ValueError(
                f"cov must have shape ({mu.size}, {mu.size}) to match mean, got {c.shape}"
            )
        if not (np.all(np.isfinite(mu)) and np.all(np.isfinite(c))):
            raise ValueError("mean and cov must be finite")
        if not np.allclose(c, c.T, atol=1e-8 * max(1.0, np.abs(c).max())):
            raise ValueError("cov must be symmetric")
        vals, vecs = np.linalg.eigh(c)
        if vals.min() < -1e-8 * max(1.0, vals.max()):
            raise ValueError("cov must be positive semi-definite")
        self.event_shape = (int(mu.size),)
        self.mean = jnp.asarray(mu, jnp.float32)
        self.eigvecs = jnp.asarray(vecs, jnp.float32)
        self.eigvals = jnp.asarray(np.maximum(vals, 0.0), jnp.float32)

    def denoise(self, x, sigma, labels):
        z = (x - self.mean) @ self.eigvecs
        s = broadcast_sigma(sigma, x.shape[0], 2)
        gain = self.eigvals[None, :] / (self.eigvals[None, :] + s**2)
        return self.mean + (z * gain) @ self.eigvecs.T


def posterior_stats(optimal: OptimalDenoiser, x, sigma, labels=None) -> PosteriorStats:
    """Validated wrapper of :meth:`OptimalDenoiser.posterior` for NumPy/JAX input."""
    xs = as_points(x, "x", dim=optimal.dim)
    s = as_sigma(sigma, xs.shape[0])
    optimal.check_queries(xs, np.asarray(s))
    lab = optimal.check_labels(labels, xs.shape[0])
    return _posterior_jit(
        optimal,
        jnp.asarray(xs),
        broadcast_sigma(s, xs.shape[0]),
        None if lab is None else jnp.asarray(lab),
    )


@jax.jit
def _posterior_jit(optimal, x, sigma, labels):
    return optimal.posterior(x, sigma, labels)


def log_density(stats: PosteriorStats, sigma, num_train: int, dim: int) -> jax.Array:
    """Log-density of the noisy training mixture ``(1/N) Σ_i N(x; y_i, σ² I)`` from stream stats."""
    sigma = jnp.asarray(sigma, jnp.float32)
    return stats.logsumexp - math.log(num_train) - 0.5 * dim * jnp.log(2.0 * jnp.pi * sigma**2)
