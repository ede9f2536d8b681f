"""The σ-stack: every frame equals the per-σ computation of toyflow.fields, one compiled call
serves new σ grids, models and data of the same shapes, and the default stack fits 2 MB."""

from __future__ import annotations

import numpy as np
import pytest

import toyflow
from toyflow import sigma_stack as ss
from toyflow.schedules import sampling_sigmas

STEPS = 8
RES, HEAT, N = 8, 12, 24


def _setup(train_x, delta=1.6, steps=STEPS, sigma_max=80.0, seed=0):
    opt = toyflow.OptimalDenoiser(train_x)
    model = toyflow.ErrorProneDenoiser(opt, delta)
    _, traj, sig = toyflow.sample(
        model, N, steps=steps, sigma_max=sigma_max, seed=seed, return_trajectory=True
    )
    return opt, model, np.asarray(traj), sig


def _stack(circle, dtype=np.float32, **kw):
    opt, model, traj, sig = _setup(circle.train_x, **kw)
    st = ss.build_stack(
        model,
        opt,
        circle.train_x,
        sig,
        traj,
        val_x=circle.val_x,
        resolution=RES,
        heat_resolution=HEAT,
        dtype=dtype,
    )
    return st, opt, model, traj, sig


def test_frames_equal_the_per_sigma_fields(circle, reference):
    st, opt, model, traj, sig = _stack(circle)
    assert st.steps == STEPS and np.array_equal(st.sigmas, sig[:-1])
    assert st.model.shape == (STEPS, RES, RES, 2) and st.error.shape == (STEPS, HEAT, HEAT)
    heat = toyflow.make_grid(17.5, HEAT)
    for i in range(STEPS):
        c = toyflow.compare_fields(model, opt, sig[i], resolution=RES)
        np.testing.assert_allclose(st.model[i], c.model.displacement, rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(st.optimal[i], c.reference.displacement, rtol=1e-5, atol=1e-4)
        # the optimal field against a float64 NumPy softmax
        d64, _, _ = reference(st.grid.points, circle.train_x, sig[i])
        r = st.grid.resolution
        np.testing.assert_allclose(
            st.optimal[i], (d64 - st.grid.points).reshape(r, r, 2), rtol=1e-4, atol=2e-4
        )
        # the heat map is ‖D − D*‖ / σ on its own grid (same window)
        ch = toyflow.compare_fields(model, opt, sig[i], resolution=HEAT)
        np.testing.assert_allclose(
            st.error[i], ch.difference_norm / sig[i], rtol=1e-4, atol=1e-4 / sig[i]
        )
        assert np.allclose(st.heat_grid.points, heat.points)
        # the FlowField rebuilt from a frame is the toyflow.fields object
        f = st.flow_field(i)
        np.testing.assert_allclose(f.denoised, c.model.denoised, rtol=1e-5, atol=1e-4)
        assert f.sigma == c.model.sigma
    # trajectories: the sampler's states at each σ; the samples are its last state
    np.testing.assert_array_equal(st.trajectory, traj[:STEPS].astype(np.float32))
    np.testing.assert_array_equal(st.samples, traj[STEPS].astype(np.float32))


def test_noisy_cloud_is_one_draw_scaled_by_sigma(circle):
    st, *_ = _stack(circle)
    y = circle.train_x.astype(np.float32)[st.cloud_source]
    eps = (st.cloud - y[None]) / st.sigmas[:, None, None]
    np.testing.assert_allclose(eps, np.broadcast_to(eps[0], eps.shape), atol=1e-3)
    assert st.cloud.shape == (STEPS, 10 * ss.CLOUD_NOISE, 2)
    assert np.bincount(st.cloud_source).tolist() == [ss.CLOUD_NOISE] * 10
    assert 0.7 < float(np.std(eps[0])) < 1.3


def test_float16_is_within_half_precision(circle):
    f32, *_ = _stack(circle)
    f16, *_ = _stack(circle, dtype=np.float16)
    assert f16.model.dtype == np.float16 and f16.nbytes < 0.6 * f32.nbytes
    for name in ("model", "optimal", "error", "trajectory", "cloud"):
        a, b = getattr(f32, name), getattr(f16, name).astype(np.float32)
        np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-4, err_msg=name)


