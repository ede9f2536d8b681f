"""Metrics against float64 re-computations, constructed cases with known answers, and the paper's
claim about the relative generalisation gap of the error-prone model."""

from __future__ import annotations

import math

import jax
import numpy as np
import pytest

import toyflow
from toyflow import metrics

# --- denoising error and the gap --------------------------------------------------------------------


def _noise_draws(seed, n_noise, shape):
    """The noise the library draws: ``normal(split(PRNGKey(seed), n_noise)[k], shape)``."""
    keys = jax.random.split(jax.random.PRNGKey(seed), n_noise)
    return np.stack([np.asarray(jax.random.normal(k, shape), np.float64) for k in keys])


def _error_reference(reference, train, y, sigmas, seed, n_noise, kind, sigma_data):
    y32 = np.asarray(y, np.float32).astype(np.float64)
    noise = _noise_draws(seed, n_noise, y32.shape)
    out = []
    for sigma in np.asarray(sigmas, np.float32).astype(np.float64):
        errs = []
        for k in range(n_noise):
            x = (y32 + sigma * noise[k]).astype(np.float32)  # the library forms x in float32
            d, _, _ = reference(x, train, sigma)
            sq = np.sum((d - y32) ** 2, axis=1)
            if kind == "l2":
                errs.append(np.sqrt(sq))
            elif kind == "squared":
                errs.append(sq)
            else:
                lam = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
                errs.append(lam * sq / y32.shape[1])
        out.append(np.mean(errs))
    return np.asarray(out)


@pytest.mark.parametrize("kind", sorted(metrics.ERROR_KINDS))
def test_denoising_error_matches_float64_recomputation(circle, reference, kind):
    D = toyflow.OptimalDenoiser(circle.train_x)
    sigmas = [0.05, 0.7, 3.0, 20.0]
    got = metrics.denoising_error(D, circle.val_x, sigmas, n_noise=8, seed=3, kind=kind)
    sd = float(np.std(np.asarray(circle.val_x, np.float32)))
    want = _error_reference(reference, circle.train_x, circle.val_x, sigmas, 3, 8, kind, sd)
    assert got.shape == (4,) and got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=2e-4)


def test_denoising_error_reuses_noise_across_sigmas(circle):
    D = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    sigmas = np.geomspace(0.1, 10.0, 5)
    together = metrics.denoising_error(D, circle.train_x, sigmas, n_noise=10, seed=1)
    alone = [metrics.denoising_error(D, circle.train_x, [s], n_noise=10, seed=1)[0] for s in sigmas]
    np.testing.assert_allclose(together, alone, rtol=1e-5)
    other_seed = metrics.denoising_error(D, circle.train_x, sigmas, n_noise=10, seed=2)
    assert not np.allclose(together, other_seed, rtol=1e-6)


def test_denoising_error_limits(circle):
    """Optimal denoiser on its own training points: error → 0 at σ → 0 (it returns the point);
    the identity-like regime σ ≪ δ of the error-prone model gives ≈ σ·E‖n‖ = σ√(π/2) in 2D."""
    D = toyflow.OptimalDenoiser(circle.train_x)
    assert metrics.denoising_error(D, circle.train_x, [1e-3], n_noise=20)[0] < 1e-6
    E = toyflow.ErrorProneDenoiser(circle.train_x, 5.0)
    e = metrics.denoising_error(E, circle.train_x, [1e-2], n_noise=200)[0]
    assert e / 1e-2 == pytest.approx(math.sqrt(math.pi / 2), rel=0.05)


def test_gap_curve_is_consistent(circle):
    D = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    sigmas = np.geomspace(0.1, 10.0, 6)
    curve = metrics.gap_curve(D, circle.train_x, circle.val_x, sigmas, n_noise=10, seed=4)
    e_tr = metrics.denoising_error(D, circle.train_x, sigmas, n_noise=10, seed=4)
    e_va = metrics.denoising_error(D, circle.val_x, sigmas, n_noise=10, seed=5)
    np.testing.assert_allclose(curve.e_train, e_tr, rtol=1e-6)
    np.testing.assert_allclose(curve.e_val, e_va, rtol=1e-6)
    np.testing.assert_allclose(curve.gap, (e_va - e_tr) / e_tr, rtol=1e-6)
    np.testing.assert_allclose(
        metrics.relative_gap(D, circle.train_x, circle.val_x, sigmas, n_noise=10, seed=4), curve.gap
    )
    assert curve.peak_gap == pytest.approx(curve.gap.max())
    assert curve.peak_sigma == pytest.approx(sigmas[np.argmax(curve.gap)], rel=1e-6)
    d = curve.to_dict()
    assert d["gap"] == pytest.approx(curve.gap.tolist()) and d["kind"] == "l2"


