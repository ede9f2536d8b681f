"""The served explorer in headless chromium: load, train, move σ, twenty sessions."""

from __future__ import annotations

import re
import time

import playwright  # noqa: F401  (a test extra: its absence is an error)
from playwright.sync_api import expect

READY = re.compile(r"σ = \d")  # the σ read-out appears once the session's store has computed


def wait_ready(page, timeout=90_000):
    page.wait_for_selector(".flow-field canvas", timeout=timeout)
    expect(page.locator(".sigma-value").get_by_text(READY)).to_be_visible(timeout=timeout)


def test_page_loads_without_console_errors(page, served_app):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(served_app)
    wait_ready(page)
    # The headline numbers arrive with the trajectories: the optimal denoiser memorizes.
    expect(page.get_by_text("100.0%")).to_be_visible(timeout=60_000)
    for cls in (
        "sigma-slider",
        "train-button",
        "cancel-button",
        "flow-field",
        "model-kind",
        "width-input",
        "n-train-input",
    ):
        assert page.locator(f".{cls}").count() >= 1, cls
    # The trajectory and curve figures follow the first view (deferred while the page loads).
    for cls in ("trajectory-plot", "gap-plot", "error-plot", "overlap-plot"):
        page.wait_for_selector(f".{cls} canvas", timeout=60_000)
    expect(page.get_by_text("drawing the trajectories and curves")).to_have_count(0)
    time.sleep(1.0)
    assert problems == []


def _field_png(page) -> bytes:
    return page.locator(".flow-field").screenshot()


def test_train_small_model_and_move_sigma(page, served_app):
    page.goto(served_app)
    wait_ready(page)
    page.locator(".model-kind").get_by_text("learned").click()
    width = page.locator(".width-input input")
    expect(width).to_be_visible(timeout=30_000)
    width.fill("16")
    width.press("Tab")
    steps = page.locator(".steps-input input")
    steps.fill("300")
    steps.press("Tab")
    depth = page.locator(".depth-input input")
    depth.fill("2")
    depth.press("Tab")
    time.sleep(0.5)
    page.locator(".train-button button").click()
    expect(page.get_by_text(re.compile(r"Trained 300 steps"))).to_be_visible(timeout=180_000)
    expect(page.get_by_text(re.compile(r"Training time: step 300"))).to_be_visible(timeout=30_000)
    time.sleep(1.5)  # let the last snapshot's views arrive
    before = _field_png(page)
    handle = page.locator(".sigma-slider .noUi-handle")
    handle.focus()
    for _ in range(15):
        handle.press("ArrowRight")
    label = page.locator(".sigma-value").get_by_text(re.compile(r"step 16 of 40"))
    expect(label).to_be_visible(timeout=30_000)
    deadline = time.time() + 20
    after = _field_png(page)
    while after == before and time.time() < deadline:
        time.sleep(0.3)
        after = _field_png(page)
    assert after != before, "the flow-field plot did not redraw"


def test_twenty_sessions_render(browser, served_app):
    """Twenty tabs at once: every one gets its own session, computes and draws its views."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pages = [context.new_page() for _ in range(20)]
    t0 = time.time()
    try:
        for p in pages:
            p.goto(served_app, wait_until="commit")
        for p in pages:
            wait_ready(p, timeout=300_000)
        elapsed = time.time() - t0
        for p in pages:
            assert p.locator(".flow-field canvas").count() >= 3
        ids = {
            p.evaluate("Bokeh.documents[0].id")
            if p.evaluate("typeof Bokeh") != "undefined"
            else None
            for p in pages
        }
        assert len(ids) == 20 or ids == {None}  # one session (document) per tab
        print(f"20 sessions rendered in {elapsed:.1f} s")
    finally:
        context.close()
