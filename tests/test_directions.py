"""Maneuvers on small hand-made graphs with known answers: turns, merges, U-turns, words, sides."""

from __future__ import annotations

import itertools
import re

import numpy as np

from walks.data import OsmWays, WayRecord
from walks.directions import SHORT_M, describe_way, landmarks, maneuvers
from walks.graph import WalkGraph, graph_from_ways
from walks.types import LatLon, Stop

LA, LO = 48.80, 2.30  # 0.001 degree is ~111 m north and ~73 m east here
RAW = ("service", "cycleway", "footway", "pedestrian", "living_street", "residential", "corridor")


def _graph(*ways: tuple[tuple[tuple[int, float, float], ...], dict[str, str]]) -> WalkGraph:
    records = tuple(
        WayRecord(i + 1, tuple(n for n, _, _ in pts), tuple(a for _, a, _ in pts),
                  tuple(b for _, _, b in pts), tags)
        for i, (pts, tags) in enumerate(ways)
    )  # fmt: skip
    return graph_from_ways(OsmWays(records, "test:directions", None))


def _path(graph: WalkGraph, osm_nodes: list[int]) -> tuple[list[int], list[int]]:
    nodes = [int(np.flatnonzero(graph.node_osm_id == n)[0]) for n in osm_nodes]
    edges = []
    for a, b in itertools.pairwise(nodes):
        ends = {(int(u), int(v)) for u, v in zip(graph.edge_u, graph.edge_v, strict=True)}
        assert (a, b) in ends or (b, a) in ends
        edges.append(next(e for e in range(graph.n_edges)
                          if {int(graph.edge_u[e]), int(graph.edge_v[e])} == {a, b}))  # fmt: skip
    return nodes, edges


def _stop(name: str, lat: float, lon: float) -> Stop:
    return Stop(id=f"cafe:{name}", osm_id="node/1", name=name, category="cafe",
                location=LatLon(lat, lon), node=0, score=1.0)  # fmt: skip


def test_a_right_turn_between_streets_and_the_side_of_the_stop() -> None:
    graph = _graph(
        (((1, LA, LO), (2, LA, LO + 0.003)), {"highway": "residential", "name": "Rue A"}),
        (((2, LA, LO + 0.003), (3, LA - 0.002, LO + 0.003)),
         {"highway": "residential", "name": "Rue B"}),
    )  # fmt: skip
    nodes, edges = _path(graph, [1, 2, 3])
    # walking south at the end: east is on the left
    east = maneuvers(graph, nodes, edges, arrival=_stop("Café Est", LA - 0.002, LO + 0.0032))
    assert [(m.type, m.modifier, m.name) for m in east] == [
        ("depart", "straight", "Rue A"), ("turn", "right", "Rue B"), ("arrive", "left", "Café Est"),
    ]  # fmt: skip
    assert east[0].instruction == "Head east on Rue A, 220 m"
    assert east[1].instruction == "Turn right onto Rue B, 220 m"
    assert east[2].instruction == "Café Est is on your left"
    assert east[1].distance_m == graph.edge_length_m[edges[1]].round(1)
    west = maneuvers(graph, nodes, edges, arrival=_stop("Café Ouest", LA - 0.002, LO + 0.0028))
    assert west[-1].instruction == "Café Ouest is on your right"
    ahead = maneuvers(graph, nodes, edges, arrival=_stop("Café Sud", LA - 0.0022, LO + 0.003))
    assert ahead[-1].instruction == "Café Sud is straight ahead"
    finish = maneuvers(graph, nodes, edges)
    assert finish[-1].instruction == "Arrive at the finish"


def test_short_pieces_merge_unless_a_real_turn_between_named_streets() -> None:
    graph = _graph(
        (((1, LA, LO), (2, LA, LO + 0.003)), {"highway": "residential", "name": "Rue A"}),
        # a 7 m crossing, then the same street on
        (((2, LA, LO + 0.003), (3, LA, LO + 0.0031)), {"highway": "footway"}),
        (((3, LA, LO + 0.0031), (4, LA, LO + 0.006)), {"highway": "residential", "name": "Rue A"}),
        # a 15 m zig-zag: right onto Rue Z, then left onto Rue C
        (((4, LA, LO + 0.006), (5, LA - 0.000135, LO + 0.006)),
         {"highway": "residential", "name": "Rue Z"}),
        (((5, LA - 0.000135, LO + 0.006), (6, LA - 0.000135, LO + 0.009)),
         {"highway": "residential", "name": "Rue C"}),
    )  # fmt: skip
    nodes, edges = _path(graph, [1, 2, 3, 4])
    assert [m.type for m in maneuvers(graph, nodes, edges)] == ["depart", "arrive"]
    nodes, edges = _path(graph, [1, 2, 3, 4, 5, 6])
    got = maneuvers(graph, nodes, edges)
    assert [(m.type, m.modifier, m.name) for m in got] == [
        ("depart", "straight", "Rue A"), ("turn", "right", "Rue Z"), ("turn", "left", "Rue C"),
        ("arrive", "straight", "the finish"),
    ]  # fmt: skip
    assert got[1].distance_m < SHORT_M  # kept: a real turn between named streets


