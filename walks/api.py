"""High-level jobs that chain the modules: the stops of an area, and whole walks."""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, cast
from urllib.parse import urlsplit

import numpy as np

from walks import _validate, settings
from walks.categories import load_categories, select_categories
from walks.data import OsmFeatures, dropped_nodes_note
from walks.errors import DataError, LandmarkError, UsageError
from walks.geocode import geocode
from walks.graph import EARTH_RADIUS_M, WalkGraph, haversine_m, local_xy
from walks.hours import opening_at, resolve_departure
from walks.loader import LoadedGraph, load_features, load_graph
from walks.planner import plan_walk
from walks.stops import StopOptions, find_stops
from walks.terrain import default_terrain_url, fetch_terrain, terrain_region
from walks.types import Area, BBox, LatLon, PlanRequest, WalkWarning
from walks.views import (
    Terrain,
    check_within_sight,
    default_landmark,
    resolve_landmark,
    view_corridor,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from walks.categories import Category
    from walks.types import Stop, Walk
    from walks.views import Ground, Landmark

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AreaStops:
    """An area's graph, features and stops.

    Attributes
    ----------
    loaded
        The walking graph and where it came from.
    features
        The OSM objects read for stops, and the buildings.
    categories
        All known categories (shipped and user-defined).
    stops
        The stops found.
    landmark
        The landmark used for view stops, if any.
    terrain
        Ground elevations: the DEM given, or tiles fetched (or cached) for the area and the
        corridor to the landmark; None for flat ground.
    terrain_warning
        Why the ground is flat although terrain was wanted (tiles could not be fetched), or
        None.
    departure
        The departure the stops were judged at (``"now"`` resolved in the area's time zone), or
        None.
    notes
        What the data lacks that the walker should know (``data_notes``): every walk planned
        on these carries them among its warnings.
    """

    loaded: LoadedGraph
    features: OsmFeatures
    categories: dict[str, Category]
    stops: list[Stop]
    landmark: Landmark | None
    terrain: Ground | None
    terrain_warning: str | None = None
    departure: dt.datetime | None = None
    notes: tuple[WalkWarning, ...] = ()


def data_notes(loaded: LoadedGraph, features: OsmFeatures) -> tuple[WalkWarning, ...]:
    """
    Say what an area's data lacks: nodes of its extract left out for unreadable coordinates.

    Parameters
    ----------
    loaded
        The walking graph and where it came from.
    features
        The OSM objects read for stops (from the same source).

    Returns
    -------
    tuple of WalkWarning
        At most one ``nodes_dropped`` warning: each reading of a file repairs all of it when it
        needs to, so the larger of the two counts is the file's.
    """
    note = dropped_nodes_note(
        loaded.graph.meta.source, max(loaded.dropped_nodes, features.dropped_nodes)
    )
    if note is None:
        return ()
    log.info("%s", note.message)  # the caller says it: a walk warning, or `walks stops` itself
    return (note,)


def stops_in_area(
    area: Area | None,
    category_names: list[str],
    *,
    osm_file: str | Path | None = None,
    category_files: tuple[str | Path, ...] = (),
    landmark: str | None = None,
    dem: str | Path | None = None,
    at: dt.datetime | str | None = None,
    roofline_m: float | None = None,
    skip_missing: bool = False,
    no_terrain: bool = False,
    terrain_url: str | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    overpass_url: str = settings.OVERPASS_URL,
    max_area_km2: float = settings.MAX_AREA_KM2,
    attempts: int = settings.MAX_ATTEMPTS,
    progress: Callable[[str], None] | None = None,
) -> AreaStops:
    """
    Load an area and find its stops of some categories.

    Parameters
    ----------
    area
        The area, or None for a whole extract or the demo area.
    category_names
        Categories wanted, e.g. ``["cafe", "studio", "view"]``.
    osm_file
        A local extract, or None.
    category_files
        Extra category files.
    landmark
        ``"LAT,LON,HEIGHT_M"``, a known landmark's name, or an OSM feature's name; None uses
        the area's default landmark (Eiffel Tower in Paris, Helsinki Cathedral in the demo).
    dem
        A DEM GeoTIFF for terrain; None fetches elevation tiles for view stops (see
        ``no_terrain``).
    at
        Local departure time, or None.
    roofline_m
        Building height assumed where the sight lines have no building data; None takes the
        90th percentile of the mapped heights of the area (``walks.views.assumed_roofline_m``).
    skip_missing
        Leave out categories with no stop here instead of raising (see ``find_stops``).
    no_terrain
        Flat ground: fetch no elevation tiles. Without it and without ``dem``, view stops get
        the ground of the area and of the corridor to the landmark from Terrarium tiles
        (``walks.terrain``; cached, so offline runs use what was fetched before); a failure
        leaves the ground flat, logs a warning and sets ``terrain_warning``.
    terrain_url
        The tile source's base URL; None reads ``WALKS_TERRAIN_URL`` (empty: cached tiles
        only), else the public AWS Terrain Tiles.
    cache_dir, use_cache, overpass_url, max_area_km2, attempts, progress
        As for ``load_graph``.

    Returns
    -------
    AreaStops
        Graph, features, categories and stops.

    Raises
    ------
    walks.categories.CategoryError
        For an unknown category or a malformed category file.
    walks.views.LandmarkError
        For a landmark that cannot be found.
    walks.stops.NoStopsError
        When a category has no stop in the area.
    DataError
        For a missing or corrupt extract, or a DEM that does not cover the area.
    UsageError
        For an argument of the wrong type or out of range, or ``dem`` with ``no_terrain``.
    ServiceError
        When an online service fails (never for terrain: that only warns).
    """
    _check_common(area, osm_file=osm_file, roofline_m=roofline_m, at=at,
                  max_area_km2=max_area_km2, attempts=attempts)  # fmt: skip
    _check_terrain(dem, no_terrain=no_terrain, terrain_url=terrain_url)
    raw_names: object = category_names  # checked at run time: callers may pass anything
    if isinstance(raw_names, str) or not isinstance(raw_names, list | tuple):
        msg = f"category_names must be a list such as ['cafe', 'view'], not {category_names!r}"
        raise UsageError(msg)
    names = [_validate.check_text("a category", n, example="'cafe'") for n in category_names]
    categories = load_categories(*category_files)
    chosen = select_categories(categories, names)
    wants_view = any(c.kind == "view" for c in chosen)
    early = _early_landmark(landmark, area.bbox) if area is not None and wants_view else None
    if early is not None and area is not None:
        check_within_sight(early, area.bbox)  # before any download or file read
    loaded = load_graph(
        area, osm_file=osm_file, cache_dir=cache_dir, use_cache=use_cache,
        overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=attempts,
        progress=progress,
    )  # fmt: skip
    graph = loaded.graph
    at = _departure(at, graph)
    online = area is not None and osm_file is None
    corridor = None
    if online and early is not None:
        assert area is not None
        corridor = view_corridor(area, early, max_km2=max_area_km2)
    features = (
        load_features(
            area, chosen, osm_file=osm_file, corridor=corridor, cache_dir=cache_dir,
            overpass_url=overpass_url, attempts=attempts, progress=progress,
            use_store=None if use_cache else False,
        )
        if chosen
        else OsmFeatures((), (), graph.meta.source)
    )  # fmt: skip
    mark = (
        resolve_landmark(landmark, features.features) if landmark else default_landmark(graph.bbox)
    )
    if mark is not None and wants_view:
        check_within_sight(mark, graph.bbox)
    terrain: Ground | None = None
    terrain_warning = None
    if dem is not None:
        terrain = _dem_terrain(dem, graph.bbox)
    elif not no_terrain and mark is not None and wants_view:
        if progress is not None:
            progress("getting the terrain")
        terrain, terrain_warning = _fetch_ground(
            graph.bbox, mark.location, url=terrain_url, cache_dir=cache_dir, attempts=attempts
        )
    known = _known_box(graph.bbox, features)
    known_polygon = None
    if online:  # buildings came for the area (and the corridor), not for its whole box
        assert area is not None
        known_polygon = (corridor or area).polygon
        west, south, east, north = known_polygon.bounds
        known = BBox(min(known.west, west), min(known.south, south), max(known.east, east),
                     max(known.north, north))  # fmt: skip
    if progress is not None:
        progress("finding stops")
    stops = find_stops(
        graph, features, chosen,
        options=StopOptions(
            at=at, landmark=mark, terrain=terrain, roofline_m=roofline_m,
            cache_dir=(cache_dir or settings.default_cache_dir()) if use_cache else None,
        ),
        known=known,
        known_polygon=known_polygon,
        skip_missing=skip_missing,
    )  # fmt: skip
    return AreaStops(loaded, features, categories, stops, mark, terrain, terrain_warning, at,
                     data_notes(loaded, features))  # fmt: skip


def _check_terrain(dem: object, *, no_terrain: object, terrain_url: object) -> None:
    """
    Check the terrain arguments of ``stops_in_area`` and ``generate_walks``.

    Parameters
    ----------
    dem, no_terrain, terrain_url
        As for ``stops_in_area``.

    Raises
    ------
    UsageError
        For a value of the wrong type, or a DEM together with ``no_terrain``.
    """
    if not isinstance(no_terrain, bool):
        msg = f"no_terrain must be True or False, not {no_terrain!r}"
        raise UsageError(msg)
    if dem is not None and not isinstance(dem, str | Path):
        msg = f"dem must be the path of a GeoTIFF, not {dem!r}"
        raise UsageError(msg)
    if terrain_url is not None and not (
        isinstance(terrain_url, str) and terrain_url.startswith(("http://", "https://"))
    ):
        msg = (
            f"terrain_url must be an http(s) URL such as "
            f"'https://s3.amazonaws.com/elevation-tiles-prod/terrarium', not {terrain_url!r}"
        )
        raise UsageError(msg)
    if dem is not None and no_terrain:
        msg = f"a DEM ({str(dem)!r}) and no terrain were both asked for: give only one of them"
        raise UsageError(msg)


def _dem_terrain(dem: str | Path, box: BBox) -> Terrain:
    """
    Open a DEM and check that it covers an area.

    Parameters
    ----------
    dem
        The GeoTIFF.
    box
        The area's box.

    Returns
    -------
    Terrain
        The DEM.

    Raises
    ------
    DataError
        When it cannot be read or does not cover the box.
    """
    terrain = Terrain(Path(dem))
    lats = np.array([box.south, box.north])
    lons = np.array([box.west, box.east])
    if not terrain.covers(lats, lons):
        corners = tuple(round(v, 5) for v in box)
        msg = (
            f"the DEM {str(dem)!r} does not cover the area {corners}: "
            "give a DEM of this area (any CRS; it is reprojected)"
        )
        raise DataError(msg)
    return terrain


def _fetch_ground(
    box: BBox,
    landmark: LatLon | None,
    *,
    url: str | None,
    cache_dir: Path | None,
    attempts: int,
) -> tuple[Ground | None, str | None]:
    """
    Fetch (or read from the cache) the ground of an area and the corridor to its landmark.

    Parameters
    ----------
    box
        The area's box.
    landmark
        The landmark's position, or None for the area alone.
    url
        The tile source, or None for ``walks.terrain.default_terrain_url()``.
    cache_dir
        The cache directory, or None for the default.
    attempts
        Tries per tile.

    Returns
    -------
    tuple
        ``(terrain, warning)``: the terrain, or None with the warning (also logged) when it
        could not be had; the ground is then flat. With downloads off (an empty
        ``WALKS_TERRAIN_URL``) and tiles missing from the cache: ``(None, None)``.
    """
    source = url if url is not None else default_terrain_url()
    got = fetch_terrain(terrain_region(box, landmark), cache_dir=cache_dir, url=source,
                        attempts=attempts)  # fmt: skip
    if got.terrain is not None or got.problem is None:
        return got.terrain, None
    problem = got.problem
    if "no network?" in problem and source:  # the usual case offline: short, without URLs
        host = urlsplit(source).netloc or source
        problem = f"the elevation tiles of {host} cannot be reached (no network?)"
    warning = (
        f"no terrain: {problem}; the ground is taken as flat (give a DEM with --dem, or "
        "--no-terrain to skip terrain)"
    )
    log.info("%s", warning)  # the caller says it: a walk warning, or `walks stops` itself
    return None, warning


def _departure(at: dt.datetime | str | None, graph: WalkGraph) -> dt.datetime | None:
    """
    Resolve ``"now"`` to this minute in the area's time zone; pass a datetime through.

    Parameters
    ----------
    at
        A local datetime, ``"now"`` or None.
    graph
        The area's graph (its middle gives the time zone).

    Returns
    -------
    datetime or None
        Naive local time.
    """
    if not isinstance(at, str):
        return at
    box = graph.bbox
    return resolve_departure(at, (box.south + box.north) / 2, (box.west + box.east) / 2)


def _check_common(
    area: object,
    *,
    osm_file: object,
    roofline_m: object,
    at: object,
    max_area_km2: object,
    attempts: object,
) -> None:
    """
    Check the arguments ``stops_in_area`` and ``generate_walks`` share.

    Parameters
    ----------
    area, osm_file, roofline_m, at, max_area_km2, attempts
        As for ``stops_in_area``.

    Raises
    ------
    UsageError
        Naming the first argument of a wrong type or out of range.
    """
    if area is not None and not isinstance(area, Area):
        msg = f"area must be an Area (see walks.resolve_area) or None, not {area!r}"
        raise UsageError(msg)
    if osm_file is not None and not isinstance(osm_file, str | Path):
        msg = f"osm_file must be a path, not {osm_file!r}"
        raise UsageError(msg)
    if roofline_m is not None:
        _validate.check_number("roofline_m", roofline_m, 0.0, 1000.0, example="--roofline 20",
                               unit=" m")  # fmt: skip
    if isinstance(at, str):
        if at.strip().lower() != "now":
            msg = f"at must be a datetime or 'now', not {at!r}: e.g. '2026-11-25 09:00' parsed"
            raise UsageError(msg)
    else:
        _validate.check_departure(at)
    _validate.check_number("max_area_km2", max_area_km2, 0.01, 10_000.0,
                           example="--max-area-km2 30", unit=" km²")  # fmt: skip
    _validate.check_int("attempts", attempts, 1, 20, example="--retries 4")


def _early_landmark(text: str | None, box: BBox) -> Landmark | None:
    """
    Resolve the landmark before any OSM feature is loaded, when that is possible.

    Parameters
    ----------
    text
        The ``--landmark`` value, or None.
    box
        The area's box, for the default landmark.

    Returns
    -------
    Landmark or None
        The landmark, or None when none applies or it names an OSM feature (found later).
    """
    if text is None:
        return default_landmark(box)
    try:
        return resolve_landmark(text)
    except LandmarkError:
        return None


def _known_box(graph_box: BBox, features: OsmFeatures) -> BBox:
    """
    Return where building data was loaded: the graph's box grown to hold every building.

    Parameters
    ----------
    graph_box
        The graph's box.
    features
        The loaded features and buildings.

    Returns
    -------
    BBox
        The box.
    """
    west, south, east, north = graph_box
    flat = np.fromiter(
        itertools.chain.from_iterable(
            itertools.chain.from_iterable(b.outline for b in features.buildings)
        ),
        np.float64,
    )
    lon, lat = flat[0::2], flat[1::2]
    lon, lat = lon[np.isfinite(lon)], lat[np.isfinite(lat)]
    if lon.size:
        west, east = min(west, float(lon.min())), max(east, float(lon.max()))
    if lat.size:
        south, north = min(south, float(lat.min())), max(north, float(lat.max()))
    return BBox(west, south, east, north)


#: What ``walks generate`` asks for when no --stops is given.
DEFAULT_STOPS = (("cafe", 1), ("studio", 1), ("view", 1))


@dataclass(frozen=True)
class GeneratedWalks:
    """Walks planned in an area, with what they were planned from.

    Attributes
    ----------
    area_stops
        Graph, features, categories and candidate stops.
    request
        The planning request.
    walks
        The walks, best first (stop opening status set at their arrival times).
    departure
        Local departure time, or None.
    climb_m
        Total climb of the best walk (with terrain), or None.
    elevations
        Ground elevation per point of the best walk's geometry (with terrain), or None.
    descent_m
        Total descent of the best walk (with terrain), or None.
    """

    area_stops: AreaStops
    request: PlanRequest
    walks: list[Walk]
    departure: dt.datetime | None
    climb_m: float | None
    elevations: list[float] | None
    descent_m: float | None = None

    @property
    def warnings(self) -> tuple[WalkWarning, ...]:
        """What the walker should know about the best walk (shortfalls, dropped stops, ...)."""
        return self.walks[0].warnings if self.walks else ()


def resolve_start(
    text: str | None, found: AreaStops, *, nominatim_url: str = settings.NOMINATIM_URL,
    cache_dir: Path | None = None, what: str = "start", attempts: int = settings.MAX_ATTEMPTS,
) -> LatLon:  # fmt: skip
    """
    Turn a start (or end) given by the user into a point, from the loaded data when possible.

    Coordinates are read as they are; a name is looked up, case-insensitively, among the
    stops found, then every named feature loaded, then the street names of the graph; only
    when none matches is it geocoded (the network's only use here).

    Parameters
    ----------
    text
        ``"lat,lon"``, the name of a stop, place or street in the loaded data, or an address;
        None picks the node nearest the middle of the area.
    found
        The area's graph, features and stops.
    nominatim_url
        For addresses.
    cache_dir
        For geocoder replies.
    what
        ``"start"`` or ``"end"``, for messages.
    attempts
        Tries per request to the geocoder.

    Returns
    -------
    LatLon
        The point.

    Raises
    ------
    UsageError
        For malformed coordinates such as ``"nan,nan"`` or ``"91,0"``.
    walks.errors.GeocodeError
        When an address is not found.
    """
    graph = found.loaded.graph
    if text is None:
        return default_start(graph)
    point = _validate.parse_lat_lon(text, name=f"--{what}")
    if point is not None:
        return point
    local = find_named_place(text, found)
    if local is not None:
        return local
    return geocode(text, nominatim_url=nominatim_url, cache_dir=cache_dir, attempts=attempts).point


#: Side of the cells in which ``default_start`` counts junctions, in metres (larger for areas
#: wider than ``MAX_START_CELLS`` such cells).
START_CELL_M = 250.0
#: Most cells along a side of ``default_start``'s grid.
MAX_START_CELLS = 512


def default_start(graph: WalkGraph) -> LatLon:
    """
    Choose where a walk starts when the walker does not say: the heart of the street network.

    Junctions are counted in cells of ``START_CELL_M`` and each cell's count summed with its
    eight neighbours'; the start is the junction nearest the middle of the densest block of
    cells (ties go to the block nearest the middle of the area). In a town that is its centre;
    in a valley extract whose box is mostly mountainside, it is the village, not the empty middle
    of the box that a mountain road happens to cross.

    Parameters
    ----------
    graph
        The walking graph.

    Returns
    -------
    LatLon
        A junction of the graph.
    """
    lat0 = float(np.mean(graph.node_lat))
    x, y = local_xy(graph.node_lat, graph.node_lon, lat0=lat0, lon0=float(np.mean(graph.node_lon)))
    y = y - lat0 * math.pi / 180.0 * EARTH_RADIUS_M
    # cells grow with the box, so that a stray way far away cannot make the grid huge
    cell = max(START_CELL_M, float(max(np.ptp(x), np.ptp(y))) / MAX_START_CELLS)
    cols = np.floor((x - x.min()) / cell).astype(np.int64)
    rows = np.floor((y - y.min()) / cell).astype(np.int64)
    counts = np.zeros((int(rows.max()) + 1, int(cols.max()) + 1))
    np.add.at(counts, (rows, cols), 1.0)
    # each cell's count plus its eight neighbours' (zero beyond the edge)
    padded = np.pad(counts, 1)
    rows_n, cols_n = counts.shape
    density = sum(padded[dr : dr + rows_n, dc : dc + cols_n] for dr in range(3) for dc in range(3))
    middle_r, middle_c = (counts.shape[0] - 1) / 2, (counts.shape[1] - 1) / 2
    rr, cc = np.indices(counts.shape)
    # densest first; among equals the nearest to the middle (a tiny, deterministic tie-break)
    score = density - 1e-6 * np.hypot(rr - middle_r, cc - middle_c)
    best_r, best_c = np.unravel_index(int(np.argmax(score)), counts.shape)
    cx = x.min() + (best_c + 0.5) * cell
    cy = y.min() + (best_r + 0.5) * cell
    # not the tip of a dead end, which a loop would have to walk out and back
    degree = np.bincount(np.concatenate([graph.edge_u, graph.edge_v]), minlength=graph.n_nodes)
    usable = degree > 1
    if not usable.any():  # a network of dead ends only: any junction will do
        usable[:] = True
    node = int(np.argmin(np.where(usable, np.hypot(x - cx, y - cy), np.inf)))
    return LatLon(float(graph.node_lat[node]), float(graph.node_lon[node]))


def find_named_place(name: str, found: AreaStops) -> LatLon | None:
    """
    Find a name in the loaded data: a stop, a named feature, or a street.

    Parameters
    ----------
    name
        The name, compared without case and surrounding spaces.
    found
        The area's graph, features and stops.

    Returns
    -------
    LatLon or None
        The stop's or feature's position, the middle of the named street's segment nearest
        the area's centre, or None when the name is not in the data.
    """
    wanted = name.strip().casefold()
    for stop in found.stops:
        if stop.name.casefold() == wanted:
            return stop.location
    for feature in found.features.features:
        if feature.tags.get("name", "").casefold() == wanted:
            return LatLon(feature.lat, feature.lon)
    graph = found.loaded.graph
    index = next((i for i, s in enumerate(graph.strings) if s.casefold() == wanted), None)
    if index is None:
        return None
    edges = np.flatnonzero(graph.edge_name == index)
    if edges.size == 0:
        return None
    lat = (graph.node_lat[graph.edge_u[edges]] + graph.node_lat[graph.edge_v[edges]]) / 2
    lon = (graph.node_lon[graph.edge_u[edges]] + graph.node_lon[graph.edge_v[edges]]) / 2
    box = graph.bbox
    middle = LatLon((box.south + box.north) / 2, (box.west + box.east) / 2)
    best = int(np.argmin(haversine_m(lat, lon, np.full_like(lat, middle.lat),
                                     np.full_like(lon, middle.lon))))  # fmt: skip
    return LatLon(float(lat[best]), float(lon[best]))


def generate_walks(
    area: Area | None,
    wanted: list[tuple[str, int]] | None,
    *,
    start: str | None = None,
    end: str | None = None,
    minutes: float | None = None,
    km: float | None = None,
    must_visit: tuple[str, ...] = (),
    order: tuple[str, ...] = (),
    at: dt.datetime | str | None = None,
    quiet: float = 1.0,
    avoid_steps: bool = False,
    seed: int = 0,
    alternatives: int = 1,
    allow_repeats: bool = False,
    osm_file: str | Path | None = None,
    category_files: tuple[str | Path, ...] = (),
    landmark: str | None = None,
    dem: str | Path | None = None,
    roofline_m: float | None = None,
    no_terrain: bool = False,
    terrain_url: str | None = None,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    overpass_url: str = settings.OVERPASS_URL,
    nominatim_url: str = settings.NOMINATIM_URL,
    max_area_km2: float = settings.MAX_AREA_KM2,
    attempts: int = settings.MAX_ATTEMPTS,
    progress: Callable[[str], None] | None = None,
    found: AreaStops | None = None,
) -> GeneratedWalks:
    """
    Plan walks in an area: load it, find the stops, plan, and set opening status on arrival.

    Parameters
    ----------
    area
        The area, or None for a whole extract or the demo.
    wanted
        Categories with counts, e.g. ``[("cafe", 1), ("studio", 2)]``; may be empty. None asks
        for one café, one studio and one view, leaving out (with a ``stop_dropped`` warning)
        those the area lacks or the budget cannot hold.
    start, end
        See ``resolve_start``; ``end`` None makes a loop.
    minutes, km
        The budget (one of them; default 60 minutes).
    must_visit
        Stop ids or names that must be visited.
    order
        Categories in the order they must come.
    at
        Local departure time: stops closed on arrival are avoided, and arrival times shown.
    quiet
        Weight on pleasant streets (0 = shortest paths).
    avoid_steps
        Avoid flights of steps.
    seed
        Random seed.
    alternatives
        How many different walks.
    allow_repeats
        Fill the budget by walking streets again where the area is too small to fill it.
    osm_file, category_files, landmark, dem, roofline_m, cache_dir, use_cache, overpass_url,
    nominatim_url, max_area_km2, attempts, progress
        As for ``stops_in_area``.
    no_terrain, terrain_url
        As for ``stops_in_area``; without ``no_terrain`` the ground is fetched for the area
        even without view stops, for each walk's climb and descent (``Walk.climb_m``,
        ``Walk.descent_m``) and the elevations of the best one. When it cannot be had every
        walk carries a ``terrain_missing`` warning and the figures are None.

    found
        The area already loaded by ``stops_in_area`` (with every category asked for), to plan
        many walks in one area without loading it again; None loads it. Its own departure,
        terrain and categories are used.

    Returns
    -------
    GeneratedWalks
        The walks and their inputs.

    Raises
    ------
    walks.errors.NoWalkError
        When the constraints cannot be met.
    walks.errors.WalksError
        For the data, stop and service errors of ``stops_in_area``.
    """
    wanted = _validate.check_wanted(wanted)
    minutes, km = _validate.check_budget(minutes, km)
    _check_terrain(dem, no_terrain=no_terrain, terrain_url=terrain_url)
    _validate.check_int("seed", seed, 0, _validate.MAX_SEED, example="--seed 7")
    _validate.check_int("alternatives", alternatives, 1, _validate.MAX_ALTERNATIVES,
                        example="--alternatives 3")  # fmt: skip
    _validate.check_number("quiet", quiet, 0.0, 5.0, example="--prefer-quiet 2")
    for label, value in (("start", start), ("end", end)):
        if value is not None:
            _validate.check_text(label, value, example="48.8809,2.3553 or a stop's name")
    raw_lists: tuple[object, object] = (must_visit, order)  # checked at run time
    if any(isinstance(v, str) or not isinstance(v, tuple | list) for v in raw_lists):
        msg = f"must_visit and order must be tuples of names, not {must_visit!r} / {order!r}"
        raise UsageError(msg)
    optional = wanted is None
    asked = list(DEFAULT_STOPS) if wanted is None else wanted
    names = [name for name, _ in asked]
    if found is None:
        found = stops_in_area(
            area, names, osm_file=osm_file, category_files=category_files, landmark=landmark,
            dem=dem, at=at, roofline_m=roofline_m, skip_missing=optional, no_terrain=no_terrain,
            terrain_url=terrain_url, cache_dir=cache_dir, use_cache=use_cache,
            overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=attempts,
            progress=progress,
        )  # fmt: skip
    elif not isinstance(found_obj := cast("object", found), AreaStops):
        msg = f"found must be an AreaStops from stops_in_area, not {found_obj!r}"
        raise UsageError(msg)
    graph = found.loaded.graph
    at = found.departure if found.departure is not None else _departure(at, graph)
    origin = resolve_start(start, found, nominatim_url=nominatim_url, cache_dir=cache_dir,
                           attempts=attempts)  # fmt: skip
    finish = None
    if end:
        finish = resolve_start(end, found, nominatim_url=nominatim_url, cache_dir=cache_dir,
                               what="end", attempts=attempts)  # fmt: skip
    candidates = list(found.stops)
    by_name = {s.name.lower(): s.id for s in candidates}
    must = tuple(by_name.get(m.lower(), m) for m in must_visit)
    request = PlanRequest(
        start=origin, end=finish, km=km,
        minutes=minutes if minutes is not None or km is not None else 60.0,
        stops=tuple(asked), order=order, must_visit=must,
        dwell_s=tuple((k, c.dwell_s) for k, c in found.categories.items()),
        speed_kph=settings.WALKING_SPEED_KPH, pleasant_weight=quiet, avoid_steps=avoid_steps,
        seed=seed, alternatives=alternatives, allow_repeats=allow_repeats, soft_stops=optional,
        at=None if at is None else at.replace(tzinfo=None),
    )  # fmt: skip
    if progress is not None:
        progress("planning the walk")
    walks = [
        replace(_with_arrival_status(w, at), warnings=(*found.notes, *w.warnings))
        for w in plan_walk(graph, candidates, request)
    ]
    if (
        progress is not None
        and found.terrain is None
        and found.terrain_warning is None
        and (not no_terrain)
    ):
        progress("getting the terrain")
    walks, elevations = _add_terrain(walks, found, fetch=not no_terrain, url=terrain_url,
                                     cache_dir=cache_dir, attempts=attempts)  # fmt: skip
    best = walks[0] if walks else None
    return GeneratedWalks(found, request, walks, at, best.climb_m if best else None, elevations,
                          best.descent_m if best else None)  # fmt: skip


def _add_terrain(
    walks: list[Walk],
    found: AreaStops,
    *,
    fetch: bool,
    url: str | None,
    cache_dir: Path | None,
    attempts: int,
) -> tuple[list[Walk], list[float] | None]:
    """
    Give walks their climb and descent, and the best one its elevations.

    Parameters
    ----------
    walks
        The walks, best first.
    found
        The area, with the terrain got for its views (if any).
    fetch
        Fetch the area's ground when the views did not (False: ``no_terrain``).
    url, cache_dir, attempts
        As for ``_fetch_ground``.

    Returns
    -------
    tuple
        The walks (with a ``terrain_missing`` warning each when terrain was wanted but
        could not be had) and the best walk's elevation per geometry point (or None).
    """
    ground, warning = found.terrain, found.terrain_warning
    if ground is None and warning is None and fetch:
        box = found.loaded.graph.bbox
        ground, warning = _fetch_ground(box, None, url=url, cache_dir=cache_dir,
                                        attempts=attempts)  # fmt: skip
    if warning is not None:
        note = WalkWarning("terrain_missing", warning)
        walks = [replace(w, warnings=(*w.warnings, note)) for w in walks]
    if ground is None or not walks:
        return walks, None
    walks = [_with_climb(w, ground) for w in walks]
    lats = np.array([p.lat for p in walks[0].geometry])
    lons = np.array([p.lon for p in walks[0].geometry])
    return walks, [round(float(v), 1) for v in ground.sample(lats, lons)]


def _with_climb(walk: Walk, ground: Ground) -> Walk:
    """
    Set a walk's climb and descent from the ground under its line.

    Parameters
    ----------
    walk
        The walk.
    ground
        Ground elevations.

    Returns
    -------
    Walk
        The walk with ``climb_m`` and ``descent_m`` (sums of the rises and the falls between
        its points, rounded to 0.1 m).
    """
    lats = np.array([p.lat for p in walk.geometry])
    lons = np.array([p.lon for p in walk.geometry])
    steps = np.diff(ground.sample(lats, lons))
    climb = round(float(steps[steps > 0].sum()), 1)
    descent = round(float(-steps[steps < 0].sum()), 1)
    return replace(walk, climb_m=climb, descent_m=descent)


def _with_arrival_status(walk: Walk, at: dt.datetime | None) -> Walk:
    """Set each stop's opening at the time its visit starts (after any wait for it to open)."""
    if at is None:
        return walk
    visits = []
    for visit in walk.stops:
        stop = visit.stop
        if stop.view is None or stop.opening_hours:
            seen = opening_at(
                stop.opening_hours or None, at + dt.timedelta(seconds=visit.arrival_s)
            )
            closes = f"{seen.closes:%H:%M}" if seen.closes is not None else ""
            stop = replace(stop, opening=seen.status, hours=seen.note, closes=closes)
        visits.append(replace(visit, stop=stop))
    return replace(walk, stops=tuple(visits))
