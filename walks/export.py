"""Turn results into records and files: JSON summaries, GeoJSON, GPX 1.1 and text directions."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks import _files
from walks.errors import ExportError

if TYPE_CHECKING:
    from walks.types import Stop, Walk

ATTRIBUTION = "© OpenStreetMap contributors (ODbL)"


def stop_record(stop: Stop) -> dict[str, Any]:
    """
    Describe a stop as a JSON-ready dict.

    Parameters
    ----------
    stop
        The stop.

    Returns
    -------
    dict
        ``id``, ``osm_id``, ``name``, ``category``, ``lat``, ``lon``, ``score``, ``reason``,
        ``opening``, ``hours``; for views also ``visible_fraction``, ``distance_m``,
        ``bearing_deg``, ``unknown_m``, ``known_share`` (share of the sight line with building
        data), ``assumed_roofline_m``, ``lit``, ``golden_hour``, ``landmark`` and
        ``sight_line`` (``[[lat, lon], [lat, lon]]`` from the stop to the landmark).
    """
    record: dict[str, Any] = {
        "id": stop.id,
        "osm_id": stop.osm_id,
        "name": stop.name,
        "category": stop.category,
        "lat": round(stop.location.lat, 7),
        "lon": round(stop.location.lon, 7),
        "score": stop.score,
        "reason": stop.reason,
        "opening": stop.opening,
        "hours": stop.hours,
    }
    if stop.view is not None:
        v = stop.view
        record |= {
            "landmark": v.landmark,
            "visible_fraction": v.visible_fraction,
            "distance_m": v.distance_m,
            "bearing_deg": v.bearing_deg,
            "unknown_m": round(v.unknown_m, 1),
            "known_share": v.known_share,
            "assumed_roofline_m": v.assumed_roofline_m,
            "lit": v.lit,
            "golden_hour": v.golden_hour,
            "sight_line": [
                [round(stop.location.lat, 7), round(stop.location.lon, 7)],
                [v.landmark_location.lat, v.landmark_location.lon],
            ],
        }
    return record


def stops_geojson(stops: list[Stop]) -> dict[str, Any]:
    """
    Describe stops as a GeoJSON FeatureCollection of Points.

    Parameters
    ----------
    stops
        The stops.

    Returns
    -------
    dict
        The collection; each feature's properties are ``stop_record`` less lat/lon.
    """
    features = []
    for stop in stops:
        props = stop_record(stop)
        lat, lon = props.pop("lat"), props.pop("lon")
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
                "properties": props,
            }
        )
    return {"type": "FeatureCollection", "features": features, "attribution": ATTRIBUTION}


# ---------------------------------------------------------------------------- files

LEAFLET_VERSION = "1.9.4"
LEAFLET_JS_URL = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.js"
LEAFLET_CSS_URL = f"https://cdn.jsdelivr.net/npm/leaflet@{LEAFLET_VERSION}/dist/leaflet.css"
OSM_COPYRIGHT_URL = "https://www.openstreetmap.org/copyright"
ODBL_URL = "https://opendatacommons.org/licenses/odbl/1-0/"
#: Largest number of points in the GPX ``<rte>`` (many devices cap route points).
MAX_ROUTE_POINTS = 250


def check_writable(paths: list[Path], *, overwrite: bool) -> None:
    """
    Refuse to replace existing files unless asked, and check their folders exist.

    Parameters
    ----------
    paths
        The output files.
    overwrite
        Replace existing files.

    Raises
    ------
    ExportError
        When a file exists without ``overwrite``, is a folder, or its folder is missing.
    """
    for path in paths:
        if path.is_dir():
            msg = f"output {str(path)!r} is a folder: give a file name"
            raise ExportError(msg)
        if path.exists() and not path.is_file():
            msg = (
                f"output {str(path)!r} is not a regular file (a device or a pipe): give a file "
                "name, or --json - for standard output"
            )
            raise ExportError(msg)
        if path.exists() and not overwrite:
            msg = f"output {str(path)!r} already exists: pass --overwrite to replace it"
            raise ExportError(msg)
        if not path.parent.is_dir():
            msg = f"cannot write {str(path)!r}: the folder {str(path.parent)!r} does not exist"
            raise ExportError(msg)


def write_atomic(path: Path, text: str) -> None:
    """
    Write one output file atomically: a temporary file beside it, then a rename.

    Parameters
    ----------
    path
        The file.
    text
        Its content (UTF-8).

    Raises
    ------
    ExportError
        When it cannot be written; no partial file remains.
    """
    try:
        _files.write_atomic(path, text)
    except OSError as err:
        msg = f"cannot write {str(path)!r} ({err.strerror or err}): choose a writable place"
        raise ExportError(msg) from err


def _clock(seconds: float, departure: dt.datetime | None) -> str:
    """Arrival as clock time (with a departure) or as time since the start."""
    if departure is not None:
        return f"{departure + dt.timedelta(seconds=seconds):%H:%M}"
    minutes = round(seconds / 60)
    return f"+{minutes // 60}:{minutes % 60:02d}"


def walk_summary(walk: Walk, *, departure: dt.datetime | None = None) -> dict[str, Any]:
    """
    Describe a walk for scripts (the ``--json`` output).

    Parameters
    ----------
    walk
        The walk.
    departure
        Local departure time, or None.

    Returns
    -------
    dict
        ``length_m``, ``walking_time_s``, ``total_time_s``, ``budget_error``, ``retraced_share``,
        ``pleasant_share``, ``dead_end_spurs``, ``seed``, ``start_offset_m``, ``end_offset_m``,
        ``climb_m`` and ``descent_m`` (from the terrain; null without), ``warnings`` (a list of
        ``{"code", "message"}``, empty when none), ``stops`` (each with ``name``, ``category``,
        ``lat``, ``lon``, ``arrival_s``, ``reason`` and more), ``directions`` (text per leg) and
        ``attribution``.
    """
    stops = []
    for visit in walk.stops:
        record = stop_record(visit.stop) | {"arrival_s": round(visit.arrival_s, 1)}
        if departure is not None:
            record["arrival"] = _clock(visit.arrival_s, departure)
        stops.append(record)
    return {
        "length_m": round(walk.length_m, 1),
        "walking_time_s": round(walk.walking_time_s, 1),
        "total_time_s": round(walk.total_time_s, 1),
        "budget_error": round(walk.budget_error, 4),
        "retraced_share": round(walk.retraced_share, 4),
        "pleasant_share": round(walk.pleasant_share, 4),
        "dead_end_spurs": walk.dead_end_spurs,
        "seed": walk.seed,
        "start_offset_m": round(walk.start_offset_m, 1),
        "end_offset_m": round(walk.end_offset_m, 1),
        "climb_m": walk.climb_m,
        "descent_m": walk.descent_m,
        "warnings": [{"code": w.code, "message": w.message} for w in walk.warnings],
        "departure": departure.isoformat(timespec="minutes") if departure else None,
        "stops": stops,
        "directions": [[step.instruction for step in leg.steps] for leg in walk.legs],
        "attribution": ATTRIBUTION,
    }


def directions_text(walk: Walk, *, departure: dt.datetime | None = None) -> str:
    """
    Write turn-by-turn directions as text, leg by leg.

    Parameters
    ----------
    walk
        The walk.
    departure
        Local departure time, or None.

    Returns
    -------
    str
        One line per step; a heading line per stop reached.
    """
    lines: list[str] = []
    by_leg = {v.leg: v for v in walk.stops}
    for i, leg in enumerate(walk.legs):
        lines.extend(f"  {step.instruction}" for step in leg.steps)
        visit = by_leg.get(i)
        if visit is not None:
            lines.append(f"{_clock(visit.arrival_s, departure)}  arrive at {visit.stop.name} "
                         f"({visit.stop.category}): {visit.stop.reason}")  # fmt: skip
    lines.append(f"{_clock(walk.total_time_s, departure)}  finish: {walk.length_m / 1000:.1f} km")
    return "\n".join(lines) + "\n"


def walk_geojson(walk: Walk) -> dict[str, Any]:
    """
    Describe a walk as a GeoJSON FeatureCollection: the route line, then one Point per stop.

    Parameters
    ----------
    walk
        The walk.

    Returns
    -------
    dict
        The collection; the route's properties are the summary figures.
    """
    summary = walk_summary(walk)
    route_props = {k: v for k, v in summary.items() if k not in {"stops", "directions"}}
    route = {
        "type": "Feature",
        "geometry": {"type": "LineString",
                     "coordinates": [[round(p.lon, 7), round(p.lat, 7)] for p in walk.geometry]},
        "properties": {"kind": "route", **route_props},
    }  # fmt: skip
    points = stops_geojson([v.stop for v in walk.stops])["features"]
    for feature, visit in zip(points, walk.stops, strict=True):
        feature["properties"] |= {"kind": "stop", "arrival_s": round(visit.arrival_s, 1)}
    return {"type": "FeatureCollection", "features": [route, *points], "attribution": ATTRIBUTION}


_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_safe(text: str) -> str:
    """
    Drop the characters XML 1.0 cannot hold (control characters), which OSM text may contain.

    Carriage returns become line feeds, as any XML parser would read them.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    str
        The text without them; escaping of ``<`` and ``&`` is left to the XML writer.
    """
    return _NOT_XML.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def gpx_text(
    walk: Walk,
    *,
    title: str,
    departure: dt.datetime | None = None,
    elevations: list[float] | None = None,
    route_points: int = MAX_ROUTE_POINTS,
) -> str:
    """
    Write a walk as GPX 1.1: metadata with the OSM credit, the track, waypoints, a short route.

    Parameters
    ----------
    walk
        The walk.
    title
        The walk's name.
    departure
        Local departure time (aware or naive), or None.
    elevations
        Ground elevation per geometry point (from a DEM), or None.
    route_points
        Most points in the simplified ``<rte>``; 0 leaves the route out.

    Returns
    -------
    str
        The GPX document.
    """
    import gpxpy.gpx  # noqa: PLC0415 - gpxpy lives here only

    gpx = gpxpy.gpx.GPX()
    gpx.creator = "walks (https://github.com/walks-planner/walks)"
    gpx.name = xml_safe(title)
    gpx.description = (
        f"{walk.length_m / 1000:.1f} km, {walk.total_time_s / 60:.0f} min with "
        f"{len(walk.stops)} stop(s). Map data {ATTRIBUTION}."
    )
    gpx.author_name = "walks"
    gpx.copyright_author = "OpenStreetMap contributors"
    gpx.copyright_license = ODBL_URL
    gpx.link = OSM_COPYRIGHT_URL
    gpx.link_text = "Map data © OpenStreetMap contributors"
    # the departure, never the clock: the same walk gives the same file
    gpx.time = departure.replace(microsecond=0) if departure is not None else None
    track = gpxpy.gpx.GPXTrack(name=gpx.name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for i, point in enumerate(walk.geometry):
        elevation = None if elevations is None else round(float(elevations[i]), 1)
        segment.points.append(gpxpy.gpx.GPXTrackPoint(point.lat, point.lon, elevation=elevation))
    track.segments.append(segment)
    gpx.tracks.append(track)
    for n, visit in enumerate(walk.stops, 1):
        stop = visit.stop
        gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(
            stop.location.lat, stop.location.lon, name=xml_safe(f"{n}. {stop.name}"),
            description=xml_safe(stop.reason), type=xml_safe(stop.category),
            symbol=_GPX_SYMBOLS.get(stop.category, "Flag"),
            comment=f"arrive {_clock(visit.arrival_s, departure)}",
        ))  # fmt: skip
    if route_points > 0:
        route = gpxpy.gpx.GPXRoute(name=gpx.name)
        for lat, lon in simplify_line([(p.lat, p.lon) for p in walk.geometry], route_points):
            route.points.append(gpxpy.gpx.GPXRoutePoint(lat, lon))
        gpx.routes.append(route)
    return str(gpx.to_xml(version="1.1"))


_GPX_SYMBOLS = {"cafe": "Restaurant", "studio": "Museum", "view": "Scenic Area"}


def simplify_line(points: list[tuple[float, float]], max_points: int) -> list[tuple[float, float]]:
    """
    Simplify a line (Douglas-Peucker) until it has at most ``max_points`` points.

    Parameters
    ----------
    points
        ``(lat, lon)`` pairs.
    max_points
        The most points to keep (at least 2).

    Returns
    -------
    list
        The kept points; the first and last are always kept.
    """
    from shapely import LineString  # noqa: PLC0415

    if len(points) <= max_points:
        return points
    line = LineString([(lon, lat) for lat, lon in points])
    tolerance = 1e-6
    while True:
        simple = line.simplify(tolerance, preserve_topology=False)
        if len(simple.coords) <= max(2, max_points):
            return [(lat, lon) for lon, lat in simple.coords]
        tolerance *= 1.6


def leaflet_assets(cache_dir: Path | None = None) -> tuple[str, str]:
    """
    Find Leaflet's JavaScript and CSS, to inline in a self-contained map.

    Looked for in ``WALKS_LEAFLET_DIR``, then the walks cache (``cache_dir/assets``, filled by
    ``walks assets fetch``), then the copy shipped inside walks (Leaflet 1.9.4, BSD-2-Clause,
    ``data/leaflet``), so a map never needs a download.

    Parameters
    ----------
    cache_dir
        The walks cache directory; None uses the default.

    Returns
    -------
    tuple of str
        ``(javascript, css)`` texts, the CSS with its images as data URIs.

    Raises
    ------
    ExportError
        When the copy found cannot be read.
    """
    from walks import settings  # noqa: PLC0415
    from walks._resources import data_file  # noqa: PLC0415

    folders = []
    if os.environ.get("WALKS_LEAFLET_DIR"):
        folders.append(Path(os.environ["WALKS_LEAFLET_DIR"]))
    folders.append((cache_dir or settings.default_cache_dir()) / "assets")
    folders.append(data_file("leaflet"))
    for folder in folders:
        js, css = folder / "leaflet.js", folder / "leaflet.css"
        if js.is_file() and css.is_file():
            try:
                css_text = inline_images(css.read_text(encoding="utf-8"), folder)
                return js.read_text(encoding="utf-8"), css_text
            except (OSError, UnicodeDecodeError) as err:
                msg = (
                    f"cannot read Leaflet's files in {str(folder)!r} ({err}): run "
                    "`walks assets fetch` again, or point WALKS_LEAFLET_DIR at a good copy"
                )
                raise ExportError(msg) from err
    msg = (
        "Leaflet's files are missing from this installation: reinstall walks, or set "
        "WALKS_LEAFLET_DIR to a folder holding leaflet.js and leaflet.css"
    )
    raise ExportError(msg)


def inline_images(css: str, folder: Path) -> str:
    """
    Replace ``url(images/NAME.png)`` references in Leaflet's CSS with data URIs.

    Parameters
    ----------
    css
        Leaflet's CSS.
    folder
        The folder holding it (with an ``images`` subfolder).

    Returns
    -------
    str
        The CSS; references to missing images are left alone.
    """

    def data_uri(match: re.Match[str]) -> str:
        path = folder / match.group(1)
        if not path.is_file():
            return match.group(0)
        encoded = base64.b64encode(path.read_bytes()).decode()
        return f"url(data:image/png;base64,{encoded})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
