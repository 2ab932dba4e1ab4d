"""Walk -> interactive HTML map (Leaflet), optionally self-contained for offline use.

The page is assembled from fixed parts, with no template engine: the walk travels as JSON data in
the page and ``data/walkmap.js`` (our script, static) draws it with Leaflet, setting every text
with ``textContent``. OSM names such as ``{{7*7}}`` or ``</script>`` therefore show literally and
can never run (they used to, when folium/branca compiled rendered scripts again as Jinja source).
"""

from __future__ import annotations

import base64
import hashlib
import html
import itertools
import json
import math
import re
from typing import TYPE_CHECKING, Any

from walks import _resources
from walks.export import (
    ATTRIBUTION,
    LEAFLET_CSS_URL,
    LEAFLET_JS_URL,
    OSM_COPYRIGHT_URL,
    _clock,
)
from walks.graph import bearing_deg

if TYPE_CHECKING:
    import datetime as dt

    from walks.categories import Category
    from walks.types import LatLon, Walk

ROUTE_COLORS = ("#d7301f", "#2b8cbe", "#31a354", "#756bb1")
ARROW_SPACING_M = 180.0
_EMOJI = {"coffee": "☕", "paint-brush": "🎨", "eye": "👁", "bread-slice": "🥖", "book": "📚"}


def _arrows(points: tuple[LatLon, ...], spacing_m: float) -> list[tuple[LatLon, float]]:
    """Points every ``spacing_m`` along a line, with the line's bearing there."""
    out: list[tuple[LatLon, float]] = []
    walked, next_at = 0.0, spacing_m / 2
    for a, b in itertools.pairwise(points):
        dy = (b.lat - a.lat) * 111_195.0
        dx = (b.lon - a.lon) * 111_195.0 * math.cos(math.radians(a.lat))
        step = math.hypot(dx, dy)
        while step > 0 and walked + step >= next_at:
            t = (next_at - walked) / step
            where = type(a)(a.lat + (b.lat - a.lat) * t, a.lon + (b.lon - a.lon) * t)
            out.append((where, bearing_deg(a.lat, a.lon, b.lat, b.lon)))
            next_at += spacing_m
        walked += step
    return out


#: Colours a category file may give: ``#rgb``/``#rrggbb``(``aa``) or a CSS colour name.
_COLOR = re.compile(r"#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20}")
#: An OSM object reference as ``stop.osm_id`` holds it.
_OSM_REF = re.compile(r"(node|way|relation)/[0-9]{1,20}")
#: OpenStreetMap's standard tiles (used only when the page has network).
TILE_URL = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
_TILE_ORIGIN = "https://tile.openstreetmap.org"
_CSS = """
html, body, #walks-map { height: 100%; width: 100%; margin: 0; padding: 0; }
.walks-icon { background: none; border: none; }
.walks-pin { border-radius: 50%; color: #fff; font: bold 13px/26px sans-serif; text-align: center;
  width: 26px; height: 26px; border: 2px solid #fff; box-shadow: 0 1px 4px rgba(0,0,0,.5); }
.walks-end { border-radius: 6px; width: 30px; }
.walks-arrow { color: #fff; font: 14px/14px sans-serif; text-shadow: 0 0 3px #000; }
.walks-summary { background: rgba(255,255,255,.94); padding: 8px 12px; border-radius: 6px;
  font: 13px/1.4 sans-serif; box-shadow: 0 1px 5px rgba(0,0,0,.4); max-width: 290px; }
.walks-summary h3 { margin: 0 0 4px; font-size: 15px; }
.walks-summary .walks-warning { color: #8a4b00; }
.walks-summary .walks-credit { font-size: 11px; color: #555; }
.walks-locate { font-size: 20px; line-height: 30px; width: 30px; height: 30px; display: block;
  text-align: center; background: #fff; text-decoration: none; color: #333; }
.walks-popup h4 { margin: 0 0 4px; }
.walks-popup .cat { color: #555; font-size: 12px; text-transform: uppercase; }
"""


