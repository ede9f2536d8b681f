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
    a = page.explorer
    view = a.stacks.view  # the σ views, built from the first σ-stack
    assert "sigma-slider" in view.slider.css_classes
    assert "flow-field" in view.figures["model"].css_classes
    in_views = {c for m in view.layout.references() for c in getattr(m, "css_classes", [])}
    assert {"sigma-play", "sigma-value"} <= in_views
    hooks = {
        "train-button": a.train_button,
        "cancel-button": a.cancel_button,
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
    app.stacks.view.slider.value = 21  # what the page reports after a σ move
    assert s.sigma_index == 21 and s.error == ""
    assert f"sigmas[{21}]" in s.python_snippet()
    app.seed.value = 3
    assert s.data_view.key[3] == 3
    assert not app.width.visible
    app.kind.value = "learned"
    assert app.width.visible and app.train_button.visible
    assert "Train" in s.status


def test_a_sigma_move_computes_nothing_and_changes_no_frame(app):
    """The page holds every σ frame: a σ move only updates the store's index (for the downloads);
    the server computes nothing and changes no model of the page."""
    s, view = app.state, app.stacks.view
    counts = dict(s.compute_counts)
    stack = view.stack
    for i in (3, 17, 39, 5):
        view.slider.value = i
        assert s.sigma_index == i
    assert dict(s.compute_counts) == counts
    assert view.stack is stack
    s.sample_steps = 5  # a shorter grid: a new stack, the index clamped to it
    assert view.slider.end == 4 and view.slider.value == 4 and s.clamped_sigma_index() == 4
    assert view.stack.steps == 5


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


def test_html_and_gif_downloads_hold_the_shown_stack(app):
    import io

    from PIL import Image

    app.state.sample_steps = 6  # a short grid: six frames
    page = app._html().getvalue().decode()
    assert page.lstrip().lower().startswith("<!doctype html") and "sigma-slider" in page
    assert "<script src=" not in page.replace(" ", "")  # BokehJS inline: nothing to fetch
    gif = Image.open(io.BytesIO(app._gif().getvalue()))
    assert gif.format == "GIF" and gif.n_frames == 6


def test_views_render_the_store_outputs(app):
    s, view = app.state, app.stacks.view
    # The σ views show the store's current model: its field at every σ and its trajectories.
    st = view.stack
    assert st.model.shape == (40, 32, 32, 2) and st.trajectory.shape == (40, 500, 2)
    np.testing.assert_allclose(
        st.trajectory[0].astype(np.float32), s.trajectories().trajectory[0], rtol=2e-3, atol=0.05
    )
    s.sigma_index = 20
    np.testing.assert_allclose(
        st.model[20].astype(np.float32), s.field().model.displacement, rtol=2e-3, atol=2e-2
    )
    assert "optimal D*" in view.figures["model"].title.text
    s.kind = "error-prone"  # a non-σ input: a new stack is shipped
    assert "error-prone" in view.figures["model"].title.text
    assert view.stack is not st and view.stack.meta["model"] == "error-prone δ = 1.6"
    assert view.slider.value == 20  # the page keeps its σ


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
