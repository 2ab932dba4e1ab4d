"""`walks generate` end to end, and its map in a real headless Chromium."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import gpxpy
import pytest
from browser import open_page, start_browser
from conftest import GPX_XSD
from osm_services import FakeOsmServices

from walks.cli import app

HOSTILE = "<img src=x onerror=alert(1)>`${document.title}`"
SUMMARY_KEYS = {"length_m", "walking_time_s", "total_time_s", "budget_error", "retraced_share",
                "pleasant_share", "seed", "stops"}  # fmt: skip


@pytest.fixture(scope="module")
def hostile_osm(paris_osm: Path, tmp_path_factory) -> Path:
    """The Paris extract with one café renamed to an HTML/JS injection attempt."""
    text = paris_osm.read_text(encoding="utf-8")
    assert 'v="Le Balto"' in text
    path = tmp_path_factory.mktemp("hostile") / "paris-hostile.osm"
    path.write_text(text.replace('v="Le Balto"', f'v="{html.escape(HOSTILE, quote=True)}"'),
                    encoding="utf-8")  # fmt: skip
    return path


def _run(runner, args: list[str]):
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr + result.stdout
    return result


def test_demo_default_outputs(runner, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run(runner, ["-q", "generate", "--overwrite"])
    assert result.stdout.split() == ["walk.html", "walk.gpx"]
    page = (tmp_path / "walk.html").read_text(encoding="utf-8")
    assert "OpenStreetMap\\u003c/a\\u003e contributors (ODbL)" in page  # JSON-escaped attribution
    assert "walks-summary" in page
    gpx = gpxpy.parse((tmp_path / "walk.gpx").read_text(encoding="utf-8"))
    assert len(gpx.waypoints) == 3  # a café, a studio and a view by default
    assert {w.type for w in gpx.waypoints} == {"cafe", "studio", "view"}


def test_paris_all_outputs(runner, paris_osm: Path, tmp_path: Path) -> None:
    out = {k: tmp_path / f"walk.{k}" for k in ("html", "gpx", "geojson", "json")}
    _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe=2",
                  "--minutes", "45", "--at", "2026-11-25 09:00", "--seed", "3",
                  "--html", str(out["html"]), "--gpx", str(out["gpx"]),
                  "--geojson", str(out["geojson"]), "--json", str(out["json"])])  # fmt: skip
    summary = json.loads(out["json"].read_text())
    assert summary.keys() >= SUMMARY_KEYS
    assert summary["seed"] == 3
    assert abs(summary["budget_error"]) <= 0.05
    assert [s["category"] for s in summary["stops"]] == ["cafe", "cafe"]
    assert all(s["arrival"] for s in summary["stops"])
    assert all(s["opening"] != "closed" for s in summary["stops"])
    geo = json.loads(out["geojson"].read_text())
    assert geo["features"][0]["geometry"]["type"] == "LineString"
    import xmlschema

    xmlschema.XMLSchema(str(GPX_XSD)).validate(out["gpx"].read_text(encoding="utf-8"))


def test_json_to_stdout_and_directions(runner, paris_osm: Path) -> None:
    result = _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                           "--km", "2", "--json", "-"])  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary.keys() >= SUMMARY_KEYS
    # within 5 % of the 2 km asked, or the JSON says why not (this extract's blocks are long)
    codes = {w["code"] for w in summary["warnings"]}
    assert abs(summary["length_m"] - 2000) <= 100 or codes & {"budget_long", "budget_short"}
    assert any(re.match(r"turn (left|right) onto .+, \d+ m", d, re.IGNORECASE)
               for leg in summary["directions"] for d in leg)  # fmt: skip
    both = _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                         "--km", "2", "--json", "-", "--directions"])  # fmt: skip
    assert json.loads(both.stdout) == summary  # the document alone on stdout
    text = both.stderr  # the directions beside it, on stderr
    assert re.search(
        r"is (on your (left|right)|straight ahead|here|just behind you) \(cafe\)", text
    )


def test_same_seed_same_walk(runner, paris_osm: Path) -> None:
    args = ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe", "--minutes", "40",
            "--seed", "11", "--json", "-"]  # fmt: skip
    first, second = (json.loads(_run(runner, args).stdout) for _ in range(2))
    assert first == second


def test_alternatives_in_json(runner, paris_osm: Path) -> None:
    result = _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                           "--minutes", "40", "--alternatives", "2", "--json", "-"])  # fmt: skip
    summary = json.loads(result.stdout)
    assert len(summary["alternatives"]) == 1


def test_refuses_to_overwrite(runner, paris_osm: Path, tmp_path: Path) -> None:
    target = tmp_path / "walk.gpx"
    target.write_text("keep me")
    result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--gpx", str(target)])
    assert result.exit_code == 1
    assert (
        f"Error: output '{target}' already exists: pass --overwrite to replace it" in result.stderr
    )
    assert target.read_text() == "keep me"


def test_unwritable_output_leaves_nothing(runner, paris_osm: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    target = blocker / "walk.html"
    result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--html", str(target),
                                 "--gpx", str(tmp_path / "ok.gpx")])  # fmt: skip
    assert result.exit_code == 1
    assert "Error: cannot write" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["not-a-folder"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--minutes", "30", "--km", "2"],
            "Error: Invalid value for --minutes/--km: give --minutes or --km, not both",
        ),
        (
            ["--stops", "cafe=0"],
            "Error: Invalid value for --stops: 'cafe=0': a count must be a whole number from 1 to 20",
        ),
        (
            ["--stops", "cafe=x"],
            "Error: Invalid value for --stops: 'cafe=x': a count must be a whole number from 1 to 20",
        ),
    ],
)
def test_bad_arguments(runner, args, message) -> None:
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_budget_too_short_for_the_stops(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                                 "--minutes", "2", "--json", "-"])  # fmt: skip
    assert result.exit_code == 1
    assert re.search(
        r"Error: the nearest cafe is \d\.\d km away: at least \d+ minutes", result.stderr
    )


def test_online_generate(
    runner, osm_services: FakeOsmServices, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("WALKS_OVERPASS_URL", osm_services.url)
    monkeypatch.setenv("WALKS_NOMINATIM_URL", osm_services.url)
    result = _run(runner, ["-q", "generate", "Gare du Nord, Paris", "--stops", "cafe", "--minutes",
                           "30", "--json", "-"])  # fmt: skip
    summary = json.loads(result.stdout)
    assert summary["stops"][0]["category"] == "cafe"


# ------------------------------------------------------------------ the map in a real browser


def test_map_in_chromium(runner, hostile_osm: Path, tmp_path: Path, leaflet_dir: Path) -> None:
    target = tmp_path / "walk.html"
    summary = json.loads(_run(runner, [
        "-q", "generate", "--osm-file", str(hostile_osm), "--stops", "cafe=2,view",
        "--must-visit", HOSTILE, "--minutes", "60", "--html", str(target), "--json", "-",
    ]).stdout)  # fmt: skip
    assert HOSTILE in [s["name"] for s in summary["stops"]]
    manager, browser = start_browser()
    try:
        page, problems, dialogs, _ = open_page(browser, target, leaflet_dir)
        assert problems == []
        assert page.locator("path.walks-route-0").count() == 1
        assert page.locator("path.walks-sightline").count() == 1
        assert page.locator(".walks-pin").count() == len(summary["stops"]) + 2  # + S/F, landmark
        assert page.locator(".walks-summary").inner_text().startswith("A walk in paris-hostile.osm")
        position = [s["name"] for s in summary["stops"]].index(HOSTILE) + 1
        page.locator(".walks-pin", has_text=re.compile(rf"^{position}$")).click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert f"{position}. {HOSTILE}" in popup.inner_text()
        assert page.locator(".leaflet-popup-content img").count() == 0
        page.wait_for_timeout(200)
        assert dialogs == []
        assert page.evaluate("document.title") == "A walk in paris-hostile.osm"
        assert page.locator(".walks-locate").is_visible()
        page.screenshot(path=str(tmp_path / "walk.png"))
        assert (tmp_path / "walk.png").stat().st_size > 10_000
    finally:
        browser.close()
        manager.stop()


def test_offline_map_needs_no_network(runner, paris_osm: Path, tmp_path: Path, leaflet_dir: Path,
                                      monkeypatch) -> None:  # fmt: skip
    monkeypatch.setenv("WALKS_LEAFLET_DIR", str(leaflet_dir))
    target = tmp_path / "offline.html"
    _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                  "--offline-map", "--html", str(target)])  # fmt: skip
    page_text = target.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in page_text
    assert "data:image/png;base64" in page_text  # the layer control's icon is inlined
    manager, browser = start_browser()
    try:
        page, problems, _, requested = open_page(browser, target, leaflet_dir, allow_cdn=False)
        assert problems == []
        assert page.locator("path.walks-route-0").count() == 1
        assert not [u for u in requested if "leaflet" in u and not u.startswith("file:")]
    finally:
        browser.close()
        manager.stop()


def test_map_needs_no_download(runner, paris_osm: Path, tmp_path: Path, monkeypatch) -> None:
    """A fresh install (no WALKS_LEAFLET_DIR, an empty cache) makes a self-contained map."""
    monkeypatch.delenv("WALKS_LEAFLET_DIR", raising=False)
    target = tmp_path / "m.html"
    _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--html", str(target)])
    page = target.read_text(encoding="utf-8")
    assert "cdn.jsdelivr.net" not in page
    assert "Leaflet 1.9.4" in page
    linked = tmp_path / "cdn.html"
    _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--cdn-map",
                  "--html", str(linked)])  # fmt: skip
    assert "https://cdn.jsdelivr.net/npm/leaflet@1.9.4/dist/leaflet.js" in linked.read_text(
        encoding="utf-8"
    )
    assert linked.stat().st_size < target.stat().st_size - 100_000


def test_assets_fetch_then_offline_map(runner, leaflet_dir: Path, paris_osm: Path, tmp_path: Path,
                                       cache_dir: Path, monkeypatch) -> None:  # fmt: skip
    """`walks assets fetch` from a local stand-in for the CDN, then an offline map from the cache."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    monkeypatch.delenv("WALKS_LEAFLET_DIR", raising=False)
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(leaflet_dir))
    handler.log_message = lambda *_a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = runner.invoke(app, ["assets", "fetch", "--from", url])
        assert result.exit_code == 0, result.output
        assert (cache_dir / "assets" / "leaflet.js").read_bytes() == (
            leaflet_dir / "leaflet.js"
        ).read_bytes()
        missing = runner.invoke(app, ["assets", "fetch", "--from", url + "/nothing-here"])
        assert missing.exit_code == 1
        assert "Error: cannot download" in missing.stderr
    finally:
        server.shutdown()
        server.server_close()
    target = tmp_path / "offline.html"
    _run(runner, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "cafe",
                  "--offline-map", "--html", str(target)])  # fmt: skip
    assert "cdn.jsdelivr.net" not in target.read_text(encoding="utf-8")


def test_a_shortfall_is_said_on_stderr_in_json_and_on_the_map(runner, paris_osm: Path,
                                                               tmp_path: Path) -> None:  # fmt: skip
    """180 minutes on a 14 km network cannot be filled without repeats: exit 0, but said."""
    page = tmp_path / "walk.html"
    result = runner.invoke(app, ["-q", "generate", "--osm-file", str(paris_osm), "--stops", "",
                                 "--minutes", "180", "--json", "-", "--html", str(page)])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    codes = [w["code"] for w in summary["warnings"]]
    assert "area_too_small" in codes
    said = [ln for ln in result.stderr.splitlines() if ln.startswith("Warning:")]
    assert len(said) == len(summary["warnings"])
    assert "--allow-repeats" in said[codes.index("area_too_small")]
    data = re.search(r'id="walks-data">(.*?)</script>', page.read_text(encoding="utf-8"), re.DOTALL)
    assert data is not None
    shown = json.loads(data.group(1))["walks"][0]["summary"]["warnings"]
    assert shown == [w["message"] for w in summary["warnings"]]
