"""Image measurements and experiments: the optimal denoiser memorizes a 500-image subset, Fréchet
distances in pixel and random-feature space, nearest-image figures, and ``image-gap --quick``
end to end (its compiled training step is shared with tests/test_images_unet.py)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from toyflow.experiments import images as image_experiments
from toyflow.images import digits, measure
from toyflow.sampling import sample


@pytest.fixture(scope="module")
def digits500():
    return digits().subset(500, seed=0)


def test_optimal_denoiser_memorizes_500_images(digits500):
    """Claim 1 on images: samples of the optimal denoiser are training images (≥ 99 %), while
    fresh validation digits are not (they are the 'perfect generalizer' baseline)."""
    opt = measure.optimal_denoiser(digits500.train_x)
    xs = np.asarray(sample(opt, 100, steps=20, seed=0))
    mem = measure.memorization(xs, digits500.train_x)
    assert mem["fraction"] >= 0.99
    # each memorized sample is (numerically) its nearest training image
    assert np.median(mem["distances"][:, 0]) < 1e-2
    assert measure.memorization(digits500.val_x, digits500.train_x)["fraction"] < 0.2


def test_optimal_denoiser_on_images_matches_flattened_points(digits500):
    opt_img = measure.optimal_denoiser(digits500.train_x[:200], chunk=64, query_block=16)
    from toyflow.denoisers import OptimalDenoiser

    opt_flat = OptimalDenoiser(digits500.train_x[:200].reshape(200, -1))
    x = digits500.val_x[:40] + 0.8 * np.random.default_rng(0).normal(size=(40, 8, 8, 1)).astype(
        np.float32
    )
    a = np.asarray(opt_img(x, 0.8)).reshape(40, -1)
    b = np.asarray(opt_flat(x.reshape(40, -1), 0.8))
    np.testing.assert_allclose(a, b, atol=1e-4)  # float32, different chunking


def test_frechet_and_random_features(digits500):
    f1 = measure.random_features(digits500.train_x[:50], dim=16, seed=3)
    f2 = measure.random_features(digits500.train_x[:50], dim=16, seed=3)
    assert f1.shape == (50, 16) and np.all(np.isfinite(f1))
    np.testing.assert_array_equal(f1, f2)
    assert not np.allclose(f1, measure.random_features(digits500.train_x[:50], dim=16, seed=4))
    for space in ("pixels", "features"):
        own = measure.frechet(
            digits500.train_x[:200], digits500.train_x, digits500.val_x, space=space, dim=16
        )
        noise = np.random.default_rng(0).uniform(-1, 1, (200, 8, 8, 1))
        far = measure.frechet(noise, digits500.train_x, digits500.val_x, space=space, dim=16)
        assert np.isfinite(own["fd_train"]) and own["fd_train"] < far["fd_train"]
        # a subset of the training set is closer to the training set than to fresh images
        assert own["relative_overfit"] > 0
    with pytest.raises(ValueError, match="pixels"):
        measure.frechet(noise, digits500.train_x, digits500.val_x, space="inception")


def test_nearest_figure_and_grid(digits500, tmp_path):
    from toyflow.plotting import save_figure

    xs = digits500.train_x[:6] + 0.01
    mem = measure.memorization(xs, digits500.train_x)
    assert mem["mask"].all()
    np.testing.assert_array_equal(mem["indices"][:, 0], np.arange(6))
    fig = measure.plot_nearest(xs, digits500.train_x, mem, n_show=6, title="near copies")
    path = save_figure(fig, tmp_path / "nearest.png")
    assert os.path.getsize(path) > 1000
    grid = measure.image_grid(digits500.train_x[:5], ncols=3)
    assert grid.shape == (2 * 9 + 1, 3 * 9 + 1, 1)


def test_image_gap_quick_writes_a_figure(tmp_path):
    result = image_experiments.image_gap(quick=True, outdir=tmp_path)
    a = result["arrays"]
    n_snap = len(a["steps"])
    assert n_snap >= 3 and a["gap"].shape == (n_snap, 64) and len(a["sigmas"]) == 64
    assert np.all(np.isfinite(a["gap"])) and result["checks"]["finite"]
    assert result["checks"]["loss_falls"]
    png, js = tmp_path / "image-gap.png", tmp_path / "image-gap.json"
    assert png.exists() and os.path.getsize(png) > 10_000
    loaded = json.loads(js.read_text())
    assert loaded["name"] == "image-gap" and loaded["quick"] is True
    assert np.asarray(loaded["arrays"]["gap"]).shape == (n_snap, 64)


def test_experiment_settings_are_checked():
    with pytest.raises(ValueError, match="unknown setting"):
        image_experiments.image_gap(quick=True, n_layers=3)
    with pytest.raises(ValueError, match="data_path"):
        image_experiments.image_memorization(quick=True, data="folder")
    with pytest.raises(ValueError, match="ks must be between 1"):
        image_experiments.image_condition_granularity(quick=True, ks=(1, 10_000))


IMAGE_INTERVENTION_KEYS = (
    "memorized_injected_train",
    "memorized_injected_train_twin",
    "memorized_injected_val",
    "memorized_from_trajectory",
    "copy_ratio_trajectory",
    "copy_ratio_train",
    "copy_ratio_val",
    "auc",
    "hybrid_memorized",
    "hybrid_band_memorized",
)


def test_image_trajectory_intervention_tiny_preset(tmp_path):
    """The image variant of claim 3's intervention on the tiny preset: the documented keys with
    standard errors, shares in [0, 1], and the two limits that hold for any model: D* at every
    step but the last memorizes every sample, and injection at the smallest σ (one Euler step
    from a training image plus 0.002 noise) ends on that training image."""
    from toyflow.experiments import EXPERIMENTS, run_experiment

    assert EXPERIMENTS["image-trajectory-intervention"].family == "images"
    result = run_experiment("image-trajectory-intervention", quick=True, outdir=tmp_path)
    saved = json.loads((tmp_path / "image-trajectory-intervention.json").read_text())
    assert (tmp_path / "image-trajectory-intervention.png").stat().st_size > 10_000
    a = {k: np.asarray(v, float) for k, v in saved["arrays"].items()}
    n_sigma = len(a["sigmas"])
    assert n_sigma == 8 and np.all(np.diff(a["sigmas"]) < 0)
    for key in IMAGE_INTERVENTION_KEYS:
        assert a[key].shape == (1, n_sigma) and a[key + "_se"].shape == (1, n_sigma), key
        assert not np.any(np.isinf(a[key])), key
    for key in IMAGE_INTERVENTION_KEYS:
        if key.startswith(("memorized", "hybrid")):
            assert np.all((a[key] >= 0) & (a[key] <= 1)), key
    assert np.all((a["auc"] >= 0) & (a["auc"] <= 1))
    assert np.all(a["copy_ratio_trajectory"] > 0)
    assert a["hybrid_memorized"][0, -1] == 1.0 and a["memorized_injected_train"][0, -1] == 1.0
    assert saved["config"]["setups"] == ["digits"] and saved["config"]["preset"] == "tiny"
    h = saved["headline"]["digits"]
    assert len(h["seeds"]) == 2 and h["n_train"] == 32
    assert saved["wall_time"] > 0 and result["wall_time"] > 0
    with pytest.raises(ValueError, match="replicates"):
        run_experiment("image-trajectory-intervention", quick=True, replicates=1)
    with pytest.raises(ValueError, match="n_train"):
        run_experiment("image-trajectory-intervention", quick=True, n_train=5000)
