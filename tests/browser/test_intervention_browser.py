"""The served explorer's Intervention card in headless chromium: open it, let it run on the
error-prone model, see its figures and memorized fractions, move σ_switch."""

from __future__ import annotations

import re

import playwright  # noqa: F401  (a test extra: its absence is an error)
from playwright.sync_api import expect

PCT = re.compile(r"^\d+\.\d%$")
DONE = re.compile(r"^Done \(solver")


def _fractions(page) -> dict[str, str]:
    """The fraction cards: {caption: value}."""
    cards = page.locator(".intervention-fractions div[style*='inline-block']")
    out = {}
    for i in range(cards.count()):
        caption, value = cards.nth(i).locator("div").all_inner_texts()[:2]
        out[caption.strip()] = value.strip()
    return out


def test_intervention_card_runs_and_shows_plots_and_fractions(page, served_app):
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{served_app}?kind=error-prone&sample_steps=16&n_samples=100&sigma_index=9")
    page.wait_for_selector(".flow-field canvas", timeout=120_000)
    page.get_by_text("Intervention: where is").click()  # opening the card runs it
    status = page.locator(".intervention-status")
    expect(status.get_by_text(DONE)).to_be_visible(timeout=240_000)
    for cls, n in (("intervention-samples", 1), ("intervention-paths", 2)):
        assert page.locator(f".{cls} canvas").count() >= n, cls
    assert page.locator(".intervention-curves canvas").count() >= 4
    cards = _fractions(page)
    # σ_switch starts at σ_max: the hybrid is the model alone, sample for sample.
    hybrid = next(v for k, v in cards.items() if k.startswith("hybrid at σ_switch = 80"))
    assert PCT.match(hybrid) and hybrid == cards["the model alone"], cards
    assert PCT.match(cards["fresh data (validation)"])
    injected = next(v for k, v in cards.items() if k.startswith("injected at σ"))
    assert PCT.match(injected) and PCT.match(cards["→ twin"]), cards
    # The switch at the smallest grid σ: D* on every step but the last memorizes every sample.
    handle = page.locator(".intervention-card .noUi-handle").first
    handle.focus()
    handle.press("End")
    expect(
        page.locator(".intervention-fractions").get_by_text(
            re.compile(r"hybrid at σ_switch = 0\.0")
        )
    ).to_be_visible(timeout=120_000)
    expect(status.get_by_text(DONE)).to_be_visible(timeout=120_000)
    cards = _fractions(page)
    hybrid = next(v for k, v in cards.items() if k.startswith("hybrid at σ_switch"))
    assert hybrid == "100.0%", cards
    assert problems == []
