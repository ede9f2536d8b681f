"""k-means, nearest-centre assignment and the label granularities.

XLA compiles one k-means kernel per (padded n, d, padded K); the tests reuse three shapes
(n ≤ 8, n ≈ 300 in 2D, n = 300 in 64D) to stay fast.
"""

from __future__ import annotations

import numpy as np
import pytest

from toyflow.datasets import make_dataset
from toyflow.labels import GRANULARITIES, assign, kmeans, make_labels


def _blobs(n, d, k, *, sep=20.0, std=0.5, seed=0):
    rng = np.random.default_rng(seed)
    means = sep * rng.standard_normal((k, d)) / np.sqrt(max(d / 2, 1)) + sep * np.eye(k, d)
    z = np.arange(n) % k
    return (means[z] + std * rng.standard_normal((n, d))).astype(np.float32), z, means


def _same_partition(a, b):
    """True when labels a and b group the points identically (up to renaming)."""
    pairs = set(zip(np.asarray(a).tolist(), np.asarray(b).tolist()))
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kmeans_recovers_separated_clusters_2d(seed):
    means = np.array([[0, 0], [10, 0], [0, 10], [10, 10], [-10, 5]], np.float32)
    rng = np.random.default_rng(seed)
    z = rng.integers(0, 5, size=300)
    x = means[z] + 0.4 * rng.standard_normal((300, 2)).astype(np.float32)
    centers, labels = kmeans(x, 5, seed=seed)
    assert centers.shape == (5, 2) and centers.dtype == np.float32
    assert labels.shape == (300,) and labels.dtype == np.int32
    assert _same_partition(labels, z)
    # Each centre is the mean of its points, and each point sits with its nearest centre.
    for j in range(5):
        np.testing.assert_allclose(centers[j], x[labels == j].mean(0), atol=1e-4)
    np.testing.assert_array_equal(labels, assign(x, centers))


def test_kmeans_recovers_clusters_in_high_dimension_and_flattens_images():
    x, z, _ = _blobs(300, 64, 6)
    centers, labels = kmeans(x.reshape(300, 4, 4, 4), 6, seed=3)
    assert centers.shape == (6, 64)
    assert _same_partition(labels, z)


def test_kmeans_edge_cases():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    # k = n: every point is its own cluster.
    centers, labels = kmeans(x, 6)
    assert sorted(labels.tolist()) == list(range(6))
    np.testing.assert_allclose(np.sort(centers[:, 0]), x[:, 0])
    # k = 1: the mean.
    centers, labels = kmeans(x, 1)
    np.testing.assert_allclose(centers[0], x.mean(0), rtol=1e-6)
    assert np.all(labels == 0)
    # More clusters than distinct points: finite centres, valid labels, no crash.
    dup = np.repeat(np.array([[0, 0], [5, 5]], np.float32), 4, axis=0)
    centers, labels = kmeans(dup, 4)
    assert np.all(np.isfinite(centers)) and labels.min() >= 0 and labels.max() < 4
    assert _same_partition(labels, np.repeat([0, 1], 4))
    # Deterministic for a seed.
    xs, _, _ = _blobs(8, 2, 3, seed=4)
    np.testing.assert_array_equal(kmeans(xs, 3, seed=9)[1], kmeans(xs, 3, seed=9)[1])


def test_kmeans_reseeds_empty_clusters():
    # Two far outliers and a dense clump: every cluster ends non-empty and distinct.
    x = np.concatenate([np.zeros((6, 2)), np.full((1, 2), 100.0), np.full((1, 2), -100.0)])
    centers, labels = kmeans(x.astype(np.float32), 3)
    assert len(set(labels.tolist())) == 3
    np.testing.assert_allclose(np.sort(centers[:, 0]), [-100.0, 0.0, 100.0])


