"""Plan walks on a graph: choose and order stops, fill the budget with detours, build legs."""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoWalkError
from walks.graph import bearing_deg
from walks.planner.core import OPProblem, OPSolution, solve
from walks.planner.routing import Router, edge_factors, pleasant_mask
from walks.types import LatLon, Leg, PlanRequest, Step, Stop, VisitedStop, Walk

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from walks.graph import WalkGraph

log = logging.getLogger(__name__)

#: Farthest a start or end point may be from the walking graph, in metres.
MAX_SNAP_M = 500.0
#: Budget tolerance the filling aims for.
TOLERANCE = 0.05
#: How many candidate stops per requested category the search considers.
CANDIDATES_PER_CATEGORY = 12
#: How many scenic waypoints are offered to the filling phase.
WAYPOINTS = 60
#: Cost multiplier on edges already walked, so the way back differs.
REUSE_PENALTY = 4.0
#: Cost multiplier on edges of earlier alternatives.
ALTERNATIVE_PENALTY = 6.0
#: Largest edge overlap between alternatives.
MAX_OVERLAP = 0.5
#: Search iterations (perturbation + local search) choosing the stops: the work bound that
#: decides the result (the request's time limit is only a safety guard).
STOP_ITERATIONS = 300
#: Search iterations per filling round (waypoints around the chosen stops).
FILL_ITERATIONS = 60
#: Rounds of filling, each aiming at the budget corrected by the last round's measured length.
FILL_ROUNDS = 4


@dataclass(frozen=True)
class _Points:
    """The points the search works on: start, end, candidate stops, waypoints (graph nodes)."""

    nodes: NDArray[np.int64]
    stops: tuple[Stop | None, ...]  # None for start, end and waypoints
    length: NDArray[np.float64]  # (k, k) real metres along pleasant-weighted paths


def _snap(graph: WalkGraph, where: LatLon | int, what: str) -> int:
    """
    Turn a start or end into a graph node.

    Parameters
    ----------
    graph
        The graph.
    where
        A point or a node index.
    what
        ``"start"`` or ``"end"``, for messages.

    Returns
    -------
    int
        The node index.

    Raises
    ------
    NoWalkError
        When the node does not exist or the point is far from any walkable way.
    """
    if isinstance(where, LatLon):
        node, dist = graph.nearest_node(where)
        if dist > MAX_SNAP_M:
            msg = (
                f"the {what} {where.lat:.6f},{where.lon:.6f} is {dist:,.0f} m from the nearest "
                f"walkable way: choose a {what} inside the area"
            )
            raise NoWalkError(msg)
        return node
    if not 0 <= int(where) < graph.n_nodes:
        msg = f"the {what} node {where!r} is not in the walking graph (0..{graph.n_nodes - 1})"
        raise NoWalkError(msg)
    return int(where)


def _budget_m(request: PlanRequest) -> tuple[float, float]:
    """
    Express the budget in walking metres, and say what a second of dwell costs in metres.

    Parameters
    ----------
    request
        The request.

    Returns
    -------
    tuple
        ``(budget in metres, metres per dwell second)``.

    Raises
    ------
    NoWalkError
        When neither or both budgets are given, or the budget is not positive.
    """
    speed = request.speed_kph / 3.6
    if (request.minutes is None) == (request.km is None):
        msg = "give the budget as minutes or as km (one of them)"
        raise NoWalkError(msg)
    value = request.minutes if request.minutes is not None else request.km
    assert value is not None
    if not (math.isfinite(value) and value > 0) or not (request.speed_kph > 0):
        msg = f"the budget {value!r} is not a positive number: ask for e.g. 90 minutes or 5 km"
        raise NoWalkError(msg)
    if request.minutes is not None:
        return request.minutes * 60.0 * speed, speed
    return value * 1000.0, 0.0


def plan_walk(
    graph: WalkGraph, stops: list[Stop] | tuple[Stop, ...], request: PlanRequest
) -> list[Walk]:
    """
    Plan a walk (or several different ones) that visits the asked stops and fills the budget.

    Parameters
    ----------
    graph
        The walking graph.
    stops
        Candidate stops, scored (``Stop.node`` indexes ``graph``).
    request
        What the walker asks for.

    Returns
    -------
    list of Walk
        ``request.alternatives`` walks, best first, each sharing at most half of its edges'
        length with a better one. Fewer when the area cannot hold that many different walks.

    Raises
    ------
    NoWalkError
        When the constraints cannot be met; the message names the constraint and the smallest
        change that would work.
    """
    planner = _Planner(graph, tuple(stops), request)
    return planner.run()


