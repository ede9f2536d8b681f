"""The lecture tour in headless chromium: every step by keyboard (PageDown, as a presentation
clicker sends) on the served app (``?tour=1``) and on the exported page opened from file://
with the network blocked. Each step shows its text and a drawn flow field, with no console
errors. Small settings (a tiny learned model) keep it fast."""

from __future__ import annotations

import io
import time
import urllib.parse
from pathlib import Path

import numpy as np
import playwright  # noqa: F401  (a test extra: its absence is an error)
import pytest
from conftest import serve, stop
from PIL import Image
from playwright.sync_api import expect

from toyflow.explorer.tour import STEPS

#: Every step with small settings (their data, model kind and σ are the tour's own).
TINY = {
    "resolution": "12",
    "n_samples": "60",
    "train_steps": "150",
    "width": "16",
    "depth": "2",
    "show_curves": "false",
}


def _colours(png: bytes) -> int:
    """Distinct colours of a screenshot (a blank canvas has one or two)."""
    img = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).reshape(-1, 3)
    return len(np.unique(img, axis=0))


def _watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _check_step(page, n: int, timeout: float) -> None:
    """Step ``n`` is on show: counter, its text, a drawn flow field."""
    expect(page.locator(".tour-count")).to_have_text(f"{n} / {len(STEPS)}", timeout=timeout)
    expect(page.locator(".tour-text .tour-body")).to_contain_text(
        STEPS[n - 1].text[:40], timeout=timeout
    )
    field = page.locator(".flow-field:visible canvas").first
    expect(field).to_be_visible(timeout=timeout)
    deadline = time.time() + timeout / 1000
    while _colours(field.screenshot()) < 8:  # arrows in several colours, points, region
        assert time.time() < deadline, f"step {n}: the flow field is not drawn"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def served_tour(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("tour-served")
    proc, url = serve(tmp)
    yield url
    stop(proc)


def test_served_tour_by_keyboard(page, served_tour):
    problems = _watch(page)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(f"{served_tour}?tour=1&{urllib.parse.urlencode(TINY)}")
    _check_step(page, 1, 120_000)
    for n in range(2, len(STEPS) + 1):
        page.keyboard.press("PageDown")
        _check_step(page, n, 180_000)  # the first learned step trains its (tiny) model
    page.keyboard.press("PageDown")  # past the last step: nothing happens
    expect(page.locator(".tour-count")).to_have_text(f"{len(STEPS)} / {len(STEPS)}")
    # Back to a step computed before: the views come from the caches.
    field = page.locator(".flow-field:visible canvas").first
    before = field.screenshot()
    t0 = time.time()
    page.keyboard.press("PageUp")
    _check_step(page, len(STEPS) - 1, 30_000)
    while field.screenshot() == before:
        assert time.time() - t0 < 10, "the field did not change for the cached step"
        time.sleep(0.05)
    print(f"cached step drawn in {time.time() - t0:.2f} s")
    # reset step: σ moved away comes back to the preset's
    handle = page.locator(".sigma-slider .noUi-handle")
    handle.focus()
    handle.press("ArrowRight")  # the slider keeps its arrow keys: the step stays
    sigma_text = f"step {STEPS[-2].sigma_index + 2} of"
    expect(page.locator(".sigma-value")).to_contain_text(sigma_text)
    expect(page.locator(".tour-count")).to_have_text(f"{len(STEPS) - 1} / {len(STEPS)}")
    page.locator(".tour-reset button").click()
    expect(page.locator(".sigma-value")).to_contain_text(
        f"step {STEPS[-2].sigma_index + 1} of", timeout=30_000
    )
    assert problems == []


def test_served_tour_opens_on_a_learned_step(page, served_tour):
    """?tour=5 on a model no one trained: the page trains it and then draws the step."""
    problems = _watch(page)
    page.goto(f"{served_tour}?tour=5&{urllib.parse.urlencode({**TINY, 'train_steps': '120'})}")
    _check_step(page, 5, 180_000)
    expect(page.locator(".sigma-value")).to_contain_text(f"step {STEPS[4].sigma_index + 1} of")
    assert problems == []


@pytest.fixture(scope="module")
def exported_tour(tmp_path_factory):
    from toyflow.app.tour_export import export_tour

    folder = tmp_path_factory.mktemp("tour-export")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TOYFLOW_CACHE", str(folder / "cache"))  # the tiny model: not in ~/.cache
        return export_tour(folder / "tour.html", overrides=TINY)


def test_exported_tour_offline_by_keyboard(page, exported_tour):
    blocked, problems = [], _watch(page)

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.set_viewport_size({"width": 1024, "height": 768})
    page.goto(Path(exported_tour).as_uri())
    _check_step(page, 1, 60_000)
    for n in range(2, len(STEPS) + 1):
        page.keyboard.press("PageDown" if n % 2 else "ArrowRight")
        _check_step(page, n, 10_000)
        sigma = f"step {STEPS[n - 1].sigma_index + 1} of"
        expect(page.locator(".sigma-value:visible")).to_contain_text(sigma)
    # A focused σ handle keeps the arrow keys; PageUp still goes back a step.
    handle = page.locator(".sigma-slider:visible .noUi-handle")
    handle.focus()
    handle.press("ArrowLeft")
    expect(page.locator(".sigma-value:visible")).to_contain_text(f"step {STEPS[-1].sigma_index} of")
    expect(page.locator(".tour-count")).to_have_text(f"{len(STEPS)} / {len(STEPS)}")
    page.keyboard.press("PageUp")
    _check_step(page, len(STEPS) - 1, 10_000)
    page.locator(".tour-back button").click()
    _check_step(page, len(STEPS) - 2, 10_000)
    assert blocked == [] and problems == []
