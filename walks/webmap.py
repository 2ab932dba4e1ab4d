"""Walk -> interactive HTML map (folium / Leaflet), optionally self-contained for offline use.

Only Leaflet itself is loaded: markers are plain HTML icons, popups, the summary panel and the
locate-me button are small scripts of ours, so an offline map needs no plugin. Every OSM text
reaches the page either HTML-escaped or as a JSON string handed to Leaflet.
"""

from __future__ import annotations

import html
import itertools
import math
from typing import TYPE_CHECKING, Any

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
_CSS = """
.walks-pin { border-radius: 50%; color: #fff; font: bold 13px/26px sans-serif; text-align: center;
  width: 26px; height: 26px; border: 2px solid #fff; box-shadow: 0 1px 4px rgba(0,0,0,.5); }
.walks-end { border-radius: 6px; width: 30px; }
.walks-arrow { color: #fff; font: 14px/14px sans-serif; text-shadow: 0 0 3px #000; }
.walks-summary { background: rgba(255,255,255,.94); padding: 8px 12px; border-radius: 6px;
  font: 13px/1.4 sans-serif; box-shadow: 0 1px 5px rgba(0,0,0,.4); max-width: 290px; }
.walks-summary h3 { margin: 0 0 4px; font-size: 15px; }
.walks-locate { font-size: 20px; line-height: 30px; width: 30px; height: 30px; display: block;
  text-align: center; background: #fff; text-decoration: none; color: #333; }
.walks-popup h4 { margin: 0 0 4px; }
.walks-popup .cat { color: #555; font-size: 12px; text-transform: uppercase; }
"""


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


def _script_element(js: str) -> Any:  # noqa: ANN401 - a branca MacroElement
    """Make a folium element running a script (``{parent}`` names the element it is added to)."""
    from branca.element import MacroElement  # noqa: PLC0415
    from jinja2 import Template  # noqa: PLC0415

    element: Any = MacroElement()
    element._template = Template(  # noqa: SLF001 - branca's documented way to add a script
        "{% macro script(this, kwargs) %}"
        + js.replace("{parent}", "{{ this._parent.get_name() }}")
        + "{% endmacro %}"
    )
    return element


def _popup(marker: Any, content: str) -> None:  # noqa: ANN401 - a folium Marker
    """Bind an HTML popup to a marker; the HTML reaches Leaflet as a JSON string."""
    element = _script_element("{parent}.bindPopup({{ this.content|tojson }}, {maxWidth: 320});")
    element.content = content
    marker.add_child(element)


def _pin(text: str, color: str, *, extra: str = "") -> Any:  # noqa: ANN401 - a folium DivIcon
    """Make a round HTML marker with text; the text must already be escaped."""
    import folium  # noqa: PLC0415

    return folium.DivIcon(
        html=f'<div class="walks-pin {extra}" style="background:{html.escape(color)}">{text}</div>',
        icon_size=(30, 30), icon_anchor=(15, 15), class_name="walks-icon",
    )  # fmt: skip


