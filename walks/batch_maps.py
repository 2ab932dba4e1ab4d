"""The maps of a batch: each walk's page and GPX, and an index page of all walks."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from walks._text import visible
from walks.export import gpx_text, leaflet_assets

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

    from walks.api import GeneratedWalks


def map_texts(
    row: int, label: str, result: GeneratedWalks, *, cdn: bool, cache_dir: Path | None
) -> dict[str, str]:
    """
    Make a row's HTML map and GPX as ``walks generate`` does.

    Parameters
    ----------
    row
        The row's number (names the files).
    label
        The row's label (titles them).
    result
        Its walks.
    cdn
        Link Leaflet from its CDN instead of inlining it.
    cache_dir
        Where Leaflet's files are cached.

    Returns
    -------
    dict
        ``{file name: text}``.
    """
    from walks.basemap import basemap_data  # noqa: PLC0415
    from walks.webmap import map_html, view_bounds  # noqa: PLC0415

    title = f"A walk in {label}"
    walks, found = result.walks, result.area_stops
    best = walks[0]
    assets = None if cdn else leaflet_assets(cache_dir)
    page = map_html(
        walks, title=title, categories=found.categories, departure=result.departure,
        climb_m=best.climb_m, offline_assets=assets, cdn=assets is None,
        warnings=[w.message for w in best.warnings], elevations=result.elevations,
        basemap=basemap_data(found.loaded.graph, found.features.buildings, view_bounds(walks),
                             found.features.landcover),
    )  # fmt: skip
    gpx = gpx_text(best, title=title, departure=result.departure, elevations=result.elevations)
    return {page_name(row): page, gpx_name(row): gpx}


def page_name(row: int) -> str:
    """Return the file name of a row's map."""
    return f"walk-{row:06d}.html"


def gpx_name(row: int) -> str:
    """Return the file name of a row's GPX."""
    return f"walk-{row:06d}.gpx"


# --------------------------------------------------------------------------- the index page

_INDEX_CSS = """
html, body, #walks-index { height: 100%; margin: 0; }
.walks-list { position: absolute; top: 10px; right: 10px; z-index: 1000; max-height: 80vh;
  overflow: auto; background: #fff; padding: 6px 10px; font: 13px sans-serif;
  border-radius: 4px; box-shadow: 0 1px 4px rgba(0,0,0,.3); }
.walks-list a { display: block; }
.walks-list .failed { color: #a00; }
"""

_INDEX_JS = """
(function () {
  var data = JSON.parse(document.getElementById("walks-index-data").textContent);
  var map = L.map("walks-index");
  L.tileLayer(data.tiles, {maxZoom: 19, attribution: data.attribution}).addTo(map);
  var list = document.createElement("div");
  list.className = "walks-list";
  var heading = document.createElement("b");
  heading.textContent = data.title;
  list.appendChild(heading);
  var bounds = [];
  data.walks.forEach(function (w) {
    var item;
    if (w.href) {
      item = document.createElement("a");
      item.href = w.href;
    } else {
      item = document.createElement("span");
      item.className = "failed";
    }
    item.textContent = w.text;
    list.appendChild(item);
    if (w.line.length > 1) {
      var line = L.polyline(w.line, {color: w.color, weight: 4, opacity: 0.8}).addTo(map);
      var link = document.createElement("a");
      link.href = w.href;
      link.textContent = w.text;
      line.bindPopup(link);
      w.line.forEach(function (p) { bounds.push(p); });
    }
  });
  if (bounds.length) { map.fitBounds(bounds); } else { map.setView([0, 0], 2); }
  list.addEventListener("wheel", function (e) { e.stopPropagation(); });
  document.body.appendChild(list);
})();
"""

_PALETTE = ("#d7191c", "#2c7bb6", "#1a9641", "#7b3294", "#e66101", "#008837", "#5e3c99")


def index_html(
    records: Iterable[dict[str, Any]], *, cdn: bool, cache_dir: Path | None = None
) -> str:
    """
    Draw every walk of a batch on one map, each linking to its own page.

    Built from fixed parts, as ``walks.webmap.map_html``: the walks travel as JSON in a
    ``<script type="application/json">`` element and are shown with ``textContent``; a
    Content-Security-Policy allows only the page's own scripts (by hash) and Leaflet.

    Parameters
    ----------
    records
        The batch's rows, sorted (``row``, ``label``, ``status``, ``length_m``, ``map`` and
        ``geometry`` are read).
    cdn
        Link Leaflet from its CDN instead of inlining it.
    cache_dir
        Where Leaflet's files are cached.

    Returns
    -------
    str
        The HTML page.
    """
    import base64  # noqa: PLC0415
    import html  # noqa: PLC0415

    import shapely  # noqa: PLC0415

    from walks.export import ATTRIBUTION, LEAFLET_CSS_URL, LEAFLET_JS_URL, simplify_line  # noqa: PLC0415
    from walks.webmap import TILE_URL, json_for_script  # noqa: PLC0415

    walks = []
    for r in records:
        line: list[list[float]] = []
        if r.get("geometry") is not None:
            coords = [(y, x) for x, y in shapely.from_wkb(r["geometry"]).coords]
            line = [[round(a, 6), round(b, 6)] for a, b in simplify_line(coords, 300)]
        ok = r["status"] == "ok"
        length = f"{r['length_m'] / 1000:.1f} km" if ok and r.get("length_m") is not None else ""
        text = f"{r['row']}: {r['label']}" + (f" ({length})" if length else f" - {r['status']}")
        walks.append({
            "text": visible(text, one_line=True), "line": line, "href": r.get("map"),
            "color": _PALETTE[r["row"] % len(_PALETTE)],
        })  # fmt: skip
    title = f"{len(walks)} walks"
    data = {"title": title, "tiles": TILE_URL, "attribution": ATTRIBUTION, "walks": walks}

    def digest(code: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"

    scripts = [_INDEX_JS]
    if cdn:
        leaflet = (
            f'<link rel="stylesheet" href="{LEAFLET_CSS_URL}">'
            f'<script src="{LEAFLET_JS_URL}"></script>'
        )
        origin = " " + LEAFLET_JS_URL.rsplit("/", 1)[0] + "/"  # Leaflet's folder only
    else:
        js, css = leaflet_assets(cache_dir)
        js = js.replace("</script", "<\\/script")
        scripts.append(js)
        leaflet = "<style>" + css.replace("</style", "<\\/style") + f"</style><script>{js}</script>"
        origin = ""
    policy = (
        f"default-src 'none'; script-src {' '.join(digest(s) for s in scripts)}{origin}; "
        f"style-src 'unsafe-inline'{origin}; img-src data: https://tile.openstreetmap.org{origin}; "
        "base-uri 'none'; form-action 'none'"
    )
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>", leaflet, f"<style>{_INDEX_CSS}</style>",
        "</head>", "<body>", '<div id="walks-index"></div>',
        f'<script type="application/json" id="walks-index-data">{json_for_script(data)}</script>',
        f"<script>{_INDEX_JS}</script>", "</body>", "</html>", "",
    ])  # fmt: skip
