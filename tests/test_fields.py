"""Flow fields on a grid: shapes, the quantities derived from D, comparisons, and the σ-slider path
compiling once."""

from __future__ import annotations

import jax
import numpy as np
import pytest

import toyflow
from toyflow._denoiser import _apply
from toyflow.fields import FlowField, Grid, make_grid


@pytest.fixture(scope="module")
def optimal(circle):
    return toyflow.OptimalDenoiser(circle.train_x)


def test_make_grid_layout():
    g = make_grid(17.5, 50)
    assert isinstance(g, Grid) and g.resolution == 50
    assert g.points.shape == (2500, 2) and g.points.dtype == np.float32
    assert g.bounds == pytest.approx((-17.5, -17.5, 17.5, 17.5))
    img = g.points.reshape(50, 50, 2)
    np.testing.assert_array_equal(img[0, :, 0], g.xs)  # columns: x
    np.testing.assert_array_equal(img[:, 0, 1], g.ys)  # rows: y
    box = make_grid((-1.0, 3.0, 0.0, 2.0), 5)
    assert box.bounds == pytest.approx((-1.0, 0.0, 3.0, 2.0))
    for bad in (
        (0.0, 10),
        (-1.0, 10),
        ((1.0, 0.0, 0.0, 1.0), 10),
        ((0.0, 1.0, 0.0), 10),
        (5.0, 1),
        (5.0, 4096),
        (np.nan, 10),
    ):
        with pytest.raises(ValueError):
            make_grid(*bad)


