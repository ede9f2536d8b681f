"""HybridDenoiser and BandDenoiser: exactly their parts on each side of the switch, per sample,
checked against the parts and against float64 references of the parts."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyflow
from toyflow import metrics


def _error_prone_reference(reference, x, train, sigma, delta):
    """Float64 ``(δ² x + σ² D*(x; √(σ²+δ²))) / (σ² + δ²)``."""
    sigma = np.broadcast_to(np.asarray(sigma, np.float64), (len(x),))[:, None]
    smoothed, _, _ = reference(x, train, np.sqrt(sigma[:, 0] ** 2 + delta**2))
    xd = np.asarray(x, np.float32).astype(np.float64)
    return (delta**2 * xd + sigma**2 * smoothed) / (sigma**2 + delta**2)


@pytest.fixture(scope="module")
def parts(circle):
    optimal = toyflow.OptimalDenoiser(circle.train_x)
    smooth = toyflow.ErrorProneDenoiser(circle.train_x, delta=1.6)
    return optimal, smooth


def _queries(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(n, 2)) * 8).astype(np.float32)


def test_hybrid_is_each_part_on_its_side_per_sample(circle, reference, parts):
    optimal, smooth = parts
    switch = 1.0
    hybrid = toyflow.HybridDenoiser(optimal, smooth, switch)
    x = _queries()
    # Per-sample σ on both sides of the switch, including the switch itself (→ low).
    sigma = np.tile(np.float32([0.05, 0.5, 1.0, 1.0001, 2.0, 30.0, 0.999, 5.0]), 8)
    out = np.asarray(hybrid(x, sigma))
    above = sigma > switch
    assert above.any() and (~above).any()
    # Exactly the parts, row by row.
    np.testing.assert_array_equal(out[above], np.asarray(optimal(x[above], sigma[above])))
    np.testing.assert_array_equal(out[~above], np.asarray(smooth(x[~above], sigma[~above])))
    # And the parts' float64 references.
    ref_high, _, _ = reference(x[above], circle.train_x, sigma[above])
    ref_low = _error_prone_reference(reference, x[~above], circle.train_x, sigma[~above], 1.6)
    np.testing.assert_allclose(out[above], ref_high, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(out[~above], ref_low, rtol=1e-5, atol=1e-4)


def test_hybrid_scalar_sigma_and_switch_edge(parts):
    optimal, smooth = parts
    x = _queries(16, seed=1)
    hybrid = toyflow.HybridDenoiser(optimal, smooth, 2.5)
    np.testing.assert_array_equal(np.asarray(hybrid(x, 2.5)), np.asarray(smooth(x, 2.5)))
    np.testing.assert_array_equal(np.asarray(hybrid(x, 2.6)), np.asarray(optimal(x, 2.6)))
    np.testing.assert_array_equal(np.asarray(hybrid(x, 0.01)), np.asarray(smooth(x, 0.01)))


def test_hybrid_is_a_pytree_with_traced_switch(parts):
    optimal, smooth = parts
    x = jnp.asarray(_queries(32, seed=2))
    sigma = jnp.full((32,), 1.3, jnp.float32)
    switches = jnp.asarray([0.5, 1.3, 2.0], jnp.float32)

    traces = []

    @jax.jit
    def run(switch):
        traces.append(1)
        return toyflow.HybridDenoiser(optimal, smooth, switch)(x, sigma)

    outs = [np.asarray(run(s)) for s in switches]
    assert len(traces) == 1  # a new switch is a new value, not a recompile
    # Inside one jit (constants folded, ops fused) the parts may round the last bit differently
    # from their own compiled calls; the selection itself is what is checked here.
    close = dict(rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(outs[0], np.asarray(optimal(x, sigma)), **close)
    np.testing.assert_allclose(outs[1], np.asarray(smooth(x, sigma)), **close)  # σ == switch
    np.testing.assert_allclose(outs[2], np.asarray(smooth(x, sigma)), **close)
    assert np.abs(outs[0] - outs[1]).max() > 0.1  # the two parts really differ here
    batched = np.asarray(jax.vmap(run)(switches))
    for o, b in zip(outs, batched):
        np.testing.assert_allclose(b, o, **close)
    leaves = jax.tree_util.tree_leaves(toyflow.HybridDenoiser(optimal, smooth, 1.0))
    assert any(np.ndim(v) == 0 and float(v) == 1.0 for v in leaves)


def test_hybrid_passes_labels_to_the_parts_that_take_them(circle):
    labels = np.arange(10) % 2
    conditional = toyflow.OptimalDenoiser(circle.train_x, labels)
    plain = toyflow.ErrorProneDenoiser(circle.train_x, delta=1.2)
    hybrid = toyflow.HybridDenoiser(conditional, plain, 0.7)
    x = _queries(20, seed=3)
    q = np.arange(20) % 2
    np.testing.assert_array_equal(np.asarray(hybrid(x, 3.0, q)), np.asarray(conditional(x, 3.0, q)))
    np.testing.assert_array_equal(np.asarray(hybrid(x, 0.3, q)), np.asarray(plain(x, 0.3)))
    assert hybrid.num_classes == 2
    with pytest.raises(ValueError):
        hybrid(x, 1.0, np.full(20, 7))
    unlabeled = toyflow.HybridDenoiser(plain, toyflow.OptimalDenoiser(circle.train_x), 1.0)
    with pytest.raises(ValueError, match="labels=None"):
        unlabeled(x, 1.0, q)


def test_band_uses_inside_only_within_the_band(circle, reference, parts):
    optimal, smooth = parts
    band = toyflow.BandDenoiser(smooth, optimal, 0.5, 2.0)
    x = _queries(48, seed=4)
    sigma = np.tile(np.float32([0.1, 0.5, 1.0, 2.0, 2.01, 10.0]), 8)
    out = np.asarray(band(x, sigma))
    inside = (sigma >= 0.5) & (sigma <= 2.0)
    np.testing.assert_array_equal(out[inside], np.asarray(optimal(x[inside], sigma[inside])))
    np.testing.assert_array_equal(out[~inside], np.asarray(smooth(x[~inside], sigma[~inside])))
    ref_in, _, _ = reference(x[inside], circle.train_x, sigma[inside])
    np.testing.assert_allclose(out[inside], ref_in, rtol=1e-5, atol=1e-4)


def test_hybrid_in_sample_fields_and_metrics(circle, parts):
    optimal, smooth = parts
    grid = toyflow.sampling_sigmas(steps=12)
    # A switch above σ_max: every step is the low model's; below every positive σ: the high one's.
    low_only = toyflow.HybridDenoiser(optimal, smooth, 100.0)
    high_only = toyflow.HybridDenoiser(optimal, smooth, 1e-4)
    for hybrid, part in ((low_only, smooth), (high_only, optimal)):
        got = toyflow.sample(hybrid, 50, steps=12, seed=1)
        want = toyflow.sample(part, 50, steps=12, seed=1)
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # A switch on the grid: the hybrid's errors per σ are each part's on its side.
    switch = float(grid[6])
    hybrid = toyflow.HybridDenoiser(optimal, smooth, switch)
    sig = grid[:-1]
    curves = [
        metrics.gap_curve(d, circle.train_x, circle.val_x, sig, n_noise=3)
        for d in (hybrid, optimal, smooth)
    ]
    above = sig > switch
    assert above.any() and (~above).any()
    for name in ("e_train", "e_val"):
        got, high, low = (getattr(c, name) for c in curves)
        np.testing.assert_allclose(got[above], high[above], rtol=2e-6)
        np.testing.assert_allclose(got[~above], low[~above], rtol=2e-6)
    field = toyflow.flow_field(hybrid, 0.1, resolution=8)
    np.testing.assert_array_equal(
        field.denoised, toyflow.flow_field(smooth, 0.1, resolution=8).denoised
    )


def test_a_plain_function_is_a_part(parts):
    """Like everywhere in toyflow, a function D(x, sigma) is wrapped (here the identity)."""
    optimal, _ = parts
    hybrid = toyflow.HybridDenoiser(optimal, lambda x, sigma: x, 1.0)
    x = _queries(12, seed=5)
    np.testing.assert_array_equal(np.asarray(hybrid(x, 0.5)), x)
    np.testing.assert_array_equal(np.asarray(hybrid(x, 2.0)), np.asarray(optimal(x, 2.0)))


def test_bad_input(parts):
    optimal, smooth = parts
    with pytest.raises(ValueError, match="sigma_switch"):
        toyflow.HybridDenoiser(optimal, smooth, 0.0)
    with pytest.raises(ValueError, match="sigma_switch"):
        toyflow.HybridDenoiser(optimal, smooth, float("nan"))
    with pytest.raises(ValueError, match="toyflow denoiser or a function"):
        toyflow.HybridDenoiser(optimal, "identity", 1.0)
    with pytest.raises(ValueError, match="different shapes"):
        toyflow.HybridDenoiser(optimal, toyflow.OptimalDenoiser(np.zeros((3, 3))), 1.0)
    with pytest.raises(ValueError, match="must not exceed"):
        toyflow.BandDenoiser(smooth, optimal, 2.0, 1.0)
    assert "sigma_switch=1.5" in repr(toyflow.HybridDenoiser(optimal, smooth, 1.5))
