"""Tour improvement of a chosen set of points: 2-opt and Or-opt over candidate lists.

Part of the orienteering search (``walks.planner.core``, whose docstring states the algorithm
and its sources): the moves change the order of the visited points, never which points are
visited. They are a mixin of the search's working state, which provides the cost matrix, the
candidate lists, the order ranks, the time guard and the route's cost.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

#: Differences in value or cost smaller than this are ties.
_TINY = 1e-9
#: Length of each point's candidate list (nearest points by round-trip cost).
_NEAR = 10
#: Candidate list length for Or-opt (the run's new neighbours).
_NEAR_OR = 5
#: Improving tour moves queued per evaluation.
_BATCH = 64


class _TourMoves(ABC):
    """2-opt and Or-opt on a route (``start ... end``) of the search's points."""

    n: int
    cost: NDArray[np.float64]
    near: NDArray[np.int64]
    rank: NDArray[np.int64]
    sym: bool
    timed: bool

    @abstractmethod
    def late(self) -> bool:
        """Tell whether the time guard has passed."""

    @abstractmethod
    def route_cost(self, route: NDArray[np.int64]) -> float:
        """Give a route's cost (travel, dwell and waits; inf when a window is missed)."""

    @property
    def close(self) -> NDArray[np.int64]:
        """The ``_NEAR`` nearest points of each point (for tour moves and exchanges)."""
        return self.near[:, :_NEAR]

    def order_ok(self, route: NDArray[np.int64]) -> bool:
        ranks = self.rank[route]
        ranks = ranks[ranks >= 0]
        return bool(np.all(ranks[1:] >= ranks[:-1]))

    def _positions(self, route: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """Position of each point as the tail of an edge, and as its head (-1: not there)."""
        tail = np.full(self.n, -1, dtype=np.int64)
        tail[route[:-1]] = np.arange(route.size - 1)
        head = np.full(self.n, -1, dtype=np.int64)
        head[route[1:]] = np.arange(1, route.size)
        return tail, head

    def _edge_pairs(self, route: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        """List pairs ``p < q`` of edges to cut for 2-opt.

        All of them on short routes, else those where a new edge joins a point to one of its
        candidate neighbours.
        """
        m = route.size
        if (m - 1) * (m - 2) <= 4 * _NEAR * m:
            return _all_pairs(m)
        tail, head = self._positions(route)
        i = np.arange(m - 1)
        # new edge route[p] - route[q]: route[q] is a neighbour of route[p] (either way round)
        ja = tail[self.close[route[:-1]]]
        # new edge route[p+1] - route[q+1]
        jb = head[self.close[route[1:]]] - 1
        ii = np.concatenate([np.repeat(i, ja.shape[1]), np.repeat(i, jb.shape[1])])
        jj = np.concatenate([ja.ravel(), jb.ravel()])
        ok = jj >= 0
        ii, jj = ii[ok], jj[ok]
        p, q = np.minimum(ii, jj), np.maximum(ii, jj)
        keep = q > p + 1
        return p[keep], q[keep]

    def _sums(
        self, route: NDArray[np.int64]
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Edge costs along the route, and running sums of them forwards and backwards."""
        fwd = self.cost[route[:-1], route[1:]]
        bwd = self.cost[route[1:], route[:-1]]
        return fwd, np.concatenate([[0.0], np.cumsum(fwd)]), np.concatenate([[0.0], np.cumsum(bwd)])

    def two_opt(self, route: NDArray[np.int64]) -> NDArray[np.int64]:  # noqa: C901, PLR0912
        """Reverse segments while that shortens the route (exact for asymmetric costs).

        One evaluation of the candidate moves queues every improving one, best first; each is
        checked again on the route as it is by then (its edges still there, still improving)
        before it is applied, so one pass applies many independent moves.
        """
        ordered = bool((self.rank[route] >= 0).sum() > 1)
        # after the first pass only pairs with an end on a changed stretch are evaluated again
        # (with symmetric costs the others are as they were: not improving)
        exact = self.sym and not ordered and not self.timed
        dirty: NDArray[np.bool_] | None = None
        for _ in range(10 * self.n):
            m = route.size
            if m < 4 or self.late():  # noqa: PLR2004
                return route
            fwd, cf, cb = self._sums(route)
            ii, jj = self._edge_pairs(route)  # edges (i, i+1) and (j, j+1) are cut
            if dirty is not None:  # only pairs with a changed edge can have turned improving
                rd = dirty[route]
                touched = rd[ii] | rd[ii + 1] | rd[jj] | rd[jj + 1]
                ii, jj = ii[touched], jj[touched]
            delta = (
                self.cost[route[ii], route[jj]] + self.cost[route[ii + 1], route[jj + 1]]
                - fwd[ii] - fwd[jj]
            )  # fmt: skip
            if not self.sym:  # the reversed stretch's cost changes too
                delta += (cb[jj] - cb[ii + 1]) - (cf[jj] - cf[ii + 1])
            improving = (delta < -_TINY).nonzero()[0]
            if improving.size == 0:
                return route
            dirty = np.zeros(self.n, dtype=bool) if exact and improving.size <= _BATCH else None
            queue = improving[np.argsort(delta[improving], kind="stable")][:_BATCH]
            moves = np.stack([route[ii[queue]], route[ii[queue] + 1], route[jj[queue]]], axis=1)
            applied = 0
            tail = self._positions(route)[0]  # kept up to date as moves are applied
            for u, v, x in moves.tolist():
                a, b = int(tail[u]), int(tail[x])
                if a < 0 or b < 0 or b <= a + 1 or route[a + 1] != v:
                    continue
                y = route[b + 1]
                d = self.cost[u, x] + self.cost[v, y] - self.cost[u, v] - self.cost[x, y]
                if not self.sym:
                    if applied:
                        fwd, cf, cb = self._sums(route)
                    d += (cb[b] - cb[a + 1]) - (cf[b] - cf[a + 1])
                if d >= -_TINY:
                    continue
                new = np.concatenate([route[: a + 1], route[a + 1 : b + 1][::-1], route[b + 1 :]])
                if ordered and not self.order_ok(new):
                    continue
                if self.timed and not self.route_cost(new) < self.route_cost(route) - _TINY:
                    continue
                route = new
                tail[route[a + 1 : b + 1]] = np.arange(a + 1, b + 1)
                if dirty is not None:
                    dirty[route[a : b + 2]] = True
                applied += 1
            if not applied:
                return route
        return route

    def or_opt(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """Move runs of one to three points elsewhere (either way round) while that shortens.

        The new places are next to candidate neighbours of the run's ends; the moves are
        queued and re-checked like 2-opt moves.
        """
        ordered = bool((self.rank[route] >= 0).sum() > 1)
        # after the first pass only runs near a changed edge are evaluated again (the others'
        # moves are as they were: not improving), unless moves were left over from the queue
        exact = not ordered and not self.timed
        dirty: NDArray[np.bool_] | None = None
        for _ in range(10 * self.n):
            m = route.size
            if m < 4 or self.late():  # noqa: PLR2004
                return route
            fwd, cf, cb = self._sums(route)
            tail, head = self._positions(route)
            s = np.concatenate([np.arange(1, m - length) for length in (1, 2, 3)])
            e = s + np.concatenate(
                [np.full(max(0, m - 1 - length), length - 1) for length in (1, 2, 3)]
            )
            near = self.near[:, :_NEAR_OR]
            ends = np.concatenate([near[route[s]], near[route[e]]], axis=1)
            if dirty is not None:
                seen = np.concatenate([[0], np.cumsum(dirty[route])])
                rows = (seen[e + 2] > seen[s - 1]) | dirty[ends].any(axis=1)
                s, e, ends = s[rows], e[rows], ends[rows]
            removed = fwd[s - 1] + fwd[e] - self.cost[route[s - 1], route[e + 1]]
            places = np.concatenate([tail[ends], head[ends] - 1], axis=1)  # new place: edge t
            ok = (places >= 0) & ((places < (s - 1)[:, None]) | (places > e[:, None]))
            run = np.nonzero(ok)[0]
            ss, ee, rem, t = s[run], e[run], removed[run], places[ok]
            before, nxt = route[t], route[t + 1]
            first, last = route[ss], route[ee]
            base = -fwd[t] - rem
            keep = self.cost[before, first] + self.cost[last, nxt] + base
            turned = self.cost[before, last] + self.cost[first, nxt] + base
            if not self.sym:  # the run's own cost changes when it is turned round
                turned += (cb[ee] - cb[ss]) - (cf[ee] - cf[ss])
            delta = np.concatenate([keep, turned])
            good = (delta < -_TINY).nonzero()[0]
            if good.size == 0:
                return route
            dirty = np.zeros(self.n, dtype=bool) if exact and good.size <= _BATCH else None
            good = good[np.argsort(delta[good], kind="stable")][:_BATCH]
            i = good % keep.size
            moves = np.stack(
                [first[i], last[i], ee[i] - ss[i], before[i], nxt[i], good >= keep.size], axis=1
            )
            applied = 0
            for f, la, span, bf, nx, rev in moves.tolist():
                route, done = self._move_run(
                    route, tail, (f, la, span, bf, nx, bool(rev)), ordered=ordered, dirty=dirty
                )
                applied += done
            if not applied:
                return route
        return route

    def _move_run(
        self,
        route: NDArray[np.int64],
        tail: NDArray[np.int64],
        move: tuple[int, int, int, int, int, bool],
        *,
        ordered: bool,
        dirty: NDArray[np.bool_] | None = None,
    ) -> tuple[NDArray[np.int64], bool]:
        """Apply one queued Or-opt move if it still fits the route and still shortens it.

        ``tail`` (each point's position as the tail of an edge) is updated in place when the
        move is applied, and the ends of every changed edge are marked in ``dirty``.
        """
        f, la, span, bf, nx, rev = move
        s0, e0, t0 = int(tail[f]), int(tail[la]), int(tail[bf])
        if min(s0, e0, t0) < 1 and (s0 < 1 or e0 < 1 or t0 < 0):
            return route, False
        if e0 - s0 != span or route[t0 + 1] != nx or s0 - 1 <= t0 <= e0:
            return route, False
        cost = self.cost
        prev, after = route[s0 - 1], route[e0 + 1]
        rem = cost[prev, f] + cost[la, after] - cost[prev, after]
        if rev:
            d = cost[bf, la] + cost[f, nx]
            if not self.sym:
                _, cf, cb = self._sums(route)
                d += (cb[e0] - cb[s0]) - (cf[e0] - cf[s0])
        else:
            d = cost[bf, f] + cost[la, nx]
        d += -cost[bf, nx] - rem
        if d >= -_TINY:
            return route, False
        run = route[s0 : e0 + 1][::-1] if rev else route[s0 : e0 + 1]
        rest = np.concatenate([route[:s0], route[e0 + 1 :]])
        at = t0 + 1 if t0 < s0 else t0 + 1 - (e0 - s0 + 1)
        new = np.concatenate([rest[:at], run, rest[at:]])
        if ordered and not self.order_ok(new):
            return route, False
        if self.timed and not self.route_cost(new) < self.route_cost(route) - _TINY:
            return route, False
        lo, hi = min(s0, t0 + 1), max(e0, t0)  # the positions that moved
        tail[new[lo : hi + 1]] = np.arange(lo, hi + 1)
        if dirty is not None:
            dirty[[prev, after, bf, nx]] = True
            dirty[run] = True
        return new, True

    def shorten(self, route: NDArray[np.int64]) -> NDArray[np.int64]:
        """2-opt and Or-opt in turn until neither shortens the route."""
        for _ in range(20):
            before = self.route_cost(route)
            route = self.or_opt(self.two_opt(route))
            if self.route_cost(route) >= before - _TINY or self.late():
                break
        return route


@functools.lru_cache(maxsize=64)
def _all_pairs(m: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Every pair ``p < q - 1`` of edges of a route of ``m`` points."""
    p, q = np.triu_indices(m - 1, 2)
    return p.astype(np.int64), q.astype(np.int64)
