"""The preconditioning wrapper (toyflow.precond) and the MLP behind it (toyflow.nets).

Numerics are checked against EDM's closed forms evaluated in float64:
``c_skip = σ_d²/(σ²+σ_d²)``, ``c_out = σσ_d/√(σ²+σ_d²)``, ``c_in = 1/√(σ²+σ_d²)``,
``c_noise = ¼ ln σ``, ``λ = 1/c_out²``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from toyflow._denoiser import broadcast_sigma
from toyflow.nets import MLP, MLPConfig, MLPDenoiser, apply_denoiser
from toyflow.precond import loss_weight, precondition, preconditioning

SIGMA_DATA = 0.7


def _closed_form(sigma, sd=SIGMA_DATA):
    s = np.asarray(sigma, np.float64)
    norm = np.sqrt(s**2 + sd**2)
    return sd**2 / norm**2, s * sd / norm, 1.0 / norm, 0.25 * np.log(s)


@pytest.fixture(scope="module")
def untrained():
    """A fresh MLP whose zero-initialised output layer is perturbed, so F(x) ≠ 0 matters."""
    cfg = MLPConfig(dim=2, width=16, depth=2, embed_dim=8)
    params = cfg.init(jax.random.PRNGKey(0))
    params = jax.tree_util.tree_map(lambda p: p + 0.05, params)
    x = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32) * 2.0
    return cfg, params, x


def _raw_net(cfg, params, x_in, c_noise):
    return np.asarray(MLP(cfg).apply(params, jnp.asarray(x_in), jnp.asarray(c_noise)), np.float64)


def test_coefficients_match_the_float64_closed_form():
    sigma = np.geomspace(1e-6, 1e6, 49)
    got = preconditioning(sigma, SIGMA_DATA)
    for name, g, want in zip(("c_skip", "c_out", "c_in", "c_noise"), got, _closed_form(sigma)):
        assert g.dtype == jnp.float32, name
        np.testing.assert_allclose(np.asarray(g, np.float64), want, rtol=2e-6, atol=1e-12)
    # the loss weight is 1/c_out², so the raw network's target has unit weight at every σ
    lam = np.asarray(loss_weight(jnp.float32(sigma), SIGMA_DATA), np.float64)
    np.testing.assert_allclose(lam * _closed_form(sigma)[1] ** 2, 1.0, rtol=1e-5)


def test_denoiser_is_the_closed_form_blend(untrained):
    """D(x; σ) = c_skip x + c_out F(c_in x, c_noise), with F the raw network (float64 blend)."""
    cfg, params, x = untrained
    sigma = np.array([1e-3, 0.05, 0.7, 3.0, 40.0, 1e4], np.float32)
    c_skip, c_out, c_in, c_noise = _closed_form(sigma)
    f = _raw_net(cfg, params, (c_in[:, None] * x).astype(np.float32), c_noise.astype(np.float32))
    want = c_skip[:, None] * x + c_out[:, None] * f
    got = np.asarray(apply_denoiser(cfg, params, SIGMA_DATA, jnp.asarray(x), jnp.asarray(sigma)))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_small_sigma_leaves_data_alone(untrained):
    """σ → 0: c_skip → 1 and c_out ~ σ → 0, so D(x, σ) → x however the network is set; the gap
    shrinks linearly in σ."""
    cfg, params, x = untrained
    den = cfg.make_denoiser(params, SIGMA_DATA)
    gaps = []
    for s in (1e-1, 1e-2, 1e-3, 1e-4):
        gap = float(np.max(np.abs(np.asarray(den(x, s)) - x)))
        # |D − x| = |(c_skip − 1) x + c_out F| ≤ (1 − c_skip)|x| + c_out |F|
        c_skip, c_out, c_in, c_noise = _closed_form(s)
        f = _raw_net(cfg, params, (c_in * x).astype(np.float32), np.full(6, c_noise, np.float32))
        bound = (1 - c_skip) * np.max(np.abs(x)) + c_out * np.max(np.abs(f))
        assert gap <= bound * (1 + 1e-4) + 1e-6
        gaps.append(gap)
    assert gaps[0] > 1e-3  # at σ = 0.1 the network visibly acts ...
    assert gaps[-1] < 1e-3 * gaps[0] * 1.5 + 1e-6  # ... and at 1e-4 its effect is ~1000× smaller
    np.testing.assert_allclose(np.asarray(den(x, 1e-6)), x, atol=1e-5)


def test_large_sigma_predicts_sigma_data_times_the_network(untrained):
    """σ → ∞: c_skip → 0, c_out → σ_d, c_in x → 0: D tends to σ_d F(0, c_noise), finite, and no
    longer depends on x (no overflow even at σ = 1e20)."""
    cfg, params, x = untrained
    den = cfg.make_denoiser(params, SIGMA_DATA)
    for s in (1e6, 1e20):
        out = np.asarray(den(x, s))
        assert np.all(np.isfinite(out))
        f0 = _raw_net(cfg, params, np.zeros_like(x), np.full(6, 0.25 * np.log(s), np.float32))
        np.testing.assert_allclose(out, SIGMA_DATA * f0, rtol=1e-4, atol=1e-5)
        assert np.max(np.abs(out - out[0])) < 1e-4  # the same prediction for every x


def test_untrained_mlp_is_exactly_the_skip_connection():
    """The MLP's output layer starts at zero: a fresh model is D = c_skip(σ) x."""
    cfg = MLPConfig(dim=3, width=8, depth=1, embed_dim=4)
    den = cfg.make_denoiser(cfg.init(jax.random.PRNGKey(1)), SIGMA_DATA)
    x = np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    sigma = np.array([0.01, 0.5, 2.0, 80.0])
    np.testing.assert_allclose(
        np.asarray(den(x, sigma)), _closed_form(sigma)[0][:, None] * x, rtol=1e-6
    )