def test_gap_peaks_at_intermediate_sigma_and_grows_as_delta_shrinks(circle):
    """The paper's claim (its toy experiment, docs/theory.md §5): on the symmetric circle the relative gap of the error-prone
    model peaks at intermediate σ, and the peak grows monotonically as δ goes 2.2 → 1.2."""
    sigmas = np.geomspace(0.02, 80.0, 32)
    peaks = []
    for delta in np.linspace(2.2, 1.2, 11):
        gap = metrics.relative_gap(
            toyflow.ErrorProneDenoiser(circle.train_x, delta),
            circle.train_x,
            circle.val_x,
            sigmas,
            n_noise=50,
        )
        i = int(np.argmax(gap))
        assert 2 <= i <= len(sigmas) - 3, (delta, i)  # not at the ends of the grid
        assert 0.2 < sigmas[i] < 5.0
        assert gap[i] > 3 * max(abs(gap[0]), abs(gap[-1]))
        peaks.append(gap[i])
    assert np.all(np.diff(peaks) > 0), peaks
    assert peaks[-1] > 2 * peaks[0]


def test_optimal_denoiser_gap_is_huge_at_small_sigma(circle):
    """The optimal denoiser memorises: at small σ it returns training points exactly (E_train ≈ 0)
    but validation points are mapped to training points (E_val ≈ spacing)."""
    D = toyflow.OptimalDenoiser(circle.train_x)
    curve = metrics.gap_curve(D, circle.train_x, circle.val_x, [0.05], n_noise=10)
    spacing = 2 * 10 * math.sin(math.pi / 20)  # chord from a validation point to its neighbours
    assert curve.e_train[0] < 1e-4
    assert curve.e_val[0] == pytest.approx(spacing, rel=0.01)


def test_error_metrics_reject_bad_input(circle):
    D = toyflow.OptimalDenoiser(circle.train_x)
    for bad in ([], [0.0, 1.0], [np.nan], [[1.0, 2.0]], [-1.0]):
        with pytest.raises(ValueError, match="sigmas"):
            metrics.denoising_error(D, circle.val_x, bad)
    with pytest.raises(ValueError, match="n_noise"):
        metrics.denoising_error(D, circle.val_x, [1.0], n_noise=0)
    with pytest.raises(ValueError, match="2 columns"):
        metrics.denoising_error(D, np.zeros((3, 3)), [1.0])
    with pytest.raises(ValueError, match="labels=None"):
        metrics.denoising_error(D, circle.val_x, [1.0], labels=np.zeros(10, int))


# --- memorisation -------------------------------------------------------------------------------------

TRAIN3 = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
# (sample, nearest distance, second-nearest distance)
CASES = [
    ([0.0, 0.0], 0.0, 10.0),
    ([10.0, 0.0], 0.0, 10.0),
    ([1.0, 0.0], 1.0, 9.0),
    ([2.0, 0.0], 2.0, 8.0),
    ([2.6, 0.0], 2.6, 7.4),
    ([5.0, 0.0], 5.0, 5.0),
    ([5.0, 5.0], math.sqrt(50), math.sqrt(50)),
]


@pytest.mark.parametrize("ratio", [1 / 3, 0.1, 0.5, 1.0])
def test_memorized_fraction_constructed(ratio):
    samples = np.array([c[0] for c in CASES])
    want_mask = np.array([c[1] < ratio * c[2] for c in CASES])
    np.testing.assert_array_equal(metrics.memorized_mask(samples, TRAIN3, ratio), want_mask)
    assert metrics.memorized_fraction(samples, TRAIN3, ratio) == pytest.approx(want_mask.mean())