def test_assign_matches_brute_force():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 7)).astype(np.float32)
    centers = rng.normal(size=(13, 7)).astype(np.float32)
    ref = np.argmin(((x[:, None, :].astype(np.float64) - centers[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(assign(x, centers), ref)
    assert assign(np.zeros((0, 7)), centers).shape == (0,)
    with pytest.raises(ValueError, match="columns"):
        assign(x, centers[:, :3])


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: kmeans(np.zeros((5, 2)), 0),
            r"k must be between 1 and the number of training points \(5\)",
        ),
        (
            lambda: kmeans(np.zeros((5, 2)), 6),
            r"k must be between 1 and the number of training points \(5\)",
        ),
        (lambda: kmeans(np.zeros((5, 2)), 2.5), "k must be between"),
        (lambda: kmeans(np.full((5, 2), np.nan), 2), "NaN"),
        (lambda: kmeans(np.zeros((5, 2)), 2, iters=0), "iters must be in"),
    ],
)
def test_kmeans_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- granularities -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def mixture():
    return make_dataset("gaussian_mixture", 300, 60, n_components=4, seed=5)


def test_granularity_none_and_coarse(mixture):
    assert make_labels(mixture, "none") == (None, None)
    train, val = make_labels(mixture, "coarse")
    np.testing.assert_array_equal(train, mixture.train_coarse)
    np.testing.assert_array_equal(val, mixture.val_coarse)
    assert train.dtype == np.int32 and val.dtype == np.int32


def test_granularity_kmeans(mixture):
    train, val = make_labels(mixture, "kmeans", k=4, seed=1)
    assert train.shape == (300,) and val.shape == (60,)
    assert train.dtype == np.int32 and val.dtype == np.int32
    assert set(train.tolist()) == set(range(4))
    # Four well-separated components: k-means finds them (up to renaming).
    assert _same_partition(train, mixture.train_coarse)
    # Validation points go to the nearest centre (= mean of its training cluster).
    centers = np.stack([mixture.train_x[train == j].mean(0) for j in range(4)])
    np.testing.assert_array_equal(val, assign(mixture.val_x, centers))
    assert _same_partition(
        np.concatenate([train, val]), np.concatenate([mixture.train_coarse, mixture.val_coarse])
    )
    for k in (1, 2, 7):
        labels, _ = make_labels(mixture, "kmeans", k=k)
        assert labels.max() < k


def test_granularity_point(mixture):
    train, val = make_labels(mixture, "point")
    np.testing.assert_array_equal(train, np.arange(300))
    d2 = ((mixture.val_x[:, None, :].astype(np.float64) - mixture.train_x[None]) ** 2).sum(-1)
    np.testing.assert_array_equal(val, np.argmin(d2, axis=1))
    assert train.dtype == np.int32 and val.dtype == np.int32


def test_plain_arrays(mixture):
    x = mixture.train_x
    assert make_labels(x, "point")[1] is None
    train, val = make_labels(x, "point", val_x=mixture.val_x[:4])
    assert train.shape == (300,) and val.shape == (4,)
    train, val = make_labels(x, "kmeans", k=3)
    assert train.shape == (300,) and val is None
    with pytest.raises(ValueError, match="coarse labels need a Dataset"):
        make_labels(x, "coarse")


def test_empty_validation_set():
    ds = make_dataset("moons", 300, 0)
    for g in ("coarse", "kmeans", "point"):
        train, val = make_labels(ds, g, k=2)
        assert train.shape == (300,) and val.shape == (0,) and val.dtype == np.int32


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (
            {"granularity": "cluster"},
            "unknown label granularity 'cluster'; valid names: coarse, kmeans, none, point",
        ),
        ({"granularity": "kmeans"}, "needs k"),
        (
            {"granularity": "kmeans", "k": 0},
            r"k must be between 1 and the number of training points \(300\)",
        ),
        (
            {"granularity": "kmeans", "k": 301},
            r"k must be between 1 and the number of training points \(300\)",
        ),
        ({"granularity": "point", "val_x": np.zeros((2, 2))}, "taken from the Dataset"),
    ],
)
def test_make_labels_bad_input(mixture, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_labels(mixture, **kwargs)


def test_granularities_constant():
    assert tuple(GRANULARITIES) == ("none", "coarse", "kmeans", "point")


def test_assign_in_blocks_matches_one_block(monkeypatch):
    import toyflow.labels as labels_module

    rng = np.random.default_rng(1)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    centers = rng.normal(size=(20, 3)).astype(np.float32)
    whole = assign(x, centers)
    monkeypatch.setattr(labels_module, "_BLOCK_ENTRIES", 256)  # 8 rows per block
    np.testing.assert_array_equal(assign(x, centers), whole)
