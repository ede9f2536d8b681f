"""Contract tests over every registered data set, plus user-supplied points and CSV uploads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyflow.datasets import (
    DATASETS,
    Dataset,
    DatasetSpec,
    dataset_names,
    from_points,
    load_csv,
    make_dataset,
)

NAMES = sorted(DATASETS)
EXPECTED_COARSE = {
    "circle": 4,
    "moons": 2,
    "swiss_roll": 4,
    "gaussian_mixture": 9,
    "checkerboard": 8,
    "spiral": 3,
    "pinwheel": 5,
}


# --- the registry ------------------------------------------------------------------------


def test_registry_entries():
    assert dataset_names() == list(DATASETS)
    assert set(NAMES) == set(EXPECTED_COARSE)
    for name, spec in DATASETS.items():
        assert isinstance(spec, DatasetSpec) and spec.name == name
        assert spec.description and callable(spec.fn) and isinstance(spec.defaults, dict)


@pytest.mark.parametrize("name", NAMES)
def test_contract_shapes_dtypes_labels(name):
    ds = make_dataset(name, 37, 23, seed=3)
    assert isinstance(ds, Dataset) and ds.name == name
    assert ds.train_x.shape == (37, 2) and ds.val_x.shape == (23, 2)
    assert ds.train_x.dtype == np.float32 and ds.val_x.dtype == np.float32
    assert ds.train_coarse.shape == (37,) and ds.val_coarse.shape == (23,)
    assert ds.train_coarse.dtype == np.int32 and ds.val_coarse.dtype == np.int32
    assert np.all(np.isfinite(ds.train_x)) and np.all(np.isfinite(ds.val_x))
    assert ds.num_coarse == EXPECTED_COARSE[name]
    for c in (ds.train_coarse, ds.val_coarse):
        assert c.min() >= 0 and c.max() < ds.num_coarse
    # The common scale: everything inside the paper's [-17.5, 17.5]^2 plot window.
    assert np.abs(np.concatenate([ds.train_x, ds.val_x])).max() < 17.5
    assert ds.params["seed"] == 3 and ds.params["n_train"] == 37 and ds.params["n_val"] == 23
    assert set(DATASETS[name].defaults) <= set(ds.params)


@pytest.mark.parametrize("name", NAMES)
def test_n_val_defaults_to_n_train_and_may_be_zero(name):
    assert make_dataset(name, 12).val_x.shape == (12, 2)
    ds = make_dataset(name, 12, 0)
    assert ds.val_x.shape == (0, 2) and ds.val_coarse.shape == (0,)


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_identical(name):
    a, b = make_dataset(name, 50, seed=7), make_dataset(name, 50, seed=7)
    np.testing.assert_array_equal(a.train_x, b.train_x)
    np.testing.assert_array_equal(a.val_x, b.val_x)
    np.testing.assert_array_equal(a.train_coarse, b.train_coarse)


RANDOM_CASES = [(n, {}) for n in NAMES if n != "circle"] + [("circle", {"layout": "random"})]


@pytest.mark.parametrize("name,params", RANDOM_CASES)
def test_different_seed_different(name, params):
    a, b = make_dataset(name, 50, seed=0, **params), make_dataset(name, 50, seed=1, **params)
    assert not np.array_equal(a.train_x, b.train_x)
    assert not np.array_equal(a.val_x, b.val_x)


@pytest.mark.parametrize("name,params", RANDOM_CASES)
def test_train_and_validation_share_a_distribution(name, params):
    ds = make_dataset(name, 4000, seed=11, **params)
    r_train = np.linalg.norm(ds.train_x, axis=1)
    r_val = np.linalg.norm(ds.val_x, axis=1)
    assert abs(r_train.mean() - r_val.mean()) < 0.05 * r_train.mean()
    np.testing.assert_allclose(ds.train_x.mean(0), ds.val_x.mean(0), atol=0.4)
    freq_train = np.bincount(ds.train_coarse, minlength=ds.num_coarse) / ds.n_train
    freq_val = np.bincount(ds.val_coarse, minlength=ds.num_coarse) / ds.n_val
    np.testing.assert_allclose(freq_train, freq_val, atol=0.05)


# --- the paper's circle ------------------------------------------------------------------


def test_symmetric_circle_is_the_paper_layout():
    ds = make_dataset("circle", 10)  # the default layout is the paper's
    theta = 2 * np.pi * (np.arange(20) / 20 + 0.01)  # rotated by 0.01 of a turn
    points = 10.0 * np.stack([np.cos(theta), np.sin(theta)], -1)
    np.testing.assert_allclose(ds.train_x, points[0::2], atol=1e-5)
    np.testing.assert_allclose(ds.val_x, points[1::2], atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(ds.train_x, axis=1), 10.0, rtol=1e-6)
    # Quadrants of the angles, and the layout does not depend on the seed.
    np.testing.assert_array_equal(ds.train_coarse, (theta[0::2] // (np.pi / 2)).astype(int))
    np.testing.assert_array_equal(ds.val_coarse, (theta[1::2] // (np.pi / 2)).astype(int))
    np.testing.assert_array_equal(make_dataset("circle", 10, seed=5).train_x, ds.train_x)
    assert ds.params["layout"] == "symmetric" and ds.params["radius"] == 10.0


def test_symmetric_circle_density_sweep_and_fewer_validation_points():
    for n in range(8, 16):  # the paper's density sweep: 16…30 points, half train
        ds = make_dataset("circle", n)
        assert ds.train_x.shape == (n, 2) and ds.val_x.shape == (n, 2)
    ds = make_dataset("circle", 6, 2)
    theta = 2 * np.pi * (np.arange(12) / 12 + 0.01)
    np.testing.assert_allclose(ds.val_x[:, 0], 10 * np.cos(theta[[1, 3]]), atol=1e-5)
    with pytest.raises(ValueError, match=r"n_val \(7\) must be <= n_train \(6\)"):
        make_dataset("circle", 6, 7)


def test_random_circle_and_custom_radius():
    ds = make_dataset("circle", 20, layout="random", radius=3.0, seed=2)
    np.testing.assert_allclose(np.linalg.norm(ds.train_x, axis=1), 3.0, rtol=1e-5)
    assert ds.val_x.shape == (20, 2)


def test_gaussian_mixture_layouts():
    ring = make_dataset("gaussian_mixture", 10, layout="ring")
    assert ring.num_coarse == 8 and ring.params["n_components"] == 8
    grid = make_dataset("gaussian_mixture", 10, n_components=16)
    assert grid.num_coarse == 16
    with pytest.raises(ValueError, match="perfect square"):
        make_dataset("gaussian_mixture", 10, n_components=5)
    with pytest.raises(ValueError, match="valid names: grid, ring"):
        make_dataset("gaussian_mixture", 10, layout="hex")


def test_arm_counts_are_parameters():
    assert make_dataset("spiral", 10, arms=5).num_coarse == 5
    assert make_dataset("pinwheel", 10, arms=3).num_coarse == 3
    assert make_dataset("checkerboard", 10, board=6).num_coarse == 18


# --- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,message",
    [
        (
            lambda: make_dataset("blobs"),
            "unknown data set 'blobs'; valid names: checkerboard, circle",
        ),
        (lambda: make_dataset("circle", 0), r"n_train must be in \[1, 1000000\], got 0"),
        (lambda: make_dataset("moons", 2_000_000), "n_train must be in"),
        (lambda: make_dataset("moons", 2.5), "n_train must be an integer"),
        (lambda: make_dataset("moons", 5, -1), "n_val must be in"),
        (lambda: make_dataset("moons", 5, seed=-1), "seed must be in"),
        (
            lambda: make_dataset("circle", 5, sigma=1.0),
            "unknown parameter.*sigma.*accepted: radius, layout",
        ),
        (lambda: make_dataset("circle", 5, layout="grid"), "valid names: random, symmetric"),
        (lambda: make_dataset("circle", 5, radius=-1.0), "radius must be > 0"),
        (lambda: make_dataset("moons", 5, noise=float("nan")), "noise must be finite"),
        (lambda: make_dataset("spiral", 5, arms=0), "arms must be in"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_unknown_name_lists_every_valid_name():
    with pytest.raises(ValueError) as info:
        make_dataset("nope")
    for name in NAMES:
        assert name in str(info.value)


# --- user points -------------------------------------------------------------------------


def test_from_points_without_validation():
    pts = [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    ds = from_points(pts)
    assert ds.name == "custom" and ds.train_x.dtype == np.float32
    np.testing.assert_array_equal(ds.train_x, np.asarray(pts, np.float32))
    assert ds.val_x.shape == (0, 2) and ds.val_coarse.shape == (0,)
    np.testing.assert_array_equal(ds.train_coarse, [0, 0, 0])
    assert ds.num_coarse == 1


def test_from_points_with_labels_and_splits():
    x = np.random.default_rng(0).normal(size=(20, 2))
    labels = np.arange(20) % 3
    ds = from_points(x, train_labels=labels, val_fraction=0.25, seed=1)
    assert ds.n_train == 15 and ds.n_val == 5 and ds.num_coarse == 3
    # The split keeps each point with its own label.
    both = np.concatenate([ds.train_x, ds.val_x])
    both_labels = np.concatenate([ds.train_coarse, ds.val_coarse])
    order = np.lexsort(both.T[::-1])
    ref = np.lexsort(x.astype(np.float32).T[::-1])
    np.testing.assert_array_equal(both[order], x.astype(np.float32)[ref])
    np.testing.assert_array_equal(both_labels[order], labels[ref])
    # Explicit validation points take their nearest training point's label.
    ds = from_points([[0, 0], [10, 0]], val_x=[[9, 1], [1, -1]], train_labels=[2, 5], name="drawn")
    np.testing.assert_array_equal(ds.val_coarse, [5, 2])
    assert ds.name == "drawn"


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: from_points([[0.0, np.nan]]), "NaN or infinite"),
        (lambda: from_points(np.zeros((0, 2))), "empty"),
        (lambda: from_points(np.zeros((3, 3))), "2 columns"),
        (lambda: from_points(np.zeros((3, 2)), train_labels=[0, 1]), r"shape \(3,\)"),
        (lambda: from_points(np.zeros((3, 2)), train_labels=[0, -1, 1]), ">= 0"),
        (lambda: from_points(np.zeros((3, 2)), val_fraction=1.0), "val_fraction must be < 1"),
        (
            lambda: from_points(np.zeros((3, 2)), val_x=np.zeros((1, 2)), val_fraction=0.5),
            "not both",
        ),
    ],
)
def test_from_points_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_to_dict_is_json_and_round_trips():
    ds = make_dataset("spiral", 5, 3, seed=2)
    d = json.loads(json.dumps(ds.to_dict()))
    assert d["name"] == "spiral" and len(d["train_x"]) == 5 and d["num_coarse"] == 3
    back = Dataset.from_dict(d)
    np.testing.assert_array_equal(back.train_x, ds.train_x)
    np.testing.assert_array_equal(back.val_coarse, ds.val_coarse)
    assert back.params == ds.params and back.num_coarse == ds.num_coarse


# --- CSV uploads -------------------------------------------------------------------------


def test_load_csv_text_with_header_and_labels():
    ds = load_csv("x,y,label\n1,2,0\n\n3.5, -4 ,2\n# comment\n5e-1,6,1\n")
    np.testing.assert_allclose(ds.train_x, [[1, 2], [3.5, -4], [0.5, 6]])
    np.testing.assert_array_equal(ds.train_coarse, [0, 2, 1])
    assert ds.val_x.shape == (0, 2) and ds.name == "upload" and ds.num_coarse == 3


def test_load_csv_path_and_bytes(tmp_path):
    path = tmp_path / "pts.csv"
    path.write_text("0,0\n1,1\n")
    for source in (path, str(path), b"0,0\n1,1\n"):
        ds = load_csv(source, name="mine")
        np.testing.assert_array_equal(ds.train_x, [[0, 0], [1, 1]])
        np.testing.assert_array_equal(ds.train_coarse, [0, 0])
    assert load_csv("3,4").train_x.shape == (1, 2)  # a single row without newline is content


@pytest.mark.parametrize(
    "text,message",
    [
        ("x,y\n1,2\n3,oops\n", "line 3"),
        ("1,2\n3\n", "line 2"),
        ("1,2,3,4\n", "line 1"),
        ("1,2\n3,inf\n", "line 2: numbers must be finite"),
        ("1,2\nnan,4\n", "line 2: numbers must be finite"),
        ("1,2\n3,4,1\n", "line 2: has 3 columns"),
        ("1,2,0.5\n", "line 1: label must be a whole number"),
        ("1,2,-1\n", "line 1: label must be a whole number"),
        ("x,y\n\n", "no data rows"),
        ("", "no data rows"),
    ],
)
def test_load_csv_malformed(text, message):
    with pytest.raises(ValueError, match=message):
        load_csv(text if text else "\n")


def test_load_csv_limits(tmp_path):
    with pytest.raises(ValueError, match="more than 100000 rows"):
        load_csv("1,2\n" * 100_001)
    assert load_csv("1,2\n" * 100_000).n_train == 100_000
    with pytest.raises(ValueError, match="cannot read CSV file"):
        load_csv(str(tmp_path / "missing.csv"))
