"""Intervention metrics recover known answers on constructed cases."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import toyflow
from toyflow import intervention as iv
from toyflow import metrics

STEPS = 20


@pytest.fixture(scope="module")
def models(circle):
    optimal = toyflow.OptimalDenoiser(circle.train_x)
    smooth = toyflow.ErrorProneDenoiser(circle.train_x, delta=1.6)
    return optimal, smooth


def test_integrate_from_matches_sample_with_sigma_start(circle, models):
    _, smooth = models
    grid = iv.grid(STEPS)
    idx = np.array([0, 5, 12, STEPS - 1])
    rng = np.random.default_rng(0)
    starts = (rng.normal(size=(len(idx), 30, 2)) * grid[idx, None, None]).astype(np.float32)
    ends = iv.integrate_from(smooth, starts, idx, steps=STEPS)
    for j, k in enumerate(idx):
        want = toyflow.sample(smooth, 0, steps=STEPS, x_init=starts[j], sigma_start=grid[k])
        np.testing.assert_allclose(ends[j], np.asarray(want), rtol=1e-5, atol=1e-4)


def test_training_points_injected_at_tiny_sigma_are_memorized(circle, models):
    """At σ ≈ 0.005 a smooth model barely moves a state: noisy training points end on their
    training point (memorized), noisy validation midpoints stay between two (not memorized)."""
    _, smooth = models
    grid = iv.grid(STEPS)
    idx = np.array([STEPS - 2, STEPS - 1])
    assert grid[idx].max() < 0.01
    train = iv.injection_memorization(
        smooth, iv.noisy_starts(circle.train_x, grid[idx], 4), idx, circle.train_x, steps=STEPS
    )
    val = iv.injection_memorization(
        smooth, iv.noisy_starts(circle.val_x, grid[idx], 4), idx, circle.train_x, steps=STEPS
    )
    np.testing.assert_array_equal(train.mean, 1.0)
    np.testing.assert_array_equal(train.se, 0.0)
    np.testing.assert_array_equal(val.mean, 0.0)
    np.testing.assert_allclose(train.sigmas, grid[idx])


def test_injection_from_sigma_max_matches_sampling(circle, models):
    """Injected at σ_max, noise ends where the sampler ends: the memorized share of D*'s
    samples (the optimal denoiser memorizes)."""
    optimal, _ = models
    grid = iv.grid(STEPS)
    starts = iv.noisy_starts(np.zeros((200, 2)), grid[:1], 2, seed=1)
    out = iv.injection_memorization(optimal, starts, [0], circle.train_x, steps=STEPS)
    samples = toyflow.sample(optimal, 0, steps=STEPS, x_init=starts[0].reshape(-1, 2))
    assert out.mean[0] == pytest.approx(metrics.memorized_fraction(samples, circle.train_x))
    assert out.mean[0] > 0.95


def test_copy_ratio_identical_models(circle, models):
    optimal, smooth = models
    grid = iv.grid(STEPS)
    sig = grid[[3, 8, 14]]
    states = iv.noisy_starts(circle.val_x, sig, 5)
    same = iv.copy_ratio(smooth, smooth, optimal, states, sig)
    np.testing.assert_array_equal(same.numerator.groups, same.denominator.groups)
    np.testing.assert_allclose(same.ratio.mean, 1.0)
    np.testing.assert_array_equal(same.a_vs_b.mean, 0.0)
    # A model equal to D*_A copies perfectly: numerator 0, ratio 0.
    copy = iv.copy_ratio(optimal, smooth, optimal, states, sig)
    # (float32 rounding of the same computation fused differently: ~1e-14)
    assert np.all(copy.denominator.mean > 1e-3)
    assert np.all(copy.numerator.mean < 1e-9 * copy.denominator.mean)
    assert np.all(copy.ratio.mean < 1e-9)
    # The terms against a float64 NumPy evaluation.
    x = states[1].reshape(-1, 2)
    da = np.asarray(smooth(x, sig[1]), np.float64)
    ds = np.asarray(optimal(x, sig[1]), np.float64)
    want = np.mean(np.sum((da - ds) ** 2, axis=1))
    np.testing.assert_allclose(same.numerator.mean[1], want, rtol=1e-5)


def test_auc_identical_and_separated_sets():
    rng = np.random.default_rng(0)
    sig = np.array([1.0, 2.0])
    a = rng.normal(size=(2, 400, 2))
    b = rng.normal(size=(2, 400, 2))
    same = iv.two_sample_auc(a, b, sig, k=15)
    np.testing.assert_allclose(same.auc, 0.5, atol=0.05)
    assert np.all(same.lo < 0.5) and np.all(same.hi > 0.47)
    apart = iv.two_sample_auc(a, b + 10.0, sig, k=15)
    np.testing.assert_allclose(apart.auc, 1.0, atol=1e-6)
    # Subsets of the first set: half of it moved away is separated, the other half is not.
    mixed = a.copy()
    mixed[:, :200] += 10.0
    split = np.zeros((2, 400), bool)
    split[0, :200] = True
    split[1, 200:] = True
    sub = iv.two_sample_auc(mixed, b, sig, k=15, subsets=split)
    assert sub.auc.shape == (2, 2)
    np.testing.assert_allclose(sub.auc[:, 0], 1.0, atol=1e-6)
    np.testing.assert_allclose(sub.auc[:, 1], 0.5, atol=0.08)
    np.testing.assert_array_equal(sub.n_a, 200)


def test_train_likeness_scale():
    fresh = np.array([0.8, 0.8, 0.52])
    np.testing.assert_allclose(iv.train_likeness([0.8, 0.5, 0.5], fresh)[:2], [0.0, 1.0])
    assert np.isnan(iv.train_likeness([0.5, 0.5, 0.5], fresh)[2])


def test_hybrid_and_band_memorization_limits(circle, models):
    optimal, smooth = models
    grid = iv.grid(STEPS)
    kw = dict(n=120, n_groups=4, seed=2, steps=STEPS)
    # Switch above σ_max: all smooth steps; below every grid σ: all D* steps.
    hyb = iv.hybrid_memorization(optimal, smooth, [100.0, 1e-4, grid[10]], circle.train_x, **kw)
    noise = grid[0] * np.asarray(jax.random.normal(jax.random.PRNGKey(2), (120, 2)))
    for j, part in ((0, smooth), (1, optimal)):
        ends = toyflow.sample(part, 0, steps=STEPS, x_init=noise)
        assert hyb.mean[j] == pytest.approx(metrics.memorized_fraction(ends, circle.train_x))
    assert hyb.mean[1] > 0.95 and hyb.mean[0] < 0.9
    band = iv.band_memorization(
        smooth, optimal, [[grid[STEPS - 1], grid[0]], [50.0, 60.0]], circle.train_x, **kw
    )
    assert band.mean[0] == pytest.approx(hyb.mean[1])  # D* everywhere on the grid
    assert band.mean[1] == pytest.approx(hyb.mean[0])  # band off the grid: smooth everywhere


def test_bad_input(circle, models):
    optimal, smooth = models
    with pytest.raises(ValueError, match="solver"):
        iv.integrate_from(smooth, np.zeros((1, 3, 2)), [0], solver="stochastic")
    with pytest.raises(ValueError, match="sigma_indices"):
        iv.integrate_from(smooth, np.zeros((1, 3, 2)), [40], steps=40)
    with pytest.raises(ValueError, match="starts"):
        iv.integrate_from(smooth, np.zeros((2, 3, 2)), [0], steps=40)
    with pytest.raises(ValueError, match="finite"):
        iv.integrate_from(smooth, np.full((1, 3, 2), np.nan), [0], steps=40)
    with pytest.raises(ValueError, match="sigmas"):
        iv.copy_ratio(smooth, smooth, optimal, np.zeros((1, 2, 3, 2)), [0.0])
    with pytest.raises(ValueError, match="at least 2"):
        iv.two_sample_auc(np.zeros((1, 1, 2)), np.zeros((1, 5, 2)), [1.0])
    with pytest.raises(ValueError, match="band"):
        iv.band_memorization(smooth, optimal, [[2.0, 1.0]], circle.train_x, n=10, steps=5)


# --- the trajectory-intervention experiment on a tiny preset ------------------------------------

TINY = dict(
    replicates=2,
    n_train=8,
    width=8,
    depth=2,
    steps=30,
    batch_size=32,
    sample_steps=6,
    n_traj=24,
    n_draws=2,
    n_inject_traj=8,
    n_auc=20,
    knn=3,
    n_hybrid=8,
    band_steps=2,
    n_overlap_noise=1,
    n_gap_noise=2,
    n_gap_val=16,
)

ISSUE_KEYS = (
    "sigmas",
    "memorized_injected_train",
    "memorized_injected_train_twin",
    "memorized_injected_val",
    "memorized_from_trajectory",
    "copy_ratio_trajectory",
    "copy_ratio_train",
    "copy_ratio_val",
    "auc",
)


@pytest.mark.slow
def test_trajectory_intervention_tiny(tmp_path):
    import json

    from toyflow.experiments import EXPERIMENTS
    from toyflow.experiments.intervention import trajectory_intervention

    assert "trajectory-intervention" in EXPERIMENTS
    result = trajectory_intervention(outdir=tmp_path, **TINY)
    with open(tmp_path / "trajectory-intervention.json") as f:
        saved = json.load(f)
    assert (tmp_path / "trajectory-intervention.png").stat().st_size > 10_000
    arrays = saved["arrays"]
    grid = toyflow.sampling_sigmas(steps=6)[:-1]
    np.testing.assert_allclose(arrays["sigmas"], grid)
    for key in ISSUE_KEYS[1:] + ("hybrid_memorized", "hybrid_band_memorized"):
        assert np.shape(arrays[key]) == (2, 6), key
        assert np.shape(arrays[key + "_se"]) == (2, 6), key
    assert "sigmas_se" not in arrays or np.shape(arrays["sigmas_se"]) == (6,)
    fractions = [k for k in arrays if k.startswith(("memorized_", "hybrid_")) and "_se" not in k]
    for key in fractions:
        v = np.asarray(arrays[key], float)
        assert np.all((v >= 0) & (v <= 1)), key
    auc = np.asarray(arrays["auc"], float)
    assert np.all((auc >= 0) & (auc <= 1))
    assert np.all(np.asarray(arrays["auc_ci_lo"]) <= auc) and np.all(auc <= arrays["auc_ci_hi"])
    assert np.all(np.asarray(arrays["copy_ratio_val"], float) > 0)
    se = np.asarray(arrays["memorized_injected_train_se"], float)
    assert np.all(np.isfinite(se) & (se >= 0))
    # The model's own states at σ_k end where its trajectories end, whatever k.
    own = np.asarray(arrays["memorized_from_trajectory"], float)
    np.testing.assert_allclose(own, own[:, :1] * np.ones_like(own), atol=1e-6)
    cfg = saved["config"]
    assert cfg["setups"] == ["random-circle", "learned-default"] and cfg["replicates"] == 2
    for setup in cfg["setups"]:
        h = saved["headline"][setup]
        assert len(h["seeds"]) == 2 and 0 <= h["baseline_memorized_fraction"] <= 1
    assert saved["wall_time"] > 0 and result["wall_time"] > 0
    with pytest.raises(ValueError, match="unknown setting"):
        trajectory_intervention(colour="red")
    with pytest.raises(ValueError, match="replicates"):
        trajectory_intervention(replicates=1)


def test_metrics_take_images():
    """The same measures on tiny images (n, H, W, C): memorization from tiny σ, copy ratio of
    identical models, AUC of separated sets, and a hybrid sweep."""
    rng = np.random.default_rng(3)
    train = rng.normal(size=(6, 2, 2, 1)).astype(np.float32) * 3
    optimal = toyflow.OptimalDenoiser(train)
    grid = iv.grid(STEPS)
    idx = np.array([STEPS - 1])
    starts = iv.noisy_starts(train, grid[idx], 3)
    assert starts.shape == (1, 3, 6, 2, 2, 1)
    out = iv.injection_memorization(optimal, starts, idx, train, steps=STEPS)
    np.testing.assert_array_equal(out.mean, 1.0)
    cr = iv.copy_ratio(optimal, optimal, optimal, iv.noisy_starts(train, grid[[5]], 2), grid[[5]])
    np.testing.assert_array_equal(cr.numerator.groups, cr.denominator.groups)
    a = rng.normal(size=(1, 50, 2, 2, 1))
    auc = iv.two_sample_auc(a, a + 20.0, [1.0], k=5)
    np.testing.assert_allclose(auc.auc, 1.0)
    hyb = iv.hybrid_memorization(optimal, optimal, [1.0], train, n=16, n_groups=2, steps=STEPS)
    assert hyb.mean.shape == (1,) and hyb.mean[0] > 0.9
