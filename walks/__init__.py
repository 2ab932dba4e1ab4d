"""walks: plan pleasant city walks from OpenStreetMap data."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from walks.api import generate_walks, stops_in_area
from walks.area import resolve_area
from walks.errors import (
    AreaError,
    CacheError,
    DataError,
    ExportError,
    GeocodeError,
    NoWalkError,
    ServiceError,
    WalksError,
)
from walks.export import gpx_text, walk_geojson, walk_summary
from walks.geocode import geocode
from walks.loader import load_graph
from walks.planner import plan_walk, solve_orienteering
from walks.stops import find_stops
from walks.types import Area, BBox, LatLon, Leg, PlanRequest, Step, Stop, VisitedStop, Walk

try:
    __version__ = version("walks")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Area",
    "AreaError",
    "BBox",
    "CacheError",
    "DataError",
    "ExportError",
    "GeocodeError",
    "LatLon",
    "Leg",
    "NoWalkError",
    "PlanRequest",
    "ServiceError",
    "Step",
    "Stop",
    "VisitedStop",
    "Walk",
    "WalksError",
    "__version__",
    "find_stops",
    "generate_walks",
    "geocode",
    "gpx_text",
    "load_graph",
    "plan_walk",
    "resolve_area",
    "solve_orienteering",
    "stops_in_area",
    "walk_geojson",
    "walk_summary",
]