def test_memorized_fraction_default_ratio_by_construction():
    samples = np.array([c[0] for c in CASES])
    assert metrics.memorized_fraction(samples, TRAIN3) == pytest.approx(4 / 7)
    assert metrics.memorized_fraction(TRAIN3, TRAIN3) == 1.0
    assert metrics.memorized_fraction(np.array([[5.0, 5.0]]), TRAIN3) == 0.0


def test_memorized_fraction_rejects_bad_input():
    with pytest.raises(ValueError, match="at least 2 training points"):
        metrics.memorized_fraction(np.zeros((3, 2)), np.zeros((1, 2)))
    for bad in (0.0, -0.5, 1.5, np.nan):
        with pytest.raises(ValueError, match="ratio"):
            metrics.memorized_fraction(np.zeros((3, 2)), TRAIN3, bad)


@pytest.mark.parametrize("k", [1, 2, 5])
def test_nearest_neighbours_against_brute_force(k):
    rng = np.random.default_rng(k)
    ref = rng.normal(size=(1000, 2)).astype(np.float32) * 4
    q = rng.normal(size=(300, 2)).astype(np.float32) * 4
    d, idx = metrics.nearest_neighbours(q, ref, k=k, chunk=64, query_block=128)
    assert d.shape == idx.shape == (300, k)
    full = np.sqrt(((q.astype(np.float64)[:, None] - ref.astype(np.float64)[None]) ** 2).sum(-1))
    order = np.argsort(full, axis=1)[:, :k]
    np.testing.assert_array_equal(idx, order)
    np.testing.assert_allclose(d, np.take_along_axis(full, order, axis=1), rtol=1e-5, atol=1e-6)
    # Chunk and block sizes do not matter.
    _, idx2 = metrics.nearest_neighbours(q, ref, k=k, chunk=4096, query_block=4096)
    np.testing.assert_array_equal(idx2, idx)


def test_nearest_neighbours_higher_dimension_and_validation():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(50, 4, 4, 1))
    q = rng.normal(size=(7, 4, 4, 1))
    d, idx = metrics.nearest_neighbours(q, ref, k=3, chunk=16)
    full = np.sqrt(((q.reshape(7, 1, -1) - ref.reshape(1, 50, -1)) ** 2).sum(-1))
    np.testing.assert_array_equal(idx, np.argsort(full, axis=1)[:, :3])
    np.testing.assert_allclose(d, np.sort(full, axis=1)[:, :3], rtol=1e-4)
    with pytest.raises(ValueError, match="k must be in"):
        metrics.nearest_neighbours(q, ref, k=51)
    with pytest.raises(ValueError, match="coordinates"):
        metrics.nearest_neighbours(np.zeros((2, 3)), np.zeros((5, 2)))


# --- Fréchet distance -----------------------------------------------------------------------------------


def _with_moments(mean, cov, n, seed):
    """``n`` points whose sample mean and (ddof=1) covariance are exactly ``mean`` and ``cov``."""
    mean, cov = np.asarray(mean, np.float64), np.atleast_2d(np.asarray(cov, np.float64))
    z = np.random.default_rng(seed).normal(size=(n, len(mean)))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.atleast_2d(np.cov(z.T)))).T
    return mean + z @ np.linalg.cholesky(cov).T


def _frechet_closed_form(mu_a, cov_a, mu_b, cov_b):
    """``‖μa − μb‖² + tr Σa + tr Σb − 2 Σ √eig(Σa Σb)`` (the eigenvalues of Σa Σb are ≥ 0)."""
    eig = np.linalg.eigvals(np.asarray(cov_a) @ np.asarray(cov_b))
    return float(
        np.sum((np.asarray(mu_a) - mu_b) ** 2)
        + np.trace(cov_a)
        + np.trace(cov_b)
        - 2 * np.sum(np.sqrt(np.maximum(eig.real, 0)))
    )


