"""Training: the loss falls, snapshots, cancellation, chunking and sweep invariance, save/load, and
the paper-level behaviour (a big model on 10 points memorises; a small one on 500 generalises).

Compilation dominates on a CPU, so the tests share a few configurations: one width-64 model on 500
random-circle points (chunk length 250 or 50), one sweep, one conditional model and one width-256
model on the 10 symmetric-circle points.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest

import toyflow
from toyflow import metrics
from toyflow.training import Progress, TrainingCancelled, measure_sigma_data

SMALL = dict(width=64, depth=3, batch_size=256, learning_rate=2e-3, n_snapshots=6)
GAP_SIGMAS = np.geomspace(0.02, 80.0, 12)


def _max_param_diff(a, b):
    la, lb = jax.tree_util.tree_leaves(a.params), jax.tree_util.tree_leaves(b.params)
    assert len(la) == len(lb)
    return max(float(np.max(np.abs(np.asarray(u) - np.asarray(v)))) for u, v in zip(la, lb))


@pytest.fixture(scope="module")
def dense(random_circle):
    """500 training / 500 validation points at random angles on the radius-10 circle."""
    return random_circle(500, 500, seed=0)


@pytest.fixture(scope="module")
def small_run(dense):
    return toyflow.train(dense.train_x, steps=1000, seed=0, **SMALL)


# --- the basics --------------------------------------------------------------------------------------


def test_loss_falls_and_result_fields(small_run, dense):
    r = small_run
    assert r.losses.shape == (1000,) and np.all(np.isfinite(r.losses))
    assert r.losses[-100:].mean() < 0.9 * r.losses[:20].mean()
    assert r.steps_done == 1000 and not r.cancelled
    assert r.sigma_data == pytest.approx(np.std(dense.train_x), rel=1e-5)
    assert r.settings["seed"] == 0 and r.settings["n_train"] == 500
    assert r.settings["learning_rate"] == pytest.approx(2e-3)
    assert r.wall_time > 0 and r.steps_per_second > 0
    assert isinstance(r.denoiser, toyflow.MLPDenoiser) and r.denoiser.config.width == 64


def test_snapshots_are_log_spaced_and_end_at_steps(small_run):
    steps = np.asarray(small_run.snapshot_steps)
    assert len(small_run.snapshots) == len(steps) == 6
    assert steps[-1] == 1000 and steps[0] <= 10
    assert np.all(np.diff(steps) > 0)
    ratios = steps[1:] / steps[:-1]
    assert ratios.max() / ratios.min() < 1.2  # geometric spacing, up to rounding
    assert [s.step for s in small_run.snapshots] == list(steps)
    # The last snapshot is the final model; earlier ones differ from it.
    assert _max_param_diff(small_run.snapshots[-1], small_run.denoiser) == 0.0
    assert _max_param_diff(small_run.snapshots[0], small_run.denoiser) > 1e-3


def test_snapshot_equals_a_run_stopped_there_and_chunking_is_invisible(dense):
    """Per-step randomness is fold_in(key, step): 50 or 250 steps per call give the same model,
    and a snapshot at step s equals a run of s steps."""
    r250 = toyflow.train(dense.train_x, steps=300, seed=3, steps_per_call=250, **SMALL)
    r50 = toyflow.train(dense.train_x, steps=300, seed=3, steps_per_call=50, **SMALL)
    assert r250.snapshot_steps == r50.snapshot_steps
    np.testing.assert_allclose(r50.losses, r250.losses, rtol=1e-5, atol=1e-6)
    assert _max_param_diff(r50.denoiser, r250.denoiser) < 1e-5
    s = r50.snapshot_steps[-2]
    short = toyflow.train(dense.train_x, steps=s, seed=3, steps_per_call=50, **SMALL)
    np.testing.assert_allclose(short.losses, r50.losses[:s], rtol=1e-5, atol=1e-6)
    assert _max_param_diff(short.denoiser, r50.snapshots[-2]) < 1e-5


@pytest.mark.parametrize("how", ["return_false", "raise"])
def test_callback_cancels(dense, how):
    seen: list[Progress] = []

    def callback(p: Progress):
        seen.append(p)
        if len(seen) == 2:
            if how == "raise":
                raise TrainingCancelled()
            return False
        return None

    r = toyflow.train(dense.train_x, steps=1000, seed=0, callback=callback, **SMALL)
    assert r.cancelled and 0 < r.steps_done < 1000
    assert len(seen) == 2 and seen[-1].step == r.steps_done
    assert seen[0].step < seen[1].step and seen[0].total == 1000
    assert 0 < seen[1].fraction < 1 and np.isfinite(seen[1].loss)
    assert r.losses.shape == (r.steps_done,)
    assert r.snapshot_steps[-1] == r.steps_done
    assert r.denoiser(dense.val_x[:4], 1.0).shape == (4, 2)


def test_callback_sees_every_chunk_when_not_cancelled(dense):
    seen = []
    r = toyflow.train(dense.train_x, steps=300, seed=0, callback=seen.append, **SMALL)
    assert not r.cancelled and r.steps_done == 300
    assert [p.step for p in seen] == sorted({p.step for p in seen}) and seen[-1].step == 300
    assert sum(p.losses.shape[1] for p in seen) == 300
    assert {p.step for p in seen if p.snapshot} == set(r.snapshot_steps)


# --- sweeps --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sweep_setup(dense):
    subset = np.sort(np.random.default_rng(1).choice(500, 200, replace=False))
    sweep = toyflow.train_sweep(
        dense.train_x,
        seeds=[0, 1, 2],
        learning_rates=[2e-3, 3e-3, 3e-3],
        subsets=[np.arange(500), np.arange(500), subset],
        steps=300,
        **{k: v for k, v in SMALL.items() if k != "learning_rate"},
    )
    return sweep, subset


def test_sweep_equals_separate_runs_with_per_model_seeds_and_learning_rates(dense, sweep_setup):
    sweep, _ = sweep_setup
    assert len(sweep) == 3 and sweep.losses.shape == (3, 300)
    for i, lr in ((0, 2e-3), (1, 3e-3)):
        single = toyflow.train(dense.train_x, steps=300, seed=i, **{**SMALL, "learning_rate": lr})
        assert sweep[i].settings["seed"] == i
        assert sweep[i].settings["learning_rate"] == pytest.approx(lr)
        np.testing.assert_allclose(sweep[i].losses, single.losses, rtol=1e-4, atol=1e-5)
        assert _max_param_diff(sweep[i].denoiser, single.denoiser) < 1e-4
    # Different seeds and rates give different models.
    assert _max_param_diff(sweep[0].denoiser, sweep[1].denoiser) > 1e-3


def test_sweep_subset_equals_training_on_the_subset(dense, sweep_setup):
    sweep, subset = sweep_setup
    alone = toyflow.train(
        dense.train_x[subset], steps=300, seed=2, **{**SMALL, "learning_rate": 3e-3}
    )
    r = sweep[2]
    assert r.settings["n_train"] == 200
    assert r.sigma_data == pytest.approx(measure_sigma_data(dense.train_x[subset]), rel=1e-6)
    assert r.sigma_data != sweep[0].sigma_data
    np.testing.assert_allclose(r.losses, alone.losses, rtol=1e-4, atol=1e-5)
    assert _max_param_diff(r.denoiser, alone.denoiser) < 1e-4


def test_sweep_groups_change_speed_not_results(dense):
    """The model axis split into groups that run at once from threads (the CPU default: one per
    core); an uneven split repeats the last model and drops the copy. Same losses, weights,
    snapshots and progress reports as one vmapped group."""
    from toyflow.training import available_cores, sweep_groups

    assert sweep_groups(16) == min(16, available_cores())  # this suite runs on the CPU backend
    assert sweep_groups(1) == 1 and sweep_groups(5, 3) == 3
    args = dict(
        seeds=[0, 1, 2],
        learning_rates=[2e-3, 3e-3, 1e-3],
        steps=60,
        steps_per_call=25,
        **{**SMALL, "n_snapshots": 3},
    )
    del args["learning_rate"]
    runs = {}
    for groups in (1, 2):
        reports = []
        runs[groups] = toyflow.train_sweep(
            dense.train_x, groups=groups, callback=reports.append, **args
        )
        assert [len(p.denoisers) for p in reports if p.snapshot] == [3] * len(
            runs[groups][0].snapshot_steps
        )
        assert all(p.losses.shape[0] == 3 for p in reports)
    for i in range(3):
        a, b = runs[1][i], runs[2][i]
        np.testing.assert_allclose(b.losses, a.losses, rtol=1e-5, atol=1e-6)
        assert b.snapshot_steps == a.snapshot_steps
        assert _max_param_diff(b.denoiser, a.denoiser) < 1e-5
        assert _max_param_diff(b.snapshots[0], a.snapshots[0]) < 1e-5
    for bad in (0, 4, 2.5):
        with pytest.raises(ValueError, match="groups"):
            toyflow.train_sweep(dense.train_x, groups=bad, **args)


# --- conditional ------------------------------------------------------------------------------------------


def test_conditional_training_learns_the_labels(dense):
    """Labels = upper/lower half of the circle: at moderate σ the conditional model pulls the
    origin towards its label's half, and labels=None (the null class) stays in between."""
    labels = (dense.train_x[:, 1] < 0).astype(int)
    r = toyflow.train(dense.train_x, labels, steps=800, seed=0, **SMALL)
    D = r.denoiser
    assert D.num_classes == 2 and r.settings["architecture"]["num_classes"] == 2
    origin = np.zeros((64, 2), np.float32)
    upper = np.asarray(D(origin, 3.0, np.zeros(64, int)))[:, 1]
    lower = np.asarray(D(origin, 3.0, np.ones(64, int)))[:, 1]
    either = np.asarray(D(origin, 3.0))[:, 1]
    assert upper.mean() > 2.0 and lower.mean() < -2.0
    assert lower.mean() < either.mean() < upper.mean()
    with pytest.raises(ValueError, match="< 2"):
        D(origin, 3.0, np.full(64, 2))


