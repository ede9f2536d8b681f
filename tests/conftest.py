"""Shared fixtures: the paper's symmetric circle and a float64 reference optimal denoiser."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


def _symmetric_circle(n_points: int = 20, radius: float = 10.0, offset: float = 0.01):
    """The paper's "symmetric" data: ``n_points`` equidistant angles ``2πi/n + offset`` on a circle,
    split alternately (even i train, odd i validation)."""
    angles = 2 * np.pi * np.arange(n_points) / n_points + offset
    pts = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return SimpleNamespace(train_x=pts[0::2], val_x=pts[1::2], radius=radius)


@pytest.fixture(scope="session")
def circle():
    """10 training + 10 validation points on the circle of radius 10 (float64)."""
    return _symmetric_circle()


@pytest.fixture(scope="session")
def random_circle():
    """``random_circle(n_train, n_val, seed)``: uniform random angles on the radius-10 circle."""

    def make(n_train: int, n_val: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        angles = rng.uniform(0.0, 2 * np.pi, n_train + n_val)
        pts = 10.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        return SimpleNamespace(train_x=pts[:n_train], val_x=pts[n_train:])

    return make


def optimal_reference(x, train_x, sigma, train_labels=None, labels=None):
    """Float64 NumPy optimal denoiser ``Σ_i softmax_i(−‖x − y_i‖²/2σ²) y_i``.

    Inputs are rounded to float32 first (as the library stores them), so the comparison measures
    the library's arithmetic, not the input rounding. ``labels[j]`` restricts query ``j``'s softmax
    to training points of that label. Returns ``(denoised, logsumexp, max_weight)``.
    """
    x = np.asarray(np.asarray(x, np.float32), np.float64)
    y = np.asarray(np.asarray(train_x, np.float32), np.float64)
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (x.shape[0],))
    logits = -np.sum((x[:, None, :] - y[None, :, :]) ** 2, axis=-1) / (2 * sigma[:, None] ** 2)
    if labels is not None:
        eligible = np.asarray(train_labels)[None, :] == np.asarray(labels)[:, None]
        logits = np.where(eligible, logits, -np.inf)
    m = logits.max(axis=1, keepdims=True)
    w = np.exp(logits - m)
    s = w.sum(axis=1, keepdims=True)
    return (w / s) @ y, (m + np.log(s))[:, 0], (1.0 / s)[:, 0]


@pytest.fixture(scope="session")
def reference():
    """The float64 reference optimal denoiser (see :func:`optimal_reference`)."""
    return optimal_reference