def test_frechet_distance_closed_form_2d():
    mu_a, cov_a = [1.0, -2.0], [[4.0, 1.5], [1.5, 2.0]]
    mu_b, cov_b = [0.5, 1.0], [[1.0, -0.3], [-0.3, 3.0]]
    a = _with_moments(mu_a, cov_a, 500, 0)
    b = _with_moments(mu_b, cov_b, 300, 1)
    np.testing.assert_allclose(np.cov(a.T), cov_a, atol=1e-10)  # the construction is exact
    want = _frechet_closed_form(mu_a, cov_a, mu_b, cov_b)
    assert metrics.frechet_distance(a, b) == pytest.approx(want, rel=1e-9)
    assert metrics.frechet_distance(b, a) == pytest.approx(want, rel=1e-9)
    assert metrics.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_simple_cases():
    # 1D: (m1 − m2)² + (s1 − s2)².
    a = _with_moments([2.0], [[9.0]], 100, 2)
    b = _with_moments([-1.0], [[1.0]], 80, 3)
    assert metrics.frechet_distance(a, b) == pytest.approx(9.0 + 4.0, rel=1e-9)
    # Commuting (diagonal) covariances: Σ (√a_i − √b_i)²; same mean.
    a = _with_moments([0.0, 0.0, 0.0], np.diag([1.0, 4.0, 9.0]), 200, 4)
    b = _with_moments([0.0, 0.0, 0.0], np.diag([4.0, 4.0, 1.0]), 200, 5)
    assert metrics.frechet_distance(a, b) == pytest.approx(1.0 + 0.0 + 4.0, rel=1e-9)
    # Pure translation: ‖Δμ‖².
    assert metrics.frechet_distance(a, a + [3.0, 4.0, 0.0]) == pytest.approx(25.0, rel=1e-9)


def test_sample_overfit_and_frechet_validation():
    tr = _with_moments([0.0, 0.0], np.eye(2), 50, 6)
    va = _with_moments([1.0, 0.0], np.eye(2), 50, 7)
    samples = _with_moments([0.2, 0.0], np.eye(2), 50, 8)
    out = metrics.sample_overfit(samples, tr, va)
    assert out["fd_train"] == pytest.approx(0.04, rel=1e-8)
    assert out["fd_val"] == pytest.approx(0.64, rel=1e-8)
    assert out["relative_overfit"] == pytest.approx((0.64 - 0.04) / 0.04, rel=1e-8)
    with pytest.raises(ValueError, match="at least 2 points"):
        metrics.frechet_distance(np.zeros((1, 2)), tr)
    with pytest.raises(ValueError, match="dimension"):
        metrics.frechet_distance(np.zeros((5, 3)), tr)
    with pytest.raises(ValueError, match="finite"):
        metrics.frechet_distance(np.full((5, 2), np.nan), tr)


# --- trajectory overlap ------------------------------------------------------------------------------------


def _overlap_reference(reference, model, states, train, sigma):
    """Float64 per-state statistics: nn distance / (σ√d), max weight, log density, ‖D − D*‖."""
    states64 = np.asarray(states, np.float32).astype(np.float64)
    y = np.asarray(train, np.float32).astype(np.float64)
    d = states64.shape[1]
    dist = np.sqrt(((states64[:, None] - y[None]) ** 2).sum(-1)).min(axis=1)
    den, lse, mw = reference(states, train, sigma)
    logp = lse - np.log(len(y)) - 0.5 * d * np.log(2 * np.pi * sigma**2)
    err = np.linalg.norm(np.asarray(model(states, sigma), np.float64) - den, axis=1)
    return np.array(
        [np.mean(dist) / (sigma * np.sqrt(d)), np.mean(mw), np.mean(logp), np.mean(err)]
    )


