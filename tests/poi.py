"""Test scaffolding: plain stops from the real POIs of an extract (cafés, galleries, art shops)."""

from __future__ import annotations

from pathlib import Path

import osmium

from walks.graph import WalkGraph
from walks.types import LatLon, Stop


def stops_from_extract(path: Path, graph: WalkGraph) -> list[Stop]:
    """Named cafés and art places of an extract, snapped to the graph, scored by a few tags."""
    stops = []
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE):
        tags = obj.tags
        if tags.get("amenity") == "cafe":
            category = "cafe"
        elif tags.get("tourism") == "gallery" or tags.get("shop") == "art" or "craft" in tags:
            category = "studio"
        else:
            continue
        if "name" not in tags:
            continue
        point = LatLon(obj.location.lat, obj.location.lon)
        node, _ = graph.nearest_node(point)
        score = 1.0 + 0.5 * ("outdoor_seating" in tags) + 0.3 * ("opening_hours" in tags)
        stops.append(
            Stop(
                id=f"{category}:node/{obj.id}",
                osm_id=f"node/{obj.id}",
                name=tags["name"],
                category=category,
                location=point,
                node=node,
                score=score,
            )
        )
    return stops
