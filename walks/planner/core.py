"""The orienteering search: pick and order points to collect the most score within a budget.

Pure numpy, no I/O. Both the walk planner and ``solve_orienteering`` run this same search.

Algorithm (iterated local search, deterministic for a seed and an iteration count):

1. *Construction*: randomised greedy insertion. Every unvisited point's cheapest feasible
   insertion (extra cost, including its dwell) is evaluated for all positions at once in numpy;
   one of the best ``gain / extra cost`` candidates is inserted, until nothing more fits.
2. *Local search*: exact (asymmetric) 2-opt over all segment reversals at once, then best-ratio
   insertion again, so the saved length is spent on more points.
3. *Perturbation*: remove a random run of consecutive points, or random points, then repeat the
   local search. A worse result is accepted now and then (a small random walk), and the search
   returns to the best route after a stretch without progress, with stronger shakes.

Constraints: point groups with a minimum and a maximum count (categories of stops), an order of
groups (ranks must not decrease along the route), and mandatory points. Minimum counts and
mandatory points are folded into the objective as a lexicographic bonus, so the search satisfies
them first whenever the budget allows, and the caller can tell when it cannot.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

log = logging.getLogger(__name__)

_EPS = 1e-9
#: Differences in value or cost smaller than this are ties.
_TINY = 1e-9


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
    """

    route: tuple[int, ...]
    score: float
    cost: float
    missing_mandatory: tuple[int, ...] = ()
    missing_in_group: tuple[int, ...] = ()
    iterations: int = 0


