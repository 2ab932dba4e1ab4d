"""Plan walks on a graph: choose and order stops, fill the budget with detours, say what is off.

The pieces: ``walks.planner.routing`` (shortest paths), ``walks.planner.core`` (the orienteering
search), ``walks.planner.assembly`` (paths, legs and measures of a route), ``walks.directions``
(turn-by-turn text). Here: snapping and the budget, candidate stops and waypoints, the two search
phases (stops, then filling), the budget's honesty (trimming, repeats, warnings) and alternatives.
"""

from __future__ import annotations

import itertools
import logging
import math
import time
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from walks.errors import NoWalkError
from walks.planner.assembly import REUSE_PENALTY, Assembler, Points
from walks.planner.candidates import WAYPOINTS, Candidates
from walks.planner.core import OPProblem, OPSolution, solve
from walks.planner.routing import Router, edge_factors
from walks.planner.snapping import nearest_way_m, snap
from walks.types import PlanRequest, Stop, Walk, WalkWarning

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from walks.graph import WalkGraph

log = logging.getLogger(__name__)

#: Beyond this distance from the asked start or end, the walk says it begins elsewhere.
MOVED_WARN_M = 25.0
#: A stop is reached within this distance wherever a walkable way passes that close to it.
REACH_M = 40.0
#: Budget tolerance the filling aims for.
TOLERANCE = 0.05
#: Most waypoints offered when a walk comes out short with nearly all of them walked.
MAX_WAYPOINTS = 240
#: Share of the offered waypoints a short walk must use before more are offered.
WAYPOINTS_FULL = 0.8
#: Cost multiplier on edges of earlier alternatives.
ALTERNATIVE_PENALTY = 6.0
#: Largest edge overlap between alternatives.
MAX_OVERLAP = 0.5
#: Search iterations (perturbation + local search) choosing the stops: the work bound that
#: decides the result (the request's time limit is only a safety guard).
STOP_ITERATIONS = 300
#: Search iterations per filling round (waypoints around the chosen stops).
FILL_ITERATIONS = 60
#: A walk this much short once its spurs are cut keeps them (out and back is all there is).
SPURS_WHEN_SHORT = 0.5
#: Most waypoints tried for removal when a walk comes out long.
TRIM_TRIES = 8
#: Reuse penalty tried when a walk built with the full one misses its budget.
MILD_REUSE_PENALTY = 4.0
#: Rounds of filling, each aiming at the budget corrected by the last round's measured length.
FILL_ROUNDS = 6


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


