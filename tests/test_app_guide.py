"""The explorer's guide (toyflow.explorer.guide texts and presets, toyflow.app.guide widgets) and
compare mode (toyflow.app.compare): texts for every model kind, a glossary that matches the
page's labels, presets that apply in place, reset, and a second store that shares σ."""

from __future__ import annotations

import numpy as np
import param
import pytest
from bokeh.core.property.vectorization import Value
from bokeh.document import Document
from bokeh.models import CustomJS

from toyflow import explorer as tfx
from toyflow.app import stack_view as sv
from toyflow.app import view as app_module
from toyflow.explorer import ExplorerInputs, ExplorerState, NotReady, guide
from toyflow.explorer.curves import headline_items
from toyflow.explorer.model import DATA_PARAMS, MODEL_PARAMS


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOYFLOW_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("TOYFLOW_WARMUP", "0")


@pytest.fixture(scope="module")
def app():
    # Synchronous refreshes; small sampler and views (presets keep them): a fast test.
    state = ExplorerState(show_curves=False, n_samples=60, sample_steps=12, resolution=12)
    a = app_module.ExplorerApp(state)
    a.root = a.__panel__().get_root(Document())  # every model of the page, as a page gets them
    state.refresh()
    yield a
    a.guide.close()
    state.close()


def page_texts(root) -> str:
    """Every string a page's models show (titles, labels, HTML, options), joined."""
    out = []
    for m in root.references():
        if isinstance(m, CustomJS):
            continue
        for name, value in m.properties_with_values(include_defaults=False).items():
            if name in ("code", "css_classes", "stylesheets", "name", "tags", "styles"):
                continue
            values = value if isinstance(value, (list, tuple)) else [value]
            # legend labels are values (``{"value": text}``)
            values = [v.value if isinstance(v, Value) else v for v in values]
            out += [v for v in values if isinstance(v, str)]
    return "\n".join(out)


def test_every_model_kind_has_every_text():
    for kind in guide.KINDS:
        inputs = ExplorerInputs()
        inputs.param["kind"].objects = list(guide.KINDS)
        inputs.param.update(kind=kind, delta=1.3)
        e = guide.explain(inputs)
        assert e["lead"] and e["notes"] == []
        assert [h for h, _ in e["views"]] == [h for _, h in guide.VIEWS]
        assert all(len(t) > 40 for _, t in e["views"])
        assert set(guide.TEXTS[kind]) == {"lead", *(k for k, _ in guide.VIEWS)}
    assert "δ = 1.3" in guide.explain(ExplorerInputs(kind="error-prone", delta=1.3))["lead"]
    notes = guide.explain(ExplorerInputs(guidance="autoguidance", w=2.0, granularity="point"))
    assert any("w = 2" in n for n in notes["notes"]) and any("point" in n for n in notes["notes"])
    with pytest.raises(ValueError, match="no explanation"):
        guide.explain(type("X", (), {"kind": "nonsense"})())


def test_glossary_matches_the_labels_on_the_page(app):
    text = page_texts(app.root)
    for term in guide.GLOSSARY:
        for label in term.shown_as:
            assert label in text, f"{term.term!r}: {label!r} is not on the page"
    fragments = [f for t in guide.GLOSSARY for f in t.shown_as]
    shown = [title for title, _ in sv.CURVE_GROUPS]
    shown += [name for _, lines in sv.CURVE_GROUPS for name, _, _ in lines]
    shown += [item[0] for item in headline_items(app.state.headline_view or {})]
    for label in shown:  # every curve, curve line and headline number has its entry
        assert any(f in label for f in fragments), f"{label!r} is not in the glossary"
    html = app.guide.glossary.object
    assert all(t.term.split(" ")[0] in html for t in guide.GLOSSARY)


def test_presets_are_valid_and_apply_in_one_update():
    for p in guide.PRESETS:
        state = ExplorerState(auto=False, disk_cache=False)
        state.use_points(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 0.0]]))
        state.param.update(seed=5, sample_steps=12)
        events = []
        state.param.watch(lambda *ev, out=events: out.append(len(ev)), list(tfx.INPUT_PARAMS))
        assert guide.apply_preset(state, p.name) == []
        assert len(events) == 1  # one batch: one refresh
        parsed = ExplorerInputs()
        assert parsed.set_from_strings(dict(p.settings)) == []
        for name in tfx.PLAIN_PARAMS:  # data and model inputs: defaults + the preset's
            if name in p.settings or name in (*DATA_PARAMS, *MODEL_PARAMS):
                expected = getattr(parsed, name)
            else:  # sampler and view inputs stay as they were
                expected = 12 if name == "sample_steps" else guide.default_inputs()[name]
            assert guide.same_value(getattr(state, name), expected), (p.name, name)
        assert state.custom_points is not None  # drawn points stay (the preset's data is built in)
        state.data()  # the data the preset names can be built
        try:
            state.compute.model()  # and its model (a learned one waits for training)
        except NotReady:
            assert p.train and state.kind == "learned"
        state.close()
    assert guide.preset("small-delta").query == "kind=error-prone&delta=1.2&sigma_index=23"
    with pytest.raises(ValueError, match="unknown preset"):
        guide.preset("nope")


