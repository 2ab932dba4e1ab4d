"""The orienteering search on its own: classic instances, constraints, determinism, bad input."""

from __future__ import annotations

import csv
import itertools
import math

import numpy as np
import pytest
from conftest import SHARED

from walks.planner import OPProblem, solve, solve_orienteering

OP = SHARED / "benchmarks" / "op"


def _load(name: str) -> tuple[float, np.ndarray, np.ndarray]:
    path = next((OP / "instances" / "op").glob(f"*/{name}.txt"))
    rows = [line.split() for line in path.read_text().splitlines() if line.strip()]
    pts = np.array([[float(v) for v in r[:3]] for r in rows[1:]])
    return float(rows[0][0]), pts[:, :2], pts[:, 2]


def _bks() -> dict[str, float]:
    with (OP / "bks.csv").open() as fh:
        return {r["instance"]: float(r["best_known_score"]) for r in csv.DictReader(fh)}


def _length(route: list[int], xy: np.ndarray) -> float:
    return sum(math.dist(xy[a], xy[b]) for a, b in itertools.pairwise(route))


@pytest.mark.parametrize(
    "name",
    [
        "tsiligirides_problem_1_budget_40",
        "tsiligirides_problem_3_budget_050",
        "set_66_1_050",
        "set_64_1_45",
    ],
)
def test_classic_instances_near_best_known(name: str) -> None:
    budget, xy, score = _load(name)
    route = solve_orienteering(xy, score, start=0, end=1, budget=budget, time_limit_s=5.0)
    assert route[0] == 0
    assert route[-1] == 1
    assert len(set(route)) == len(route)
    assert _length(route, xy) <= budget + 1e-6
    assert score[route].sum() >= 0.97 * _bks()[name]


def test_same_seed_same_route() -> None:
    budget, xy, score = _load("tsiligirides_problem_2_budget_25")
    a = solve_orienteering(xy, score, start=0, end=1, budget=budget, seed=3, time_limit_s=10)
    b = solve_orienteering(xy, score, start=0, end=1, budget=budget, seed=3, time_limit_s=10)
    assert a == b


def test_closed_tour() -> None:
    budget, xy, score = _load("tsiligirides_problem_1_budget_20")
    route = solve_orienteering(xy, score, start=0, end=0, budget=budget)
    assert route[0] == route[-1] == 0
    assert 0 not in route[1:-1]
    assert _length(route, xy) <= budget + 1e-6
    assert score[route[1:-1]].sum() > 0


def test_budget_too_small_for_anything() -> None:
    xy = np.array([[0, 0], [1, 0], [5, 5]])
    assert solve_orienteering(xy, [0, 0, 10], start=0, end=1, budget=1.5) == [0, 1]


@pytest.mark.parametrize(
    ("coords", "scores", "start", "end", "budget", "message"),
    [
        (np.zeros((3, 3)), [1, 2, 3], 0, 1, 5.0, "coords must be"),
        (np.zeros((3, 2)), [1, 2], 0, 1, 5.0, "coords must be"),
        (np.zeros((3, 2)), [1, 2, 3], 0, 7, 5.0, "must be point indices"),
        (np.array([[0, 0], [10, 0], [1, 1]]), [0, 0, 1], 0, 1, 5.0, "more than the budget"),
    ],
)
def test_bad_instances(coords, scores, start, end, budget, message) -> None:
    with pytest.raises(ValueError, match=message):
        solve_orienteering(coords, scores, start=start, end=end, budget=budget)


def _line_problem(**kwargs) -> OPProblem:
    # points on a line: 0 start at x=0, 1 end at x=10, stops at x=1..8
    xs = np.array([0, 10, 1, 2, 3, 4, 5, 6, 7, 8], dtype=float)
    cost = np.abs(xs[:, None] - xs[None, :])
    base = {
        "cost": cost,
        "score": np.array([0, 0, 5, 1, 1, 1, 1, 1, 1, 9.0]),
        "budget": 10.0,
        "start": 0,
        "end": 1,
    }
    return OPProblem(**{**base, **kwargs})


def test_groups_cap_and_minimum() -> None:
    group = np.array([-1, -1, 0, 1, 1, 1, 1, 1, 1, 0])
    sol = solve(_line_problem(group=group, group_min=np.array([1, 2]), group_max=np.array([1, 2])))
    inner = sol.route[1:-1]
    assert sum(group[i] == 0 for i in inner) == 1
    assert sum(group[i] == 1 for i in inner) == 2
    assert 9 in inner  # the 9-point stop beats the 5-point one of its group
    assert sol.missing_in_group == (0, 0)


def test_order_ranks() -> None:
    # the stop at x=8 must come before the one at x=1: the walk turns back
    rank = np.array([-1, -1, 1, -1, -1, -1, -1, -1, -1, 0])
    sol = solve(_line_problem(budget=30.0, rank=rank))
    inner = list(sol.route[1:-1])
    assert inner.index(9) < inner.index(2)


def test_mandatory_first_even_when_poor() -> None:
    mandatory = np.zeros(10, dtype=bool)
    mandatory[3] = True
    score = np.array([0, 0, 5, 0.001, 1, 1, 1, 1, 1, 9.0])
    xs = np.array([0, 10, 1, -4, 3, 4, 5, 6, 7, 8], dtype=float)
    cost = np.abs(xs[:, None] - xs[None, :])
    sol = solve(OPProblem(cost=cost, score=score, budget=18.0, start=0, end=1, mandatory=mandatory))
    assert 3 in sol.route
    assert sol.missing_mandatory == ()
    impossible = solve(
        OPProblem(cost=cost, score=score, budget=12.0, start=0, end=1, mandatory=mandatory)
    )
    assert impossible.missing_mandatory == (3,)
