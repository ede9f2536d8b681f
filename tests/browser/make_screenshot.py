"""Screenshots of a served explorer in headless chromium.

One shot (the default: a learned model trained live, σ at an intermediate level, 1600×1000)::

    python tests/browser/make_screenshot.py --out docs/screenshots/after-learned-1600.png

The README's set: the first view, a trained learned model and a small σ, each at 1600×1000 and
1024×768, written as ``docs/screenshots/{label}-{first,learned,small-sigma}-{1600,1024}.png``::

    python tests/browser/make_screenshot.py --set after [--extra-query projector=1]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, serve, stop

SIZES = {"1600": (1600, 1000), "1024": (1024, 768)}
# The learned model of the set: the shipped default (it trains in seconds on a CPU), at the σ of
# its gap peak.
LEARNED = "kind=learned"
TRAINED = re.compile(r"Trained \d+ steps|Trained before")  # trained now, or cached
SHOTS = {
    "first": ("", False),
    "learned": (f"{LEARNED}&sigma_index=25", True),
    "small-sigma": ("sigma_index=36", False),
}


def shoot(page, url: str, query: str, train: bool, out: Path, settle: float) -> None:
    """Load ``url?query``, train if asked, wait for the views and save a screenshot."""
    from playwright.sync_api import expect

    page.goto(f"{url}?{query}" if query else url)
    if train:  # a learned model shows its views once it has a snapshot
        page.locator(".train-button button").click(timeout=120_000)
        expect(page.get_by_text(TRAINED).first).to_be_visible(timeout=300_000)
    page.wait_for_selector(".flow-field canvas", timeout=120_000)
    expect(page.get_by_text(re.compile(r"\d+\.\d%")).first).to_be_attached(timeout=120_000)
    time.sleep(settle)  # the curves of the final model
    out.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(out))
    print(f"wrote {out}", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshots" / "after-learned-1600.png"))
    ap.add_argument("--query", default=f"{LEARNED}&sigma_index=25")
    ap.add_argument("--train", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--size", choices=sorted(SIZES), default="1600")
    ap.add_argument("--set", dest="label", help="take the README set, named LABEL-*.png")
    ap.add_argument("--dir", default=str(ROOT / "docs" / "screenshots"))
    ap.add_argument("--only", help="comma-separated shots of the set (first,learned,small-sigma)")
    ap.add_argument("--extra-query", default="", help="appended to every shot's query")
    ap.add_argument("--settle", type=float, default=15.0)
    args = ap.parse_args(argv)
    from playwright.sync_api import sync_playwright

    if args.label:
        names = args.only.split(",") if args.only else list(SHOTS)
        jobs = [
            (SHOTS[n][0], SHOTS[n][1], size, Path(args.dir) / f"{args.label}-{n}-{size}.png")
            for n in names
            for size in SIZES
        ]
    else:
        jobs = [(args.query, args.train, args.size, Path(args.out))]
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                for query, train, size, out in jobs:
                    if args.extra_query:
                        query = f"{query}&{args.extra_query}" if query else args.extra_query
                    w, h = SIZES[size]
                    page = browser.new_page(viewport={"width": w, "height": h})
                    shoot(page, url, query, train, out, args.settle)
                    page.close()
                browser.close()
        finally:
            stop(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
