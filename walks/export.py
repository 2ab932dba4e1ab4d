"""Turn results into files and records: JSON-ready dicts and GeoJSON (map and GPX come later)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from walks.types import Stop

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
        ``bearing_deg``, ``unknown_m``, ``lit``, ``golden_hour``, ``landmark`` and
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