def json_for_script(value: object) -> str:
    """
    Serialise data for a ``<script type="application/json">`` element.

    ``<``, ``>`` and ``&`` are written as JSON escapes, so no text can close the element or
    open a comment, and U+2028/U+2029 too; the browser's ``JSON.parse`` gives the text back
    unchanged. Non-finite numbers are refused (strict JSON).

    Parameters
    ----------
    value
        JSON-serialisable data.

    Returns
    -------
    str
        The JSON text, safe between the element's tags.
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):  # fmt: skip
        text = text.replace(char, escape)
    return text


def _color(value: str | None, fallback: str) -> str:
    """Keep a category colour if it is a plain CSS colour, else use ``fallback``."""
    return value if value is not None and _COLOR.fullmatch(value) else fallback


def _ll(lat: float, lon: float) -> list[float]:
    """Round a point to a ``[lat, lon]`` pair, to about a centimetre."""
    return [round(lat, 7), round(lon, 7)]


def _hm(seconds: float) -> str:
    """Seconds as ``h:mm``."""
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}:{minutes:02d}"


def map_data(
    walks: list[Walk],
    *,
    title: str,
    categories: dict[str, Category],
    departure: dt.datetime | None = None,
    climb_m: float | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Any]:
    """
    Gather everything the map page shows, as plain data.

    Parameters
    ----------
    walks
        The walks, best first; the others are drawn as alternatives.
    title
        The page title.
    categories
        Categories, for marker colours and icons.
    departure
        Local departure time, for arrival clock times; None shows times since the start.
    climb_m
        Total climb (with a DEM), or None.
    warnings
        Messages to show in the summary panel.

    Returns
    -------
    dict
        JSON-serialisable data read by the page's script (``walkmap.js``).
    """
    best = walks[0]
    lats = [p.lat for w in walks for p in w.geometry]
    lons = [p.lon for w in walks for p in w.geometry]
    routes = [
        {
            "coords": [_ll(p.lat, p.lon) for p in walk.geometry],
            "color": ROUTE_COLORS[index % len(ROUTE_COLORS)],
            "arrows": [
                [*_ll(where.lat, where.lon), round(bearing, 1)]
                for where, bearing in _arrows(walk.geometry, ARROW_SPACING_M)
            ],
        }
        for index, walk in enumerate(walks)
    ]
    opening = {"open": "open", "closed": "closed at arrival", "unknown": "hours unknown"}
    stops: list[dict[str, Any]] = []
    sightlines: list[list[list[float]]] = []
    landmarks: dict[tuple[float, float], str] = {}
    for n, visit in enumerate(best.stops, 1):
        stop = visit.stop
        category = categories.get(stop.category)
        hours = f" ({stop.hours})" if stop.hours and stop.opening != "unknown" else ""
        stops.append({
            "n": n, "lat": round(stop.location.lat, 7), "lon": round(stop.location.lon, 7),
            "category": stop.category,
            "category_label": category.description if category else stop.category,
            "color": _color(category.color if category else None, "#444"),
            "emoji": _EMOJI.get(category.icon, "") if category else "",
            "name": stop.name, "reason": stop.reason,
            "arrival": _clock(visit.arrival_s, departure),
            "opening": opening.get(stop.opening, stop.opening) + hours,
            "osm_url": (
                f"https://www.openstreetmap.org/{stop.osm_id}"
                if _OSM_REF.fullmatch(stop.osm_id) else None
            ),
        })  # fmt: skip
        if stop.view is not None:
            mark = stop.view.landmark_location
            sightlines.append([_ll(stop.location.lat, stop.location.lon), _ll(mark.lat, mark.lon)])
            landmarks[(round(mark.lat, 7), round(mark.lon, 7))] = stop.view.landmark
    start, finish = best.geometry[0], best.geometry[-1]
    return {
        "title": title,
        "tiles": {
            "url": TILE_URL,
            "attribution": f'Map data &copy; <a href="{OSM_COPYRIGHT_URL}">OpenStreetMap</a> '
            "contributors (ODbL)",
        },
        "routes": routes,
        "start": _ll(start.lat, start.lon),
        "finish": _ll(finish.lat, finish.lon),
        "loop": abs(start.lat - finish.lat) < 1e-7 and abs(start.lon - finish.lon) < 1e-7,  # noqa: PLR2004
        "stops": stops,
        "sightlines": sightlines,
        "landmarks": [
            {"lat": lat, "lon": lon, "name": name} for (lat, lon), name in landmarks.items()
        ],
        "summary": {
            "length_km": f"{best.length_m / 1000:.1f}",
            "walking": _hm(best.walking_time_s),
            "total": _hm(best.total_time_s),
            "stops": len(best.stops),
            "pleasant_pct": f"{100 * best.pleasant_share:.0f}",
            "retraced_pct": f"{100 * best.retraced_share:.0f}",
            "climb_m": None if climb_m is None else f"{climb_m:.0f}",
            "departure": None if departure is None else f"{departure:%a %d %b %H:%M}",
            "warnings": list(warnings or ()),
            "attribution": ATTRIBUTION,
        },
        "bounds": [_ll(min(lats), min(lons)), _ll(max(lats), max(lons))],
    }


def _script_hash(code: str) -> str:
    """Make the CSP source expression that allows one inline script."""
    digest = hashlib.sha256(code.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def map_html(
    walks: list[Walk],
    *,
    title: str,
    categories: dict[str, Category],
    departure: dt.datetime | None = None,
    climb_m: float | None = None,
    offline_assets: tuple[str, str] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """
    Draw walks on an interactive Leaflet map, as one HTML page.

    The page is put together from fixed parts: no template engine is involved. Everything
    that comes from OSM, files or the user travels as JSON in a ``<script
    type="application/json">`` element (see ``json_for_script``), which the page's own
    script reads and shows with ``textContent``. A Content-Security-Policy allows only the
    page's own scripts (by hash) and Leaflet, so even markup that slipped in could not run.

    Parameters
    ----------
    walks
        The walks, best first; the others are shown as alternative routes.
    title
        The page title.
    categories
        Categories, for marker colours and icons.
    departure
        Local departure time, for arrival clock times; None shows times since the start.
    climb_m
        Total climb (with a DEM), or None.
    offline_assets
        Leaflet's ``(javascript, css)`` to inline; None links them from the CDN.
    warnings
        Messages to show in the summary panel.

    Returns
    -------
    str
        The HTML page.
    """
    data = map_data(walks, title=title, categories=categories, departure=departure,
                    climb_m=climb_m, warnings=warnings)  # fmt: skip
    code = _resources.data_file("walkmap.js").read_text(encoding="utf-8")
    scripts = [code]
    cdn = ""
    if offline_assets is None:
        leaflet_js = f'<script src="{LEAFLET_JS_URL}"></script>'
        leaflet_css = f'<link rel="stylesheet" href="{LEAFLET_CSS_URL}">'
        cdn = " https://cdn.jsdelivr.net"
    else:
        js, css = offline_assets
        js = js.replace("</script", "<\\/script")
        scripts.append(js)
        leaflet_js = f"<script>{js}</script>"
        leaflet_css = "<style>" + css.replace("</style", "<\\/style") + "</style>"
    policy = (
        "default-src 'none'; "
        f"script-src {' '.join(_script_hash(s) for s in scripts)}{cdn}; "
        f"style-src 'unsafe-inline'{cdn}; img-src data: {_TILE_ORIGIN}{cdn}; "
        "base-uri 'none'; form-action 'none'"
    )
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{html.escape(policy)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(title)}</title>",
        leaflet_css,
        f"<style>{_CSS}</style>",
        leaflet_js,
        "</head>",
        "<body>",
        '<div id="walks-map"></div>',
        f'<script type="application/json" id="walks-data">{json_for_script(data)}</script>',
        f"<script>{code}</script>",
        "</body>",
        "</html>",
        "",
    ])  # fmt: skip
