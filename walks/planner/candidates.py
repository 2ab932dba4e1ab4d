"""Candidate points of a planning run: stops that fit the budget, waypoints, leg lengths.

``Candidates`` holds what the searches share (graph, routing, budget in metres, start and end
nodes) and chooses the points they work on; it can be built and tested on its own.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoWalkError
from walks.hours import LOOKAHEAD, open_intervals
from walks.planner.assembly import Points
from walks.planner.routing import Router, pleasant_mask
from walks.types import PlanRequest, Stop, WalkWarning

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from walks.graph import WalkGraph

#: How many candidate stops per requested category the search considers.
CANDIDATES_PER_CATEGORY = 12
#: How many scenic waypoints are offered to the filling phase at first.
WAYPOINTS = 60
#: Hours of opening times, from the departure, that become time windows.
WINDOW_HOURS = 24

Windows = list[tuple[float, float]]


#: Share of its score a stop of unknown opening hours keeps when it is taken for lack of readable
#: ones (with a departure time).
UNKNOWN_HOURS_WEIGHT = 0.5


class Candidates:
    """Candidate stops and waypoints for one request, and the lengths between them.

    Parameters
    ----------
    graph
        The walking graph.
    router
        Routing on it with the request's weighting.
    request
        The request.
    stops
        Candidate stops, scored.
    budget
        ``(budget in walking metres, metres per dwell second)``.
    ends
        ``(start node, end node)``.
    """

    def __init__(
        self, graph: WalkGraph, router: Router, request: PlanRequest, stops: tuple[Stop, ...],
        budget: tuple[float, float], ends: tuple[int, int],
    ) -> None:  # fmt: skip
        self.graph = graph
        self.router = router
        self.request = request
        self.stops = stops
        self.budget_m, self.m_per_dwell_s = budget
        self.start, self.end = ends
        self.speed = request.speed_kph / 3.6
        self.dwell = dict(request.dwell_s)
        self.max_factor = float(router.factor.max())
        #: what the walker should know about every walk of this run (stops dropped, ...)
        self.notes: list[WalkWarning] = []
        #: asked stops per category, less the default categories dropped
        self.counts = dict(request.stops)
        #: per stop id, open intervals in seconds from the departure (None: hours unknown);
        #: empty without a departure time
        self.windows: dict[str, Windows | None] = {}
        if request.at is not None:
            end = request.at + dt.timedelta(hours=WINDOW_HOURS)
            for stop in stops:
                spans = open_intervals(stop.opening_hours or None, request.at, end)
                self.windows[stop.id] = None if spans is None else [
                    ((a - request.at).total_seconds(), (b - request.at).total_seconds())
                    for a, b in spans
                ]  # fmt: skip

    @cached_property
    def neighbours(self) -> NDArray[np.int64]:
        """Count each node's distinct neighbours (a way mapped twice still ends in a dead end)."""
        g = self.graph
        lo = np.minimum(g.edge_u, g.edge_v).astype(np.int64)
        pairs = np.unique(lo * g.n_nodes + np.maximum(g.edge_u, g.edge_v))
        ends = np.concatenate([pairs // g.n_nodes, pairs % g.n_nodes])
        return np.bincount(ends, minlength=g.n_nodes)

    def open_in_time(
        self, stop: Stop, from_start: NDArray[np.float64], horizon_s: float = math.inf
    ) -> bool:
        """Tell whether a stop can be open for its dwell once the walker can be there."""
        spans = self.windows.get(stop.id)
        if spans is None:
            return True
        soonest = float(from_start[stop.node]) / self.speed
        dwell = self.dwell_s(stop)
        return any(
            close - dwell >= max(soonest, opens) and max(soonest, opens) + dwell <= horizon_s
            for opens, close in spans
        )

    def horizon_s(self) -> float:
        """Seconds from the departure within which the walk's stops must be visited."""
        if self.request.minutes is not None:
            return self.request.minutes * 60.0
        dwell = sum(
            self.dwell.get(c, self.request.default_dwell_s) * n for c, n in self.counts.items()
        )
        return self.budget_m / self.speed + dwell

    def by_hours(self, pool: list[Stop], from_start: NDArray[np.float64]) -> list[Stop]:
        """
        Keep the stops of a category that can be open on arrival (departure time given).

        Unknown is not open: stops whose hours cannot be read stay only when the stops with
        readable hours that can be visited open within the walk's time are fewer than the
        count asked (then they fill the rest, said to be of unknown hours).

        Parameters
        ----------
        pool
            The stops of one category.
        from_start
            Real lengths from the start per node.

        Returns
        -------
        list of Stop
            The stops kept (empty when every readable one is closed until the walk is over).
        """
        if self.request.at is None or not pool:
            return pool
        horizon = self.horizon_s()
        known = [s for s in pool if self.windows.get(s.id) is not None]
        open_known = [s for s in known if self.open_in_time(s, from_start, horizon)]
        if len(open_known) >= self.counts.get(pool[0].category, 1):
            return open_known
        # the readable ones cannot fill the count: the unknown ones may, said as unknown and
        # worth half as much, so that a readable one that fits is taken first
        unknown = [s for s in pool if self.windows.get(s.id) is None]
        return open_known + [replace(s, score=s.score * UNKNOWN_HOURS_WEIGHT) for s in unknown]

    def earliest(self, pool: list[Stop], from_start: NDArray[np.float64]) -> str:
        """Word ``earliest_departure``: when a stop of the pool can first be reached open."""
        best = self.earliest_departure(pool, from_start)
        if best is None:
            return "none of them opens within a week"
        return f"the earliest departure that works is {best:%a %Y-%m-%d %H:%M}"

    def earliest_departure(
        self, pool: list[Stop], from_start: NDArray[np.float64]
    ) -> dt.datetime | None:
        """
        Find the earliest departure at which a stop of a pool is open for its dwell on arrival.

        Parameters
        ----------
        pool
            Stops (those with unreadable hours are skipped).
        from_start
            Real lengths from the start per node.

        Returns
        -------
        datetime or None
            The departure (to the minute, rounded up); None when none opens within a week.
        """
        at = self.request.at
        assert at is not None
        best: dt.datetime | None = None
        for stop in pool:
            travel = dt.timedelta(seconds=float(from_start[stop.node]) / self.speed)
            if not math.isfinite(travel.total_seconds()):
                continue
            dwell = dt.timedelta(seconds=self.dwell_s(stop))
            for opens, closes in open_intervals(stop.opening_hours, at, at + LOOKAHEAD) or []:
                leave = max(at, opens - travel)
                if leave + travel + dwell <= closes:
                    best = leave if best is None else min(best, leave)
                    break
        if best is None:
            return None
        up = dt.timedelta(seconds=(60 - best.second) % 60, microseconds=-best.microsecond)
        return best + up if best.second or best.microsecond else best

    def dwell_s(self, stop: Stop) -> float:
        """Seconds spent at a stop."""
        return float(self.dwell.get(stop.category, self.request.default_dwell_s))

    def reach(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Real lengths from the start and to the end, for every node (inf beyond the budget)."""
        limit = self.budget_m * self.max_factor
        _, from_start = self.router.trees(np.array([self.start]), limit=limit)
        if self.end == self.start and not self.router.one_way:
            to_end = from_start
        else:  # the ways *to* the end: on the reversed arcs where foot ways are one-way
            _, to_end = self.router.trees(np.array([self.end]), limit=limit, reverse=True)
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
        soft = self.request.soft_stops
        for category in sorted(wanted):
            pool = [
                s
                for s in self.stops
                if s.category == category and s.id not in self.request.must_visit
            ]
            if not pool and soft:
                self.drop(category, f"no {category} stop in this area")
                continue
            if not pool:
                msg = f"no {category!r} stop in this area: choose a wider area or another category"
                raise NoWalkError(msg)
            open_pool = self.by_hours(pool, from_start)
            if not open_pool:
                assert self.request.at is not None
                why = (
                    f"every {category} is closed when the walk could reach it (leaving "
                    f"{self.request.at:%a %Y-%m-%d %H:%M}): "
                    f"{self.earliest(pool, from_start)}"
                )
                if soft:
                    self.drop(category, why)
                    continue
                raise NoWalkError(why)
            pool = open_pool
            fits = [
                s for s in pool
                if from_start[s.node] + to_end[s.node] + self.dwell_s(s) * self.m_per_dwell_s
                <= self.budget_m
            ]  # fmt: skip
            if not fits and soft:
                nearest = min(pool, key=lambda s: (from_start[s.node] + to_end[s.node], s.id))
                far = float(from_start[nearest.node])
                where = f"{far / 1000:.1f} km away" if np.isfinite(far) else "out of reach"
                self.drop(category, f"the nearest {category} is {where}, too far for this budget")
                continue
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

    def drop(self, category: str, why: str) -> None:
        """
        Leave out a default category, with a ``stop_dropped`` warning.

        Parameters
        ----------
        category
            The category.
        why
            The cause, as a clause ("no studio stop in this area").
        """
        self.counts.pop(category, None)
        self.notes.append(
            WalkWarning("stop_dropped", f"{why}: the walk goes without a {category} stop")
        )

    def asked_dwell_s(self) -> float:
        """Seconds of dwell that every asked stop adds (counts per category and must-visits)."""
        by_id = {s.id: s for s in self.stops}
        musts = [by_id[i] for i in self.request.must_visit if i in by_id]
        total = sum(self.dwell_s(s) for s in musts)
        for category, count in self.counts.items():
            already = sum(1 for s in musts if s.category == category)
            dwell = float(self.dwell.get(category, self.request.default_dwell_s))
            total += max(count - already, 0) * dwell
        return total

    def least(self, walk_m: float) -> str:
        """
        Word the least budget that holds a walk of some length and every asked stop's dwell.

        Parameters
        ----------
        walk_m
            Walking metres.

        Returns
        -------
        str
            ``"at least 50 minutes"`` or ``"at least 3.2 km"``.
        """
        if self.request.minutes is not None:
            minutes = math.ceil((walk_m / self.speed + self.asked_dwell_s()) / 60.0 - 1e-9)
            return f"at least {minutes} minutes"
        return f"at least {math.ceil(walk_m / 100.0 - 1e-9) / 10:.1f} km"

    def _too_far(self, category: str, pool: list[Stop]) -> None:
        """Raise the error for a category whose nearest stop does not fit, with the least budget."""
        _, full_start = self.router.trees(np.array([self.start]))
        _, full_end = self.router.trees(np.array([self.end]), reverse=True)
        need = [
            (float(full_start[0][s.node] + full_end[0][s.node]), s) for s in pool
            if np.isfinite(full_start[0][s.node])
        ]  # fmt: skip
        if not need:
            msg = f"no {category!r} stop can be reached from the start: choose another start"
            raise NoWalkError(msg)
        walk_m, stop = min(need, key=lambda t: (t[0], t[1].id))
        one_way = float(full_start[0][stop.node])
        msg = f"the nearest {category} is {one_way / 1000:.1f} km away: {self.least(walk_m)}"
        raise NoWalkError(msg)

    def waypoints(
        self,
        from_start: NDArray[np.float64],
        to_end: NDArray[np.float64],
        exclude: set[int],
        rng: np.random.Generator,
        count: int = WAYPOINTS,
    ) -> NDArray[np.int64]:
        """Pick ``count`` spread-out waypoints on pleasant streets, in reach, not at dead ends."""
        g = self.graph
        pleasant = pleasant_mask(g)
        degree = self.neighbours
        good = np.zeros(g.n_nodes, dtype=bool)
        good[g.edge_u[pleasant]] = True
        good[g.edge_v[pleasant]] = True
        if good.sum() < count:  # few pleasant streets: any through node will do
            good[:] = True
        good &= degree > 1
        good &= from_start + to_end <= self.budget_m
        good[list(exclude)] = False
        pool = np.flatnonzero(good)
        if pool.size <= count:
            return pool
        # spatial spread: one random node per cell of a coarse grid, then a random sample
        x, y = g.node_lon[pool], g.node_lat[pool]
        cells = int(math.sqrt(count * 4))
        cx = np.minimum(((x - x.min()) / max(np.ptp(x), 1e-12) * cells).astype(int), cells - 1)
        cy = np.minimum(((y - y.min()) / max(np.ptp(y), 1e-12) * cells).astype(int), cells - 1)
        order = rng.permutation(pool.size)
        _, first = np.unique((cx * cells + cy)[order], return_index=True)
        spread = pool[order[first]]
        return np.sort(rng.choice(spread, size=min(count, spread.size), replace=False))

    def points(self, cands: list[Stop], waypoints: NDArray[np.int64]) -> Points:
        """Put start, end, candidate stops and waypoints together, with their leg lengths."""
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
        if self.router.one_way:  # the ways into the main points, along one-way foot ways
            _, into = self.router.trees(nodes[:n_main], limit=half, targets=nodes, reverse=True)
            sub[:, :n_main] = np.minimum(sub[:, :n_main], into.T)
        else:  # symmetric: a leg found from either end is known
            sub = np.minimum(sub, sub.T)
        sub[~np.isfinite(sub)] = 1e12
        stop_list: list[Stop | None] = [None, None, *cands] + [None] * len(waypoints)
        return Points(nodes=nodes, stops=tuple(stop_list), length=sub)

    def dwell_of(self, category: str) -> float:
        """Seconds spent at a stop of a category."""
        return float(self.dwell.get(category, self.request.default_dwell_s))