def test_reset_restores_every_input():
    state = ExplorerState(auto=False, disk_cache=False)
    state.use_points(np.array([[0.0, 0.0], [1.0, 1.0]]))
    state.param.update(kind="error-prone", delta=0.7, seed=3, sigma_index=7, show_curves=False)
    changed = guide.reset_inputs(state)
    assert {"kind", "delta", "seed", "sigma_index", "dataset", "custom_points"} <= set(changed)
    for name, value in guide.default_inputs().items():
        assert guide.same_value(getattr(state, name), value), name
    assert guide.reset_inputs(state) == []
    state.close()


def test_preset_and_reset_buttons_change_the_page(app):
    s, g = app.state, app.guide
    before = g.explanation.object
    g.preset_buttons["small-delta"].clicks += 1
    assert (s.kind, s.delta, s.sample_steps) == ("error-prone", 1.2, 12)
    assert g.explanation.object != before and "δ = 1.2" in g.explanation.object
    assert "kind=error-prone&amp;delta=1.2" in g.summary.object
    assert app.stacks.view.slider.value == s.clamped_sigma_index() == 11  # 12-step grid
    assert app.stacks.view.stack.meta["model"] == "error-prone δ = 1.2"
    s.auto = False  # the reset's refresh (default sizes) is not what this test checks
    g.reset_button.clicks += 1
    assert (s.kind, s.delta, s.sigma_index, s.sample_steps) == ("optimal", 1.6, 0, 40)
    assert g.explanation.object == before
    s.param.update(sample_steps=12, resolution=12, n_samples=60, show_curves=False)
    s.auto = True


def test_compare_mode_has_its_own_inputs_and_shares_sigma(app):
    a, g = app.state, app.guide
    a.param.update(kind="optimal", delta=1.6, n_train=10, n_val=10)
    g.compare_button.value = True
    c = g.compare
    b = c.state_b
    assert b is not None and b is not a and not app.stacks.pane.visible and c.pane.visible
    assert all(guide.same_value(getattr(b, n), getattr(a, n)) for n in tfx.PLAIN_PARAMS)
    side_a, side_b = (s.panel.view for s in c.sides)
    assert c.linked and side_a is not None and side_b is not None
    for src, dst in ((side_a, side_b), (side_b, side_a)):  # σ follows in the browser, both ways
        links = src.slider.js_property_callbacks["change:value"]
        assert any(dst.slider in cb.args.values() for cb in links)
    c.kind.value = "error-prone"
    with param.edit_constant(c.delta):  # what the page sends when B's δ slider is released
        c.delta.param.update(value=0.9, value_throttled=0.9)
    assert (b.kind, b.delta) == ("error-prone", 0.9) and (a.kind, a.delta) == ("optimal", 1.6)
    assert side_b.stack.meta["model"] == "error-prone δ = 0.9"
    assert side_a.stack.meta["model"] == "optimal D*"
    assert "B: error-prone δ = 0.9" in c.sides[1].header.object
    c.preset.value = "many-points"
    assert (b.n_train, b.delta) == (15, 1.6) and a.n_train == 10
    side_b.slider.value = 9  # the page moved σ (the link moved A's slider too)
    side_a.slider.value = 9
    assert b.sigma_index == 9 and a.sigma_index == 9
    c.copy_a()
    assert b.n_train == 10 and b.kind == "optimal"
    g.compare_button.value = False
    assert c.state_b is None and b._closed and app.stacks.pane.visible
    g.compare_button.value = True  # open again, then the session ends: B's store is closed
    b2 = c.state_b
    assert b2 is not None and b2 is not b
    g.close()  # what create_app runs when the session is destroyed
    assert b2._closed and c.state_b is None and not g.compare_button.value


def test_the_views_curves_follow_a_preset(app):
    """New trajectories reach the σ views before the new curves: the views must end up with the
    curves of the model they show, not the previous model's."""
    s, view = app.state, app.stacks.view
    s.show_curves = True
    app.guide.preset_buttons["large-delta"].clicks += 1
    shown = app.stacks.view.stack.curves["relative gap: model"]
    assert app.stacks.view is view and s.delta == 2.2
    np.testing.assert_allclose(shown, np.asarray(s.curves()["model_gap"].gap), rtol=1e-6)
    s.show_curves = False
