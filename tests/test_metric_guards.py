"""Metrics never hand back a silent NaN or crash with an unhelpful message on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import toyflow
from toyflow import metrics

DATA = toyflow.make_dataset("circle", n_train=10)
OPTIMAL = toyflow.OptimalDenoiser(DATA.train_x)


def test_relative_gap_at_huge_sigma_is_a_clear_error_not_nan():
    with pytest.raises(ValueError, match="at most 1e\\+15"):
        metrics.relative_gap(OPTIMAL, DATA.train_x, DATA.val_x, [1e30], n_noise=2)
    # Up to the limit the gap is finite; far above the data scale D* is the mean for both sets.
    gap = metrics.relative_gap(OPTIMAL, DATA.train_x, DATA.val_x, [1e3, 1e15], n_noise=2)
    assert np.all(np.isfinite(gap)) and np.all(np.abs(gap) < 1e-3)


def test_denoising_error_that_overflows_raises():
    with pytest.raises(ValueError, match="NaN or infinite"):
        metrics.denoising_error(OPTIMAL, np.full((4, 2), 1e20, np.float32), [1.0], n_noise=1)


@pytest.mark.parametrize("bad", [np.zeros((0, 2)), np.zeros(3), [[1.0, 2.0]]])
def test_frechet_distance_on_too_few_points(bad):
    with pytest.raises(ValueError, match="at least 2 points"):
        metrics.frechet_distance(bad, np.zeros((3, 2)))


def test_trajectory_overlap_without_positive_sigma():
    _, traj, sigmas = toyflow.sample(OPTIMAL, 4, steps=5, return_trajectory=True)
    with pytest.raises(ValueError, match="no noise level > 0"):
        metrics.trajectory_overlap(OPTIMAL, traj, np.zeros_like(sigmas), DATA.train_x)
    with pytest.raises(ValueError, match="finite and >= 0"):
        metrics.trajectory_overlap(OPTIMAL, traj, -sigmas, DATA.train_x)
    ok = metrics.trajectory_overlap(OPTIMAL, traj, sigmas, DATA.train_x)
    assert np.all(np.isfinite(ok.traj_nn_distance))


def test_nearest_neighbours_at_huge_coordinates_stay_finite():
    """Squared distances of points near 1e30 overflow float32: the search runs in a scaled frame,
    and the distances match float64 NumPy (found by the fuzz test)."""
    q = np.array([[1e-30, -2e-30]])
    r = np.array([[3e29, 4e29], [-1e30, 0.0], [0.0, 2e30]])
    d, i = metrics.nearest_neighbours(q, r, k=3)
    ref = np.linalg.norm(r - q, axis=1)
    np.testing.assert_array_equal(i[0], np.argsort(ref))
    np.testing.assert_allclose(d[0], np.sort(ref), rtol=1e-6)
    assert metrics.memorized_fraction(q, r) == 0.0


def test_points_without_coordinates_are_a_clear_error():
    """Points of shape (n, 0) (found by the fuzz test) are refused with a message."""
    with pytest.raises(ValueError, match="no coordinates"):
        metrics.nearest_neighbours(np.zeros((1, 0)), np.zeros((2, 0)))
    with pytest.raises(ValueError, match="no coordinates"):
        metrics.memorized_fraction(np.zeros((1, 0)), np.zeros((2, 0)))
