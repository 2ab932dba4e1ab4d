"""Walk planning on the real Paris and Helsinki graphs, with the extracts' real cafés and galleries."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from walks.categories import load_categories
from walks.data import OsmWays, WayRecord, read_features
from walks.errors import NoWalkError
from walks.graph import WalkGraph, graph_from_ways, haversine_m
from walks.planner import plan_walk
from walks.planner.assembly import REACH_M
from walks.stops import find_stops
from walks.types import LatLon, PlanRequest, Walk

HELSINKI_CENTRE = LatLon(60.1699, 24.9384)


def _real_stops(path: Path, graph: WalkGraph):
    """The extract's cafés and studios, found and scored by walks itself."""
    cats = load_categories()
    wanted = [cats["cafe"], cats["studio"]]
    features = read_features(path, lambda tags: any(c.matches(tags) for c in wanted))
    return find_stops(graph, features, wanted, skip_missing=True)


@pytest.fixture(scope="module")
def helsinki_stops(helsinki_pbf: Path, helsinki_graph: WalkGraph):
    stops = _real_stops(helsinki_pbf, helsinki_graph)
    assert sum(s.category == "cafe" for s in stops) > 20
    assert sum(s.category == "studio" for s in stops) > 5
    return stops


@pytest.fixture(scope="module")
def paris_stops(paris_osm: Path, paris_graph: WalkGraph):
    stops = _real_stops(paris_osm, paris_graph)
    assert sum(s.category == "cafe" for s in stops) >= 14  # named café nodes (of 16 cafés)
    return stops


def _check_walk(graph: WalkGraph, walk: Walk, request: PlanRequest) -> None:
    cost, _ = graph.csr()
    nodes = np.asarray(walk.nodes)
    assert np.all(np.asarray(cost[nodes[:-1], nodes[1:]]).ravel() > 0), "every step is an edge"
    edges = [e for leg in walk.legs for e in leg.edges]
    assert len(edges) == len(nodes) - 1
    for (a, b), e in zip(itertools.pairwise(nodes), edges, strict=True):
        assert {int(graph.edge_u[e]), int(graph.edge_v[e])} == {int(a), int(b)}
    assert walk.length_m == pytest.approx(sum(leg.length_m for leg in walk.legs))
    # the walk's length is its edges plus the parts of the split edges at either end
    leads = walk.length_m - float(graph.edge_length_m[edges].sum())
    assert leads >= -1e-6
    geo = np.asarray(walk.geometry)
    drawn = float(haversine_m(geo[:-1, 0], geo[:-1, 1], geo[1:, 0], geo[1:, 1]).sum())
    assert drawn == pytest.approx(walk.length_m, rel=0.01, abs=1.0)
    if isinstance(request.start, LatLon):  # the walk begins on the nearest way, not a junction
        begin = walk.geometry[0]
        off = float(haversine_m(request.start.lat, request.start.lon, begin.lat, begin.lon))
        assert off == pytest.approx(walk.start_offset_m, abs=0.5)
        assert walk.start_offset_m <= graph.nearest_node(request.start)[1] + 1e-6
    else:
        assert walk.nodes[0] == request.start
    if request.end is None:
        assert walk.nodes[-1] == walk.nodes[0]
        assert walk.geometry[-1] == walk.geometry[0]
    arrivals = [v.arrival_s for v in walk.stops]
    assert arrivals == sorted(arrivals)
    assert 0 <= walk.retraced_share < 1
    assert 0 <= walk.pleasant_share <= 1
    for visited in walk.stops:
        # a leg ends at its stop's node, or short of it where the walk passes near the stop
        stop, node = visited.stop, visited.stop.node
        at_node = node in walk.legs[visited.leg].nodes[-1:]
        node_m = haversine_m(stop.location.lat, stop.location.lon, graph.node_lat[node],
                             graph.node_lon[node])  # fmt: skip
        assert at_node or visited.reach_distance_m <= max(REACH_M, float(node_m) + 1.0)
        assert visited.reached_at is not None
        seen = haversine_m(visited.stop.location.lat, visited.stop.location.lon,
                           visited.reached_at.lat, visited.reached_at.lon)  # fmt: skip
        assert float(seen) == pytest.approx(visited.reach_distance_m, rel=0.01, abs=0.5)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    start=st.integers(min_value=0, max_value=10**6),
    minutes=st.integers(min_value=40, max_value=150),
    cafes=st.integers(min_value=0, max_value=2),
    studios=st.integers(min_value=0, max_value=2),
    seed=st.integers(min_value=0, max_value=2**31 - 1),
)
def test_helsinki_walk_properties(
    helsinki_graph, helsinki_stops, start, minutes, cafes, studios, seed
) -> None:
    node = start % helsinki_graph.n_nodes
    wanted = tuple((c, n) for c, n in (("cafe", cafes), ("studio", studios)) if n)
    request = PlanRequest(start=node, minutes=minutes, stops=wanted, order=("cafe",), seed=seed)
    try:
        walk = plan_walk(helsinki_graph, helsinki_stops, request)[0]
    except NoWalkError as err:  # only when the asked stops cannot fit the time
        assert "budget" in str(err) or "minutes" in str(err)  # noqa: PT017
        return
    _check_walk(helsinki_graph, walk, request)
    assert abs(walk.budget_error) <= 0.05, walk.budget_error
    counts = {c: sum(v.stop.category == c for v in walk.stops) for c in ("cafe", "studio")}
    assert counts == {"cafe": cafes, "studio": studios}
    categories = [v.stop.category for v in walk.stops]
    assert categories == sorted(categories, key=lambda c: c != "cafe"), "cafés come first"
    if walk.walking_time_s >= 0.5 * walk.total_time_s:
        # with room to walk, the way back avoids the way out (when the stops eat most of the
        # time, an out-and-back walk may be the only one that fits)
        assert walk.retraced_share < 0.25