@pytest.mark.parametrize("shape", [(5, 2), (5, 7), (5, 4, 4, 3), (5, 3, 2, 1)])
def test_shapes_and_sigma_forms(shape):
    """Any batch ``(n, ...)``: σ scalar or ``(n,)``, each coefficient broadcast row by row."""
    x = jnp.asarray(np.random.default_rng(2).normal(size=shape), jnp.float32)
    seen = {}

    def net(x_in, c_noise):
        seen["x_in"], seen["c_noise"] = x_in.shape, c_noise.shape
        return jnp.ones_like(x_in)

    sigma = np.array([0.1, 0.3, 1.0, 3.0, 10.0], np.float32)
    out = precondition(net, x, sigma, SIGMA_DATA)
    assert out.shape == shape and seen == {"x_in": shape, "c_noise": (5,)}
    c_skip, c_out, *_ = _closed_form(sigma)
    row = (-1,) + (1,) * (len(shape) - 1)
    want = c_skip.reshape(row) * np.asarray(x, np.float64) + c_out.reshape(row)
    np.testing.assert_allclose(np.asarray(out), want, rtol=1e-6, atol=1e-6)
    same = precondition(net, x, 0.3, SIGMA_DATA)
    np.testing.assert_array_equal(
        np.asarray(same), np.asarray(precondition(net, x, np.full(5, 0.3), SIGMA_DATA))
    )
    assert broadcast_sigma(sigma, 5, len(shape)).shape == (5,) + (1,) * (len(shape) - 1)
    assert broadcast_sigma(0.5, 5).shape == (5,)


def test_dtype_policy():
    """σ, the coefficients and D are float32 whatever precision the network computes in."""
    x = jnp.ones((3, 4, 4, 2), jnp.float32)
    out = precondition(lambda x_in, c: x_in.astype(jnp.bfloat16), x, 0.5, SIGMA_DATA)
    assert out.dtype == jnp.float32
    for c in preconditioning(np.float64(0.5), SIGMA_DATA):
        assert c.dtype == jnp.float32
    cfg = MLPConfig(dim=2, width=8, depth=1, embed_dim=4)
    den = cfg.make_denoiser(cfg.init(jax.random.PRNGKey(0)), SIGMA_DATA)
    assert isinstance(den, MLPDenoiser)
    assert den(np.zeros((2, 2), np.float64), 1.0).dtype == jnp.float32
    assert den(np.zeros((2, 2), np.int32), np.float64(1.0)).dtype == jnp.float32
