"""Checks of the arguments the public API and the CLI take: types, finite numbers and ranges.

Each check raises ``UsageError`` (a ``ValueError``) whose message names the argument, the value
(with ``!r``, so control characters show as escapes) and the valid range, so the CLI can print it
as one ``Error:`` line with exit code 2 and a library caller gets our error instead of a raw
``TypeError`` deep inside numpy.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import TYPE_CHECKING

from walks._text import has_control
from walks.errors import UsageError
from walks.types import LatLon

if TYPE_CHECKING:
    from collections.abc import Iterable

#: Longest time budget, in minutes (a day's walk).
MAX_MINUTES = 24 * 60.0
#: Shortest time budget, in minutes.
MIN_MINUTES = 1.0
#: Longest distance budget, in km.
MAX_KM = 100.0
#: Shortest distance budget, in km.
MIN_KM = 0.1
#: Largest seed (seeds are 32-bit, as numpy's legacy seeding).
MAX_SEED = 2**32 - 1
#: Most walks asked for at once.
MAX_ALTERNATIVES = 5
#: Most stops of one category.
MAX_STOPS_PER_CATEGORY = 20
#: Departures are understood from this year ...
MIN_YEAR = 1970
#: ... to this one (time zones and sun positions beyond are guesses).
MAX_YEAR = 2100
#: Longest free text (a place, a stop name) accepted, in characters.
MAX_TEXT = 500

_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*|\s*[-+]?(nan|inf|infinity)\s*",
                     re.IGNORECASE)  # fmt: skip


def check_number(
    name: str, value: object, low: float, high: float, *, example: str, unit: str = ""
) -> float:
    """
    Check that a value is a finite number within ``[low, high]``.

    Parameters
    ----------
    name
        The argument's name for the message, e.g. ``"--minutes"`` or ``"minutes"``.
    value
        The value.
    low, high
        The inclusive range.
    example
        A valid value for the message, e.g. ``"--minutes 90"``.
    unit
        The unit for the message, e.g. ``" minutes"``.

    Returns
    -------
    float
        The value.

    Raises
    ------
    UsageError
        When it is not a number, not finite or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = f"{name} must be a number, not {value!r}: e.g. {example}"
        raise UsageError(msg)
    number = float(value)
    if not (math.isfinite(number) and low <= number <= high):
        msg = f"{name} {value!r} is out of range: give {low:g} to {high:g}{unit}, e.g. {example}"
        raise UsageError(msg)
    return number


