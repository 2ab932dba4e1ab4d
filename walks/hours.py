"""Opening hours (OSM ``opening_hours``) and the local time zone of an area."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from opening_hours import OpeningHours

log = logging.getLogger(__name__)

OpeningStatus = Literal["open", "closed", "unknown"]


def opening_status(  # noqa: PLR0911 - one return per outcome
    hours: str | None, when: dt.datetime | None
) -> tuple[OpeningStatus, str]:
    """
    Say whether a place is open at a local time.

    Parameters
    ----------
    hours
        The ``opening_hours`` tag value, or None.
    when
        Local (wall-clock) time in the place's time zone; None gives ``"unknown"``.

    Returns
    -------
    tuple
        ``(status, note)``: the note is human text, e.g. ``"hours unknown"`` for an absent or
        unparseable value (which never raises), or ``"open until 18:00"``.
    """
    if not hours:
        return "unknown", "hours unknown"
    parsed = read_hours(hours)
    if parsed is None:
        return "unknown", f"hours unknown (unreadable: {hours!r})"
    if when is None:
        return "unknown", f"hours: {hours}"
    naive = when.replace(tzinfo=None)
    try:
        result: object = parsed.state(naive)  # (State, comment)
        first = result[0] if isinstance(result, tuple) else result
        state = str(first).rsplit(".", 1)[-1].lower()
        change = parsed.next_change(naive)
    except Exception:  # noqa: BLE001
        return "unknown", f"hours unknown (unreadable: {hours!r})"
    until = f" until {change:%H:%M}" if isinstance(change, dt.datetime) else ""
    if state == "open":
        return "open", f"open{until}"
    if state == "closed":
        opens = f" (opens {change:%a %H:%M})" if isinstance(change, dt.datetime) else ""
        return "closed", f"closed{opens}"
    return "unknown", f"hours: {hours}"


@functools.lru_cache(maxsize=64)
def local_zone(lat: float, lon: float) -> ZoneInfo:
    """
    Find the time zone at a point (offline, with timezonefinder).

    Parameters
    ----------
    lat, lon
        The point, in degrees.

    Returns
    -------
    ZoneInfo
        Its zone; UTC at sea or when unknown.
    """
    from timezonefinder import TimezoneFinder  # noqa: PLC0415 - loads its data lazily

    name = TimezoneFinder().timezone_at(lng=lon, lat=lat)
    return ZoneInfo(name or "UTC")


def parse_local_time(text: str) -> dt.datetime:
    """
    Read a departure time such as ``"2026-11-25 09:00"`` (the area's local time).

    Parameters
    ----------
    text
        ISO 8601 date and time, with or without seconds; a ``T`` may separate them.

    Returns
    -------
    datetime
        A naive datetime, meaning wall-clock time in the area.

    Raises
    ------
    ValueError
        When the text is not such a date and time.
    """
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError as err:
        msg = f"time {text!r} is not a date and time: write it like '2026-11-25 09:00'"
        raise ValueError(msg) from err
    return value.replace(tzinfo=None) if value.tzinfo is None else value


#: Status words of a stop at the walker's arrival (``closes_soon``: closes within this).
CLOSES_SOON_S = 1800.0
#: What the walker is told when a stop's hours cannot be read.
UNKNOWN_NOTE = "hours unknown \u2014 check before you go"
#: How far ahead the next opening is looked for.
LOOKAHEAD = dt.timedelta(days=8)

_DAY = r"(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)"
_TIME = r"\d{1,2}:\d{2}"
#: Repairs of common human variants, applied in turn; each keeps the meaning unambiguous.
_REPAIRS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(rf"\b({_DAY})\s+-\s+({_DAY})\b"), r"\1-\2"),  # "Mo - Fr"
    (re.compile(r"\b(\d{1,2})\.(\d{2})\b"), r"\1:\2"),  # "09.30"
    (re.compile(rf"({_TIME})\s*-\s*({_TIME})"), r"\1-\2"),  # "09:30 - 15:00"
    (re.compile(rf"({_TIME})\s+(?={_DAY}\b)"), r"\1; "),  # "...19:00 Sa 09:00-..."
)
#: A remark after the hours: "Lunch Mo-Fr 11:00-13:30", "Kitchen ...", "Breakfast ..."
_REMARK = re.compile(
    r"[.;,]?\s+(?:lunch|kitchen|breakfast|brunch|dinner|happy hour)\b.*$", re.IGNORECASE
)


def _parse(text: str) -> OpeningHours | None:
    from opening_hours import OpeningHours  # noqa: PLC0415 - only needed with hours

    try:
        return OpeningHours(text)
    except Exception:  # noqa: BLE001 - the parser raises its own and builtin errors
        return None


def readable_hours(text: str | None) -> str | None:
    """
    Give an ``opening_hours`` value in a form the parser reads, repairing common variants.

    Repaired where the meaning is unambiguous: spaces around dashes ("Mo-Fr 09:30 - 15:00",
    "Mo - Fr"), dots in times ("09.30"), rules run together without ";" ("Mo-Fr 08:00-19:00 Sa
    09:00-19:00"), a trailing ";" or ".", and a remark on meals after the hours ("... 15:00.
    Lunch Mo-Fr 11:00 - 13:30": the place is open 09:30-15:00, lunch is served in part of it).

    Parameters
    ----------
    text
        The raw tag value.

    Returns
    -------
    str or None
        The readable value (the raw one when it reads as it is), or None when it cannot be read.
    """
    if not text or not text.strip():
        return None
    return _readable(text.strip())


@functools.lru_cache(maxsize=4096)
def _readable(text: str) -> str | None:
    if _parse(text) is not None:
        return text
    fixed = _REMARK.sub("", text)
    for pattern, repl in _REPAIRS:
        fixed = pattern.sub(repl, fixed)
    fixed = fixed.strip().rstrip(";.,").strip()
    if fixed and _parse(fixed) is not None:
        return fixed
    return None


@functools.lru_cache(maxsize=4096)
def read_hours(text: str) -> OpeningHours | None:
    """
    Parse an ``opening_hours`` value (repairing common variants), or None when unreadable.

    Parameters
    ----------
    text
        The raw tag value.

    Returns
    -------
    OpeningHours or None
        The parsed rules.
    """
    fixed = readable_hours(text)
    return None if fixed is None else _parse(fixed)


def open_intervals(
    text: str | None, start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]] | None:
    """
    List the times a place is open between two local times.

    Parameters
    ----------
    text
        The raw ``opening_hours`` value.
    start, end
        Local wall-clock times (naive).

    Returns
    -------
    list or None
        ``(opens, closes)`` pairs, merged where they touch, clipped to ``[start, end]``; None
        when the hours cannot be read. Times marked "unknown" by the rules count as closed.
    """
    parsed = read_hours(text) if text else None
    if parsed is None:
        return None
    out: list[tuple[dt.datetime, dt.datetime]] = []
    try:
        for lo, hi, state, _ in parsed.intervals(start, end):
            if str(state).rsplit(".", 1)[-1].lower() != "open":
                continue
            lo_c, hi_c = max(lo, start), min(hi, end)
            if hi_c <= lo_c:
                continue
            if out and out[-1][1] >= lo_c:
                out[-1] = (out[-1][0], max(out[-1][1], hi_c))
            else:
                out.append((lo_c, hi_c))
    except Exception:  # noqa: BLE001 - the parser's evaluation may fail on odd rules
        return None
    return out


@dataclass(frozen=True)
class Opening:
    """A stop's opening at the walker's arrival.

    Attributes
    ----------
    status
        ``"open"``, ``"closes_soon"`` (within ``CLOSES_SOON_S``), ``"closed"`` or ``"unknown"``.
    note
        Clear text: ``"open until 18:00"``, ``"closes soon, at 18:00"``, ``"closed (opens Thu
        09:30)"`` or ``UNKNOWN_NOTE``.
    closes
        Local closing time after the arrival, when known.
    """

    status: str
    note: str
    closes: dt.datetime | None = None


def opening_at(text: str | None, when: dt.datetime) -> Opening:
    """
    Say whether a place is open at a local time, and until when.

    Parameters
    ----------
    text
        The raw ``opening_hours`` value, or None.
    when
        Local wall-clock time (naive, or aware: its wall clock is used).

    Returns
    -------
    Opening
        Status, clear text and closing time.
    """
    naive = when.replace(tzinfo=None)
    spans = open_intervals(text, naive - dt.timedelta(days=1), naive + LOOKAHEAD)
    if spans is None:
        return Opening("unknown", UNKNOWN_NOTE)
    for lo, hi in spans:
        if lo <= naive < hi:
            if hi >= naive + LOOKAHEAD - dt.timedelta(days=1):
                return Opening("open", "open around the clock")
            soon = (hi - naive).total_seconds() <= CLOSES_SOON_S
            if soon:
                return Opening("closes_soon", f"open, closes soon at {hi:%H:%M}", hi)
            return Opening("open", f"open until {hi:%H:%M}", hi)
        if lo > naive:
            return Opening("closed", f"closed (opens {lo:%a %H:%M})")
    return Opening("closed", "closed")


def resolve_departure(text: str | None, lat: float, lon: float) -> dt.datetime | None:
    """
    Read a departure time for an area: ``"now"`` or a local date and time.

    This is what ``--at`` calls: ``"now"`` means the present minute in the area's time zone
    (found offline from the point); a time with a UTC offset is converted to the area's wall
    clock; a plain time is the area's wall clock already.

    Parameters
    ----------
    text
        ``None`` or ``""`` (no departure: hours are shown, not enforced), ``"now"``, or e.g.
        ``"2026-11-25 09:00"``.
    lat, lon
        A point of the area, in degrees.

    Returns
    -------
    datetime or None
        Naive local wall-clock time, to the minute.

    Raises
    ------
    ValueError
        When the text is not ``now`` nor a date and time.
    """
    if text is None or not text.strip():
        return None
    zone = local_zone(lat, lon)
    if text.strip().lower() == "now":
        now = dt.datetime.now(tz=zone)
        return now.replace(second=0, microsecond=0, tzinfo=None)
    value = parse_local_time(text)
    if value.tzinfo is not None:
        value = value.astimezone(zone).replace(tzinfo=None)
    return value
