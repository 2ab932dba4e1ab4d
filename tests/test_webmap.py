"""The map page: OSM, file and user text is data, never template source or markup.

Names carrying Jinja, HTML and JavaScript payloads go through the whole CLI on a real extract
and are then looked at in a real headless Chromium: they must show literally, and nothing may
run (the Jinja payload would create a file; the HTML ones would open a dialog or add elements).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from browser import open_page, start_browser
from hypothesis import given
from hypothesis import strategies as st

from walks.cli import app
from walks.webmap import json_for_script

PWNED = "walks-pwned"


def _payloads(tmp_path: Path) -> dict[str, str]:
    """Hostile texts, one per place where OSM or user text reaches the page."""
    jinja = "{{ cycler.__init__.__globals__.os.system('touch " + str(tmp_path / PWNED) + "') }}"
    return {
        "cafe": "{{7*7}} {% raw %}x{% endraw %} " + jinja,
        "studio": "</script><script>document.title='owned'</script><img src=x onerror=alert(1)>",
        "category": "`${alert(1)}` {{7*7}} <b>bold</b> {% if true %}yes{% endif %}",
    }


@pytest.fixture
def hostile_run(paris_osm: Path, tmp_path: Path, runner) -> tuple[Path, dict[str, str], dict]:
    """Plan a walk on the Paris extract with hostile names everywhere text reaches the map."""
    payloads = _payloads(tmp_path)
    text = paris_osm.read_text(encoding="utf-8")
    assert 'v="Le Balto"' in text
    text = text.replace('v="Le Balto"', f'v="{html.escape(payloads["cafe"], quote=True)}"')
    folder = tmp_path / "{{7*7}}"
    folder.mkdir()
    extract = folder / "{{7*7}} `${1}` <img src=x onerror=alert(1)>.osm"
    extract.write_text(text, encoding="utf-8")
    categories = tmp_path / "mine.toml"
    description = payloads["category"].replace("\\", "\\\\").replace('"', '\\"')
    categories.write_text(
        f'[hostile]\ndescription = "{description}"\nweight = 1.0\ncolor = "red;background:url(x)"\n'
        'dwell_minutes = 5\nfilters = [{ amenity = "cafe" }]\n',
        encoding="utf-8",
    )
    page = tmp_path / "walk.html"
    result = runner.invoke(app, [
        "-q", "generate", "--osm-file", str(extract), "--categories", str(categories),
        "--stops", "hostile,cafe", "--must-visit", payloads["cafe"], "--minutes", "60",
        "--html", str(page), "--json", "-",
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert payloads["cafe"] in [s["name"] for s in summary["stops"]]
    return page, payloads, summary


def test_page_holds_text_only_as_json_data(hostile_run, tmp_path: Path) -> None:
    page, payloads, _ = hostile_run
    source = page.read_text(encoding="utf-8")
    assert not (tmp_path / PWNED).exists()
    data = re.search(
        r'<script type="application/json" id="walks-data">(.*?)</script>', source, re.DOTALL
    )
    assert data is not None
    decoded = json.loads(data.group(1))
    stops = decoded["walks"][0]["stops"]
    names = [s["name"] for s in stops]
    assert payloads["cafe"] in names
    assert payloads["category"] in [s["category_label"] for s in stops]
    # the raw payloads appear nowhere outside the JSON element and the escaped <title>
    outside = source.replace(data.group(0), "")
    for text in payloads.values():
        assert text not in outside
    assert "{{7*7}}" not in outside.replace(html.escape("{{7*7}}"), "")[: source.find("<body")]
    assert all(s["color"] != "red;background:url(x)" for s in stops)
    # three scripts only: Leaflet (inlined), the data and ours
    assert len(re.findall(r"<script\b", source)) == 3


def test_hostile_text_shows_literally_in_chromium(hostile_run, tmp_path: Path, leaflet_dir) -> None:
    page_path, payloads, summary = hostile_run
    manager, browser = start_browser()
    try:
        page, problems, dialogs, _ = open_page(browser, page_path, leaflet_dir)
        assert problems == []
        title = page.evaluate("document.title")
        assert title == "A walk in {{7*7}} `${1}` <img src=x onerror=alert(1)>.osm"
        assert page.locator(".walks-summary h3").inner_text() == title
        names = [s["name"] for s in summary["stops"]]
        position = names.index(payloads["cafe"]) + 1
        # a pin may lie under the start pin: the click goes to the pin itself
        page.locator(".walks-pin", has_text=re.compile(rf"^{position}$")).dispatch_event("click")
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert f"{position}. {payloads['cafe']}" in popup.inner_text()
        page.locator(".leaflet-popup-close-button").last.click()
        page.wait_for_timeout(300)  # the popup fades out
        position = [s["category"] for s in summary["stops"]].index("hostile") + 1
        page.locator(".walks-pin", has_text=re.compile(rf"^{position}$")).dispatch_event("click")
        shown = page.locator(".leaflet-popup-content", has_text=f"{position}. ")
        shown.wait_for(timeout=5_000)
        assert payloads["category"] in shown.inner_text()
        itinerary = page.locator(".walks-stop-title").all_inner_texts()
        assert f"{names.index(payloads['cafe']) + 1}. {payloads['cafe']}" in itinerary
        assert page.locator("b", has_text="bold").count() == 0  # no markup was made
        assert page.locator("img[src=x]").count() == 0
        page.wait_for_timeout(200)
        assert dialogs == []
        assert not (tmp_path / PWNED).exists()
    finally:
        browser.close()
        manager.stop()


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
))  # fmt: skip
def test_json_for_script_round_trips_and_cannot_close_the_element(value) -> None:
    text = json_for_script(value)
    assert json.loads(text) == value
    assert "<" not in text
    assert ">" not in text
    assert "&" not in text


def test_json_for_script_refuses_non_finite_numbers() -> None:
    with pytest.raises(ValueError, match="Out of range float"):
        json_for_script({"x": float("nan")})


# ----------------------------------------------------------------- the map on a laptop and a phone


@pytest.fixture(scope="module")
def demo_page(tmp_path_factory) -> tuple[Path, dict]:
    """The demo walk with three alternatives, a café, two studios and a view."""
    from typer.testing import CliRunner

    folder = tmp_path_factory.mktemp("demo-map")
    page = folder / "walk.html"
    result = CliRunner().invoke(app, [
        "-q", "generate", "--minutes", "90", "--stops", "cafe,studio=2,view", "--alternatives",
        "3", "--html", str(page), "--json", "-", "--cache-dir", str(folder / "cache"),
    ])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    return page, json.loads(result.stdout)


def _offline_page(browser, page_path: Path, width: int, height: int):
    """Open a page with every request but the file itself refused."""
    page = browser.new_page(viewport={"width": width, "height": height}, has_touch=width < 600)
    problems: list[str] = []
    refused: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    def answer(route) -> None:
        if route.request.url == page_path.resolve().as_uri():
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", answer)
    page.goto(page_path.resolve().as_uri())
    page.wait_for_selector("html[data-walks-ready]", timeout=10_000)
    return page, problems, refused


def _inside(box: dict, width: int, height: int) -> bool:
    return (
        box["x"] >= 0
        and box["y"] >= 0
        and box["x"] + box["width"] <= width
        and (box["y"] + box["height"] <= height)
    )


@pytest.mark.parametrize("size", [(1400, 1000), (390, 844)], ids=["laptop", "phone"])
def test_demo_map_works_offline(demo_page, size) -> None:
    page_path, summary = demo_page
    width, height = size
    manager, browser = start_browser()
    try:
        page, problems, refused = _offline_page(browser, page_path, width, height)
        page.wait_for_timeout(300)
        assert problems == []
        assert refused == []  # nothing was even asked of the network
        stats = page.evaluate("window.walksStats")
        assert stats["streets"] > 1000
        assert stats["buildings"] > 100
        assert stats["labels"] > 20
        assert stats["cover"] > 50  # parks, woods, water, squares and railways
        # the base map's canvas is drawn on
        drawn = page.evaluate("""() => {
            const c = document.querySelector('.leaflet-overlay-pane canvas');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) n++; }
            return n / (c.width * c.height);
        }""")
        assert drawn > 0.05  # the canvas reaches half a screen beyond the view
        # three walks, each a route layer; every stop of the walk shown in view
        for index in range(3):
            assert page.locator(f"path.walks-route-{index}").count() == 1
        stops = summary["stops"]
        pins = page.locator(".walks-pin")
        numbered = [pins.nth(i) for i in range(pins.count())
                    if pins.nth(i).inner_text().isdigit()]  # fmt: skip
        assert len(numbered) == len(stops)
        for pin in numbered:
            assert _inside(pin.bounding_box(), width, height)
        # tapping each stop opens its popup (nothing covers a pin)
        for n, stop in enumerate(stops, 1):
            page.locator(".walks-pin", has_text=re.compile(rf"^{n}$")).click(timeout=3_000)
            popup = page.locator(".leaflet-popup-content", has_text=f"{n}. {stop['name']}")
            popup.wait_for(timeout=3_000)
            page.locator(".leaflet-popup-close-button").last.click()
            page.wait_for_timeout(250)  # the popup fades out
        # the itinerary lists the stops in order; on a phone it starts folded
        if width < 600:
            assert not page.locator(".walks-itinerary").is_visible()
            page.locator(".walks-toggle").click()
        titles = page.locator(".walks-stop-title").all_inner_texts()
        assert titles == [f"{n}. {s['name']}" for n, s in enumerate(stops, 1)]
        page.locator(".walks-stop").nth(len(stops) - 1).click()
        page.locator(".leaflet-popup-content", has_text=stops[-1]["name"]).wait_for(timeout=3_000)
        # street names show at street zoom
        page.evaluate("walksMap.setZoom(17, {animate: false})")
        page.wait_for_timeout(200)
        assert page.locator(".walks-label").count() > 5
        # attribution and scale never overlap
        scale = page.locator(".leaflet-control-scale").bounding_box()
        credit = page.locator(".leaflet-control-attribution").bounding_box()
        assert (
            scale["x"] + scale["width"] <= credit["x"]
            or scale["y"] + scale["height"] <= (credit["y"])
        )
    finally:
        browser.close()
        manager.stop()


def test_alternatives_switch_the_summary(demo_page) -> None:
    page_path, summary = demo_page
    manager, browser = start_browser()
    try:
        page, problems, _ = _offline_page(browser, page_path, 1400, 1000)
        tabs = page.locator(".walks-tab")
        assert tabs.count() == 3
        first = page.locator(".walks-content").inner_text()
        tabs.nth(2).click()
        third = page.locator(".walks-content").inner_text()
        alternative = summary["alternatives"][1]
        assert f"{alternative['length_m'] / 1000:.1f} km" in third
        assert third != first
        assert problems == []
    finally:
        browser.close()
        manager.stop()
