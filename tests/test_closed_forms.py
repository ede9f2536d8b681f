"""The optimal and metric code against closed forms that do not come from toyflow itself.

* Two points ``±a e₁``: ``D*(x; σ) = a · tanh(a x₁ / σ²) · e₁`` (the softmax of two logits).
* Points spread evenly on a circle of radius ``a`` approach the continuous ring, whose
  posterior mean is ``a · I₁(a r / σ²) / I₀(a r / σ²) · x̂`` (``r = ‖x‖``; the von Mises mean).
* A Gaussian data set: the learned denoiser approaches the linear Wiener form
  ``D(x) = μ + Σ (Σ + σ² I)⁻¹ (x − μ)``.
"""

from __future__ import annotations

import numpy as np
import pytest

import toyflow


def _bessel_ratio(z: np.ndarray) -> np.ndarray:
    """``I₁(z)/I₀(z)`` in float64 from the integral forms ``Iₙ(z) = (1/π)∫₀^π e^{z cos t} cos(nt) dt``
    (scaled by ``e^{−z}`` so large ``z`` does not overflow)."""
    t = np.linspace(0.0, np.pi, 20001)
    w = np.exp(np.multiply.outer(z, np.cos(t) - 1.0))
    i0 = np.trapezoid(w, t, axis=-1)
    i1 = np.trapezoid(w * np.cos(t), t, axis=-1)
    return i1 / i0


@pytest.mark.parametrize("a", [0.5, 3.0])
@pytest.mark.parametrize("sigma", [0.3, 1.0, 4.0])
def test_two_points_give_tanh(a, sigma):
    d = toyflow.OptimalDenoiser(np.array([[a, 0.0], [-a, 0.0]]))
    x = np.random.default_rng(0).normal(size=(64, 2)) * 2 * a
    want = np.zeros_like(x)
    want[:, 0] = a * np.tanh(a * x[:, 0] / sigma**2)
    np.testing.assert_allclose(np.asarray(d(x, sigma)), want, atol=2e-6 * max(a, 1), rtol=1e-5)


def test_dense_circle_approaches_the_bessel_ring():
    a, sigma, n = 2.0, 0.7, 4096
    angles = 2 * np.pi * np.arange(n) / n
    d = toyflow.OptimalDenoiser(a * np.stack([np.cos(angles), np.sin(angles)], 1))
    rng = np.random.default_rng(1)
    r = rng.uniform(0.2, 4.0, 50)
    phi = rng.uniform(0, 2 * np.pi, 50)
    x = np.stack([r * np.cos(phi), r * np.sin(phi)], 1)
    want = (a * _bessel_ratio(a * r / sigma**2))[:, None] * x / r[:, None]
    np.testing.assert_allclose(np.asarray(d(x, sigma)), want, atol=1e-4)
    # A coarse circle is visibly off the ring at small σ: the limit is approached, not assumed.
    coarse = toyflow.OptimalDenoiser(
        a * np.stack([np.cos(angles[::512]), np.sin(angles[::512])], 1)
    )
    assert np.max(np.abs(np.asarray(coarse(x, 0.3)) - _ring(a, x, 0.3))) > 0.05


def _ring(a, x, sigma):
    r = np.linalg.norm(x, axis=1)
    return (a * _bessel_ratio(a * r / sigma**2))[:, None] * x / r[:, None]


def test_learned_denoiser_on_gaussian_data_approaches_wiener():
    rng = np.random.default_rng(3)
    mu = np.array([1.0, -0.5])
    cov = np.array([[2.0, 0.6], [0.6, 0.5]])
    data = rng.multivariate_normal(mu, cov, size=4096).astype(np.float32)
    learned = toyflow.train(data, width=64, depth=2, steps=2500, batch_size=512, seed=0).denoiser
    wiener = toyflow.GaussianDenoiser(mu, cov)
    x = rng.multivariate_normal(mu, cov, size=512)
    for sigma in (0.3, 1.0, 3.0):
        noisy = x + sigma * rng.normal(size=x.shape)
        err = np.asarray(learned(noisy, sigma)) - np.asarray(wiener(noisy, sigma))
        # Compare with the Wiener error itself: a model that learned the data distribution has
        # a small excess over the optimum; identity or the mean would be off by O(σ) or O(1).
        excess = np.sqrt(np.mean(np.sum(err**2, axis=1)))
        wiener_rmse = np.sqrt(np.mean(np.sum((np.asarray(wiener(noisy, sigma)) - x) ** 2, axis=1)))
        assert excess < 0.15 * wiener_rmse + 0.02, (sigma, excess, wiener_rmse)
