"""Area selection: a place name, a bounding box, or a point and a radius in metres."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import settings
from walks._http import check_attempts
from walks.errors import AreaError
from walks.geocode import geocode
from walks.types import Area, LatLon

if TYPE_CHECKING:
    from pathlib import Path

    from shapely import Polygon

_M_PER_DEG = 111_320.0
_NUM = r"\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf(?:inity)?))\s*"
_TWO = re.compile(rf"^{_NUM},{_NUM}$", re.IGNORECASE)
_FOUR = re.compile(rf"^{_NUM},{_NUM},{_NUM},{_NUM}$", re.IGNORECASE)
#: Three, five or more comma-separated numbers: a typo, not a place (a lone number may be a
#: postcode, and "Nan" is a town).
_NUMBERS = re.compile(rf"^{_NUM}(?:,{_NUM})+$", re.IGNORECASE)
_MAX_LAT = 90.0
_MAX_LON = 180.0


def _number(value: object, name: str, label: str) -> float:
    """
    Check that an argument is a real number (not a bool, not text).

    Parameters
    ----------
    value
        The argument.
    name
        Its name, for the message.
    label
        What it belongs to, for the message.

    Returns
    -------
    float
        The number (it may still be NaN or infinite; callers check ranges).

    Raises
    ------
    AreaError
        When it is not a number.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = f"{name} {value!r} of {label!r} is not a number: give degrees, e.g. 48.86"
        raise AreaError(msg)
    return float(value)


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

    label = str(label) if label else f"{west},{south},{east},{north}"
    west, south, east, north = (
        _number(v, n, label)
        for v, n in ((west, "west"), (south, "south"), (east, "east"), (north, "north"))
    )
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

    given: object = center
    if not (isinstance(given, tuple) and len(given) == 2):  # noqa: PLR2004
        msg = f"the centre {given!r} is not a LatLon: give LatLon(lat, lon) in degrees"
        raise AreaError(msg)
    lat = _number(given[0], "latitude", str(given))
    lon = _number(given[1], "longitude", str(given))
    radius_m = _check_radius(radius_m)
    label = str(label) if label else f"{lat},{lon} within {radius_m:g} m"
    _check_lat_lon(lat, lon, label)
    center = LatLon(lat, lon)
    angles = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    dlat = radius_m / _M_PER_DEG
    dlon = dlat / max(math.cos(math.radians(center.lat)), 1e-6)
    ring = np.column_stack([center.lon + dlon * np.cos(angles), center.lat + dlat * np.sin(angles)])
    return Area(label=label, kind="point", polygon=shapely.Polygon(ring))


def _check_radius(radius_m: object) -> float:
    """
    Check a radius argument.

    Parameters
    ----------
    radius_m
        The radius in metres.

    Returns
    -------
    float
        The radius.

    Raises
    ------
    AreaError
        When it is not a finite number above 0.
    """
    if (
        isinstance(radius_m, bool)
        or not isinstance(radius_m, (int, float))
        or not (math.isfinite(radius_m) and radius_m > 0)
    ):
        msg = f"radius {radius_m!r} m is not positive: give a radius in metres above 0, e.g. 800"
        raise AreaError(msg)
    return float(radius_m)


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
    given: object = area
    if not isinstance(given, Area):
        msg = f"the area {given!r} is not an Area: make one with walks.area.resolve_area"
        raise AreaError(msg)
    limit: object = max_km2
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not limit > 0:
        msg = f"the area limit {max_km2!r} km² is not a number above 0: give e.g. 30"
        raise AreaError(msg)
    size = area_km2(area.polygon)
    if size > max_km2:
        msg = (
            f"area {area.label!r} covers {size:,.1f} km², more than the {max_km2:g} km² limit: "
            "choose a smaller area or radius, or raise --max-area-km2"
        )
        raise AreaError(msg)


