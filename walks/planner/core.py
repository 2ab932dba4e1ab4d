"""The orienteering search: pick and order points to collect the most score within a budget.

Pure numpy, no I/O. Both the walk planner and ``solve_orienteering`` run this same search.
The tour moves (2-opt, Or-opt) are in ``walks.planner.core_tour``; the construction,
exchanges, perturbations and the search loop are here.

Algorithm (iterated local search, deterministic for a seed and an iteration count):

1. *Construction*: greedy insertion by ``gain / extra cost``, once plainly and three times
   with a restricted candidate list (GRASP: pick at random among the best 30-50 %); the best
   of the four, after local search, starts the search. Insertion is incremental: each
   unvisited point keeps its cheapest place; adding ``k`` between ``a`` and ``b`` only
   re-evaluates the points whose place was ``a-b`` and compares the rest with the two new
   edges. On long routes a point is tried only at the edges next to its 32 nearest points
   (candidate lists), falling back to every edge when none of them is visited (in the
   constructions; refills after a perturbation leave such far points out).
2. *Local search*: tour improvement of the chosen set by 2-opt (exact for asymmetric costs
   via running sums) and Or-opt (runs of 1-3 points moved, either way round), both over
   10- and 5-nearest-neighbour candidate lists; each evaluation queues the improving moves,
   which are re-checked on the current route and applied in one pass (positions kept up to
   date move by move). After the first evaluation, only moves that touch a changed edge are
   evaluated again (don't-look bits, Bentley 1992, made exact: the others were not improving
   and still are not, unless the queue was cut short, when all are evaluated again). With
   symmetric costs a reversed stretch costs the same both ways, and one gather of the cost
   to a neighbour serves both of its edges. Then *swap*: a visited
   point replaced by an unvisited one where that gains score (an EA4OP-style add/drop on one
   place), and insertion again, so saved length is spent on more points. From 150 free
   points on, the last improvement of every refilled route runs 2-opt and Or-opt in turn to a
   local optimum of both (the tour improvement of the chosen set that EA4OP gets from
   Lin-Kernighan), and the length it saves goes to more points: on the weakest OPLib
   instances this gains about 1 % of score for 20 % more work per iteration.
3. *Perturbation*: remove a run of consecutive points, scattered points, or the points that
   add the most cost for their value (their removal saving per score, with noise; at most 100);
   half the time the removed points may not return in the first refill (a short tabu, which
   lets other points in), and the refill's ratio uses the extra cost to the power 0.5, 1 or
   2 with noise, so the search explores different mixes of valuable and cheap points. A worse
   result is accepted now and then, and the search returns to the best route after a
   stretch without progress, with stronger shakes; after 200 iterations without progress it
   starts again from a new randomised construction. Without time windows and above 150 free
   points, a quarter of the perturbations go the other way: an unvisited point (drawn in
   proportion to the score per cost of its neighbourhood, so dense regions come first) and
   unvisited points around it (breadth first over the candidate lists; up to half as many
   as the route holds) are forced in over the budget, and the points with the least value
   per saved cost leave until the route fits (a destroy-and-repair step that lets the route
   move to another region).

Work and time: the number of iterations decides the result. By default
(``default_iterations``) it comes from a fixed cost model (the constructions once, then per
iteration a constant plus a cost per point) and the caller's time limit: as many iterations
as fill half the limit on one core of a shared machine (less on an idle one), so the search
normally ends inside the limit even when the machine is loaded, and the result depends only
on the inputs, never on the load. The time
limit itself is only a guard, checked inside every phase's loop, so a run overshoots it by at
most one move evaluation. When the guard ends a run, ``OPSolution.timed_out`` says so and a
warning is logged.

Tried and left out (measured on the ten weakest OPLib instances, two seeds): path relinking
(Glover; as used for the team orienteering problem by Souffriau, Vansteenwegen, Vanden Berghe
and Van Oudheusden, 2010) from the current route towards one of six elite routes, forcing in
a share of the guide's points and dropping the worst to fit, did not beat the perturbations
above for the same work; nor did Or-opt before every refill or inside the forced-in step.
Nor did carrying the cheapest insertions from one refill to the next (re-evaluating only the
points whose place or candidate neighbours touch an edge that changed in between): finding
those edges cost as much as the evaluations it saved (measured on dsj1000).

Sources (ideas, not code): Kobeaga, Merino and Lozano, "An efficient evolutionary algorithm
for the orienteering problem" (EA4OP, Computers & OR 90, 2018) for the add / drop operators
and tour improvement of the chosen set; Vansteenwegen et al., "Iterated local search for the
team orienteering problem with time windows" (Computers & OR 36, 2009) for the remove-a-run
perturbation; Feo and Resende's GRASP (1995) for the randomised constructions; Or (1976) and
Croes (1958) for the Or-opt and 2-opt moves; Johnson and McGeoch's survey of TSP local search
(1997) for candidate lists and queued moves; Bentley, "Fast algorithms for geometric
traveling salesman problems" (ORSA J. Computing 4, 1992) for don't-look bits.

Time windows (TOPTW), optional: each point may have opening intervals (``opens``/``closes``,
in the time unit of ``travel_time``); a visit must start at or after an opening and end, after
its service time, by the matching close. Arriving early means waiting, which costs
``wait_cost`` budget units per time unit (the walker's minutes count the wait; kilometres do
not). The bookkeeping follows Vansteenwegen, Souffriau, Vanden Berghe and Van Oudheusden,
"Iterated local search for the team orienteering problem with time windows" (Computers & OR
36, 2009): every visited point keeps its *wait* (time between arrival and start) and its
*maxShift* (how much later it could start without any later visit missing its window), so an
insertion is checked in constant time: it delays its successor by a *shift*, feasible when the
shift is at most the successor's wait plus maxShift; the delay is absorbed by later waits.
With several intervals a day, maxShift is measured in each visit's current interval (a safe
under-estimate). Moves that reorder points (2-opt, Or-opt, swaps) are re-checked on the whole
schedule before they are applied, and perturbations that leave a visit late are repaired by
dropping it. Without windows none of this runs and the search is unchanged.

Constraints: point groups with a minimum and a maximum count (categories of stops), an order of
groups (ranks must not decrease along the route), and mandatory points. Minimum counts and
mandatory points are folded into the objective as a lexicographic bonus, so the search satisfies
them first whenever the budget allows, and the caller can tell when it cannot.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from walks.planner.core_tour import _BATCH, _NEAR, _TINY, _TourMoves

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

_EPS = 1e-9
#: Longer list, for the places a point may be inserted at.
_NEAR_INSERT = 32
#: Rows per block when a full matrix would be large.
_CHUNK = 256
#: Most points one perturbation removes.
_SHAKE = 100
#: Up to this many points, exchanges try every unvisited point, not only the nearest.
_FULL = 400
#: Exponents of the extra cost in the insertion ratio, drawn per perturbation.
_POWERS = (0.5, 1.0, 1.0, 2.0)
#: Share of perturbations whose removed points may not come back in the first refill.
_TABU = 0.5
#: Share of perturbations that remove the points with the least value per cost they add.
_WORST = 0.3
#: Share of perturbations (without time windows) that force points in, then drop the worst.
_GROW = 0.25
#: Fewest free points for that step (smaller instances are solved near-optimally without it).
_GROW_FROM = 150
#: Iterations without progress after which the search starts again from a new construction.
_RESTART = 200
#: Fewest free points for Or-opt in every polish (smaller instances do well with 2-opt alone).
_OROPT_FROM = 150
#: Cost model of the work budget: seconds per iteration, plus seconds per point and iteration,
#: plus seconds per pair of points and iteration up to ``_FULL`` points (exchanges try all);
#: the four first constructions cost seconds per pair of points once. Measured on one core
#: of a shared machine (OPLib, 100 to 1,000 points), so an idle core runs faster.
_ITERATION_S = 3e-4
_POINT_S = 7.5e-6
_PAIR_S = 3e-8
_SETUP_S = 5e-7
#: The pair term grows no further (routes hold about half the points; measured to 400).
_PAIRS_UPTO = 250
#: Share of the time limit the work budget (constructions and iterations) is sized to fill.
_WORK_SHARE = 0.5


@dataclass(frozen=True)
class OPProblem:
    """An orienteering instance over a cost matrix.

    Attributes
    ----------
    cost
        ``(n, n)`` travel costs (any non-negative unit; may be asymmetric).
    score
        ``(n,)`` score of visiting each point (start and end are not scored).
    budget
        The largest allowed route cost (travel plus dwell).
    start, end
        Indices of the first and last point; they may be equal (a loop).
    dwell
        ``(n,)`` cost added when a point is visited; None means none.
    group
        ``(n,)`` group of each point (-1 for none); None means no groups.
    group_min, group_max
        Per-group least and most points to visit.
    rank
        ``(n,)`` order rank (-1 for unordered): ranks must not decrease along the route.
    mandatory
        ``(n,)`` True for points that must be visited.
    opens, closes
        ``(n, k)`` opening intervals per point (time units from departure; NaN pads unused
        ones); a point whose row is all NaN is never open. None: no time windows. A point
        without a window should get ``(-inf, inf)``.
    travel_time
        ``(n, n)`` travel times for the windows; None means ``cost``.
    service_time
        ``(n,)`` time spent at each point; None means ``dwell``.
    wait_cost
        Budget cost of one time unit of waiting for an opening.
    """

    cost: NDArray[np.float64]
    score: NDArray[np.float64]
    budget: float
    start: int
    end: int
    dwell: NDArray[np.float64] | None = None
    group: NDArray[np.int64] | None = None
    group_min: NDArray[np.int64] | None = None
    group_max: NDArray[np.int64] | None = None
    rank: NDArray[np.int64] | None = None
    mandatory: NDArray[np.bool_] | None = None
    opens: NDArray[np.float64] | None = None
    closes: NDArray[np.float64] | None = None
    travel_time: NDArray[np.float64] | None = None
    service_time: NDArray[np.float64] | None = None
    wait_cost: float = 0.0


@dataclass(frozen=True)
class OPSolution:
    """A route and its measures.

    Attributes
    ----------
    route
        Point indices from start to end.
    score
        Total score of the visited points.
    cost
        Route cost (travel plus dwell).
    missing_mandatory
        Mandatory points the route lacks.
    missing_in_group
        Per group, how many points short of its minimum the route is.
    iterations
        Search iterations run.
    timed_out
        True when the time guard, not the work budget, ended the search (the result may then
        differ between runs).
    starts, waits
        With time windows: per route position, when its visit starts and how long it waited
        (time units from departure); empty without windows.
    """

    route: tuple[int, ...]
    score: float
    cost: float
    missing_mandatory: tuple[int, ...] = ()
    missing_in_group: tuple[int, ...] = ()
    iterations: int = 0
    timed_out: bool = False
    starts: tuple[float, ...] = ()
    waits: tuple[float, ...] = ()


@dataclass
class _Search(_TourMoves):
    """Working state of one search over a problem (arrays derived once)."""

    problem: OPProblem
    rng: np.random.Generator
    deadline: float = math.inf
    n: int = field(init=False)
    cost: NDArray[np.float64] = field(init=False)
    dwell: NDArray[np.float64] = field(init=False)
    group: NDArray[np.int64] = field(init=False)
    gmin: NDArray[np.int64] = field(init=False)
    gmax: NDArray[np.int64] = field(init=False)
    rank: NDArray[np.int64] = field(init=False)
    mandatory: NDArray[np.bool_] = field(init=False)
    bonus: float = field(init=False)
    eligible: NDArray[np.bool_] = field(init=False)
    near: NDArray[np.int64] = field(init=False)
    timed_out: bool = field(init=False, default=False)
    tabu: NDArray[np.bool_] = field(init=False)
    timed: bool = field(init=False, default=False)
    ttime: NDArray[np.float64] = field(init=False)
    svc: NDArray[np.float64] = field(init=False)
    w_open: NDArray[np.float64] = field(init=False)
    w_last: NDArray[np.float64] = field(init=False)
    w_list: list[list[tuple[float, float]]] = field(init=False, default_factory=list)
    density: NDArray[np.float64] | None = field(init=False, default=None)
    big: bool = field(init=False, default=False)
    sym: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        p = self.problem
        self.n = n = p.cost.shape[0]
        self.cost = np.asarray(p.cost, dtype=float)
        self.sym = bool(np.array_equal(self.cost, self.cost.T))
        self.dwell = np.zeros(n) if p.dwell is None else np.asarray(p.dwell, dtype=float)
        self.group = np.full(n, -1) if p.group is None else np.asarray(p.group, dtype=np.int64)
        n_groups = int(self.group.max(initial=-1)) + 1
        self.gmin = np.zeros(n_groups, np.int64) if p.group_min is None else np.asarray(p.group_min)
        self.gmax = (
            np.full(n_groups, n, np.int64) if p.group_max is None else np.asarray(p.group_max)
        )
        self.rank = np.full(n, -1) if p.rank is None else np.asarray(p.rank, dtype=np.int64)
        self.mandatory = np.zeros(n, bool) if p.mandatory is None else np.asarray(p.mandatory, bool)
        self.bonus = 1.0 + float(np.abs(p.score).sum())
        #: each point's value before groups count: its score, plus the bonus when mandatory
        self.base_gain = np.asarray(p.score, dtype=float) + self.bonus * self.mandatory
        self.grouped = self.group >= 0  # the points in a group, and their groups
        self.group_of = self.group[self.grouped]
        self.eligible = np.ones(n, dtype=bool)
        self.eligible[[p.start, p.end]] = False
        # points that can never fit: out and back alone exceeds the budget
        alone = self.cost[p.start] + self.dwell + self.cost[:, p.end]
        self.eligible &= alone <= p.budget + _EPS
        self.eligible &= (p.score > 0) | self.mandatory | (self._group_has_min())
        grouped = self.group >= 0
        self.eligible[grouped] &= self.gmax[self.group[grouped]] > 0
        self._windows()
        self.near = self._candidate_lists()
        self.tabu = np.zeros(n, dtype=bool)
        self.big = int(self.eligible.sum()) >= _OROPT_FROM

    def _windows(self) -> None:
        """Set up the time windows (when given) and leave out points never open in reach."""
        p = self.problem
        self.timed = p.opens is not None and p.closes is not None
        self.ttime = self.cost if p.travel_time is None else np.asarray(p.travel_time, float)
        self.svc = self.dwell if p.service_time is None else np.asarray(p.service_time, float)
        if not self.timed:
            self.w_open = np.full((self.n, 1), -np.inf)
            self.w_last = np.full((self.n, 1), np.inf)
            return
        opens = np.atleast_2d(np.asarray(p.opens, dtype=float))
        closes = np.atleast_2d(np.asarray(p.closes, dtype=float))
        last = closes - self.svc[:, None]  # the latest start in each interval
        bad = np.isnan(opens) | np.isnan(last) | (last < opens)
        self.w_open = np.where(bad, np.inf, opens)
        self.w_last = np.where(bad, -np.inf, last)
        for end in (p.start, p.end):  # the ends are never closed
            self.w_open[end], self.w_last[end] = -np.inf, np.inf
        self.w_list = [
            sorted((float(o), float(la)) for o, la in zip(ro, rl, strict=True) if o <= la)
            for ro, rl in zip(self.w_open, self.w_last, strict=True)
        ]
        # alone: straight there from the start, waiting if early, then to the end
        arrive = self.ttime[p.start]
        begin, _ = self._start_at(np.arange(self.n), arrive)
        alone = self.cost[p.start] + self.dwell + self.cost[:, p.end]
        alone = alone + p.wait_cost * np.where(np.isfinite(begin), begin - arrive, 0.0)
        self.eligible &= np.isfinite(begin) & (alone <= p.budget + _EPS)

    def _start_at(
        self, points: NDArray[np.int64], arrive: NDArray[np.float64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Earliest start of a visit arriving at ``arrive`` (inf: too late) and its window's end.

        ``points`` and ``arrive`` broadcast together; the result has their shape.
        """
        op = self.w_open[points]  # (..., k)
        la = self.w_last[points]
        a = np.asarray(arrive, dtype=float)[..., None]
        begin = np.maximum(a, op)
        ok = begin <= la + _EPS
        begin = np.where(ok, begin, np.inf)
        pick = np.argmin(begin, axis=-1)[..., None]
        first = np.take_along_axis(begin, pick, axis=-1)[..., 0]
        latest = np.take_along_axis(np.where(ok, la, -np.inf), pick, axis=-1)[..., 0]
        return first, latest

    def _begin(self, point: int, arrive: float) -> tuple[float, float]:
        """Earliest start of a visit to one point arriving at ``arrive``, and its latest start."""
        for opens, last in self.w_list[point]:
            begin = max(arrive, opens)
            if begin <= last + _EPS:
                return begin, last
        return math.inf, math.inf

    def schedule(
        self, route: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], bool]:
        """Work out the timetable: start and wait per position, maxShift, and feasibility.

        maxShift at a position is how much later its visit could start with every later visit
        still in its window (Vansteenwegen et al. 2009).
        """
        m = route.size
        start = np.zeros(m)
        wait = np.zeros(m)
        latest = np.full(m, np.inf)
        ok = True
        clock = 0.0
        pts = route.tolist()
        legs = self.ttime[route[:-1], route[1:]].tolist()
        svc = self.svc[route].tolist()
        for i in range(1, m):
            arrive = clock + legs[i - 1]
            begin, late = self._begin(pts[i], arrive)
            if not math.isfinite(begin):
                ok = False
                begin, late = arrive, arrive
            start[i], wait[i], latest[i] = begin, begin - arrive, late
            clock = begin + svc[i]
        shift = np.full(m, np.inf)
        after = math.inf
        for i in range(m - 1, 0, -1):
            after = min(latest[i] - start[i], after)
            shift[i] = after
            after += wait[i]
        return start, wait, shift, ok

    def feasible(self, route: NDArray[np.int64]) -> bool:
        """Tell whether every visit of a route fits its window (always, without windows)."""
        return not self.timed or self.schedule(route)[3]

    def repair(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """Drop visits before the first late one (the nearest not mandatory) until it fits."""
        while self.timed and route.size > 2:  # noqa: PLR2004
            late = self._first_late(route)
            if late < 0:
                break
            free = [j for j in range(late, 0, -1) if not self.mandatory[route[j]]]
            route = np.delete(route, free[0] if free else late)
        return route

    def _first_late(self, route: NDArray[np.int64]) -> int:
        """Position of the first visit that misses its window (-1: none)."""
        clock = 0.0
        pts = route.tolist()
        legs = self.ttime[route[:-1], route[1:]].tolist()
        for i in range(1, route.size):
            begin = self._begin(pts[i], clock + legs[i - 1])[0]
            if not math.isfinite(begin):
                return i
            clock = begin + float(self.svc[pts[i]])
        return -1

    def _candidate_lists(self) -> NDArray[np.int64]:
        """List the ``_NEAR_INSERT`` nearest usable points of each point (round-trip cost).

        Rows with fewer usable points are padded with the point itself, which every move
        treats as no neighbour.
        """
        n = self.n
        usable = self.eligible.copy()
        usable[[self.problem.start, self.problem.end]] = True
        k = min(_NEAR_INSERT, int(usable.sum()))
        if k == 0:
            return np.zeros((n, 0), dtype=np.int64)
        near = np.empty((n, k), dtype=np.int64)
        cols = usable.nonzero()[0]
        for lo in range(0, n, _CHUNK):
            hi = min(n, lo + _CHUNK)
            sym = self.cost[lo:hi][:, cols] + self.cost[cols][:, lo:hi].T
            sym[cols[None, :] == np.arange(lo, hi)[:, None]] = np.inf
            part = np.argpartition(sym, k - 1, axis=1)[:, :k]
            dist = np.take_along_axis(sym, part, axis=1)
            order = np.argsort(dist, axis=1, kind="stable")
            part = np.take_along_axis(part, order, axis=1)
            dist = np.take_along_axis(dist, order, axis=1)
            rows = cols[part]
            near[lo:hi] = np.where(np.isfinite(dist), rows, np.arange(lo, hi)[:, None])
        return near

    def _group_has_min(self) -> NDArray[np.bool_]:
        has: NDArray[np.bool_] = np.zeros(self.n, dtype=bool)
        grouped = self.group >= 0
        has[grouped] = self.gmin[self.group[grouped]] > 0
        return has

    def visits_all(self, route: NDArray[np.int64]) -> bool:
        """Tell whether a route visits every point that could be scored."""
        seen = np.zeros(self.n, dtype=bool)
        seen[route] = True
        return bool(seen[self.eligible].all())

    def late(self) -> bool:
        """Tell whether the time guard has passed (remembered, so the caller can warn)."""
        if time.perf_counter() > self.deadline:
            self.timed_out = True
        return self.timed_out

    # ------------------------------------------------------------------ measures

    def route_cost(self, route: NDArray[np.int64]) -> float:
        base = float(self.cost[route[:-1], route[1:]].sum() + self.dwell[route[1:-1]].sum())
        if not self.timed:
            return base
        _, wait, _, ok = self.schedule(route)
        return base + self.problem.wait_cost * float(wait.sum()) if ok else math.inf

    def value(self, route: NDArray[np.int64]) -> float:
        inner = route[1:-1]
        total = float(self.problem.score[inner].sum())
        total += self.bonus * float(self.mandatory[inner].sum())
        if self.gmin.size:
            counts = np.bincount(
                self.group[inner][self.group[inner] >= 0], minlength=self.gmin.size
            )
            total += self.bonus * float(np.minimum(counts, self.gmin).sum())
        return total

    def gains(self, route: NDArray[np.int64]) -> NDArray[np.float64]:
        """Value gained by adding each point to the route, given the groups already filled."""
        gain: NDArray[np.float64] = self.base_gain.copy()
        if self.gmin.size:
            inner = route[1:-1]
            counts = np.bincount(
                self.group[inner][self.group[inner] >= 0], minlength=self.gmin.size
            )
            short = np.zeros(self.n, dtype=bool)
            g = self.group_of
            short[self.grouped] = counts[g] < self.gmin[g]
            gain += self.bonus * short
            full = np.zeros(self.n, dtype=bool)
            full[self.grouped] = counts[g] >= self.gmax[g]
            gain[full] = -np.inf
        return gain

    # ------------------------------------------------------------------ insertion

    def _cheapest(
        self, route: NDArray[np.int64], cand: NDArray[np.int64], *, far: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Each candidate's cheapest insertion: extra cost and the position it follows.

        On long routes only the edges at the candidate's nearest visited points are tried
        (its candidate list); a candidate with none of them visited tries every edge, or,
        when ``far`` is False, is left out (infinite cost).
        """
        if self.timed:
            return self._cheapest_timed(route, cand)
        m = route.size
        width = self.near.shape[1]
        if m - 1 <= 2 * width or cand.size == 0:
            return self._cheapest_all(route, cand)
        tail, head = self._positions(route)
        nb = self.near[cand]
        edge = np.concatenate([tail[nb], head[nb] - 1], axis=1)
        valid = edge >= 0
        e = np.where(valid, edge, 0)
        c = cand[:, None]
        if self.sym:  # the cost to the neighbour serves both of its edges
            here = self.cost[c, nb]
            after = here + self.cost[c, route[e[:, :width] + 1]]
            before = self.cost[route[e[:, width:]], c] + here
            fwd = self.cost[route[:-1], route[1:]]
            extra = np.concatenate([after, before], axis=1) - fwd[e] + self.dwell[c]
        else:
            a, b = route[e], route[e + 1]
            extra = self.cost[a, c] + self.cost[c, b] - self.cost[a, b] + self.dwell[c]
        if (self.rank[cand] >= 0).any():
            upto, onwards = self._rank_bounds(route)
            r = self.rank[c].astype(float)
            valid &= (r < 0) | ((upto[e] <= r) & (r <= onwards[e + 1]))
        extra = np.where(valid, extra, np.inf)
        col = np.argmin(extra, axis=1)
        rows = np.arange(cand.size)
        best, at = extra[rows, col], e[rows, col]
        lost = ~valid.any(axis=1)
        if lost.any() and far:
            best[lost], at[lost] = self._cheapest_all(route, cand[lost])
        return best, at

    def _cheapest_all(
        self, route: NDArray[np.int64], cand: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Each candidate's cheapest insertion over every edge of the route."""
        a, b = route[:-1], route[1:]
        fwd = self.cost[a, b]
        best = np.full(cand.size, np.inf)
        at = np.zeros(cand.size, dtype=np.int64)
        ranked = bool((self.rank[cand] >= 0).any())
        if ranked:
            upto, onwards = self._rank_bounds(route)
        step = max(1, _CHUNK * 64 // max(1, a.size))
        for lo in range(0, cand.size, step):
            c = cand[lo : lo + step]
            if self.sym:  # one gather of the route's rows serves both ends of every edge
                rows = self.cost[route[:, None], c]
                extra = (rows[:-1] + rows[1:] - fwd[:, None]) + self.dwell[c][None, :]
            else:
                extra = (
                    self.cost[a[:, None], c] + self.cost[c[:, None], b].T - fwd[:, None]
                ) + self.dwell[c][None, :]
            if ranked:
                extra = np.where(self._rank_fits(upto[:-1], onwards[1:], c), extra, np.inf)
            pos = np.argmin(extra, axis=0)
            best[lo : lo + step] = extra[pos, np.arange(c.size)]
            at[lo : lo + step] = pos
        return best, at

    def _cheapest_timed(
        self, route: NDArray[np.int64], cand: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Each candidate's cheapest insertion that keeps every visit in its window.

        Inserting ``c`` between ``a`` and ``b`` delays ``b`` by a shift; it fits when the
        shift is at most ``b``'s wait plus maxShift, and later waits absorb it (so the extra
        cost counts ``c``'s own wait less the waits the shift uses up).
        """
        start, wait, shift, _ = self.schedule(route)
        a, b = route[:-1], route[1:]
        leave = start[:-1] + self.svc[a]
        arrive_b = start[1:] - wait[1:]
        absorb = np.cumsum(wait[::-1])[::-1][1:]  # waits from each edge's head on
        room = wait[1:] + shift[1:]
        best = np.full(cand.size, np.inf)
        at = np.zeros(cand.size, dtype=np.int64)
        ranked = bool((self.rank[cand] >= 0).any())
        if ranked:
            upto, onwards = self._rank_bounds(route)
        step = max(1, _CHUNK * 16 // max(1, a.size))
        for lo in range(0, cand.size, step):
            c = cand[lo : lo + step]
            arrive = leave[:, None] + self.ttime[a[:, None], c]
            begin, _ = self._start_at(np.broadcast_to(c, arrive.shape), arrive)
            delay = begin + self.svc[c][None, :] + self.ttime[c[:, None], b].T - arrive_b[:, None]
            fits = np.isfinite(begin) & (delay <= room[:, None] + _EPS)
            wait_c = np.where(np.isfinite(begin), begin - arrive, 0.0)
            used = np.minimum(np.maximum(delay, 0.0), absorb[:, None])
            extra = (
                self.cost[a[:, None], c] + self.cost[c[:, None], b].T - self.cost[a, b][:, None]
                + self.dwell[c][None, :] + self.problem.wait_cost * (wait_c - used)
            )  # fmt: skip
            if ranked:
                fits &= self._rank_fits(upto[:-1], onwards[1:], c)
            extra = np.where(fits, extra, np.inf)
            pos = np.argmin(extra, axis=0)
            best[lo : lo + step] = extra[pos, np.arange(c.size)]
            at[lo : lo + step] = pos
        return best, at

    def insert(  # noqa: C901, PLR0915 - one incremental loop
        self,
        route: NDArray[np.int64],
        rcl: float = 0.0,
        noise: float = 0.0,
        power: float = 1.0,
        *,
        far: bool = True,
    ) -> NDArray[np.int64]:
        """Insert points while any fits, best ``gain / extra cost`` first (or one of the best).

        Every candidate keeps its cheapest insertion (extra cost and the point it would follow).
        Adding point ``k`` between ``a`` and ``b`` removes only the edge ``a-b`` and adds
        ``a-k`` and ``k-b``: candidates whose cheapest place was ``a-b`` are evaluated again over
        the route, all others only against the two new edges. The ratio divides by the extra cost
        to ``power`` (below 1 favours score, above 1 cheap points). ``rcl`` picks at random
        among that fraction of the best candidates; ``noise`` scales each ratio by ``1 ± noise``.
        """
        budget = self.problem.budget
        n = self.n
        open_ = self.eligible & ~self.tabu
        open_[route] = False
        if not open_.any():
            return route
        used = self.route_cost(route)
        best = np.full(n, np.inf)
        after = np.full(n, -1, dtype=np.int64)  # the point a candidate would follow

        def evaluate(points: NDArray[np.int64]) -> None:
            extra, at = self._cheapest(route, points, far=far)
            best[points] = extra
            after[points] = route[at]

        evaluate(open_.nonzero()[0])
        gain = self.gains(route)
        any_ranked = bool((self.rank[open_] >= 0).any())
        grouped = self.gmin.size > 0
        while not self.late():
            ok = open_ & (gain > 0) & (best <= budget - used + _EPS)
            idx = ok.nonzero()[0]
            if idx.size == 0:
                break
            ratio = gain[idx] / np.maximum(best[idx], _EPS) ** power
            if noise > 0:
                ratio = ratio * (1.0 + noise * (2.0 * self.rng.random(ratio.size) - 1.0))
            if rcl > 0 and idx.size > 1:
                top = max(1, int(np.ceil(rcl * idx.size)))
                order = np.argpartition(-ratio, top - 1)[:top] if top < idx.size else None
                choices = idx if order is None else idx[np.sort(order)]
                k = int(self.rng.choice(choices))
            else:
                k = int(idx[int(np.argmax(ratio))])
            a = int(after[k])
            pos = int((route[:-1] == a).nonzero()[0][0])
            b = int(route[pos + 1])
            route = np.concatenate((route[: pos + 1], [k], route[pos + 1 :]))
            used += float(best[k])
            open_[k] = False
            best[k] = np.inf
            if grouped:
                gain = self.gains(route)
            if not open_.any():
                break
            if self.timed:  # every place's timetable may have moved: evaluate again
                used = self.route_cost(route)
                evaluate(open_.nonzero()[0])
                continue
            if any_ranked and self.rank[k] >= 0:
                evaluate(open_.nonzero()[0])  # the order bounds of every place changed
                continue
            stale = (open_ & (after == a)).nonzero()[0]
            if stale.size:
                evaluate(stale)
            rest = open_ & (after != a)
            via_a = self.cost[a] + self.cost[:, k] - self.cost[a, k] + self.dwell
            via_b = self.cost[k] + self.cost[:, b] - self.cost[k, b] + self.dwell
            if any_ranked:
                upto, onwards = self._rank_bounds(route)
                r = self.rank.astype(float)
                fits = (r < 0) | ((upto[pos] <= r) & (r <= onwards[pos + 2]))
                via_a = np.where(fits, via_a, np.inf)
                via_b = np.where(fits, via_b, np.inf)
            take = rest & (via_a <= best)
            best[take], after[take] = via_a[take], a
            take = rest & (via_b <= best)
            best[take], after[take] = via_b[take], k
        return route

    def _rank_bounds(
        self, route: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Highest rank up to each position, lowest rank from each position on."""
        ranks = self.rank[route].astype(float)
        upto = np.maximum.accumulate(np.where(ranks >= 0, ranks, -np.inf))
        onwards = np.minimum.accumulate(np.where(ranks >= 0, ranks, np.inf)[::-1])[::-1]
        return upto, onwards

    def _rank_fits(
        self, low: NDArray[np.float64], high: NDArray[np.float64], cand: NDArray[np.int64]
    ) -> NDArray[np.bool_]:
        """``(places, candidates)`` mask: the candidate's rank lies within each place's bounds."""
        r = self.rank[cand].astype(float)
        fits: NDArray[np.bool_] = (r < 0)[None, :] | (
            (low[:, None] <= r[None, :]) & (r[None, :] <= high[:, None])
        )
        return fits

    # ------------------------------------------------------------------ exchanges

    def replace(self, route: NDArray[np.int64]) -> NDArray[np.int64]:  # noqa: C901
        """Swap a visited point for an unvisited neighbour in place, while that gains value."""
        budget = self.problem.budget
        whole = self.n <= _FULL and not self.timed and not bool((self.rank >= 0).any())
        for _ in range(self.n):
            if route.size < 3 or self.late():  # noqa: PLR2004
                return route
            if whole:  # every pair at once, as a places x points matrix
                swapped = self._replace_all(route)
                if swapped is None:
                    return route
                route = swapped
                continue
            in_route = np.zeros(self.n, dtype=bool)
            in_route[route] = True
            m = route.size
            if self.n <= _FULL:
                cand_all = (self.eligible & ~in_route).nonzero()[0]
                pos = np.repeat(np.arange(1, m - 1), cand_all.size)
                cand = np.tile(cand_all, m - 2)
            else:
                pos = np.repeat(np.arange(1, m - 1), self.close.shape[1])
                cand = self.close[route[1:-1]].ravel()
            ok = self.eligible[cand] & ~in_route[cand] & ~self.mandatory[route[pos]]
            pos, cand = pos[ok], cand[ok]
            if cand.size == 0:
                return route
            prev, cur, nxt = route[pos - 1], route[pos], route[pos + 1]
            # value of u replacing v: its gain once v is gone (same group frees a slot)
            base_gain = self.gains(route)
            gain_u = base_gain[cand]
            same = (self.group[cur] == self.group[cand]) & (self.group[cand] >= 0)
            gain_u = np.where(
                same, self.problem.score[cand] + self.bonus * self.mandatory[cand], gain_u
            )
            loss_v = self._loss(route, pos)
            delta_cost = (
                self.cost[prev, cand] + self.cost[cand, nxt]
                - (self.cost[prev, cur] + self.cost[cur, nxt])
                + self.dwell[cand] - self.dwell[cur]
            )  # fmt: skip
            if (self.rank[cand] >= 0).any():
                upto, onwards = self._rank_bounds(route)
                r = self.rank[cand].astype(float)
                fits = (r < 0) | ((upto[pos - 1] <= r) & (r <= onwards[pos + 1]))
                delta_cost = np.where(fits, delta_cost, np.inf)
            net = gain_u - loss_v
            good = (self.route_cost(route) + delta_cost <= budget + _EPS) & (
                (net > _TINY) | ((np.abs(net) <= _TINY) & (delta_cost < -_TINY))
            )
            if not good.any():
                return route
            score = np.where(good, net - 1e-6 * delta_cost, -np.inf)
            if self.timed:
                new = self._timed_swap(route, pos, cand, score)
                if new is None:
                    return route
                route = new
                continue
            pick = int(np.argmax(score))
            route = route.copy()
            route[pos[pick]] = cand[pick]
        return route

    def _replace_all(self, route: NDArray[np.int64]) -> NDArray[np.int64] | None:
        """Make the best swap of any visited point for any unvisited one (None: no gain).

        The same choice as ``replace`` makes over the flat list of pairs (first best in
        place-major order), worked out on a ``(places, points)`` matrix: with symmetric costs
        one gather of the route's rows serves both new edges.
        """
        in_route = np.zeros(self.n, dtype=bool)
        in_route[route] = True
        cand = (self.eligible & ~in_route).nonzero()[0]
        if cand.size == 0:
            return None
        cur = route[1:-1]
        if self.sym:
            rows = self.cost[route[:, None], cand]
            left, right = rows[:-2], rows[2:]
        else:
            left = self.cost[route[:-2][:, None], cand]
            right = self.cost[cand[:, None], route[2:]].T
        out = self.cost[route[:-2], cur] + self.cost[cur, route[2:]]
        delta_cost = (
            left + right - out[:, None] + self.dwell[cand][None, :] - self.dwell[cur][:, None]
        )
        gain_u = self.gains(route)[cand][None, :]
        if self.gmin.size:  # the same group: the leaving point frees a place
            same = (self.group[cur][:, None] == self.group[cand][None, :]) & (
                self.group[cand] >= 0
            )[None, :]
            gain_u = np.where(
                same,
                (self.problem.score[cand] + self.bonus * self.mandatory[cand])[None, :],
                gain_u,
            )
        loss_v = self._loss(route, np.arange(1, route.size - 1))
        net = gain_u - loss_v[:, None]
        good = (
            (self.route_cost(route) + delta_cost <= self.problem.budget + _EPS)
            & ((net > _TINY) | ((np.abs(net) <= _TINY) & (delta_cost < -_TINY)))
            & ~self.mandatory[cur][:, None]
        )
        if not good.any():
            return None
        score = np.where(good, net - 1e-6 * delta_cost, -np.inf)
        place, pick = divmod(int(np.argmax(score)), cand.size)
        route = route.copy()
        route[place + 1] = cand[pick]
        return route

    def _timed_swap(
        self,
        route: NDArray[np.int64],
        pos: NDArray[np.int64],
        cand: NDArray[np.int64],
        score: NDArray[np.float64],
    ) -> NDArray[np.int64] | None:
        """Find the best swap (of a few) whose timetable fits the windows and the budget."""
        order = np.argsort(-score, kind="stable")[:_BATCH]
        for pick in order.tolist():
            if not np.isfinite(score[pick]):
                break
            new = route.copy()
            new[pos[pick]] = cand[pick]
            if self.route_cost(new) <= self.problem.budget + _EPS:
                return new
        return None

    def _loss(self, route: NDArray[np.int64], pos: NDArray[np.int64]) -> NDArray[np.float64]:
        """Value lost by removing the point at each position."""
        pts = route[pos]
        loss: NDArray[np.float64] = self.base_gain[pts]
        if self.gmin.size:
            inner = route[1:-1]
            counts = np.bincount(
                self.group[inner][self.group[inner] >= 0], minlength=self.gmin.size
            )
            grouped = self.group[pts] >= 0
            g = self.group[pts][grouped]
            loss[grouped] += self.bonus * (counts[g] <= self.gmin[g])
        return loss

    def perturb(self, route: NDArray[np.int64], strength: float) -> NDArray[np.int64]:
        """Remove a random run of points, or scattered random points (at most ``_SHAKE``)."""
        inner = np.arange(1, route.size - 1)
        removable = inner[~self.mandatory[route[inner]]]
        if removable.size == 0:
            return route
        k = max(1, round(strength * min(removable.size, _SHAKE) * self.rng.random()))
        mode = self.rng.random()
        if mode < _WORST:  # the points that cost the most for their value, with noise
            pts = route[removable]
            saving = (
                self.cost[route[removable - 1], pts] + self.cost[pts, route[removable + 1]]
                - self.cost[route[removable - 1], route[removable + 1]] + self.dwell[pts]
            )  # fmt: skip
            worth = self._loss(route, removable) / np.maximum(saving, _EPS)
            worth = worth * (0.5 + self.rng.random(worth.size))
            drop = removable[np.argsort(worth, kind="stable")[:k]]
        elif mode < (1.0 + _WORST) / 2:
            first = int(self.rng.integers(0, removable.size))
            drop = removable[first : first + k]
        else:
            drop = self.rng.choice(removable, size=min(k, removable.size), replace=False)
        self.tabu[:] = False
        if self.rng.random() < _TABU:
            self.tabu[route[drop]] = True  # first refill without them: the search moves on
        return np.delete(route, drop)

    def grow(self, route: NDArray[np.int64], strength: float) -> NDArray[np.int64]:
        """Force in an unvisited point and unvisited points around it, then drop the worst to fit.

        The points go in at their cheapest places whatever the budget; after 2-opt, the points
        with the least value per cost they add leave until the route fits again. This crosses
        the budget's barrier towards other regions, which refills alone never do.
        """
        open_ = self.eligible & (self.gains(route) > 0)
        open_[route] = False
        pool = open_.nonzero()[0]
        if pool.size == 0:
            return route
        size = 1 + round(strength * route.size * self.rng.random())
        if self.density is None:  # score per cost around each point, worked out once
            near = self.close
            around = self.problem.score[near].sum(axis=1) + self.problem.score
            spread = self.cost[np.arange(self.n)[:, None], near].sum(axis=1)
            self.density = np.maximum(around, 0.0) / np.maximum(spread, _EPS)
        weight = self.density[pool] + _EPS
        add = [int(self.rng.choice(pool, p=weight / weight.sum()))]
        open_[add[0]] = False
        for point in add:  # breadth first over the candidate lists, unvisited points only
            if len(add) >= size:
                break
            near = self.near[point, :_NEAR]
            fresh = near[open_[near]][: size - len(add)]
            open_[fresh] = False
            add.extend(int(v) for v in fresh)
        inner = route[1:-1]
        room = self.gmax - np.bincount(
            self.group[inner][self.group[inner] >= 0], minlength=self.gmax.size
        )  # points each group may still take
        for point in add:
            g = int(self.group[point])
            if g >= 0 and room[g] <= 0:
                continue
            extra, at = self._cheapest(route, np.array([point], dtype=np.int64))
            if np.isfinite(extra[0]):
                cut = int(at[0]) + 1
                route = np.concatenate((route[:cut], [point], route[cut:]))
                if g >= 0:
                    room[g] -= 1
        return self.squeeze(self.two_opt(route))

    def squeeze(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """Remove the point with the least value per saved cost until the route fits the budget."""
        budget = self.problem.budget
        if not self.timed and not self.gmin.size:
            route = self._squeeze_linked(route)
        while route.size > 2 and self.route_cost(route) > budget + _EPS:  # noqa: PLR2004
            inner = np.arange(1, route.size - 1)
            removable = inner[~self.mandatory[route[inner]]]
            if removable.size == 0:
                break
            pts = route[removable]
            saving = (
                self.cost[route[removable - 1], pts] + self.cost[pts, route[removable + 1]]
                - self.cost[route[removable - 1], route[removable + 1]] + self.dwell[pts]
            )  # fmt: skip
            worth = self._loss(route, removable) / np.maximum(saving, _EPS)
            route = np.delete(route, removable[int(np.argmin(worth))])
        return route

    def _squeeze_linked(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """``squeeze`` without groups or windows: the same removals, each in constant work.

        The route is a linked list over its positions; a removal changes the saved cost of
        its two neighbours only, and the route's cost goes down by the removed saving (worked
        out again in full whenever it comes near the budget, so rounding cannot decide).
        """
        budget = self.problem.budget + _EPS
        total = self.route_cost(route)
        if route.size <= 2 or total <= budget:  # noqa: PLR2004
            return route
        m = route.size
        cost, dwell = self.cost, self.dwell
        prv, nxt = np.arange(-1, m - 1), np.arange(1, m + 1)
        saving = np.zeros(m)
        inner = np.arange(1, m - 1)
        pts = route[inner]
        saving[inner] = (
            cost[route[inner - 1], pts] + cost[pts, route[inner + 1]]
            - cost[route[inner - 1], route[inner + 1]] + dwell[pts]
        )  # fmt: skip
        loss = np.zeros(m)
        loss[inner] = self._loss(route, inner)
        worth = np.full(m, np.inf)
        free = inner[~self.mandatory[pts]]
        worth[free] = loss[free] / np.maximum(saving[free], _EPS)
        alive = np.ones(m, dtype=bool)
        near_edge = 1e-6 * max(1.0, abs(budget))
        while total > budget:
            j = int(np.argmin(worth))
            if not math.isfinite(worth[j]):
                break
            total -= saving[j]
            alive[j], worth[j] = False, np.inf
            p, q = int(prv[j]), int(nxt[j])
            nxt[p], prv[q] = q, p
            for k in (p, q):
                if 0 < k < m - 1 and math.isfinite(worth[k]):
                    a, v, b = route[prv[k]], route[k], route[nxt[k]]
                    saving[k] = cost[a, v] + cost[v, b] - cost[a, b] + dwell[v]
                    worth[k] = loss[k] / max(saving[k], _EPS)
            if abs(total - budget) <= near_edge:
                total = self.route_cost(route[alive])
        return route[alive]

    def polish(self, route: NDArray[np.int64], noise: float = 0.0) -> NDArray[np.int64]:
        route = self.repair(route)
        power = 1.0 if noise == 0 else float(self.rng.choice(_POWERS))
        far = noise == 0  # refills after a perturbation look only near the route
        route = self.insert(self.two_opt(route), noise=noise, power=power, far=far)
        fresh = bool(self.tabu.any())  # points barred from the first refill may now fit
        self.tabu[:] = False
        for again in (False, True):  # insertion again only where the moves changed it
            # first swaps and 2-opt; then 2-opt with Or-opt, whose saved length buys points
            if again:
                changed = self.shorten(route) if self.big else self.two_opt(route)
            else:
                changed = self.two_opt(self.replace(route))
            if not fresh and np.array_equal(changed, route):
                return route
            route, fresh = self.insert(changed, far=far), False
        return route

    def better(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] > b[0] + _TINY or (abs(a[0] - b[0]) <= _TINY and a[1] < b[1] - _TINY)


def solve(  # noqa: C901, PLR0912 - the search loop reads best as one piece
    problem: OPProblem,
    *,
    seed: int = 0,
    time_limit_s: float = 1.0,
    max_iterations: int | None = None,
    initial: tuple[int, ...] | None = None,
    work_limit_s: float | None = None,
) -> OPSolution:
    """
    Solve an orienteering problem with iterated local search.

    The result depends only on ``problem``, ``seed`` and the number of iterations run. The
    search stops after ``max_iterations`` (default: ``default_iterations``, from the instance
    size and the time limit by a fixed cost model, which normally ends well inside the limit)
    or at ``time_limit_s``, whichever comes first.

    Parameters
    ----------
    problem
        The instance.
    seed
        Random seed.
    time_limit_s
        Wall-clock guard in seconds.
    max_iterations
        Iterations of perturbation + local search; None picks one from the instance size.
    initial
        A starting route (start ... end) to improve, instead of a greedy construction.
    work_limit_s
        Size the default work budget for this many seconds instead of ``time_limit_s`` (a
        benchmark on a shared machine can then give the guard room without changing the
        result); ignored when ``max_iterations`` is given.

    Returns
    -------
    OPSolution
        The best route found.
    """
    started = time.perf_counter()
    search = _Search(problem, np.random.default_rng(seed), deadline=started + time_limit_s)
    n_free = int(search.eligible.sum())
    if max_iterations is None:
        work_s = time_limit_s if work_limit_s is None else work_limit_s
        max_iterations = default_iterations(n_free, work_s)
    if initial is not None:
        base = np.asarray(initial, dtype=np.int64)
    else:
        base = np.array([problem.start, problem.end], dtype=np.int64)
    best = search.polish(search.insert(base, rcl=0.0))
    for restart in range(3):  # a few randomised constructions; keep the best
        if initial is not None or search.late():
            break
        trial = search.polish(search.insert(base, rcl=0.3 + 0.1 * restart))
        if search.better(_key(search, trial), _key(search, best)):
            best = trial
    current = best
    best_key = cur_key = _key(search, best)
    stale = 0
    done = 0
    for _ in range(max_iterations):
        if search.late() or search.visits_all(best):
            break  # out of time, or every point that could be scored is visited
        strength = 0.15 + 0.35 * min(1.0, stale / 60)
        if not search.timed and n_free > _GROW_FROM and search.rng.random() < _GROW:
            shaken = search.grow(current, strength)
        else:
            shaken = search.perturb(current, strength)
        trial = search.polish(shaken, noise=0.3)
        done += 1
        key = _key(search, trial)
        if search.better(key, cur_key) or search.rng.random() < 0.05:  # noqa: PLR2004
            current, cur_key = trial, key
        if search.better(key, best_key):
            best, best_key, stale = trial, key, 0
        else:
            stale += 1
            if stale % _RESTART == 0 and initial is None:  # long stuck: a fresh construction
                current = search.polish(search.insert(base, rcl=0.4))
                cur_key = _key(search, current)
                if search.better(cur_key, best_key):
                    best, best_key, stale = current, cur_key, 0
            elif stale % 40 == 0:
                current, cur_key = best, best_key
    if search.timed_out:
        log.warning(
            "orienteering search stopped by its %.1f s time guard after %d of %d iterations "
            "(%d points): the result may differ between runs",
            time_limit_s,
            done,
            max_iterations,
            n_free,
        )
    return _solution(search, best, done)


def default_iterations(n_free: int, time_limit_s: float = 1.0) -> int:
    """
    Give the work budget: iterations of perturbation and local search for ``n_free`` points.

    The budget follows a fixed cost model, not the clock: the first constructions cost about
    0.5 us per pair of points, and an iteration about 0.3 ms, plus 7.5 us per point, plus
    0.03 us per pair of points up to 250 points (while exchanges try every point, up to 400
    points), as measured on one core of a shared machine; the budget is the number of
    iterations that, after the constructions, fill ``_WORK_SHARE`` (half) of the time limit,
    so a run ends inside its limit with room for a loaded machine, and its result does not
    depend on the load.

    Parameters
    ----------
    n_free
        Points that could be visited.
    time_limit_s
        The caller's time limit in seconds (the guard); more time buys more work.

    Returns
    -------
    int
        Iterations, between 20 and 2,000: 551 for 64 points at 1 s, 256 for 1,000 points
        at 5 s.
    """
    n = max(1, n_free)
    pairs = min(n, _PAIRS_UPTO) ** 2 if n <= _FULL else 0
    per_iteration = _ITERATION_S + _POINT_S * n + _PAIR_S * pairs
    work_s = _WORK_SHARE * max(time_limit_s, 0.0) - _SETUP_S * n * n
    return int(max(20, min(2000, work_s / per_iteration)))


def _key(search: _Search, route: NDArray[np.int64]) -> tuple[float, float]:
    """Objective as ``(value, cost)``: more value first, then less cost."""
    return search.value(route), search.route_cost(route)


def _solution(search: _Search, route: NDArray[np.int64], iterations: int) -> OPSolution:
    """Package a route with its measures."""
    inner = route[1:-1]
    starts: tuple[float, ...] = ()
    waits: tuple[float, ...] = ()
    if search.timed:
        start, wait, _, _ = search.schedule(route)
        starts = tuple(float(x) for x in start)
        waits = tuple(float(x) for x in wait)
    missing = np.flatnonzero(search.mandatory & ~np.isin(np.arange(search.n), inner))
    short: tuple[int, ...] = ()
    if search.gmin.size:
        counts = np.bincount(
            search.group[inner][search.group[inner] >= 0], minlength=search.gmin.size
        )
        short = tuple(int(x) for x in np.maximum(search.gmin - counts, 0))
    return OPSolution(
        route=tuple(int(x) for x in route),
        score=float(np.asarray(search.problem.score)[inner].sum()),
        cost=search.route_cost(route),
        missing_mandatory=tuple(int(x) for x in missing),
        missing_in_group=short,
        iterations=iterations,
        timed_out=search.timed_out,
        starts=starts,
        waits=waits,
    )
