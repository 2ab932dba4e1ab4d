"""Assemble a walk from a route over the search's points: paths, legs, directions, measures."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from walks.directions import Landmarks, directions, final_heading, landmarks, lengthen, maneuvers
from walks.graph import local_xy
from walks.planner.routing import Router, pleasant_mask
from walks.types import LatLon, Leg, PlanRequest, Stop, VisitedStop, Walk

if TYPE_CHECKING:
    from collections.abc import Callable

    from numpy.typing import NDArray

    from walks.graph import WalkGraph

#: A stop is reached within this distance wherever the walk passes that close to it.
REACH_M = 40.0
#: Parallel edges between the same two nodes differing by at most this many metres, or this
#: share of their length, are one street mapped twice (a road and its sidewalk).
TWIN_M = 5.0
TWIN_SHARE = 0.1
#: Cost multiplier on edges already walked, so the way back differs.
REUSE_PENALTY = 10.0


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
    lead_in, lead_in_m, lead_out, lead_out_m
        The parts of split edges walked from the start point to the first node and from the
        last node to the end point (empty when those points are nodes).
    """

    graph: WalkGraph
    router: Router
    request: PlanRequest
    dwell_s: Callable[[Stop], float]
    #: the line from where the walk begins (on a way) to its first node, and its length
    lead_in: tuple[LatLon, ...] = ()
    lead_in_m: float = 0.0
    #: the line from the last node to where the walk ends (on a way), and its length
    lead_out: tuple[LatLon, ...] = ()
    lead_out_m: float = 0.0
    speed: float = field(init=False)
    max_factor: float = field(init=False)
    degree: NDArray[np.int64] = field(init=False)
    #: per edge, the edge with the same two ends walked next to it (itself when none); a way
    #: mapped twice (a street and its sidewalk) is one street to the walker
    twin: NDArray[np.int64] = field(init=False)

    def __post_init__(self) -> None:
        g = self.graph
        self.degree = np.bincount(np.concatenate([g.edge_u, g.edge_v]), minlength=g.n_nodes)
        self.speed = self.request.speed_kph / 3.6
        self.max_factor = float(self.router.factor.max())
        lo = np.minimum(g.edge_u, g.edge_v).astype(np.int64)
        pair = lo * g.n_nodes + np.maximum(g.edge_u, g.edge_v)
        order = np.argsort(pair, kind="stable")
        size, key = g.edge_length_m[order], pair[order]
        same = (
            (key[1:] == key[:-1])
            # as long as each other: two streets round a block between the same corners are not
            & (np.abs(size[1:] - size[:-1]) <= np.maximum(TWIN_M, TWIN_SHARE * size[:-1]))
        )
        self.twin = np.arange(g.n_edges, dtype=np.int64)
        # each edge of a pair (or run) of parallel edges points at its neighbour in the run
        self.twin[order[1:][same]] = order[:-1][same]
        self.twin[order[:-1][same]] = order[1:][same]

    def walked(
        self, multiplier: NDArray[np.float64], edges: list[int], reuse_penalty: float
    ) -> None:
        """
        Make edges just walked, and the parallel edges next to them, dearer to walk again.

        Parameters
        ----------
        multiplier
            Per-edge cost multipliers, changed in place.
        edges
            The edges walked.
        reuse_penalty
            The factor.
        """
        if not edges:
            return
        arr = np.asarray(edges, dtype=np.int64)
        multiplier[arr] *= reuse_penalty
        twins = self.twin[arr]
        twins = twins[twins != arr]
        multiplier[twins] *= reuse_penalty

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
        # legs end at stops (and the finish); waypoints lie inside legs
        raw: list[tuple[list[int], list[int], Stop | None]] = []
        leg_nodes: list[int] = [int(pts.nodes[route[0]])]
        leg_edges: list[int] = []
        if prefix is not None:
            leg_nodes, leg_edges = list(prefix[0]), list(prefix[1])
            self.walked(multiplier, leg_edges, reuse_penalty)
        for a, b in itertools.pairwise(route):
            src, dst = int(pts.nodes[a]), int(pts.nodes[b])
            # the leg's cost stays near its planned length: search only that far (it widens)
            reach_m = 2.0 * self.max_factor * float(pts.length[a, b]) + 200.0
            nodes, edges = self.router.path(src, dst, multiplier=multiplier, limit=reach_m)
            self.walked(multiplier, edges, reuse_penalty)
            leg_nodes += nodes[1:]
            leg_edges += edges
            if pts.stops[b] is not None or b == route[-1]:
                # a waypoint reached and left the same way is a spur: cut it out
                if cut_spurs:
                    leg_nodes, leg_edges = cancel_backtracks(leg_nodes, leg_edges, self.twin)
                raw.append((leg_nodes, leg_edges, pts.stops[b]))
                leg_nodes, leg_edges = [dst], []
        if cut_spurs:
            self.short_of_stops(raw)
        legs: list[Leg] = []
        visits: list[VisitedStop] = []
        nodes_all: list[int] = [raw[0][0][0]] if raw else [int(pts.nodes[route[0]])]
        edges_all: list[int] = []
        heading: float | None = None
        marks = landmarks(pts.stops)
        for i, (leg_nodes, leg_edges, stop) in enumerate(raw):
            leg = self.leg(leg_nodes, leg_edges, heading, stop, marks)
            heading = final_heading(g, leg_nodes, leg_edges) if leg_edges else heading
            legs.append(leg)
            if stop is not None:
                after = raw[i + 1][1] if i + 1 < len(raw) else []
                visits.append(VisitedStop(
                    stop=self.turning(stop, leg_nodes, leg_edges, after), arrival_s=0.0,
                    leg=len(legs) - 1,
                ))  # fmt: skip
            nodes_all += leg_nodes[1:]
            edges_all += leg_edges
        legs = self.with_leads(legs)
        edge_arr = np.asarray(edges_all, dtype=np.int64)
        leads_m = self.lead_in_m + self.lead_out_m
        length = (float(g.edge_length_m[edge_arr].sum()) if edge_arr.size else 0.0) + leads_m
        retraced, pleasant, spurs = self.measures(edge_arr, nodes_all)
        walking_s = length / self.speed
        dwell_total = sum(self.dwell_s(v.stop) for v in visits)
        total_s = walking_s + dwell_total
        error = self.budget_error(length, total_s)
        geometry = self.lead_in[:-1] + self.geometry(edges_all, nodes_all) + self.lead_out[1:]
        visits = self.reached(visits, legs, geometry, edge_arr, length)
        return Walk(
            stops=tuple(visits),
            nodes=tuple(nodes_all),
            geometry=geometry,
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

    def turning(self, stop: Stop, nodes: list[int], edges: list[int], after: list[int]) -> Stop:
        """
        Say in a stop's reason when the walk turns back there (a dead end, or no other way on).

        Parameters
        ----------
        stop
            The stop.
        nodes, edges
            The leg that ends at it.
        after
            The next leg's edges.

        Returns
        -------
        Stop
            The stop, its reason extended when the walk comes back the same way.
        """
        if self.degree[nodes[-1]] == 1:  # nothing beyond it: the walk comes back
            return replace(stop, reason=with_dead_end(stop.reason))
        if edges and after and self.same_way(edges[-1], after[0]):
            return replace(stop, reason=with_dead_end(stop.reason, TURN_BACK))
        return stop

    def same_way(self, a: int, b: int) -> bool:
        """Tell whether two edges are one way (the same edge, or twins mapped side by side)."""
        return a == b or int(self.twin[a]) == b

    def short_of_stops(self, raw: list[tuple[list[int], list[int], Stop | None]]) -> None:
        """
        Cut a spur out to a stop's node where the walk passes near enough to the stop without it.

        A stop's node is the junction nearest to it; when the walk goes out to that junction and
        straight back, but passes within ``REACH_M`` of the stop anyway, the out and back is
        cut as far as the walk still passes that near (or as near as with the spur).

        Parameters
        ----------
        raw
            Per leg ``(nodes, edges, stop)``; changed in place.
        """
        for i in range(len(raw) - 1):
            nodes, edges, stop = raw[i]
            after_nodes, after_edges, after_stop = raw[i + 1]
            k = 0  # how many edges out to the stop are walked straight back
            while (
                k < min(len(edges), len(after_edges))
                and self.same_way(edges[-1 - k], after_edges[k])
            ):  # fmt: skip
                k += 1
            k = min(k, len(edges) - 1, len(after_edges) - 1)  # each leg keeps an edge
            if stop is None or k <= 0:
                continue
            # the stop is reached on the leg that ends at it (see ``reached``)
            near = self.edge_distances(stop.location, edges)
            with_spur = float(near.min())
            cut = 0
            for j in range(1, k + 1):  # cut j edges at the tip, on both sides
                if float(near[: len(edges) - j].min()) <= max(REACH_M, with_spur + 1.0):
                    cut = j
                else:
                    break
            if cut == 0:
                continue
            raw[i] = (nodes[: len(nodes) - cut], edges[: len(edges) - cut], stop)
            raw[i + 1] = (after_nodes[cut:], after_edges[cut:], after_stop)

    def edge_distances(self, point: LatLon, edges: list[int]) -> NDArray[np.float64]:
        """
        Measure how near each of some edges passes to a point.

        Parameters
        ----------
        point
            The point.
        edges
            Edge indices.

        Returns
        -------
        ndarray
            Metres per edge.
        """
        g = self.graph
        arr = np.asarray(edges, dtype=np.int64)
        lo, hi = g.geom_offset[arr], g.geom_offset[arr + 1]
        counts = (hi - lo - 1).astype(np.int64)  # segments per edge
        owner = np.repeat(np.arange(arr.size), counts)
        first = np.repeat(lo, counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        ax, ay = local_xy(g.geom_lat[first], g.geom_lon[first], lat0=point.lat, lon0=point.lon)
        bx, by = local_xy(
            g.geom_lat[first + 1], g.geom_lon[first + 1], lat0=point.lat, lon0=point.lon
        )
        px, py = local_xy(point.lat, point.lon, lat0=point.lat, lon0=point.lon)
        ax, ay, bx, by = ax - px, ay - py, bx - px, by - py  # the point at the origin
        dx, dy = bx - ax, by - ay
        t = np.clip((-ax * dx - ay * dy) / np.maximum(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        dist = np.hypot(ax + t * dx, ay + t * dy)
        out = np.full(arr.size, np.inf)
        np.minimum.at(out, owner, dist)
        return out

    def budget_error(self, length: float, total_s: float) -> float:
        """
        Measure a walk against the budget asked.

        Parameters
        ----------
        length
            Walking metres.
        total_s
            Walking and dwell seconds.

        Returns
        -------
        float
            ``(measured - asked) / asked``, on time for a minutes budget, on length for km.
        """
        if self.request.minutes is not None:
            return (total_s - self.request.minutes * 60.0) / (self.request.minutes * 60.0)
        assert self.request.km is not None
        return (length - self.request.km * 1000.0) / (self.request.km * 1000.0)

    def reached(
        self,
        visits: list[VisitedStop],
        legs: list[Leg],
        geometry: tuple[LatLon, ...],
        edges: NDArray[np.int64],
        length: float,
    ) -> list[VisitedStop]:
        """
        Reach each stop at the walk's point nearest to it, and time the visit there.

        A stop is looked for on its leg: the line between the previous stop's point (or the
        start) and the end of the leg that ends at it, so that the visits keep the walk's order
        and the dwell comes before the next leg. The arrival is the walking time to that point
        along the line plus the dwell of the stops before.

        Parameters
        ----------
        visits
            The visits, timed at their stops' nodes.
        legs
            The walk's legs (a visit's leg ends at its stop's node).
        geometry
            The walk's line (lead-in, edges, lead-out).
        edges
            The walk's edges, in order.
        length
            The walk's length (the line's length is scaled to it).

        Returns
        -------
        list of VisitedStop
            The visits with ``reached_at``, ``reach_distance_m`` and their arrival there.
        """
        if not visits:
            return visits
        if len(geometry) < 2:  # noqa: PLR2004 - one point: every visit is made there
            dwells = np.cumsum([0.0] + [self.dwell_s(v.stop) for v in visits])
            return [replace(v, arrival_s=float(d)) for v, d in zip(visits, dwells, strict=False)]
        g = self.graph
        points = np.asarray(geometry, dtype=np.float64)
        stop_pts = np.asarray([v.stop.location for v in visits], dtype=np.float64)
        lat0 = float(points[:, 0].mean())
        x, y = local_xy(points[:, 0], points[:, 1], lat0=lat0)
        sx, sy = local_xy(stop_pts[:, 0], stop_pts[:, 1], lat0=lat0)
        seg = np.hypot(np.diff(x), np.diff(y))
        along = np.concatenate([[0.0], np.cumsum(seg)])
        scale = length / along[-1] if along[-1] > 0 else 1.0
        # the line's index of each node of the walk: every edge adds its points but the first
        per_edge = (g.geom_offset[edges + 1] - g.geom_offset[edges] - 1).astype(np.int64)
        head = max(len(self.lead_in) - 1, 0)
        node_pt = head + np.concatenate([[0], np.cumsum(per_edge)]).astype(np.int64)
        leg_end = np.cumsum([len(leg.nodes) - 1 for leg in legs])
        stop_at = [int(leg_end[v.leg]) for v in visits]
        last_seg = len(geometry) - 2
        lo = 0
        out: list[VisitedStop] = []
        dwell = 0.0
        for j, visit in enumerate(visits):
            hi = min(max(int(node_pt[stop_at[j]]), lo + 1), last_seg + 1)
            a = slice(lo, hi)
            ax, ay, dx, dy = x[:-1][a], y[:-1][a], np.diff(x)[a], np.diff(y)[a]
            t = np.clip(
                ((sx[j] - ax) * dx + (sy[j] - ay) * dy) / np.maximum(dx * dx + dy * dy, 1e-12),
                0.0,
                1.0,
            )
            dist = np.hypot(ax + t * dx - sx[j], ay + t * dy - sy[j])
            best = int(np.argmin(dist))  # the first of equals: deterministic
            k, tk = lo + best, float(t[best])
            p, q = points[k], points[k + 1]
            at = LatLon(float(p[0] + tk * (q[0] - p[0])), float(p[1] + tk * (q[1] - p[1])))
            metres = (along[k] + tk * seg[k]) * scale
            out.append(
                replace(
                    visit,
                    arrival_s=metres / self.speed + dwell,
                    reached_at=at,
                    reach_distance_m=float(dist[best]),
                )
            )
            dwell += self.dwell_s(visit.stop)
            lo = k
        return out

    def measures(self, edges: NDArray[np.int64], nodes: list[int]) -> tuple[float, float, int]:
        """
        Measure a walk's path: length walked again, length on pleasant ways, U-turns.

        Parameters
        ----------
        edges, nodes
            The path between its first and last nodes.

        Returns
        -------
        tuple
            ``(retraced metres, pleasant metres, U-turns)``; the retraced metres count the
            split edge's part a loop leaves and comes back along.
        """
        g = self.graph
        uses = np.bincount(edges, minlength=g.n_edges) if edges.size else np.zeros(g.n_edges)
        retraced = float(((uses - 1).clip(min=0) * g.edge_length_m).sum())
        if self.lead_in and self.lead_out and self.lead_in == self.lead_out[::-1]:
            retraced += self.lead_in_m  # a loop leaves and comes back along the same part
        pleasant = float(g.edge_length_m[edges][pleasant_mask(g)[edges]].sum())
        spurs = sum(1 for i in range(1, len(nodes) - 1) if nodes[i - 1] == nodes[i + 1])
        return retraced, pleasant, spurs

    def with_leads(self, legs: list[Leg]) -> list[Leg]:
        """
        Add the split edges' parts to the first and last legs' length and time.

        Parameters
        ----------
        legs
            The legs between graph nodes.

        Returns
        -------
        list of Leg
            The legs as walked from the start point to the end point.
        """
        if not legs:
            return legs
        out = list(legs)
        for i, j, extra in ((0, 0, self.lead_in_m), (len(out) - 1, -1, self.lead_out_m)):
            if extra > 0:
                leg = out[i]
                steps = list(leg.steps)
                if steps:  # the first (last) step runs on to (from) the point on the way
                    longer = steps[j].length_m + extra
                    text = steps[j].instruction.rsplit(", ", 1)[0]
                    steps[j] = replace(
                        steps[j], length_m=longer, instruction=f"{text}, {longer:,.0f} m"
                    )
                head = j == 0  # the lead-in joins the first maneuver, the lead-out the last
                turns = lengthen(leg.maneuvers, start_m=extra if head else 0.0,
                                 start=self.lead_in[0] if head else None,
                                 end_m=0.0 if head else extra,
                                 end=None if head else self.lead_out[-1])  # fmt: skip
                out[i] = replace(
                    leg,
                    length_m=leg.length_m + extra,
                    walking_time_s=(leg.length_m + extra) / self.speed,
                    steps=tuple(steps),
                    maneuvers=turns,
                )
        return out

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

    def leg(
        self,
        nodes: list[int],
        edges: list[int],
        heading: float | None,
        stop: Stop | None = None,
        marks: Landmarks | None = None,
    ) -> Leg:
        """Make a leg with its directions (the first turn relative to the heading arrived with)."""
        g = self.graph
        length = float(g.edge_length_m[edges].sum()) if edges else 0.0
        return Leg(
            nodes=tuple(nodes), edges=tuple(edges), length_m=length,
            walking_time_s=length / self.speed,
            steps=directions(g, nodes, edges, heading_in=heading),
            u_turns=tuple(i for i in range(1, len(nodes) - 1) if nodes[i - 1] == nodes[i + 1]),
            maneuvers=maneuvers(g, nodes, edges, heading_in=heading, arrival=stop,
                                marks=marks or landmarks(())),
        )  # fmt: skip


#: What a stop at the tip of a dead end adds to its reason.
DEAD_END = "at the end of a dead end: the walk comes back the same way"
#: What a stop the walk turns back at (no other way on fits the budget) adds to its reason.
TURN_BACK = "the walk comes back the same way from it: no other way on fits"


def with_dead_end(reason: str, note: str = DEAD_END) -> str:
    """
    Say in a stop's reason that it lies at the end of a dead end (or that the walk turns back).

    Parameters
    ----------
    reason
        The stop's reason (may be empty).
    note
        What to add: ``DEAD_END`` or ``TURN_BACK``.

    Returns
    -------
    str
        ``"<reason>; at the end of a dead end: ..."``, or the note alone.
    """
    if not reason:
        return note[0].upper() + note[1:]
    return f"{reason.rstrip('. ')}; {note}"


def cancel_backtracks(
    nodes: list[int], edges: list[int], twin: NDArray[np.int64] | None = None
) -> tuple[list[int], list[int]]:
    """
    Cut out every stretch walked out and straight back along the same edges (a spur).

    Parameters
    ----------
    nodes, edges
        A path.
    twin
        Per edge, a parallel edge with the same ends (itself when none): going out on one and
        back on the other is a spur too. None: no edge has a twin.

    Returns
    -------
    tuple of list
        The path without its spurs (same start and end).
    """
    out_nodes: list[int] = [nodes[0]]
    out_edges: list[int] = []
    for edge, node in zip(edges, nodes[1:], strict=True):
        back = out_edges and (
            out_edges[-1] == edge or (twin is not None and int(twin[out_edges[-1]]) == edge)
        )
        if back and out_nodes[-2] == node:
            out_edges.pop()
            out_nodes.pop()
        else:
            out_edges.append(edge)
            out_nodes.append(node)
    return out_nodes, out_edges
