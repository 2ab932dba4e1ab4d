"""Make docs/walk.png: the demo walk's map, rendered in headless Chromium (as the tests do).

Usage: python docs/make_screenshot.py  (needs chromium and Leaflet's files: run `bash .ci/run`)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent
LEAFLET = Path(os.environ.get("WALKS_TEST_LEAFLET_DIR", HERE.parent / "build/leaflet/package/dist"))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        page_path = Path(tmp) / "walk.html"
        subprocess.run(["walks", "-q", "generate", "--at", "2026-11-25 09:00", "--minutes", "90",
                        "--stops", "cafe,studio=2,view", "--html", str(page_path)], check=True)  # fmt: skip
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = browser.new_page(viewport={"width": 900, "height": 600})

            def answer(route) -> None:
                url = route.request.url
                name = url.rsplit("/", 1)[-1]
                local = LEAFLET / ("images/" + name if name.endswith(".png") else name)
                if url.startswith("file:"):
                    route.continue_()
                elif "leaflet" in url and local.is_file():
                    route.fulfill(path=str(local))
                else:
                    route.fulfill(status=204, body=b"")

            page.route("**/*", answer)
            page.goto(page_path.as_uri())
            page.wait_for_timeout(800)
            page.screenshot(path=str(HERE / "walk.png"))
            browser.close()


if __name__ == "__main__":
    main()
