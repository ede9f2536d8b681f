"""The one registry type, the one JSON sanitiser, the one bucketing, split and label-sampling rule."""

from __future__ import annotations

import json

import numpy as np
import pytest

from toyflow._json import dumps, jsonable
from toyflow.datasets import DATASETS, holdout, make_dataset
from toyflow.experiments import EXPERIMENTS
from toyflow.images.data import IMAGE_DATASETS, split
from toyflow.labels import GRANULARITIES, sample_labels
from toyflow.registry import Registry, UnknownName, bucket
from toyflow.sampling import SOLVERS
from toyflow.schedules import SCHEDULES


def test_registry_is_an_ordered_read_only_mapping_with_unique_names():
    r: Registry[int] = Registry("thing", {"b": 2, "a": 1})
    assert list(r) == ["b", "a"] and len(r) == 2 and r["a"] == 1 and "b" in r
    assert r.get("zzz") is None and "zzz" not in r

    @r.register("c")
    def c():
        return 3

    assert r["c"] is c
    with pytest.raises(ValueError, match="already registered"):
        r.add("a", 5)
    with pytest.raises(ValueError, match="non-empty string"):
        r.add("", 5)
    with pytest.raises(TypeError):
        r["d"] = 4  # type: ignore[index]


@pytest.mark.parametrize(
    "registry, what",
    [
        (DATASETS, "data set"),
        (SCHEDULES, "noise schedule"),
        (SOLVERS, "solver"),
        (GRANULARITIES, "label granularity"),
        (IMAGE_DATASETS, "image data set"),
        (EXPERIMENTS, "experiment"),
    ],
)
def test_every_family_uses_the_registry_and_lists_valid_names(registry, what):
    assert isinstance(registry, Registry)
    for bad in ("no-such-name", 3, None):
        with pytest.raises(ValueError) as exc:
            registry[bad]
        assert isinstance(exc.value, UnknownName) and isinstance(exc.value, KeyError)
        text = str(exc.value)
        assert text.startswith(f"unknown {what} ") and "valid names: " in text
        assert all(name in text for name in registry)


def test_bucket_is_at_most_one_and_a_half_times_n_and_monotone():
    sizes = [bucket(n) for n in range(1, 5000)]
    assert sizes[:8] == [8] * 8
    assert all(b >= n for n, b in zip(range(1, 5000), sizes))
    assert all(b <= max(8, 1.5 * n) for n, b in zip(range(1, 5000), sizes))
    assert all(a <= b for a, b in zip(sizes, sizes[1:]))
    assert len(set(sizes)) < 30  # few distinct shapes: few compilations


def test_json_sanitiser_is_strict():
    value = {
        1: np.float32(0.5),
        "a": np.arange(3),
        "n": [np.nan, np.inf, -np.inf],
        "b": np.bool_(True),
        "i": np.int64(7),
        "t": (1.5, None),
        "s": "x",
        "z": np.asarray(2.0),
    }
    clean = jsonable(value)
    assert clean == {
        "1": 0.5,
        "a": [0, 1, 2],
        "n": [None, None, None],
        "b": True,
        "i": 7,
        "t": [1.5, None],
        "s": "x",
        "z": 2.0,
    }
    assert json.loads(dumps(value)) == clean  # allow_nan=False: no NaN or Infinity tokens


def test_points_and_images_share_one_split_rule():
    keep, hold = holdout(10, 0.3, seed=4)
    assert len(hold) == 3 and sorted([*keep, *hold]) == list(range(10))
    assert np.all(np.diff(keep) > 0) and np.all(np.diff(hold) > 0)
    x = np.linspace(-1, 1, 10 * 4, dtype=np.float32).reshape(10, 2, 2, 1)
    tx, vx, _, _ = split(x, None, 0.3, seed=4)
    np.testing.assert_array_equal(tx, x[keep])
    np.testing.assert_array_equal(vx, x[hold])
    assert holdout(3, 0.9, seed=0)[0].size == 1  # one point always stays for training


def test_sample_labels_one_rule_for_every_caller():
    data = make_dataset("gaussian_mixture", 64, seed=0)
    labels = sample_labels(data.train_labels, 500, seed=3)
    # The same draws as rng.choice over the training labels (what the explorer documents).
    expected = np.random.default_rng(3).choice(data.train_labels, 500)
    np.testing.assert_array_equal(labels, expected)
    assert labels.dtype == np.int32 and set(labels) <= set(data.train_labels)
    assert sample_labels(None, 5) is None
    with pytest.raises(ValueError):
        sample_labels(data.train_labels, 5, seed=-1)


def test_points_and_images_follow_one_dataset_protocol():
    from toyflow.images import digits

    for ds in (make_dataset("moons", 20, 10, seed=0), digits().subset(30, n_val=10, seed=0)):
        assert ds.train_x.shape == (ds.n_train, *ds.event_shape)
        assert ds.val_x.shape == (ds.n_val, *ds.event_shape)
        assert ds.train_labels.shape == (ds.n_train,) and ds.val_labels.shape == (ds.n_val,)
        assert isinstance(ds.name, str)
