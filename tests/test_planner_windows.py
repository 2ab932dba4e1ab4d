"""Opening hours as time windows: walks on the demo extract reach every stop open."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from walks.api import generate_walks
from walks.errors import NoWalkError
from walks.export import walk_summary
from walks.hours import open_intervals, opening_at
from walks.planner.core import OPProblem, solve

WEDNESDAY = dt.datetime(2026, 11, 25, 0, 0)  # noqa: DTZ001 - local wall clock


def _plan(at: dt.datetime | None, stops: list[tuple[str, int]]) -> dict[str, object]:
    got = generate_walks(None, stops, minutes=60, at=at, no_terrain=True)
    return walk_summary(got.walks[0], departure=at)


def test_windows_move_a_closed_stop_and_json_matches_the_schedule() -> None:
    free = _plan(None, [("cafe", 2)])
    assert free["hours_enforced"] is False
    stops = free["stops"]
    assert isinstance(stops, list)
    # depart so that the unconstrained order reaches its first stop 20 minutes before opening
    day = WEDNESDAY
    target = next(  # a stop with readable hours that is not open round the clock
        s for s in stops
        if s["opening_hours_raw"]
        and open_intervals(s["opening_hours_raw"], day, day + dt.timedelta(days=1))[0][0] > day
    )  # fmt: skip
    spans = opening_at(target["opening_hours_raw"], day + dt.timedelta(hours=3))
    assert spans.status in {"closed", "open"}
    opens = open_intervals(target["opening_hours_raw"], day, day + dt.timedelta(days=1))
    assert opens
    at = opens[0][0] - dt.timedelta(seconds=target["arrival_s"] + 1200)
    assert opening_at(target["opening_hours_raw"], at + dt.timedelta(
        seconds=target["arrival_s"])).status == "closed"  # fmt: skip
    planned = _plan(at, [("cafe", 2)])
    assert planned["hours_enforced"] is True
    visits = planned["stops"]
    assert isinstance(visits, list)
    assert len(visits) == 2
    for visit in visits:
        start = at + dt.timedelta(seconds=visit["arrival_s"])
        assert visit["arrival"] == f"{start:%H:%M}"
        assert visit["opening"] in {"open", "closes_soon"}
        assert opening_at(visit["opening_hours_raw"], start).status in {"open", "closes_soon"}
        end = start + dt.timedelta(minutes=15) - dt.timedelta(seconds=1)
        assert opening_at(visit["opening_hours_raw"], end).status in {"open", "closes_soon"}
    assert not [w for w in planned["warnings"] if w["code"] == "closed_on_arrival"]


def test_everything_closed_names_the_earliest_departure(tmp_path) -> None:
    """A category whose every stop has readable hours, all shut at night: one clear error."""
    mine = tmp_path / "mine.toml"
    mine.write_text(
        '[shop10]\ndwell_minutes = 10\nfilters = [{ name = "Hellming & Co" }]\n', encoding="utf-8"
    )  # fmt: skip  (Mo-Fr 10:00-17:00; Sa 10:00-14:00)
    at = WEDNESDAY.replace(hour=1)
    with pytest.raises(NoWalkError, match=r"earliest departure that works is") as caught:
        generate_walks(None, [("shop10", 1)], minutes=60, at=at, no_terrain=True,
                       category_files=(mine,))  # fmt: skip
    when = dt.datetime.strptime(str(caught.value).rsplit("is ", 1)[1][4:], "%Y-%m-%d %H:%M")  # noqa: DTZ007 - local wall clock
    assert when > at
    got = generate_walks(None, [("shop10", 1)], minutes=60, at=when, no_terrain=True,
                         category_files=(mine,))  # fmt: skip
    assert [v.stop.opening for v in got.walks[0].stops] in (["open"], ["closes_soon"])


def test_unknown_hours_fill_what_readable_ones_cannot() -> None:
    """At night no studio with readable hours is open: one of unknown hours is taken, said so."""
    at = WEDNESDAY.replace(hour=1)
    got = generate_walks(None, [("studio", 1)], minutes=30, at=at, no_terrain=True)
    assert [v.stop.opening for v in got.walks[0].stops] == ["unknown"]
    assert walk_summary(got.walks[0], departure=at)["stops"][0]["note"] == (
        "hours unknown \u2014 check before you go"
    )


def test_unknown_hours_are_said() -> None:
    at = WEDNESDAY.replace(hour=12)
    got = generate_walks(None, [("cafe", 1), ("studio", 1)], minutes=90, at=at, no_terrain=True)
    for visit in walk_summary(got.walks[0], departure=at)["stops"]:
        if visit["opening_hours_raw"] is None:
            assert visit["opening"] == "unknown"
            assert visit["note"] == "hours unknown \u2014 check before you go"
        else:
            assert visit["opening"] in {"open", "closes_soon"}


def test_core_waits_for_an_opening_and_is_deterministic() -> None:
    cost = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [10, 10, 0, 5], [10, 10, 5, 0]], float)
    score = np.array([0, 0, 5, 5.0])
    opens = np.array([[-np.inf], [-np.inf], [50.0], [0.0]])
    closes = np.array([[np.inf], [np.inf], [80.0], [30.0]])
    problem = OPProblem(cost=cost, score=score, budget=200, start=0, end=1,
                        dwell=np.array([0, 0, 10, 10.0]), opens=opens, closes=closes,
                        wait_cost=1.0)  # fmt: skip
    sol = solve(problem, seed=3)
    assert sol.route == (0, 3, 2, 1)  # the early-closing point first
    assert sol.waits[2] == pytest.approx(50 - 25)
    assert sol.cost == pytest.approx(10 + 5 + 10 + 20 + 25)
    assert solve(problem, seed=3) == sol
    tight = OPProblem(cost=cost, score=score, budget=200, start=0, end=1,
                      dwell=np.array([0, 0, 10, 10.0]), opens=opens,
                      closes=np.array([[np.inf], [np.inf], [80.0], [15.0]]))  # fmt: skip
    assert solve(tight, seed=3).route == (0, 2, 1)  # point 3 closes before a visit can end