def test_default_stack_fits_two_megabytes():
    # The explorer's default view: 40-step EDM grid, 32×32 arrows, 500 trajectories, 10 points.
    data = toyflow.make_dataset("circle", n_train=10)
    opt = toyflow.OptimalDenoiser(data.train_x)
    _, traj, sig = toyflow.sample(opt, 500, steps=40, return_trajectory=True)
    st = ss.build_stack(opt, opt, data.train_x, sig, traj, val_x=data.val_x)
    assert st.steps == 40 and st.resolution == 32
    assert st.nbytes <= 2_000_000, st.nbytes
    assert np.all(st.error < 1e-2)  # the model is D*: no difference


def test_new_sigmas_models_and_data_do_not_recompile(circle, random_circle):
    _stack(circle)  # compiled once for these shapes
    before = ss.compile_count()
    # other σ values (another σ_max, same number of steps), another δ, other data of the same size
    _stack(circle, delta=0.7, sigma_max=40.0, seed=3)
    other = random_circle(10, 10, seed=5)
    st, *_ = _stack(other, delta=2.5)
    grid = sampling_sigmas("vp", STEPS)
    opt = toyflow.OptimalDenoiser(other.train_x)
    traj = np.zeros((STEPS + 1, N, 2), np.float32)
    model = toyflow.ErrorProneDenoiser(opt, 0.3)
    ss.build_stack(model, opt, other.train_x, grid, traj, resolution=RES, heat_resolution=HEAT)
    assert ss.compile_count() == before
    assert np.isfinite(st.error).all()


def test_conditional_field(circle):
    labels = np.arange(10) % 2
    opt = toyflow.OptimalDenoiser(circle.train_x, labels)
    _, traj, sig = toyflow.sample(
        opt, N, steps=STEPS, labels=np.zeros(N, int), return_trajectory=True
    )
    st = ss.build_stack(
        opt, opt, circle.train_x, sig, traj, train_labels=labels, label=1, resolution=RES
    )
    ref = toyflow.flow_field(opt, sig[-2], resolution=RES, labels=1)
    np.testing.assert_allclose(
        st.model[-1].astype(np.float32), ref.displacement, rtol=2e-3, atol=2e-2
    )
    np.testing.assert_array_equal(st.train_labels, labels)


def test_bad_input_raises_value_error(circle):
    opt, model, traj, sig = _setup(circle.train_x)
    tx = circle.train_x
    with pytest.raises(ValueError, match="decrease"):
        ss.build_stack(model, opt, tx, sig[:-1][::-1], traj)
    with pytest.raises(ValueError, match="positive"):
        ss.build_stack(model, opt, tx, -sig[:-1], traj)
    with pytest.raises(ValueError, match="finite"):
        ss.build_stack(model, opt, tx, np.array([80.0, np.nan, 0.0]), traj)
    with pytest.raises(ValueError, match="trajectory must have shape"):
        ss.build_stack(model, opt, tx, sig, traj[:-1])
    with pytest.raises(ValueError, match="NaN"):
        bad = traj.copy()
        bad[2, 0, 0] = np.nan
        ss.build_stack(model, opt, tx, sig, bad)
    with pytest.raises(ValueError, match="labels"):
        ss.build_stack(model, opt, tx, sig, traj, label=0)
    with pytest.raises(ValueError, match="float16 or float32"):
        ss.build_stack(model, opt, tx, sig, traj, dtype=np.int8)
    with pytest.raises(ValueError, match="curve"):
        ss.build_stack(model, opt, tx, sig, traj, curves={"gap": np.zeros(3)})
    with pytest.raises(ValueError, match="train_x"):
        ss.build_stack(model, opt, np.zeros((4, 3)), sig, traj)
    st = ss.build_stack(model, opt, tx, sig, traj, resolution=RES, heat_resolution=HEAT)
    with pytest.raises(ValueError, match="frame index"):
        st.flow_field(STEPS)


def test_stack_for_an_explorer_state():
    from toyflow.explorer import ExplorerState

    state = ExplorerState(
        kind="error-prone", delta=1.2, n_samples=30, sample_steps=10, resolution=8, disk_cache=False
    )
    st = ss.stack_for_state(state, heat_resolution=HEAT)
    assert st.steps == 10 and st.trajectory.shape == (10, 30, 2)
    assert st.meta["model"] == "error-prone δ = 1.2"
    assert "relative gap: model" in st.curves and st.curves["relative gap: model"].shape == (10,)
    np.testing.assert_allclose(st.sigmas, state.sigma_grid()[:-1])
    state.sigma_index = 4
    c = state.field()
    np.testing.assert_allclose(
        st.model[4].astype(np.float32), c.model.displacement, rtol=2e-3, atol=2e-2
    )
