"""Turn results into records and files: JSON summaries, GeoJSON, GPX 1.1 and text directions."""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks import _files
from walks.errors import ExportError

if TYPE_CHECKING:
    from walks.types import Leg, Maneuver, Stop, VisitedStop, Walk

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


def reach_record(visit: VisitedStop) -> dict[str, Any]:
    """
    Say where the walk reaches a stop: its point nearest the stop, and how far that is.

    Parameters
    ----------
    visit
        The visit.

    Returns
    -------
    dict
        ``reached_at`` (``{"lat", "lon"}``, null when unknown) and ``reach_distance_m``.
    """
    at = visit.reached_at
    return {
        "reached_at": None if at is None else {"lat": round(at.lat, 7), "lon": round(at.lon, 7)},
        "reach_distance_m": round(visit.reach_distance_m, 1),
    }


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


def opening_record(visit: VisitedStop, departure: dt.datetime | None) -> dict[str, Any]:
    """
    Describe a visit's time and opening for the JSON.

    Parameters
    ----------
    visit
        The visit.
    departure
        Local departure time, or None (hours then are shown, not checked).

    Returns
    -------
    dict
        ``arrival`` (local ``HH:MM`` when the visit starts, None without a departure),
        ``wait_s`` (seconds waited for the stop to open), ``opening`` (``open``,
        ``closes_soon``, ``closed``, ``unknown``; None without a departure), ``closes``
        (local ``HH:MM`` or None), ``opening_hours_raw`` (the tag as mapped, or None) and
        ``note`` (clear text: "open until 18:00", "hours unknown \u2014 check before you go").
    """
    stop = visit.stop
    raw = stop.opening_hours or None
    if departure is None:
        note = f"hours: {raw} (not checked: no departure time)" if raw else stop.hours
        return {"arrival": None, "wait_s": 0.0, "opening": None, "closes": None,
                "opening_hours_raw": raw, "note": note}  # fmt: skip
    note = stop.hours
    if visit.wait_s > 0:
        note = f"wait {visit.wait_s / 60:.0f} min for it to open; {note}"
    return {
        "arrival": _clock(visit.arrival_s, departure), "wait_s": round(visit.wait_s, 1),
        "opening": stop.opening, "closes": stop.closes or None, "opening_hours_raw": raw,
        "note": note,
    }  # fmt: skip


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
        ``lat``, ``lon``, ``arrival_s``, ``reason``, ``reached_at`` and ``reach_distance_m``
        (the walk's point nearest the stop, where the visit is made), and more), ``maneuvers``
        (per leg, a list of ``{"type", "modifier", "name", "distance_m", "lat", "lon",
        "instruction"}``: ``type`` one of depart, turn, continue, fork, uturn, arrive),
        ``directions`` (the maneuvers' instructions per leg) and ``attribution``.
    """
    stops = []
    for visit in walk.stops:
        record = stop_record(visit.stop) | {"arrival_s": round(visit.arrival_s, 1)}
        record |= reach_record(visit) | opening_record(visit, departure)
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
        "hours_enforced": departure is not None,
        "stops": stops,
        "maneuvers": [[maneuver_record(m) for m in leg.maneuvers] for leg in walk.legs],
        "directions": [[line for _, line in _leg_lines(leg)] for leg in walk.legs],
        "attribution": ATTRIBUTION,
    }


def maneuver_record(maneuver: Maneuver) -> dict[str, Any]:
    """
    Describe a maneuver as a JSON-ready dict.

    Parameters
    ----------
    maneuver
        The maneuver.

    Returns
    -------
    dict
        ``type``, ``modifier``, ``name``, ``distance_m``, ``lat``, ``lon``, ``instruction``.
    """
    return {
        "type": maneuver.type,
        "modifier": maneuver.modifier,
        "name": maneuver.name,
        "distance_m": round(maneuver.distance_m, 1),
        "lat": maneuver.lat,
        "lon": maneuver.lon,
        "instruction": maneuver.instruction,
    }


def _leg_lines(leg: Leg) -> list[tuple[str, str]]:
    """List a leg's direction lines as ``(type, instruction)``: its maneuvers, else its steps."""
    if leg.maneuvers:
        return [(m.type, m.instruction) for m in leg.maneuvers]
    return [("step", step.instruction) for step in leg.steps]


def _hours_note(visit: VisitedStop, departure: dt.datetime | None) -> str:
    """
    Say a stop's opening on its arrival line: "; open until 18:00", or nothing when unknown.

    Parameters
    ----------
    visit
        The visit.
    departure
        Local departure time, or None (then the hours are not checked and not said).

    Returns
    -------
    str
        ``"; <note>"`` or ``""``.
    """
    if departure is None:
        return ""
    note = opening_record(visit, departure)["note"]
    return f"; {note}" if note else ""


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
        One line per maneuver, indented; per stop reached a line with the arrival time, the
        side it is on, its category and why it is on the walk; a last line with the finish.
    """
    lines: list[str] = []
    by_leg = {v.leg: v for v in walk.stops}
    for i, leg in enumerate(walk.legs):
        visit = by_leg.get(i)
        for kind, text in _leg_lines(leg):
            if kind != "arrive":
                lines.append(f"  {text}")
            elif visit is not None:
                lines.append(f"{_clock(visit.arrival_s, departure)}  {text} "
                             f"({visit.stop.category}): {visit.stop.reason}"
                             f"{_hours_note(visit, departure)}")  # fmt: skip
        if visit is not None and not leg.maneuvers:
            lines.append(f"{_clock(visit.arrival_s, departure)}  arrive at {visit.stop.name} "
                         f"({visit.stop.category}): {visit.stop.reason}"
                         f"{_hours_note(visit, departure)}")  # fmt: skip
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
    route_props = {
        k: v for k, v in summary.items() if k not in {"stops", "directions", "maneuvers"}
    }
    route = {
        "type": "Feature",
        "geometry": {"type": "LineString",
                     "coordinates": [[round(p.lon, 7), round(p.lat, 7)] for p in walk.geometry]},
        "properties": {"kind": "route", **route_props},
    }  # fmt: skip
    points = stops_geojson([v.stop for v in walk.stops])["features"]
    for feature, visit in zip(points, walk.stops, strict=True):
        feature["properties"] |= {"kind": "stop", "arrival_s": round(visit.arrival_s, 1)}
        feature["properties"] |= reach_record(visit)
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


#: The clock a GPX's times start from when no departure is given: midnight of a fixed, nominal
#: day, so a time of day reads as the time since setting off (00:12:30 is 12.5 min in).
GPX_NOMINAL_START = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
#: How categories are named in a walk's title.
_CATEGORY_WORDS = {"cafe": "café"}


def walk_title(area: str, walk: Walk) -> str:
    """
    Name a walk as a phone app lists it: the area, the stops, the length and the time.

    Parameters
    ----------
    area
        The area's name ("Helsinki centre").
    walk
        The walk.

    Returns
    -------
    str
        ``"Helsinki centre: café, studio and view — 3.8 km, 1:30"`` (each category once, in
        walking order; ``"a walk"`` without stops).
    """
    kinds: list[str] = []
    for visit in walk.stops:
        word = _CATEGORY_WORDS.get(visit.stop.category, visit.stop.category.replace("_", " "))
        if word not in kinds:
            kinds.append(word)
    what = "a walk" if not kinds else kinds[0]
    if len(kinds) > 1:
        what = f"{', '.join(kinds[:-1])} and {kinds[-1]}"
    minutes = round(walk.total_time_s / 60)
    return f"{area}: {what} — {walk.length_m / 1000:.1f} km, {minutes // 60}:{minutes % 60:02d}"


def _elapsed(walk: Walk) -> tuple[list[float], list[float]]:
    """
    Map distance along a walk's geometry to planned seconds since departure.

    Parameters
    ----------
    walk
        The walk.

    Returns
    -------
    tuple of list
        ``(metres, seconds)`` breakpoints for interpolation: each leg walked at the walk's speed,
        ending at its stop's arrival time (the last at the total time), so the dwell at a stop
        is a jump between one leg's end and the next's start.
    """
    metres: list[float] = []
    seconds: list[float] = []
    arrivals = {v.leg: v.arrival_s for v in walk.stops}
    done = 0.0
    for i, leg in enumerate(walk.legs):
        end_s = arrivals.get(i, walk.total_time_s if i == len(walk.legs) - 1 else None)
        start_s = seconds[-1] if seconds else 0.0
        if end_s is None:
            end_s = start_s + leg.walking_time_s
        metres += [done, done + leg.length_m]
        seconds += [max(start_s, end_s - leg.walking_time_s), end_s]
        done += leg.length_m
    return metres, seconds


def _along(walk: Walk) -> list[float]:
    """Metres along a walk's geometry at each of its points, scaled to its length."""
    import numpy as np  # noqa: PLC0415

    from walks.graph import haversine_m  # noqa: PLC0415

    lat = np.array([p.lat for p in walk.geometry])
    lon = np.array([p.lon for p in walk.geometry])
    steps = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:]) if lat.size > 1 else np.zeros(0)
    s = np.concatenate([[0.0], np.cumsum(steps)])
    if s[-1] > 0:
        s *= walk.length_m / s[-1]
    return [float(v) for v in s]