def test_same_seed_same_walk(helsinki_graph, helsinki_stops) -> None:
    request = PlanRequest(
        start=HELSINKI_CENTRE,
        minutes=75,
        stops=(("cafe", 1), ("studio", 1)),
        seed=42,
        time_limit_s=30,
    )
    a = plan_walk(helsinki_graph, helsinki_stops, request)[0]
    b = plan_walk(helsinki_graph, helsinki_stops, request)[0]
    assert a.nodes == b.nodes
    assert [v.stop.id for v in a.stops] == [v.stop.id for v in b.stops]
    assert a.seed == 42


def test_a_to_b(helsinki_graph, helsinki_stops) -> None:
    end = LatLon(60.1760, 24.9500)
    request = PlanRequest(start=HELSINKI_CENTRE, end=end, km=4.0, stops=(("studio", 1),))
    walk = plan_walk(helsinki_graph, helsinki_stops, request)[0]
    _check_walk(helsinki_graph, walk, request)
    finish = walk.geometry[-1]
    assert float(haversine_m(end.lat, end.lon, finish.lat, finish.lon)) == pytest.approx(
        walk.end_offset_m, abs=0.5
    )
    assert walk.end_offset_m <= helsinki_graph.nearest_node(end)[1] + 1e-6
    assert abs(walk.budget_error) <= 0.05


def test_alternatives_differ(helsinki_graph, helsinki_stops) -> None:
    request = PlanRequest(start=HELSINKI_CENTRE, minutes=60, stops=(("cafe", 1),), alternatives=3)
    walks = plan_walk(helsinki_graph, helsinki_stops, request)
    assert len(walks) == 3
    for i, a in enumerate(walks):
        _check_walk(helsinki_graph, a, request)
        for b in walks[:i]:
            ea = {e for leg in a.legs for e in leg.edges}
            eb = {e for leg in b.legs for e in leg.edges}
            shared = helsinki_graph.edge_length_m[list(ea & eb)].sum()
            assert shared / helsinki_graph.edge_length_m[list(ea)].sum() <= 0.5


def test_pleasant_streets_preferred(helsinki_graph, helsinki_stops) -> None:
    # one seed's walks may differ either way by chance: compare the mean of three
    shares = {0.0: 0.0, 2.0: 0.0}
    for seed, weight in itertools.product((1, 2, 3), shares):
        base = {"start": HELSINKI_CENTRE, "minutes": 60, "stops": (("cafe", 1),), "seed": seed}
        walk = plan_walk(
            helsinki_graph, helsinki_stops, PlanRequest(**base, pleasant_weight=weight)
        )
        shares[weight] += walk[0].pleasant_share
    assert shares[2.0] > shares[0.0]


def test_directions_read_like_directions(paris_graph, paris_stops) -> None:
    request = PlanRequest(start=LatLon(48.8795, 2.3495), minutes=30, stops=(("cafe", 1),))
    walk = plan_walk(paris_graph, paris_stops, request)[0]
    _check_walk(paris_graph, walk, request)
    steps = [s for leg in walk.legs for s in leg.steps]
    assert steps[0].instruction.startswith("head ")
    assert any(s.instruction.startswith(("turn left onto", "turn right onto")) for s in steps)
    assert sum(s.length_m for s in steps) == pytest.approx(walk.length_m)


