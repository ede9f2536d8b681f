"""Input checks at the public boundary: every bad input is a ValueError with a readable sentence."""

from __future__ import annotations

import numpy as np
import pytest

import toyflow
from toyflow import metrics
from toyflow._validation import as_labels, as_points, as_sigma, check_float, check_int, lookup
from toyflow.nets import MAX_DEPTH, MAX_WIDTH
from toyflow.training import MAX_BATCH, MAX_STEPS

# --- as_points -------------------------------------------------------------------------------


def test_as_points_returns_float32_copy_of_valid_input():
    x = np.arange(6, dtype=np.int64).reshape(3, 2)
    out = as_points(x, dim=2)
    assert out.dtype == np.float32 and out.shape == (3, 2)
    np.testing.assert_array_equal(out, x.astype(np.float32))
    out_bool = as_points(np.array([[True, False]]))
    np.testing.assert_array_equal(out_bool, [[1.0, 0.0]])


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.array([["a", "b"]]), "real numbers"),
        (np.array([[1 + 2j, 3j]]), "real numbers"),
        (np.array([[object(), 1]], dtype=object), "real numbers"),
        (np.zeros(3), r"2-D array"),
        (np.zeros((2, 2, 2)), r"2-D array"),
        (np.zeros((4, 3)), r"2 columns"),
        (np.zeros((0, 2)), "empty"),
        (np.array([[0.0, np.nan]]), "NaN or infinite"),
        (np.array([[np.inf, 0.0]]), "NaN or infinite"),
        (np.array([[1e39, 0.0]]), "NaN or infinite"),  # overflows float32
    ],
)
def test_as_points_rejects(bad, match):
    with pytest.raises(ValueError, match=match):
        as_points(bad, "x", dim=2)


def test_as_points_event_shape_and_allow_empty():
    imgs = np.zeros((2, 4, 4, 1))
    assert as_points(imgs, event_shape=(4, 4, 1)).shape == (2, 4, 4, 1)
    with pytest.raises(ValueError, match=r"\(n, 4, 4, 3\)"):
        as_points(imgs, event_shape=(4, 4, 3))
    assert as_points(np.zeros((0, 2)), allow_empty=True).shape == (0, 2)


# --- as_sigma ----------------------------------------------------------------------------------


def test_as_sigma_scalar_and_vector():
    assert as_sigma(2.5).shape == () and as_sigma(2.5).dtype == np.float32
    np.testing.assert_allclose(as_sigma([1.0, 2.0], 2), [1.0, 2.0])
    assert as_sigma(np.float64(1e-30)) > 0  # tiny but positive survives the float32 cast


@pytest.mark.parametrize(
    "bad, n, match",
    [
        (0.0, None, "> 0"),
        (-1.0, None, "> 0"),
        ([1.0, -2.0], 2, "> 0"),
        (np.nan, None, "finite"),
        (np.inf, None, "finite"),
        ([1.0, 2.0, 3.0], 2, r"shape \(2,\)"),
        (np.ones((2, 2)), 2, "scalar"),
        ("abc", None, "positive number"),
        (1e-50, None, "float32"),  # underflows to 0 in float32
        (1e50, None, "float32"),  # overflows float32
    ],
)
def test_as_sigma_rejects(bad, n, match):
    with pytest.raises(ValueError, match=match):
        as_sigma(bad, n)


# --- as_labels -----------------------------------------------------------------------------------


def test_as_labels_accepts_ints_whole_floats_and_scalars():
    assert as_labels(None, 3) is None
    np.testing.assert_array_equal(as_labels([0, 2, 1], 3), [0, 2, 1])
    np.testing.assert_array_equal(as_labels(np.array([1.0, 0.0]), 2), [1, 0])
    np.testing.assert_array_equal(as_labels(4, 3), [4, 4, 4])
    assert as_labels([0, 1], 2).dtype == np.int32


@pytest.mark.parametrize(
    "bad, kwargs, match",
    [
        ([0, 1, 2], {}, r"shape \(2,\)"),
        ([[0, 1]], {}, r"shape \(2,\)"),
        ([0.5, 1.0], {}, "whole numbers"),
        ([np.nan, 1.0], {}, "whole numbers"),
        ([True, False], {}, "integers"),
        (["a", "b"], {}, "integers"),
        ([-1, 0], {}, ">= 0"),
        ([0, 3], {"num_classes": 3}, "< 3"),
        ([0, 5], {"allowed": [0, 1, 2]}, r"\[5\] were not seen"),
    ],
)
def test_as_labels_rejects(bad, kwargs, match):
    with pytest.raises(ValueError, match=match):
        as_labels(bad, 2, **kwargs)


# --- scalars and names ---------------------------------------------------------------------------


def test_check_int_and_float():
    assert check_int(5, "k", 1, 10) == 5
    assert check_int(np.int64(3), "k", 1, 10) == 3
    assert check_int(4.0, "k", 1, 10) == 4
    for bad in (True, 2.5, "3", None, 0, 11):
        with pytest.raises(ValueError, match="k must be"):
            check_int(bad, "k", 1, 10)
    assert check_float("0.5", "v", 0.0, 1.0) == 0.5
    assert check_float(0.0, "v", 0.0) == 0.0
    for bad, kw in (
        (np.nan, {}),
        (np.inf, {}),
        ("x", {}),
        (-0.1, {"lo": 0.0}),
        (2.0, {"hi": 1.0}),
        (0.0, {"lo": 0.0, "lo_open": True}),
    ):
        with pytest.raises(ValueError, match="v must be"):
            check_float(bad, "v", **kw)


