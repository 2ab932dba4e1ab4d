"""Small immutable value types shared across the package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NamedTuple

if TYPE_CHECKING:
    from shapely import Polygon


class LatLon(NamedTuple):
    """A WGS84 point, latitude first (as geopy and folium order it)."""

    lat: float
    lon: float


class BBox(NamedTuple):
    """A WGS84 bounding box as ``(west, south, east, north)`` in degrees (osmnx order)."""

    west: float
    south: float
    east: float
    north: float


AreaKind = Literal["place", "bbox", "point"]


@dataclass(frozen=True, slots=True)
class Area:
    """A region to walk in.

    Attributes
    ----------
    label
        What the user asked for, for messages and cache listings.
    kind
        ``"place"`` (geocoded name), ``"bbox"`` or ``"point"`` (a centre and a radius).
    polygon
        The region's outline in WGS84 (x = longitude, y = latitude).
    """

    label: str
    kind: AreaKind
    polygon: Polygon

    @property
    def bbox(self) -> BBox:
        """The region's bounding box as ``(west, south, east, north)``."""
        west, south, east, north = self.polygon.bounds
        return BBox(west, south, east, north)

    @property
    def key(self) -> str:
        """A stable text key for caches: the outline with coordinates rounded to 1e-6 degrees."""
        from shapely import set_precision  # noqa: PLC0415 - shapely is heavy; only needed here

        return str(set_precision(self.polygon, 1e-6).wkt)
