"""Honest numbers in the explorer: memorization beside its fresh-data baseline, no degenerate
metric, no trivially-zero comparison, a gap plot and a heat map whose scales mean the same in
every setting, and a PNG that holds what the page shows."""

from __future__ import annotations

import numpy as np
import pytest

from toyflow import explorer as tfx
from toyflow import metrics, plotting
from toyflow.datasets import make_dataset
from toyflow.explorer.curves import headline_items
from toyflow.sigma_stack import GAP_CAP, GAP_TICKS, gap_axis, gap_axis_inverse, stack_for_state

# Small views: few σ steps, few samples, a coarse grid (seconds per state).
SMALL = dict(sample_steps=8, n_samples=60, resolution=8)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")
    tfx.clear_memory_cache()
    tfx.clear_view_caches()
    yield
    tfx.clear_memory_cache()


def state(**params) -> tfx.ExplorerState:
    s = tfx.ExplorerState(**{**SMALL, **params})
    s.refresh()
    assert s.error == ""
    return s


def _memorized_reference(queries, train, ratio=1 / 3) -> np.ndarray:
    """Float64 reference of the 1/3 rule: nearest < ratio × second-nearest."""
    q, t = np.asarray(queries, np.float64), np.asarray(train, np.float64)
    d = np.sort(np.sqrt(((q[:, None, :] - t[None, :, :]) ** 2).sum(-1)), axis=1)
    return d[:, 0] < ratio * d[:, 1]


# --- memorization beside its fresh-data baseline -------------------------------------------


def test_baseline_matches_a_float64_reference():
    # Four training points on a square; fresh points at known distances from them.
    train = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    rng = np.random.default_rng(3)
    fresh = rng.uniform(-2, 12, size=(400, 2)).astype(np.float32)
    fresh[:5] = [[0.5, 0], [5, 0], [9, 9], [1.5, 1.5], [3.2, 0]]  # 3.2 > 6.8 / 3
    p, se = metrics.memorization_baseline(fresh, train)
    ref = _memorized_reference(fresh, train)
    assert ref[:5].tolist() == [True, False, True, True, False]
    assert p == pytest.approx(ref.mean(), abs=1e-12)
    assert se == pytest.approx(np.sqrt(ref.mean() * (1 - ref.mean()) / ref.size), rel=1e-9)


def test_headline_shows_the_fresh_data_baseline():
    s = state(kind="optimal", show_curves=False)
    h = s.headline_view
    fresh, source = s.compute.fresh_points()
    assert "fresh draws" in source and fresh.shape == (2000, 2)
    # The fresh draws lie on the circle (the data distribution), not on the training angles.
    np.testing.assert_allclose(np.hypot(fresh[:, 0], fresh[:, 1]), 10.0, rtol=1e-5)
    ref = _memorized_reference(fresh, s.data().dataset.train_x)
    assert h["memorized_baseline"] == pytest.approx(ref.mean(), abs=1e-12)
    # On the circle the baseline is far from zero: about half the circle lies within 1/4 of
    # the spacing of a training point (chords, not arcs, hence not exactly 1/2).
    assert 0.4 < h["memorized_baseline"] < 0.6
    name, value, detail, _ = headline_items(h)[0]
    assert name == "memorized samples" and value == "100.0%"
    assert detail.startswith("fresh data: ") and f"{h['memorized_baseline']:.1%}" in detail
    # The σ views carry it too, beside the samples' own share.
    stack = stack_for_state(s)
    assert stack.memorized_baseline == h["memorized_baseline"]
    assert stack.memorized_text() == (
        f"100% end memorized (fresh data: {100 * h['memorized_baseline']:.0f}%)"
    )


def test_custom_data_uses_its_validation_points_as_baseline():
    s = tfx.ExplorerState(**SMALL, kind="optimal", show_curves=False)
    pts = make_dataset("moons", 30, 0, seed=1).train_x
    s.use_points(pts)
    s.holdout = 0.3
    s.refresh()
    h = s.headline_view
    ds = s.data().dataset
    assert h["baseline_source"] == f"{ds.n_val} validation points"
    assert h["memorized_baseline"] == pytest.approx(
        _memorized_reference(ds.val_x, ds.train_x).mean(), abs=1e-12
    )


# --- the Fréchet overfit: hidden where the data cannot show it -----------------------------


def test_frechet_resolution_against_float64():
    a = make_dataset("circle", 10, 10).train_x
    b = make_dataset("circle", 10, 10).val_x
    res = metrics.frechet_resolution(a, b, 500)
    cov = np.cov(np.asarray(a, np.float64), rowvar=False)
    assert res["floor"] == pytest.approx(np.trace(cov) / 500, rel=1e-9)
    assert res["fd_train_val"] < 1e-6 * np.trace(cov) and not res["resolvable"]
    shifted = metrics.frechet_resolution(a, np.asarray(b) + [1.0, 0.0], 500)
    assert shifted["fd_train_val"] == pytest.approx(1.0, rel=1e-4) and shifted["resolvable"]


