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

import numpy as np

from walks import _resources
from walks.export import (
    ATTRIBUTION,
    LEAFLET_CSS_URL,
    LEAFLET_JS_URL,
    OSM_COPYRIGHT_URL,
    _clock,
    leaflet_assets,
    opening_record,
)
from walks.graph import bearing_deg, haversine_m
from walks.terrain import TERRAIN_ATTRIBUTION
from walks.types import BBox, LatLon

if TYPE_CHECKING:
    import datetime as dt

    from walks.categories import Category
    from walks.types import Walk

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
#walks-map.walks-drawn { background: #f2efe9; }
.walks-icon { background: none; border: none; }
.walks-pin { border-radius: 50%; color: #fff; font: bold 14px/30px sans-serif; text-align: center;
  width: 30px; height: 30px; border: 2px solid #fff; box-shadow: 0 1px 4px rgba(0,0,0,.5); }
.walks-end { border-radius: 7px; width: 34px; }
.walks-arrow { color: #fff; font: 14px/14px sans-serif; text-shadow: 0 0 3px #000;
  pointer-events: none; }
.walks-label span, .walks-stop-name span { position: absolute; white-space: nowrap;
  font: 600 11px/1.2 sans-serif; color: #555; pointer-events: none;
  text-shadow: 0 0 2px #fff, 0 0 2px #fff, 0 0 3px #fff; }
.walks-stop-name span { font-size: 12px; color: #222; }
.walks-far .walks-stop-name { display: none; }
.walks-summary { background: rgba(255,255,255,.96); padding: 6px 10px; border-radius: 8px;
  font: 13px/1.4 sans-serif; box-shadow: 0 1px 5px rgba(0,0,0,.4); width: 290px;
  max-width: calc(100vw - 90px); max-height: calc(100vh - 120px); overflow-y: auto; }
.walks-head { display: flex; align-items: center; gap: 6px; }
.walks-head h3 { margin: 0; font-size: 15px; flex: 1; }
.walks-toggle { min-width: 36px; min-height: 36px; font-size: 18px; border: none;
  background: #eee; border-radius: 6px; cursor: pointer; }
.walks-closed { display: none; }
.walks-tabs { display: flex; gap: 4px; margin: 6px 0; flex-wrap: wrap; }
.walks-tab { min-height: 34px; border: 2px solid #999; background: #fff; border-radius: 6px;
  cursor: pointer; font: 12px sans-serif; }
.walks-tab-active { background: #333; color: #fff; }
.walks-itinerary { padding-left: 0; list-style: none; margin: 6px 0; }
.walks-stop { display: block; width: 100%; min-height: 40px; text-align: left; border: none;
  border-top: 1px solid #ddd; background: none; padding: 5px 2px; cursor: pointer;
  font: 13px/1.3 sans-serif; }
.walks-stop:hover { background: #f4f4f4; }
.walks-stop-title { display: block; font-weight: bold; }
.walks-small { display: block; font-size: 11.5px; color: #555; }
.walks-reason { color: #777; }
.walks-warning { color: #8a4b00; }
.walks-credit { font-size: 11px; color: #555; margin-top: 4px; }
.walks-profile { width: 100%; height: 60px; }
.walks-profile polyline { fill: none; stroke: #2b8cbe; stroke-width: 2; }
.walks-locate { font-size: 22px; line-height: 36px; width: 36px; height: 36px; display: block;
  text-align: center; background: #fff; text-decoration: none; color: #333; }
.walks-popup h4 { margin: 0 0 4px; }
.walks-popup .cat { color: #555; font-size: 12px; text-transform: uppercase; }
.leaflet-control-attribution { max-width: calc(100vw - 130px); white-space: normal; }
@media (max-width: 600px) {
  .leaflet-control-attribution { font-size: 10px; }
  .walks-summary { width: auto; }
}
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


#: Stops closer than this share a place on the map and are spread apart, in metres.
SAME_PLACE_M = 25.0
#: Radius of the circle stops at one place are spread on, in pixels.
SPREAD_PX = 20
#: No direction arrow is drawn closer than this to a stop or an end, in metres.
ARROW_CLEARANCE_M = 45.0
#: Most points of an elevation profile.
PROFILE_POINTS = 300


def _metres(a: LatLon, b: LatLon) -> float:
    """Measure the distance between two points, in metres (``graph.haversine_m``)."""
    return float(haversine_m(np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon)))


def _shifts(points: list[LatLon]) -> list[list[int] | None]:
    """
    Spread markers that share a place around a small circle, so none hides another.

    Parameters
    ----------
    points
        The markers' positions.

    Returns
    -------
    list
        ``[dx, dy]`` pixel offsets, or None for a marker alone at its place.
    """
    groups: list[list[int]] = []
    for index, point in enumerate(points):
        for group in groups:
            if _metres(points[group[0]], point) < SAME_PLACE_M:
                group.append(index)
                break
        else:
            groups.append([index])
    out: list[list[int] | None] = [None] * len(points)
    for group in groups:
        if len(group) < 2:  # noqa: PLR2004
            continue
        for k, index in enumerate(group):
            angle = 2 * math.pi * k / len(group) - math.pi / 2
            out[index] = [round(SPREAD_PX * math.cos(angle)), round(SPREAD_PX * math.sin(angle))]
    return out


def _profile(walk: Walk, elevations: list[float]) -> list[list[float]] | None:
    """
    Sample an elevation profile: distance along the walk against ground elevation.

    Parameters
    ----------
    walk
        The walk.
    elevations
        Ground elevation per point of its geometry.

    Returns
    -------
    list or None
        ``[distance_m, elevation_m]`` pairs (at most ``PROFILE_POINTS``), or None when the
        elevations do not match the geometry.
    """
    if len(elevations) != len(walk.geometry) or len(elevations) < 2:  # noqa: PLR2004
        return None
    along = [0.0]
    for a, b in itertools.pairwise(walk.geometry):
        along.append(along[-1] + _metres(a, b))
    step = max(1, math.ceil(len(along) / PROFILE_POINTS))
    picks = [*range(0, len(along), step), len(along) - 1]
    return [[round(along[i], 1), round(float(elevations[i]), 1)] for i in sorted(set(picks))]


def _walk_data(
    walk: Walk,
    index: int,
    *,
    categories: dict[str, Category],
    departure: dt.datetime | None,
    climb_m: float | None,
    elevations: list[float] | None,
    warnings: list[str],
) -> dict[str, Any]:
    """
    Gather what the page shows of one walk.

    Parameters
    ----------
    walk
        The walk.
    index
        Its rank (0 for the best).
    categories
        Categories, for marker colours and icons.
    departure
        Local departure time, or None.
    climb_m
        Total climb, or None.
    elevations
        Ground elevation per geometry point, or None.
    warnings
        Messages for its summary.

    Returns
    -------
    dict
        JSON-serialisable data.
    """
    stops: list[dict[str, Any]] = []
    sightlines: list[list[list[float]]] = []
    landmarks: dict[tuple[float, float], str] = {}
    marks = {
        (
            round(v.stop.view.landmark_location.lat, 7),
            round(v.stop.view.landmark_location.lon, 7),
        ): (v.stop.view.landmark_location)
        for v in walk.stops
        if v.stop.view is not None
    }
    shifts = _shifts([*(v.stop.location for v in walk.stops), *marks.values()])
    for n, (visit, shift) in enumerate(zip(walk.stops, shifts, strict=False), 1):
        stop = visit.stop
        category = categories.get(stop.category)
        note = opening_record(visit, departure)["note"]
        leg_m = walk.legs[visit.leg].length_m if 0 <= visit.leg < len(walk.legs) else 0.0
        stops.append({
            "n": n, "lat": round(stop.location.lat, 7), "lon": round(stop.location.lon, 7),
            "shift": shift,
            "category": stop.category,
            "category_label": category.description if category else stop.category,
            "color": _color(category.color if category else None, "#444"),
            "emoji": _EMOJI.get(category.icon, "") if category else "",
            "name": stop.name, "reason": stop.reason,
            "arrival": _clock(visit.arrival_s, departure),
            "leg_km": f"{leg_m / 1000:.1f}",
            "opening": note or "hours not mapped",
            "osm_url": (
                f"https://www.openstreetmap.org/{stop.osm_id}"
                if _OSM_REF.fullmatch(stop.osm_id) else None
            ),
        })  # fmt: skip
        if stop.view is not None:
            mark = stop.view.landmark_location
            sightlines.append([_ll(stop.location.lat, stop.location.lon), _ll(mark.lat, mark.lon)])
            landmarks[(round(mark.lat, 7), round(mark.lon, 7))] = stop.view.landmark
    climb = walk.climb_m if walk.climb_m is not None else climb_m
    descent = walk.descent_m
    start, finish = walk.geometry[0], walk.geometry[-1]
    keep_clear = [start, finish, *(v.stop.location for v in walk.stops)]
    arrows = [
        [*_ll(where.lat, where.lon), round(bearing, 1)]
        for where, bearing in _arrows(walk.geometry, ARROW_SPACING_M)
        if all(_metres(where, p) >= ARROW_CLEARANCE_M for p in keep_clear)
    ]
    return {
        "name": "Walk" if index == 0 else f"Alternative {index + 1}",
        "color": ROUTE_COLORS[index % len(ROUTE_COLORS)],
        "coords": [_ll(p.lat, p.lon) for p in walk.geometry],
        "arrows": arrows,
        "start": _ll(start.lat, start.lon),
        "finish": _ll(finish.lat, finish.lon),
        "loop": _metres(start, finish) < 0.05,  # noqa: PLR2004
        "stops": stops,
        "sightlines": sightlines,
        "landmarks": [
            {"lat": lat, "lon": lon, "name": name, "shift": shift}
            for ((lat, lon), name), shift in zip(
                landmarks.items(), shifts[len(walk.stops) :], strict=True
            )
        ],
        "profile": None if elevations is None else _profile(walk, elevations),
        "summary": {
            "length_km": f"{walk.length_m / 1000:.1f}",
            "walking": _hm(walk.walking_time_s),
            "total": _hm(walk.total_time_s),
            "stops": len(walk.stops),
            "pleasant_pct": f"{100 * walk.pleasant_share:.0f}",
            "retraced_pct": f"{100 * walk.retraced_share:.0f}",
            "climb_m": None if climb is None else f"{climb:.0f}",
            "descent_m": None if descent is None else f"{descent:.0f}",
            "departure": None if departure is None else f"{departure:%a %d %b %H:%M}",
            "warnings": warnings,
            "attribution": ATTRIBUTION
            if climb is None
            else f"{ATTRIBUTION} · {TERRAIN_ATTRIBUTION}",
        },
    }


def view_bounds(walks: list[Walk]) -> BBox:
    """
    Find the box the map opens on: every walk and every stop, and the landmark when near.

    A landmark whose inclusion would more than double the box's diagonal is left out (its
    sight lines still point to it).

    Parameters
    ----------
    walks
        The walks.

    Returns
    -------
    BBox
        ``(west, south, east, north)``.
    """
    points = [p for w in walks for p in w.geometry]
    points += [v.stop.location for w in walks for v in w.stops]
    lats, lons = [p.lat for p in points], [p.lon for p in points]
    box = BBox(min(lons), min(lats), max(lons), max(lats))
    diagonal = _metres(LatLon(box.south, box.west), LatLon(box.north, box.east))
    for visit in walks[0].stops:
        if visit.stop.view is None:
            continue
        mark = visit.stop.view.landmark_location
        grown = BBox(min(box.west, mark.lon), min(box.south, mark.lat),
                     max(box.east, mark.lon), max(box.north, mark.lat))  # fmt: skip
        if _metres(LatLon(grown.south, grown.west), LatLon(grown.north, grown.east)) <= max(
            2 * diagonal, 500.0
        ):
            box = grown
    return box


def map_data(
    walks: list[Walk],
    *,
    title: str,
    categories: dict[str, Category],
    departure: dt.datetime | None = None,
    climb_m: float | None = None,
    elevations: list[float] | None = None,
    warnings: list[str] | None = None,
    basemap: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """
    Gather everything the map page shows, as plain data.

    Parameters
    ----------
    walks
        The walks, best first; each is a switchable layer with its own summary.
    title
        The page title.
    categories
        Categories, for marker colours and icons.
    departure
        Local departure time, for arrival clock times; None shows times since the start.
    climb_m
        Total climb of the best walk (with a DEM), or None.
    elevations
        Ground elevation per point of the best walk (with a DEM), for its profile; or None.
    warnings
        Messages to show in the best walk's summary.
    basemap
        The base map (see ``walks.basemap.basemap_data``), or None for none.

    Returns
    -------
    dict
        JSON-serialisable data read by the page's script (``walkmap.js``).
    """
    box = view_bounds(walks)
    return {
        "title": title,
        "tiles": {
            "url": TILE_URL,
            "attribution": f'Map data &copy; <a href="{OSM_COPYRIGHT_URL}">OpenStreetMap</a> '
            "contributors (ODbL)",
        },
        "basemap": basemap,
        "walks": [
            _walk_data(
                walk,
                index,
                categories=categories,
                departure=departure,
                climb_m=climb_m if index == 0 else None,
                elevations=elevations if index == 0 else None,
                warnings=list(warnings or ()) if index == 0 else [],
            )
            for index, walk in enumerate(walks)
        ],
        "bounds": [_ll(box.south, box.west), _ll(box.north, box.east)],
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
    elevations: list[float] | None = None,
    basemap: dict[str, Any] | None = None,
    cdn: bool = False,
) -> str:
    """
    Draw walks on an interactive Leaflet map, as one self-contained HTML page.

    The page is put together from fixed parts: no template engine is involved. Everything
    that comes from OSM, files or the user travels as JSON in a ``<script
    type="application/json">`` element (see ``json_for_script``), which the page's own
    script reads and shows with ``textContent``. A Content-Security-Policy allows only the
    page's own scripts (by hash) and Leaflet, so even markup that slipped in could not run.
    Leaflet is inlined (the copy shipped with walks) unless ``cdn`` asks for links.

    Parameters
    ----------
    walks
        The walks, best first; each is a switchable layer with its own summary.
    title
        The page title.
    categories
        Categories, for marker colours and icons.
    departure
        Local departure time, for arrival clock times; None shows times since the start.
    climb_m
        Total climb (with a DEM), or None.
    offline_assets
        Leaflet's ``(javascript, css)`` to inline; None uses ``export.leaflet_assets()``.
    warnings
        Messages to show in the summary panel.
    elevations
        Ground elevation per point of the best walk, for its profile; or None.
    basemap
        The base map drawn from OSM data (``walks.basemap.basemap_data``), or None.
    cdn
        Link Leaflet from its CDN instead of inlining it (a smaller file that needs network).

    Returns
    -------
    str
        The HTML page.

    Raises
    ------
    ExportError
        When Leaflet's files cannot be read.
    """
    data = map_data(walks, title=title, categories=categories, departure=departure,
                    climb_m=climb_m, elevations=elevations, warnings=warnings,
                    basemap=basemap)  # fmt: skip
    code = _resources.data_file("walkmap.js").read_text(encoding="utf-8")
    scripts = [code]
    cdn_origin = ""
    if cdn:
        leaflet_js = f'<script src="{LEAFLET_JS_URL}"></script>'
        leaflet_css = f'<link rel="stylesheet" href="{LEAFLET_CSS_URL}">'
        cdn_origin = " " + LEAFLET_JS_URL.rsplit("/", 1)[0] + "/"  # Leaflet's folder only
    else:
        js, css = offline_assets if offline_assets is not None else leaflet_assets()
        js = js.replace("</script", "<\\/script")
        scripts.append(js)
        leaflet_js = f"<script>{js}</script>"
        leaflet_css = "<style>" + css.replace("</style", "<\\/style") + "</style>"
    policy = (
        "default-src 'none'; "
        f"script-src {' '.join(_script_hash(s) for s in scripts)}{cdn_origin}; "
        f"style-src 'unsafe-inline'{cdn_origin}; img-src data: {_TILE_ORIGIN}{cdn_origin}; "
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