class _Planner(Candidates):
    """One planning run: the candidates, the two search phases, the budget's honesty."""

    def __init__(self, graph: WalkGraph, stops: tuple[Stop, ...], request: PlanRequest) -> None:
        budget = _budget_m(request)
        first = snap(graph, request.start, "start", leaving=True)
        last = first if request.end is None else snap(graph, request.end, "end", leaving=False)
        router = Router(
            graph,
            edge_factors(
                graph, pleasant_weight=request.pleasant_weight, avoid_steps=request.avoid_steps
            ),
        )
        super().__init__(graph, router, request, stops, budget, (first.node, last.node))
        self.start_offset_m, self.end_offset_m = first.offset_m, last.offset_m
        self.deadline = time.perf_counter() + request.time_limit_s
        self.assembler = Assembler(
            graph, self.router, request, self.dwell_s, lead_in=first.lead,
            lead_in_m=first.lead_m, lead_out=last.lead[::-1], lead_out_m=last.lead_m,
        )  # fmt: skip
        for what, offset in (("start", self.start_offset_m), ("end", self.end_offset_m)):
            if offset > MOVED_WARN_M and (what == "start" or request.end is not None):
                self.notes.append(WalkWarning(
                    f"{what}_moved",
                    f"the walk {what}s {offset:,.0f} m from the {what} asked, at the nearest "
                    "point of a walkable way",
                ))  # fmt: skip
        #: budget metres the chosen stops need on their own (plain best legs and dwell)
        self.stops_need_m = 0.0
        #: real lengths from the start per node (set by ``run``)
        self.from_start: NDArray[np.float64] | None = None
        self.to_end: NDArray[np.float64] = np.zeros(0)

    def guard_s(self) -> float:
        """Seconds left of the request's time guard (never below a small floor)."""
        return max(self.deadline - time.perf_counter(), 0.05)

    def problem(
        self,
        pts: Points,
        budget: float,
        *,
        fixed: tuple[int, ...] | None,
        rng: np.random.Generator,
    ) -> OPProblem:
        k = len(pts.nodes)
        categories = sorted({s.category for s in pts.stops if s is not None})
        counts = self.counts
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
        timed = self.time_windows(pts) if self.request.at is not None else {}
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
            wait_cost=self.m_per_dwell_s, **timed,
        )  # fmt: skip

    def time_windows(self, pts: Points) -> dict[str, NDArray[np.float64]]:
        """
        Give the stops' opening intervals as the search's time windows, in seconds.

        Parameters
        ----------
        pts
            The points.

        Returns
        -------
        dict
            ``opens``, ``closes``, ``travel_time`` (the legs' real walking seconds) and
            ``service_time`` (dwell seconds) for ``OPProblem``.
        """
        k = len(pts.nodes)
        spans = [
            self.windows.get(s.id) if s is not None else None for s in pts.stops
        ]  # fmt: skip
        width = max([1] + [len(w) for w in spans if w is not None])
        opens = np.full((k, width), np.nan)
        closes = np.full((k, width), np.nan)
        opens[:, 0], closes[:, 0] = -np.inf, np.inf
        service = np.zeros(k)
        for i, stop in enumerate(pts.stops):
            if stop is None:
                continue
            service[i] = self.dwell_s(stop)
            if spans[i] is not None:
                opens[i], closes[i] = np.nan, np.nan
                for j, (a, b) in enumerate(spans[i] or []):
                    opens[i, j], closes[i, j] = a, b
        return {
            "opens": opens, "closes": closes, "travel_time": pts.length / self.speed,
            "service_time": service,
        }  # fmt: skip

    def build(
        self, pts: Points, route: tuple[int, ...], penalty: NDArray[np.float64], *,
        reuse_penalty: float = REUSE_PENALTY, prefix: tuple[list[int], list[int]] | None = None,
        cut_spurs: bool = True,
    ) -> Walk:  # fmt: skip
        """
        Assemble a walk and, with a departure time, its timetable (waits for openings).

        Parameters
        ----------
        pts, route, penalty, reuse_penalty, prefix, cut_spurs
            As for ``Assembler.build``.

        Returns
        -------
        Walk
            The walk; with a departure time each visit starts when the stop is open (after
            ``wait_s``), later visits and the total time move by the waits, and a visit that
            cannot be made in its opening hours carries a ``closed_on_arrival`` warning.
        """
        walk = self.assembler.build(pts, route, penalty, reuse_penalty=reuse_penalty,
                                    prefix=prefix, cut_spurs=cut_spurs)  # fmt: skip
        if self.request.at is None:
            return walk
        shift = 0.0
        visits = []
        late: list[str] = []
        for visit in walk.stops:
            arrive = visit.arrival_s + shift
            dwell = self.dwell_s(visit.stop)
            spans = self.windows.get(visit.stop.id)
            begin = arrive
            if spans is not None:
                fits = [max(arrive, a) for a, b in spans if max(arrive, a) + dwell <= b + 1e-6]
                if fits:
                    begin = min(fits)
                else:
                    late.append(visit.stop.name)
            shift += begin - arrive
            visits.append(replace(visit, arrival_s=begin, wait_s=begin - arrive))
        total = walk.total_time_s + shift
        error = walk.budget_error
        if self.request.minutes is not None:
            error = (total - self.request.minutes * 60.0) / (self.request.minutes * 60.0)
        warnings = walk.warnings + tuple(
            WalkWarning("closed_on_arrival", f"{name} is closed when the walk gets there")
            for name in late
        )  # fmt: skip
        return replace(walk, stops=tuple(visits), total_time_s=total, budget_error=error,
                       warnings=warnings)  # fmt: skip

    def check(self, pts: Points, sol: OPSolution, rng: np.random.Generator) -> None:
        """
        Deal with stops the stops phase could not fit: drop defaults, or explain asked ones.

        Parameters
        ----------
        pts
            The points.
        sol
            The stops phase's solution.
        rng
            For the search of the least budget that fits.

        Raises
        ------
        NoWalkError
            When an asked stop does not fit; the message names the least budget that does.
        """
        categories = sorted({s.category for s in pts.stops if s is not None})
        short = {c: n for c, n in zip(categories, sol.missing_in_group, strict=False) if n > 0}
        if not sol.missing_mandatory and not short:
            return
        if self.request.soft_stops and not sol.missing_mandatory:
            for cat in sorted(short):
                asked = self.counts.get(cat, 0)
                got = asked - short[cat]
                self.notes.append(WalkWarning(
                    "stop_dropped",
                    f"{asked} {cat} stop(s) with their {self.dwell_of(cat) / 60:.0f} min each do "
                    f"not fit in this budget with the rest: the walk has {got}",
                ))  # fmt: skip
            return
        self.hours_error(short)
        least = self.least_budget(pts, rng)
        for idx in sol.missing_mandatory:
            stop = pts.stops[idx]
            assert stop is not None
            msg = (
                f"the stop {stop.name or stop.id!r} cannot be fitted with the other stops in the "
                f"budget: {least}, or drop a stop"
            )
            raise NoWalkError(msg)
        cat = min(short)
        asked = self.counts.get(cat, 0)
        msg = (
            f"{asked} {cat} stop(s) with the rest do not fit in the budget: {least}, or ask for "
            f"fewer {cat} stops"
        )
        raise NoWalkError(msg)

    def hours_error(self, short: dict[str, int]) -> None:
        """
        Raise the error for asked stops that are closed whenever the walk could reach them.

        Parameters
        ----------
        short
            Per category, how many asked stops the search could not fit.

        Raises
        ------
        NoWalkError
            With a departure time, when no stop of a short category can be reached open
            at that departure: the message names the earliest departure at which one can.
        """
        at = self.request.at
        if at is None or self.from_start is None:
            return
        for cat in sorted(short):
            pool = [
                s for s in self.stops
                if s.category == cat and self.windows.get(s.id)
                and self.detour_m(s, self.from_start, self.to_end) <= self.budget_m
            ]  # fmt: skip
            horizon = self.horizon_s()
            if not pool or any(self.open_in_time(s, self.from_start, horizon) for s in pool):
                continue  # one can be reached open within the walk: the budget is what's short
            when = self.earliest_departure(pool, self.from_start)
            if when is None or when > at:
                leaving = f"{at:%a %Y-%m-%d %H:%M}"
                msg = (
                    f"no {cat} is open when the walk could reach it (leaving {leaving}): "
                    f"{self.earliest(pool, self.from_start)}"
                )
                raise NoWalkError(msg)

    def least_budget(self, pts: Points, rng: np.random.Generator) -> str:
        """
        Find the least budget (in steps) that holds every asked stop, dwell included.

        Parameters
        ----------
        pts
            The points.
        rng
            Random generator (the search is deterministic for it).

        Returns
        -------
        str
            ``"it needs at least 75 minutes"``, or advice when even four times the budget fails.
        """
        for factor in (1.1, 1.25, 1.5, 2.0, 3.0, 4.0):
            trial = self.problem(pts, self.budget_m * factor, fixed=None, rng=rng)
            sol = solve(
                trial, seed=self.request.seed, time_limit_s=self.guard_s(), max_iterations=100
            )
            if sol.missing_mandatory or any(sol.missing_in_group):
                continue
            dwell_m = self.asked_dwell_s() * self.m_per_dwell_s
            return f"it needs {self.least(max(sol.cost - dwell_m, 0.0))}"
        return "raise the budget a lot"

    # ---------------------------------------------------------------- walks

    def run(self) -> list[Walk]:
        """
        Plan the walks: candidates once, then each alternative avoiding the earlier ones.

        Returns
        -------
        list of Walk
            The walks, best first, each with its warnings.
        """
        from_start, to_end = self.reach()
        self.from_start, self.to_end = from_start, to_end
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
            walks.append(replace(
                walk,
                warnings=(
                    *self.notes, *walk.warnings, *self.budget_notes(walk), *self.reach_notes(walk)
                ),
                start_offset_m=self.start_offset_m, end_offset_m=self.end_offset_m,
            ))  # fmt: skip
        return walks

    def budget_notes(self, walk: Walk) -> list[WalkWarning]:
        """
        Say why a walk misses its budget by more than the tolerance, and when it repeats streets.

        Parameters
        ----------
        walk
            The walk.

        Returns
        -------
        list of WalkWarning
            ``area_too_small``, ``budget_short`` or ``budget_long``, and ``retraced``.
        """
        notes: list[WalkWarning] = []
        req = self.request
        if req.minutes is not None:
            got = f"{walk.total_time_s / 60:.0f} of the {req.minutes:g} minutes asked"
        else:
            got = f"{walk.length_m / 1000:.1f} of the {req.km:g} km asked"
        off = abs(walk.budget_error) * 100
        ways_km = self.graph.walkable_km
        if walk.budget_error < -TOLERANCE and req.allow_repeats:
            notes.append(WalkWarning(
                "budget_short",
                f"the walk is {off:.0f} % short ({got}) even walking streets again: the stops "
                "leave no room for longer loops from the start",
            ))  # fmt: skip
        elif walk.budget_error < -TOLERANCE:
            long_min = walk.walking_time_s / 60
            code = "area_too_small" if ways_km * 1000 < 3 * self.budget_m else "budget_short"
            notes.append(WalkWarning(
                code,
                f"the walk is {off:.0f} % short ({got}): this area has {ways_km:.1f} km of "
                f"walkable ways; the longest walk found that does not repeat streets is "
                f"{walk.length_m / 1000:.1f} km ({long_min:.0f} min of walking): widen the "
                "area, or let the walk repeat streets with --allow-repeats",
            ))  # fmt: skip
        elif walk.budget_error > TOLERANCE:
            cause = (
                "the stops and their dwell need that much"
                if self.stops_need_m > self.budget_m * (1 + TOLERANCE)
                else "the streets here come in long stretches and no nearer walk was found"
            )
            notes.append(WalkWarning(
                "budget_long", f"the walk is {off:.0f} % longer than asked ({got}): {cause}"
            ))  # fmt: skip
        if walk.retraced_share > TOLERANCE and not req.allow_repeats:
            notes.append(WalkWarning(
                "retraced",
                f"{walk.retraced_share * 100:.0f} % of the walk goes along streets walked "
                "before: the network around the stops leaves no other way",
            ))  # fmt: skip
        return notes

    def reach_notes(self, walk: Walk) -> list[WalkWarning]:
        """
        Say where a stop is reached farther than ``REACH_M`` although a way passes nearer.

        Parameters
        ----------
        walk
            The walk.

        Returns
        -------
        list of WalkWarning
            One ``stop_far_from_route`` per such stop.
        """
        notes: list[WalkWarning] = []
        for visit in walk.stops:
            if visit.reach_distance_m <= REACH_M:
                continue
            way_m = nearest_way_m(self.graph, visit.stop.location, REACH_M)
            if way_m is None:
                continue  # no way passes nearer: the walk gets as near as it can
            notes.append(WalkWarning(
                "stop_far_from_route",
                f"{visit.stop.name or visit.stop.category} is {visit.reach_distance_m:,.0f} m "
                f"from the walk where it passes nearest, although a walkable way passes "
                f"{way_m:,.0f} m from it",
            ))  # fmt: skip
        return notes

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
        """
        Plan one walk: choose the stops, then fill the budget with waypoints.

        Parameters
        ----------
        cands
            Candidate stops.
        from_start, to_end
            Real lengths from the start and to the end per node.
        penalty
            Per-edge cost multipliers (earlier alternatives).
        seed
            Random seed of this walk.

        Returns
        -------
        Walk
            The walk nearest the budget (without warnings).
        """
        rng = np.random.default_rng(seed)
        exclude = {s.node for s in cands} | {self.start, self.end}
        count = WAYPOINTS
        wps = self.waypoints(from_start, to_end, exclude, rng, count)
        pts = self.points(cands, wps)
        # phase 1: the stops
        stops_problem = self.problem(pts, self.budget_m, fixed=None, rng=rng)
        first = solve(
            stops_problem, seed=seed, time_limit_s=self.guard_s(), max_iterations=STOP_ITERATIONS
        )
        self.check(pts, first, rng)
        self.stops_need_m = first.cost
        # phase 2: fill what is left with scenic waypoints; adjust to the measured length
        best, best_route = self.fill(pts, first, penalty, seed, rng)
        best_pts = pts
        # a short walk that used (nearly) every waypoint wants more of them: where blocks are
        # small, the offered waypoints are all walked long before the budget is
        while (
            best.budget_error < -TOLERANCE
            and count < MAX_WAYPOINTS
            and self.waypoints_used(best_pts, best_route) >= WAYPOINTS_FULL * wps.size
        ):
            count = min(MAX_WAYPOINTS, 2 * count)
            offered = wps.size
            wps = self.waypoints(from_start, to_end, exclude, rng, count)
            if wps.size <= offered:  # the area has no more to offer
                break
            pts = self.points(cands, wps)
            walk, route = self.fill(pts, first, penalty, seed, rng)
            if abs(walk.budget_error) < abs(best.budget_error):
                best, best_route, best_pts = walk, route, pts
        return self.mend(best_pts, first.route, best_route, best, penalty, seed)

    @staticmethod
    def waypoints_used(pts: Points, route: tuple[int, ...]) -> int:
        """Count the waypoints a route goes through."""
        first_wp = 2 + sum(1 for s in pts.stops[2:] if s is not None)
        return sum(1 for i in route if i >= first_wp)

    def fill(
        self, pts: Points, first: OPSolution, penalty: NDArray[np.float64], seed: int,
        rng: np.random.Generator,
    ) -> tuple[Walk, tuple[int, ...]]:  # fmt: skip
        """
        Fill the budget with waypoints around the chosen stops, in rounds aimed at the budget.

        Each round aims at the budget corrected by the last round's measured length (the walk's
        paths differ from the search's estimates), kept inside the bracket of targets known to
        give a short and a long walk.

        Parameters
        ----------
        pts
            The points.
        first
            The stops phase's solution.
        penalty
            Per-edge cost multipliers (earlier alternatives).
        seed
            Random seed.
        rng
            Random generator (score jitter).

        Returns
        -------
        tuple
            The walk nearest the budget and its route.
        """
        target = self.budget_m
        low, high = first.cost, math.inf  # targets known to give a short / a long walk
        best: Walk | None = None
        best_route = first.route
        last: tuple[int, ...] = ()
        over = 1.0  # the last walk's measured length over the budget
        for _ in range(FILL_ROUNDS):
            fill = self.problem(pts, target, fixed=first.route, rng=rng)
            sol = solve(
                fill, seed=seed, time_limit_s=self.guard_s(), initial=first.route,
                max_iterations=FILL_ITERATIONS,
            )  # fmt: skip
            if sol.route == last:  # the same route again
                if over <= 1.0:  # it was short or right: nothing more to learn
                    break
                # it was long, and the search's lengths undercount the walked ones: aim lower
                target /= over
                if target <= low:
                    break
                continue
            last = sol.route
            walk = self.build(pts, sol.route, penalty)
            if best is None or abs(walk.budget_error) < abs(best.budget_error):
                best, best_route = walk, sol.route
            if abs(walk.budget_error) <= TOLERANCE * 0.8:
                break
            measured = self.measured_m(walk)
            over = measured / self.budget_m
            if measured > self.budget_m:
                high = min(high, target)
            else:
                low = max(low, target)
            guess = target * self.budget_m / max(measured, 1.0)
            # rescale by what the last round measured, kept inside the bracket found so far
            target = guess if low < guess < high else (low + min(high, 2 * low + 1)) / 2
        assert best is not None
        if abs(best.budget_error) > TOLERANCE:
            # the dear way back made it miss: a milder penalty walks a little more again
            milder = self.build(pts, best_route, penalty, reuse_penalty=MILD_REUSE_PENALTY)
            if abs(milder.budget_error) < abs(best.budget_error):
                best = milder
        return best, best_route

    def mend(
        self, pts: Points, stops_route: tuple[int, ...], route: tuple[int, ...], best: Walk,
        penalty: NDArray[np.float64], seed: int,
    ) -> Walk:  # fmt: skip
        """
        Bring a walk that misses its budget nearer to it, where the network allows.

        Parameters
        ----------
        pts
            The points.
        stops_route
            The stops phase's route (stops only).
        route
            The walk's route.
        best
            The walk.
        penalty
            Per-edge cost multipliers.
        seed
            Random seed.

        Returns
        -------
        Walk
            The walk nearest the budget of those tried.
        """
        if best.budget_error > TOLERANCE:
            best, route = self.trim(pts, route, penalty, best)
        if best.budget_error < -TOLERANCE and (
            self.request.allow_repeats or best.budget_error < -SPURS_WHEN_SHORT
        ):
            # cutting spurs left it far too short: where the network is a tree (a valley
            # road, a dead-end quarter), walking out and back is the only walk there is
            spurred = self.build(pts, route, penalty, cut_spurs=False)
            if abs(spurred.budget_error) < abs(best.budget_error):
                best = spurred
        if best.budget_error > TOLERANCE:
            # even the stops alone run over once the way back avoids the way out: walk the
            # plain best legs instead (they fit, as phase 1 measured them)
            plain = self.build(pts, stops_route, penalty, reuse_penalty=1.0)
            if abs(plain.budget_error) < abs(best.budget_error):
                best, route = plain, stops_route
        if self.request.allow_repeats and best.budget_error < -TOLERANCE:
            best = self.repeat(pts, route, penalty, best, seed)
        if any(w.code == "closed_on_arrival" for w in best.warnings):
            # the streets walked took longer than the search's legs: the plain best legs
            # are the ones the timetable was checked on
            plain = self.build(pts, stops_route, penalty, reuse_penalty=1.0)
            if not any(w.code == "closed_on_arrival" for w in plain.warnings):
                best = plain
        return best

    def trim(
        self, pts: Points, route: tuple[int, ...], penalty: NDArray[np.float64], walk: Walk
    ) -> tuple[Walk, tuple[int, ...]]:
        """
        Bring a long walk nearer its budget by leaving out one of its waypoints.

        Parameters
        ----------
        pts
            The points.
        route
            The walk's point route.
        penalty
            Per-edge cost multipliers.
        walk
            The walk, longer than the tolerance allows.

        Returns
        -------
        tuple
            The best walk found and its route (the given ones when none is nearer).
        """
        first_wp = 2 + sum(1 for s in pts.stops[2:] if s is not None)
        places = [i for i in range(1, len(route) - 1) if route[i] >= first_wp]
        if len(places) > TRIM_TRIES:  # evenly spread over the walk
            places = [places[round(j * (len(places) - 1) / (TRIM_TRIES - 1))]
                      for j in range(TRIM_TRIES)]  # fmt: skip
        best, best_route = walk, route
        for i in places:
            shorter = route[:i] + route[i + 1 :]
            trial = self.build(pts, shorter, penalty)
            if abs(trial.budget_error) < abs(best.budget_error):
                best, best_route = trial, shorter
            if abs(best.budget_error) <= TOLERANCE * 0.8:
                break
        return best, best_route

    def measured_m(self, walk: Walk) -> float:
        """Measure a walk against the budget: its length plus its dwell, in budget metres."""
        stay = sum(self.dwell_s(v.stop) + v.wait_s for v in walk.stops)
        return walk.length_m + stay * self.m_per_dwell_s

    def repeat(
        self, pts: Points, route: tuple[int, ...], penalty: NDArray[np.float64], walk: Walk,
        seed: int,
    ) -> Walk:  # fmt: skip
        """
        Lengthen a short walk with loops from the start over streets walked before.

        Each loop goes through waypoints on pleasant streets, preferring streets the walk has
        used least; loops are added while they bring the walk nearer its budget.

        Parameters
        ----------
        pts
            The points.
        route
            The walk's point route.
        penalty
            Per-edge cost multipliers (earlier alternatives).
        walk
            The short walk.
        seed
            Random seed.

        Returns
        -------
        Walk
            The walk with the loops, or ``walk`` when no loop helps.
        """
        prefix_nodes: list[int] = [self.start]
        prefix_edges: list[int] = []
        k = len(pts.nodes)
        first_wp = 2 + sum(1 for s in pts.stops[2:] if s is not None)
        score = np.zeros(k)
        score[first_wp:] = 1.0
        for rnd in range(8):
            missing = self.budget_m - self.measured_m(walk)
            if missing <= TOLERANCE * 0.5 * self.budget_m:
                break
            loop = solve(
                OPProblem(cost=pts.length, score=score, budget=missing, start=0, end=0),
                seed=seed + rnd, time_limit_s=self.guard_s(), max_iterations=FILL_ITERATIONS,
            )  # fmt: skip
            if len(loop.route) <= 2:  # noqa: PLR2004 - start and end only: nothing fits
                break
            # the streets walked least cost least: each use makes an edge dearer
            multiplier = penalty.copy()
            used = np.asarray([e for leg in walk.legs for e in leg.edges], dtype=np.int64)
            np.multiply.at(multiplier, used, REUSE_PENALTY)
            nodes, edges = [self.start], []
            for a, b in itertools.pairwise(loop.route):
                part_n, part_e = self.router.path(
                    int(pts.nodes[a]), int(pts.nodes[b]), multiplier=multiplier
                )
                nodes += part_n[1:]
                edges += part_e
            trial = self.build(
                pts, route, penalty, prefix=(prefix_nodes + nodes[1:], prefix_edges + edges)
            )
            if abs(trial.budget_error) >= abs(walk.budget_error):
                break
            walk = trial
            prefix_nodes, prefix_edges = prefix_nodes + nodes[1:], prefix_edges + edges
        return walk


def _edges(walk: Walk) -> NDArray[np.int64]:
    """List the distinct edges a walk uses."""
    return np.unique(np.fromiter((e for leg in walk.legs for e in leg.edges), dtype=np.int64))