# --- save / load ------------------------------------------------------------------------------------------


def test_save_load_round_trip(small_run, dense, tmp_path):
    path = tmp_path / "model.msgpack"
    small_run.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.msgpack"]  # no temporary files left
    back = toyflow.TrainResult.load(path)
    x = dense.val_x[:64]
    for sigma in (0.05, 1.0, 20.0):
        np.testing.assert_array_equal(
            np.asarray(back.denoiser(x, sigma)), np.asarray(small_run.denoiser(x, sigma))
        )
    for a, b in zip(back.snapshots, small_run.snapshots):
        np.testing.assert_array_equal(np.asarray(a(x, 1.0)), np.asarray(b(x, 1.0)))
    np.testing.assert_array_equal(back.losses, small_run.losses)
    assert back.snapshot_steps == small_run.snapshot_steps
    assert back.settings == small_run.settings
    assert back.sigma_data == pytest.approx(small_run.sigma_data)
    assert back.steps_done == small_run.steps_done and back.cancelled == small_run.cancelled
    assert back.denoiser.config == small_run.denoiser.config


def test_failed_save_leaves_old_file_intact(small_run, tmp_path, monkeypatch):
    path = tmp_path / "model.msgpack"
    path.write_bytes(b"the previous model")

    def boom(*args, **kwargs):
        raise OSError("disk full")

    for target in ("fsync", "replace"):
        with monkeypatch.context() as m:
            m.setattr(toyflow.training.os, target, boom)
            with pytest.raises(OSError, match="disk full"):
                toyflow.save_result(small_run, path)
        assert path.read_bytes() == b"the previous model"
        assert sorted(os.listdir(tmp_path)) == ["model.msgpack"]