def test_trajectory_overlap_against_float64(circle, reference):
    model = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    steps, n_noise, seed = 10, 4, 3
    _, traj, sigmas = toyflow.sample(model, 64, steps=steps, seed=1, return_trajectory=True)
    ov = metrics.trajectory_overlap(
        model, traj, sigmas, circle.train_x, val_x=circle.val_x, n_noise=n_noise, seed=seed
    )
    for name in (
        "sigmas",
        "traj_nn_distance",
        "noisy_nn_distance",
        "traj_max_weight",
        "noisy_max_weight",
        "traj_log_density",
        "noisy_log_density",
        "error_traj",
        "error_noisy_train",
        "error_noisy_val",
        "overlap",
    ):
        assert getattr(ov, name).shape == (steps,), name
    np.testing.assert_allclose(ov.sigmas, sigmas[:-1])
    # The noisy training set the library draws.
    k_tr, k_va = jax.random.split(jax.random.PRNGKey(seed))
    noise_tr = np.asarray(jax.random.normal(k_tr, (n_noise * 10, 2)))
    noise_va = np.asarray(jax.random.normal(k_va, (n_noise * 10, 2)))
    y_tr = np.tile(np.asarray(circle.train_x, np.float32), (n_noise, 1))
    y_va = np.tile(np.asarray(circle.val_x, np.float32), (n_noise, 1))
    for i in range(steps):
        s = np.float32(sigmas[i])
        noisy = y_tr + s * noise_tr
        t_ref = _overlap_reference(reference, model, np.asarray(traj[i]), circle.train_x, float(s))
        n_ref = _overlap_reference(reference, model, noisy, circle.train_x, float(s))
        v_ref = _overlap_reference(reference, model, y_va + s * noise_va, circle.train_x, float(s))
        got_t = [
            ov.traj_nn_distance[i],
            ov.traj_max_weight[i],
            ov.traj_log_density[i],
            ov.error_traj[i],
        ]
        got_n = [
            ov.noisy_nn_distance[i],
            ov.noisy_max_weight[i],
            ov.noisy_log_density[i],
            ov.error_noisy_train[i],
        ]
        np.testing.assert_allclose(got_t, t_ref, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(got_n, n_ref, rtol=1e-4, atol=1e-4)
        assert ov.error_noisy_val[i] == pytest.approx(v_ref[3], rel=1e-4, abs=1e-4)
    np.testing.assert_allclose(ov.overlap, ov.noisy_nn_distance / ov.traj_nn_distance, rtol=1e-12)
    assert set(ov.to_dict()) >= {"overlap", "sigmas", "error_traj"}


def test_trajectory_overlap_limits(circle):
    """Noisy training samples at small σ sit one noise-radius from their point: the mean of
    ‖n‖/√d is Γ((d+1)/2)√2 / (Γ(d/2)√d) = √π/2 ≈ 0.886 in 2D (the root-mean-square is 1); the
    posterior is localised there and nearly uniform (weight ≈ 1/N) at σ = 80. The optimal denoiser's own
    error against itself is zero."""
    D = toyflow.OptimalDenoiser(circle.train_x)
    _, traj, sigmas = toyflow.sample(D, 64, steps=12, seed=2, return_trajectory=True)
    ov = metrics.trajectory_overlap(D, traj, sigmas, circle.train_x, n_noise=100, seed=0)
    small = ov.sigmas < 0.3
    assert small.sum() >= 3
    expected = math.gamma(1.5) * math.sqrt(2) / (math.gamma(1.0) * math.sqrt(2))
    np.testing.assert_allclose(ov.noisy_nn_distance[small], expected, atol=0.05)
    np.testing.assert_allclose(ov.noisy_max_weight[small], 1.0, atol=1e-3)
    assert 0.1 <= ov.noisy_max_weight[0] < 0.2  # near-uniform over 10 points at σ = 80
    np.testing.assert_allclose(ov.error_traj, 0.0, atol=1e-4)
    np.testing.assert_allclose(ov.error_noisy_train, 0.0, atol=1e-4)
    assert np.all(np.isnan(ov.error_noisy_val))  # no validation set given


def test_trajectory_overlap_rejects_bad_input(circle):
    D = toyflow.OptimalDenoiser(circle.train_x)
    _, traj, sigmas = toyflow.sample(D, 8, steps=4, return_trajectory=True)
    with pytest.raises(ValueError, match="matching"):
        metrics.trajectory_overlap(D, traj, sigmas[:-1], circle.train_x)
    with pytest.raises(ValueError, match="matching"):
        metrics.trajectory_overlap(D, np.asarray(traj)[0], sigmas, circle.train_x)
    bad = np.array(traj)
    bad[1, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        metrics.trajectory_overlap(D, bad, sigmas, circle.train_x)
