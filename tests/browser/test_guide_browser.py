"""The guide in a served page: a preset button changes the view and the explanation in place;
in compare mode the two σ sliders move together in the page."""

from __future__ import annotations

import re
import time

import playwright  # noqa: F401  (a test extra: its absence is an error)
from playwright.sync_api import expect


def _step(locator) -> int:
    m = re.search(r"step (\d+) of", locator.inner_text())
    assert m, locator.inner_text()
    return int(m.group(1))


def test_preset_changes_view_and_text_then_compare_shares_sigma(page, served_app):
    page.goto(served_app)
    page.wait_for_selector(".flow-field canvas", timeout=120_000)
    text = page.locator(".guide-text")
    expect(text).to_contain_text("The optimal denoiser D*", timeout=60_000)
    field = page.locator(".flow-field")
    before = field.screenshot()
    page.locator(".preset-small-delta button").click()
    expect(text).to_contain_text("δ = 1.2", timeout=60_000)
    expect(page.locator(".preset-summary")).to_contain_text("kind=error-prone&delta=1.2")
    expect(page.locator(".sigma-value").first).to_contain_text("step 24 of", timeout=60_000)
    deadline, after = time.time() + 60, field.screenshot()
    while after == before and time.time() < deadline:  # the new model's frames arrive
        time.sleep(0.3)
        after = field.screenshot()
    assert after != before

    page.locator(".compare-toggle button").click()
    sliders = page.locator(".compare-mode .sigma-slider .bk-slider-value")
    expect(sliders).to_have_count(2, timeout=120_000)
    expect(page.locator(".compare-header-B")).to_contain_text("error-prone δ = 1.2")
    a, b = sliders.nth(0), sliders.nth(1)
    expect(b).to_contain_text("step 24 of", timeout=30_000)
    handle = page.locator(".compare-mode .sigma-slider .noUi-handle").first
    handle.focus()
    for _ in range(3):
        handle.press("ArrowRight")
    expect(a).to_contain_text("step 27 of")
    expect(b).to_contain_text("step 27 of")  # moved in the page by the link
    handle_b = page.locator(".compare-mode .sigma-slider .noUi-handle").nth(1)
    handle_b.focus()
    handle_b.press("ArrowLeft")
    expect(a).to_contain_text("step 26 of")
    assert _step(a) == _step(b) == 26
