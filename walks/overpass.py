"""Ask the Overpass API (through osmnx) for an area's walking ways, stop features and buildings.

osmnx builds the queries, splits large areas and keeps its HTTP cache; this module points it at
our endpoint for one request at a time, turns its failures into ``ServiceError`` and reads the
JSON replies into the same ``OsmWays`` / ``OsmFeatures`` that ``data.py`` reads from local files.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import logging
import math
import re
import shutil
import threading
from typing import TYPE_CHECKING, Any

from walks import _files, settings
from walks._http import (
    call_with_retries,
    check_attempts,
    check_cache_dir,
    check_seconds,
    check_service_url,
    http_get,
    http_request,
    one_line,
    remaining_s,
    request_timeout,
    response_hook,
    run_deadline,
    sleep_within_deadline,
    translate_request_error,
    watch_sockets,
)
from walks.data import (
    AREA_HIGHWAYS,
    NEVER_WALKABLE,
    AreaRecord,
    Building,
    Feature,
    OsmFeatures,
    OsmWays,
    WayRecord,
    building_height,
    is_walkable,
    walkable_area,
)
from walks.errors import AreaError, RetryableServiceError, ServiceError
from walks.types import Area

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

log = logging.getLogger(__name__)

#: The Overpass QL way filter that fetches walking-way candidates; tags are checked again here.
OVERPASS_WAY_FILTER = (
    '["highway"]["highway"!~"^(' + "|".join(sorted(NEVER_WALKABLE)) + ')$"]'
    '["foot"!~"^(no|private|use_sidepath)$"]'
)


def fetch_overpass(
    area: Area,
    *,
    overpass_url: str = settings.OVERPASS_URL,
    cache_dir: Path | None = None,
    timeout_s: float = settings.REQUEST_TIMEOUT_S,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
) -> OsmWays:
    """
    Fetch the walking-way candidates of an area from the Overpass API, through osmnx.

    osmnx builds the query, splits large areas and keeps its HTTP cache (under
    ``cache_dir/http``), so a second fetch of the same area is served from disk and
    works offline. The walkable areas (squares: ``area=yes`` ways and multipolygons, see
    ``area_query``) are asked for in a second query, cached in ``cache_dir/http/walks-areas``,
    so that they are whole and crossed as when the area is read from a file. Replies of 429,
    5xx, time-outs and dropped connections are retried with exponential back-off; other
    failures are reported at once. Everything happens
    within the current ``walks._http.deadline`` (``settings.RUN_TIMEOUT_S`` when none is
    active). Only replies that pass ``check_overpass_reply`` are stored in the HTTP cache,
    and a cache file that is unreadable or fails the same check is discarded and fetched again.

    Parameters
    ----------
    area
        The region; ways crossing its outline come whole (the graph builder clips them).
    overpass_url
        The Overpass API base URL (without ``/interpreter``), http or https.
    cache_dir
        The walks cache directory; osmnx's HTTP cache lives in its ``http`` folder.
        None uses ``settings.default_cache_dir()``.
    timeout_s
        Seconds to wait for one reply (capped by the deadline).
    attempts
        How many times to try in all (at least 1).
    backoff_s
        The first pause between tries, in seconds; it doubles each time.

    Returns
    -------
    OsmWays
        The candidate ways and walkable areas, with ``source`` ``"overpass:<url>"`` and the
        data date Overpass reports.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, runs out of time, or answers
        something that is not a usable Overpass reply (no streets at all included).
    UsageError
        When the URL is not http(s), or ``attempts``, ``timeout_s`` or ``backoff_s`` is out
        of range.
    AreaError
        When ``area`` is not an ``Area``.
    """
    overpass_url, cache_dir = _check_arguments(
        area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
    )
    seen = _Seen()
    with run_deadline():
        graph = call_with_retries(
            lambda: _ask_overpass(area, overpass_url, cache_dir / "http", timeout_s, None, seen),
            service="Overpass",
            url=overpass_url,
            attempts=attempts,
            backoff_s=backoff_s,
        )
        area_reply = _area_reply(area, overpass_url, cache_dir, timeout_s, attempts, backoff_s)
    note = cache_dir / "http" / "walks-notes" / _request_key(overpass_url, area)
    seen.keep_or_recall(note)
    osm = ways_from_graph(graph, source=f"overpass:{overpass_url}", seen=seen)
    return with_walkable_areas(osm, area_reply)


class _Seen:
    """What the fresh Overpass replies of one fetch told that osmnx's results do not keep."""

    def __init__(self) -> None:
        """Start empty."""
        self.stamps: list[str] = []
        self.starts: dict[int, int] = {}
        self.fresh = False

    def add(self, reply: dict[str, Any]) -> None:
        """
        Note a checked reply's data date and the first node of each closed way.

        Parameters
        ----------
        reply
            The reply.
        """
        self.fresh = True
        osm3s = reply.get("osm3s")
        base = osm3s.get("timestamp_osm_base") if isinstance(osm3s, dict) else None
        if isinstance(base, str):
            self.stamps.append(base)
        for el in reply["elements"]:
            refs = el.get("nodes")
            if el["type"] == "way" and refs and len(refs) > 1 and refs[0] == refs[-1]:
                self.starts[el["id"]] = refs[0]

    def keep_or_recall(self, note: Path) -> None:
        """
        Write what fresh replies told to a note, or read the note when all came from cache.

        Parameters
        ----------
        note
            The note file of this request.
        """
        if self.fresh:
            text = json.dumps({"date": max(self.stamps, default=None), "starts": self.starts})
            try:
                note.parent.mkdir(parents=True, exist_ok=True)
                _files.write_atomic(note, text)
            except OSError as err:
                log.warning("could not write the request note %s: %s", note, err)
            return
        try:
            data = json.loads(note.read_text(encoding="utf-8"))
            date = data["date"]
            starts = {int(k): int(v) for k, v in data["starts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return  # no note: closed ways start at their smallest node id, no data date
        if isinstance(date, str):
            self.stamps.append(date)
        self.starts.update(starts)


def _request_key(overpass_url: str, area: Area) -> str:
    """
    Name the data-date note of one walking-network request.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    area
        The region.

    Returns
    -------
    str
        A file name made of the hash of the URL and the area's outline.
    """
    digest = hashlib.sha256(f"{overpass_url}\n{area.polygon.wkt}".encode()).hexdigest()
    return f"{digest[:40]}.json"


def _parse_stamp(stamp: str | None) -> dt.datetime | None:
    """
    Read an Overpass ``timestamp_osm_base``.

    Parameters
    ----------
    stamp
        The text, or None.

    Returns
    -------
    datetime or None
        The date, or None when there is none or it is unreadable.
    """
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp)
    except ValueError:
        return None


def ways_from_graph(graph: Any, *, source: str, seen: _Seen | None = None) -> OsmWays:  # noqa: ANN401 - a networkx MultiDiGraph from osmnx
    """
    Turn osmnx's unsimplified walking graph back into way records.

    Each way's forward edges (``reversed`` false) are chained into its node sequence again
    (an Eulerian trail per connected piece: a way cut by the area's outline may come in pieces,
    each a record with the way's id). Tags are the ``WAY_TAG_KEYS`` osmnx kept. The graph is
    built with ``ox.settings.all_oneway`` (see ``OSMNX_GRAPH_SETTINGS``), so ``oneway`` keeps
    its OSM value and every way comes once, along its nodes; osmnx lays the nodes of a way
    tagged ``oneway`` = ``-1`` / ``reverse`` / ``T`` backwards, and they are put back in order.

    Parameters
    ----------
    graph
        ``ox.graph_from_polygon(..., simplify=False)`` under ``OSMNX_GRAPH_SETTINGS``: nodes
        with ``x``/``y``, edges with ``osmid``, ``reversed`` and tags.
    source
        The ``source`` label to record.
    seen
        The data date and closed ways' first nodes, when known; without them a closed way
        starts at its smallest node id.

    Returns
    -------
    OsmWays
        The candidate ways (walkable by ``is_walkable``), in way-id order.
    """
    import networkx as nx  # noqa: PLC0415

    starts = seen.starts if seen is not None else {}
    xy = {n: (float(d["y"]), float(d["x"])) for n, d in graph.nodes(data=True)}
    pieces: dict[int, list[tuple[int, int]]] = {}
    way_tags: dict[int, dict[str, str]] = {}
    for u, v, d in graph.edges(data=True):
        if d.get("reversed") is True:
            continue
        osm_id = int(d["osmid"])
        pieces.setdefault(osm_id, []).append((u, v))
        if osm_id not in way_tags:
            way_tags[osm_id] = {k: str(d[k]) for k in WAY_TAG_KEYS if k in d}
    ways: list[WayRecord] = []
    for osm_id in sorted(pieces):
        tags = way_tags[osm_id]
        if not is_walkable(tags):
            continue
        trail_graph: nx.MultiDiGraph[int] = nx.MultiDiGraph(pieces[osm_id])
        for part in sorted(nx.weakly_connected_components(trail_graph), key=min):
            sub = trail_graph.subgraph(part)
            if nx.has_eulerian_path(sub):
                first = starts.get(osm_id)
                source_node = first if first in part and nx.is_eulerian(sub) else None
                steps = [(int(a), int(b)) for a, b, *_ in nx.eulerian_path(sub, source_node)]
                chain = [steps[0][0], *(b for _, b in steps)]
                cut = chain.index(first, 1) if first in chain[1:-1] else 0
                # a closed way cut by the outline: its first node stays a way end
                chains = [chain[: cut + 1], chain[cut:]] if cut else [chain]
            else:  # not one trail (never from a single way): one record per edge
                chains = [[int(a), int(b)] for a, b, *_ in sub.edges]
            if tags.get("oneway") in _OSMNX_REVERSED:
                chains = [chain[::-1] for chain in chains[::-1]]
            ways.extend(
                WayRecord(
                    osm_id,
                    tuple(refs),
                    tuple(xy[r][0] for r in refs),
                    tuple(xy[r][1] for r in refs),
                    tags,
                )
                for refs in chains
            )
    stamp = max(seen.stamps, default=None) if seen is not None else None
    return OsmWays(ways=tuple(ways), source=source, data_date=_parse_stamp(stamp))


#: Metres around the area within which walkable areas are fetched (osmnx fetches the walking
#: network with the same margin): a square reaching into the area is fetched whole.
AREA_MARGIN_M = 500.0

#: The Overpass QL tag filter of the highways whose areas walkers cross.
_AREA_HIGHWAY_FILTER = '["highway"~"^(' + "|".join(sorted(AREA_HIGHWAYS)) + ')$"]'


def area_query(area: Area) -> str:
    """
    Write the Overpass QL statements that fetch an area's walkable areas whole.

    Closed ``area=yes`` ways and multipolygon relations tagged with a highway of
    ``AREA_HIGHWAYS`` within ``AREA_MARGIN_M`` of the area, with all their member ways and
    nodes (``>``), as the file reader sees them: osmnx's walking graph cuts ways at the area's
    outline and holds no relations, so neither gives a square's full shape.

    Parameters
    ----------
    area
        The region.

    Returns
    -------
    str
        The statements, without the ``[out:json]`` settings (they hold the time-out, which
        changes from run to run; the statements name the request in the cache).
    """
    west, south, east, north = area.bbox
    dlat = AREA_MARGIN_M / 111_320.0
    dlon = dlat / max(math.cos(math.radians(max(abs(south), abs(north)))), 0.01)
    south, north = max(south - dlat, -90.0), min(north + dlat, 90.0)
    west, east = max(west - dlon, -180.0), min(east + dlon, 180.0)
    corners = ((south, west), (south, east), (north, east), (north, west))
    poly = " ".join(f"{lat:.6f} {lon:.6f}" for lat, lon in corners)
    return (
        f'(way["area"="yes"]{_AREA_HIGHWAY_FILTER}(poly:"{poly}");'
        f'relation["type"="multipolygon"]{_AREA_HIGHWAY_FILTER}(poly:"{poly}"););'
        "(._;>;);out;"
    )


def _area_reply(
    area: Area,
    overpass_url: str,
    cache_dir: Path,
    timeout_s: float,
    attempts: int,
    backoff_s: float,
) -> dict[str, Any]:
    """
    Fetch the walkable areas of an area from Overpass, or read them from the cache.

    The request goes through ``walks._http`` as every other walks request does (the run's
    deadline, its socket watch, retries with back-off, ``Retry-After``, the slot check), and a
    reply is cached only once it passed ``check_overpass_reply`` (and carries no remark).

    Parameters
    ----------
    area
        The region.
    overpass_url
        The Overpass API base URL.
    cache_dir
        The walks cache directory; replies are kept in ``http/walks-areas``.
    timeout_s, attempts, backoff_s
        As for ``fetch_overpass``.

    Returns
    -------
    dict
        The checked Overpass reply.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, runs out of time or answers nonsense.
    """
    statements = area_query(area)
    digest = hashlib.sha256(f"{overpass_url}\n{statements}".encode()).hexdigest()
    path = cache_dir / "http" / "walks-areas" / f"{digest[:40]}.json"
    cached = _read_cached_reply(path, overpass_url, streets=False)
    if cached is not None:
        return cached
    reply = call_with_retries(
        lambda: _post_query(overpass_url, statements, timeout_s),
        service="Overpass",
        url=overpass_url,
        attempts=attempts,
        backoff_s=backoff_s,
    )
    if "remark" not in reply:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _files.write_atomic(path, json.dumps(reply))
        except OSError as err:
            log.warning("could not cache the Overpass reply in %s: %s", path, err)
    return reply


def _post_query(overpass_url: str, statements: str, timeout_s: float) -> dict[str, Any]:
    """
    Send one Overpass QL query (no retries below ours) and check the reply.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    statements
        The query without its settings.
    timeout_s
        Seconds to wait for the reply (capped by the deadline).

    Returns
    -------
    dict
        The reply, checked by ``check_overpass_reply``.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out, a dropped connection or an error remark.
    ServiceError
        On any other failed or malformed reply.
    """
    _wait_for_slot(overpass_url, timeout_s)
    wait_s = request_timeout(timeout_s, "Overpass", overpass_url)
    query = f"[out:json][timeout:{max(1, math.ceil(wait_s))}];{statements}"
    response = http_request(
        "POST", overpass_url.rstrip("/") + "/interpreter", service="Overpass",
        base_url=overpass_url, headers={"User-Agent": settings.USER_AGENT}, timeout_s=timeout_s,
        data={"data": query},
    )  # fmt: skip
    reply = _parse_reply(response.content, overpass_url)
    check_overpass_reply(reply, url=overpass_url, streets=False)
    return reply


def _elements_by_id(
    replies: list[dict[str, Any]],
) -> tuple[dict[int, tuple[float, float]], dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """
    Sort the elements of Overpass replies by kind and id.

    Parameters
    ----------
    replies
        The replies (checked by ``check_overpass_reply``).

    Returns
    -------
    tuple of dict
        The nodes' ``(lat, lon)``, the ways and the relations, by id.
    """
    coords: dict[int, tuple[float, float]] = {}
    ways: dict[int, dict[str, Any]] = {}
    relations: dict[int, dict[str, Any]] = {}
    for reply in replies:
        for el in reply.get("elements", []):
            kind = el.get("type")
            if kind == "node" and "lat" in el and "lon" in el:
                coords[int(el["id"])] = (float(el["lat"]), float(el["lon"]))
            elif kind == "way" and isinstance(el.get("nodes"), list):
                ways[int(el["id"])] = el
            elif kind == "relation" and isinstance(el.get("members"), list):
                relations[int(el["id"])] = el
    return coords, ways, relations


def _tags_of(element: dict[str, Any]) -> dict[str, str]:
    """
    Read an Overpass element's tags as text.

    Parameters
    ----------
    element
        The element.

    Returns
    -------
    dict
        Its tags (empty when it has none).
    """
    return {str(k): str(v) for k, v in (element.get("tags") or {}).items()}


def walkable_areas_from_overpass_json(
    replies: list[dict[str, Any]],
) -> tuple[tuple[WayRecord, ...], tuple[AreaRecord, ...]]:
    """
    Read walkable areas from Overpass replies to ``area_query``, as the file reader reads them.

    Parameters
    ----------
    replies
        The replies: ways and relations with their member ways and nodes.

    Returns
    -------
    tuple
        The walkable ``area=yes`` ways whole (all their nodes, NaN for a node the replies do
        not hold, all their tags), in way-id order; and the walkable multipolygon areas, made
        by ``data.walkable_area`` as for a file, in relation-id order.
    """
    coords, ways, relations = _elements_by_id(replies)
    nan = (math.nan, math.nan)

    def points(way: dict[str, Any]) -> list[tuple[int, float, float]]:
        return [(int(r), *coords.get(int(r), nan)) for r in way["nodes"]]

    area_ways: list[WayRecord] = []
    for way_id in sorted(ways):
        tags = _tags_of(ways[way_id])
        if tags.get("area") == "yes" and tags.get("highway") in AREA_HIGHWAYS and is_walkable(tags):
            ring = points(ways[way_id])
            area_ways.append(
                WayRecord(
                    way_id,
                    tuple(p[0] for p in ring),
                    tuple(p[1] for p in ring),
                    tuple(p[2] for p in ring),
                    tags,
                )
            )

    def points_of(ref: int) -> list[tuple[int, float, float]] | None:
        way = ways.get(ref)
        if way is None:
            return None
        tags = _tags_of(way)
        if not tags or ("highway" in tags and is_walkable(tags)):
            return points(way)
        return None  # a tagged way (a building as a hole) does not shape an area, as in files

    areas: list[AreaRecord] = []
    for rel_id in sorted(relations):
        relation = relations[rel_id]
        members = [
            (int(m["ref"]), str(m.get("role", "")))
            for m in relation["members"]
            if m.get("type") == "way"
        ]
        found = walkable_area(rel_id, _tags_of(relation), members, points_of)
        if found is not None:
            areas.append(found)
    return tuple(area_ways), tuple(areas)


def with_walkable_areas(osm: OsmWays, reply: dict[str, Any]) -> OsmWays:
    """
    Give ways from osmnx's graph the walkable areas of an ``area_query`` reply.

    ``area=yes`` ways replace their pieces in the graph (cut at the area's outline there), so
    they are whole rings as in a file, and the multipolygon areas are added.

    Parameters
    ----------
    osm
        The ways from ``ways_from_graph``.
    reply
        The reply to ``area_query``.

    Returns
    -------
    OsmWays
        The ways in way-id order (the pieces of a way in their order), with ``areas``; the
        data date is the newer of the two replies' dates.
    """
    area_ways, areas = walkable_areas_from_overpass_json([reply])
    whole = {way.osm_id for way in area_ways}
    ways = sorted(
        [*(way for way in osm.ways if way.osm_id not in whole), *area_ways],
        key=lambda way: way.osm_id,
    )
    osm3s = reply.get("osm3s")
    stamp = _parse_stamp(osm3s.get("timestamp_osm_base") if isinstance(osm3s, dict) else None)
    dates = [d for d in (osm.data_date, stamp) if d is not None]
    return dataclasses.replace(
        osm, ways=tuple(ways), areas=areas, data_date=max(dates) if dates else None
    )


def features_from_gdf(
    gdf: Any,  # noqa: ANN401 - a GeoDataFrame from osmnx
    wanted: Callable[[dict[str, str]], bool],
    *,
    source: str,
) -> OsmFeatures:
    """
    Turn osmnx's features GeoDataFrame into our features and buildings.

    As when reading a file: tagged nodes are features where ``wanted``; areas (polygons and
    multipolygons) give a building per outer ring when tagged ``building`` (not ``no``) and a
    feature at the first ring's centroid where ``wanted``; lines are not areas and are skipped.

    Parameters
    ----------
    gdf
        ``ox.features_from_polygon`` output, indexed by (element, id); None for no features.
    wanted
        Says which tagged objects to keep as features.
    source
        The ``source`` label to record.

    Returns
    -------
    OsmFeatures
        The features and buildings.
    """
    import shapely  # noqa: PLC0415

    if gdf is None or len(gdf) == 0:
        return OsmFeatures((), (), source)
    columns = [c for c in gdf.columns if c != "geometry"]
    values = gdf[columns].to_numpy(dtype=object)
    features: list[Feature] = []
    buildings: list[Building] = []
    for (kind, osm_id), geom, row in zip(gdf.index, gdf.geometry.array, values, strict=True):
        tags = {
            str(k): str(v)
            for k, v in zip(columns, row, strict=True)
            if isinstance(v, str) or (v is not None and not _is_nan(v))
        }
        if geom is None or geom.is_empty:
            continue
        if geom.geom_type == "Point":
            if wanted(tags):
                features.append(Feature("node", int(osm_id), tags, geom.y, geom.x))
            continue
        polygons = list(getattr(geom, "geoms", [geom]))
        rings = [
            tuple((float(x), float(y)) for x, y in p.exterior.coords)
            for p in polygons
            if p.geom_type == "Polygon"
        ]
        rings = [r for r in rings if len(r) >= 4]  # noqa: PLR2004
        if not rings:
            continue
        if "building" in tags and tags["building"] != "no":
            height, how = building_height(tags)
            buildings.extend(Building(r, height, how) for r in rings)
        if wanted(tags):
            centre = shapely.Polygon(rings[0]).centroid
            features.append(Feature(str(kind), int(osm_id), tags, centre.y, centre.x, rings[0]))
    return OsmFeatures(tuple(features), tuple(buildings), source)


def _is_nan(value: object) -> bool:
    """
    Tell whether a table cell is a missing value (a float NaN).

    Parameters
    ----------
    value
        The cell.

    Returns
    -------
    bool
        True for NaN.
    """
    return isinstance(value, float) and math.isnan(value)


def _check_arguments(
    area: object,
    overpass_url: object,
    cache_dir: Path | None,
    timeout_s: object,
    attempts: object,
    backoff_s: object,
) -> tuple[str, Path]:
    """
    Check the arguments shared by the fetch functions, before any request.

    Parameters
    ----------
    area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
        As for ``fetch_overpass``.

    Returns
    -------
    tuple of (str, Path)
        The URL and the cache directory (the default one for None).

    Raises
    ------
    AreaError
        When ``area`` is not an ``Area``.
    UsageError
        When another argument is out of range.
    """
    if not isinstance(area, Area):
        msg = f"the area {area!r} is not an Area: make one with walks.area.resolve_area"
        raise AreaError(msg)
    url = check_service_url(overpass_url, service="Overpass", option="--overpass-url")
    check_attempts(attempts)
    check_seconds(timeout_s, "timeout_s")
    check_seconds(backoff_s, "backoff_s", allow_zero=True)
    return url, check_cache_dir(cache_dir)


#: The way tags kept from osmnx's graph (``ox.settings.useful_tags_way`` within our scope): every
#: key that ``data.is_walkable`` and the graph builder read, and a few more for directions.
WAY_TAG_KEYS = (
    "access", "area", "bicycle", "bridge", "bus", "conveying", "covered", "delivery",
    "direction", "foot", "foot:backward", "foot:forward", "footway", "goods", "hgv", "highway",
    "incline", "junction", "lanes", "layer", "lit", "maxspeed", "motor_vehicle", "motorcar",
    "motorcycle", "motorroad", "name", "oneway", "oneway:foot", "psv", "ref", "service",
    "sidewalk", "smoothness", "step_count", "surface", "taxi", "tunnel", "vehicle", "width",
)  # fmt: skip

#: The public ``ox.settings`` osmnx builds our walking graph under (set in ``_osmnx_scope``):
#: ``all_oneway`` adds every way once, along its nodes, and keeps its ``oneway`` value as
#: OSM gives it (osmnx would otherwise read it for cars, or drop it for a walking network).
OSMNX_GRAPH_SETTINGS: dict[str, bool | tuple[str, ...]] = {
    "all_oneway": True,
    "useful_tags_way": WAY_TAG_KEYS,
}

#: The ``oneway`` values whose ways osmnx (2.x) adds with their nodes in reverse order.
_OSMNX_REVERSED = frozenset({"-1", "reverse", "T"})

#: The ``ox.settings`` names set within ``_osmnx_scope``, restored afterwards.
_OSMNX_SETTINGS = (
    "overpass_url", "cache_folder", "use_cache", "cache_only_mode", "requests_timeout",
    "requests_kwargs", "http_user_agent", "log_console", "log_file", "overpass_rate_limit",
    "doh_url_template", "useful_tags_way", "all_oneway",
)  # fmt: skip

#: The list of HTTP cache files whose replies were checked (name, size, mtime_ns per line).
_LEDGER = "walks-checked.tsv"

#: Held while osmnx runs with walks' settings (see ``_osmnx_scope``).
_OSMNX_LOCK = threading.RLock()


def _ask_overpass(
    area: Area,
    overpass_url: str,
    http_cache: Path,
    timeout_s: float,
    tags: dict[str, bool | str | list[str]] | None,
    seen: _Seen,
) -> Any:  # noqa: ANN401 - a networkx graph or a GeoDataFrame
    """
    Ask Overpass once, through osmnx's public functions, for the area's ways or features.

    The walking network comes from ``ox.graph_from_polygon`` (unsimplified, every component,
    our way filter), features from ``ox.features_from_polygon``.

    Parameters
    ----------
    area
        The region.
    overpass_url
        The Overpass API base URL.
    http_cache
        osmnx's HTTP cache folder.
    timeout_s
        Seconds to wait for one reply.
    tags
        None for the walking network; an osmnx-style tag query for features.
    seen
        Collects the data dates and closed ways' first nodes of the fresh replies.

    Returns
    -------
    object
        osmnx's result: a networkx ``MultiDiGraph``, or a GeoDataFrame, or None when no
        feature matched.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out, a dropped connection or an error remark.
    ServiceError
        On any other failed or malformed reply.
    """
    streets = tags is None
    with _osmnx_scope(overpass_url, http_cache, timeout_s, seen, streets=streets) as ox:
        try:
            if tags is None:
                found: Any = ox.graph_from_polygon(
                    area.polygon,
                    network_type="walk",
                    simplify=False,
                    retain_all=True,
                    # keep the outside neighbours of inside nodes: a way with one node in
                    # the area still joins others there, as when a file is clipped
                    truncate_by_edge=True,
                    custom_filter=OVERPASS_WAY_FILTER,
                )
            else:
                found = ox.features_from_polygon(area.polygon, tags)
        except ox._errors.InsufficientResponseError:  # noqa: SLF001 - documented in osmnx's user reference
            if tags is None:
                # the replies held ways, but none inside the area (empty replies never get here)
                msg = f"Overpass at {overpass_url!r} sent no streets inside this area"
                raise ServiceError(msg, url=overpass_url) from None
            found = None  # no feature matched
    return found


@contextlib.contextmanager
def _osmnx_scope(
    overpass_url: str, http_cache: Path, timeout_s: float, seen: _Seen, *, streets: bool
) -> Iterator[Any]:
    """
    Point osmnx at our endpoint and cache for one call, through ``ox.settings`` only.

    The caller's ``ox.settings`` values (and ``socket.getaddrinfo``, which osmnx replaces
    process-wide before each request) are restored afterwards. Before osmnx runs, the HTTP
    cache folder is checked: files not in the ledger of checked replies (or changed since)
    are read and discarded when they are not good replies, so osmnx only ever reads checked
    replies. Every reply osmnx receives first passes our response hook (given through the
    public ``ox.settings.requests_kwargs``): it reads the body within the deadline, turns
    429 / 5xx / 4xx into our errors (osmnx alone would sleep 55 s and retry forever) and
    raises on replies that are not good Overpass JSON, so osmnx never caches those.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    http_cache
        osmnx's HTTP cache folder.
    timeout_s
        Seconds to wait for one reply (capped by the deadline).
    seen
        Collects the data dates and closed ways' first nodes of the fresh replies.
    streets
        Whether the replies are walking-network replies, which must hold elements.

    Yields
    ------
    module
        ``osmnx``.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out or a dropped connection.
    ServiceError
        On any other failed or malformed reply.
    """
    import socket  # noqa: PLC0415

    import osmnx as ox  # noqa: PLC0415 - osmnx is heavy; only the online path needs it
    import requests  # noqa: PLC0415

    _wait_for_slot(overpass_url, timeout_s)
    checked = _check_cache_folder(http_cache, overpass_url)
    base_hook = response_hook("Overpass", overpass_url)

    def hook(response: requests.Response, *args: object, **kwargs: object) -> None:
        base_hook(response, *args, **kwargs)
        if response.is_redirect:
            return
        reply = _parse_reply(response.content, overpass_url)
        check_overpass_reply(reply, url=overpass_url, streets=streets)
        seen.add(reply)

    # osmnx's settings and its DNS patch are process-wide: one call at a time sets and
    # restores them (two threads of one worker would otherwise swap each other's)
    _OSMNX_LOCK.acquire()
    saved = {name: getattr(ox.settings, name) for name in _OSMNX_SETTINGS}
    saved_getaddrinfo = socket.getaddrinfo
    try:
        ox.settings.overpass_url = overpass_url
        ox.settings.cache_folder = http_cache
        ox.settings.use_cache = True
        ox.settings.cache_only_mode = False
        ox.settings.requests_timeout = request_timeout(timeout_s, "Overpass", overpass_url)
        ox.settings.http_user_agent = settings.USER_AGENT
        ox.settings.log_console = False
        ox.settings.log_file = False
        ox.settings.doh_url_template = None  # never ask Google's DNS-over-HTTPS service
        # osmnx's own slot check sleeps 60 s when /status is unreachable; ours fails fast instead.
        ox.settings.overpass_rate_limit = False
        ox.settings.useful_tags_way = list(WAY_TAG_KEYS)
        ox.settings.all_oneway = True  # as OSMNX_GRAPH_SETTINGS says
        ox.settings.requests_kwargs = {**saved["requests_kwargs"], "hooks": {"response": [hook]}}
        watch_sockets()
        yield ox
    except requests.RequestException as err:
        raise translate_request_error(err, service="Overpass", url=overpass_url) from err
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)
        socket.getaddrinfo = saved_getaddrinfo
        _OSMNX_LOCK.release()
        _update_ledger(http_cache, checked)


def _parse_reply(body: bytes, overpass_url: str) -> dict[str, Any]:
    """
    Read a reply body as a JSON object.

    Parameters
    ----------
    body
        The body.
    overpass_url
        The Overpass API base URL, for messages.

    Returns
    -------
    dict
        The reply.

    Raises
    ------
    ServiceError
        When the body is not a JSON object.
    """
    try:
        reply = json.loads(body)
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        snippet = one_line(body[:160].decode("utf-8", "replace"))
        msg = (
            f"Overpass at {overpass_url!r} sent an unreadable reply (not a JSON object): "
            f"{snippet!r}"
        )
        raise ServiceError(msg, url=overpass_url)
    return reply


def _stat_key(path: Path) -> str | None:
    """
    Describe a cache file by name, size and modification time, for the ledger.

    Parameters
    ----------
    path
        The file.

    Returns
    -------
    str or None
        ``name<TAB>size<TAB>mtime_ns``, or None when it is not a regular file.
    """
    try:
        st = path.lstat()
    except OSError:
        return None
    if not path.is_file() or path.is_symlink():
        return None
    return f"{path.name}\t{st.st_size}\t{st.st_mtime_ns}"


def _check_cache_folder(http_cache: Path, overpass_url: str) -> set[str]:
    """
    Discard the cache entries that are not checked good replies, before osmnx reads any.

    Files listed in the ledger with the same size and time were checked before (when they
    were written under our response hook, or read here); the others are read and checked.

    Parameters
    ----------
    http_cache
        osmnx's HTTP cache folder.
    overpass_url
        The Overpass API base URL, for messages.

    Returns
    -------
    set of str
        The ledger lines of the good files.
    """
    if not http_cache.is_dir():
        return set()
    try:
        known = set((http_cache / _LEDGER).read_text(encoding="utf-8").splitlines())
    except (OSError, UnicodeDecodeError):
        known = set()
    good: set[str] = set()
    for path in sorted(http_cache.glob("*.json")):
        key = _stat_key(path)
        if key is not None and key in known:
            good.add(key)
        elif _read_cached_reply(path, overpass_url, streets=True) is not None:
            key = _stat_key(path)
            if key is not None:
                good.add(key)
    return good


def _update_ledger(http_cache: Path, good: set[str]) -> None:
    """
    Add the replies written during the call (all passed the response hook) to the ledger.

    Parameters
    ----------
    http_cache
        osmnx's HTTP cache folder.
    good
        The ledger lines of the files checked before the call.
    """
    if not http_cache.is_dir():
        return
    names = {line.split("\t", 1)[0] for line in good}
    lines = set(good)
    for path in http_cache.glob("*.json"):
        key = _stat_key(path)
        if key is not None and path.name not in names:
            lines.add(key)
    try:
        _files.write_atomic(http_cache / _LEDGER, "".join(f"{line}\n" for line in sorted(lines)))
    except OSError as err:
        log.warning("could not update the HTTP cache ledger in %s: %s", http_cache, err)


def _read_cached_reply(path: Path, overpass_url: str, *, streets: bool) -> dict[str, Any] | None:
    """
    Read one Overpass reply from osmnx's HTTP cache, discarding a file that is not a good reply.

    Parameters
    ----------
    path
        The cache file.
    overpass_url
        The Overpass API base URL, for messages.
    streets
        Whether it must be a walking-network reply (with elements).

    Returns
    -------
    dict or None
        The reply, or None (a cache miss) when there is none or it was discarded.
    """
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_dir():
            msg = "a directory stands where a cache file belongs"
            raise ValueError(msg)  # noqa: TRY301 - one place discards every kind of bad file
        reply = json.loads(path.read_text(encoding="utf-8"))
        check_overpass_reply(reply, url=overpass_url, streets=streets)
        if "remark" in reply:
            msg = "a reply with a remark is not kept"
            raise ValueError(msg)  # noqa: TRY301
    except (OSError, ValueError, ServiceError) as err:
        log.warning(
            "discarding the unusable HTTP cache file %s (%s)", path, one_line(str(err))[:200]
        )
        _discard(path)
        return None
    return reply  # type: ignore[no-any-return]


def _discard(path: Path) -> None:
    """
    Remove a bad cache entry, file or directory; failures are logged only.

    Parameters
    ----------
    path
        The entry.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not remove the bad cache entry %s: %s", path, err)


def _wait_for_slot(overpass_url: str, timeout_s: float) -> None:
    """
    Ask Overpass's ``/status`` page whether we may query now, and wait for our slot if not.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    timeout_s
        Seconds to wait for the status reply (at most 15, and never past the deadline).

    Raises
    ------
    RetryableServiceError
        When the server does not answer at all.
    ServiceError
        When the slot comes after the deadline, or the host cannot be resolved.
    """
    url = overpass_url.rstrip("/") + "/status"
    try:
        reply = http_get(
            url,
            service="Overpass",
            base_url=overpass_url,
            headers={"User-Agent": settings.USER_AGENT},
            timeout_s=min(timeout_s, 15.0),
        )
    except ServiceError as err:
        left = remaining_s()
        if left is not None and left <= 0:
            raise
        # no status page, or no answer from it: osmnx may still answer from its cache, and
        # a request to a server that is down fails with its own clear error
        log.debug("Overpass: no status (%s)", one_line(str(err))[:200])
        return
    text = reply.text
    if "slots available now" in text:
        return
    waits = re.findall(r"Slot available after: \S+, in (\d+) seconds", text)
    if waits:
        pause = min(int(w) for w in waits)
        log.info("Overpass: waiting %d s for a free slot", pause)
        sleep_within_deadline(
            pause, service="Overpass", url=overpass_url, why="has no free slot for"
        )


def check_overpass_reply(reply: object, *, url: str, streets: bool) -> None:
    """
    Check that an Overpass reply is well formed, before it is cached or used.

    Parameters
    ----------
    reply
        The parsed JSON reply.
    url
        The Overpass API base URL, for messages.
    streets
        Whether it answers a walking-network query, which must return elements (an empty
        reply there means the server is out of order, or the area has no streets at all).

    Raises
    ------
    RetryableServiceError
        When the reply carries an error remark (e.g. "runtime error: Query timed out").
    ServiceError
        When it is not an object, has no ``elements`` list, an element is malformed (not an
        object, an unknown type, an id that is not a whole number, a node without finite
        in-range coordinates, way nodes or relation members of the wrong shape), or a
        network reply holds no elements.
    """

    def bad(what: str) -> ServiceError:
        text = (
            f"Overpass at {url!r} sent a malformed reply: {what}; the server may be out of "
            "order: try again later or use another --overpass-url"
        )
        return ServiceError(text, url=url)

    if not isinstance(reply, dict):
        what = f"expected a JSON object, got a {type(reply).__name__}"
        raise bad(what)
    remark = reply.get("remark")
    if remark is not None and "error" in str(remark).lower():
        msg = f"Overpass reported: {one_line(str(remark))[:200]}"
        raise RetryableServiceError(msg, url=url)
    elements = reply.get("elements")
    if not isinstance(elements, list):
        msg = f"Overpass at {url!r} sent a reply with no 'elements' list"
        raise ServiceError(msg, url=url)
    for index, element in enumerate(elements):
        problem = _element_problem(element)
        if problem:
            what = f"element {index} {problem}"
            raise bad(what)
    if streets and not elements:
        msg = (
            f"Overpass at {url!r} sent no streets at all for this area: if it has streets, "
            "the server is out of order; try again later, use another --overpass-url, "
            "or --osm-file FILE"
        )
        raise ServiceError(msg, url=url)


def _short(value: object) -> str:
    """
    Show a value from a reply in a message: its repr (control characters escaped), cut short.

    Parameters
    ----------
    value
        Any value.

    Returns
    -------
    str
        At most 40 characters.
    """
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."  # noqa: PLR2004


def _is_int(value: object) -> bool:
    """
    Tell whether a JSON value is a whole number (not a bool).

    Parameters
    ----------
    value
        The value.

    Returns
    -------
    bool
        True for an int.
    """
    return type(value) is int


def _node_problem(element: dict[str, Any]) -> str | None:
    """
    Say what is wrong with an Overpass node's coordinates, if anything.

    Parameters
    ----------
    element
        The node.

    Returns
    -------
    str or None
        The problem, or None when ``lat`` and ``lon`` are finite numbers in range.
    """
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        value = element.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"(a node) has the {key} {_short(value)}, not a number within ±{limit:g}"
        if not (math.isfinite(value) and abs(value) <= limit):
            return f"(a node) has the {key} {_short(value)}, not a number within ±{limit:g}"
    return None


def _element_problem(element: object) -> str | None:  # noqa: PLR0911 - one answer per check
    """
    Say what is wrong with one Overpass element, if anything.

    Parameters
    ----------
    element
        One item of ``elements``.

    Returns
    -------
    str or None
        The problem, to follow "element N", or None when it is well formed.
    """
    if not isinstance(element, dict):
        return f"is {_short(element)}, not an object"
    kind = element.get("type")
    if kind not in {"node", "way", "relation"}:
        return f"has the type {_short(kind)}"
    if not _is_int(element.get("id")):
        return f"has the id {_short(element.get('id'))}, not a whole number"
    tags = element.get("tags")
    if tags is not None and not isinstance(tags, dict):
        return f"has tags {_short(tags)}, not an object"
    if kind == "node":
        return _node_problem(element)
    if kind == "way":
        refs = element.get("nodes")
        if refs is not None and not (isinstance(refs, list) and all(map(_is_int, refs))):
            return f"(a way) has nodes {_short(refs)}, not a list of whole numbers"
    else:
        members = element.get("members")
        if members is not None and not (
            isinstance(members, list)
            and all(
                isinstance(m, dict) and _is_int(m.get("ref")) and isinstance(m.get("type"), str)
                for m in members
            )
        ):
            return f"(a relation) has members {_short(members)} of the wrong shape"
    return None


def ways_from_overpass_json(replies: list[dict[str, Any]], *, source: str) -> OsmWays:
    """
    Collect walking-way candidates from Overpass JSON replies.

    Parameters
    ----------
    replies
        Overpass ``out;`` replies holding ways and their nodes.
    source
        The ``source`` label to record.

    Returns
    -------
    OsmWays
        The candidate ways; nodes absent from the replies get NaN coordinates.
    """
    coords: dict[int, tuple[float, float]] = {}
    raw_ways: dict[int, dict[str, Any]] = {}
    stamps: list[str] = []
    for reply in replies:
        osm3s = reply.get("osm3s")
        base = osm3s.get("timestamp_osm_base") if isinstance(osm3s, dict) else None
        if isinstance(base, str):
            stamps.append(base)
        for element in reply.get("elements", []):
            kind = element.get("type")
            if kind == "node" and "lat" in element and "lon" in element:
                coords[int(element["id"])] = (float(element["lat"]), float(element["lon"]))
            elif kind == "way" and isinstance(element.get("nodes"), list):
                raw_ways[int(element["id"])] = element
    ways = []
    nan = (math.nan, math.nan)
    for way_id, element in raw_ways.items():
        tags = {str(k): str(v) for k, v in (element.get("tags") or {}).items()}
        if not is_walkable(tags):
            continue
        refs = tuple(int(r) for r in element["nodes"])
        points = [coords.get(r, nan) for r in refs]
        ways.append(
            WayRecord(way_id, refs, tuple(p[0] for p in points), tuple(p[1] for p in points), tags)
        )
    date = None
    if stamps:
        try:
            date = dt.datetime.fromisoformat(max(stamps))
        except ValueError:
            date = None
    return OsmWays(ways=tuple(ways), source=source, data_date=date)


def features_from_overpass_json(  # noqa: C901, PLR0912 - one pass per element kind
    replies: list[dict[str, Any]], wanted: Callable[[dict[str, str]], bool], *, source: str
) -> OsmFeatures:
    """
    Collect features and buildings from Overpass JSON replies (``out; >; out skel qt;``).

    Parameters
    ----------
    replies
        The replies.
    wanted
        Says which tagged objects to keep as features.
    source
        The ``source`` label to record.

    Returns
    -------
    OsmFeatures
        Features (nodes, closed ways, multipolygon outer ways) and buildings.
    """
    import shapely  # noqa: PLC0415

    coords: dict[int, tuple[float, float]] = {}
    ways: dict[int, dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for reply in replies:
        for el in reply.get("elements", []):
            if el.get("type") == "node" and "lat" in el:
                coords[int(el["id"])] = (float(el["lon"]), float(el["lat"]))
                if el.get("tags"):
                    others.append(el)
            elif el.get("type") == "way":
                ways[int(el["id"])] = el
            elif el.get("type") == "relation":
                others.append(el)

    def ring_of(way: dict[str, Any]) -> tuple[tuple[float, float], ...] | None:
        refs = way.get("nodes") or []
        if len(refs) < 4 or refs[0] != refs[-1] or any(r not in coords for r in refs):  # noqa: PLR2004
            return None
        return tuple(coords[r] for r in refs)

    features: list[Feature] = []
    buildings: list[Building] = []

    def add(
        kind: str, osm_id: int, tags: dict[str, str], ring: tuple[tuple[float, float], ...]
    ) -> None:
        if "building" in tags and tags["building"] != "no":
            height, how = building_height(tags)
            buildings.append(Building(ring, height, how))
        if wanted(tags):
            c = shapely.Polygon(ring).centroid
            features.append(Feature(kind, osm_id, tags, c.y, c.x, ring))

    for way in ways.values():
        tags = {str(k): str(v) for k, v in (way.get("tags") or {}).items()}
        ring = ring_of(way) if tags else None
        if ring is not None:
            add("way", int(way["id"]), tags, ring)
    for el in others:
        tags = {str(k): str(v) for k, v in (el.get("tags") or {}).items()}
        if el["type"] == "node":
            if wanted(tags):
                lon, lat = coords[int(el["id"])]
                features.append(Feature("node", int(el["id"]), tags, lat, lon))
            continue
        outers = [
            ways[int(m["ref"])] for m in el.get("members", [])
            if m.get("type") == "way" and m.get("role") == "outer" and int(m["ref"]) in ways
        ]  # fmt: skip
        for outer in outers:
            ring = ring_of(outer)
            if ring is not None:
                add("relation", int(el["id"]), tags, ring)
                break
    return OsmFeatures(tuple(features), tuple(buildings), source)


def fetch_overpass_features(
    area: Area,
    tags: dict[str, bool | str | list[str]],
    wanted: Callable[[dict[str, str]], bool],
    *,
    overpass_url: str = settings.OVERPASS_URL,
    cache_dir: Path | None = None,
    timeout_s: float = settings.REQUEST_TIMEOUT_S,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
) -> OsmFeatures:
    """
    Fetch tagged objects and buildings of an area from Overpass, through osmnx (cached).

    Parameters
    ----------
    area
        The region (for a landmark view, a corridor towards the landmark may be included).
    tags
        osmnx-style tag query, e.g. ``{"amenity": ["cafe"], "building": True}``.
    wanted
        Says which tagged objects to keep as features.
    overpass_url, cache_dir, timeout_s, attempts, backoff_s
        As for ``fetch_overpass``.

    Returns
    -------
    OsmFeatures
        The features and buildings.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, runs out of time, or answers nonsense.
    UsageError
        When the URL is not http(s), or another argument is out of range.
    AreaError
        When ``area`` is not an ``Area``.
    """
    overpass_url, cache_dir = _check_arguments(
        area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
    )
    with run_deadline():
        gdf = call_with_retries(
            lambda: _ask_overpass(area, overpass_url, cache_dir / "http", timeout_s, tags, _Seen()),
            service="Overpass",
            url=overpass_url,
            attempts=attempts,
            backoff_s=backoff_s,
        )
    return features_from_gdf(gdf, wanted, source=f"overpass:{overpass_url}")
