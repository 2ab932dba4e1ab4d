"""Opening hours: human variants, opening at an arrival, departure times."""

from __future__ import annotations

import datetime as dt

import pytest

from walks.hours import UNKNOWN_NOTE, opening_at, readable_hours, resolve_departure

WED_9 = dt.datetime(2026, 11, 25, 9, 0)  # noqa: DTZ001 - local wall clock


@pytest.mark.parametrize(
    ("raw", "fixed"),
    [
        ("Mo-Fr 09:30 - 15:00. Lunch Mo-Fr 11:00 - 13:30", "Mo-Fr 09:30-15:00"),
        ("Mo-Fr 08:00-19:00 Sa 09:00-19:00 Su 12:00-18:00",
         "Mo-Fr 08:00-19:00; Sa 09:00-19:00; Su 12:00-18:00"),
        ("Mo - Fr 09.30-15.00;", "Mo-Fr 09:30-15:00"),
        ("24/7", "24/7"),
        ("Mo-Su 08:00-20:00", "Mo-Su 08:00-20:00"),
    ],
)  # fmt: skip
def test_human_variants_are_read(raw: str, fixed: str) -> None:
    assert readable_hours(raw) == fixed


def test_unreadable_is_unknown() -> None:
    assert readable_hours("ask at the bar") is None
    assert readable_hours(None) is None
    assert opening_at("ask at the bar", WED_9).status == "unknown"
    assert opening_at(None, WED_9).note == UNKNOWN_NOTE


def test_opening_at_arrival() -> None:
    raw = "Mo-Fr 09:30 - 15:00. Lunch Mo-Fr 11:00 - 13:30"
    assert opening_at(raw, WED_9).status == "closed"
    assert opening_at(raw, WED_9).note == "closed (opens Wed 09:30)"
    seen = opening_at(raw, WED_9.replace(hour=12))
    assert (seen.status, seen.note, seen.closes) == ("open", "open until 15:00",
                                                     WED_9.replace(hour=15))  # fmt: skip
    assert opening_at(raw, WED_9.replace(hour=14, minute=45)).status == "closes_soon"
    assert opening_at("24/7", WED_9).status == "open"


def test_resolve_departure() -> None:
    assert resolve_departure(None, 60.17, 24.94) is None
    assert resolve_departure("2026-11-25 09:00", 60.17, 24.94) == WED_9
    # 07:00 UTC is 09:00 in Helsinki in November (UTC+2)
    assert resolve_departure("2026-11-25T07:00+00:00", 60.17, 24.94) == WED_9
    now = resolve_departure("now", 60.17, 24.94)
    assert now is not None
    assert now.tzinfo is None
    assert now.second == 0
    with pytest.raises(ValueError, match="not a date and time"):
        resolve_departure("tomorrow-ish", 60.17, 24.94)
