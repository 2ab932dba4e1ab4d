"""Size and time-to-interactive of the demo map, in headless Chromium with no network.

Usage: python benchmarks/map_bench.py [--runs 5]

Plans the README's demo walk (90 minutes, a café, two studios and a view, three alternatives),
writes the self-contained page, and opens it in Debian's chromium (through playwright) with every
request but the page refused. Time to interactive is from navigation to the page's own "ready"
mark (the base map drawn, the walks and the panel built). Printed against the budget of issue #10
(2 MB, 1 s) and, when folium is installed (`pip install folium`), against a folium page of the
same route as the peer (which shows nothing offline: its Leaflet and tiles come from the network).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

BUDGET_BYTES = 2_000_000
BUDGET_S = 1.0


def _time_to_interactive(browser, page_path: Path, *, ready: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.route(
            "**/*",
            lambda route: (
                route.continue_() if route.request.url.startswith("file:") else route.abort()
            ),
        )
        started = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_selector(ready, state="attached", timeout=20_000)
        times.append(time.perf_counter() - started)
        page.close()
    return times


def _folium_page(summary_path: Path, geojson_path: Path, target: Path) -> bool:
    try:
        import folium
    except ImportError:
        return False
    coords = json.loads(geojson_path.read_text())["features"][0]["geometry"]["coordinates"]
    points = [(lat, lon) for lon, lat in coords]
    fmap = folium.Map(location=points[0], zoom_start=15)
    folium.PolyLine(points, color="red").add_to(fmap)
    for stop in json.loads(summary_path.read_text())["stops"]:
        folium.Marker((stop["lat"], stop["lon"]), popup=stop["category"]).add_to(fmap)
    fmap.save(str(target))
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        page = folder / "walk.html"
        started = time.perf_counter()
        subprocess.run(
            ["walks", "-q", "generate", "--minutes", "90", "--stops", "cafe,studio=2,view",
             "--alternatives", "3", "--html", str(page), "--json", str(folder / "walk.json"),
             "--geojson", str(folder / "walk.geojson")],
            check=True,
        )  # fmt: skip
        generate_s = time.perf_counter() - started
        size = page.stat().st_size
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=shutil.which("chromium"),
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            ours = _time_to_interactive(browser, page, ready="html[data-walks-ready]",
                                        runs=args.runs)  # fmt: skip
            peer = None
            peer_page = folder / "folium.html"
            if _folium_page(folder / "walk.json", folder / "walk.geojson", peer_page):
                peer = (peer_page.stat().st_size,
                        _time_to_interactive(browser, peer_page, ready="body", runs=args.runs))  # fmt: skip
            browser.close()
    best, median = min(ours), statistics.median(ours)
    print(f"walks generate (demo, 3 walks): {generate_s:.2f} s")
    print(f"page size: {size / 1e6:.2f} MB  ({size / BUDGET_BYTES:.2f} of the 2 MB budget)")
    print(f"time to interactive, no network: best {best:.3f} s, median {median:.3f} s "
          f"over {args.runs} runs  ({median / BUDGET_S:.2f} of the 1 s budget)")  # fmt: skip
    if peer is not None:
        peer_size, peer_times = peer
        print(f"peer folium page (same route; blank offline): {peer_size / 1e6:.2f} MB, "
              f"loaded in {statistics.median(peer_times):.3f} s; ours/peer size "
              f"{size / peer_size:.1f}x, time {median / statistics.median(peer_times):.1f}x")  # fmt: skip
    else:
        print("peer folium page: not measured (pip install folium to compare)")


if __name__ == "__main__":
    main()
