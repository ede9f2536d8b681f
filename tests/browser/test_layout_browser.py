"""The explorer's layout on a 1024×768 screen (a classroom projector), projector mode, and the
training-time slider's label."""

from __future__ import annotations

import re
import time

import playwright  # noqa: F401  (a test extra: its absence is an error)
from playwright.sync_api import expect

READY = re.compile(r"σ = \d")

# The arrows' line widths (the glyphs drawing the sources named arrows-*), read from BokehJS.
_ARROW_WIDTHS = """
() => {
  const out = [];
  for (const m of Bokeh.documents[0].all_models) {
    const src = m.data_source, g = m.glyph;
    if (src && g && src.name && src.name.startsWith("arrows-")) {
      const w = g.line_width;
      out.push(Number(w && w.value !== undefined ? w.value : w));
    }
  }
  return out;
}
"""


def _box(page, selector):
    box = page.locator(selector).first.bounding_box()
    assert box is not None, selector
    return box


def _inside(box, width, height):
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and box["y"] + box["height"] <= height
    )


def test_fits_1024_by_768_and_projector_mode(browser, served_app):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(served_app)
        page.wait_for_selector(".flow-field canvas", timeout=90_000)
        expect(page.locator(".sigma-value").get_by_text(READY).first).to_be_visible(timeout=90_000)
        expect(page.locator(".headline").get_by_text("memorized samples")).to_be_visible(
            timeout=60_000
        )
        time.sleep(1.0)  # the layout settles once the curves arrive
        # The σ read-out, the learned field and the headline are on the first screen, whole.
        for selector in (".sigma-value", ".flow-field", ".headline"):
            assert _inside(_box(page, selector), 1024, 768), (selector, _box(page, selector))
        # The field is drawn large enough to read (it scales with its column).
        assert _box(page, ".flow-field")["width"] >= 250
        # Nothing is wider than the window: no horizontal scroll of the page or the main area.
        widths = page.evaluate(
            "() => { const m = document.querySelector('#main') || document.body;"
            " return [document.documentElement.scrollWidth, window.innerWidth,"
            " m.scrollWidth, m.clientWidth]; }"
        )
        assert widths[0] <= widths[1], widths
        assert widths[2] <= widths[3] + 1, widths

        # Projector mode: thicker arrows (≥ 2 px shafts) in the page, no server recompute.
        normal = page.evaluate(_ARROW_WIDTHS)
        assert normal and all(w < 2 for w in normal), normal
        page.locator(".projector-toggle button").click()
        page.wait_for_function(f"() => ({_ARROW_WIDTHS})().every((w) => w >= 2)", timeout=10_000)
        # … and the advanced cards of the sidebar hide (the server follows the toggle).
        expect(page.get_by_text("Noise schedule and sampler", exact=True)).to_be_hidden(
            timeout=10_000
        )
        page.locator(".projector-toggle button").click()
        page.wait_for_function(f"() => ({_ARROW_WIDTHS})().every((w) => w < 2)", timeout=10_000)
        expect(page.get_by_text("Noise schedule and sampler", exact=True)).to_be_visible(
            timeout=10_000
        )
    finally:
        page.close()


def test_projector_from_the_address(browser, served_app):
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        page.goto(f"{served_app}?projector=1")
        page.wait_for_selector(".flow-field canvas", timeout=90_000)
        page.wait_for_function(f"() => ({_ARROW_WIDTHS})().every((w) => w >= 2)", timeout=30_000)
        expect(page.get_by_text("Noise schedule and sampler", exact=True)).to_be_hidden()
    finally:
        page.close()


def test_training_time_label_follows_the_slider(browser, served_app):
    """Moving the training-time slider to the first snapshot: the label says snapshot 1."""
    page = browser.new_page(viewport={"width": 1024, "height": 768})
    try:
        # A configuration of its own (the served app caches trained models across tests).
        page.goto(f"{served_app}?kind=learned&width=12&depth=2&train_steps=240")
        page.locator(".train-button button").click(timeout=90_000)
        trained = re.compile(r"Trained (240 steps|before)")
        expect(page.get_by_text(trained).first).to_be_visible(timeout=180_000)
        label = page.locator(".snapshot-slider")
        expect(label).to_contain_text(re.compile(r"step 240 \(snapshot (\d+) of \1\)"))
        text = page.get_by_text(re.compile(r"Training time: step 240")).first.inner_text()
        n = int(re.search(r"of (\d+)", text).group(1))
        assert n >= 2
        # A click at the track's left end: the slider's value (and value_throttled) go to 0.
        track = page.locator(".snapshot-slider .noUi-base")
        track.click(position={"x": 1, "y": track.bounding_box()["height"] / 2})
        expect(label).to_contain_text(f"(snapshot 1 of {n})", timeout=20_000)
        expect(label).not_to_contain_text("step 240")
    finally:
        page.close()