def _maneuver_index(walk: Walk) -> list[tuple[Maneuver, int]]:
    """Each maneuver with the geometry point it stands at (the nearest, in walking order)."""
    import numpy as np  # noqa: PLC0415

    from walks.graph import haversine_m  # noqa: PLC0415

    lat = np.array([p.lat for p in walk.geometry])
    lon = np.array([p.lon for p in walk.geometry])
    out: list[tuple[Maneuver, int]] = []
    at = 0
    for leg in walk.legs:
        for m in leg.maneuvers:
            if lat.size == 0:
                out.append((m, 0))
                continue
            dist = haversine_m(lat[at:], lon[at:], np.full(lat.size - at, m.lat),
                               np.full(lat.size - at, m.lon))  # fmt: skip
            close = np.flatnonzero(dist < 1.0)
            at += int(close[0]) if close.size else int(np.argmin(dist))
            out.append((m, at))
    return out


def gpx_text(
    walks: Walk | Sequence[Walk],
    *,
    title: str,
    departure: dt.datetime | None = None,
    elevations: list[float] | None = None,
    route_points: int = MAX_ROUTE_POINTS,
    times: bool = False,
    area: str | None = None,
) -> str:
    """
    Write walks as GPX 1.1: metadata with the OSM credit, waypoints, turn prompts, tracks.

    Parameters
    ----------
    walks
        The walk, or the walks (best first): one ``<trk>`` and one ``<rte>`` each.
    title
        The file's name for the walk, used when ``area`` is not given.
    departure
        Local departure time (aware or naive), or None.
    elevations
        Ground elevation per geometry point of the first walk (from a DEM), or None.
    route_points
        Most points in each ``<rte>``; 0 leaves the routes out.
    times
        Give every track, route and waypoint its planned time: the departure plus the time
        walked (at the walk's speed) and spent at stops; without a departure the times start
        at ``GPX_NOMINAL_START`` (midnight, 2000-01-01 UTC), so they read as time since the start.
    area
        The area's name: the metadata and tracks are named ``walk_title(area, walk)``.

    Returns
    -------
    str
        The document. The waypoints are the first walk's stops. Each ``<rte>`` holds only the
        walk's maneuvers, each point named with its instruction ("Turn left onto Rue Lepic,
        120 m"), so phone apps prompt the turns; it is never a thinned copy of the track.
    """
    import gpxpy.gpx  # noqa: PLC0415 - gpxpy lives here only

    many = [walks] if not isinstance(walks, Sequence) else list(walks)
    if not many:
        msg = "no walk to write as GPX: plan a walk first"
        raise ExportError(msg)
    best = many[0]
    gpx = gpxpy.gpx.GPX()
    gpx.creator = "walks (https://github.com/walks-planner/walks)"
    gpx.name = xml_safe(walk_title(area, best) if area is not None else title)
    gpx.description = (
        f"{best.length_m / 1000:.1f} km, {_duration(best.total_time_s)} with "
        f"{len(best.stops)} stop(s). Map data {ATTRIBUTION}."
    )
    gpx.author_name = "walks"
    gpx.copyright_author = "OpenStreetMap contributors"
    gpx.copyright_license = ODBL_URL
    gpx.link = OSM_COPYRIGHT_URL
    gpx.link_text = "Map data © OpenStreetMap contributors"
    # the departure, never the clock: the same walk gives the same file
    gpx.time = departure.replace(microsecond=0) if departure is not None else None
    origin = departure.replace(microsecond=0) if departure is not None else GPX_NOMINAL_START
    for n, visit in enumerate(best.stops, 1):
        stop = visit.stop
        gpx.waypoints.append(gpxpy.gpx.GPXWaypoint(
            stop.location.lat, stop.location.lon, name=xml_safe(f"{n}. {stop.name}"),
            description=xml_safe(stop.reason), type=xml_safe(stop.category),
            symbol=_GPX_SYMBOLS.get(stop.category, "Flag"),
            comment=f"arrive {_clock(visit.arrival_s, departure)}",
            time=origin + dt.timedelta(seconds=round(visit.arrival_s)) if times else None,
        ))  # fmt: skip
    for k, walk in enumerate(many):
        name = (
            gpx.name
            if k == 0
            else xml_safe(
                f"Alternative {k + 1}: " + (walk_title(area, walk) if area is not None else title)
            )
        )
        heights = elevations if k == 0 else None
        gpx.tracks.append(_gpx_track(walk, name, heights, origin if times else None))
        if route_points > 0:
            gpx.routes.append(_gpx_route(walk, name, heights, origin if times else None,
                                         route_points))  # fmt: skip
    return str(gpx.to_xml(version="1.1"))