def map_html(  # noqa: C901, PLR0915 - one page, built top to bottom
    walks: list[Walk],
    *,
    title: str,
    categories: dict[str, Category],
    departure: dt.datetime | None = None,
    climb_m: float | None = None,
    offline_assets: tuple[str, str] | None = None,
) -> str:
    """
    Draw walks on an interactive map.

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

    Returns
    -------
    str
        The HTML page.
    """
    import folium  # noqa: PLC0415 - folium lives here only

    best = walks[0]
    lats = [p.lat for w in walks for p in w.geometry]
    lons = [p.lon for w in walks for p in w.geometry]
    fmap = folium.Map(location=[sum(lats) / len(lats), sum(lons) / len(lons)], tiles=None,
                      control_scale=True, zoom_start=15)  # fmt: skip
    fmap.default_js = [("leaflet", LEAFLET_JS_URL)]
    fmap.default_css = [("leaflet_css", LEAFLET_CSS_URL)]
    folium.TileLayer(
        "OpenStreetMap",
        attr=f'Map data &copy; <a href="{OSM_COPYRIGHT_URL}">OpenStreetMap</a> contributors (ODbL)',
        name="OpenStreetMap",
    ).add_to(fmap)
    root: Any = fmap.get_root()
    root.header.add_child(folium.Element(f"<title>{html.escape(title)}</title>"))
    root.header.add_child(folium.Element(f"<style>{_CSS}</style>"))

    for index, walk in enumerate(walks):
        label = "Route" if index == 0 else f"Alternative {index + 1}"
        group = folium.FeatureGroup(name=label, show=index == 0).add_to(fmap)
        color = ROUTE_COLORS[index % len(ROUTE_COLORS)]
        folium.PolyLine(
            [(p.lat, p.lon) for p in walk.geometry], color=color, weight=5 if index == 0 else 4,
            opacity=0.85, dash_array=None if index == 0 else "8 6",
            class_name=f"walks-route-{index}",
        ).add_to(group)  # fmt: skip
        for where, bearing in _arrows(walk.geometry, ARROW_SPACING_M):
            folium.Marker(
                (where.lat, where.lon),
                icon=folium.DivIcon(
                    html=(
                        '<div class="walks-arrow" '
                        f'style="transform: rotate({bearing - 90:.0f}deg)">➤</div>'
                    ),
                    icon_size=(14, 14), icon_anchor=(7, 7), class_name="walks-icon",
                ),
            ).add_to(group)  # fmt: skip

    start, finish = best.geometry[0], best.geometry[-1]
    ends = folium.FeatureGroup(name="Start and finish").add_to(fmap)
    loop = abs(start.lat - finish.lat) < 1e-7 and abs(start.lon - finish.lon) < 1e-7  # noqa: PLR2004
    marker = folium.Marker(
        (start.lat, start.lon), icon=_pin("S/F" if loop else "S", "#222", extra="walks-end")
    )
    _popup(marker, "<b>Start and finish</b>" if loop else "<b>Start</b>")
    marker.add_to(ends)
    if not loop:
        marker = folium.Marker((finish.lat, finish.lon), icon=_pin("F", "#222", extra="walks-end"))
        _popup(marker, f"<b>Finish</b><br>{best.length_m / 1000:.1f} km")
        marker.add_to(ends)

    stop_groups: dict[str, Any] = {}
    sight_group = None
    landmarks: dict[tuple[float, float], str] = {}
    for n, visit in enumerate(best.stops, 1):
        stop = visit.stop
        category = categories.get(stop.category)
        if stop.category not in stop_groups:
            name = category.description if category else stop.category
            stop_groups[stop.category] = folium.FeatureGroup(
                name=f"Stops: {html.escape(stop.category)} ({html.escape(name)})"
            ).add_to(fmap)
        color = category.color if category else "#444"
        emoji = _EMOJI.get(category.icon, "") if category else ""
        opening = {"open": "open", "closed": "closed at arrival", "unknown": "hours unknown"}
        lines = [
            f'<div class="walks-popup"><div class="cat">{emoji} {html.escape(stop.category)}</div>',
            f"<h4>{n}. {html.escape(stop.name)}</h4>",
            f"<div>{html.escape(stop.reason)}</div>",
            f"<div><b>Arrival:</b> {html.escape(_clock(visit.arrival_s, departure))}</div>",
            f"<div><b>Opening:</b> {html.escape(opening.get(stop.opening, stop.opening))}"
            + (f" ({html.escape(stop.hours)})" if stop.hours and stop.opening != "unknown" else "")
            + "</div>",
            (
                f'<div><a href="https://www.openstreetmap.org/{html.escape(stop.osm_id)}" '
                'target="_blank" rel="noopener">on OpenStreetMap</a></div></div>'
            ),
        ]
        marker = folium.Marker(
            (stop.location.lat, stop.location.lon), icon=_pin(str(n), color),
        )  # fmt: skip
        _popup(marker, "".join(lines))
        marker.add_to(stop_groups[stop.category])
        if stop.view is not None:
            if sight_group is None:
                sight_group = folium.FeatureGroup(name="Sight lines").add_to(fmap)
            v = stop.view
            folium.PolyLine(
                [(stop.location.lat, stop.location.lon),
                 (v.landmark_location.lat, v.landmark_location.lon)],
                color="#e6a100", weight=2, dash_array="4 6", class_name="walks-sightline",
            ).add_to(sight_group)  # fmt: skip
            landmarks[(v.landmark_location.lat, v.landmark_location.lon)] = v.landmark
    for (lat, lon), name in landmarks.items():
        assert sight_group is not None
        marker = folium.Marker((lat, lon), icon=_pin("★", "#e6a100"))
        _popup(marker, f"<b>{html.escape(name)}</b><br>the landmark")
        marker.add_to(sight_group)

    hours, minutes = divmod(round(best.total_time_s / 60), 60)
    walk_h, walk_m = divmod(round(best.walking_time_s / 60), 60)
    summary = [
        f"<h3>{html.escape(title)}</h3>",
        (
            f"<div><b>{best.length_m / 1000:.1f} km</b> · walking {walk_h}:{walk_m:02d} · "
            f"total {hours}:{minutes:02d} with {len(best.stops)} stop(s)</div>"
        ),
        (
            f"<div>Pleasant streets: {100 * best.pleasant_share:.0f} % · retraced: "
            f"{100 * best.retraced_share:.0f} %</div>"
        ),
    ]
    if climb_m is not None:
        summary.append(f"<div>Climb: {climb_m:.0f} m</div>")
    if departure is not None:
        summary.append(f"<div>Departure {html.escape(f'{departure:%a %d %b %H:%M}')}</div>")
    summary.append(f'<div style="font-size:11px;color:#555">{html.escape(ATTRIBUTION)}</div>')
    panel = _script_element(
        "var walksSummary = L.control({position: 'bottomleft'});"
        "walksSummary.onAdd = function () {"
        " var div = L.DomUtil.create('div', 'walks-summary');"
        " div.innerHTML = {{ this.summary|tojson }};"
        " L.DomEvent.disableClickPropagation(div); return div; };"
        "walksSummary.addTo({parent});"
    )
    panel.summary = "".join(summary)
    fmap.add_child(panel)
    fmap.add_child(_script_element(
        "var WalksLocate = L.Control.extend({onAdd: function (map) {"
        " var a = L.DomUtil.create('a', 'walks-locate leaflet-bar');"
        " a.href = '#'; a.title = 'Show where I am'; a.setAttribute('role', 'button');"
        " a.innerHTML = '&#9678;';"
        " L.DomEvent.on(a, 'click', function (e) { L.DomEvent.preventDefault(e);"
        "  map.locate({setView: true, maxZoom: 17}); });"
        " return a; }});"
        "new WalksLocate({position: 'topleft'}).addTo({parent});"
        "{parent}.on('locationfound', function (e) {"
        " L.circle(e.latlng, {radius: e.accuracy, color: '#2b8cbe'}).addTo({parent}); });"
    ))  # fmt: skip
    folium.LayerControl(collapsed=True).add_to(fmap)
    fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    page = str(root.render())
    if offline_assets is not None:
        js, css = offline_assets
        page = page.replace(
            f'<script src="{LEAFLET_JS_URL}"></script>',
            "<script>" + js.replace("</script", "<\\/script") + "</script>",
        ).replace(
            f'<link rel="stylesheet" href="{LEAFLET_CSS_URL}"/>',
            "<style>" + css.replace("</style", "<\\/style") + "</style>",
        )
    return page
