"""Turn-by-turn directions for a path on the walking graph: one step per run along a street.

The directions issue rewrites these into maneuvers; they live here, apart from the planner.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from walks.graph import bearing_deg
from walks.types import Step

if TYPE_CHECKING:
    from walks.graph import WalkGraph

_COMPASS = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")


def _turn_words(turn: float) -> str:
    """
    Name a change of heading.

    Parameters
    ----------
    turn
        Signed degrees (negative is left).

    Returns
    -------
    str
        "continue", "bear left", "turn right", "turn back", ...
    """
    size = abs(turn)
    side = "left" if turn < 0 else "right"
    if size < 25:  # noqa: PLR2004
        return "continue"
    if size < 60:  # noqa: PLR2004
        return f"bear {side}"
    if size < 150:  # noqa: PLR2004
        return f"turn {side}"
    return "turn back"


def directions(
    graph: WalkGraph, nodes: list[int], edges: list[int], *, heading_in: float | None = None
) -> tuple[Step, ...]:
    """
    Turn-by-turn steps for a path: one step per run of edges along the same street.

    Parameters
    ----------
    graph
        The graph.
    nodes
        Node indices along the path.
    edges
        Edge indices along the path.
    heading_in
        The heading the walker arrives with (the end of the previous leg), or None at the
        start of the walk. With it, the first step is a turn, and a U-turn at a stop reads
        "turn back".

    Returns
    -------
    tuple of Step
        The steps; without ``heading_in`` the first starts with "head" and a compass direction.
    """

    def street_key(edge: int) -> tuple[int, int, int]:
        name = int(graph.edge_name[edge])
        across = int(graph.edge_area[edge] > 0)  # a link across a square or pedestrian area
        return (name, -1, across) if name >= 0 else (-1, int(graph.edge_highway[edge]), across)

    runs: list[list[int]] = []
    for i, edge in enumerate(edges):
        # a U-turn starts a new step, so that it is announced ("turn back")
        u_turn = i > 0 and nodes[i - 1] == nodes[i + 1]
        if runs and not u_turn and street_key(edges[runs[-1][-1]]) == street_key(edge):
            runs[-1].append(i)
        else:
            runs.append([i])
    steps: list[Step] = []
    prev_heading = heading_in
    for run in runs:
        first, last = run[0], run[-1]
        coords_first = oriented(graph, edges[first], nodes[first])
        coords_last = oriented(graph, edges[last], nodes[last])
        heading = bearing_deg(*coords_first[0], *coords_first[1])
        length = float(graph.edge_length_m[[edges[i] for i in run]].sum())
        street = graph.string(int(graph.edge_name[edges[first]]))
        highway = graph.string(int(graph.edge_highway[edges[first]]))
        kind = (highway or "way").replace("_", " ")
        where = f"onto {street}" if street else f"along the {kind}"
        if graph.edge_area[edges[first]] > 0:
            where = f"across {street}" if street else f"across the {kind} area"
        if prev_heading is None:
            turn = 0.0
            text = f"head {_COMPASS[int((heading + 22.5) % 360 // 45)]} {where}"
        else:
            turn = (heading - prev_heading + 540.0) % 360.0 - 180.0
            text = f"{_turn_words(turn)} {where}"
        steps.append(
            Step(
                street=street,
                highway=highway,
                length_m=length,
                turn_deg=turn,
                instruction=f"{text}, {length:,.0f} m",
            )
        )
        prev_heading = bearing_deg(*coords_last[-2], *coords_last[-1])
    return tuple(steps)


def oriented(graph: WalkGraph, edge: int, from_node: int) -> list[tuple[float, float]]:
    """
    Return an edge's coordinates in walking direction.

    Parameters
    ----------
    graph
        The graph.
    edge
        The edge.
    from_node
        The node it is walked from.

    Returns
    -------
    list of tuple
        ``(lat, lon)`` pairs.
    """
    coords = graph.edge_coords(edge)
    if int(graph.edge_u[edge]) != from_node:
        coords = coords[::-1]
    return [(float(a), float(b)) for a, b in coords]


def final_heading(
    graph: WalkGraph, nodes: list[int] | tuple[int, ...], edges: list[int] | tuple[int, ...]
) -> float | None:
    """
    Return the heading at the end of a path.

    Parameters
    ----------
    graph
        The graph.
    nodes, edges
        The path.

    Returns
    -------
    float or None
        Compass bearing in degrees, or None for an empty path.
    """
    if not edges:
        return None
    coords = oriented(graph, edges[-1], nodes[-2])
    return bearing_deg(*coords[-2], *coords[-1])
