"""Noise schedules: σ(t) and its inverse, derivatives, time grids, the EDM rho grid and the training
noise distributions, for every registry entry."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import toyflow
from toyflow.schedules import SCHEDULES, Schedule, check_grid, edm_sigmas, get_schedule

NAMES = sorted(SCHEDULES)
GRIDS = [(40, 0.002, 80.0, 7.0), (12, 0.01, 10.0, 3.0)]


@pytest.fixture(params=NAMES)
def schedule(request) -> Schedule:
    return get_schedule(request.param)


def _f32(a):
    return np.asarray(a, np.float64)


def test_registry():
    assert set(SCHEDULES) == {"edm", "vp", "ve", "cosine"}
    for name, cls in SCHEDULES.items():
        inst = get_schedule(name)
        assert isinstance(inst, cls) and inst.name == name
        assert get_schedule(inst) is inst
        hash(inst)  # a static argument of jitted samplers
        with pytest.raises(dataclasses.FrozenInstanceError):
            inst.name_alias = 1  # type: ignore[attr-defined]
    assert toyflow.SCHEDULES is SCHEDULES
    with pytest.raises(ValueError, match="valid names: cosine, edm, ve, vp"):
        get_schedule("ddim")


def test_sigma_inverse_round_trip(schedule):
    sigmas = np.geomspace(0.002, 80.0, 50)
    t = schedule.sigma_inv(sigmas)
    back = _f32(schedule.sigma(jnp.asarray(t, jnp.float32)))
    np.testing.assert_allclose(back, sigmas, rtol=1e-4)
    # The JAX branch of the inverse agrees with the float64 NumPy one.
    t_jax = _f32(schedule.sigma_inv(jnp.asarray(sigmas, jnp.float32)))
    np.testing.assert_allclose(t_jax, np.asarray(t, np.float64), rtol=1e-4, atol=1e-7)


def _interior_times(schedule):
    ts = schedule.time_steps(20, 0.002, 80.0, 7.0)[:-1]  # σ > 0 only
    return np.asarray(ts, np.float64)


def test_sigma_deriv_against_autodiff_and_finite_differences(schedule):
    ts = _interior_times(schedule)
    deriv = _f32(jax.vmap(schedule.sigma_deriv)(jnp.asarray(ts, jnp.float32)))
    auto = _f32(jax.vmap(jax.grad(lambda u: schedule.sigma(u)))(jnp.asarray(ts, jnp.float32)))
    np.testing.assert_allclose(deriv, auto, rtol=1e-4)
    # Independent float64 check: dσ/dt = 1 / (dt/dσ), the inverse differentiated numerically.
    sig = _f32(schedule.sigma(jnp.asarray(ts, jnp.float32)))
    h = 1e-6 * sig
    dt_dsigma = (
        np.asarray(schedule.sigma_inv(sig + h), np.float64)
        - np.asarray(schedule.sigma_inv(sig - h), np.float64)
    ) / (2 * h)
    np.testing.assert_allclose(deriv, 1.0 / dt_dsigma, rtol=1e-3)


def test_s_deriv_against_autodiff_and_finite_differences(schedule):
    ts = _interior_times(schedule)
    tj = jnp.asarray(ts, jnp.float32)
    deriv = _f32(jax.vmap(schedule.s_deriv)(tj))
    auto = _f32(jax.vmap(jax.grad(lambda u: schedule.s(u)))(tj))
    np.testing.assert_allclose(deriv, auto, rtol=1e-4, atol=1e-6)
    h = np.minimum(1e-3, 0.5 * (ts - schedule.t_zero))  # stay inside the domain t > t(σ=0)
    fd = (
        _f32(schedule.s(jnp.asarray(ts + h, jnp.float32)))
        - _f32(schedule.s(jnp.asarray(ts - h, jnp.float32)))
    ) / (2 * h)
    np.testing.assert_allclose(deriv, fd, rtol=1e-2, atol=5e-3)
    s = _f32(schedule.s(tj))
    assert np.all((s > 0) & (s <= 1))
    if schedule.name in ("edm", "ve"):
        np.testing.assert_array_equal(s, 1.0)
        np.testing.assert_array_equal(deriv, 0.0)
    else:  # variance preserving: s = 1/√(1+σ²)
        sig = _f32(schedule.sigma(tj))
        np.testing.assert_allclose(s, 1 / np.sqrt(1 + sig**2), rtol=1e-5)


@pytest.mark.parametrize("grid", GRIDS)
def test_time_steps(schedule, grid):
    steps, sigma_min, sigma_max, rho = grid
    ts = np.asarray(schedule.time_steps(steps, sigma_min, sigma_max, rho), np.float64)
    assert ts.shape == (steps + 1,)
    assert np.all(np.diff(ts) < 0)  # time runs from σ_max down to σ = 0
    assert ts[-1] == schedule.t_zero
    sig = _f32(schedule.sigma(jnp.asarray(ts, jnp.float32)))
    assert sig[0] == pytest.approx(sigma_max, rel=1e-4)
    assert sig[-2] == pytest.approx(sigma_min, rel=1e-4)
    assert sig[-1] == 0.0
    assert np.all(np.diff(sig) < 0)


@pytest.mark.parametrize("grid", GRIDS + [(2, 0.5, 1.0, 1.0)])
def test_edm_sigmas_float64_formula(grid):
    steps, sigma_min, sigma_max, rho = grid
    got = edm_sigmas(steps, sigma_min, sigma_max, rho)
    assert got.dtype == np.float64 and got.shape == (steps + 1,)
    want = [
        (
            sigma_max ** (1 / rho)
            + i / (steps - 1) * (sigma_min ** (1 / rho) - sigma_max ** (1 / rho))
        )
        ** rho
        for i in range(steps)
    ] + [0.0]
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=0)
    assert got[0] == pytest.approx(sigma_max, rel=1e-14)
    assert got[-2] == pytest.approx(sigma_min, rel=1e-12)
    assert got[-1] == 0.0
    assert toyflow.edm_sigmas is edm_sigmas


def test_edm_time_steps_are_the_rho_grid():
    np.testing.assert_allclose(get_schedule("edm").time_steps(40), edm_sigmas(40), rtol=1e-12)


@pytest.mark.parametrize(
    "args, match",
    [
        ((0, 0.002, 80.0, 7.0), "steps"),
        ((10, 80.0, 0.002, 7.0), "smaller than sigma_max"),
        ((10, 1.0, 1.0, 7.0), "smaller than sigma_max"),
        ((10, 0.0, 80.0, 7.0), "sigma_min must be >"),
        ((10, 0.002, 2e6, 7.0), "sigma_max must be <="),
        ((10, 0.002, 80.0, 0.0), "rho must be >"),
        ((10, 0.002, np.nan, 7.0), "finite"),
    ],
)
def test_grid_validation(args, match):
    with pytest.raises(ValueError, match=match):
        check_grid(*args)
    with pytest.raises(ValueError, match=match):
        edm_sigmas(*args)
    for name in NAMES:
        with pytest.raises(ValueError, match=match):
            get_schedule(name).time_steps(*args)


# --- training noise distributions -----------------------------------------------------------------

N_DRAWS = 200_000


@pytest.mark.parametrize("sigma_data", [0.5, 7.0])
def test_training_sigma_positive_and_finite(schedule, sigma_data):
    sig = _f32(schedule.sample_training_sigma(jax.random.PRNGKey(0), (N_DRAWS,), sigma_data))
    assert sig.shape == (N_DRAWS,)
    assert np.all(np.isfinite(sig)) and np.all(sig > 0)
    other = _f32(schedule.sample_training_sigma(jax.random.PRNGKey(1), (N_DRAWS,), sigma_data))
    assert not np.array_equal(sig, other)


@pytest.mark.parametrize("sigma_data", [0.5, 7.0])
def test_edm_training_sigma_is_shifted_log_normal(sigma_data):
    edm = get_schedule("edm")
    log_sig = np.log(_f32(edm.sample_training_sigma(jax.random.PRNGKey(2), (N_DRAWS,), sigma_data)))
    mean = edm.p_mean + np.log(sigma_data / 0.5)
    se = edm.p_std / np.sqrt(N_DRAWS)
    assert abs(log_sig.mean() - mean) < 5 * se
    assert log_sig.std() == pytest.approx(edm.p_std, rel=0.01)
    # Normal tails: about 15.9 % beyond one standard deviation above the mean.
    assert np.mean(log_sig > mean + edm.p_std) == pytest.approx(0.1587, abs=0.005)


def test_ve_training_sigma_is_log_uniform():
    ve = get_schedule("ve")
    scale = 7.0 / 0.5
    log_sig = np.log(_f32(ve.sample_training_sigma(jax.random.PRNGKey(3), (N_DRAWS,), 7.0)))
    lo, hi = np.log(ve.sigma_lo * scale), np.log(ve.sigma_hi * scale)
    assert log_sig.min() >= lo - 1e-5 and log_sig.max() <= hi + 1e-5
    u = (log_sig - lo) / (hi - lo)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N_DRAWS)
    np.testing.assert_allclose(np.histogram(u, bins=10, range=(0, 1))[0] / N_DRAWS, 0.1, atol=0.005)


@pytest.mark.parametrize("name, t_lo, t_hi", [("vp", None, 1.0), ("cosine", 0.0, 1.0 - 1e-3)])
def test_vp_and_cosine_training_time_is_uniform(name, t_lo, t_hi):
    sched = get_schedule(name)
    t_lo = sched.eps_t if t_lo is None else t_lo
    scale = 7.0 / 0.5
    sig = _f32(sched.sample_training_sigma(jax.random.PRNGKey(4), (N_DRAWS,), 7.0)) / scale
    t = np.asarray(sched.sigma_inv(sig), np.float64)
    assert t.min() >= t_lo - 1e-4 and t.max() <= t_hi + 1e-4
    u = (t - t_lo) / (t_hi - t_lo)
    assert abs(u.mean() - 0.5) < 5 * np.sqrt(1 / 12 / N_DRAWS)
    np.testing.assert_allclose(np.histogram(u, bins=10, range=(0, 1))[0] / N_DRAWS, 0.1, atol=0.005)
