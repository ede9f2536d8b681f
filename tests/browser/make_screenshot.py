"""Take the README screenshot (docs/explorer.png): a served explorer at 1600×1000 in headless
chromium, the default learned model trained live, σ at an intermediate noise level.

    python tests/browser/make_screenshot.py [--out docs/explorer.png] [--query "kind=learned"]
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "explorer.png"))
    ap.add_argument("--query", default="kind=learned&sigma_index=23")
    ap.add_argument("--train", action=argparse.BooleanOptionalAction, default=True)
    args = ap.parse_args(argv)
    from playwright.sync_api import expect, sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = serve(Path(tmp))
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(f"{url}?{args.query}")
                page.wait_for_selector(".flow-field canvas", timeout=120_000)
                if args.train:
                    page.locator(".train-button button").click()
                    expect(page.get_by_text(re.compile(r"Trained \d+ steps"))).to_be_visible(
                        timeout=300_000
                    )
                expect(page.get_by_text(re.compile(r"\d+\.\d%"))).to_be_visible(timeout=120_000)
                time.sleep(20)  # the curves of the final model
                Path(args.out).parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=args.out)
                browser.close()
        finally:
            stop(proc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
