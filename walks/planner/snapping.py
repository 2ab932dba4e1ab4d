"""Put a start or end on the street: the nearest point of a walkable way, the edge split there.

The walk begins at the projected point and follows the part of the edge to one of its ends,
which is where the search starts (the edge is split virtually: the graph is not changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoWalkError
from walks.graph import local_xy
from walks.types import LatLon

if TYPE_CHECKING:
    from walks.graph import WalkGraph

#: Farthest a start or end point may be from the walking graph, in metres.
MAX_SNAP_M = 500.0
#: Metres per degree of latitude (for the search box around the point).
_M_PER_DEG = 111_195.0


@dataclass(frozen=True)
class Snap:
    """Where a walk begins or ends: a graph node, reached along part of an edge.

    Attributes
    ----------
    node
        The graph node the search starts (or ends) at.
    offset_m
        Distance from the asked point to the walkable way.
    lead
        The line from the point on the way to ``node`` (empty when the point is the node).
    lead_m
        Its length.
    """

    node: int
    offset_m: float
    lead: tuple[LatLon, ...] = ()
    lead_m: float = 0.0


def snap(graph: WalkGraph, where: LatLon | int, what: str, *, leaving: bool) -> Snap:
    """
    Put a start or end on the nearest point of a walkable way.

    Parameters
    ----------
    graph
        The graph.
    where
        A point, or a node index (taken as it is).
    what
        ``"start"`` or ``"end"``, for messages.
    leaving
        True when the walk leaves the point (a start): the lead is walked from the point to
        the node, so a one-way foot way is left in its own direction.

    Returns
    -------
    Snap
        The node, the offset and the lead from the point on the way to the node.

    Raises
    ------
    NoWalkError
        When the node does not exist or the point is far from any walkable way.
    """
    if not isinstance(where, LatLon):
        if not 0 <= int(where) < graph.n_nodes:
            msg = f"the {what} node {where!r} is not in the walking graph (0..{graph.n_nodes - 1})"
            raise NoWalkError(msg)
        return Snap(int(where), 0.0)
    node, node_m = graph.nearest_node(where)
    found = _nearest_segment(graph, where, node_m + 1.0)
    if found is None:
        return _checked(Snap(node, node_m), where, what)
    row, t, dist = found
    if dist >= node_m:
        return _checked(Snap(node, node_m), where, what)
    return _checked(_split(graph, where, row, t, dist, leaving=leaving), where, what)


def _checked(result: Snap, where: LatLon, what: str) -> Snap:
    """Refuse a point too far from the graph."""
    if result.offset_m > MAX_SNAP_M:
        msg = (
            f"the {what} {where.lat:.6f},{where.lon:.6f} is {result.offset_m:,.0f} m from the "
            f"nearest walkable way: choose {'an' if what[:1] in 'aeiou' else 'a'} {what} inside "
            "the area"
        )
        raise NoWalkError(msg)
    return result


def _nearest_segment(
    graph: WalkGraph, point: LatLon, radius_m: float
) -> tuple[int, float, float] | None:
    """
    Find the edge segment nearest a point, among those within a radius.

    Parameters
    ----------
    graph
        The graph.
    point
        The point.
    radius_m
        Only segments whose box comes this near are measured.

    Returns
    -------
    tuple or None
        ``(first geometry row of the segment, position 0..1 along it, metres)``, or None.
    """
    lat, lon = graph.geom_lat, graph.geom_lon
    if lat.size < 2:  # noqa: PLR2004
        return None
    valid = np.ones(lat.size - 1, dtype=bool)
    starts = graph.geom_offset[1:-1]
    valid[starts[(starts > 0) & (starts <= valid.size)] - 1] = False  # no segment across edges
    dlat = radius_m / _M_PER_DEG
    dlon = dlat / max(np.cos(np.radians(point.lat)), 1e-6)
    a_lat, b_lat, a_lon, b_lon = lat[:-1], lat[1:], lon[:-1], lon[1:]
    near = (
        valid
        & (np.minimum(a_lat, b_lat) <= point.lat + dlat)
        & (np.maximum(a_lat, b_lat) >= point.lat - dlat)
        & (np.minimum(a_lon, b_lon) <= point.lon + dlon)
        & (np.maximum(a_lon, b_lon) >= point.lon - dlon)
    )
    rows = np.flatnonzero(near)
    if rows.size == 0:
        return None
    ax, ay = local_xy(a_lat[rows], a_lon[rows], lat0=point.lat, lon0=point.lon)
    bx, by = local_xy(b_lat[rows], b_lon[rows], lat0=point.lat, lon0=point.lon)
    px, py = local_xy(point.lat, point.lon, lat0=point.lat, lon0=point.lon)
    dx, dy = bx - ax, by - ay
    t = np.clip(((px - ax) * dx + (py - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0, 1)
    dist = np.hypot(ax + t * dx - px, ay + t * dy - py)
    best = int(np.argmin(dist))  # first of equals: deterministic
    return int(rows[best]), float(t[best]), float(dist[best])


def _split(
    graph: WalkGraph, point: LatLon, row: int, t: float, dist: float, *, leaving: bool
) -> Snap:
    """
    Split an edge at a point of one of its segments; lead to its nearer allowed end.

    Parameters
    ----------
    graph
        The graph.
    point
        The asked point (for nothing but its latitude's scale).
    row, t
        The segment's first geometry row and the position along it.
    dist
        Metres from the asked point to the way.
    leaving
        Whether the walk leaves the point (the lead is walked from it).

    Returns
    -------
    Snap
        The split.
    """
    edge = int(np.searchsorted(graph.geom_offset, row, side="right")) - 1
    lo, hi = int(graph.geom_offset[edge]), int(graph.geom_offset[edge + 1])
    lat, lon = graph.geom_lat[lo:hi], graph.geom_lon[lo:hi]
    x, y = local_xy(lat, lon, lat0=point.lat)
    seg = np.hypot(np.diff(x), np.diff(y))
    local_total = float(seg.sum())
    i = row - lo
    along = float(seg[:i].sum() + t * seg[i])
    scale = float(graph.edge_length_m[edge]) / local_total if local_total > 0 else 1.0
    to_u, to_v = along * scale, (local_total - along) * scale
    on = LatLon(
        float(lat[i] + t * (lat[i + 1] - lat[i])), float(lon[i] + t * (lon[i + 1] - lon[i]))
    )
    # a one-way foot way (1: u to v only) is walked its own way: out of the point when leaving
    # it, into it when arriving
    direction = int(graph.edge_direction[edge]) * (1 if leaving else -1)
    towards_u = to_u <= to_v if direction == 0 else direction < 0
    if towards_u:
        node = int(graph.edge_u[edge])
        rest = [LatLon(float(a), float(b)) for a, b in zip(lat[i::-1], lon[i::-1], strict=True)]
        lead_m = to_u
    else:
        node = int(graph.edge_v[edge])
        rest = [LatLon(float(a), float(b)) for a, b in zip(lat[i + 1 :], lon[i + 1 :], strict=True)]
        lead_m = to_v
    if rest and rest[0] == on:
        rest = rest[1:]
    lead = (on, *rest) if rest else ()
    return Snap(node, dist, lead, lead_m if rest else 0.0)


def nearest_way_m(graph: WalkGraph, point: LatLon, radius_m: float) -> float | None:
    """
    Measure how far the nearest walkable way passes from a point, if within a radius.

    Parameters
    ----------
    graph
        The graph.
    point
        The point.
    radius_m
        How far to look.

    Returns
    -------
    float or None
        Metres to the nearest way, or None when none passes within ``radius_m``.
    """
    found = _nearest_segment(graph, point, radius_m)
    if found is None or found[2] > radius_m:
        return None
    return found[2]