def test_paris_cafe_too_far_for_budget(paris_graph, paris_stops) -> None:
    request = PlanRequest(start=LatLon(48.8795, 2.3495), minutes=1, stops=(("cafe", 1),))
    with pytest.raises(
        NoWalkError, match=r"the nearest cafe is \d+\.\d km away: at least \d+ minutes"
    ):
        plan_walk(paris_graph, paris_stops, request)


def test_must_visit(paris_graph, paris_stops) -> None:
    target = max(paris_stops, key=lambda s: s.id)
    request = PlanRequest(start=LatLon(48.8795, 2.3495), minutes=45, must_visit=(target.id,))
    walk = plan_walk(paris_graph, paris_stops, request)[0]
    assert target.id in [v.stop.id for v in walk.stops]
    with pytest.raises(NoWalkError, match="'cafe:node/1' asked for with must_visit is not among"):
        plan_walk(
            paris_graph, paris_stops, PlanRequest(start=0, minutes=45, must_visit=("cafe:node/1",))
        )


# ------------------------------------------------------------------ hand-built graphs


def _grid_graph(size: int = 6, spacing_deg: float = 0.001, islands: bool = False) -> WalkGraph:
    ways = []
    way_id = 1

    def node_id(i: int, j: int) -> int:
        return i * 100 + j + 1

    for i in range(size):
        refs = [node_id(i, j) for j in range(size)]
        ways.append(
            WayRecord(
                way_id,
                tuple(refs),
                tuple(48.0 + i * spacing_deg for _ in refs),
                tuple(2.0 + j * spacing_deg for j in range(size)),
                {"highway": "residential", "name": f"Rue {i}"},
            )
        )
        way_id += 1
        refs = [node_id(j, i) for j in range(size)]
        ways.append(
            WayRecord(
                way_id,
                tuple(refs),
                tuple(48.0 + j * spacing_deg for j in range(size)),
                tuple(2.0 + i * spacing_deg for _ in refs),
                {"highway": "footway"},
            )
        )
        way_id += 1
    if islands:  # a separate little street far away: not in the largest component
        ways.append(
            WayRecord(999, (9001, 9002), (48.5, 48.501), (2.5, 2.5), {"highway": "footway"})
        )
    return graph_from_ways(OsmWays(tuple(ways), "test:grid", None))


def test_disconnected_start_is_refused() -> None:
    graph = _grid_graph(islands=True)
    with pytest.raises(
        NoWalkError, match=r"the start 48\.500000,2\.500000 is .* m from the nearest walkable way"
    ):
        plan_walk(graph, [], PlanRequest(start=LatLon(48.5, 2.5), minutes=30))
    with pytest.raises(NoWalkError, match="the start node 500 is not in the walking graph"):
        plan_walk(graph, [], PlanRequest(start=500, minutes=30))


@pytest.mark.parametrize("budget", [{"minutes": 0}, {"km": -1.0}, {"minutes": float("nan")}, {}])
def test_zero_or_missing_budget(budget) -> None:
    graph = _grid_graph()
    with pytest.raises(NoWalkError, match="budget"):
        plan_walk(graph, [], PlanRequest(start=0, **budget))


def test_budget_smaller_than_nearest_required_stop() -> None:
    from walks.types import Stop

    graph = _grid_graph(size=8)
    far = int(np.argmax(graph.node_lat + graph.node_lon))
    cafe = Stop(
        id="cafe:x",
        osm_id="node/1",
        name="Far Café",
        category="cafe",
        location=LatLon(float(graph.node_lat[far]), float(graph.node_lon[far])),
        node=far,
        score=1.0,
    )
    start = int(np.argmin(graph.node_lat + graph.node_lon))
    with pytest.raises(NoWalkError) as info:
        plan_walk(graph, [cafe], PlanRequest(start=start, minutes=10, stops=(("cafe", 1),)))
    # 7 blocks east and 7 north, about 111 m and 74 m each: 1.3 km away; there and back plus 15 min
    message = str(info.value)
    assert message == "the nearest cafe is 1.3 km away: at least 50 minutes"
    walk = plan_walk(graph, [cafe], PlanRequest(start=start, minutes=50, stops=(("cafe", 1),)))[0]
    assert [v.stop.id for v in walk.stops] == ["cafe:x"]
    with pytest.raises(NoWalkError, match="no 'studio' stop in this area"):
        plan_walk(graph, [cafe], PlanRequest(start=start, minutes=50, stops=(("studio", 1),)))


def test_scenic_loop_without_stops() -> None:
    graph = _grid_graph(size=10)
    request = PlanRequest(start=0, km=3.0)
    walk = plan_walk(graph, [], request)[0]
    _check_walk(graph, walk, request)
    assert walk.stops == ()
    assert abs(walk.budget_error) <= 0.05
