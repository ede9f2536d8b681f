"""Samplers against known answers: the exact Gaussian flow, memorisation by the optimal denoiser,
class-conditional sampling, trajectories, and input checks."""

from __future__ import annotations

import numpy as np
import pytest

import toyflow
from toyflow import metrics
from toyflow.sampling import SOLVERS, _integrate
from toyflow.schedules import SCHEDULES

MEAN = np.array([3.0, -2.0])
COV = np.array([[4.0, 1.5], [1.5, 2.0]])
SIGMA_MAX = 80.0


@pytest.fixture(scope="module")
def gaussian():
    return toyflow.GaussianDenoiser(MEAN, COV)


def _exact_marginal(n, seed):
    """``x_init`` from the exact σ_max marginal ``N(μ, Σ + σ_max² I)`` (float64)."""
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(COV + SIGMA_MAX**2 * np.eye(2))
    return MEAN + rng.normal(size=(n, 2)) @ chol.T


def _exact_flow(x_init):
    """The probability-flow ODE of a Gaussian solved exactly from σ_max to 0: along each
    eigenvector of Σ the offset from μ scales by √(λ / (λ + σ_max²))."""
    lam, vecs = np.linalg.eigh(COV)
    a = vecs @ np.diag(np.sqrt(lam / (lam + SIGMA_MAX**2))) @ vecs.T
    return MEAN + (x_init - MEAN) @ a.T


def _assert_gaussian_moments(samples, n_sigma=5.0, slack=0.0):
    """Sample mean and covariance within ``n_sigma`` standard errors (plus ``slack`` relative to
    the covariance scale, for a sampler's own discretisation error)."""
    n = len(samples)
    m = samples.mean(axis=0)
    c = np.cov(samples.T)
    se_mean = np.sqrt(np.diag(COV) / n)
    # Var of a sample covariance entry for Gaussian data: (Σ_ij² + Σ_ii Σ_jj) / n.
    se_cov = np.sqrt((COV**2 + np.outer(np.diag(COV), np.diag(COV))) / n)
    assert np.all(np.abs(m - MEAN) < n_sigma * se_mean + slack), (m, MEAN)
    assert np.all(np.abs(c - COV) < n_sigma * se_cov + slack * np.abs(COV).max()), (c, COV)


# Heun steps for each schedule to reach the exact flow within 0.05 (VE's geometric grid needs more).
HEUN_STEPS = {"edm": 60, "vp": 40, "cosine": 40, "ve": 400}


@pytest.mark.parametrize("schedule", sorted(SCHEDULES))
def test_heun_recovers_the_gaussian(gaussian, schedule):
    x_init = _exact_marginal(4000, seed=0)
    out = np.asarray(
        toyflow.sample(
            gaussian,
            4000,
            x_init=x_init,
            solver="heun",
            steps=HEUN_STEPS[schedule],
            schedule=schedule,
        ),
        np.float64,
    )
    assert out.shape == (4000, 2) and np.all(np.isfinite(out))
    # Per sample: the ODE solution matches the exact flow map.
    np.testing.assert_allclose(out, _exact_flow(x_init), rtol=0, atol=0.05)
    # In distribution: N(μ, Σ) within sampling error.
    _assert_gaussian_moments(out)


def test_heun_beats_euler_and_converges(gaussian):
    x_init = _exact_marginal(500, seed=1)
    exact = _exact_flow(x_init)
    err = {}
    for solver in ("euler", "heun"):
        for steps in (20, 80):
            out = np.asarray(
                toyflow.sample(gaussian, 500, x_init=x_init, solver=solver, steps=steps)
            )
            err[solver, steps] = np.abs(out - exact).max()
    assert err["heun", 20] < err["euler", 20]
    assert err["euler", 80] < 0.5 * err["euler", 20]  # first order
    assert err["heun", 80] < 0.1 * err["heun", 20]  # second order: 16x in theory


def test_stochastic_sampler_recovers_the_gaussian(gaussian):
    x_init = _exact_marginal(20_000, seed=2)
    out = np.asarray(
        toyflow.sample(
            gaussian, 20_000, x_init=x_init, solver="stochastic", steps=200, seed=3, s_noise=1.0
        ),
        np.float64,
    )
    assert np.all(np.isfinite(out))
    # Churn adds fresh noise, so samples are not the deterministic flow of x_init ...
    assert np.abs(out - _exact_flow(x_init)).max() > 0.5
    # ... but the distribution is still N(μ, Σ) (plus a small discretisation bias).
    _assert_gaussian_moments(out, slack=0.02)


