"""High-level jobs that chain the modules: stops of an area, and (later) a whole walk."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from walks import settings
from walks.categories import load_categories, select_categories
from walks.errors import DataError
from walks.loader import LoadedGraph, load_features, load_graph
from walks.stops import StopOptions, find_stops
from walks.types import BBox
from walks.views import Terrain, default_landmark, resolve_landmark

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Callable

    from walks.categories import Category
    from walks.data import OsmFeatures
    from walks.types import Area, Stop
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
    categories = load_categories(*category_files)
    chosen = select_categories(categories, category_names)
    loaded = load_graph(
        area, osm_file=osm_file, cache_dir=cache_dir, use_cache=use_cache,
        overpass_url=overpass_url, max_area_km2=max_area_km2, attempts=attempts,
        progress=progress,
    )  # fmt: skip
    graph = loaded.graph
    features = load_features(
        area, chosen, osm_file=osm_file, cache_dir=cache_dir, overpass_url=overpass_url,
        attempts=attempts, progress=progress,
    )  # fmt: skip
    mark = (
        resolve_landmark(landmark, features.features) if landmark else default_landmark(graph.bbox)
    )
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
    if progress is not None:
        progress("finding stops")
    stops = find_stops(
        graph, features, chosen,
        options=StopOptions(at=at, landmark=mark, terrain=terrain, roofline_m=roofline_m),
        known=known,
    )  # fmt: skip
    return AreaStops(loaded, features, categories, stops, mark, terrain)


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
