"""Make docs/walk.png and docs/walk-phone.png: the demo walk's map in headless Chromium.

Every network request is refused, as in the tests: the map, its base map and Leaflet all come
from the page itself. Usage: python docs/make_screenshot.py (needs chromium: run `bash .ci/run`).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
SIZES = {"walk.png": (1400, 1000), "walk-phone.png": (390, 844)}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "walk.html"
        subprocess.run(["walks", "-q", "generate", "--at", "2026-11-25 09:00", "--minutes", "90",
                        "--stops", "cafe,studio=2,view", "--no-terrain", "--html", str(page_path)], check=True)  # fmt: skip
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for name, (width, height) in SIZES.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                page.route(
                    "**/*",
                    lambda route: (
                        route.continue_()
                        if route.request.url.startswith("file:")
                        else route.abort()
                    ),
                )
                page.goto(page_path.as_uri())
                page.wait_for_selector("html[data-walks-ready]", timeout=10_000)
                page.wait_for_timeout(500)
                page.screenshot(path=str(HERE / name))
                page.close()
            browser.close()


if __name__ == "__main__":
    main()