def test_every_u_turn_is_announced() -> None:
    graph = _graph(
        (((1, LA, LO), (2, LA, LO + 0.003), (3, LA + 0.002, LO + 0.003)),
         {"highway": "residential", "name": "Ring"}),
        (((2, LA, LO + 0.003), (5, LA - 0.001, LO + 0.003)), {"highway": "service"}),
    )  # fmt: skip
    nodes, edges = _path(graph, [1, 2, 5, 2, 3])
    got = maneuvers(graph, nodes, edges)
    assert [m.type for m in got] == ["depart", "turn", "uturn", "continue", "arrive"]
    assert got[1].instruction == "Turn right onto the lane, 110 m"
    assert got[2].instruction == "Turn around and walk back along the lane, 110 m"
    assert got[2].modifier == "uturn"
    assert (got[2].lat, got[2].lon) == (LA - 0.001, LO + 0.003)
    # a leg that sets off back the way the previous one came starts with a U-turn
    nodes, edges = _path(graph, [5, 2, 1])
    back = maneuvers(graph, nodes, edges, heading_in=180.0)
    assert back[0].type == "uturn"
    assert back[0].instruction.startswith("Turn around and walk back along the lane")


def test_unnamed_ways_are_described_never_by_raw_tags() -> None:
    ring = ((1, LA, LO), (2, LA, LO + 0.001), (3, LA + 0.001, LO + 0.001), (1, LA, LO))
    chain = ["pedestrian", "service", "cycleway", "steps", "corridor", "footway", "living_street"]
    graph = _graph(
        (ring, {"highway": "pedestrian", "area": "yes"}),
        (((2, LA, LO + 0.001), (99, LA - 0.001, LO + 0.001)), {"highway": "footway"}),
        *(
            (((3 + i, LA + 0.001 * (i + 1), LO + 0.001), (4 + i, LA + 0.001 * (i + 2), LO + 0.001)),
             {"highway": kind})
            for i, kind in enumerate(chain)
        ),
    )  # fmt: skip
    words = {
        (int(graph.edge_osm_id[e]), graph.string(int(graph.edge_highway[e]))): describe_way(
            graph, e
        )
        for e in range(graph.n_edges)
    }
    assert {k[1]: v[1] for k, v in words.items() if k[0] not in {1, 2}} == {
        "pedestrian": "the pedestrian street", "service": "the lane",
        "cycleway": "the cycle path", "steps": "the steps", "corridor": "the passage",
        "footway": "the footpath", "living_street": "the shared street",
    }  # fmt: skip
    assert {v for k, v in words.items() if k[0] == 1} == {("way", "the square")}
    nodes, edges = _path(graph, list(range(3, 4 + len(chain))))
    text = " ".join(m.instruction for m in maneuvers(graph, nodes, edges))
    assert "along the steps, 110 m" in text  # steps are never merged away
    for raw in RAW:
        assert re.search(rf"\bthe {raw}\b(?! street)", text) is None, raw
    square = [e for e in range(graph.n_edges) if int(graph.edge_osm_id[e]) == 1]
    start = int(graph.edge_u[square[0]])
    around = maneuvers(graph, [start, int(graph.edge_v[square[0]])], square[:1])
    assert around[0].instruction.startswith("Head ")
    assert " across the square, " in around[0].instruction


def test_a_turn_without_a_street_name_is_told_by_a_named_place() -> None:
    graph = _graph(
        (((1, LA, LO), (2, LA, LO + 0.003)), {"highway": "residential", "name": "Rue A"}),
        (((2, LA, LO + 0.003), (3, LA + 0.002, LO + 0.003)), {"highway": "footway"}),
    )  # fmt: skip
    nodes, edges = _path(graph, [1, 2, 3])
    passed = landmarks([None, _stop("Café Z", LA - 0.0001, LO + 0.0028)])  # 18 m before the turn
    got = maneuvers(graph, nodes, edges, marks=passed)
    assert got[1].instruction == "Turn left after Café Z onto the footpath, 220 m"
    far = landmarks([_stop("Café Loin", LA - 0.001, LO + 0.003)])  # 111 m off: not named
    assert maneuvers(graph, nodes, edges, marks=far)[1].instruction == (
        "Turn left onto the footpath, 220 m"
    )