def test_default_init_is_sigma_max_times_standard_normal(gaussian):
    """Without x_init the start is σ_max·N(0, I) (the paper's), so the mean of a Gaussian away
    from the origin is biased by about μ·λ^½/σ_max — small but systematic."""
    _, traj, _ = toyflow.sample(
        gaussian, 4000, steps=40, solver="heun", seed=4, return_trajectory=True
    )
    x0 = np.asarray(traj[0], np.float64)
    assert abs(x0.mean(axis=0)).max() < 5 * SIGMA_MAX / np.sqrt(4000)
    assert x0.std(axis=0) == pytest.approx([SIGMA_MAX, SIGMA_MAX], rel=0.05)
    np.testing.assert_allclose(np.asarray(traj[-1]), _exact_flow(x0), atol=0.1)


# --- trajectories ------------------------------------------------------------------------------------


@pytest.mark.parametrize("solver", sorted(SOLVERS))
@pytest.mark.parametrize("schedule", ["edm", "vp"])
def test_trajectory_shapes_and_ends(circle, solver, schedule):
    D = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    steps, n = 12, 64
    samples, traj, sigmas = toyflow.sample(
        D, n, steps=steps, solver=solver, schedule=schedule, seed=5, return_trajectory=True
    )
    assert samples.shape == (n, 2)
    assert traj.shape == (steps + 1, n, 2)
    assert sigmas.shape == (steps + 1,)
    assert sigmas[0] == pytest.approx(80.0, rel=1e-4)
    assert sigmas[-2] == pytest.approx(0.002, rel=1e-4)
    assert sigmas[-1] == 0.0 and np.all(np.diff(sigmas) < 0)
    np.testing.assert_allclose(np.asarray(traj[-1]), np.asarray(samples), rtol=1e-6, atol=1e-6)
    assert np.all(np.isfinite(np.asarray(traj)))
    # Without the trajectory: the same samples.
    again = toyflow.sample(D, n, steps=steps, solver=solver, schedule=schedule, seed=5)
    np.testing.assert_allclose(np.asarray(again), np.asarray(samples), rtol=1e-6, atol=1e-6)


def test_x_init_is_the_first_state_and_seeds_matter(circle):
    D = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    x_init = np.random.default_rng(6).normal(size=(64, 2)) * 80.0
    _, traj, _ = toyflow.sample(D, 64, x_init=x_init, steps=10, return_trajectory=True)
    np.testing.assert_allclose(np.asarray(traj[0]), x_init, rtol=1e-6)
    a = np.asarray(toyflow.sample(D, 64, steps=10, seed=1))
    b = np.asarray(toyflow.sample(D, 64, steps=10, seed=1))
    c = np.asarray(toyflow.sample(D, 64, steps=10, seed=2))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 0.1


# --- memorisation and labels ------------------------------------------------------------------------


@pytest.mark.parametrize("solver", ["euler", "heun"])
def test_optimal_denoiser_samples_are_training_points(circle, solver):
    D = toyflow.OptimalDenoiser(circle.train_x)
    samples = np.asarray(toyflow.sample(D, 500, solver=solver, seed=7), np.float64)
    assert metrics.memorized_fraction(samples, circle.train_x) >= 0.99
    d, _ = metrics.nearest_neighbours(samples, circle.train_x, k=1)
    assert np.median(d[:, 0]) < 0.01
    # Every training point is reached (500 samples over 10 points).
    _, idx = metrics.nearest_neighbours(samples, circle.train_x, k=1)
    assert set(idx[:, 0].tolist()) == set(range(10))


def test_conditional_sampling_stays_in_the_class(circle):
    labels = np.arange(10) % 3
    D = toyflow.OptimalDenoiser(circle.train_x, labels)
    want = np.arange(300) % 3
    samples = np.asarray(toyflow.sample(D, 300, labels=want, seed=8))
    _, idx = metrics.nearest_neighbours(samples, circle.train_x, k=1)
    np.testing.assert_array_equal(labels[idx[:, 0]], want)
    assert metrics.memorized_fraction(samples, circle.train_x) >= 0.99
    # One label for every sample.
    samples = np.asarray(toyflow.sample(D, 100, labels=2, seed=9))
    _, idx = metrics.nearest_neighbours(samples, circle.train_x, k=1)
    assert set(labels[idx[:, 0]].tolist()) == {2}


# --- compile once -----------------------------------------------------------------------------------------


def test_new_grids_and_deltas_do_not_recompile(circle):
    x_init = np.random.default_rng(10).normal(size=(64, 2)) * 80.0
    toyflow.sample(toyflow.ErrorProneDenoiser(circle.train_x, 2.0), 64, x_init=x_init, steps=16)
    before = _integrate._cache_size()
    for i, delta in enumerate(np.linspace(0.5, 2.2, 6)):
        toyflow.sample(
            toyflow.ErrorProneDenoiser(circle.train_x, delta),
            64,
            x_init=x_init,
            steps=16,
            sigma_max=40.0 + i,
            sigma_min=0.001 * (i + 1),
            rho=5.0 + i,
        )
    assert _integrate._cache_size() == before


# --- input checks -----------------------------------------------------------------------------------------


