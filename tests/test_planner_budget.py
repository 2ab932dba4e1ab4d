"""Honest budgets, soft default stops, spurs and one-way foot ways, on real and built graphs."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pytest

from walks.categories import load_categories
from walks.data import OsmWays, WayRecord, read_features
from walks.errors import NoWalkError
from walks.export import walk_summary
from walks.graph import WalkGraph, graph_from_ways, haversine_m
from walks.planner import plan_walk
from walks.stops import find_stops
from walks.types import LatLon, PlanRequest, Stop

if TYPE_CHECKING:
    from pathlib import Path

PARIS_START = LatLon(48.8795, 2.3495)


def _grid(size: int, tags: dict[str, str] | None = None) -> WalkGraph:
    """A square grid of residential streets about 111 m by 74 m a block."""
    ways = []
    for i in range(size):
        for horizontal in (True, False):
            refs = tuple(
                (i * 100 + j + 1) if horizontal else (j * 100 + i + 1) for j in range(size)
            )
            lats = tuple(48.0 + (i if horizontal else j) * 0.001 for j in range(size))
            lons = tuple(2.0 + (j if horizontal else i) * 0.001 for j in range(size))
            ways.append(WayRecord(len(ways) + 1, refs, lats, lons,
                                  {"highway": "residential", **(tags or {})}))  # fmt: skip
    return graph_from_ways(OsmWays(tuple(ways), "test:grid", None))


def _node(graph: WalkGraph, osm_id: int) -> int:
    return int(np.flatnonzero(graph.node_osm_id == osm_id)[0])


def _stop(graph: WalkGraph, node: int, category: str, name: str) -> Stop:
    return Stop(
        id=f"{category}:{name}", osm_id="node/1", name=name, category=category,
        location=LatLon(float(graph.node_lat[node]), float(graph.node_lon[node])), node=node,
        score=1.0,
    )  # fmt: skip


@pytest.fixture(scope="module")
def paris_cafes(paris_osm: Path, paris_graph: WalkGraph) -> list[Stop]:
    cafe = load_categories()["cafe"]
    features = read_features(paris_osm, cafe.matches)
    return find_stops(paris_graph, features, [cafe])


def test_small_area_says_so_and_repeats_when_allowed() -> None:
    graph = _grid(5)  # about 3.7 km of streets
    asked = PlanRequest(start=0, km=10.0)
    walk = plan_walk(graph, [], asked)[0]
    assert walk.budget_error < -0.05
    codes = [w.code for w in walk.warnings]
    assert "area_too_small" in codes
    message = next(w.message for w in walk.warnings if w.code == "area_too_small")
    assert f"{graph.walkable_km:.1f} km of walkable ways" in message
    assert "--allow-repeats" in message
    assert f"{walk.length_m / 1000:.1f} km" in message
    summary = walk_summary(walk)
    assert {"code": "area_too_small", "message": message} in summary["warnings"]
    repeated = plan_walk(graph, [], PlanRequest(start=0, km=10.0, allow_repeats=True))[0]
    assert abs(repeated.budget_error) <= 0.05, repeated.budget_error
    assert repeated.retraced_share > 0.3  # 10 km on 3.7 km of streets
    assert repeated.nodes[0] == repeated.nodes[-1] == 0
    assert not [w for w in repeated.warnings if w.code in {"area_too_small", "budget_short"}]


def test_a_walk_on_budget_has_no_warnings(helsinki_graph) -> None:
    walk = plan_walk(helsinki_graph, [], PlanRequest(start=LatLon(60.1699, 24.9384), km=3))[0]
    assert abs(walk.budget_error) <= 0.05
    assert walk.warnings == ()
    assert walk_summary(walk)["warnings"] == []


def test_default_stops_are_dropped_with_a_warning(paris_graph, paris_cafes) -> None:
    wanted = (("cafe", 1), ("studio", 1))
    soft = PlanRequest(start=PARIS_START, minutes=45, stops=wanted, soft_stops=True)
    walk = plan_walk(paris_graph, paris_cafes, soft)[0]
    assert [v.stop.category for v in walk.stops] == ["cafe"]
    dropped = [w.message for w in walk.warnings if w.code == "stop_dropped"]
    assert dropped == ["no studio stop in this area: the walk goes without a studio stop"]
    with pytest.raises(NoWalkError, match="no 'studio' stop in this area"):
        plan_walk(
            paris_graph, paris_cafes, PlanRequest(start=PARIS_START, minutes=45, stops=wanted)
        )


def test_default_stop_too_far_or_too_long_is_dropped() -> None:
    graph = _grid(8)
    far = int(np.argmax(graph.node_lat + graph.node_lon))
    start = int(np.argmin(graph.node_lat + graph.node_lon))
    cafe = _stop(graph, far, "cafe", "Far Café")
    walk = plan_walk(
        graph, [cafe], PlanRequest(start=start, minutes=20, stops=(("cafe", 1),), soft_stops=True)
    )[0]
    assert walk.stops == ()
    assert [w.code for w in walk.warnings] == ["stop_dropped"]
    assert "the nearest cafe is 1.3 km away, too far" in walk.warnings[0].message
    assert abs(walk.budget_error) <= 0.05
    # three near cafés with 15 minutes each cannot fit 30 minutes: the walk keeps what fits
    near = [_stop(graph, _node(graph, n), "cafe", f"Café {n}") for n in (2, 3, 101)]
    walk = plan_walk(
        graph, near, PlanRequest(start=start, minutes=30, stops=(("cafe", 3),), soft_stops=True)
    )[0]
    assert 1 <= len(walk.stops) < 3
    assert any(w.code == "stop_dropped" and "3 cafe stop(s)" in w.message for w in walk.warnings)


def test_asked_stops_name_the_least_budget_with_every_dwell() -> None:
    graph = _grid(8)
    far = int(np.argmax(graph.node_lat + graph.node_lon))
    start = int(np.argmin(graph.node_lat + graph.node_lon))
    atelier = _stop(graph, _node(graph, 2), "studio", "Atelier")
    stops = [_stop(graph, far, "cafe", "Far Café"), atelier]
    asked = PlanRequest(start=start, minutes=10, stops=(("cafe", 1), ("studio", 1)))
    # 2.6 km there and back at 4.5 km/h is 35 minutes; the café's 15 and the studio's 5 more
    with pytest.raises(
        NoWalkError, match=r"^the nearest cafe is 1\.3 km away: at least 55 minutes$"
    ):
        plan_walk(graph, stops, asked)
    # two cafés that each fit alone but not together: the error names a budget that works
    near = [_stop(graph, _node(graph, n), "cafe", f"Café {n}") for n in (8, 701)]
    two = PlanRequest(start=start, minutes=40, stops=(("cafe", 2),))
    with pytest.raises(NoWalkError) as info:
        plan_walk(graph, near, two)
    words = str(info.value)
    assert words.startswith("2 cafe stop(s) with the rest do not fit in the budget: it needs at ")
    minutes = int(words.split("at least ")[1].split(" minutes", maxsplit=1)[0])
    assert minutes >= 30  # the dwell alone is 2 x 15 minutes
    walk = plan_walk(graph, near, PlanRequest(start=start, minutes=minutes, stops=(("cafe", 2),)))
    assert len(walk[0].stops) == 2


@pytest.mark.parametrize(("minutes", "seed"), [(30, 0), (60, 1), (90, 2)])
def test_no_spurs_without_stops(paris_graph, helsinki_graph, minutes, seed) -> None:
    for graph, start in ((paris_graph, PARIS_START), (helsinki_graph, LatLon(60.1699, 24.9384))):
        walk = plan_walk(graph, [], PlanRequest(start=start, minutes=minutes, seed=seed))[0]
        nodes = walk.nodes
        turns = [i for i in range(1, len(nodes) - 1) if nodes[i - 1] == nodes[i + 1]]
        assert turns == [], f"spurs at {turns}"
        assert walk.dead_end_spurs == 0


def test_u_turn_at_a_stop_is_announced() -> None:
    # a dead-end lane off a street: the stop at its end is reached and left the same way
    ways = (
        WayRecord(
            1, (1, 2, 3), (48.0, 48.0, 48.0), (2.0, 2.001, 2.002), {"highway": "residential"}
        ),
        WayRecord(
            2, (3, 4, 1), (48.0, 48.001, 48.0), (2.002, 2.001, 2.0), {"highway": "residential"}
        ),
        WayRecord(3, (2, 5), (48.0, 47.9995), (2.001, 2.001), {"highway": "footway"}),
    )
    graph = graph_from_ways(OsmWays(ways, "test:lane", None))
    tip = int(np.argmin(graph.node_lat))
    cafe = _stop(graph, tip, "view", "Lane end")
    walk = plan_walk(graph, [cafe], PlanRequest(start=0, km=0.6, stops=(("view", 1),)))[0]
    assert [v.stop.name for v in walk.stops] == ["Lane end"]
    after = walk.legs[walk.stops[0].leg + 1]
    assert after.steps[0].instruction.startswith("turn back")


def test_one_way_foot_ways_are_walked_their_way() -> None:
    # a ring of one-way foot ways, clockwise: from node 0 to node 5 is 5 blocks one way and
    # 15 the other; a planner with symmetric costs thinks the end is 15 blocks away
    n = 20
    angle = np.linspace(0, 2 * math.pi, n, endpoint=False)
    lat = 48.0 + 0.002 * np.cos(angle)
    lon = 2.0 - 0.003 * np.sin(angle)
    ways = tuple(
        WayRecord(i + 1, (i + 1, (i + 1) % n + 1), (float(lat[i]), float(lat[(i + 1) % n])),
                  (float(lon[i]), float(lon[(i + 1) % n])),
                  {"highway": "footway", "oneway:foot": "yes"})
        for i in range(n)
    )  # fmt: skip
    graph = graph_from_ways(OsmWays(ways, "test:ring", None))
    node_of = {int(o): i for i, o in enumerate(graph.node_osm_id)}
    start, end = node_of[1], node_of[6]
    forward_m = float(sum(graph.edge_length_m)) * 5 / n
    walk = plan_walk(graph, [], PlanRequest(start=start, end=end, km=forward_m * 1.02 / 1000))[0]
    assert walk.nodes == tuple(node_of[i] for i in range(1, 7))
    for a, b, e in zip(walk.nodes[:-1], walk.nodes[1:], [e for g in walk.legs for e in g.edges],
                       strict=True):  # fmt: skip
        assert (int(graph.edge_u[e]), int(graph.edge_v[e])) == (a, b), "walked against the way"
    # the way back is the long way round: a loop has to go all round the ring
    loop = plan_walk(graph, [], PlanRequest(start=start, km=forward_m * 4.4 / 1000))[0]
    assert len(loop.nodes) == n + 1
    assert any(w.code in {"budget_short", "area_too_small"} for w in loop.warnings)


def test_start_off_the_ways_is_said(paris_graph) -> None:
    node, _ = paris_graph.nearest_node(PARIS_START)
    on_way = LatLon(float(paris_graph.node_lat[node]), float(paris_graph.node_lon[node]))
    walk = plan_walk(paris_graph, [], PlanRequest(start=on_way, km=1.5))[0]
    assert walk.start_offset_m == pytest.approx(0.0, abs=0.01)
    assert not [w for w in walk.warnings if w.code == "start_moved"]
    top = int(np.argmax(paris_graph.node_lat))  # 55 m north of the northernmost node
    aside = LatLon(float(paris_graph.node_lat[top]) + 0.0005, float(paris_graph.node_lon[top]))
    walk = plan_walk(paris_graph, [], PlanRequest(start=aside, km=1.5))[0]
    # the walk begins at the nearest point of a way (the edge split there), not a junction
    _, node_m = paris_graph.nearest_node(aside)
    begin = walk.geometry[0]
    dist = float(haversine_m(aside.lat, aside.lon, begin.lat, begin.lon))
    assert walk.start_offset_m == pytest.approx(dist, abs=0.5)
    assert dist < node_m
    assert walk.geometry[-1] == begin
    assert walk.end_offset_m == walk.start_offset_m
    summary = walk_summary(walk)
    assert summary["start_offset_m"] == round(walk.start_offset_m, 1)
    assert dist > 25
    moved = [w.message for w in walk.warnings if w.code == "start_moved"]
    assert moved == [f"the walk starts {walk.start_offset_m:,.0f} m from the start asked, at the "
                     "nearest point of a walkable way"]  # fmt: skip
