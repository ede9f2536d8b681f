"""The Panel app (toyflow.app): widgets wired to the store, messages, downloads, notebook use."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bokeh.document import Document

from toyflow import explorer as tfx
from toyflow.app import view as app_module
from toyflow.explorer import ExplorerState


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")


def release(widget, value):
    """What a browser sends when a throttled slider is released."""
    import param

    with param.edit_constant(widget):
        widget.value = value
        widget.value_throttled = value


@pytest.fixture
def app():
    state = ExplorerState(show_curves=False)  # synchronous refreshes: deterministic tests
    a = app_module.ExplorerApp(state)
    a.__panel__().get_root(Document())  # build every plot, as a page would
    state.refresh()
    yield a
    state.close()


def test_create_app_builds_a_page_with_the_test_hooks():
    page = app_module.create_app()
    page.server_doc(Document())
    assert isinstance(page.explorer, app_module.ExplorerApp)
    page.explorer.state.refresh()
    assert page.explorer.state.field_view is not None
    a = app_module.ExplorerApp(ExplorerState(auto=False))
    hooks = {
        "sigma-slider": a.sigma_slider,
        "train-button": a.train_button,
        "cancel-button": a.cancel_button,
        "flow-field": a.field_pane,
        "model-kind": a.kind,
        "width-input": a.width,
        "n-train-input": a.n_train,
    }
    for cls, widget in hooks.items():
        assert cls in widget.css_classes


def test_widgets_drive_the_store(app):
    s = app.state
    app.kind.value = "error-prone"
    assert s.kind == "error-prone" and app.delta.visible
    release(app.delta, 1.2)  # throttled: only the release updates the store
    assert s.delta == 1.2
    release(app.sigma_slider, 21)
    assert s.sigma_index == 21 and s.error == ""
    assert f"{s.sigmas[21]:.4g}" in app.sigma_label.object
    app.player.value = 22
    assert s.sigma_index == 22
    assert app.sigma_slider.value == 22
    app.seed.value = 3
    assert s.data_view.key[3] == 3
    assert not app.width.visible
    app.kind.value = "learned"
    assert app.width.visible and app.train_button.visible
    assert "Train" in s.status


def test_sigma_slider_is_never_sent_an_older_index(app):
    """Key presses on the σ slider reach the server one by one; the page can be ahead of the store.
    Writing the store's index back to the slider would jump the page back and lose presses (a CI
    failure), so the slider only gets indices that came from elsewhere (the player, the grid)."""
    s = app.state
    release(app.sigma_slider, 7)
    assert s.sigma_index == 7
    import param

    with param.edit_constant(app.sigma_slider):
        app.sigma_slider.value = 9  # the page moved on; its release has not arrived yet
    s.param.trigger("sigma_index")  # anything that re-syncs the σ widgets from the store
    assert app.sigma_slider.value == 9  # not rewound to 7
    assert app.player.value == 7
    app.player.value = 12  # the player moves the slider
    assert s.sigma_index == 12 and app.sigma_slider.value == 12
    app.player.value = 7  # back to an index the slider reported earlier: still sent
    assert app.sigma_slider.value == 7
    s.sample_steps = 5  # a shorter grid clamps both widgets
    assert app.sigma_slider.end == app.player.end == 4
    assert app.sigma_slider.value == app.player.value == s.clamped_sigma_index() == 4


def test_bad_input_shows_a_message_and_keeps_the_views(app):
    s = app.state
    field = s.field_view
    app.k.value = 40  # ignored without k-means labels
    assert not app.alert.visible
    app.granularity.value = "kmeans"
    assert app.alert.visible and "K = 40" in app.alert.object
    assert s.field_view is field
    app.granularity.value = "none"
    assert not app.alert.visible


def test_malformed_upload_is_reported_and_changes_nothing(app):
    s = app.state
    app.upload.value = b"x,y\n1,2\nthree,4\n"
    assert app.alert.visible and "line 3" in app.alert.object
    assert s.dataset == "circle" and s.custom_points is None
    app.upload.value = b"x,y,label\n1,2,0\n3,4,1\n-5,1,1\n8,8,0\n"
    assert s.dataset == "custom" and s.data_view.dataset.n_train == 4
    assert not app.alert.visible


def test_drawn_points_become_the_data(app):
    app._new_canvas(np.array([[1.0, 2.0], [5.0, -3.0], [-7.0, 4.0]]))
    app._draw_stream.event(data={"x": [1.0, 5.0, -7.0], "y": [2.0, -3.0, 4.0]})
    app._on_use_drawn(None)
    assert app.state.dataset == "custom" and app.state.data_view.dataset.n_train == 3
    app._draw_stream.event(data={"x": [1.0], "y": [2.0]})
    app._on_use_drawn(None)
    assert (
        app.alert.visible and "at least" in app.alert.object.lower()
    ) or "between 2" in app.alert.object


def test_downloads_and_snippets(app):
    app.state.show_curves = True
    doc = json.loads(app._json().getvalue())
    assert doc["config"]["kind"] == "optimal" and doc["metrics"]["memorized_fraction"] == 1.0
    png = app._png().getvalue()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    assert "toyflow.make_dataset('circle'" in app.snippet.value
    app.kind.value = "error-prone"
    assert "ErrorProneDenoiser" in app.snippet.value
    assert "kind=error-prone" in app.command.value


def test_views_render_the_store_outputs(app):
    s = app.state
    # The σ-dependent glyphs were attached to the rendered figures and hold the store's field.
    (model,) = app._glyphs["model"]
    assert len(model["arrows"].data["x0"]) == 32 * 32
    assert len(model["positions"].data["x"]) == 500
    np.testing.assert_allclose(model["positions"].data["x"], s.positions_view[:, 0])
    assert "optimal D*" in model["figure"].title.text
    s.kind = "error-prone"
    assert "error-prone" in model["figure"].title.text
    before = np.array(model["arrows"].data["x1"])
    s.sigma_index = 20
    assert not np.allclose(model["arrows"].data["x1"], before)
    assert f"{s.sigmas[20]:.3g}" in model["figure"].title.text
    (diff,) = app._glyphs["difference"]
    assert diff["image"].data["image"][0].shape == (32, 32)
    traj = app._trajectory_plot()
    assert "memorized" in traj.label


def test_explore_for_notebooks():
    viewer = tfx.explore(kind="error-prone", delta=1.3, show_curves=False)
    assert isinstance(viewer, app_module.ExplorerApp)
    assert viewer.state.kind == "error-prone" and viewer.state.delta == 1.3
    assert viewer.state.wait_idle(120)
    assert viewer.state.field_view is not None
    viewer.__panel__().get_root(Document())
    viewer.state.close()


def test_command_line_args_are_parsed():
    pairs = app_module._args_from_command_line(["kind=error-prone", "--delta=1.2", "junk"])
    assert pairs == {"kind": "error-prone", "delta": "1.2"}
