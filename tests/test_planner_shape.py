"""Shape of a walk: a stop at a dead end says so; U-turns are visible in legs and directions."""

from __future__ import annotations

import numpy as np

from walks.data import OsmWays, WayRecord
from walks.directions import directions
from walks.export import walk_summary
from walks.graph import WalkGraph, graph_from_ways, haversine_m
from walks.planner import plan_walk
from walks.planner.assembly import Assembler, cancel_backtracks
from walks.planner.candidates import Candidates
from walks.planner.routing import Router, edge_factors
from walks.types import LatLon, PlanRequest, Stop


def _square_with_a_dead_end() -> WalkGraph:
    """A square of ~220 m sides (nodes 1..4) and a 110 m dead end from node 2 to node 5."""
    la, lo = 48.80, 2.30
    ring = WayRecord(
        1, (1, 2, 3, 4, 1), (la, la, la + 0.002, la + 0.002, la),
        (lo, lo + 0.003, lo + 0.003, lo, lo), {"highway": "residential", "name": "Ring"},
    )  # fmt: skip
    spur = WayRecord(
        2, (2, 5), (la, la - 0.001), (lo + 0.003, lo + 0.003), {"highway": "residential"}
    )
    return graph_from_ways(OsmWays((ring, spur), "test:square", None))


def _node(graph: WalkGraph, osm_id: int) -> int:
    return int(np.flatnonzero(graph.node_osm_id == osm_id)[0])


def test_a_stop_at_the_end_of_a_dead_end_says_the_walk_comes_back() -> None:
    graph = _square_with_a_dead_end()
    tip = _node(graph, 5)
    cafe = Stop(
        id="cafe:1", osm_id="node/9", name="Tip", category="cafe",
        location=LatLon(float(graph.node_lat[tip]), float(graph.node_lon[tip])), node=tip,
        score=1.0, reason="a quiet café.",
    )  # fmt: skip
    request = PlanRequest(start=_node(graph, 1), km=1.1, stops=(("cafe", 1),))
    walk = plan_walk(graph, [cafe], request)[0]
    (visit,) = walk.stops
    assert visit.stop.reason == (
        "a quiet café; at the end of a dead end: the walk comes back the same way"
    )
    after = walk.legs[visit.leg + 1]
    assert after.steps[0].instruction.startswith("turn back")


def test_u_turns_inside_a_leg_are_listed_and_announced() -> None:
    graph = _square_with_a_dead_end()
    a, tip = _node(graph, 2), _node(graph, 5)
    (edge,) = [e for e in range(graph.n_edges) if {graph.edge_u[e], graph.edge_v[e]} == {a, tip}]
    steps = directions(graph, [a, tip, a], [edge, edge])
    assert len(steps) == 2
    assert steps[1].instruction.startswith("turn back")
    request = PlanRequest(start=a, km=1.0)
    router = Router(graph, edge_factors(graph, pleasant_weight=1.0, avoid_steps=False))
    leg = Assembler(graph, router, request, lambda _: 0.0).leg([a, tip, a], [edge, edge], None)
    assert leg.u_turns == (1,)
    assert leg.steps == steps


def test_candidates_alone_drop_a_missing_default_category_and_keep_the_reachable() -> None:
    graph = _square_with_a_dead_end()
    tip = _node(graph, 5)
    cafe = Stop(
        id="cafe:1", osm_id="node/9", name="Tip", category="cafe",
        location=LatLon(float(graph.node_lat[tip]), float(graph.node_lon[tip])), node=tip,
        score=1.0,
    )  # fmt: skip
    request = PlanRequest(
        start=_node(graph, 1), km=1.0, stops=(("cafe", 1), ("studio", 1)), soft_stops=True
    )
    router = Router(graph, edge_factors(graph, pleasant_weight=1.0, avoid_steps=False))
    start = _node(graph, 1)
    pool = Candidates(graph, router, request, (cafe,), (1000.0, 0.0), (start, start))
    from_start, to_end = pool.reach()
    assert pool.candidates(from_start, to_end) == [cafe]
    assert pool.counts == {"cafe": 1}
    assert [w.code for w in pool.notes] == ["stop_dropped"]
    assert "no studio stop in this area" in pool.notes[0].message


def test_a_stop_beside_a_street_is_reached_where_the_walk_passes_nearest() -> None:
    graph = _square_with_a_dead_end()
    la, lo = 48.80, 2.30
    # 11 m north of the middle of the Ring's south side, ~110 m from both its junctions
    where = LatLon(la + 0.0001, lo + 0.0015)
    cafe = Stop(
        id="cafe:1", osm_id="node/9", name="Beside", category="cafe", location=where,
        node=_node(graph, 2), score=1.0, reason="a café.",
    )  # fmt: skip
    request = PlanRequest(start=_node(graph, 1), km=0.9, stops=(("cafe", 1),))
    walk = plan_walk(graph, [cafe], request)[0]
    (visit,) = walk.stops
    assert visit.reached_at is not None
    assert 10.0 < visit.reach_distance_m < 12.5  # the street, not the junction 110 m away
    assert abs(visit.reached_at.lat - la) < 1e-6
    assert abs(visit.reached_at.lon - (lo + 0.0015)) < 1e-5
    # the arrival is the walking time to that point along the line
    lat = np.array([p.lat for p in walk.geometry])
    lon = np.array([p.lon for p in walk.geometry])
    steps = haversine_m(lat[:-1], lon[:-1], lat[1:], lon[1:])
    along = np.concatenate([[0.0], np.cumsum(steps)])
    hits = np.flatnonzero(
        (np.minimum(lon[:-1], lon[1:]) <= visit.reached_at.lon + 1e-9)
        & (np.maximum(lon[:-1], lon[1:]) >= visit.reached_at.lon - 1e-9)
        & (np.abs(lat[:-1] - la) < 1e-9) & (np.abs(lat[1:] - la) < 1e-9)
    )  # fmt: skip
    k = int(hits[0])
    metres = along[k] + haversine_m(lat[k], lon[k], visit.reached_at.lat, visit.reached_at.lon)
    speed = request.speed_kph / 3.6
    assert abs(visit.arrival_s - float(metres) / speed) < 2.0
    summary = walk_summary(walk)
    assert summary["stops"][0]["reach_distance_m"] == round(visit.reach_distance_m, 1)
    assert summary["stops"][0]["reached_at"] == {
        "lat": round(visit.reached_at.lat, 7), "lon": round(visit.reached_at.lon, 7)
    }  # fmt: skip
    assert not [w for w in walk.warnings if w.code == "stop_far_from_route"]


