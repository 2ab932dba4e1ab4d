"""Assemble a walk from a route over the search's points: paths, legs, directions, measures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from walks.directions import directions, final_heading
from walks.planner.routing import Router, pleasant_mask
from walks.types import LatLon, Leg, PlanRequest, Stop, VisitedStop, Walk

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from walks.graph import WalkGraph

#: Cost multiplier on edges already walked, so the way back differs.
REUSE_PENALTY = 4.0


@dataclass(frozen=True)
class Points:
    """The points the search works on: start, end, candidate stops, waypoints (graph nodes)."""

    nodes: NDArray[np.int64]
    stops: tuple[Stop | None, ...]  # None for start, end and waypoints
    length: NDArray[np.float64]  # (k, k) real metres along pleasant-weighted paths


@dataclass
class Assembler:
    """Turns point routes into walks on one graph, for one request.

    Parameters
    ----------
    graph
        The walking graph.
    router
        Routing on it, with the request's weighting.
    request
        The request (speed and budget).
    dwell_s
        Seconds spent at a stop.
    """

    graph: WalkGraph
    router: Router
    request: PlanRequest
    dwell_s: Callable[[Stop], float]
    speed: float = field(init=False)
    max_factor: float = field(init=False)

    def __post_init__(self) -> None:
        self.speed = self.request.speed_kph / 3.6
        self.max_factor = float(self.router.factor.max())

    def build(
        self,
        pts: Points,
        route: tuple[int, ...],
        penalty: NDArray[np.float64],
        *,
        reuse_penalty: float = REUSE_PENALTY,
        prefix: tuple[list[int], list[int]] | None = None,
        cut_spurs: bool = True,
    ) -> Walk:
        """
        Turn a point route into a walk: paths between the points, legs ending at stops.

        Parameters
        ----------
        pts
            The points.
        route
            Point indices from start to end.
        penalty
            Per-edge cost multipliers (earlier alternatives).
        reuse_penalty
            Multiplier on edges already walked, so the way back differs.
        prefix
            Nodes and edges walked from the start before the route (loops that repeat
            streets), or None.
        cut_spurs
            Cut out stretches walked out and straight back (on a tree-like network, such as a
            valley road, they may be the only walk there is).

        Returns
        -------
        Walk
            The walk, its measures and budget error (no warnings yet).
        """
        g = self.graph
        multiplier = penalty.copy()
        legs: list[Leg] = []
        visits: list[VisitedStop] = []
        nodes_all: list[int] = [int(pts.nodes[route[0]])]
        edges_all: list[int] = []
        clock = 0.0
        heading: float | None = None
        # legs end at stops (and the finish); waypoints lie inside legs
        leg_nodes: list[int] = [int(pts.nodes[route[0]])]
        leg_edges: list[int] = []
        if prefix is not None:
            leg_nodes, leg_edges = list(prefix[0]), list(prefix[1])
            multiplier[leg_edges] *= reuse_penalty
        for a, b in itertools.pairwise(route):
            src, dst = int(pts.nodes[a]), int(pts.nodes[b])
            # the leg's cost stays near its planned length: search only that far (it widens)
            reach_m = 2.0 * self.max_factor * float(pts.length[a, b]) + 200.0
            nodes, edges = self.router.path(src, dst, multiplier=multiplier, limit=reach_m)
            multiplier[edges] *= reuse_penalty
            leg_nodes += nodes[1:]
            leg_edges += edges
            stop = pts.stops[b]
            if stop is not None or b == route[-1]:
                # a waypoint reached and left the same way is a spur: cut it out
                if cut_spurs:
                    leg_nodes, leg_edges = cancel_backtracks(leg_nodes, leg_edges)
                leg = self.leg(leg_nodes, leg_edges, heading)
                heading = final_heading(g, leg_nodes, leg_edges) if leg_edges else heading
                legs.append(leg)
                clock += leg.walking_time_s
                if stop is not None:
                    visits.append(VisitedStop(stop=stop, arrival_s=clock, leg=len(legs) - 1))
                    clock += self.dwell_s(stop)
                nodes_all += leg_nodes[1:]
                edges_all += leg_edges
                leg_nodes, leg_edges = [dst], []
        edge_arr = np.asarray(edges_all, dtype=np.int64)
        length = float(g.edge_length_m[edge_arr].sum()) if edge_arr.size else 0.0
        uses = np.bincount(edge_arr, minlength=g.n_edges) if edge_arr.size else np.zeros(g.n_edges)
        retraced = float(((uses - 1).clip(min=0) * g.edge_length_m).sum())
        pleasant = (
            float(g.edge_length_m[edge_arr][pleasant_mask(g)[edge_arr]].sum())
            if edge_arr.size
            else 0.0
        )
        spurs = sum(1 for i in range(1, len(nodes_all) - 1) if nodes_all[i - 1] == nodes_all[i + 1])
        walking_s = length / self.speed
        dwell_total = sum(self.dwell_s(v.stop) for v in visits)
        total_s = walking_s + dwell_total
        if self.request.minutes is not None:
            error = (total_s - self.request.minutes * 60.0) / (self.request.minutes * 60.0)
        else:
            assert self.request.km is not None
            error = (length - self.request.km * 1000.0) / (self.request.km * 1000.0)
        return Walk(
            stops=tuple(visits),
            nodes=tuple(nodes_all),
            geometry=self.geometry(edges_all, nodes_all),
            legs=tuple(legs),
            length_m=length,
            walking_time_s=walking_s,
            total_time_s=total_s,
            pleasant_share=pleasant / length if length > 0 else 0.0,
            retraced_share=retraced / length if length > 0 else 0.0,
            dead_end_spurs=spurs,
            budget_error=error,
            seed=self.request.seed,
        )

    def geometry(self, edges: list[int], nodes: list[int]) -> tuple[LatLon, ...]:
        """
        Draw a path point by point, each edge's shape in walking direction.

        Parameters
        ----------
        edges, nodes
            The path.

        Returns
        -------
        tuple of LatLon
            The line.
        """
        g = self.graph
        out = [LatLon(float(g.node_lat[nodes[0]]), float(g.node_lon[nodes[0]]))]
        for i, edge in enumerate(edges):
            coords = g.edge_coords(edge)
            if int(g.edge_u[edge]) != nodes[i]:
                coords = coords[::-1]
            out.extend(LatLon(float(a), float(b)) for a, b in coords[1:])
        return tuple(out)

    def leg(self, nodes: list[int], edges: list[int], heading: float | None) -> Leg:
        """Make a leg with its directions (the first turn relative to the heading arrived with)."""
        g = self.graph
        length = float(g.edge_length_m[edges].sum()) if edges else 0.0
        return Leg(
            nodes=tuple(nodes), edges=tuple(edges), length_m=length,
            walking_time_s=length / self.speed,
            steps=directions(g, nodes, edges, heading_in=heading),
        )  # fmt: skip


def cancel_backtracks(nodes: list[int], edges: list[int]) -> tuple[list[int], list[int]]:
    """
    Cut out every stretch walked out and straight back along the same edges (a spur).

    Parameters
    ----------
    nodes, edges
        A path.

    Returns
    -------
    tuple of list
        The path without its spurs (same start and end).
    """
    out_nodes: list[int] = [nodes[0]]
    out_edges: list[int] = []
    for edge, node in zip(edges, nodes[1:], strict=True):
        if out_edges and out_edges[-1] == edge and out_nodes[-2] == node:
            out_edges.pop()
            out_nodes.pop()
        else:
            out_edges.append(edge)
            out_nodes.append(node)
    return out_nodes, out_edges
