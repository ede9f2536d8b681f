r"""Analytic denoisers: the optimal (empirical) one, the paper's error-prone δ model, guidance,
and an exact Gaussian denoiser for testing samplers.

Optimal denoiser of the empirical training set ``{y_i}`` (Kollmann & Kaiser, DESIGN §4.1)::

    D*(x; σ) = Σ_i w_i y_i,    w = softmax_i(−‖x − y_i‖² / 2σ²)

Class-conditional: the softmax runs over training points that carry the query's label. It is
computed in log space and *streamed*: training points are visited in chunks while a running
maximum ``m``, a running normaliser ``s`` and a running weighted sum ``a`` are rescaled
(``s ← s·e^{m−m'} + Σ e^{l−m'}``), so memory is O(query block × chunk) and a million training
points work. The same pass yields the log-sum-exp (the noisy training mixture's log-density)
and the largest posterior weight (localisation), which the trajectory metrics use.

Error-prone denoiser (DESIGN §4.2): the exact denoiser of the Gaussian-smoothed data
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
    d = xq.shape[1]
    if d <= 16:
        # Written out per coordinate: exact for near-coincident points and faster than a matmul.
        out = (xq[:, None, 0] - yc[None, :, 0]) ** 2
        for k in range(1, d):
            out = out + (xq[:, None, k] - yc[None, :, k]) ** 2
        return out
    # High dimension (images): the expansion with a matmul, clamped at zero.
    x2 = jnp.sum(xq * xq, axis=1)[:, None]
    y2 = jnp.sum(yc * yc, axis=1)[None, :]
    return jnp.maximum(x2 + y2 - 2.0 * jnp.matmul(xq, yc.T, precision=_HIGHEST), 0.0)


#: At most this many training chunks are unrolled inside one query block. XLA's CPU backend runs
#: a loop nested inside another loop several times slower than straight-line code (measured here:
#: 670 vs 165 cpu-ms for 20,000 × 4,096), so the chunk loop is unrolled and chunks grow with N;
#: beyond ``MAX_UNROLLED_CHUNKS × MAX_CHUNK`` points a ``lax.scan`` takes over.
MAX_UNROLLED_CHUNKS = 32
#: Full float32 matmuls (GPUs would otherwise use TF32 and lose the float64-level exactness).
_HIGHEST = jax.lax.Precision.HIGHEST
MAX_CHUNK = 1 << 16


def posterior_stream(
    x: jax.Array,
    sigma: jax.Array,
    train_x: jax.Array,
    train_labels: jax.Array | None,
    query_labels: jax.Array | None,
    *,
    chunk: int = 4096,
    query_block: int = 64,
) -> PosteriorStats:
    """Streamed optimal-denoiser statistics (pure JAX, jit-friendly).

    x: ``(n, d)`` queries; sigma: ``(n,)``; train_x: ``(N, d)``; train_labels: ``(N,)`` or None;
    query_labels: ``(n,)`` (``ANY_LABEL`` entries use every point) or None.

    Queries run in blocks of ``query_block`` (``lax.map``); within a block the training set is
    visited in chunks with a running max ``m`` and running sums ``[Σ p, Σ p·y]`` rescaled by
    ``e^{m − m'}``. The sums are one matmul ``p @ [1 | y]`` per chunk. Memory per block is
    ``query_block × chunk`` floats.
    """
    n, d = x.shape
    big_n = train_x.shape[0]
    chunk = int(min(chunk, big_n))
    if -(-big_n // chunk) > MAX_UNROLLED_CHUNKS:
        chunk = int(min(-(-big_n // MAX_UNROLLED_CHUNKS), MAX_CHUNK))
    n_chunks = -(-big_n // chunk)
    pad = n_chunks * chunk - big_n
    masked = train_labels is not None or pad > 0
    # Training labels: -2 marks padding (never eligible); unconditional data all 0.
    tl = jnp.zeros((big_n,), jnp.int32) if train_labels is None else train_labels.astype(jnp.int32)
    y = jnp.concatenate([train_x.astype(jnp.float32), jnp.zeros((pad, d), jnp.float32)])
    y_aug = jnp.concatenate([jnp.ones((big_n + pad, 1), jnp.float32), y], axis=1)
    tl = jnp.concatenate([tl, jnp.full((pad,), -2, jnp.int32)])
    y_chunks = y_aug.reshape(n_chunks, chunk, d + 1)
    tl_chunks = tl.reshape(n_chunks, chunk)

    ql = (
        jnp.full((n,), ANY_LABEL, jnp.int32)
        if query_labels is None
        else query_labels.astype(jnp.int32)
    )
    inv_two_var = 0.5 / jnp.maximum(sigma.astype(jnp.float32), SIGMA_FLOOR) ** 2

    def one_block(args):
        xq, iv, lq = args

        def step(carry, chunk_data):
            m, acc = carry
            ya, tc = chunk_data
            logits = -_sq_dists(xq, ya[:, 1:]) * iv[:, None]
            if masked:
                eligible = (tc[None, :] >= 0) & (
                    (lq[:, None] == ANY_LABEL) | (tc[None, :] == lq[:, None])
                )
                logits = jnp.where(eligible, logits, -jnp.inf)
            m_new = jnp.maximum(m, jnp.max(logits, axis=1))
            m_safe = jnp.where(jnp.isfinite(m_new), m_new, 0.0)
            alpha = jnp.exp(m - m_safe)
            # XLA recomputes the logits separately for the max and for the exp (with different
            # FMA contraction), so at |logit| ≫ 1 (tiny σ, far queries) `logits − m` can be off
            # by a few ulps of m: e^{+58} overflowed to inf/NaN, e^{−200} dropped the nearest
            # point. Logits within that rounding noise of the max count as the max (weight 1).
            diff = logits - m_safe[:, None]
            tie = diff >= -_TIE_ULPS * jnp.abs(m_safe)[:, None]
            p = jnp.where(tie, 1.0, jnp.exp(jnp.minimum(diff, 0.0)))
            acc = acc * alpha[:, None] + jnp.matmul(p, ya, precision=_HIGHEST)
            return (m_new, acc), None

        q = xq.shape[0]
        carry = (jnp.full((q,), -jnp.inf, jnp.float32), jnp.zeros((q, d + 1), jnp.float32))
        if n_chunks <= MAX_UNROLLED_CHUNKS:
            for c in range(n_chunks):
                carry, _ = step(carry, (y_chunks[c], tl_chunks[c]))
        else:
            carry, _ = jax.lax.scan(step, carry, (y_chunks, tl_chunks))
        m, acc = carry
        s = acc[:, 0]
        ok = s > 0
        denoised = jnp.where(ok[:, None], acc[:, 1:] / jnp.where(ok, s, 1.0)[:, None], xq)
        m_safe = jnp.where(jnp.isfinite(m), m, 0.0)
        lse = jnp.where(ok, m_safe + jnp.log(jnp.where(ok, s, 1.0)), -jnp.inf)
        return denoised, lse, m

    if n <= query_block:
        return PosteriorStats(*one_block((x, inv_two_var, ql)))
    n_blocks = -(-n // query_block)
    qpad = n_blocks * query_block - n
    xb = jnp.concatenate([x, jnp.zeros((qpad, d), x.dtype)]).reshape(n_blocks, query_block, d)
    ivb = jnp.concatenate([inv_two_var, jnp.ones((qpad,), jnp.float32)]).reshape(
        n_blocks, query_block
    )
    lb = jnp.concatenate([ql, jnp.full((qpad,), ANY_LABEL, jnp.int32)]).reshape(
        n_blocks, query_block
    )
    den, lse, m = jax.lax.map(one_block, (xb, ivb, lb))
    return PosteriorStats(den.reshape(-1, d)[:n], lse.reshape(-1)[:n], m.reshape(-1)[:n])


def _flatten_points(x: jax.Array) -> jax.Array:
    return x.reshape(x.shape[0], -1)


@pytree_class(
    dynamic=("train_x", "train_labels", "class_counts"),
    static=("event_shape", "chunk", "query_block"),
)
class OptimalDenoiser(Denoiser):
    """The closed-form optimal denoiser of the empirical training set (it memorises).

    Args:
      train_x: ``(N, d)`` training points (or ``(N, H, W, C)`` images).
      train_labels: optional ``(N,)`` ints; with labels, a query's softmax runs only over
        training points of its label (labels=None at call time still uses every point).
      chunk: training points per streamed chunk; query_block: queries per block.

    Example::

        >>> import numpy as np, toyflow
        >>> D = toyflow.OptimalDenoiser(np.array([[0., 0.], [10., 0.]]))
        >>> np.asarray(D(np.array([[1., 0.]]), 1e-3)).round(3)
        array([[0., 0.]], dtype=float32)
    """

    def __init__(self, train_x, train_labels=None, *, chunk: int = 4096, query_block: int = 64):
        x = np.asarray(train_x)
        if x.ndim == 2:
            arr = as_points(x, "train_x")
        elif x.ndim >= 3:
            arr = as_points(x, "train_x", event_shape=tuple(x.shape[1:]))
        else:
            raise ValueError(f"train_x must have shape (N, d) or (N, H, W, C), got shape {x.shape}")
        self.event_shape = tuple(int(s) for s in arr.shape[1:])
        self.chunk = check_int(chunk, "chunk", 1, 1 << 22)
        self.query_block = check_int(query_block, "query_block", 1, 1 << 20)
        self.train_x = jnp.asarray(arr)
        if train_labels is None:
            self.train_labels = None
            self.class_counts = None
        else:
            lab = as_labels(train_labels, arr.shape[0], "train_labels")
            self.train_labels = jnp.asarray(lab)
            self.class_counts = jnp.asarray(np.bincount(lab).astype(np.int32))

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
        shape = (-1,) + (1,) * (x.ndim - 1)
        return w_x.reshape(shape) * x + w_smooth.reshape(shape) * smoothed

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
        gain = self.eigvals[None, :] / (self.eigvals[None, :] + sigma[:, None] ** 2)
        return self.mean + (z * gain) @ self.eigvecs.T


def posterior_stats(optimal: OptimalDenoiser, x, sigma, labels=None) -> PosteriorStats:
    """Validated wrapper of :meth:`OptimalDenoiser.posterior` for NumPy/JAX input."""
    xs = as_points(x, "x", dim=optimal.dim)
    s = as_sigma(sigma, xs.shape[0])
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
