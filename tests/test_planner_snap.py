"""Start and end on the street: the nearest point of a walkable way, the edge split there."""

from __future__ import annotations

import pytest

from walks.data import OsmWays, WayRecord
from walks.errors import NoWalkError
from walks.graph import WalkGraph, graph_from_ways, haversine_m
from walks.planner.snapping import snap
from walks.types import LatLon


def _street(tags: dict[str, str]) -> WalkGraph:
    """A straight street 0.004 degrees of longitude long (290 m at 48.8 N) and a way back."""
    way = WayRecord(1, (1, 2, 3), (48.8, 48.8, 48.8), (2.300, 2.301, 2.304), tags)
    back = WayRecord(
        2, (3, 4, 1), (48.8, 48.798, 48.8), (2.304, 2.302, 2.300), {"highway": "residential"}
    )
    return graph_from_ways(OsmWays((way, back), "test:street", None))


def test_a_point_beside_a_street_snaps_onto_it_not_to_a_junction() -> None:
    graph = _street({"highway": "residential"})
    point = LatLon(48.8002, 2.3015)  # 22 m north of the street, 37 m east of its 2nd node
    found = snap(graph, point, "start", leaving=True)
    on = found.lead[0]
    assert on.lat == pytest.approx(48.8)
    assert on.lon == pytest.approx(2.3015)
    assert found.offset_m == pytest.approx(22.2, abs=0.3)
    assert found.offset_m < graph.nearest_node(point)[1]
    # the lead runs from the point on the street to the nearer end of the split edge
    end = found.lead[-1]
    assert (end.lat, end.lon) == (graph.node_lat[found.node], graph.node_lon[found.node])
    assert found.lead_m == pytest.approx(
        float(haversine_m(on.lat, on.lon, end.lat, end.lon)), rel=0.01
    )


def test_a_one_way_foot_way_is_left_and_entered_its_own_way() -> None:
    graph = _street({"highway": "footway", "oneway:foot": "yes"})
    point = LatLon(48.8002, 2.3015)  # nearer the way's first end, which it must not walk to
    leaving = snap(graph, point, "start", leaving=True)
    arriving = snap(graph, point, "end", leaving=False)
    assert leaving.lead[-1].lon > point.lon  # walked along the way, away from its start
    assert arriving.lead[-1].lon < point.lon  # reached from behind, along the way
    assert leaving.node != arriving.node


def test_a_node_index_is_taken_as_it_is_and_far_points_are_refused() -> None:
    graph = _street({"highway": "residential"})
    assert snap(graph, 1, "start", leaving=True).offset_m == 0.0
    with pytest.raises(NoWalkError, match="m from the nearest walkable way"):
        snap(graph, LatLon(48.81, 2.302), "end", leaving=False)
    with pytest.raises(NoWalkError, match="not in the walking graph"):
        snap(graph, 99, "start", leaving=True)
