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
        page.locator(".walks-pin", has_text=re.compile(rf"^{position}$")).click()
        popup = page.locator(".leaflet-popup-content")
        popup.wait_for(timeout=5_000)
        assert f"{position}. {payloads['cafe']}" in popup.inner_text()
        position = [s["category"] for s in summary["stops"]].index("hostile") + 1
        page.locator(".walks-pin", has_text=re.compile(rf"^{position}$")).click()
        page.wait_for_timeout(300)
        assert payloads["category"] in page.locator(".leaflet-popup-content").inner_text()
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
