"""A served page opened with a bad preset in its URL (5,000 digits, over Python's int-string
limit) shows the explorer with its defaults and the usual notice, not an empty page."""

from __future__ import annotations

import re

from playwright.sync_api import expect


def test_url_value_over_the_int_string_limit_falls_back_to_defaults(page, served_app):
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(f"{served_app}?delta={'9' * 5000}&kind=error-prone")
    page.wait_for_selector(".flow-field canvas", timeout=90_000)
    expect(page.get_by_text("Some settings were ignored")).to_be_visible(timeout=60_000)
    expect(page.get_by_text(re.compile(r"delta: a value of 5,000 characters"))).to_be_visible()
    assert page.locator(".flow-field canvas").count() >= 1  # the views are there too
    assert problems == []
