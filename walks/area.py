"""Area selection: a place name, a bounding box, or a point and a radius in metres."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING

import numpy as np

from walks import settings
from walks.errors import AreaError
from walks.geocode import geocode
from walks.types import Area, LatLon

if TYPE_CHECKING:
    from pathlib import Path

    from shapely import Polygon

_M_PER_DEG = 111_320.0
_NUM = r"\s*([-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)\s*"
_TWO = re.compile(rf"^{_NUM},{_NUM}$")
_FOUR = re.compile(rf"^{_NUM},{_NUM},{_NUM},{_NUM}$")
_MAX_LAT = 90.0
_MAX_LON = 180.0


def _check_lat_lon(lat: float, lon: float, text: str) -> None:
    """
    Check that a coordinate pair is on Earth.

    Parameters
    ----------
    lat, lon
        Degrees.
    text
        The user's text, for the message.

    Raises
    ------
    AreaError
        When a value is out of range or not finite.
    """
    if (
        not (math.isfinite(lat) and math.isfinite(lon))
        or abs(lat) > _MAX_LAT
        or abs(lon) > _MAX_LON
    ):
        msg = f"coordinates {text!r} are out of range: latitude is -90..90, longitude -180..180"
        raise AreaError(msg)


def area_from_bbox(
    west: float, south: float, east: float, north: float, *, label: str = ""
) -> Area:
    """
    Make an area from a bounding box.

    Parameters
    ----------
    west, south, east, north
        The box's edges in degrees (osmnx's ``(left, bottom, right, top)`` order).
    label
        A label for messages; None builds one from the numbers.

    Returns
    -------
    Area
        The box.

    Raises
    ------
    AreaError
        When the box is out of range or empty (west ≥ east or south ≥ north).
    """
    import shapely  # noqa: PLC0415

    label = label or f"{west},{south},{east},{north}"
    _check_lat_lon(south, west, label)
    _check_lat_lon(north, east, label)
    if not (west < east and south < north):
        msg = (
            f"bounding box {label!r} is empty: "
            "give west,south,east,north with west < east and south < north"
        )
        raise AreaError(msg)
    return Area(label=label, kind="bbox", polygon=shapely.box(west, south, east, north))


def area_from_point(center: LatLon, radius_m: float, *, label: str = "") -> Area:
    """
    Make a circular area around a point.

    Parameters
    ----------
    center
        The centre.
    radius_m
        The radius in metres (> 0).
    label
        A label for messages; empty builds one from the numbers.

    Returns
    -------
    Area
        A 64-sided polygon approximating the circle.

    Raises
    ------
    AreaError
        When the radius is not a positive number or the centre is out of range.
    """
    import shapely  # noqa: PLC0415

    label = label or f"{center.lat},{center.lon} within {radius_m:g} m"
    _check_lat_lon(center.lat, center.lon, label)
    if not (math.isfinite(radius_m) and radius_m > 0):
        msg = f"radius {radius_m!r} m is not positive: give a radius in metres above 0, e.g. 800"
        raise AreaError(msg)
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    dlat = radius_m / _M_PER_DEG
    dlon = dlat / max(math.cos(math.radians(center.lat)), 1e-6)
    ring = np.column_stack([center.lon + dlon * np.cos(angles), center.lat + dlat * np.sin(angles)])
    return Area(label=label, kind="point", polygon=shapely.Polygon(ring))


def area_km2(polygon: Polygon) -> float:
    """
    Approximate the area of a WGS84 polygon.

    Parameters
    ----------
    polygon
        The outline (x = longitude, y = latitude).

    Returns
    -------
    float
        Square kilometres (equirectangular approximation at the polygon's centre; within a
        fraction of a percent for city-sized areas).
    """
    lat = polygon.centroid.y
    return float(polygon.area * _M_PER_DEG**2 * math.cos(math.radians(lat)) / 1e6)


def check_area_size(area: Area, *, max_km2: float = settings.MAX_AREA_KM2) -> None:
    """
    Refuse areas larger than the limit for one download.

    Parameters
    ----------
    area
        The area.
    max_km2
        The limit in square kilometres.

    Raises
    ------
    AreaError
        When the area is larger, naming its size, the limit and the fix.
    """
    size = area_km2(area.polygon)
    if size > max_km2:
        msg = (
            f"area {area.label!r} covers {size:,.1f} km², more than the {max_km2:g} km² limit: "
            "choose a smaller area or radius, or raise --max-area-km2"
        )
        raise AreaError(msg)


def resolve_area(
    text: str,
    *,
    radius_m: float | None = None,
    nominatim_url: str = settings.NOMINATIM_URL,
    cache_dir: Path | None = None,
    attempts: int = settings.MAX_ATTEMPTS,
) -> Area:
    """
    Turn what the user typed into an area.

    ``"west,south,east,north"`` (four numbers) is a bounding box; ``"lat,lon"`` is a point
    with ``radius_m`` (default ``settings.DEFAULT_RADIUS_M``); anything else is a place name,
    geocoded with Nominatim: its outline when it has one, else a circle of ``radius_m`` around
    it when a radius is given, else its bounding box. A place name with a radius always gives
    the circle.

    Parameters
    ----------
    text
        The user's area text.
    radius_m
        Radius in metres for points and places, or None.
    nominatim_url
        The Nominatim base URL.
    cache_dir
        The walks cache directory (geocoder replies are cached there).
    attempts
        How many times to try Nominatim.

    Returns
    -------
    Area
        The area.

    Raises
    ------
    AreaError
        When numbers are out of range, the box is empty or the radius is not positive.
    GeocodeError
        When the place is not found.
    ServiceError
        When Nominatim fails.
    """
    import shapely  # noqa: PLC0415

    text = text.strip()
    if radius_m is not None and not (math.isfinite(radius_m) and radius_m > 0):
        msg = f"radius {radius_m!r} m is not positive: give a radius in metres above 0, e.g. 800"
        raise AreaError(msg)
    if not text:
        msg = "the area is empty: give a place name, 'lat,lon' or 'west,south,east,north'"
        raise AreaError(msg)
    if match := _FOUR.match(text):
        west, south, east, north = (float(g) for g in match.groups())
        return area_from_bbox(west, south, east, north, label=text)
    if match := _TWO.match(text):
        lat, lon = (float(g) for g in match.groups())
        radius = radius_m or settings.DEFAULT_RADIUS_M
        return area_from_point(LatLon(lat, lon), radius, label=f"{text} within {radius:g} m")
    place = geocode(text, nominatim_url=nominatim_url, cache_dir=cache_dir, attempts=attempts)
    if radius_m is not None:
        return area_from_point(place.point, radius_m, label=f"{text} within {radius_m:g} m")
    geometry = place.geojson or {}
    if geometry.get("type") in {"Polygon", "MultiPolygon"}:
        polygon = shapely.geometry.shape(geometry)
        if polygon.is_valid and not polygon.is_empty:
            if polygon.geom_type == "MultiPolygon":
                polygon = polygon.convex_hull
            return Area(label=text, kind="place", polygon=polygon)
    box = place.bbox
    if box.west < box.east and box.south < box.north:
        return Area(label=text, kind="place", polygon=shapely.box(*box))
    return area_from_point(place.point, settings.DEFAULT_RADIUS_M, label=text)
