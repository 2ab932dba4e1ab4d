"""High-level jobs that chain the modules: the stops of an area, and whole walks."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walks import _validate, settings
from walks.categories import load_categories, select_categories
from walks.data import OsmFeatures
from walks.errors import DataError, LandmarkError, UsageError
from walks.geocode import geocode
from walks.graph import haversine_m
from walks.hours import opening_status
from walks.loader import LoadedGraph, load_features, load_graph
from walks.planner import plan_walk
from walks.stops import StopOptions, find_stops
from walks.types import Area, BBox, LatLon, PlanRequest
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
    from walks.types import Stop, Walk, WalkWarning
    from walks.views import Landmark


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
        The DEM, if one was given.
    """

    loaded: LoadedGraph
    features: OsmFeatures
    categories: dict[str, Category]
    stops: list[Stop]
    landmark: Landmark | None
    terrain: Terrain | None


def stops_in_area(
    area: Area | None,
    category_names: list[str],
    *,
    osm_file: str | Path | None = None,
    category_files: tuple[str | Path, ...] = (),
    landmark: str | None = None,
    dem: str | Path | None = None,
    at: dt.datetime | None = None,
    roofline_m: float | None = None,
    skip_missing: bool = False,
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
        A DEM GeoTIFF for terrain, or None for flat ground.
    at
        Local departure time, or None.
    roofline_m
        Building height assumed beyond the loaded data, or None.
    skip_missing
        Leave out categories with no stop here instead of raising (see ``find_stops``).
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
    ServiceError
        When an online service fails.
    """
    _check_common(area, osm_file=osm_file, roofline_m=roofline_m, at=at,
                  max_area_km2=max_area_km2, attempts=attempts)  # fmt: skip
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
    online = area is not None and osm_file is None
    corridor = None
    if online and early is not None:
        assert area is not None
        corridor = view_corridor(area, early, max_km2=max_area_km2)
    features = (
        load_features(
            area, chosen, osm_file=osm_file, corridor=corridor, cache_dir=cache_dir,
            overpass_url=overpass_url, attempts=attempts, progress=progress,
        )
        if chosen
        else OsmFeatures((), (), graph.meta.source)
    )  # fmt: skip
    mark = (
        resolve_landmark(landmark, features.features) if landmark else default_landmark(graph.bbox)
    )
    if mark is not None and wants_view:
        check_within_sight(mark, graph.bbox)
    terrain = None
    if dem is not None:
        terrain = Terrain(Path(dem))
        lats = np.array([graph.bbox.south, graph.bbox.north])
        lons = np.array([graph.bbox.west, graph.bbox.east])
        if not terrain.covers(lats, lons):
            box = tuple(round(v, 5) for v in graph.bbox)
            msg = (
                f"the DEM {str(dem)!r} does not cover the area {box}: "
                "give a DEM of this area (any CRS; it is reprojected)"
            )
            raise DataError(msg)
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
        options=StopOptions(at=at, landmark=mark, terrain=terrain, roofline_m=roofline_m),
        known=known,
        known_polygon=known_polygon,
        skip_missing=skip_missing,
    )  # fmt: skip
    return AreaStops(loaded, features, categories, stops, mark, terrain)


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
    for b in features.buildings:
        ring = np.asarray(b.outline)
        west, east = min(west, float(ring[:, 0].min())), max(east, float(ring[:, 0].max()))
        south, north = min(south, float(ring[:, 1].min())), max(north, float(ring[:, 1].max()))
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
        Total climb of the best walk (with a DEM), or None.
    elevations
        Ground elevation per point of the best walk's geometry (with a DEM), or None.
    """

    area_stops: AreaStops
    request: PlanRequest
    walks: list[Walk]
    departure: dt.datetime | None
    climb_m: float | None
    elevations: list[float] | None

    @property
    def warnings(self) -> tuple[WalkWarning, ...]:
        """What the walker should know about the best walk (shortfalls, dropped stops, ...)."""
        return self.walks[0].warnings if self.walks else ()


def resolve_start(
    text: str | None, found: AreaStops, *, nominatim_url: str = settings.NOMINATIM_URL,
    cache_dir: Path | None = None, what: str = "start",
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
        box = graph.bbox
        node, _ = graph.nearest_node(LatLon((box.south + box.north) / 2, (box.west + box.east) / 2))
        return LatLon(float(graph.node_lat[node]), float(graph.node_lon[node]))
    point = _validate.parse_lat_lon(text, name=f"--{what}")
    if point is not None:
        return point
    local = find_named_place(text, found)
    if local is not None:
        return local
    return geocode(text, nominatim_url=nominatim_url, cache_dir=cache_dir).point


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
    at: dt.datetime | None = None,
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
    cache_dir: Path | None = None,
    use_cache: bool = True,
    overpass_url: str = settings.OVERPASS_URL,
    nominatim_url: str = settings.NOMINATIM_URL,
    max_area_km2: float = settings.MAX_AREA_KM2,
    attempts: int = settings.MAX_ATTEMPTS,
    progress: Callable[[str], None] | None = None,
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
    found = stops_in_area(
        area, names, osm_file=osm_file, category_files=category_files, landmark=landmark,
        dem=dem, at=at, roofline_m=roofline_m, skip_missing=optional,
        cache_dir=cache_dir, use_cache=use_cache,
        overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=attempts,
        progress=progress,
    )  # fmt: skip
    graph = found.loaded.graph
    origin = resolve_start(start, found, nominatim_url=nominatim_url, cache_dir=cache_dir)
    finish = (
        resolve_start(end, found, nominatim_url=nominatim_url, cache_dir=cache_dir, what="end")
        if end
        else None
    )
    speed = settings.WALKING_SPEED_KPH / 3.6
    candidates = list(found.stops)
    if at is not None:  # leave out places that will be closed when the walker gets there
        kept = []
        for stop in candidates:
            eta = dt.timedelta(seconds=_straight_m(origin, stop.location) / speed)
            status, _ = opening_status(stop.opening_hours or None, at + eta)
            if status != "closed":
                kept.append(stop)
        candidates = kept
    by_name = {s.name.lower(): s.id for s in candidates}
    must = tuple(by_name.get(m.lower(), m) for m in must_visit)
    request = PlanRequest(
        start=origin, end=finish, km=km,
        minutes=minutes if minutes is not None or km is not None else 60.0,
        stops=tuple(asked), order=order, must_visit=must,
        dwell_s=tuple((k, c.dwell_s) for k, c in found.categories.items()),
        speed_kph=settings.WALKING_SPEED_KPH, pleasant_weight=quiet, avoid_steps=avoid_steps,
        seed=seed, alternatives=alternatives, allow_repeats=allow_repeats, soft_stops=optional,
    )  # fmt: skip
    if progress is not None:
        progress("planning the walk")
    walks = [_with_arrival_status(w, at) for w in plan_walk(graph, candidates, request)]
    climb, elevations = None, None
    if found.terrain is not None:
        lats = np.array([p.lat for p in walks[0].geometry])
        lons = np.array([p.lon for p in walks[0].geometry])
        ground = found.terrain.sample(lats, lons)
        elevations = [float(v) for v in ground]
        climb = float(np.clip(np.diff(ground), 0, None).sum())
    return GeneratedWalks(found, request, walks, at, climb, elevations)


def _straight_m(a: LatLon, b: LatLon) -> float:
    """Straight-line distance in metres."""
    return float(haversine_m(np.array(a.lat), np.array(a.lon), np.array(b.lat), np.array(b.lon)))


def _with_arrival_status(walk: Walk, at: dt.datetime | None) -> Walk:
    """Set each stop's opening status at its arrival time."""
    if at is None:
        return walk
    visits = []
    for visit in walk.stops:
        stop = visit.stop
        if stop.opening_hours:
            status, note = opening_status(
                stop.opening_hours, at + dt.timedelta(seconds=visit.arrival_s)
            )
            stop = replace(stop, opening=status, hours=note)
        visits.append(replace(visit, stop=stop))
    return replace(walk, stops=tuple(visits))
