"""The explorer's intervention (toyflow.explorer.intervention) on a tiny setting: known limits of
the hybrid and of injection, the twin's data, and the learned twin trained by the training jobs."""

from __future__ import annotations

import time

import numpy as np
import pytest

from toyflow import explorer as tfx
from toyflow import metrics
from toyflow.explorer import ExplorerState
from toyflow.explorer import intervention as ei

STEPS = 10
TINY = dict(n_samples=40, sample_steps=STEPS, show_curves=False, disk_cache=False)
SMALL = dict(width=16, depth=2, train_steps=300, batch_size=32)  # as tests/test_app_state.py


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")
    tfx.clear_memory_cache()
    tfx.clear_view_caches()
    ei.clear_cache()
    yield
    tfx.clear_memory_cache()


def fresh(kind="optimal", **params) -> ExplorerState:
    state = ExplorerState(kind=kind, **{**TINY, **params})
    state.refresh()
    assert state.error == "", state.error
    return state


def _nearest(points, train_x) -> np.ndarray:
    return np.min(np.linalg.norm(points[:, None] - train_x[None], axis=-1), axis=1)


@pytest.mark.parametrize("kind", ["optimal", "error-prone"])
def test_hybrid_switch_at_sigma_max_is_the_model_and_at_sigma_min_memorizes(kind):
    s = fresh(kind)
    traj = s.trajectories()
    grid = s.sigma_grid()
    ds = s.data().dataset
    for switch in (grid[0], 3 * s.sigma_max):  # the model takes every step
        h = ei.hybrid(s, switch)
        np.testing.assert_array_equal(h.samples, traj.samples)
        assert h.fraction == h.model_fraction == float(np.mean(traj.memorized))
    assert h.baseline == metrics.memorized_fraction(ds.val_x, ds.train_x)
    # D* on every step but the last (σ_min): D*'s samples sit on training points and the last
    # step at σ = 0.002 cannot move them off, whatever the model.
    low = ei.hybrid(s, grid[-2])
    assert low.fraction == 1.0
    if kind == "error-prone":
        assert h.model_fraction < 0.9  # the switch is what changed it
    # The band form with D* in no step at all (a band between grid levels) is the model again.
    band = ei.hybrid(s, 0.99 * grid[3], 1.01 * grid[4])
    np.testing.assert_array_equal(band.samples, traj.samples)


@pytest.mark.parametrize("kind", ["optimal", "error-prone"])
def test_injection_at_tiny_sigma_is_memorized_by_the_model(kind):
    s = fresh(kind, sigma_index=STEPS - 1)
    twin, twin_key = ei.twin_denoiser(s)
    c = ei.curves(s, twin, twin_key)
    k = STEPS - 1
    assert c.sigmas.shape == (STEPS,) and c.sigmas[k] == s.sigma_grid()[k] < 0.01
    assert c.injected_train.mean[k] == 1.0 and c.injected_train.se[k] == 0.0
    inj = ei.injection(s, twin, twin_key, c)
    assert inj.index == k and inj.model_memorized == (1.0, 0.0)
    train_x = s.data().dataset.train_x
    assert inj.model_paths.shape == (2, len(inj.starts), 2)  # σ_k and 0
    assert np.all(_nearest(inj.model_paths[-1], train_x) < 0.05)
    if kind == "optimal":
        # D*_twin snaps to its own points (the circle's other half): midway between two of A's
        # training points, never memorized; the model itself is D*, so it copies exactly.
        assert inj.twin_memorized == (0.0, 0.0)
        np.testing.assert_array_equal(c.copy_train.mean, 0.0)
    else:
        # The smooth twin barely moves states at σ_min: the starts are already A's points.
        assert inj.twin_memorized[0] == 1.0
        assert np.all(c.copy_train.mean > 0)
    for ps in (c.injected_twin, c.injected_val, c.hybrid, c.band, c.copy_trajectory):
        assert ps.mean.shape == (STEPS,) and np.all(np.isfinite(ps.mean))
    assert np.all((c.auc.auc >= 0) & (c.auc.auc <= 1)) and c.auc_fresh is not None
    assert c.gap is not None and c.gap.shape == (STEPS,)