@pytest.mark.parametrize("sigma", [0.63, 2.8, 28.0])
def test_flow_field_quantities(optimal, sigma):
    f = toyflow.flow_field(optimal, sigma, extent=17.5, resolution=20)
    assert isinstance(f, FlowField) and f.sigma == pytest.approx(sigma)
    x = f.grid.points.reshape(20, 20, 2).astype(np.float64)
    d = np.asarray(optimal(f.grid.points, sigma), np.float64).reshape(20, 20, 2)
    assert f.denoised.shape == f.displacement.shape == f.velocity.shape == (20, 20, 2)
    assert f.magnitude.shape == f.region.shape == (20, 20) and f.region.dtype == bool
    np.testing.assert_allclose(f.denoised, d, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(f.displacement, d - x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(f.velocity, (x - d) / sigma, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(f.magnitude, np.linalg.norm(d - x, axis=-1), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(f.region, np.linalg.norm(f.displacement, axis=-1) <= sigma)
    # The velocity is the contract's own velocity.
    np.testing.assert_allclose(
        f.velocity.reshape(-1, 2),
        np.asarray(optimal.velocity(f.grid.points, sigma)),
        rtol=1e-4,
        atol=1e-4,
    )


def test_region_on_a_constructed_field():
    """A denoiser that pulls everything to the origin: region = the disc of radius σ."""
    D = toyflow.GaussianDenoiser(np.zeros(2), np.zeros((2, 2)))  # D(x; σ) = 0
    f = toyflow.flow_field(D, 5.0, extent=10.0, resolution=21)
    np.testing.assert_allclose(f.denoised, 0.0, atol=1e-6)
    r = np.linalg.norm(f.grid.points, axis=1).reshape(21, 21)
    np.testing.assert_array_equal(f.region, r <= 5.0)
    assert 0 < f.region.sum() < 21 * 21


def test_localised_field_at_small_sigma(optimal, circle):
    """At small σ the optimal field points at the nearest training point (memorisation)."""
    f = toyflow.flow_field(optimal, 0.05, resolution=16)
    pts = f.grid.points.astype(np.float64)
    nearest = circle.train_x[
        np.argmin(((pts[:, None] - circle.train_x[None]) ** 2).sum(-1), axis=1)
    ]
    np.testing.assert_allclose(f.denoised.reshape(-1, 2), nearest, atol=1e-4)


def test_compare_fields_difference(circle, optimal):
    model = toyflow.ErrorProneDenoiser(circle.train_x, 1.6)
    cmp = toyflow.compare_fields(model, optimal, 2.8, resolution=16)
    np.testing.assert_array_equal(cmp.model.grid.points, cmp.reference.grid.points)
    want = (
        np.asarray(model(cmp.model.grid.points, 2.8), np.float64)
        - np.asarray(optimal(cmp.model.grid.points, 2.8), np.float64)
    ).reshape(16, 16, 2)
    np.testing.assert_allclose(cmp.difference, want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(
        cmp.difference_norm, np.linalg.norm(want, axis=-1), rtol=1e-5, atol=1e-5
    )
    same = toyflow.compare_fields(optimal, optimal, 2.8, resolution=16)
    np.testing.assert_array_equal(same.difference, 0.0)


def test_conditional_field_with_one_label(circle):
    labels = np.arange(10) % 2
    D = toyflow.OptimalDenoiser(circle.train_x, labels)
    f = toyflow.flow_field(D, 0.05, labels=1, resolution=12)
    pts = f.grid.points.astype(np.float64)
    own = circle.train_x[labels == 1]
    nearest = own[np.argmin(((pts[:, None] - own[None]) ** 2).sum(-1), axis=1)]
    np.testing.assert_allclose(f.denoised.reshape(-1, 2), nearest, atol=1e-4)
    with pytest.raises(ValueError, match="not seen"):
        toyflow.flow_field(D, 1.0, labels=5, resolution=12)


def test_flow_field_rejects_bad_input(optimal):
    # Plain functions are wrapped as denoisers now; non-callables and broken functions are not.
    with pytest.raises(ValueError, match="toyflow denoiser"):
        toyflow.flow_field("optimal", 1.0)
    with pytest.raises(ValueError, match="shape of x"):
        toyflow.flow_field(lambda x, s: x[:, 0], 1.0)
    with pytest.raises(ValueError, match="2D points"):
        toyflow.flow_field(toyflow.GaussianDenoiser(np.zeros(3), np.eye(3)), 1.0)
    for bad in (0.0, -1.0, np.nan, np.inf, [1.0, 2.0]):
        with pytest.raises(ValueError, match="sigma"):
            toyflow.flow_field(optimal, bad)


# --- compile once ------------------------------------------------------------------------------------

SLIDER = np.geomspace(0.02, 80.0, 20)


def _cache_growth(make_denoiser):
    """How many new compilations of the shared ``_apply`` 20 slider moves cause."""
    toyflow.flow_field(make_denoiser(0), float(SLIDER[0]), resolution=24)  # warm up this structure
    before = _apply._cache_size()
    for i, sigma in enumerate(SLIDER):
        toyflow.flow_field(make_denoiser(i), float(sigma), resolution=24)
    return _apply._cache_size() - before


def test_sigma_slider_compiles_once(optimal):
    assert _cache_growth(lambda i: optimal) <= 1


def test_delta_slider_compiles_once(circle):
    deltas = np.linspace(2.2, 1.2, 20)
    assert _cache_growth(lambda i: toyflow.ErrorProneDenoiser(circle.train_x, deltas[i])) <= 1


def test_guidance_slider_compiles_once(circle):
    pos = toyflow.ErrorProneDenoiser(circle.train_x, 1.8)
    neg = toyflow.ErrorProneDenoiser(circle.train_x, 2.2)
    weights = np.linspace(0.0, 2.0, 20)
    assert _cache_growth(lambda i: toyflow.GuidedDenoiser(pos, neg, weights[i])) <= 1
    # New component objects of the same structure (other δ) reuse the compilation too.
    assert (
        _cache_growth(
            lambda i: toyflow.GuidedDenoiser(
                toyflow.ErrorProneDenoiser(circle.train_x, 1.2 + 0.03 * i),
                toyflow.ErrorProneDenoiser(circle.train_x, 2.2),
                weights[i],
            )
        )
        <= 1
    )


def test_model_slider_compiles_once(circle):
    """Learned models with the same architecture (e.g. training snapshots) share a compilation."""
    cfg = toyflow.MLPConfig(width=16, depth=2)
    params = [cfg.init(jax.random.PRNGKey(i)) for i in range(3)]
    assert _cache_growth(lambda i: cfg.make_denoiser(params[i % 3], 7.0 + i)) <= 1
