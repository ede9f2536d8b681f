"""The exported σ page in headless chromium, opened from file:// with the network blocked: the
σ slider (keyboard) and the play button switch frames in the page, and the page's frames are the
NumPy frames of toyflow.app.stack_view."""

from __future__ import annotations

import re
import time

import numpy as np
import playwright  # noqa: F401  (a test extra: its absence is an error)
import pytest
from playwright.sync_api import expect

import toyflow
from toyflow.app import stack_view as sv
from toyflow.app.export import export_html
from toyflow.sigma_stack import build_stack

STEPS = 12


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    data = toyflow.make_dataset("circle", n_train=10)
    opt = toyflow.OptimalDenoiser(data.train_x)
    model = toyflow.ErrorProneDenoiser(opt, 1.2)
    _, traj, sig = toyflow.sample(model, 60, steps=STEPS, return_trajectory=True)
    stack = build_stack(
        model, opt, data.train_x, sig, traj, val_x=data.val_x, resolution=16, heat_resolution=24
    )
    path = tmp_path_factory.mktemp("export") / "sigma.html"
    export_html(stack, path, title="offline σ sweep")
    return path, stack


def _open_offline(page, path):
    """Open the file with every non-file request aborted; returns the list of blocked URLs."""
    blocked, problems = [], []

    def route(r):
        if r.request.url.startswith("file:"):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_selector(".flow-field canvas", timeout=60_000)
    expect(page.locator(".sigma-value")).to_contain_text("step 1 of", timeout=30_000)
    return blocked, problems


def _step(page) -> int:
    text = page.locator(".sigma-slider .bk-slider-value").inner_text()
    m = re.search(r"step (\d+) of", text)
    assert m, text
    return int(m.group(1))


def test_keyboard_moves_sigma_offline(page, exported):
    path, stack = exported
    blocked, problems = _open_offline(page, path)
    expect(page.locator(".sigma-value")).to_contain_text(f"step 1 of {STEPS}")
    field = page.locator(".flow-field")
    before = field.screenshot()
    handle = page.locator(".sigma-slider .noUi-handle")
    handle.focus()
    for _ in range(5):
        handle.press("ArrowRight")
    expect(page.locator(".sigma-value")).to_contain_text(f"step 6 of {STEPS}")
    s = float(stack.sigmas[5])
    expect(page.locator(".sigma-slider")).to_contain_text(f"σ = {float(f'{s:.3g}'):g} · step 6")
    deadline, after = time.time() + 10, field.screenshot()
    while after == before and time.time() < deadline:
        time.sleep(0.1)
        after = field.screenshot()
    assert after != before, "the flow-field canvas did not change"
    # The page decoded frame 5 exactly as the NumPy frame columns do.
    got = page.evaluate(
        """(K) => {
        const doc = Bokeh.documents[0], get = (n) => doc.get_model_by_name(n).data;
        const a = get("arrows-model"), bins = [];
        for (let k = 0; k < K; k++) {
            bins.push([Array.from(a.xs[k], v => isNaN(v) ? null : v), Array.from(a.ys[k], v => isNaN(v) ? null : v)]);
        }
        return {bins: bins, px: Array.from(get("positions").x), heat: Array.from(get("error-heat").image[0]),
                region: Array.from(get("region-model").image[0])};
    }""",
        sv.ARROW_BINS,
    )
    want = sv.frame_columns(stack, 5)
    paths = sv.arrow_paths(want["model"]["arrows"], sv.arrow_color_high(stack))
    assert sum(len(b[0]) for b in got["bins"]) == 6 * stack.resolution**2
    for (gx, gy), path in zip(got["bins"], paths):  # same arrows in the same colour steps
        np.testing.assert_allclose(np.array(gx, float), path["x"], rtol=1e-5, atol=1e-4)
        np.testing.assert_allclose(np.array(gy, float), path["y"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got["px"], want["positions"]["x"], rtol=0, atol=0)
    np.testing.assert_allclose(got["heat"], want["error"].ravel(), rtol=1e-6)
    np.testing.assert_array_equal(got["region"], want["model"]["region"].ravel())
    assert blocked == [], blocked
    assert problems == []


def test_play_advances_frames(page, exported):
    path, _ = exported
    blocked, problems = _open_offline(page, path)
    start = _step(page)
    page.locator(".sigma-play button").click()
    deadline, moved = time.time() + 15, start
    while moved < start + 4 and time.time() < deadline:  # 10 frames/s by default
        time.sleep(0.1)
        moved = _step(page)
    assert moved >= start + 4, (start, moved)
    page.locator(".sigma-play button").click()  # pause
    time.sleep(0.3)
    paused = _step(page)
    time.sleep(0.6)
    assert _step(page) == paused
    # with loop on (the default) playing past the last σ wraps to the first
    page.locator(".sigma-play button").click()
    seen = set()
    deadline = time.time() + 5
    while time.time() < deadline and not (STEPS in seen and any(s < paused for s in seen)):
        seen.add(_step(page))
        time.sleep(0.05)
    assert STEPS in seen and any(s < paused for s in seen), sorted(seen)
    assert blocked == [] and problems == []