def test_twin_data_are_disjoint_from_the_training_data():
    # The symmetric circle is a fixed design: its twin is the other half of the angles.
    s = fresh(n_train=12, n_val=4)
    train = s.data().dataset.train_x
    twin = ei.twin_points(s)
    assert twin.shape == train.shape
    assert _nearest(twin, train).min() > 1.0
    np.testing.assert_allclose(np.linalg.norm(twin, axis=1), 10.0, rtol=1e-5)
    # A random data set: an independent draw of the same size.
    s.dataset = "moons"
    train, twin = s.data().dataset.train_x, ei.twin_points(s)
    assert twin.shape == train.shape and _nearest(twin, train).min() > 0
    # Drawn points: the held-out ones, when there are enough of them.
    pts = np.random.default_rng(0).normal(size=(20, 2)) * 5
    s.use_points(pts)
    s.holdout = 0.5
    train, twin = s.data().dataset.train_x, ei.twin_points(s)
    assert twin.shape == train.shape and _nearest(twin, train).min() > 0
    s.holdout = 0.2
    with pytest.raises(ValueError, match="hold out at least half"):
        ei.twin_points(s)


def test_twin_of_an_analytic_model_is_the_same_kind_on_the_twin_points():
    s = fresh("error-prone", delta=0.9)
    twin, _ = ei.twin_denoiser(s)
    np.testing.assert_array_equal(np.asarray(twin.train_x), ei.twin_points(s))
    assert float(twin.delta) == pytest.approx(0.9)


@pytest.mark.parametrize(
    "switch, lo",
    [
        (0.0, None),
        (-1.0, None),
        (float("nan"), None),
        (float("inf"), None),
        ("x", None),
        (1.0, 2.0),
    ],
)
def test_bad_switch_raises_value_error(switch, lo):
    s = fresh()
    with pytest.raises(ValueError, match=r"σ_switch|lower edge"):
        ei.hybrid(s, switch, lo)


def test_unsupported_models_are_refused_with_a_message():
    s = fresh(granularity="coarse")
    with pytest.raises(ValueError, match="unconditional"):
        ei.hybrid(s, 1.0)
    r = ei.InterventionRunner(s)
    r.run(wait=True)
    assert r.status == "failed" and "unconditional" in r.message and r.hybrid_view is None


def test_runner_publishes_every_part_and_follows_the_switch():
    s = fresh()
    r = ei.InterventionRunner(s)
    r.run(wait=True)
    assert r.status == "done", r.message
    assert r.hybrid_view is not None and r.curves_view is not None and r.injection_view is not None
    grid = s.sigma_grid()
    r.switch_index = 3
    r.band_steps = 2
    assert r.wait_idle(120)
    h = r.hybrid_view
    assert (h.sigma_switch, h.band_lo) == (grid[3], grid[4])


def test_learned_twin_is_trained_by_a_training_job_and_cached():
    s = fresh("learned", **SMALL)
    job = s.train()
    assert job is not None and job.wait(240) and job.status == "done", job.error
    s.refresh()
    r = ei.InterventionRunner(s)
    r.run()
    deadline = time.time() + 300
    while r.status != "done" and time.time() < deadline:
        time.sleep(0.2)
    assert r.status == "done", (r.status, r.message, r.twin_message)
    twin_job = r.job
    assert twin_job is not None and twin_job.status == "done" and r.twin_status == "done"
    np.testing.assert_array_equal(twin_job.train_x, ei.twin_points(s))
    assert twin_job.config == ei.twin_config(s) and twin_job.config.seed == s.seed
    assert twin_job.config.steps == SMALL["train_steps"]
    # The twin is another network: its denoised points differ from the model's.
    twin, _ = ei.twin_denoiser(s, twin_job.result)
    x = s.data().dataset.train_x + 0.5
    assert np.abs(np.asarray(twin(x, 1.0)) - np.asarray(s.current_denoiser()(x, 1.0))).max() > 1e-3
    # A second runner finds the trained twin in the cache: no new job.
    r2 = ei.InterventionRunner(s)
    r2.run(wait=True)
    assert r2.status == "done" and r2.job is None and r2.twin_status == "cached"
    # Progress and cancel: the twin of a longer training streams progress and stops on cancel.
    s.train_steps = 100_000
    r3 = ei.InterventionRunner(s)
    seen = []
    r3.param.watch(lambda e: seen.append(e.new), "twin_progress")
    long_job = r3.train_twin()
    deadline = time.time() + 120
    while long_job.step == 0 and time.time() < deadline:
        time.sleep(0.05)
    r3.cancel_twin()
    assert long_job.wait(30) and long_job.status == "cancelled"
    assert r3.twin_status == "cancelled" and "cancelled" in r3.twin_message
    assert 0 < max(seen) < 1
