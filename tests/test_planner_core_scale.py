"""The orienteering core's moves and bounds: brute-force optima, determinism, the time guard."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest

from walks.planner import OPProblem, solve
from walks.planner.core import _Search, default_iterations


def _euclid(xy: np.ndarray) -> np.ndarray:
    return np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1))


def _brute_force(cost: np.ndarray, score: np.ndarray, budget: float) -> float:
    """Best score of a path from point 0 to point 1 over every subset and order."""
    inner = range(2, cost.shape[0])
    best = 0.0
    for size in range(1, len(inner) + 1):
        for subset in itertools.combinations(inner, size):
            gain = float(score[list(subset)].sum())
            if gain <= best:
                continue
            for order in itertools.permutations(subset):
                path = (0, *order, 1)
                if sum(cost[a, b] for a, b in itertools.pairwise(path)) <= budget + 1e-9:
                    best = gain
                    break
    return best


@pytest.mark.parametrize("seed", range(6))
def test_small_instances_reach_the_optimum(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    xy = rng.random((9, 2)) * 10
    cost = _euclid(xy)
    score = np.r_[0.0, 0.0, rng.integers(1, 10, 7).astype(float)]
    budget = float(cost[0, 1] + rng.uniform(6, 14))
    sol = solve(OPProblem(cost, score, budget, 0, 1), seed=seed, time_limit_s=30)
    assert sol.cost <= budget + 1e-9
    assert sol.route[0] == 0
    assert sol.route[-1] == 1
    assert sol.score == pytest.approx(_brute_force(cost, score, budget))
    assert not sol.timed_out


def test_asymmetric_costs_reach_the_optimum() -> None:
    rng = np.random.default_rng(7)
    xy = rng.random((8, 2)) * 10
    cost = _euclid(xy) * (1.0 + 0.5 * rng.random((8, 8)))  # one-way streets, slopes
    np.fill_diagonal(cost, 0.0)
    score = np.r_[0.0, 0.0, rng.integers(1, 10, 6).astype(float)]
    budget = float(cost[0, 1] + 12)
    sol = solve(OPProblem(cost, score, budget, 0, 1), time_limit_s=30)
    assert sol.cost <= budget + 1e-9
    assert sol.score == pytest.approx(_brute_force(cost, score, budget))


def _random_problem(n: int, seed: int) -> OPProblem:
    rng = np.random.default_rng(seed)
    xy = rng.random((n, 2)) * 1000
    cost = np.floor(_euclid(xy) + 0.5)
    score = rng.integers(1, 100, n).astype(float)
    score[[0, n - 1]] = 0.0
    cost[n - 1] = cost[0]
    cost[:, n - 1] = cost[:, 0]
    return OPProblem(cost, score, 0.5 * 0.7124 * np.sqrt(n * 1000 * 1000), 0, n - 1)


def test_same_seed_same_route_on_a_large_instance() -> None:
    problem = _random_problem(400, 1)
    a = solve(problem, seed=5, time_limit_s=60, max_iterations=5)
    b = solve(problem, seed=5, time_limit_s=60, max_iterations=5)
    assert a.route == b.route
    assert not a.timed_out
    assert a.iterations == 5


def test_time_guard_holds_on_a_large_instance() -> None:
    problem = _random_problem(1500, 2)
    limit = 1.0
    started = time.perf_counter()
    sol = solve(problem, time_limit_s=limit, max_iterations=100_000)  # far more work than 1 s
    elapsed = time.perf_counter() - started
    assert sol.timed_out
    assert elapsed <= limit * 1.10 + 0.1  # the guard is checked inside every phase
    assert sol.cost <= problem.budget + 1e-9
    assert len(set(sol.route[1:-1])) == len(sol.route) - 2
    assert sol.score > 0


def test_tour_moves_keep_the_points_and_never_lengthen() -> None:
    problem = _random_problem(300, 3)
    search = _Search(problem, np.random.default_rng(0))
    rng = np.random.default_rng(1)
    for _ in range(5):
        inner = rng.permutation(np.arange(1, 299))[:120]
        route = np.r_[0, inner, 299]
        before = search.route_cost(route)
        shorter = search.shorten(route)
        assert sorted(shorter.tolist()) == sorted(route.tolist())
        assert shorter[0] == 0
        assert shorter[-1] == 299
        assert search.route_cost(shorter) < 0.5 * before  # a random order is far from a tour


def test_insertion_fills_the_budget() -> None:
    problem = _random_problem(300, 4)
    search = _Search(problem, np.random.default_rng(0))
    route = search.insert(np.array([0, 299]))
    used = search.route_cost(route)
    assert used <= problem.budget + 1e-9
    left = np.setdiff1d(np.flatnonzero(search.eligible), route)
    extra, _ = search._cheapest_all(route, left)
    assert (used + extra > problem.budget).all()  # nothing else fits anywhere


def test_forced_in_regions_fit_the_budget_and_the_group_limits() -> None:
    base = _random_problem(300, 6)
    group = np.arange(300) % 3 - 1  # groups 0 and 1, and ungrouped points
    group[[0, 299]] = -1
    problem = OPProblem(
        base.cost,
        base.score,
        base.budget,
        0,
        299,
        group=group,
        group_min=np.array([0, 0]),
        group_max=np.array([30, 300]),
    )
    search = _Search(problem, np.random.default_rng(0))
    route = search.polish(search.insert(np.array([0, 299])))
    first = np.flatnonzero(group[route] == 0)
    route = np.delete(route, first[28:])  # room for two more of group 0
    assert (group[route] == 0).sum() == 28
    moved = 0
    for _ in range(10):
        grown = search.grow(route, 0.5)
        assert grown[0] == 0
        assert grown[-1] == 299
        assert len(set(grown.tolist())) == grown.size
        assert search.route_cost(grown) <= problem.budget + 1e-9
        assert (group[grown] == 0).sum() <= 30
        moved += len(set(grown.tolist()) - set(route.tolist()))
    assert moved > 0  # it does bring in points the route did not have


def test_same_seed_same_route_with_every_perturbation() -> None:
    problem = _random_problem(300, 7)  # over 150 free points: forced-in regions are used too
    a = solve(problem, seed=3, time_limit_s=60, max_iterations=30)
    b = solve(problem, seed=3, time_limit_s=60, max_iterations=30)
    assert a.route == b.route
    assert not a.timed_out
    assert a.cost <= problem.budget + 1e-9


def test_work_budget_comes_from_size_and_time_limit() -> None:
    budgets = [default_iterations(n, 5.0) for n in (10, 100, 300, 1000, 50_000)]
    assert budgets == sorted(budgets, reverse=True)  # larger instances: fewer, dearer iterations
    assert budgets[0] == 2000
    assert budgets[-1] == 20
    assert (
        default_iterations(300, 1.0) < default_iterations(300, 2.0) < default_iterations(300, 5.0)
    )
    assert default_iterations(300, 2.0) == default_iterations(300, 2.0)


def test_work_limit_decides_the_result_not_the_guard() -> None:
    problem = _random_problem(300, 8)
    a = solve(problem, seed=2, time_limit_s=60, work_limit_s=0.05)
    b = solve(problem, seed=2, time_limit_s=30, work_limit_s=0.05)
    assert a == b
    assert not a.timed_out
    assert a.iterations == default_iterations(298, 0.05) == 20


def test_or_opt_shortens_two_opt_optima() -> None:
    problem = _random_problem(300, 9)
    search = _Search(problem, np.random.default_rng(0))
    rng = np.random.default_rng(2)
    gains = []
    for _ in range(4):
        route = np.r_[0, rng.permutation(np.arange(1, 299))[:150], 299]
        route = search.two_opt(route)
        assert np.array_equal(search.two_opt(route), route)  # a 2-opt local optimum
        moved = search.or_opt(route)
        assert sorted(moved.tolist()) == sorted(route.tolist())
        assert moved[0] == 0
        assert moved[-1] == 299
        gains.append(search.route_cost(route) - search.route_cost(moved))
        both = search.shorten(route)
        assert np.array_equal(search.or_opt(search.two_opt(both)), both)  # optimal for both
    assert min(gains) >= 0
    assert max(gains) > 0  # runs moved elsewhere shorten what 2-opt cannot


def test_points_on_a_circle_are_all_visited() -> None:
    # 200 points on a circle, one score each, budget = the polygon's perimeter: the optimum
    # visits every point in circle order (any other closed tour through all is longer)
    n = 200
    angle = 2 * np.pi * np.arange(n) / n
    xy = np.c_[np.cos(angle), np.sin(angle)] * 1000
    xy = np.r_[xy, xy[:1]]  # the end: a copy of the start
    cost = _euclid(xy)
    order = [*range(n), 0]
    perimeter = float(sum(cost[a, b] for a, b in itertools.pairwise(order)))
    score = np.r_[0.0, np.ones(n - 1), 0.0]
    problem = OPProblem(cost, score, perimeter + 1e-6, 0, n)
    sol = solve(problem, seed=1, time_limit_s=60, max_iterations=20)
    assert sol.score == n - 1
    assert sol.cost <= problem.budget + 1e-9
    assert not sol.timed_out


def test_symmetric_shortcuts_give_the_general_moves() -> None:
    # on a symmetric matrix the shortcuts (one gather per neighbour, no reversed-stretch
    # sums) must choose exactly what the general, asymmetric formulas choose
    problem = _random_problem(300, 11)
    fast = _Search(problem, np.random.default_rng(0))
    general = _Search(problem, np.random.default_rng(0))
    assert fast.sym
    general.sym = False
    rng = np.random.default_rng(4)
    for _ in range(3):
        route = np.r_[0, rng.permutation(np.arange(1, 299))[:120], 299]
        opt2 = fast.two_opt(route)
        assert np.array_equal(opt2, general.two_opt(route))
        assert not np.array_equal(opt2, route)
        assert np.array_equal(fast.or_opt(opt2), general.or_opt(opt2))
        part = opt2[: opt2.size // 2 + 1].copy()
        part[-1] = 299
        assert np.array_equal(fast.insert(part), general.insert(part))
        assert np.array_equal(fast.insert(part, far=False), general.insert(part, far=False))


def test_swaps_over_the_matrix_match_the_pair_list() -> None:
    # a rank on the depot alone constrains nothing but takes the flat pair-list path
    problem = _random_problem(300, 12)
    ranked = OPProblem(
        problem.cost,
        problem.score,
        problem.budget,
        problem.start,
        problem.end,
        rank=np.r_[0, np.full(298, -1), -1],
    )
    whole = _Search(problem, np.random.default_rng(0))
    pairs = _Search(ranked, np.random.default_rng(0))
    changed = 0
    for seed in range(3):  # randomised constructions leave swaps that gain
        builder = _Search(problem, np.random.default_rng(seed))
        route = builder.two_opt(builder.insert(np.array([0, 299]), rcl=0.8))
        swapped = whole.replace(route)
        assert np.array_equal(swapped, pairs.replace(route))
        changed += not np.array_equal(swapped, route)
    assert changed


def test_squeeze_drops_the_least_worth_per_saving_one_at_a_time() -> None:
    problem = _random_problem(300, 13)
    search = _Search(problem, np.random.default_rng(0))
    route = search.two_opt(np.r_[0, np.arange(1, 299), 299])  # far over the budget
    expected = route.copy()
    while search.route_cost(expected) > problem.budget + 1e-9:
        pts = expected[1:-1]
        prev, nxt = expected[:-2], expected[2:]
        saving = search.cost[prev, pts] + search.cost[pts, nxt] - search.cost[prev, nxt]
        worth = problem.score[pts] / np.maximum(saving, 1e-9)
        expected = np.delete(expected, 1 + int(np.argmin(worth)))
    squeezed = search.squeeze(route)
    assert np.array_equal(squeezed, expected)
    assert search.route_cost(squeezed) <= problem.budget + 1e-9
    assert squeezed.size < route.size - 100