def test_a_stop_far_from_the_walk_but_near_a_way_is_said() -> None:
    graph = _square_with_a_dead_end()
    la, lo = 48.80, 2.30
    # beside the dead end (node 2 to 5), which a loop around the Ring need not walk
    where = LatLon(la - 0.0009, lo + 0.0031)
    cafe = Stop(
        id="cafe:1", osm_id="node/9", name="Lane café", category="cafe", location=where,
        node=_node(graph, 2), score=1.0, reason="a café.",
    )  # fmt: skip
    walk = plan_walk(graph, [cafe], PlanRequest(start=_node(graph, 1), km=0.9,
                                                stops=(("cafe", 1),)))[0]  # fmt: skip
    (visit,) = walk.stops
    assert visit.reach_distance_m > 40.0
    (note,) = [w for w in walk.warnings if w.code == "stop_far_from_route"]
    assert note.message.startswith("Lane café is 10")
    assert "a walkable way passes 7 m from it" in note.message


def test_out_and_back_on_a_way_mapped_twice_is_a_spur() -> None:
    la, lo = 48.80, 2.30
    street = WayRecord(1, (1, 2), (la, la), (lo, lo + 0.001), {"highway": "residential"})
    twice = WayRecord(2, (2, 1), (la, la), (lo + 0.001, lo), {"highway": "footway"})
    on = WayRecord(3, (2, 3), (la, la), (lo + 0.001, lo + 0.002), {"highway": "residential"})
    graph = graph_from_ways(OsmWays((street, twice, on), "test:twice", None))
    a, b, c = _node(graph, 1), _node(graph, 2), _node(graph, 3)
    ab = [e for e in range(graph.n_edges) if {graph.edge_u[e], graph.edge_v[e]} == {a, b}]
    (bc,) = [e for e in range(graph.n_edges) if {graph.edge_u[e], graph.edge_v[e]} == {b, c}]
    router = Router(graph, edge_factors(graph, pleasant_weight=1.0, avoid_steps=False))
    asm = Assembler(graph, router, PlanRequest(start=a, km=1.0), lambda _: 0.0)
    assert sorted(asm.twin[ab].tolist()) == sorted(ab)
    assert asm.twin[bc] == bc
    # out along the street, back along the footway next to it, then on: the spur goes
    nodes, edges = cancel_backtracks([b, a, b, c], [ab[0], ab[1], bc], asm.twin)
    assert (nodes, edges) == ([b, c], [bc])
    # without twins only the very same edge walked back counts
    assert cancel_backtracks([b, a, b, c], [ab[0], ab[1], bc])[1] == [ab[0], ab[1], bc]


def test_no_spur_to_a_stop_the_walk_passes_near_anyway() -> None:
    la, lo = 48.80, 2.30
    # the Ring as two ways (its far corner a node too), the dead end from node 2 to node 5
    half = WayRecord(1, (1, 2, 3), (la, la, la + 0.002), (lo, lo + 0.003, lo + 0.003),
                     {"highway": "residential"})  # fmt: skip
    back = WayRecord(3, (3, 4, 1), (la + 0.002, la + 0.002, la), (lo + 0.003, lo, lo),
                     {"highway": "residential"})  # fmt: skip
    spur = WayRecord(
        2, (2, 5), (la, la - 0.001), (lo + 0.003, lo + 0.003), {"highway": "residential"}
    )
    graph = graph_from_ways(OsmWays((half, back, spur), "test:ring", None))
    tip = _node(graph, 5)
    # 22 m down the dead end from the Ring, but filed under the dead end's tip 90 m further on
    where = LatLon(la - 0.0002, lo + 0.003)
    cafe = Stop(
        id="cafe:1", osm_id="node/9", name="Corner", category="cafe", location=where, node=tip,
        score=1.0, reason="a café.",
    )  # fmt: skip
    # the Ring is 880 m: around it, past the café
    walk = plan_walk(graph, [cafe], PlanRequest(start=_node(graph, 1), km=0.92,
                                                stops=(("cafe", 1),)))[0]  # fmt: skip
    assert tip not in walk.nodes  # the out and back to the tip is cut
    assert walk.dead_end_spurs == 0
    (visit,) = walk.stops
    assert 20.0 < visit.reach_distance_m < 25.0  # at the Ring's corner, 22 m from the café
    assert "dead end" not in visit.stop.reason
    assert walk.legs[visit.leg].nodes[-1] == _node(graph, 2)
