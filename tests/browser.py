"""A real headless Chromium (Debian's package, driven by playwright) with the network blocked.

``open_page`` answers Leaflet's CDN URLs from the local Leaflet files (or refuses them), answers
tile requests with empty replies and aborts everything else, and records console errors, page
errors, dialogs and every URL requested.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync",
                 "--disable-quic"]  # fmt: skip


def start_browser():
    """Start Debian's chromium through playwright; returns (manager, browser)."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("chromium is not installed: run `bash .ci/run` (apt-get install chromium)")
    manager = sync_playwright().start()
    browser = manager.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    return manager, browser


def open_page(browser, page_path: Path, leaflet_dir: Path, *, allow_cdn: bool = True):
    page = browser.new_page(viewport={"width": 1000, "height": 700})
    problems: list[str] = []
    dialogs: list[str] = []
    requested: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    def answer(route) -> None:
        url = route.request.url
        requested.append(url)
        if url.startswith("file:"):
            route.continue_()
            return
        name = url.rsplit("/", 1)[-1]
        local = leaflet_dir / (
            "images/" + name if name.endswith(".png") and "tile" not in url else name
        )
        if allow_cdn and "leaflet" in url and local.is_file():
            route.fulfill(path=str(local))
        elif "tile.openstreetmap.org" in url:
            route.fulfill(status=204, body=b"")  # no tiles offline; the map still works
        else:
            route.abort()

    page.route("**/*", answer)
    page.goto(page_path.resolve().as_uri())
    page.wait_for_function("typeof L !== 'undefined'", timeout=10_000)
    page.wait_for_timeout(300)
    return page, problems, dialogs, requested
