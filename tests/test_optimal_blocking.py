"""Every tiling of the streamed optimal denoiser gives the float64 dense D*.

The stream's tiling is chosen per backend and problem size (``choose_blocking``); here each CPU and
GPU choice, and each distance form and sum form, is forced on the CPU and compared with a float64
dense softmax, at sizes whose last query block and last training chunk are partial. Also: the
normalised frame (coordinates near 1e15 or 1e-15 give the right answer) and the clear errors
where float32 cannot be right.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyflow
from toyflow.denoisers import ANY_LABEL, Blocking, choose_blocking, data_frame, posterior_stream

N_TRAIN, N_QUERY = 23, 19  # with blocks of 7 queries and chunks of 5 points, both end partial


def _dense64(x, train, sigma, train_labels=None, labels=None):
    """Float64 dense reference: (D*, logsumexp, max logit); label -1 means every point."""
    x = np.asarray(x, np.float64)
    y = np.asarray(np.asarray(train, np.float32), np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (x.shape[0],))
    logits = -np.sum((x[:, None, :] - y[None]) ** 2, axis=-1) / (2 * sigma[:, None] ** 2)
    if labels is not None:
        lab = np.asarray(labels)[:, None]
        logits = np.where(
            (lab == ANY_LABEL) | (np.asarray(train_labels)[None] == lab), logits, -np.inf
        )
    m = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - m)
    s = w.sum(axis=1, keepdims=True)
    return (w / s) @ y, (m + np.log(s))[:, 0], m[:, 0]


def _rel_err(got, want) -> float:
    return float(np.max(np.abs(np.asarray(got, np.float64) - want)) / np.max(np.abs(want)))


def _problem(dim, n_train=N_TRAIN, n_query=N_QUERY, seed=0):
    """Training points, and queries drawn as noisy training points at a σ where the posterior
    spreads over several points (well conditioned: logits of order ten)."""
    rng = np.random.default_rng(seed)
    train = rng.uniform(-1.0, 1.0, size=(n_train, dim)).astype(np.float32)
    typical = np.sqrt(2 * dim / 3)  # RMS distance between two uniform points
    sigma = (typical / 3 * np.geomspace(0.5, 2.0, n_query)).astype(np.float32)
    pick = rng.integers(n_train, size=n_query)
    x = (train[pick] + sigma[:, None] * rng.normal(size=(n_query, dim)) / np.sqrt(dim) * 2).astype(
        np.float32
    )
    return train, x, sigma


# Forced tilings: each distance form and each sum form, unrolled and looped chunks, and blocks of
# 7 queries × chunks of 5 points, so that the last block and the last chunk are partial.
FORCED = [
    Blocking(7, 5, "direct", "matmul", 32),
    Blocking(7, 5, "direct", "reduce", 1),
    Blocking(7, 5, "matmul", "matmul", 1),
    Blocking(7, 5, "matmul", "reduce", 32),
]


def _plans(n, n_train, dim):
    auto = [choose_blocking(n, n_train, dim, backend) for backend in ("cpu", "gpu")]
    # The per-coordinate form is for low dimension only (it is unrolled over coordinates).
    return auto + [p for p in FORCED if dim <= 16 or p.distances == "matmul"]


_stream = jax.jit(posterior_stream, static_argnames=("blocking",))


@pytest.mark.parametrize("dim", [2, 3072])
@pytest.mark.parametrize("conditional", [False, True])
def test_every_blocking_matches_float64_dense(dim, conditional):
    train, x, sigma = _problem(dim)
    centre, scale = data_frame(train)
    tl = ql = None
    if conditional:
        tl = np.arange(N_TRAIN) % 3
        ql = np.arange(N_QUERY) % 4 - 1  # -1 (ANY_LABEL): the softmax runs over every point
    want, lse, mlog = _dense64(x, train, sigma, tl, ql)
    for plan in _plans(N_QUERY, N_TRAIN, dim):
        got = _stream(
            jnp.asarray(x),
            jnp.asarray(sigma),
            jnp.asarray(train),
            None if tl is None else jnp.asarray(tl),
            None if ql is None else jnp.asarray(ql),
            centre=jnp.asarray(centre),
            scale=jnp.float32(scale),
            blocking=plan,
        )
        assert _rel_err(got.denoised, want) < 1e-5, plan
        np.testing.assert_allclose(np.asarray(got.logsumexp), lse, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(np.asarray(got.max_logit), mlog, rtol=1e-4, atol=1e-4)


def test_automatic_blockings_with_partial_blocks_match_float64():
    """The CPU and GPU choices at a size where each uses several blocks and chunks."""
    train, x, sigma = _problem(2, n_train=5000, n_query=300, seed=1)
    want, _, _ = _dense64(x, train, sigma)
    for backend in ("cpu", "gpu"):
        plan = choose_blocking(300, 5000, 2, backend, chunk=1500 if backend == "gpu" else None)
        assert 300 % plan.query_block or 5000 % plan.chunk  # something is partial
        got = _stream(
            jnp.asarray(x), jnp.asarray(sigma), jnp.asarray(train), None, None, blocking=plan
        )
        assert _rel_err(got.denoised, want) < 1e-5, plan


def test_blocking_choices_per_backend():
    cpu, gpu = (choose_blocking(4096, 20_000, 2, b) for b in ("cpu", "gpu"))
    assert (cpu.distances, cpu.sums) == ("direct", "matmul") and cpu.query_block == 64
    # On an accelerator every query runs in one block, and the sums never store the tile.
    assert (gpu.distances, gpu.sums, gpu.query_block) == ("direct", "reduce", 4096)
    for b in ("cpu", "gpu"):
        img = choose_blocking(1000, 50_000, 3072, b)
        assert img.distances == "matmul" and img.query_block * img.chunk <= 1 << 23
    # Explicit sizes override; chunks grow rather than unroll past the limit.
    assert choose_blocking(100, 10, 2, "cpu", chunk=3, query_block=9)[:2] == (9, 3)
    assert choose_blocking(10, 10**6, 2, "cpu").chunk * 32 >= 10**6


def test_optimal_denoiser_uses_the_blocking_and_agrees(monkeypatch):
    """The public D(x, σ, labels) on images (matmul form) equals float64, conditional too."""
    train, x, sigma = _problem(3 * 8 * 8, n_train=40, n_query=11, seed=2)
    labels = np.arange(40) % 2
    D = toyflow.OptimalDenoiser(train.reshape(40, 8, 8, 3), labels, chunk=16, query_block=4)
    got = np.asarray(D(x.reshape(11, 8, 8, 3), sigma, np.arange(11) % 2)).reshape(11, -1)
    want, _, _ = _dense64(x, train, sigma, labels, np.arange(11) % 2)
    assert _rel_err(got, want) < 1e-5


# --- the normalised frame, and the errors where float32 cannot be right ------------------------


@pytest.mark.parametrize("scale", [1e-15, 1e-30, 1e15, 1e30])
def test_any_coordinate_scale_gives_the_scaled_result(circle, scale):
    """D*_X(x, σ) = s·D*_{X/s}(x/s, σ/s): at 1e±15 and 1e±30 the nearest point at small σ and the
    float64 softmax at σ comparable to the data (it returned the mean at 1e15 before)."""
    train = circle.train_x * scale
    D = toyflow.OptimalDenoiser(train)
    rng = np.random.default_rng(3)
    x = ((circle.train_x[rng.integers(10, size=16)] + rng.normal(size=(16, 2))) * scale).astype(
        np.float32
    )
    near = np.asarray(D(x, 1e-3 * scale))
    d2 = np.sum((x.astype(np.float64)[:, None] - np.float32(train)[None]) ** 2, -1)
    np.testing.assert_array_equal(near, np.float32(train)[np.argmin(d2, axis=1)])
    want, _, _ = _dense64(x, train, 3.0 * scale)
    assert _rel_err(D(x, 3.0 * scale), want) < 1e-5
    stats = toyflow.posterior_stats(D, x, 3.0 * scale)
    _, lse, mlog = _dense64(x, train, 3.0 * scale)
    np.testing.assert_allclose(np.asarray(stats.logsumexp), lse, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(stats.max_logit), mlog, rtol=1e-5, atol=1e-4)


def test_large_offset_with_float32_resolution_is_exact():
    """A circle of radius 1e3 around (1e6, 1e6): the matmul form computes around the centre."""
    rng = np.random.default_rng(4)
    a = rng.uniform(0, 2 * np.pi, 30)
    train = (1e6 + 1e3 * np.stack([np.cos(a), np.sin(a)], 1)).astype(np.float32)
    x = (train[:8] + 300 * rng.normal(size=(8, 2))).astype(np.float32)
    want, _, _ = _dense64(x, train, 400.0)
    for plan in FORCED[:4]:
        got = _stream(
            jnp.asarray(x),
            jnp.full((8,), 400.0),
            jnp.asarray(train),
            None,
            None,
            centre=jnp.asarray(data_frame(train)[0]),
            scale=jnp.float32(data_frame(train)[1]),
            blocking=plan,
        )
        # Within a few float32 spacings at 1e6 (0.0625); without centring, ‖x‖² ≈ 2e12 would
        # swamp the squared distances (≈ 1e5) in the matmul form.
        assert _rel_err(got.denoised, want) < 1e-6, plan


def test_training_set_lost_in_float32_is_refused():
    """Spread 1 around 1e15: float32 (spacing 1.3e8 there) would merge the points silently."""
    rng = np.random.default_rng(5)
    train = 1e15 + rng.normal(size=(20, 2))
    with pytest.raises(ValueError, match="does not survive float32"):
        toyflow.OptimalDenoiser(train)
    toyflow.OptimalDenoiser(train - 1e15)  # the remedy the message names works


def test_far_queries_are_refused_not_answered_wrongly(circle):
    D = toyflow.OptimalDenoiser(circle.train_x)
    far = np.array([[1e9, 0.0]], np.float32)
    with pytest.raises(ValueError, match="cannot resolve"):
        D(far, 1.0)
    with pytest.raises(ValueError, match="cannot resolve"):
        toyflow.posterior_stats(D, far, 1.0)
    # At a σ beyond the distance the answer is computable (the data mean) and returned.
    out = np.asarray(D(far, 1e12))
    np.testing.assert_allclose(out, np.mean(circle.train_x, axis=0)[None], atol=1e-3)