def check_int(name: str, value: object, low: int, high: int, *, example: str) -> int:
    """
    Check that a value is a whole number within ``[low, high]``.

    Parameters
    ----------
    name
        The argument's name for the message.
    value
        The value.
    low, high
        The inclusive range.
    example
        A valid value for the message.

    Returns
    -------
    int
        The value.

    Raises
    ------
    UsageError
        When it is not an int or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be a whole number, not {value!r}: e.g. {example}"
        raise UsageError(msg)
    if not low <= value <= high:
        msg = f"{name} {value!r} is out of range: give a whole number from {low} to {high}"
        raise UsageError(msg)
    return value


def check_text(name: str, value: object, *, example: str) -> str:
    """
    Check a free text argument: a string, not blank, not too long, no control characters.

    Parameters
    ----------
    name
        The argument's name for the message.
    value
        The value.
    example
        A valid value for the message.

    Returns
    -------
    str
        The text, stripped.

    Raises
    ------
    UsageError
        When it is not such a text.
    """
    if not isinstance(value, str):
        msg = f"{name} must be a text, not {value!r}: e.g. {example}"
        raise UsageError(msg)
    text = value.strip()
    if not text or len(text) > MAX_TEXT or has_control(text):
        shown = value if len(value) <= 60 else value[:60] + "…"  # noqa: PLR2004
        msg = (
            f"{name} {shown!r} is not usable: give 1 to {MAX_TEXT} printable characters, "
            f"e.g. {example}"
        )
        raise UsageError(msg)
    return text


def check_budget(minutes: object, km: object) -> tuple[float | None, float | None]:
    """
    Check a walk's budget: minutes or km (not both), finite and in range.

    Parameters
    ----------
    minutes, km
        The budgets asked for; None when not given.

    Returns
    -------
    tuple
        ``(minutes, km)``.

    Raises
    ------
    UsageError
        When both are given or one is out of range.
    """
    if minutes is not None and km is not None:
        msg = "give minutes or km, not both"
        raise UsageError(msg)
    return (
        None if minutes is None else check_number(
            "minutes", minutes, MIN_MINUTES, MAX_MINUTES, example="--minutes 90", unit=" minutes"
        ),
        None if km is None else check_number(
            "km", km, MIN_KM, MAX_KM, example="--km 5", unit=" km"
        ),
    )  # fmt: skip


def check_wanted(wanted: object) -> list[tuple[str, int]] | None:
    """
    Check the stops asked for: ``[(category, count), ...]`` or None.

    Parameters
    ----------
    wanted
        The value.

    Returns
    -------
    list of tuple or None
        The pairs.

    Raises
    ------
    UsageError
        For anything but a list of ``(name, count)`` pairs with counts from 1 to 20.
    """
    if wanted is None:
        return None
    if isinstance(wanted, str | bytes) or not hasattr(wanted, "__iter__"):
        msg = f"stops must be a list of (category, count) pairs, not {wanted!r}"
        raise UsageError(msg)
    pairs: Iterable[object] = wanted
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and isinstance(pair[0], str)):  # noqa: PLR2004
            msg = f"stops: {pair!r} is not a (category, count) pair such as ('cafe', 1)"
            raise UsageError(msg)
        name = check_text("a stop category", pair[0], example="'cafe'")
        count = check_int(
            f"the count of {name!r}", pair[1], 1, MAX_STOPS_PER_CATEGORY, example="studio=2"
        )
        out.append((name, count))
    return out


def check_departure(at: object) -> dt.datetime | None:
    """
    Check a departure time: a datetime between ``MIN_YEAR`` and ``MAX_YEAR``, or None.

    Parameters
    ----------
    at
        The value.

    Returns
    -------
    datetime or None
        The value.

    Raises
    ------
    UsageError
        When it is not a datetime or its year is out of range.
    """
    if at is None:
        return None
    if not isinstance(at, dt.datetime):
        msg = f"the departure must be a datetime, not {at!r}: e.g. '2026-11-25 09:00'"
        raise UsageError(msg)
    if not MIN_YEAR <= at.year <= MAX_YEAR:
        msg = (
            f"departure {at.isoformat(sep=' ', timespec='minutes')!r} is out of range: give a "
            f"date from {MIN_YEAR} to {MAX_YEAR}, e.g. '2026-11-25 09:00'"
        )
        raise UsageError(msg)
    return at


def parse_lat_lon(text: str, *, name: str = "--start") -> LatLon | None:
    """
    Read ``"lat,lon"``, or say that the text is not meant as coordinates.

    Text made only of comma-separated numbers is taken as coordinates and must be exactly two
    finite numbers on Earth; anything else (an address such as "12, rue de Dunkerque", a
    postcode, a stop's name) gives None.

    Parameters
    ----------
    text
        The user's text.
    name
        The option, for the message.

    Returns
    -------
    LatLon or None
        The point, or None when the text is a name.

    Raises
    ------
    UsageError
        For malformed coordinates: ``"nan,nan"``, ``"91,0"``, ``"48.8,2.3,7"``.
    """
    parts = text.split(",")
    if len(parts) < 2 or not all(_NUMBER.fullmatch(part) for part in parts):  # noqa: PLR2004
        return None  # a name or an address ("12, rue de Dunkerque", "75010")
    example = f"{name} 48.8809,2.3553 (latitude, longitude in degrees)"
    if len(parts) != 2:  # noqa: PLR2004
        msg = f"{name} {text!r} is not 'lat,lon': give two numbers, e.g. {example}"
        raise UsageError(msg)
    lat, lon = float(parts[0]), float(parts[1])
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):  # noqa: PLR2004
        msg = (
            f"{name} {text!r} is out of range: latitude is -90..90 and longitude -180..180, "
            f"e.g. {example}"
        )
        raise UsageError(msg)
    return LatLon(lat, lon)


def parse_stop_spec(text: str) -> list[tuple[str, int]]:
    """
    Read a stops specification such as ``cafe,studio=2,view`` (``--stops``, a batch cell).

    Parameters
    ----------
    text
        The specification; empty parts are skipped, so ``""`` asks for no stops.

    Returns
    -------
    list of tuple
        ``(category, count)`` pairs, in the order given.

    Raises
    ------
    UsageError
        For a count that is not a whole number from 1 to 20, a count without a category, or a
        category given twice.
    """
    out: list[tuple[str, int]] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, _, count = part.partition("=")
        name = name.strip()
        try:
            number = int(count) if count else 1
        except ValueError:
            number = -1
        if not 1 <= number <= MAX_STOPS_PER_CATEGORY:
            msg = f"{part!r}: a count must be a whole number from 1 to 20, e.g. studio=2"
            raise UsageError(msg)
        if not name:
            msg = f"{part!r}: give a category name before the count, e.g. studio=2"
            raise UsageError(msg)
        if any(name == seen for seen, _ in out):
            msg = f"{name!r} is given twice: give each category once, e.g. cafe=2"
            raise UsageError(msg)
        out.append((name, number))
    return out