def _outline(geometry: dict[str, Any] | None) -> Polygon | None:
    """
    Read a place's outline from the geocoder's GeoJSON, if it is a usable polygon.

    Parameters
    ----------
    geometry
        A GeoJSON geometry, or None.

    Returns
    -------
    Polygon or None
        The outline (a multipolygon's convex hull), or None when it is not a valid, non-empty
        polygon within longitude -180..180 and latitude -90..90 (the caller then uses the
        place's bounding box).
    """
    import shapely  # noqa: PLC0415

    if not geometry or geometry.get("type") not in {"Polygon", "MultiPolygon"}:
        return None
    try:
        shape = shapely.geometry.shape(geometry)
    except (
        TypeError,
        ValueError,
        KeyError,
        IndexError,
        AttributeError,
        shapely.errors.ShapelyError,
    ):
        return None
    if shape.is_empty or not shape.is_valid:
        return None
    west, south, east, north = shape.bounds
    if not (-_MAX_LON <= west <= east <= _MAX_LON and -_MAX_LAT <= south <= north <= _MAX_LAT):
        return None
    polygon = shape.convex_hull if shape.geom_type == "MultiPolygon" else shape
    return polygon if polygon.geom_type == "Polygon" else None


def _box_area(match: re.Match[str], text: str, radius_m: float | None) -> Area:
    """
    Make the area of a ``west,south,east,north`` text, which takes no radius.

    Parameters
    ----------
    match
        ``_FOUR``'s match of the text.
    text
        The text, for the label and messages.
    radius_m
        The radius given with it, or None.

    Returns
    -------
    Area
        The box.

    Raises
    ------
    AreaError
        When a radius is given (a box has no centre: it would be ignored), or the box is out
        of range or empty.
    """
    if radius_m is not None:
        msg = (
            f"the bounding box {text!r} takes no radius ({radius_m:g} m given): a radius goes "
            "with 'lat,lon' or a place name; give the box without one"
        )
        raise AreaError(msg)
    west, south, east, north = (float(g) for g in match.groups())
    return area_from_bbox(west, south, east, north, label=text)


def area_kind(text: str) -> str:
    """
    Say which form of area some text has, without resolving it.

    Parameters
    ----------
    text
        The user's area text.

    Returns
    -------
    str
        ``"bbox"`` (four numbers), ``"point"`` (two numbers) or ``"place"`` (anything else,
        malformed numbers included: ``resolve_area`` refuses those).
    """
    text = text.strip()
    if _FOUR.match(text):
        return "bbox"
    if _TWO.match(text):
        return "point"
    return "place"


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

    ``"west,south,east,north"`` (four numbers) is a bounding box (no radius: it has no centre
    to take one around); ``"lat,lon"`` is a point
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
        When the text is not text, is empty, holds numbers out of range (NaN and infinity
        included) or neither two nor four of them, the box is empty, a box comes with a
        radius, or the radius is not a finite number above 0.
    GeocodeError
        When the place is not found.
    ServiceError
        When Nominatim fails.
    UsageError
        When ``attempts`` is not a whole number of at least 1, the URL is not http(s), or the
        place name is unusable (too long, control characters).
    """
    import shapely  # noqa: PLC0415

    given: object = text
    if not isinstance(given, str):
        msg = (
            f"the area {given!r} is not text: give a place name, 'lat,lon' or "
            "'west,south,east,north'"
        )
        raise AreaError(msg)
    text = given.strip()
    if radius_m is not None:
        radius_m = _check_radius(radius_m)
    check_attempts(attempts)
    if not text:
        msg = "the area is empty: give a place name, 'lat,lon' or 'west,south,east,north'"
        raise AreaError(msg)
    if match := _FOUR.match(text):
        return _box_area(match, text, radius_m)
    if match := _TWO.match(text):
        lat, lon = (float(g) for g in match.groups())
        radius = radius_m or settings.DEFAULT_RADIUS_M
        return area_from_point(LatLon(lat, lon), radius, label=f"{text} within {radius:g} m")
    if _NUMBERS.match(text):
        msg = (
            f"the area {text!r} is neither 'lat,lon' nor 'west,south,east,north': "
            "give two or four numbers"
        )
        raise AreaError(msg)
    place = geocode(text, nominatim_url=nominatim_url, cache_dir=cache_dir, attempts=attempts)
    if radius_m is not None:
        return area_from_point(place.point, radius_m, label=f"{text} within {radius_m:g} m")
    polygon = _outline(place.geojson)
    if polygon is not None:
        return Area(label=text, kind="place", polygon=polygon)
    box = place.bbox
    if box.west < box.east and box.south < box.north:
        return Area(label=text, kind="place", polygon=shapely.box(*box))
    return area_from_point(place.point, settings.DEFAULT_RADIUS_M, label=text)
