"""The walk planner: an orienteering search over scored stops on the walking graph's arrays.

``plan_walk`` plans walks on a graph; ``solve_orienteering`` runs the same search on plain
Euclidean orienteering instances (for benchmarks and for anyone testing the solver).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from walks.planner.core import OPProblem, OPSolution, solve
from walks.planner.walk import plan_walk

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["OPProblem", "OPSolution", "plan_walk", "solve", "solve_orienteering"]


def solve_orienteering(
    coords: ArrayLike,
    scores: ArrayLike,
    *,
    start: int,
    end: int,
    budget: float,
    time_limit_s: float = 1.0,
    seed: int = 0,
) -> list[int]:
    """
    Solve an orienteering problem on planar points with Euclidean travel costs.

    Parameters
    ----------
    coords
        ``(n, 2)`` planar coordinates.
    scores
        ``(n,)`` scores (the start's and end's are ignored).
    start, end
        Indices of the first and last point (equal for a closed tour).
    budget
        The largest total Euclidean length of the path.
    time_limit_s
        Wall-clock guard in seconds.
    seed
        Random seed; with the default iteration count, the same seed gives the same answer.

    Returns
    -------
    list of int
        Point indices visited, from ``start`` to ``end``.

    Raises
    ------
    ValueError
        When the arrays do not match, the indices are out of range, or start and end are
        farther apart than the budget.
    """
    xy = np.asarray(coords, dtype=float)
    score = np.asarray(scores, dtype=float).copy()
    if xy.ndim != 2 or xy.shape[1] != 2 or score.shape != (xy.shape[0],):  # noqa: PLR2004
        msg = f"coords must be (n, 2) and scores (n,); got {xy.shape} and {score.shape}"
        raise ValueError(msg)
    n = xy.shape[0]
    if not (0 <= start < n and 0 <= end < n):
        msg = f"start {start} and end {end} must be point indices in 0..{n - 1}"
        raise ValueError(msg)
    cost = np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))
    if cost[start, end] > budget:
        msg = f"start and end are {cost[start, end]:g} apart, more than the budget {budget:g}"
        raise ValueError(msg)
    score[[start, end]] = 0.0
    if start == end:  # a closed tour: an extra copy of the point serves as the end
        base = cost
        cost = np.pad(base, ((0, 1), (0, 1)))
        cost[-1, :-1] = base[start]
        cost[:-1, -1] = base[:, start]
        score = np.append(score, 0.0)
        solution = solve(
            OPProblem(cost, score, budget, start, n), seed=seed, time_limit_s=time_limit_s
        )
        return [start if i == n else i for i in solution.route]
    solution = solve(
        OPProblem(cost, score, budget, start, end), seed=seed, time_limit_s=time_limit_s
    )
    return list(solution.route)