def test_lookup_lists_valid_names():
    reg = {"alpha": 1, "beta": 2}
    assert lookup(reg, "beta", "thing") == 2
    with pytest.raises(ValueError, match=r"unknown thing 'gamma'; valid names: alpha, beta"):
        lookup(reg, "gamma", "thing")
    with pytest.raises(ValueError, match="unknown thing"):
        lookup(reg, None, "thing")


# --- unknown names and bounds across the public API -----------------------------------------------


@pytest.fixture(scope="module")
def points(circle):
    return circle.train_x


def test_unknown_schedule(points):
    with pytest.raises(ValueError, match=r"unknown noise schedule 'linear'.*cosine, edm, ve, vp"):
        toyflow.get_schedule("linear")
    D = toyflow.OptimalDenoiser(points)
    with pytest.raises(ValueError, match="unknown noise schedule"):
        toyflow.sample(D, 4, schedule="linear")
    with pytest.raises(ValueError, match="unknown noise schedule"):
        toyflow.train(points, width=8, depth=1, steps=2, batch_size=4, schedule="linear")


def test_unknown_solver(points):
    D = toyflow.OptimalDenoiser(points)
    with pytest.raises(
        ValueError, match="unknown solver 'rk4'; valid names: euler, heun, stochastic"
    ):
        toyflow.sample(D, 4, solver="rk4")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "sigmoidish"}, "unknown activation 'sigmoidish'"),
        ({"embedding": "wavelet"}, "unknown noise embedding 'wavelet'"),
    ],
)
def test_unknown_network_names(points, kwargs, match):
    with pytest.raises(ValueError, match=match):
        toyflow.MLPConfig(**kwargs)
    with pytest.raises(ValueError, match=match):
        toyflow.train(points, width=8, depth=1, steps=2, batch_size=4, **kwargs)


def test_unknown_error_kind(points):
    D = toyflow.OptimalDenoiser(points)
    with pytest.raises(ValueError, match="unknown error kind 'l1'; valid names: edm, l2, squared"):
        metrics.denoising_error(D, points, [1.0], kind="l1")
    with pytest.raises(ValueError, match="unknown error kind"):
        metrics.relative_gap(D, points, points, [1.0], kind="l1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": 0}, "width must be in"),
        ({"width": MAX_WIDTH + 1}, "width must be in"),
        ({"width": 2.5}, "width must be an integer"),
        ({"depth": 0}, "depth must be in"),
        ({"depth": MAX_DEPTH + 1}, "depth must be in"),
        ({"steps": 0}, "steps must be in"),
        ({"steps": MAX_STEPS + 1}, "steps must be in"),
        ({"batch_size": 0}, "batch_size must be in"),
        ({"batch_size": MAX_BATCH + 1}, "batch_size must be in"),
        ({"learning_rate": 0.0}, "learning_rate must be >"),
        ({"learning_rate": np.nan}, "learning_rate must be finite"),
        ({"seed": -1}, "seed must be in"),
        ({"ema": 1.5}, "ema must be"),
        ({"label_dropout": 2.0}, "label_dropout must be"),
        ({"steps_per_call": 0}, "steps_per_call must be in"),
    ],
)
def test_train_rejects_out_of_bounds(points, kwargs, match):
    base = dict(width=8, depth=1, steps=2, batch_size=4)
    with pytest.raises(ValueError, match=match):
        toyflow.train(points, **{**base, **kwargs})


@pytest.mark.parametrize(
    "data, labels, match",
    [
        (np.zeros((0, 2)), None, "empty"),
        (np.array([[0.0, np.nan]]), None, "NaN"),
        (np.zeros(5), None, "2-D"),
        (np.zeros((4, 2)), [0, 1], r"shape \(4,\)"),
        (np.zeros((2, 2)), [0, -1], ">= 0"),
    ],
)
def test_train_rejects_bad_data(data, labels, match):
    with pytest.raises(ValueError, match=match):
        toyflow.train(data, labels, width=8, depth=1, steps=2, batch_size=4)


def test_train_sweep_rejects_inconsistent_sizes(points):
    base = dict(width=8, depth=1, steps=2, batch_size=4)
    with pytest.raises(ValueError, match="same length"):
        toyflow.train_sweep(points, seeds=[0, 1], learning_rates=[1e-3, 2e-3, 3e-3], **base)
    with pytest.raises(ValueError, match="needs seeds"):
        toyflow.train_sweep(points, **base)
    with pytest.raises(ValueError, match="outside"):
        toyflow.train_sweep(points, subsets=[[0, 1, 99]], **base)
    with pytest.raises(ValueError, match="non-empty"):
        toyflow.train_sweep(points, subsets=[[]], **base)


@pytest.mark.parametrize("fn", ["train", "train_sweep"])
def test_labels_must_fit_a_given_config(points, fn):
    """A config passed in fixes the class count: labels beyond it, or labels for an
    unconditional config, are refused before anything is compiled."""
    from toyflow.nets import MLPConfig

    kwargs = dict(steps=2, batch_size=4) | ({"seeds": [0, 1]} if fn == "train_sweep" else {})
    labels = np.arange(len(points)) % 3
    with pytest.raises(ValueError, match="go up to 2 but the config has num_classes=2"):
        getattr(toyflow, fn)(
            points, labels, config=MLPConfig(width=8, depth=1, num_classes=2), **kwargs
        )
    with pytest.raises(ValueError, match="config has num_classes=None"):
        getattr(toyflow, fn)(points, labels, config=MLPConfig(width=8, depth=1), **kwargs)
