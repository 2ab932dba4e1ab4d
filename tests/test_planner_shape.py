"""Shape of a walk: a stop at a dead end says so; U-turns are visible in legs and directions."""

from __future__ import annotations

import numpy as np

from walks.data import OsmWays, WayRecord
from walks.directions import directions
from walks.graph import WalkGraph, graph_from_ways
from walks.planner import plan_walk
from walks.planner.assembly import Assembler
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