def test_sample_rejects_bad_input(circle):
    D = toyflow.OptimalDenoiser(circle.train_x)
    # Plain functions D(x, sigma) are accepted (wrapped as FunctionDenoiser); anything that is
    # not callable, or a function that breaks the contract, is a clear error.
    with pytest.raises(ValueError, match="toyflow denoiser"):
        toyflow.sample("optimal", 4)
    with pytest.raises(ValueError, match="shape of x"):
        toyflow.sample(lambda x, s: x[:, :1], 4)
    with pytest.raises(ValueError, match="n must be"):
        toyflow.sample(D, 0)
    with pytest.raises(ValueError, match="2 columns"):
        toyflow.sample(D, 4, x_init=np.zeros((4, 3)))
    with pytest.raises(ValueError, match="NaN"):
        toyflow.sample(D, 4, x_init=np.full((4, 2), np.nan))
    with pytest.raises(ValueError, match="labels=None"):
        toyflow.sample(D, 4, labels=[0, 1, 0, 1])
    with pytest.raises(ValueError, match="steps"):
        toyflow.sample(D, 4, steps=0)
    with pytest.raises(ValueError, match="smaller than sigma_max"):
        toyflow.sample(D, 4, sigma_min=100.0)
    with pytest.raises(ValueError, match="seed"):
        toyflow.sample(D, 4, seed=-1)
    with pytest.raises(ValueError, match="s_churn"):
        toyflow.sample(D, 4, solver="stochastic", s_churn=-1.0)
    Dc = toyflow.OptimalDenoiser(circle.train_x, np.arange(10) % 2)
    with pytest.raises(ValueError, match=r"shape \(4,\)"):
        toyflow.sample(Dc, 4, labels=[0, 1])
    with pytest.raises(ValueError, match="not seen"):
        toyflow.sample(Dc, 4, labels=[0, 1, 2, 1])


# --- starting partway down the grid (sigma_start) -------------------------------------------------


@pytest.mark.parametrize("solver", ["euler", "heun"])
@pytest.mark.parametrize("schedule", ["edm", "vp"])
def test_sigma_start_continues_a_full_run(circle, solver, schedule):
    """Started at σ_k from a full run's states at σ_k, the rest of the trajectory is the full
    run's (same steps on the same states; VP rescales states by s(t), which rounds)."""
    tol = dict(rtol=1e-5, atol=1e-4) if schedule == "edm" else dict(rtol=1e-4, atol=1e-3)
    model = toyflow.ErrorProneDenoiser(circle.train_x, delta=1.4)
    kw = dict(steps=16, solver=solver, schedule=schedule)
    x, traj, grid = toyflow.sample(model, 64, seed=3, return_trajectory=True, **kw)
    np.testing.assert_array_equal(grid, toyflow.sampling_sigmas(schedule, 16))
    for k in (1, 12):
        x_k, traj_k, grid_k = toyflow.sample(
            model, 64, x_init=traj[k], sigma_start=grid[k], return_trajectory=True, **kw
        )
        assert traj_k.shape == (17 - k, 64, 2)
        np.testing.assert_array_equal(grid_k, grid[k:])
        np.testing.assert_allclose(np.asarray(traj_k), np.asarray(traj[k:]), **tol)
        np.testing.assert_allclose(np.asarray(x_k), np.asarray(x), **tol)


def test_sigma_start_at_sigma_max_is_the_full_run(circle):
    model = toyflow.OptimalDenoiser(circle.train_x)
    full = toyflow.sample(model, 32, steps=10, seed=5)
    grid = toyflow.sampling_sigmas(steps=10)
    again = toyflow.sample(model, 32, steps=10, seed=5, sigma_start=grid[0])
    np.testing.assert_array_equal(np.asarray(full), np.asarray(again))


def test_sigma_start_from_noisy_training_points_memorizes(circle):
    """Noisy training points injected at a small σ flow back to their own training point."""
    model = toyflow.OptimalDenoiser(circle.train_x)
    grid = toyflow.sampling_sigmas(steps=40)
    k = int(np.argmin(np.abs(grid[:-1] - 0.05)))
    rng = np.random.default_rng(0)
    y = np.repeat(circle.train_x, 5, axis=0)
    x = toyflow.sample(
        model, 0, steps=40, x_init=y + grid[k] * rng.normal(size=y.shape), sigma_start=grid[k]
    )
    np.testing.assert_allclose(np.asarray(x), y, atol=1e-3)


def test_sigma_start_off_the_grid_is_an_error(circle):
    model = toyflow.OptimalDenoiser(circle.train_x)
    with pytest.raises(ValueError, match="not a value of the sampling grid"):
        toyflow.sample(model, 4, steps=10, sigma_start=1.2345)
    with pytest.raises(ValueError, match="sigma_start"):
        toyflow.sample(model, 4, steps=10, sigma_start=-1.0)
    with pytest.raises(ValueError, match="sigma_start"):
        toyflow.sample(model, 4, steps=10, sigma_start=0.0)
