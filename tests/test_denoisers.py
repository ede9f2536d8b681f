"""Analytic denoisers against float64 NumPy references, their limits, and the shared contract
that every denoiser kind honours (docs/theory.md, sections 2 and 3)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyflow
from toyflow.denoisers import log_density

# --- helpers ---------------------------------------------------------------------------------------


def _queries(train_x, n, seed, spread=4.0, min_rel_gap=1e-3):
    """Points around the training set whose two nearest training points are not equidistant
    (squared distances differ by more than ``min_rel_gap``), so the softmax is well conditioned."""
    rng = np.random.default_rng(seed)
    y = np.asarray(train_x, np.float64)
    out = []
    while len(out) < n:
        q = y[rng.integers(len(y))] + spread * rng.normal(size=y.shape[1])
        d2 = np.sort(np.sum((y - q) ** 2, axis=1))
        if d2[1] - d2[0] > min_rel_gap * max(d2[0], 1e-12):
            out.append(q)
    return np.asarray(out, np.float32)


def _nearest(x, train_x):
    d2 = np.sum(
        (np.asarray(x, np.float64)[:, None] - np.asarray(train_x, np.float64)[None]) ** 2, -1
    )
    return np.asarray(train_x, np.float32)[np.argmin(d2, axis=1)]


SIGMAS = np.geomspace(1e-4, 1e4, 17)
N_Q = 64  # queries per test: one shape, so one compilation per denoiser structure


# --- optimal denoiser -------------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", SIGMAS)
def test_optimal_matches_float64_softmax(circle, reference, sigma):
    D = toyflow.OptimalDenoiser(circle.train_x)
    x = _queries(circle.train_x, N_Q, seed=1)
    want, _, _ = reference(x, circle.train_x, sigma)
    got = np.asarray(D(x, sigma))
    assert np.all(np.isfinite(got))
    # Data of radius 10: 2e-5 absolute is a few float32 ulps of the coordinates.
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-4)


def test_optimal_per_point_sigma_matches_reference(circle, reference):
    D = toyflow.OptimalDenoiser(circle.train_x)
    x = _queries(circle.train_x, N_Q, seed=2)
    sigma = np.geomspace(1e-4, 1e4, N_Q).astype(np.float32)
    want, _, _ = reference(x, circle.train_x, sigma)
    np.testing.assert_allclose(np.asarray(D(x, sigma)), want, rtol=0, atol=2e-4)


@pytest.mark.parametrize("sigma", [1e-30, 1e-12, 1e-6, 1e-4])
def test_optimal_tiny_sigma_returns_nearest_training_point(circle, sigma):
    D = toyflow.OptimalDenoiser(circle.train_x)
    x = _queries(circle.train_x, N_Q, seed=3, spread=8.0)
    np.testing.assert_array_equal(np.asarray(D(x, sigma)), _nearest(x, circle.train_x))


@pytest.mark.parametrize("sigma", [1e4, 1e8, 1e30, 3e38])
def test_optimal_huge_sigma_returns_the_mean(circle, sigma):
    D = toyflow.OptimalDenoiser(circle.train_x)
    x = _queries(circle.train_x, N_Q, seed=4, spread=30.0)
    mean = np.asarray(circle.train_x, np.float32).astype(np.float64).mean(axis=0)
    # Deviation from uniform weights is O(‖x − y‖² / σ²) ≤ 1e-5 at σ = 1e4 here.
    np.testing.assert_allclose(np.asarray(D(x, sigma)), np.broadcast_to(mean, x.shape), atol=1e-4)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e6])
@pytest.mark.parametrize("sigma", [1e-30, 1e-4, 1.0, 1e4, 1e30])
def test_optimal_never_nan(circle, scale, sigma):
    """Huge coordinates (queries and data) and extreme σ never give NaN or inf."""
    train = circle.train_x * scale
    D = toyflow.OptimalDenoiser(train)
    x = _queries(circle.train_x, N_Q, seed=5, spread=8.0) * scale
    out = np.asarray(D(x, sigma))
    assert np.all(np.isfinite(out))
    stats = toyflow.posterior_stats(D, x, sigma)
    assert np.all(np.isfinite(np.asarray(stats.max_weight)))
    assert np.all(
        np.isfinite(np.asarray(stats.logsumexp)) | (np.asarray(stats.logsumexp) == -np.inf)
    )


@pytest.mark.parametrize("sigma", [1e-30, 1e-4, 1.0, 1e30])
def test_optimal_absurd_coordinates_stay_finite(circle, sigma):
    """Coordinates near 1e16: the denoised output is still finite."""
    D = toyflow.OptimalDenoiser(circle.train_x * 1e15)
    x = _queries(circle.train_x, N_Q, seed=5, spread=8.0) * 1e15
    assert np.all(np.isfinite(np.asarray(D(x, sigma))))


@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_optimal_huge_coordinates_still_exact(circle, reference, scale):
    D = toyflow.OptimalDenoiser(circle.train_x * scale)
    x = _queries(circle.train_x, N_Q, seed=6, spread=8.0) * scale
    # Tiny σ relative to the scale: the nearest point; σ comparable to the scale: the softmax.
    np.testing.assert_array_equal(
        np.asarray(D(x, 1e-3 * scale)), _nearest(x, circle.train_x * scale)
    )
    want, _, _ = reference(x, circle.train_x * scale, 3.0 * scale)
    np.testing.assert_allclose(np.asarray(D(x, 3.0 * scale)), want, rtol=0, atol=2e-5 * scale)


@pytest.mark.parametrize(
    "chunk, query_block", [(1, 1024), (7, 1024), (12, 1024), (7, 1), (5, 7), (12, 30)]
)
def test_optimal_chunking_and_query_blocking_invariance(reference, chunk, query_block):
    rng = np.random.default_rng(7)
    train = rng.normal(size=(12, 2)) * 3.0  # chunk 7 leaves a padded last chunk
    x = _queries(train, N_Q, seed=8, spread=2.0)
    sigma = np.geomspace(0.05, 20.0, N_Q).astype(np.float32)
    full = toyflow.OptimalDenoiser(train, chunk=12, query_block=1024)
    D = toyflow.OptimalDenoiser(train, chunk=chunk, query_block=query_block)
    np.testing.assert_allclose(
        np.asarray(D(x, sigma)), np.asarray(full(x, sigma)), rtol=0, atol=1e-5
    )
    want, lse, mw = reference(x, train, sigma)
    np.testing.assert_allclose(np.asarray(D(x, sigma)), want, rtol=0, atol=1e-4)
    stats = toyflow.posterior_stats(D, x, sigma)
    np.testing.assert_allclose(np.asarray(stats.logsumexp), lse, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(np.asarray(stats.max_weight), mw, rtol=0, atol=1e-5)


def test_optimal_query_blocking_with_padding(circle, reference):
    """2500 queries in blocks of 1024 (the last block padded) equal one block."""
    x = _queries(circle.train_x, 2500, seed=9)
    sigma = np.geomspace(0.01, 100.0, 2500).astype(np.float32)
    blocked = np.asarray(toyflow.OptimalDenoiser(circle.train_x, query_block=1024)(x, sigma))
    single = np.asarray(toyflow.OptimalDenoiser(circle.train_x, query_block=4096)(x, sigma))
    np.testing.assert_allclose(blocked, single, rtol=0, atol=1e-5)
    want, _, _ = reference(x, circle.train_x, sigma)
    np.testing.assert_allclose(blocked, want, rtol=0, atol=2e-4)


@pytest.mark.parametrize("sigma", [0.01, 1.0, 5.0, 100.0])
def test_posterior_stats_against_float64(circle, reference, sigma):
    D = toyflow.OptimalDenoiser(circle.train_x)
    x = _queries(circle.train_x, N_Q, seed=10)
    want, lse, mw = reference(x, circle.train_x, sigma)
    stats = toyflow.posterior_stats(D, x, sigma)
    np.testing.assert_allclose(np.asarray(stats.denoised), want, rtol=0, atol=2e-4)
    np.testing.assert_allclose(np.asarray(stats.logsumexp), lse, rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(np.asarray(stats.max_weight), mw, rtol=0, atol=1e-5)
    # The largest logit is −(nearest distance)² / 2σ².
    d_near = np.linalg.norm(x.astype(np.float64) - _nearest(x, circle.train_x), axis=1)
    np.testing.assert_allclose(
        np.asarray(stats.max_logit), -(d_near**2) / (2 * sigma**2), rtol=1e-5
    )
    # The noisy training mixture's log-density.
    want_logp = lse - np.log(10) - np.log(2 * np.pi * sigma**2)
    np.testing.assert_allclose(
        np.asarray(log_density(stats, sigma, 10, 2)), want_logp, rtol=1e-5, atol=1e-3
    )


def test_optimal_streams_a_large_training_set(reference):
    """200,000 training points × 2,000 queries with chunk 4096: matches float64 on a subsample."""
    rng = np.random.default_rng(11)
    train = (rng.normal(size=(200_000, 2)) * 5.0).astype(np.float32)
    x = (rng.normal(size=(2_000, 2)) * 5.0).astype(np.float32)
    sigma = np.geomspace(0.01, 10.0, 2_000).astype(np.float32)
    D = toyflow.OptimalDenoiser(train, chunk=4096)
    stats = toyflow.posterior_stats(D, x, sigma)
    den = np.asarray(stats.denoised)
    assert den.shape == (2_000, 2) and np.all(np.isfinite(den))
    pick = rng.choice(2_000, 60, replace=False)
    for part in np.array_split(pick, 6):
        want, lse, mw = reference(x[part], train, sigma[part])
        np.testing.assert_allclose(den[part], want, rtol=0, atol=5e-4)
        np.testing.assert_allclose(np.asarray(stats.logsumexp)[part], lse, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(np.asarray(stats.max_weight)[part], mw, rtol=0, atol=1e-4)


# --- class-conditional --------------------------------------------------------------------------------


def test_conditional_softmax_runs_over_the_label_only(circle, reference):
    train = circle.train_x
    labels = np.arange(10) % 3
    D = toyflow.OptimalDenoiser(train, labels)
    x = _queries(train, N_Q, seed=12)
    q_labels = np.arange(N_Q) % 3
    for sigma in (0.05, 2.0, 30.0):
        want, _, _ = reference(x, train, sigma, labels, q_labels)
        got = np.asarray(D(x, sigma, q_labels))
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-4)
        # Same as the optimal denoiser of that class's points alone.
        for c in range(3):
            alone = toyflow.OptimalDenoiser(train[labels == c])
            rows = q_labels == c
            np.testing.assert_allclose(got[rows], np.asarray(alone(x[rows], sigma)), atol=2e-5)
    # At tiny σ: the nearest point *of the label*.
    got = np.asarray(D(x, 1e-6, q_labels))
    for c in range(3):
        rows = q_labels == c
        np.testing.assert_array_equal(got[rows], _nearest(x[rows], train[labels == c]))


def test_conditional_without_labels_uses_every_point(circle, reference):
    D = toyflow.OptimalDenoiser(circle.train_x, np.arange(10) % 2)
    x = _queries(circle.train_x, N_Q, seed=13)
    want, _, _ = reference(x, circle.train_x, 3.0)
    np.testing.assert_allclose(np.asarray(D(x, 3.0)), want, atol=2e-4)
    np.testing.assert_allclose(np.asarray(D.unconditional()(x, 3.0)), want, atol=2e-4)


def test_conditional_rejects_unseen_and_bad_labels(circle):
    D = toyflow.OptimalDenoiser(circle.train_x, [0, 0, 2, 2, 2, 0, 2, 0, 2, 0])  # label 1 unused
    x = circle.val_x[:3]
    with pytest.raises(ValueError, match=r"\[1\] were not seen"):
        D(x, 1.0, [0, 1, 2])
    with pytest.raises(ValueError, match=r"\[7\] were not seen"):
        D(x, 1.0, [0, 7, 2])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        D(x, 1.0, [0, 2])
    with pytest.raises(ValueError, match=">= 0"):
        D(x, 1.0, [0, -1, 2])
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        toyflow.OptimalDenoiser(circle.train_x, [0, 1])


# --- error-prone denoiser -------------------------------------------------------------------------------


def _error_prone_reference(reference, x, train, sigma, delta):
    """Float64 ``(δ² x + σ² D*(x; √(σ²+δ²))) / (σ² + δ²)``."""
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (len(x),))[:, None]
    smoothed, _, _ = reference(x, train, np.sqrt(sigma[:, 0] ** 2 + delta**2))
    xd = np.asarray(x, np.float32).astype(np.float64)
    return (delta**2 * xd + sigma**2 * smoothed) / (sigma**2 + delta**2)


@pytest.mark.parametrize("delta", [0.3, 1.2, 1.6, 2.2])
def test_error_prone_matches_float64_formula(circle, reference, delta):
    D = toyflow.ErrorProneDenoiser(circle.train_x, delta)
    x = _queries(circle.train_x, N_Q, seed=14)
    sigma = np.geomspace(1e-3, 1e3, N_Q).astype(np.float32)
    want = _error_prone_reference(reference, x, circle.train_x, sigma, delta)
    np.testing.assert_allclose(np.asarray(D(x, sigma)), want, rtol=0, atol=2e-4)


def test_error_prone_delta_zero_is_optimal(circle):
    x = _queries(circle.train_x, N_Q, seed=15)
    for sigma in (1e-4, 0.1, 2.0, 50.0, 1e4):
        np.testing.assert_allclose(
            np.asarray(toyflow.ErrorProneDenoiser(circle.train_x, 0.0)(x, sigma)),
            np.asarray(toyflow.OptimalDenoiser(circle.train_x)(x, sigma)),
            rtol=0,
            atol=1e-6,
        )


@pytest.mark.parametrize("delta", [0.5, 2.0])
def test_error_prone_limits(circle, delta):
    x = _queries(circle.train_x, N_Q, seed=16)
    D = toyflow.ErrorProneDenoiser(circle.train_x, delta)
    opt = toyflow.OptimalDenoiser(circle.train_x)
    # σ ≫ δ: like the optimal denoiser (the difference is O(δ²/σ²) of the data scale).
    big = 1000.0 * delta
    np.testing.assert_allclose(np.asarray(D(x, big)), np.asarray(opt(x, big)), atol=1e-4)
    # σ ≪ δ: near the identity (|y_δ − x| = σ²/(σ²+δ²)·|D* − x| ≤ 1e-6 · 30).
    small = 1e-3 * delta
    np.testing.assert_allclose(np.asarray(D(x, small)), x, atol=1e-4)
    # Never NaN at the float32 extremes.
    for sigma in (1e-30, 1e30, 3e38):
        assert np.all(np.isfinite(np.asarray(D(x, sigma))))


def test_error_prone_rejects_bad_delta(circle):
    for bad in (-0.1, np.nan, np.inf, "x"):
        with pytest.raises(ValueError, match="delta must be"):
            toyflow.ErrorProneDenoiser(circle.train_x, bad)


def test_error_prone_conditional(circle, reference):
    labels = np.arange(10) % 2
    D = toyflow.ErrorProneDenoiser(circle.train_x, 1.0, labels)
    x = _queries(circle.train_x, N_Q, seed=17)
    q = np.arange(N_Q) % 2
    for c in (0, 1):
        rows = q == c
        want = _error_prone_reference(reference, x[rows], circle.train_x[labels == c], 0.7, 1.0)
        np.testing.assert_allclose(np.asarray(D(x, 0.7, q))[rows], want, atol=2e-4)


# --- guidance ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [0.0, 0.5, 2.0, -0.5])
def test_guided_formula(circle, w):
    pos = toyflow.ErrorProneDenoiser(circle.train_x, 1.8)
    neg = toyflow.ErrorProneDenoiser(circle.train_x, 2.2)
    G = toyflow.GuidedDenoiser(pos, neg, w)
    x = _queries(circle.train_x, N_Q, seed=18)
    sigma = np.geomspace(0.05, 50, N_Q).astype(np.float32)
    p = np.asarray(pos(x, sigma), np.float64)
    n = np.asarray(neg(x, sigma), np.float64)
    np.testing.assert_allclose(np.asarray(G(x, sigma)), p + w * (p - n), rtol=0, atol=1e-4)
    if w == 0.0:
        np.testing.assert_array_equal(np.asarray(G(x, sigma)), np.asarray(pos(x, sigma)))


@pytest.mark.parametrize("w", [0.0, 1.0, 3.0])
def test_classifier_free_with_conditional_optimal(circle, reference, w):
    labels = np.arange(10) % 2
    D = toyflow.OptimalDenoiser(circle.train_x, labels)
    G = toyflow.classifier_free(D, w)
    x = _queries(circle.train_x, N_Q, seed=19)
    q = np.arange(N_Q) % 2
    for sigma in (0.5, 4.0):
        cond, _, _ = reference(x, circle.train_x, sigma, labels, q)
        uncond, _, _ = reference(x, circle.train_x, sigma)
        np.testing.assert_allclose(
            np.asarray(G(x, sigma, q)), cond + w * (cond - uncond), rtol=0, atol=5e-4 * (1 + w)
        )
    with pytest.raises(ValueError, match="not seen"):
        G(x[:2], 1.0, [0, 5])


def test_autoguidance_and_guided_validation(circle):
    good = toyflow.ErrorProneDenoiser(circle.train_x, 1.8)
    bad = toyflow.ErrorProneDenoiser(circle.train_x, 2.2)
    G = toyflow.autoguidance(good, bad, 0.4)
    x = circle.val_x
    np.testing.assert_allclose(
        np.asarray(G(x, 1.0)), np.asarray(toyflow.GuidedDenoiser(good, bad, 0.4)(x, 1.0))
    )
    with pytest.raises(ValueError, match="toyflow denoiser"):
        toyflow.GuidedDenoiser(good, lambda x, s: x, 1.0)
    with pytest.raises(ValueError, match="different shapes"):
        toyflow.GuidedDenoiser(good, toyflow.GaussianDenoiser(np.zeros(3), np.eye(3)), 1.0)
    for w in (np.nan, 1e9):
        with pytest.raises(ValueError, match="w must be"):
            toyflow.GuidedDenoiser(good, bad, w)


# --- Gaussian denoiser ------------------------------------------------------------------------------


def test_gaussian_denoiser_formula():
    mean = np.array([1.0, -2.0])
    cov = np.array([[3.0, 1.0], [1.0, 2.0]])
    G = toyflow.GaussianDenoiser(mean, cov)
    rng = np.random.default_rng(20)
    x = rng.normal(size=(30, 2)) * 5
    for sigma in (1e-3, 0.5, 2.0, 100.0):
        want = mean + (x - mean) @ np.linalg.solve(cov + sigma**2 * np.eye(2), cov).T
        np.testing.assert_allclose(np.asarray(G(x, sigma)), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="symmetric"):
        toyflow.GaussianDenoiser(mean, [[1.0, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="positive semi-definite"):
        toyflow.GaussianDenoiser(mean, [[1.0, 0.0], [0.0, -1.0]])
    with pytest.raises(ValueError, match="shape"):
        toyflow.GaussianDenoiser(mean, np.eye(3))


# --- the contract, over every denoiser kind ----------------------------------------------------------

KINDS = ["optimal", "optimal_conditional", "error_prone", "guided", "gaussian", "mlp"]


def _make(kind, train):
    if kind == "optimal":
        return toyflow.OptimalDenoiser(train)
    if kind == "optimal_conditional":
        return toyflow.OptimalDenoiser(train, np.arange(len(train)) % 2)
    if kind == "error_prone":
        return toyflow.ErrorProneDenoiser(train, 1.6)
    if kind == "guided":
        return toyflow.GuidedDenoiser(
            toyflow.ErrorProneDenoiser(train, 1.8), toyflow.ErrorProneDenoiser(train, 2.2), 0.7
        )
    if kind == "gaussian":
        return toyflow.GaussianDenoiser(train.mean(0), np.cov(train.T))
    cfg = toyflow.MLPConfig(width=16, depth=2)
    return cfg.make_denoiser(cfg.init(jax.random.PRNGKey(0)), float(np.std(train)))


@pytest.fixture(scope="module", params=KINDS)
def denoiser(request, circle):
    return _make(request.param, circle.train_x)


@pytest.fixture(scope="module")
def x_query(circle):
    return _queries(circle.train_x, N_Q, seed=21)


def test_contract_numpy_and_jax_input_agree(denoiser, x_query):
    out_np = denoiser(x_query, 1.5)
    out_jax = denoiser(jnp.asarray(x_query), jnp.float32(1.5))
    out_list = denoiser(x_query.tolist(), 1.5)
    out_f64 = denoiser(x_query.astype(np.float64), np.float64(1.5))
    assert isinstance(out_np, jax.Array)
    assert out_np.shape == x_query.shape and out_np.dtype == jnp.float32
    for other in (out_jax, out_list, out_f64):
        np.testing.assert_allclose(np.asarray(other), np.asarray(out_np), rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(out_np)))


def test_contract_scalar_and_vector_sigma(denoiser, x_query):
    n = len(x_query)
    sig = np.geomspace(0.01, 80.0, n).astype(np.float32)
    vec = np.asarray(denoiser(x_query, sig))
    rows = np.concatenate(
        [np.asarray(denoiser(x_query[i : i + 1], float(sig[i]))) for i in range(n)]
    )
    np.testing.assert_allclose(vec, rows, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        np.asarray(denoiser(x_query, np.full(n, 2.0))),
        np.asarray(denoiser(x_query, 2.0)),
        rtol=1e-6,
        atol=1e-6,
    )


def test_contract_output_shape_for_any_batch(denoiser):
    for n in (0, 1, 5):
        x = np.zeros((n, 2), np.float32) + 1.0
        out = denoiser(x, 1.0)
        assert out.shape == (n, 2)


def test_contract_derived_score_and_velocity(denoiser, x_query):
    sigma = 2.5
    d = np.asarray(denoiser(x_query, sigma), np.float64)
    xd = x_query.astype(np.float64)
    np.testing.assert_allclose(
        np.asarray(denoiser.score(x_query, sigma)), (d - xd) / sigma**2, rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(
        np.asarray(denoiser.velocity(x_query, sigma)), (xd - d) / sigma, rtol=1e-5, atol=1e-5
    )


def test_contract_works_inside_jit_and_as_an_argument(denoiser, x_query):
    @jax.jit
    def f(den, x, s):
        return den(x, s)

    np.testing.assert_allclose(
        np.asarray(f(denoiser, jnp.asarray(x_query), jnp.float32(0.8))),
        np.asarray(denoiser(x_query, 0.8)),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize(
    "x_bad, match",
    [
        (np.zeros(2), "2-D array"),
        (np.zeros((3, 2, 1)), "2-D array"),
        (np.zeros((3, 3)), "2 columns"),
        (np.array([["a", "b"]]), "real numbers"),
        (np.zeros((2, 2), complex), "real numbers"),
        (np.array([[np.nan, 0.0]]), "NaN"),
        (np.array([[np.inf, 0.0]]), "NaN"),
    ],
)
def test_contract_rejects_bad_x(denoiser, x_bad, match):
    with pytest.raises(ValueError, match=match):
        denoiser(x_bad, 1.0)


@pytest.mark.parametrize(
    "sigma_bad, match",
    [
        (0.0, "> 0"),
        (-1.0, "> 0"),
        (np.nan, "finite"),
        (np.inf, "finite"),
        (-np.inf, "finite"),
        (np.ones(3), rf"shape \({N_Q},\)"),
        (np.ones((16, 1)), "scalar"),
        ("one", "positive number"),
        (1j, "positive number"),
    ],
)
def test_contract_rejects_bad_sigma(denoiser, x_query, sigma_bad, match):
    with pytest.raises(ValueError, match=match):
        denoiser(x_query, sigma_bad)


def test_contract_labels(denoiser, x_query):
    n = len(x_query)
    if denoiser.num_classes is None:
        with pytest.raises(ValueError, match="labels=None"):
            denoiser(x_query, 1.0, np.zeros(n, int))
        return
    ok = np.arange(n) % 2
    assert denoiser(x_query, 1.0, ok).shape == x_query.shape
    with pytest.raises(ValueError, match=rf"shape \({n},\)"):
        denoiser(x_query, 1.0, ok[:-1])
    with pytest.raises(ValueError, match="not seen"):
        denoiser(x_query, 1.0, np.full(n, 9))
    with pytest.raises(ValueError, match="integers"):
        denoiser(x_query, 1.0, np.array(["a"] * n))


def test_conditional_mlp_labels(circle):
    cfg = toyflow.MLPConfig(width=16, depth=2, num_classes=3)
    D = cfg.make_denoiser(cfg.init(jax.random.PRNGKey(1)), 7.0)
    x = circle.val_x
    assert D(x, 1.0, np.arange(10) % 3).shape == (10, 2)
    assert D(x, 1.0).shape == (10, 2)  # the null class
    with pytest.raises(ValueError, match="< 3"):
        D(x, 1.0, np.full(10, 3))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((0, 2)), "empty"),
        (np.zeros(4), r"shape \(N, d\)"),
        (np.array([[0.0, np.nan]]), "NaN"),
        (np.array([["a", "b"]]), "real numbers"),
    ],
)
def test_analytic_denoisers_reject_bad_training_data(bad, match):
    with pytest.raises(ValueError, match=match):
        toyflow.OptimalDenoiser(bad)
    with pytest.raises(ValueError, match=match):
        toyflow.ErrorProneDenoiser(bad, 1.0)


@pytest.mark.parametrize("labelled", [False, True])
def test_optimal_scan_path_beyond_the_unrolled_chunks(monkeypatch, reference, labelled):
    """Past MAX_UNROLLED_CHUNKS chunks the stream runs as a lax.scan; it must agree too."""
    from toyflow import denoisers

    monkeypatch.setattr(denoisers, "MAX_UNROLLED_CHUNKS", 2)
    monkeypatch.setattr(denoisers, "MAX_CHUNK", 5)
    rng = np.random.default_rng(11)
    train = rng.normal(size=(23, 2)) * 3.0  # 5 chunks of 5, the last padded
    labels = np.arange(23) % 3 if labelled else None
    x = _queries(train, 40, seed=12, spread=2.0)
    sigma = np.geomspace(0.05, 20.0, 40).astype(np.float32)
    D = toyflow.OptimalDenoiser(train, labels, chunk=5, query_block=16)
    q_labels = np.arange(40) % 3 if labelled else None
    got = np.asarray(D(x, sigma, q_labels))
    if labelled:
        want = np.stack(
            [
                reference(x[i : i + 1], train[labels == q_labels[i]], sigma[i : i + 1])[0][0]
                for i in range(40)
            ]
        )
    else:
        want, _, _ = reference(x, train, sigma)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)
