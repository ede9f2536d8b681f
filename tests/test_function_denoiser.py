"""Bring your own denoiser: plain functions work wherever a toyflow denoiser does."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

import toyflow
from toyflow import metrics

VAR = 4.0  # data ~ N(0, VAR I)


def wiener(x, sigma):
    """The exact denoiser of N(0, VAR I) data, written in jax.numpy (traceable)."""
    return x * (VAR / (VAR + sigma**2))[:, None]


POINTS = np.array([[1.0, 0.0], [-1.0, 0.5], [0.0, -2.0]], np.float32)


def nearest(x, sigma):
    """Nearest training point, written in NumPy (not traceable: runs eagerly)."""
    d = ((np.asarray(x)[:, None, :] - POINTS[None]) ** 2).sum(-1)
    return POINTS[np.argmin(d, axis=1)]


def test_traceable_function_is_jitted_and_matches_gaussian_denoiser():
    d = toyflow.as_denoiser(wiener)
    assert isinstance(d, toyflow.FunctionDenoiser) and not d.eager
    ref = toyflow.GaussianDenoiser(np.zeros(2), VAR * np.eye(2))
    x = np.random.default_rng(0).normal(size=(16, 2)) * 3
    for sigma in (0.05, 1.0, 20.0):
        np.testing.assert_allclose(np.asarray(d(x, sigma)), np.asarray(ref(x, sigma)), rtol=1e-5)


def test_numpy_function_runs_eagerly_inside_samplers():
    d = toyflow.as_denoiser(nearest)
    assert d.eager
    samples = np.asarray(toyflow.sample(nearest, 12, steps=10, seed=1))
    # The last step of the probability-flow ODE lands on D's output: a training point.
    dist = np.min(np.linalg.norm(samples[:, None] - POINTS[None], axis=-1), axis=1)
    assert np.all(dist < 1e-4)


@pytest.mark.parametrize("fn", [wiener, nearest])
def test_functions_work_in_fields_and_metrics(fn):
    field = toyflow.flow_field(fn, 1.0, resolution=5)
    assert field.denoised.shape == (5, 5, 2) and np.all(np.isfinite(field.denoised))
    rng = np.random.default_rng(2)
    gap = metrics.relative_gap(fn, rng.normal(size=(8, 2)), rng.normal(size=(8, 2)), [0.5, 2.0])
    assert gap.shape == (2,) and np.all(np.isfinite(gap))
    ref = np.asarray(toyflow.as_denoiser(fn)(field.grid.points, 1.0)).reshape(5, 5, 2)
    np.testing.assert_allclose(field.denoised, ref, rtol=1e-6)


def test_function_with_labels_gets_them():
    seen = []

    def labelled(x, sigma, labels):
        seen.append(labels)
        return x + jnp.asarray(labels, jnp.float32)[:, None]

    d = toyflow.FunctionDenoiser(labelled, num_classes=3)
    out = np.asarray(d(np.zeros((3, 2)), 1.0, [0, 1, 2]))
    np.testing.assert_allclose(out[:, 0], [0, 1, 2])
    with pytest.raises(ValueError, match="must be < 3"):
        d(np.zeros((1, 2)), 1.0, [5])


def test_bad_callables_are_clear_errors():
    with pytest.raises(ValueError, match="toyflow denoiser or a function"):
        toyflow.sample(42, 3)
    with pytest.raises(ValueError, match=r"\(x, sigma\)"):
        toyflow.as_denoiser(lambda x: x)
    with pytest.raises(ValueError, match="must return the shape of x"):
        toyflow.as_denoiser(lambda x, s: x[:, :1])
    with pytest.raises(ValueError, match="failed on a batch"):
        toyflow.as_denoiser(lambda x, s: 1 / 0)


def test_denoisers_pass_through_unchanged():
    opt = toyflow.OptimalDenoiser(POINTS)
    assert toyflow.as_denoiser(opt) is opt


def test_explorer_shows_a_user_function_beside_the_optimal_denoiser():
    from toyflow.explorer import ExplorerState

    state = ExplorerState(auto=False, disk_cache=False, background=False, n_train=10)
    data = state.data().dataset

    def nearest_point(x, sigma):  # NumPy, so it runs eagerly
        d = ((np.asarray(x)[:, None, :] - data.train_x[None]) ** 2).sum(-1)
        return data.train_x[np.argmin(d, axis=1)]

    state.use_denoiser(nearest_point)
    state.refresh()
    assert state.kind == "user" and "user" in state.param["kind"].objects
    # A nearest-point denoiser memorizes every sample, like D*, and its field differs from D*'s.
    assert state.headline()["memorized_fraction"] == 1.0
    model, _ = state.compute.model()
    comparison = toyflow.compare_fields(model, state.optimal(), 2.8, resolution=9)
    assert comparison.difference_norm.max() > 0.1
    assert "my_denoiser" in state.python_snippet()
    with pytest.raises(ValueError, match="shape of x"):
        state.use_denoiser(lambda x, s: x[:, :1])
    assert state.compute.user is not None  # the bad function did not replace the good one