class _Planner:
    """One planning run: shared routing arrays, candidate points and the searches."""

    def __init__(self, graph: WalkGraph, stops: tuple[Stop, ...], request: PlanRequest) -> None:
        self.graph = graph
        self.request = request
        self.budget_m, self.m_per_dwell_s = _budget_m(request)
        self.speed = request.speed_kph / 3.6
        self.start = _snap(graph, request.start, "start")
        self.end = self.start if request.end is None else _snap(graph, request.end, "end")
        self.router = Router(
            graph,
            edge_factors(
                graph, pleasant_weight=request.pleasant_weight, avoid_steps=request.avoid_steps
            ),
        )
        self.rng = np.random.default_rng(request.seed)
        self.dwell = dict(request.dwell_s)
        self.stops = stops
        self.max_factor = float(self.router.factor.max())
        self.deadline = time.perf_counter() + request.time_limit_s

    def guard_s(self) -> float:
        """Seconds left of the request's time guard (never below a small floor)."""
        return max(self.deadline - time.perf_counter(), 0.05)

    def dwell_s(self, stop: Stop) -> float:
        return float(self.dwell.get(stop.category, self.request.default_dwell_s))

    # ---------------------------------------------------------------- candidates

    def reach(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Real lengths from the start and to the end, for every node (inf beyond the budget)."""
        limit = self.budget_m * self.max_factor
        _, from_start = self.router.trees(np.array([self.start]), limit=limit)
        if self.end == self.start:
            to_end = from_start
        else:
            _, to_end = self.router.trees(np.array([self.end]), limit=limit)  # graph is symmetric
        return from_start[0], to_end[0]

    def candidates(
        self, from_start: NDArray[np.float64], to_end: NDArray[np.float64]
    ) -> list[Stop]:
        """Choose candidate stops: the asked categories, best first, that fit the budget alone."""
        wanted = {c for c, _ in self.request.stops} | set(self.request.order)
        by_id = {s.id: s for s in self.stops}
        for stop_id in self.request.must_visit:
            if stop_id not in by_id:
                msg = f"the stop {stop_id!r} asked for with must_visit is not among the stops found"
                raise NoWalkError(msg)
        chosen: list[Stop] = [by_id[i] for i in self.request.must_visit]
        for category in sorted(wanted):
            pool = [
                s
                for s in self.stops
                if s.category == category and s.id not in self.request.must_visit
            ]
            if not pool:
                msg = f"no {category!r} stop in this area: choose a wider area or another category"
                raise NoWalkError(msg)
            fits = [
                s for s in pool
                if from_start[s.node] + to_end[s.node] + self.dwell_s(s) * self.m_per_dwell_s
                <= self.budget_m
            ]  # fmt: skip
            if not fits:
                self._too_far(category, pool)
            # the best-scored ones, and the best value for their detour
            by_score = sorted(fits, key=lambda s: (-s.score, s.id))
            by_value = sorted(
                fits, key=lambda s: (-s.score / self.detour_m(s, from_start, to_end), s.id)
            )
            half = CANDIDATES_PER_CATEGORY // 2
            picked = {s.id: s for s in by_score[:half] + by_value[:half]}
            chosen += sorted(picked.values(), key=lambda s: s.id)
        return chosen

    def detour_m(
        self, stop: Stop, from_start: NDArray[np.float64], to_end: NDArray[np.float64]
    ) -> float:
        """
        Cost of a stop on its own: there, back, and the dwell, in walking metres.

        Parameters
        ----------
        stop
            The stop.
        from_start, to_end
            Real lengths from the start and to the end per node.

        Returns
        -------
        float
            Metres (at least 1).
        """
        return max(
            1.0,
            float(from_start[stop.node] + to_end[stop.node])
            + self.dwell_s(stop) * self.m_per_dwell_s,
        )

    def _too_far(self, category: str, pool: list[Stop]) -> None:
        """Raise the error for a category whose nearest stop does not fit, with the least budget."""
        _, full_start = self.router.trees(np.array([self.start]))
        _, full_end = self.router.trees(np.array([self.end]))
        need = [
            (float(full_start[0][s.node] + full_end[0][s.node]), s) for s in pool
            if np.isfinite(full_start[0][s.node])
        ]  # fmt: skip
        if not need:
            msg = f"no {category!r} stop can be reached from the start: choose another start"
            raise NoWalkError(msg)
        walk_m, stop = min(need, key=lambda t: t[0])
        one_way = float(full_start[0][stop.node])
        if self.request.minutes is not None:
            minutes = math.ceil((walk_m / self.speed + self.dwell_s(stop)) / 60.0)
            least = f"at least {minutes} minutes"
        else:
            least = f"at least {math.ceil(walk_m / 100.0) / 10:.1f} km"
        msg = f"the nearest {category} is {one_way / 1000:.1f} km away: {least}"
        raise NoWalkError(msg)

    def waypoints(
        self,
        from_start: NDArray[np.float64],
        to_end: NDArray[np.float64],
        exclude: set[int],
        rng: np.random.Generator,
    ) -> NDArray[np.int64]:
        """Pick spread-out waypoints on pleasant streets, within reach, not at dead ends."""
        g = self.graph
        pleasant = pleasant_mask(g)
        degree = np.bincount(np.concatenate([g.edge_u, g.edge_v]), minlength=g.n_nodes)
        good = np.zeros(g.n_nodes, dtype=bool)
        good[g.edge_u[pleasant]] = True
        good[g.edge_v[pleasant]] = True
        if good.sum() < WAYPOINTS:  # few pleasant streets: any through node will do
            good[:] = True
        good &= degree > 1
        good &= from_start + to_end <= self.budget_m
        good[list(exclude)] = False
        pool = np.flatnonzero(good)
        if pool.size <= WAYPOINTS:
            return pool
        # spatial spread: one random node per cell of a coarse grid, then a random sample
        x, y = g.node_lon[pool], g.node_lat[pool]
        cells = int(math.sqrt(WAYPOINTS * 4))
        cx = np.minimum(((x - x.min()) / max(np.ptp(x), 1e-12) * cells).astype(int), cells - 1)
        cy = np.minimum(((y - y.min()) / max(np.ptp(y), 1e-12) * cells).astype(int), cells - 1)
        order = rng.permutation(pool.size)
        _, first = np.unique((cx * cells + cy)[order], return_index=True)
        spread = pool[order[first]]
        return np.sort(rng.choice(spread, size=min(WAYPOINTS, spread.size), replace=False))

    # ---------------------------------------------------------------- search

    def points(self, cands: list[Stop], waypoints: NDArray[np.int64]) -> _Points:
        nodes = np.concatenate([[self.start, self.end], [s.node for s in cands], waypoints]).astype(
            np.int64
        )
        # Legs longer than half the budget are not worth knowing (such a walk has no room for
        # more), and waypoints only link to what is near them; the matrix is made symmetric below,
        # so a leg found from either end is known.
        n_main = 2 + len(cands)
        half = self.budget_m / 2 * self.max_factor
        _, main = self.router.trees(nodes[:n_main], limit=half, targets=nodes)
        _, near = self.router.trees(nodes[n_main:], limit=half / 2, targets=nodes)
        sub = np.vstack([main, near])
        sub = np.minimum(sub, sub.T)  # the graph is symmetric bar one-way footpaths
        sub[~np.isfinite(sub)] = 1e12
        stop_list: list[Stop | None] = [None, None, *cands] + [None] * len(waypoints)
        return _Points(nodes=nodes, stops=tuple(stop_list), length=sub)

    def problem(
        self,
        pts: _Points,
        budget: float,
        *,
        fixed: tuple[int, ...] | None,
        rng: np.random.Generator,
    ) -> OPProblem:
        k = len(pts.nodes)
        categories = sorted({s.category for s in pts.stops if s is not None})
        counts = dict(self.request.stops)
        group = np.full(k, -1, dtype=np.int64)
        rank = np.full(k, -1, dtype=np.int64)
        score = np.zeros(k)
        dwell = np.zeros(k)
        mandatory = np.zeros(k, dtype=bool)
        must = set(self.request.must_visit)
        order = {c: i for i, c in enumerate(self.request.order)}
        for i, stop in enumerate(pts.stops):
            if stop is None:
                continue
            group[i] = categories.index(stop.category)
            # listed categories come first, in their order; the others after them
            rank[i] = order.get(stop.category, len(order)) if order else -1
            score[i] = max(stop.score, 1e-6)
            dwell[i] = self.dwell_s(stop) * self.m_per_dwell_s
            mandatory[i] = stop.id in must
        gmin = np.array([counts.get(c, 0) for c in categories], dtype=np.int64)
        # a must-visit stop counts towards its category, and may exceed an unasked one
        musts = np.bincount(group[mandatory], minlength=len(categories))
        gmax = np.maximum(gmin, musts)
        if fixed is not None:
            # filling phase: the chosen stops stay, no other stop joins, waypoints fill the rest
            chosen = np.zeros(k, dtype=bool)
            chosen[list(fixed)] = True
            chosen[[0, 1]] = False
            mandatory = chosen
            score = np.where(chosen, score, 0.0)
            group[(group >= 0) & ~chosen] = -1
            gmin = np.zeros(len(categories), dtype=np.int64)
            gmax = np.full(len(categories), k, dtype=np.int64)
            first_wp = 2 + sum(1 for s in pts.stops[2:] if s is not None)
            score[first_wp:] = 1.0 + 0.01 * rng.random(k - first_wp)
        return OPProblem(
            cost=pts.length, score=score, budget=budget, start=0, end=1, dwell=dwell,
            group=group, group_min=gmin, group_max=gmax, rank=rank, mandatory=mandatory,
        )  # fmt: skip

    def check(
        self,
        pts: _Points,
        sol: OPSolution,
        from_start: NDArray[np.float64],
        to_end: NDArray[np.float64],
    ) -> None:
        """Raise a helpful error when the stops phase could not meet a constraint."""
        for idx in sol.missing_mandatory:
            stop = pts.stops[idx]
            assert stop is not None
            need = from_start[stop.node] + to_end[stop.node]
            msg = (
                f"the stop {stop.name or stop.id!r} cannot be fitted with the other stops in the "
                f"budget (it alone needs {need / 1000:.1f} km of walking): raise the budget or "
                "drop a stop"
            )
            raise NoWalkError(msg)
        categories = sorted({s.category for s in pts.stops if s is not None})
        for cat, short in zip(categories, sol.missing_in_group, strict=False):
            if short > 0:
                asked = dict(self.request.stops).get(cat, 0)
                msg = (
                    f"{asked} {cat} stop(s) with the rest do not fit in the budget: raise the "
                    f"budget or ask for fewer {cat} stops"
                )
                raise NoWalkError(msg)

    # ---------------------------------------------------------------- walks

    def run(self) -> list[Walk]:
        from_start, to_end = self.reach()
        if not np.isfinite(to_end[self.start]) or to_end[self.start] > self.budget_m:
            need = float(self.router.trees(np.array([self.start]))[1][0][self.end])
            msg = f"the end is {need / 1000:.1f} km from the start: at least {need / 1000:.1f} km"
            raise NoWalkError(msg)
        cands = self.candidates(from_start, to_end)
        walks: list[Walk] = []
        penalty = np.ones(self.graph.n_edges)
        for alt in range(max(1, self.request.alternatives)):
            seed = self.request.seed + 7919 * alt
            walk = None
            for attempt in range(3):
                trial = self.one_walk(cands, from_start, to_end, penalty, seed + attempt)
                penalty[_edges(trial)] *= ALTERNATIVE_PENALTY
                if all(self.overlap(trial, w) <= MAX_OVERLAP for w in walks):
                    walk = trial
                    break
            if walk is None:
                log.warning("only %d different walk(s) fit this area", len(walks))
                break
            walks.append(walk)
        return walks

    def overlap(self, a: Walk, b: Walk) -> float:
        """Share of ``a``'s length (each edge once) on edges that ``b`` uses too."""
        ea, eb = _edges(a), _edges(b)
        total = float(self.graph.edge_length_m[ea].sum())
        shared = float(self.graph.edge_length_m[ea[np.isin(ea, eb)]].sum())
        return shared / total if total > 0 else 0.0

    def one_walk(
        self,
        cands: list[Stop],
        from_start: NDArray[np.float64],
        to_end: NDArray[np.float64],
        penalty: NDArray[np.float64],
        seed: int,
    ) -> Walk:
        rng = np.random.default_rng(seed)
        exclude = {s.node for s in cands} | {self.start, self.end}
        wps = self.waypoints(from_start, to_end, exclude, rng)
        pts = self.points(cands, wps)
        # phase 1: the stops
        budget = self.budget_m
        stops_problem = self.problem(pts, budget, fixed=None, rng=rng)
        first = solve(
            stops_problem, seed=seed, time_limit_s=self.guard_s(), max_iterations=STOP_ITERATIONS
        )
        self.check(pts, first, from_start, to_end)
        # phase 2: fill what is left with scenic waypoints; adjust to the measured length
        target = budget
        best: Walk | None = None
        for _ in range(FILL_ROUNDS):
            fill = self.problem(pts, target, fixed=first.route, rng=rng)
            sol = solve(
                fill, seed=seed, time_limit_s=self.guard_s(), initial=first.route,
                max_iterations=FILL_ITERATIONS,
            )  # fmt: skip
            walk = self.build(pts, sol.route, penalty)
            if best is None or abs(walk.budget_error) < abs(best.budget_error):
                best = walk
            if abs(walk.budget_error) <= TOLERANCE * 0.8:
                break
            asked_m = self.budget_m
            measured_m = (
                walk.length_m + sum(self.dwell_s(v.stop) for v in walk.stops) * self.m_per_dwell_s
            )
            target = max(first.cost, target * asked_m / max(measured_m, 1.0))
        assert best is not None
        if best.budget_error > TOLERANCE:
            # even the stops alone run over once the way back avoids the way out: walk the
            # plain best legs instead (they fit, as phase 1 measured them)
            plain = self.build(pts, first.route, penalty, reuse_penalty=1.0)
            if abs(plain.budget_error) < abs(best.budget_error):
                best = plain
        return best

    def build(
        self,
        pts: _Points,
        route: tuple[int, ...],
        penalty: NDArray[np.float64],
        *,
        reuse_penalty: float = REUSE_PENALTY,
    ) -> Walk:
        g = self.graph
        multiplier = penalty.copy()
        legs: list[Leg] = []
        visits: list[VisitedStop] = []
        nodes_all: list[int] = [int(pts.nodes[route[0]])]
        edges_all: list[int] = []
        clock = 0.0
        # legs end at stops (and the finish); waypoints lie inside legs
        leg_nodes: list[int] = [int(pts.nodes[route[0]])]
        leg_edges: list[int] = []
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
                leg = self.leg(leg_nodes, leg_edges)
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
        g = self.graph
        out = [LatLon(float(g.node_lat[nodes[0]]), float(g.node_lon[nodes[0]]))]
        for i, edge in enumerate(edges):
            coords = g.edge_coords(edge)
            if int(g.edge_u[edge]) != nodes[i]:
                coords = coords[::-1]
            out.extend(LatLon(float(a), float(b)) for a, b in coords[1:])
        return tuple(out)

    def leg(self, nodes: list[int], edges: list[int]) -> Leg:
        g = self.graph
        length = float(g.edge_length_m[edges].sum()) if edges else 0.0
        return Leg(
            nodes=tuple(nodes), edges=tuple(edges), length_m=length,
            walking_time_s=length / self.speed, steps=directions(g, nodes, edges),
        )  # fmt: skip


def _edges(walk: Walk) -> NDArray[np.int64]:
    """List the distinct edges a walk uses."""
    return np.unique(np.fromiter((e for leg in walk.legs for e in leg.edges), dtype=np.int64))


def _turn_words(turn: float) -> str:
    """Name a change of heading."""
    size = abs(turn)
    side = "left" if turn < 0 else "right"
    if size < 25:  # noqa: PLR2004
        return "continue"
    if size < 60:  # noqa: PLR2004
        return f"bear {side}"
    if size < 150:  # noqa: PLR2004
        return f"turn {side}"
    return "turn back"


def directions(graph: WalkGraph, nodes: list[int], edges: list[int]) -> tuple[Step, ...]:
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

    Returns
    -------
    tuple of Step
        The steps, the first one starting with "head" and a compass direction.
    """

    def street_key(edge: int) -> tuple[int, int]:
        name = int(graph.edge_name[edge])
        return (name, -1) if name >= 0 else (-1, int(graph.edge_highway[edge]))

    runs: list[list[int]] = []
    for i, edge in enumerate(edges):
        if runs and street_key(edges[runs[-1][-1]]) == street_key(edge):
            runs[-1].append(i)
        else:
            runs.append([i])
    steps: list[Step] = []
    prev_heading: float | None = None
    for run in runs:
        first, last = run[0], run[-1]
        coords_first = _oriented(graph, edges[first], nodes[first])
        coords_last = _oriented(graph, edges[last], nodes[last])
        heading_in = bearing_deg(*coords_first[0], *coords_first[1])
        length = float(graph.edge_length_m[[edges[i] for i in run]].sum())
        street = graph.string(int(graph.edge_name[edges[first]]))
        highway = graph.string(int(graph.edge_highway[edges[first]]))
        where = f"onto {street}" if street else f"along the {(highway or 'way').replace('_', ' ')}"
        if prev_heading is None:
            turn = 0.0
            compass = [
                "north",
                "northeast",
                "east",
                "southeast",
                "south",
                "southwest",
                "west",
                "northwest",
            ]
            text = f"head {compass[int((heading_in + 22.5) % 360 // 45)]} {where}"
        else:
            turn = (heading_in - prev_heading + 540.0) % 360.0 - 180.0
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


def _oriented(graph: WalkGraph, edge: int, from_node: int) -> list[tuple[float, float]]:
    """Return an edge's coordinates in walking direction."""
    coords = graph.edge_coords(edge)
    if int(graph.edge_u[edge]) != from_node:
        coords = coords[::-1]
    return [(float(a), float(b)) for a, b in coords]