@dataclass
class _Search:
    """Working state of one search over a problem (arrays derived once)."""

    problem: OPProblem
    rng: np.random.Generator
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

    def __post_init__(self) -> None:
        p = self.problem
        self.n = n = p.cost.shape[0]
        self.cost = np.asarray(p.cost, dtype=float)
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
        self.eligible = np.ones(n, dtype=bool)
        self.eligible[[p.start, p.end]] = False
        # points that can never fit: out and back alone exceeds the budget
        alone = self.cost[p.start] + self.dwell + self.cost[:, p.end]
        self.eligible &= alone <= p.budget + _EPS
        self.eligible &= (p.score > 0) | self.mandatory | (self._group_has_min())
        grouped = self.group >= 0
        self.eligible[grouped] &= self.gmax[self.group[grouped]] > 0

    def _group_has_min(self) -> NDArray[np.bool_]:
        has: NDArray[np.bool_] = np.zeros(self.n, dtype=bool)
        grouped = self.group >= 0
        has[grouped] = self.gmin[self.group[grouped]] > 0
        return has

    # ------------------------------------------------------------------ measures

    def route_cost(self, route: NDArray[np.int64]) -> float:
        return float(self.cost[route[:-1], route[1:]].sum() + self.dwell[route[1:-1]].sum())

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
        gain: NDArray[np.float64] = np.asarray(self.problem.score, dtype=float).copy()
        gain += self.bonus * self.mandatory
        if self.gmin.size:
            inner = route[1:-1]
            counts = np.bincount(
                self.group[inner][self.group[inner] >= 0], minlength=self.gmin.size
            )
            grouped = self.group >= 0
            short = np.zeros(self.n, dtype=bool)
            short[grouped] = counts[self.group[grouped]] < self.gmin[self.group[grouped]]
            gain += self.bonus * short
            full = np.zeros(self.n, dtype=bool)
            full[grouped] = counts[self.group[grouped]] >= self.gmax[self.group[grouped]]
            gain[full] = -np.inf
        return gain

    def order_ok(self, route: NDArray[np.int64]) -> bool:
        ranks = self.rank[route]
        ranks = ranks[ranks >= 0]
        return bool(np.all(ranks[1:] >= ranks[:-1]))

    # ------------------------------------------------------------------ moves

    def insert(
        self, route: NDArray[np.int64], rcl: float = 0.0, noise: float = 0.0
    ) -> NDArray[np.int64]:
        """Insert points while any fits, best ``gain / extra cost`` first (or one of the best).

        ``rcl`` picks at random among that fraction of the best candidates; ``noise`` scales
        each ratio by a random factor ``1 ± noise`` (both diversify the search).
        """
        budget = self.problem.budget
        in_route = np.zeros(self.n, dtype=bool)
        in_route[route] = True
        used = self.route_cost(route)
        while True:
            cand = np.flatnonzero(self.eligible & ~in_route)
            if cand.size == 0:
                break
            gain = self.gains(route)[cand]
            keep = gain > 0
            cand, gain = cand[keep], gain[keep]
            if cand.size == 0:
                break
            a, b = route[:-1], route[1:]
            extra = (
                self.cost[a][:, cand] + self.cost[cand][:, b].T - self.cost[a, b][:, None]
            ) + self.dwell[cand][None, :]
            if (self.rank[cand] >= 0).any():
                upto, onwards = self._rank_bounds(route)
                extra = np.where(self._rank_fits(upto[:-1], onwards[1:], cand), extra, np.inf)
            pos = np.argmin(extra, axis=0)
            best = extra[pos, np.arange(cand.size)]
            fits = used + best <= budget + _EPS
            if not fits.any():
                break
            ratio = np.where(fits, gain / np.maximum(best, _EPS), -np.inf)
            if noise > 0:
                ratio *= 1.0 + noise * (2.0 * self.rng.random(ratio.size) - 1.0)
            if rcl > 0 and fits.sum() > 1:
                order = np.argsort(-ratio)[: max(1, int(np.ceil(rcl * fits.sum())))]
                pick = int(self.rng.choice(order))
            else:
                pick = int(np.argmax(ratio))
            k, at = int(cand[pick]), int(pos[pick])
            route = np.concatenate([route[: at + 1], [k], route[at + 1 :]])
            in_route[k] = True
            used += float(best[pick])
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

    def two_opt(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """Reverse segments while that shortens the route (exact for asymmetric costs)."""
        ordered = bool((self.rank[route] >= 0).sum() > 1)
        for _ in range(10 * self.n):
            m = route.size
            if m < 4:  # noqa: PLR2004
                return route
            fwd = self.cost[route[:-1], route[1:]]
            bwd = self.cost[route[1:], route[:-1]]
            cf = np.concatenate([[0.0], np.cumsum(fwd)])
            cb = np.concatenate([[0.0], np.cumsum(bwd)])
            i = np.arange(m - 1)[:, None]  # edge (i, i+1) is cut
            j = np.arange(m - 1)[None, :]  # edge (j, j+1) is cut; the segment i+1..j turns round
            valid = j > i + 1
            ii, jj = np.broadcast_arrays(i, j)
            ii, jj = ii[valid], jj[valid]
            inner = (cb[jj] - cb[ii + 1]) - (cf[jj] - cf[ii + 1])
            delta = (
                self.cost[route[ii], route[jj]] + self.cost[route[ii + 1], route[jj + 1]]
                - fwd[ii] - fwd[jj] + inner
            )  # fmt: skip
            improving = np.flatnonzero(delta < -_TINY)
            if improving.size == 0:
                return route
            moved = False
            for idx in improving[np.argsort(delta[improving])][: 1 if not ordered else 20]:
                a, b = int(ii[idx]), int(jj[idx])
                new = np.concatenate([route[: a + 1], route[a + 1 : b + 1][::-1], route[b + 1 :]])
                if not ordered or self.order_ok(new):
                    route, moved = new, True
                    break
            if not moved:
                return route
        return route

    def replace(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """Swap a visited point for an unvisited one in place, while that gains value."""
        budget = self.problem.budget
        for _ in range(self.n):
            if route.size < 3:  # noqa: PLR2004
                return route
            in_route = np.zeros(self.n, dtype=bool)
            in_route[route] = True
            cand = np.flatnonzero(self.eligible & ~in_route)
            pos = np.arange(1, route.size - 1)
            pos = pos[~self.mandatory[route[pos]]]
            if cand.size == 0 or pos.size == 0:
                return route
            prev, cur, nxt = route[pos - 1], route[pos], route[pos + 1]
            # value of u replacing v: its gain once v is gone (same group frees a slot)
            base_gain = self.gains(route)
            gain_u = np.broadcast_to(base_gain[cand][None, :], (pos.size, cand.size)).copy()
            same = self.group[cur][:, None] == self.group[cand][None, :]
            same &= self.group[cand][None, :] >= 0
            gain_u[same] = self.problem.score[cand][None, :].repeat(pos.size, 0)[same] + (
                self.bonus * np.broadcast_to(self.mandatory[cand], same.shape)[same]
            )
            loss_v = self._loss(route, pos)
            delta_cost = (
                self.cost[prev][:, cand] + self.cost[cand][:, nxt].T
                - (self.cost[prev, cur] + self.cost[cur, nxt])[:, None]
                + self.dwell[cand][None, :] - self.dwell[cur][:, None]
            )  # fmt: skip
            if (self.rank[cand] >= 0).any():
                upto, onwards = self._rank_bounds(route)
                fits = self._rank_fits(upto[pos - 1], onwards[pos + 1], cand)
                delta_cost = np.where(fits, delta_cost, np.inf)
            net = gain_u - loss_v[:, None]
            ok = (self.route_cost(route) + delta_cost <= budget + _EPS) & (
                (net > _TINY) | ((np.abs(net) <= _TINY) & (delta_cost < -_TINY))
            )
            if not ok.any():
                return route
            score = np.where(ok, net - 1e-6 * delta_cost, -np.inf)
            flat = int(np.argmax(score))
            a, b = divmod(flat, cand.size)
            route = route.copy()
            route[pos[a]] = cand[b]
        return route

    def _loss(self, route: NDArray[np.int64], pos: NDArray[np.int64]) -> NDArray[np.float64]:
        """Value lost by removing the point at each position."""
        pts = route[pos]
        loss: NDArray[np.float64] = np.asarray(self.problem.score, dtype=float)[pts]
        loss = loss + self.bonus * self.mandatory[pts]
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
        """Remove a random run of points, or scattered random points."""
        inner = np.arange(1, route.size - 1)
        removable = inner[~self.mandatory[route[inner]]]
        if removable.size == 0:
            return route
        k = max(1, round(strength * removable.size * self.rng.random()))
        if self.rng.random() < 0.5:  # noqa: PLR2004
            first = int(self.rng.integers(0, removable.size))
            drop = removable[first : first + k]
        else:
            drop = self.rng.choice(removable, size=min(k, removable.size), replace=False)
        return np.delete(route, drop)

    def polish(self, route: NDArray[np.int64], noise: float = 0.0) -> NDArray[np.int64]:
        route = self.insert(self.two_opt(route), noise=noise)
        route = self.insert(self.two_opt(self.replace(route)))
        return self.insert(self.two_opt(route))

    def better(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        return a[0] > b[0] + _TINY or (abs(a[0] - b[0]) <= _TINY and a[1] < b[1] - _TINY)


def solve(  # noqa: C901, PLR0912 - the search loop reads best as one piece
    problem: OPProblem,
    *,
    seed: int = 0,
    time_limit_s: float = 1.0,
    max_iterations: int | None = None,
    initial: tuple[int, ...] | None = None,
) -> OPSolution:
    """
    Solve an orienteering problem with iterated local search.

    The result depends only on ``problem``, ``seed`` and the number of iterations run. The
    search stops after ``max_iterations`` (default: a size-based count that normally ends well
    inside the time limit) or at ``time_limit_s``, whichever comes first.

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

    Returns
    -------
    OPSolution
        The best route found.
    """
    started = time.perf_counter()
    search = _Search(problem, np.random.default_rng(seed))
    n_free = int(search.eligible.sum())
    if max_iterations is None:
        max_iterations = int(min(2000, 200 + 20 * n_free))
    if initial is not None:
        base = np.asarray(initial, dtype=np.int64)
    else:
        base = np.array([problem.start, problem.end], dtype=np.int64)
        # mandatory points first, at their cheapest places, whatever their ratio
    best = search.polish(search.insert(base, rcl=0.0))
    for restart in range(3):  # a few randomised constructions; keep the best
        if initial is not None:
            break
        trial = search.polish(search.insert(base, rcl=0.3 + 0.1 * restart))
        if search.better(_key(search, trial), _key(search, best)):
            best = trial
    current = best
    best_key = cur_key = _key(search, best)
    stale = 0
    iterations = 0
    for iterations in range(1, max_iterations + 1):
        if time.perf_counter() - started > time_limit_s:
            log.warning(
                "orienteering search stopped by its %.1f s time guard after %d of %d iterations "
                "(%d points): the result may differ between runs",
                time_limit_s,
                iterations - 1,
                max_iterations,
                n_free,
            )
            break
        if np.isin(np.flatnonzero(search.eligible), best).all():
            break  # every point that could be scored is visited: nothing left to gain
        strength = 0.15 + 0.35 * min(1.0, stale / 60)
        trial = search.polish(search.perturb(current, strength), noise=0.3)
        key = _key(search, trial)
        if search.better(key, cur_key) or search.rng.random() < 0.05:  # noqa: PLR2004
            current, cur_key = trial, key
        if search.better(key, best_key):
            best, best_key, stale = trial, key, 0
        else:
            stale += 1
            if stale % 40 == 0:
                current, cur_key = best, best_key
    return _solution(search, best, iterations)


def _key(search: _Search, route: NDArray[np.int64]) -> tuple[float, float]:
    """Objective as ``(value, cost)``: more value first, then less cost."""
    return search.value(route), search.route_cost(route)


def _solution(search: _Search, route: NDArray[np.int64], iterations: int) -> OPSolution:
    """Package a route with its measures."""
    inner = route[1:-1]
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
    )
