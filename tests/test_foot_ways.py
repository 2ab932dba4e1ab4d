"""One-way foot ways: which tags make walking one-way, and walks that respect them (Munich)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from walks.api import generate_walks
from walks.data import OsmWays, WayRecord, read_extract
from walks.graph import WalkGraph, _foot_direction, graph_from_ways
from walks.types import Walk

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
MUNICH_PBF = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"


@pytest.fixture(scope="module")
def munich_graph() -> WalkGraph:
    """The walking graph of the Munich Altstadt extract (© OpenStreetMap contributors, ODbL)."""
    return graph_from_ways(read_extract(MUNICH_PBF))


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"highway": "footway", "oneway:foot": "yes"}, 1),
        ({"highway": "footway", "oneway:foot": "-1"}, -1),
        ({"highway": "residential", "oneway:foot": "yes"}, 1),
        # plain oneway binds walkers on ways meant for them
        ({"highway": "steps", "oneway": "yes"}, 1),
        ({"highway": "steps", "oneway": "-1"}, -1),
        ({"highway": "footway", "oneway": "yes"}, 1),
        ({"highway": "path", "oneway": "1"}, 1),
        ({"highway": "corridor", "oneway": "reverse"}, -1),
        ({"highway": "pedestrian", "oneway": "yes"}, 1),
        # ... but not where vehicles may go: then it is theirs (Boulevard de Denain, Paris)
        ({"highway": "pedestrian", "oneway": "yes", "taxi": "yes", "psv": "yes"}, 0),
        ({"highway": "path", "oneway": "yes", "bicycle": "designated"}, 0),
        ({"highway": "steps", "oneway": "yes", "bicycle": "yes"}, 1),
        # oneway on roads is for cars: walkers use the pavements both ways
        ({"highway": "residential", "oneway": "yes"}, 0),
        ({"highway": "secondary", "oneway": "-1"}, 0),
        # oneway:foot=no overrides oneway
        ({"highway": "steps", "oneway": "yes", "oneway:foot": "no"}, 0),
        ({"highway": "steps", "conveying": "forward", "oneway:foot": "no"}, 0),
        # escalators and moving walkways
        ({"highway": "steps", "conveying": "forward"}, 1),
        ({"highway": "steps", "conveying": "yes"}, 1),
        ({"highway": "steps", "conveying": "backward"}, -1),
        ({"highway": "steps", "conveying": "reversible"}, 0),
        ({"highway": "steps", "conveying": "reversible", "oneway": "yes"}, 0),
        ({"highway": "footway", "conveying": "backward"}, -1),
        # foot:forward / foot:backward
        ({"highway": "footway", "foot:backward": "no"}, 1),
        ({"highway": "footway", "foot:forward": "no"}, -1),
        ({"highway": "steps"}, 0),
        ({"highway": "footway", "oneway": "no"}, 0),
    ],
)
def test_foot_direction(tags: dict[str, str], expected: int) -> None:
    assert _foot_direction(tags) == expected


def test_one_way_steps_are_kept_in_a_hand_built_graph() -> None:
    """A square of footways whose one side is one-way steps: the arcs follow the tags."""
    coords = {1: (48.0, 2.0), 2: (48.0, 2.001), 3: (48.001, 2.001), 4: (48.001, 2.0)}

    def way(osm_id: int, refs: list[int], **tags: str) -> WayRecord:
        return WayRecord(
            osm_id,
            tuple(refs),
            tuple(coords[r][0] for r in refs),
            tuple(coords[r][1] for r in refs),
            {"highway": "footway", **tags},
        )

    ways = (
        way(1, [1, 2]),
        way(2, [2, 3], highway="steps", oneway="-1"),
        way(3, [3, 4]),
        way(4, [4, 1], highway="steps", conveying="forward"),
        way(5, [1, 3], highway="residential", oneway="yes"),
    )
    graph = graph_from_ways(OsmWays(ways, "test", None))
    ids = graph.node_osm_id
    arcs = {(int(ids[t]), int(ids[h])) for t, h in zip(graph.arc_tail, graph.arc_head, strict=True)}
    assert arcs == {(1, 2), (2, 1), (3, 2), (3, 4), (4, 3), (4, 1), (1, 3), (3, 1)}


def test_munich_has_one_way_steps_and_escalators(munich_graph: WalkGraph) -> None:
    one_way = munich_graph.edge_direction != 0
    assert int(one_way.sum()) >= 60  # 145 one-way steps ways; the rest fall outside the core
    assert set(munich_graph.edge_direction[one_way].tolist()) == {-1, 1}
    steps = munich_graph.edge_steps
    assert bool(np.all(steps[one_way]))  # no road's oneway leaked onto walkers
    arcs_of_one_way = np.isin(munich_graph.arc_edge, np.flatnonzero(one_way))
    assert int(arcs_of_one_way.sum()) == int(one_way.sum())  # one arc per one-way edge


def _against(graph: WalkGraph, walk: Walk) -> tuple[int, int]:
    """Count the one-way edges a walk uses along, and against, their direction."""
    along = against = 0
    for leg in walk.legs:
        for i, edge in enumerate(leg.edges):
            direction = int(graph.edge_direction[edge])
            if direction == 0:
                continue
            forward = leg.nodes[i] == int(graph.edge_u[edge])
            if forward == (direction == 1):
                along += 1
            else:
                against += 1
    return along, against


def test_walk_goes_round_a_one_way_flight(munich_graph: WalkGraph) -> None:
    """From the top of the one-way flight with the longest way round back to its foot."""
    graph = munich_graph
    cost, _ = graph.csr()
    ones = np.flatnonzero(graph.edge_direction != 0)
    forward = graph.edge_direction[ones] == 1
    tails = np.where(forward, graph.edge_u[ones], graph.edge_v[ones])
    heads = np.where(forward, graph.edge_v[ones], graph.edge_u[ones])
    back = dijkstra(cost, indices=heads)[np.arange(ones.size), tails]
    pick = int(np.argmax(back - graph.edge_length_m[ones]))
    top, foot = int(heads[pick]), int(tails[pick])
    assert back[pick] > 3 * graph.edge_length_m[ones[pick]]  # the way round is much longer
    result = generate_walks(
        None,
        [],
        osm_file=MUNICH_PBF,
        minutes=3,
        start=f"{graph.node_lat[top]},{graph.node_lon[top]}",
        end=f"{graph.node_lat[foot]},{graph.node_lon[foot]}",
        no_terrain=True,
    )
    walked = result.area_stops.loaded.graph
    assert walked.n_edges == graph.n_edges
    walk = result.walks[0]
    _, against = _against(walked, walk)
    assert against == 0
    assert walk.length_m >= back[pick] - 1.0  # it went round, not down the flight backwards


def test_loop_walks_use_one_way_steps_only_forwards() -> None:
    along_all = 0
    for seed in range(4):
        result = generate_walks(
            None, [], osm_file=MUNICH_PBF, minutes=45, seed=seed, no_terrain=True
        )
        graph = result.area_stops.loaded.graph
        along, against = _against(graph, result.walks[0])
        assert against == 0
        along_all += along
    assert along_all >= 1  # the walks did meet one-way steps
