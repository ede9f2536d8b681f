"""The served explorer in headless chromium: load, train, move σ in the page, play, twenty
sessions."""

from __future__ import annotations

import re
import time

import playwright  # noqa: F401  (a test extra: its absence is an error)
from playwright.sync_api import expect

READY = re.compile(r"σ = \d")  # the σ read-out appears once the session's store has computed


def wait_ready(page, timeout=90_000):
    page.wait_for_selector(".flow-field canvas", timeout=timeout)
    expect(page.locator(".sigma-value").get_by_text(READY).first).to_be_visible(timeout=timeout)


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
        "sigma-play",
        "sigma-speed",
        "sigma-loop",
        "train-button",
        "cancel-button",
        "flow-field",
        "model-kind",
        "width-input",
        "n-train-input",
    ):
        assert page.locator(f".{cls}").count() >= 1, cls
    # The trajectories' view comes with the fields (one σ-stack).
    page.wait_for_selector(".stack-trajectories canvas", timeout=60_000)
    expect(page.get_by_text("computing the σ views")).to_be_hidden()
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
    label = page.locator(".sigma-value").get_by_text(re.compile(r"step 16 of 40")).first
    expect(label).to_be_visible(timeout=30_000)
    deadline = time.time() + 20
    after = _field_png(page)
    while after == before and time.time() < deadline:
        time.sleep(0.3)
        after = _field_png(page)
    assert after != before, "the flow-field plot did not redraw"


def test_sigma_moves_in_the_page_and_play(page, served_app):
    """σ keys and play switch frames in the page: per move the server sends at most a small
    acknowledgement (websocket bytes counted), and play walks the grid on its own."""
    received, sent = [], []

    def on_ws(ws):
        ws.on("framereceived", lambda f: received.append(len(f) if f else 0))
        ws.on("framesent", lambda f: sent.append(len(f) if f else 0))

    page.on("websocket", on_ws)
    page.goto(served_app)
    wait_ready(page)
    expect(page.get_by_text("100.0%")).to_be_visible(timeout=60_000)
    time.sleep(2.0)  # let the curves' stack arrive
    handle = page.locator(".sigma-slider .noUi-handle")
    handle.focus()
    before_png = _field_png(page)
    n0, b0 = len(received), sum(received)
    moves = 10
    for _ in range(moves):
        handle.press("ArrowRight")
    expect(
        page.locator(".sigma-value").get_by_text(re.compile(r"step 11 of 40")).first
    ).to_be_visible(timeout=10_000)
    time.sleep(1.0)
    per_move = (sum(received) - b0) / moves
    print(
        f"σ move: {per_move:.0f} bytes received per move "
        f"({(len(received) - n0) / moves:.0f} websocket frames: acknowledgements)"
    )
    assert per_move < 1000, per_move
    assert _field_png(page) != before_png
    page.locator(".sigma-play").get_by_role("button").click()
    expect(
        page.locator(".sigma-value").get_by_text(re.compile(r"step (2\d|3\d) of 40")).first
    ).to_be_visible(timeout=20_000)


def test_many_sessions_render(browser, served_app):
    """Eight tabs at once: every one gets its own session, computes and draws its views (the
    class-sized figure, 20 and 100 tabs, is measured by benchmarks/app_speed.py)."""
    n = 8
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pages = [context.new_page() for _ in range(n)]
    t0 = time.time()
    try:
        for p in pages:
            p.goto(served_app, wait_until="commit")
        for p in pages:
            wait_ready(p, timeout=300_000)
        elapsed = time.time() - t0
        for p in pages:
            assert p.locator(".flow-field canvas").count() >= 1
            assert p.locator(".stack-trajectories canvas").count() >= 1
        ids = {
            p.evaluate("Bokeh.documents[0].id")
            if p.evaluate("typeof Bokeh") != "undefined"
            else None
            for p in pages
        }
        assert len(ids) == n or ids == {None}  # one session (document) per tab
        print(f"{n} sessions rendered in {elapsed:.1f} s")
    finally:
        context.close()