def _duration(seconds: float) -> str:
    """Write a duration as ``h:mm``."""
    minutes = round(seconds / 60)
    return f"{minutes // 60}:{minutes % 60:02d}"


def _point_times(walk: Walk, origin: dt.datetime | None) -> list[dt.datetime | None]:
    """Planned time at each geometry point, or None for each when not asked."""
    if origin is None:
        return [None] * len(walk.geometry)
    import numpy as np  # noqa: PLC0415

    metres, seconds = _elapsed(walk)
    at = np.interp(_along(walk), metres, seconds) if metres else np.zeros(len(walk.geometry))
    return [origin + dt.timedelta(seconds=round(float(t))) for t in at]


def _gpx_track(
    walk: Walk, name: str, elevations: list[float] | None, origin: dt.datetime | None
) -> Any:  # noqa: ANN401 - gpxpy is untyped
    """One walk as a ``<trk>`` of one segment, with elevations and times when given."""
    import gpxpy.gpx  # noqa: PLC0415

    track = gpxpy.gpx.GPXTrack(name=name)
    segment = gpxpy.gpx.GPXTrackSegment()
    for i, (point, when) in enumerate(zip(walk.geometry, _point_times(walk, origin), strict=True)):
        elevation = None if elevations is None else round(float(elevations[i]), 1)
        segment.points.append(
            gpxpy.gpx.GPXTrackPoint(point.lat, point.lon, elevation=elevation, time=when)
        )
    track.segments.append(segment)
    return track


def _gpx_route(
    walk: Walk,
    name: str,
    elevations: list[float] | None,
    origin: dt.datetime | None,
    most: int,
) -> Any:  # noqa: ANN401 - gpxpy is untyped
    """One walk's maneuvers as a ``<rte>``: each point named with its instruction."""
    import gpxpy.gpx  # noqa: PLC0415

    route = gpxpy.gpx.GPXRoute(name=name)
    when = _point_times(walk, origin)
    for maneuver, i in _maneuver_index(walk)[:most]:
        elevation = None if elevations is None else round(float(elevations[i]), 1)
        route.points.append(gpxpy.gpx.GPXRoutePoint(
            maneuver.lat, maneuver.lon, elevation=elevation, name=xml_safe(maneuver.instruction),
            type=maneuver.type, time=when[i] if when else None,
        ))  # fmt: skip
    return route


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
