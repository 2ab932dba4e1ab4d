"""Candidate points of a planning run: stops that fit the budget, waypoints, leg lengths.

``Candidates`` holds what the searches share (graph, routing, budget in metres, start and end
nodes) and chooses the points they work on; it can be built and tested on its own.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoWalkError
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
        degree = np.bincount(np.concatenate([g.edge_u, g.edge_v]), minlength=g.n_nodes)
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