@pytest.mark.parametrize(
    "content", [b"", b"not a model at all", bytes(range(256)) * 4, b"\x81\xa1a\x01"]
)  # the last: valid msgpack {"a": 1}
def test_load_garbage_raises_value_error(tmp_path, content):
    path = tmp_path / "garbage.msgpack"
    path.write_bytes(content)
    with pytest.raises(ValueError, match="not a toyflow model file"):
        toyflow.load_result(path)


def test_load_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        toyflow.load_result(tmp_path / "nope.msgpack")


# --- the paper-level check ------------------------------------------------------------------------------


def test_big_model_on_few_points_memorises(circle):
    """Width 256 on the 10 symmetric-circle points: samples are training points and the
    train/validation gap is large at intermediate σ (and small at the ends of the grid)."""
    r = toyflow.train(
        circle.train_x,
        width=256,
        depth=3,
        steps=1500,
        batch_size=256,
        learning_rate=3e-3,
        seed=0,
        n_snapshots=0,
    )
    samples = toyflow.sample(r.denoiser, 500, seed=0)
    assert metrics.memorized_fraction(samples, circle.train_x) >= 0.8
    gap = metrics.relative_gap(r.denoiser, circle.train_x, circle.val_x, GAP_SIGMAS, n_noise=20)
    peak = int(np.argmax(gap))
    assert 0 < peak < len(GAP_SIGMAS) - 1
    assert 0.2 < GAP_SIGMAS[peak] < 5.0
    assert gap[peak] > 1.0
    assert abs(gap[-1]) < 0.1


def test_small_model_on_dense_data_generalises(small_run, dense):
    """Width 64 on 500 random-circle points: samples lie on the circle but are not copies of
    training points, and the gap stays small at every σ."""
    samples = np.asarray(toyflow.sample(small_run.denoiser, 500, seed=0), np.float64)
    assert metrics.memorized_fraction(samples, dense.train_x) <= 0.2
    radius = np.linalg.norm(samples, axis=1)
    assert abs(np.median(radius) - 10.0) < 0.5
    gap = metrics.relative_gap(
        small_run.denoiser, dense.train_x, dense.val_x, GAP_SIGMAS, n_noise=20
    )
    assert np.max(np.abs(gap)) < 0.15