def test_frechet_overfit_hidden_on_the_symmetric_circle_shown_on_moons():
    circle = state(kind="error-prone", show_curves=False).headline_view
    assert circle["relative_overfit"] is None
    assert "mean and covariance" in circle["relative_overfit_note"]
    item = headline_items(circle)[1]
    assert item[:2] == ("Fréchet overfit", "hidden") and "covariance" in item[2]
    assert circle["fd_train_val"] < circle["fd_noise"] and "below the samples'" in item[3]
    moons = state(kind="error-prone", dataset="moons", show_curves=False).headline_view
    assert np.isfinite(moons["relative_overfit"]) and moons["relative_overfit_note"] is None
    assert headline_items(moons)[1][1] == f"{moons['relative_overfit']:.3g}"


# --- the optimal denoiser is not compared with itself --------------------------------------


def test_optimal_mode_marks_the_comparison_absent():
    from toyflow.app.stack_view import StackView

    s = state(kind="optimal")
    stack = stack_for_state(s)
    assert s.curves()["compare"] is False and stack.compare is False
    assert set(stack.curves) == {"relative gap: D*", "trajectory overlap"}
    view = StackView(stack)
    assert not view.figures["optimal"].visible and not view.figures["error"].visible
    assert not view.figures["curves:model vs optimal error ‖D − D*‖"].visible
    gap_fig = view.figures["curves:gap (E_val − E_train) / E_train"]
    shown = [i.label.value for i in gap_fig.legend.items if i.visible]
    assert not view.curve_lines["relative gap: model"].visible and shown == [
        f"D* (top line: > {GAP_CAP:g}, off scale)"
    ]
    other = stack_for_state(state(kind="error-prone"))
    assert other.compare and "‖D − D*‖ on trajectory states" in other.curves
    view.update(other)
    assert view.figures["optimal"].visible and view.figures["error"].visible
    assert all(i.visible for i in gap_fig.legend.items)


# --- scales that mean the same in every setting --------------------------------------------


def test_capped_gap_line_has_a_fixed_height():
    from toyflow.app.stack_view import _curve_columns

    tops = []
    for delta in (0.4, 1.6):
        stack = stack_for_state(state(kind="error-prone", delta=delta))
        cols = _curve_columns(stack)
        raw = stack.curves["relative gap: D*"]
        assert raw.max() > 1e3 * GAP_CAP  # D*'s gap is unbounded as σ → 0
        tops.append(float(np.nanmax(cols["relative gap: D*"])))
        model = stack.curves["relative gap: model"]
        np.testing.assert_allclose(
            gap_axis_inverse(cols["relative gap: model"]), np.minimum(model, GAP_CAP), rtol=1e-9
        )
    assert tops[0] == tops[1] == pytest.approx(float(gap_axis(GAP_CAP)))
    g = np.array([-0.3, -0.02, 0.0, 0.02, 0.3, 5.0])
    np.testing.assert_allclose(gap_axis_inverse(gap_axis(g)), g, rtol=1e-12, atol=1e-15)
    assert np.all(np.diff(gap_axis(np.asarray(GAP_TICKS))) > 0)


def test_heat_map_range_covers_the_data():
    from toyflow.app.stack_view import StackView, frame_columns

    stack = stack_for_state(state(kind="error-prone", delta=1.6))
    lo, hi = stack.error_range
    err = np.asarray(stack.error, np.float64).ravel()
    pos = err[err > 0]
    assert lo <= np.percentile(pos, 1.0) * (1 + 1e-6) and hi >= np.percentile(pos, 99.0)
    assert hi >= 10 * lo
    # One range for every frame, on the page and in the frames it draws.
    view = StackView(stack)
    assert (view.error_mapper.low, view.error_mapper.high) == (lo, hi)
    for i in (0, stack.steps - 1):
        e = frame_columns(stack, i)["error"]
        assert e.min() >= np.float32(lo) * (1 - 1e-6) and e.max() <= np.float32(hi) * (1 + 1e-6)


# --- the PNG holds what the page shows -----------------------------------------------------


def test_png_has_fields_curves_legend_and_headline():
    s = state(kind="error-prone", delta=1.6)
    stack = stack_for_state(s)
    fig = plotting.plot_stack_frame(stack, 5, headline=headline_items(s.headline_view))
    titles = [ax.get_title() for ax in fig.axes]
    # 4 square views, 2 colour bars, 3 curve plots, the legend and headline panel.
    assert len(fig.axes) >= 10
    assert any(t.startswith("gap") for t in titles) and "trajectory overlap" in titles
    assert "difference ‖D − D*‖ / σ" in titles
    texts = " ".join(t.get_text() for ax in fig.axes for t in ax.texts)
    assert "memorized samples" in texts and "fresh data" in texts
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None]
    labels = {t.get_text() for lg in legends for t in lg.get_texts()}
    assert {"training point", "validation point", "model"} <= labels
    # Same heat-map scale as the page.
    heat = [im for ax in fig.axes for im in ax.images if im.get_cmap().name == "magma"]
    assert heat and (heat[0].norm.vmin, heat[0].norm.vmax) == pytest.approx(stack.error_range)
    opt = stack_for_state(state(kind="optimal"))
    small = plotting.plot_stack_frame(opt, 5)
    assert "difference ‖D − D*‖ / σ" not in [ax.get_title() for ax in small.axes]
