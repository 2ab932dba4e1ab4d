"""Stop categories as data: OSM tag filters, weights, markers and dwell times, read from TOML."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from walks._resources import data_file
from walks.errors import CategoryError

#: Largest weight (and absolute bonus) a category may give.
MAX_WEIGHT = 100.0
#: Longest dwell at one stop, in minutes (half a day).
MAX_DWELL_MINUTES = 720.0
#: Largest category file read (a device or a huge file is refused, never read into memory).
MAX_FILE_BYTES = 1_000_000


@dataclass(frozen=True, slots=True)
class Category:
    """One kind of stop.

    Attributes
    ----------
    key
        Its name, e.g. ``"cafe"``.
    description
        One line for the walker.
    weight
        Base score.
    icon, color
        Map marker.
    dwell_s
        Time spent at such a stop.
    filters
        Tag filters: each is a tuple of ``(key, values)``; values None means any value.
    bonus
        Extra share of score per present tag.
    hidden
        Score by hiddenness (lanes, away from busy roads).
    kind
        ``"tags"`` or ``"view"``.
    """

    key: str
    description: str
    weight: float = 1.0
    icon: str = "star"
    color: str = "blue"
    dwell_s: float = 300.0
    filters: tuple[tuple[tuple[str, frozenset[str] | None], ...], ...] = ()
    bonus: dict[str, float] = field(default_factory=dict)
    hidden: bool = False
    kind: str = "tags"

    def matches(self, tags: dict[str, str]) -> bool:
        """
        Say whether an object with these tags belongs to the category.

        Parameters
        ----------
        tags
            OSM tags.

        Returns
        -------
        bool
            True when every tag of at least one filter matches.
        """
        return any(
            all(k in tags and (values is None or tags[k] in values) for k, values in f)
            for f in self.filters
        )

    def overpass_tags(self) -> dict[str, bool | list[str]]:
        """
        Express the filters as an osmnx tag query (a superset: keys with their values).

        Returns
        -------
        dict
            ``{key: True or [values]}`` for the first tag of each filter.
        """
        query: dict[str, bool | list[str]] = {}
        for f in self.filters:
            key, values = f[0]
            if values is None or query.get(key) is True:
                query[key] = True
            else:
                known = query.get(key)
                previous = known if isinstance(known, list) else []
                query[key] = sorted(set(previous) | set(values))
        return query


def _where(source: str, key: str) -> str:
    return f"category {key!r} in {source}"


def _parse(key: str, raw: Any, source: str) -> Category:  # noqa: ANN401, C901, PLR0912 - untyped TOML
    """
    Check and build one category from its TOML table.

    Parameters
    ----------
    key
        The table name.
    raw
        The table.
    source
        The file, for messages.

    Returns
    -------
    Category
        The category.

    Raises
    ------
    CategoryError
        Naming the file, the category and the key at fault.
    """
    where = _where(source, key)
    if not isinstance(raw, dict):
        msg = f"{where} must be a table like [{key}], not {type(raw).__name__}"
        raise CategoryError(msg)
    allowed = {"description", "weight", "icon", "color", "dwell_minutes", "filters", "bonus",
               "hidden", "kind"}  # fmt: skip
    unknown = sorted(set(raw) - allowed)
    if unknown:
        msg = f"{where}: unknown key {unknown[0]!r} (allowed: {', '.join(sorted(allowed))})"
        raise CategoryError(msg)
    kind = raw.get("kind", "tags")
    if kind not in {"tags", "view"}:
        msg = f'{where}: \'kind\' must be "tags" or "view", not {kind!r}'
        raise CategoryError(msg)
    for name, most in (("weight", MAX_WEIGHT), ("dwell_minutes", MAX_DWELL_MINUTES)):
        value = raw.get(name, 1.0)
        if (
            isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or not 0 <= value <= most
        ):  # fmt: skip
            msg = f"{where}: {name!r} must be a number from 0 to {most:g}, not {value!r}"
            raise CategoryError(msg)
    filters_raw = raw.get("filters", [])
    if kind == "tags" and (not isinstance(filters_raw, list) or not filters_raw):
        msg = f"{where}: 'filters' must be a non-empty list of tables like {{ amenity = \"cafe\" }}"
        raise CategoryError(msg)
    filters = []
    for f in filters_raw:
        if not isinstance(f, dict) or not f:
            msg = f"{where}: each entry of 'filters' must be a table of tag = value, not {f!r}"
            raise CategoryError(msg)
        parts: list[tuple[str, frozenset[str] | None]] = []
        for tag, value in f.items():
            if value == "*":
                parts.append((str(tag), None))
            elif isinstance(value, str):
                parts.append((str(tag), frozenset({value})))
            elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                parts.append((str(tag), frozenset(value)))
            else:
                msg = f"{where}: filter value for {tag!r} must be a string or list of strings"
                raise CategoryError(msg)
        filters.append(tuple(parts))
    bonus = raw.get("bonus", {})
    if not isinstance(bonus, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        and abs(v) <= MAX_WEIGHT
        for v in bonus.values()
    ):  # fmt: skip
        msg = f"{where}: 'bonus' must be a table of tag = number within ±{MAX_WEIGHT:g}"
        raise CategoryError(msg)
    return Category(
        key=key,
        description=str(raw.get("description", key)),
        weight=float(raw.get("weight", 1.0)),
        icon=str(raw.get("icon", "star")),
        color=str(raw.get("color", "blue")),
        dwell_s=float(raw.get("dwell_minutes", 5.0)) * 60.0,
        filters=tuple(filters),
        bonus={str(k): float(v) for k, v in bonus.items()},
        hidden=bool(raw.get("hidden", False)),
        kind=kind,
    )


def load_categories(*extra: str | Path) -> dict[str, Category]:
    """
    Read the shipped categories, then each extra file (which may add or replace categories).

    Parameters
    ----------
    *extra
        Paths of user category files.

    Returns
    -------
    dict
        Categories by key.

    Raises
    ------
    CategoryError
        When a file is missing, is not valid TOML (line and column named) or has a bad entry.
    """
    categories: dict[str, Category] = {}
    for path in (data_file("categories.toml"), *map(Path, extra)):
        try:
            if not path.is_file() or path.stat().st_size > MAX_FILE_BYTES:
                msg = (
                    f"category file {str(path)!r} is not a regular file of at most "
                    f"{MAX_FILE_BYTES // 1000} kB: give the path of a TOML file"
                )
                raise CategoryError(msg)
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) else "not UTF-8 text"
            msg = f"cannot read category file {str(path)!r} ({reason}): check the path"
            raise CategoryError(msg) from err
        try:
            tables = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            msg = f"category file {str(path)!r} is not valid TOML: {err}"
            raise CategoryError(msg) from err
        for key, raw in tables.items():
            categories[key] = _parse(key, raw, repr(str(path)))
    return categories


def select_categories(categories: dict[str, Category], names: list[str]) -> list[Category]:
    """
    Pick categories by name.

    Parameters
    ----------
    categories
        The known categories.
    names
        The names asked for.

    Returns
    -------
    list of Category
        In the order asked.

    Raises
    ------
    CategoryError
        For an unknown name, listing the valid ones.
    """
    out = []
    for name in names:
        if name not in categories:
            msg = f"unknown category {name!r}: choose from {', '.join(sorted(categories))}"
            raise CategoryError(msg)
        out.append(categories[name])
    return out
