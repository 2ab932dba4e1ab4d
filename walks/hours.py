"""Opening hours (OSM ``opening_hours``) and the local time zone of an area."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from typing import Literal
from zoneinfo import ZoneInfo

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
    from opening_hours import OpeningHours  # noqa: PLC0415 - only needed with hours

    try:
        parsed = OpeningHours(hours)
    except Exception:  # noqa: BLE001 - the parser raises its own and builtin errors
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
