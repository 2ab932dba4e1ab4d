"""Ask the Overpass API (through osmnx) for an area's walking ways, stop features and buildings.

osmnx builds the queries, splits large areas and keeps its HTTP cache; this module points it at
our endpoint for one request at a time, turns its failures into ``ServiceError`` and reads the
JSON replies into the same ``OsmWays`` / ``OsmFeatures`` that ``data.py`` reads from local files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import math
import re
import shutil
from typing import TYPE_CHECKING, Any

from walks import _files, settings
from walks._http import (
    call_with_retries,
    check_attempts,
    check_cache_dir,
    check_seconds,
    check_service_url,
    http_get,
    one_line,
    request_timeout,
    response_hook,
    run_deadline,
    sleep_within_deadline,
    translate_request_error,
    watch_sockets,
)
from walks.data import (
    NEVER_WALKABLE,
    Building,
    Feature,
    OsmFeatures,
    OsmWays,
    WayRecord,
    building_height,
    is_walkable,
)
from walks.errors import AreaError, RetryableServiceError, ServiceError
from walks.types import Area

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

log = logging.getLogger(__name__)

#: The Overpass QL way filter that fetches walking-way candidates; tags are checked again here.
OVERPASS_WAY_FILTER = (
    '["highway"]["highway"!~"^(' + "|".join(sorted(NEVER_WALKABLE)) + ')$"]'
    '["foot"!~"^(no|private|use_sidepath)$"]'
)


def fetch_overpass(
    area: Area,
    *,
    overpass_url: str = settings.OVERPASS_URL,
    cache_dir: Path | None = None,
    timeout_s: float = settings.REQUEST_TIMEOUT_S,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
) -> OsmWays:
    """
    Fetch the walking-way candidates of an area from the Overpass API, through osmnx.

    osmnx builds the query, splits large areas and keeps its HTTP cache (under
    ``cache_dir/http``), so a second fetch of the same area is served from disk and
    works offline. Replies of 429, 5xx, time-outs and dropped connections are retried
    with exponential back-off; other failures are reported at once. Everything happens
    within the current ``walks._http.deadline`` (``settings.RUN_TIMEOUT_S`` when none is
    active). Only replies that pass ``check_overpass_reply`` are stored in the HTTP cache,
    and a cache file that is unreadable or fails the same check is discarded and fetched again.

    Parameters
    ----------
    area
        The region; ways crossing its outline come whole (the graph builder clips them).
    overpass_url
        The Overpass API base URL (without ``/interpreter``), http or https.
    cache_dir
        The walks cache directory; osmnx's HTTP cache lives in its ``http`` folder.
        None uses ``settings.default_cache_dir()``.
    timeout_s
        Seconds to wait for one reply (capped by the deadline).
    attempts
        How many times to try in all (at least 1).
    backoff_s
        The first pause between tries, in seconds; it doubles each time.

    Returns
    -------
    OsmWays
        The candidate ways, with ``source`` ``"overpass:<url>"`` and the data date Overpass reports.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, runs out of time, or answers
        something that is not a usable Overpass reply (no streets at all included).
    UsageError
        When the URL is not http(s), or ``attempts``, ``timeout_s`` or ``backoff_s`` is out
        of range.
    AreaError
        When ``area`` is not an ``Area``.
    """
    overpass_url, cache_dir = _check_arguments(
        area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
    )
    with run_deadline():
        replies = call_with_retries(
            lambda: _ask_overpass(area, overpass_url, cache_dir / "http", timeout_s, None),
            service="Overpass",
            url=overpass_url,
            attempts=attempts,
            backoff_s=backoff_s,
        )
    return ways_from_overpass_json(replies, source=f"overpass:{overpass_url}")


def _check_arguments(
    area: object,
    overpass_url: object,
    cache_dir: Path | None,
    timeout_s: object,
    attempts: object,
    backoff_s: object,
) -> tuple[str, Path]:
    """
    Check the arguments shared by the fetch functions, before any request.

    Parameters
    ----------
    area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
        As for ``fetch_overpass``.

    Returns
    -------
    tuple of (str, Path)
        The URL and the cache directory (the default one for None).

    Raises
    ------
    AreaError
        When ``area`` is not an ``Area``.
    UsageError
        When another argument is out of range.
    """
    if not isinstance(area, Area):
        msg = f"the area {area!r} is not an Area: make one with walks.area.resolve_area"
        raise AreaError(msg)
    url = check_service_url(overpass_url, service="Overpass", option="--overpass-url")
    check_attempts(attempts)
    check_seconds(timeout_s, "timeout_s")
    check_seconds(backoff_s, "backoff_s", allow_zero=True)
    return url, check_cache_dir(cache_dir)


def _ask_overpass(
    area: Area,
    overpass_url: str,
    http_cache: Path,
    timeout_s: float,
    tags: dict[str, bool | str | list[str]] | None,
) -> list[dict[str, Any]]:
    """
    Ask Overpass, through osmnx, for the area's walking ways (or tagged features) once.

    Parameters
    ----------
    area
        The region.
    overpass_url
        The Overpass API base URL.
    http_cache
        osmnx's HTTP cache folder.
    timeout_s
        Seconds to wait for one reply.
    tags
        None for the walking network; an osmnx-style tag query for features.

    Returns
    -------
    list of dict
        One checked Overpass JSON reply per sub-area osmnx asked for.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out, a dropped connection or an error remark.
    ServiceError
        On any other failed or malformed reply.
    """
    streets = tags is None
    with _osmnx_settings(overpass_url, http_cache, timeout_s, streets=streets) as overpass:
        if tags is None:
            found = overpass._download_overpass_network(area.polygon, "walk", OVERPASS_WAY_FILTER)  # noqa: SLF001
        else:
            found = overpass._download_overpass_features(area.polygon, tags)  # noqa: SLF001
        replies = list(found)
    for reply in replies:  # cached replies were checked when read; this is cheap insurance
        if not isinstance(reply, dict) or not isinstance(reply.get("elements"), list):
            msg = f"Overpass at {overpass_url!r} sent a reply with no 'elements' list"
            raise ServiceError(msg, url=overpass_url)
    return replies


@contextlib.contextmanager
def _osmnx_settings(
    overpass_url: str, http_cache: Path, timeout_s: float, *, streets: bool
) -> Iterator[Any]:
    """
    Point osmnx at our endpoint and cache for one request, and translate its errors.

    osmnx keeps its settings in module globals; they are restored afterwards. Within the
    block, three of osmnx's private HTTP helpers (pinned osmnx version) are replaced:

    * ``_retrieve_from_cache`` reads a cache file, and discards it (returning a miss) when it
      is unreadable, a directory, or fails ``check_overpass_reply``;
    * ``_save_to_cache`` stores a reply only after ``check_overpass_reply`` passed (so a reply
      with zero elements or bad elements is never cached), writing it atomically;
    * ``_config_dns``, which osmnx calls just before each request (it would pin the host's IP
      and, when the name does not resolve, ask Google's DNS-over-HTTPS service), instead waits
      for an Overpass slot (once) and caps the request's time-out by the deadline.

    A response hook reads every reply body within the deadline and turns 429 / 5xx / 4xx
    into our errors before osmnx sees them (osmnx alone would sleep 55 s and retry forever).

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    http_cache
        osmnx's HTTP cache folder.
    timeout_s
        Seconds to wait for one reply (capped by the deadline).
    streets
        Whether the replies are walking-network replies, which must hold elements.

    Yields
    ------
    module
        ``osmnx._overpass``, whose downloaders split large areas and use the HTTP cache.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out or a dropped connection.
    ServiceError
        On any other failed or malformed reply.
    """
    import osmnx as ox  # noqa: PLC0415 - osmnx is heavy; only the online path needs it
    import requests  # noqa: PLC0415
    from osmnx import _http as ox_http  # noqa: PLC0415
    from osmnx import _overpass  # noqa: PLC0415

    names = (
        "overpass_url", "cache_folder", "use_cache", "requests_timeout", "requests_kwargs",
        "http_user_agent", "log_console", "overpass_rate_limit", "doh_url_template",
    )  # fmt: skip
    saved = {name: getattr(ox.settings, name) for name in names}
    helpers = ("_retrieve_from_cache", "_save_to_cache", "_config_dns")
    saved_helpers = {name: getattr(ox_http, name) for name in helpers}
    slot_checked = False

    def before_request(_url: str) -> None:
        nonlocal slot_checked
        if not slot_checked:
            _wait_for_slot(overpass_url, timeout_s)
            slot_checked = True
        ox.settings.requests_timeout = request_timeout(timeout_s, "Overpass", overpass_url)

    def read_cached(key: str) -> dict[str, Any] | None:
        path = ox_http._resolve_cache_filepath(key)  # noqa: SLF001
        return _read_cached_reply(path, overpass_url, streets=streets)

    def save_checked(key: str, reply: Any, ok: bool) -> None:  # noqa: ANN401 - osmnx's signature
        check_overpass_reply(reply, url=overpass_url, streets=streets)
        if ok and "remark" not in reply:  # osmnx's rule: replies with remarks are not kept
            _write_cache_file(ox_http._resolve_cache_filepath(key), reply)  # noqa: SLF001

    ox.settings.overpass_url = overpass_url
    ox.settings.cache_folder = http_cache
    ox.settings.use_cache = True
    ox.settings.requests_timeout = timeout_s
    ox.settings.http_user_agent = settings.USER_AGENT
    ox.settings.log_console = False
    ox.settings.doh_url_template = None
    # osmnx's own slot check sleeps 60 s when /status is unreachable; ours fails fast instead.
    ox.settings.overpass_rate_limit = False
    watch_sockets()
    hooks = {"response": [response_hook("Overpass", overpass_url)]}
    ox.settings.requests_kwargs = {**saved["requests_kwargs"], "hooks": hooks}
    ox_http._retrieve_from_cache = read_cached  # type: ignore[assignment]  # noqa: SLF001
    ox_http._save_to_cache = save_checked  # type: ignore[assignment]  # noqa: SLF001
    ox_http._config_dns = before_request  # type: ignore[assignment]  # noqa: SLF001
    try:
        yield _overpass
    except requests.RequestException as err:
        raise translate_request_error(err, service="Overpass", url=overpass_url) from err
    except (ox._errors.InsufficientResponseError, ox._errors.ResponseStatusCodeError) as err:  # noqa: SLF001
        snippet = one_line(str(err))[:160]
        msg = (
            f"Overpass at {overpass_url!r} sent an unreadable reply (not a JSON object): "
            f"{snippet!r}"
        )
        raise ServiceError(msg, url=overpass_url) from err
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)
        for name, helper in saved_helpers.items():
            setattr(ox_http, name, helper)


def _read_cached_reply(path: Path, overpass_url: str, *, streets: bool) -> dict[str, Any] | None:
    """
    Read one Overpass reply from osmnx's HTTP cache, discarding a file that is not a good reply.

    Parameters
    ----------
    path
        The cache file.
    overpass_url
        The Overpass API base URL, for messages.
    streets
        Whether it must be a walking-network reply (with elements).

    Returns
    -------
    dict or None
        The reply, or None (a cache miss) when there is none or it was discarded.
    """
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_dir():
            msg = "a directory stands where a cache file belongs"
            raise ValueError(msg)  # noqa: TRY301 - one place discards every kind of bad file
        reply = json.loads(path.read_text(encoding="utf-8"))
        check_overpass_reply(reply, url=overpass_url, streets=streets)
        if "remark" in reply:
            msg = "a reply with a remark is not kept"
            raise ValueError(msg)  # noqa: TRY301
    except (OSError, ValueError, ServiceError) as err:
        log.warning(
            "discarding the unusable HTTP cache file %s (%s)", path, one_line(str(err))[:200]
        )
        _discard(path)
        return None
    return reply  # type: ignore[no-any-return]


def _discard(path: Path) -> None:
    """
    Remove a bad cache entry, file or directory; failures are logged only.

    Parameters
    ----------
    path
        The entry.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    except OSError as err:
        log.warning("could not remove the bad cache entry %s: %s", path, err)


def _write_cache_file(path: Path, reply: dict[str, Any]) -> None:
    """
    Store a checked reply in osmnx's HTTP cache, atomically; failures are logged only.

    Parameters
    ----------
    path
        The cache file.
    reply
        The reply.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, json.dumps(reply))
    except OSError as err:
        log.warning("could not cache the Overpass reply in %s: %s", path, err)


def _wait_for_slot(overpass_url: str, timeout_s: float) -> None:
    """
    Ask Overpass's ``/status`` page whether we may query now, and wait for our slot if not.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    timeout_s
        Seconds to wait for the status reply (at most 15, and never past the deadline).

    Raises
    ------
    RetryableServiceError
        When the server does not answer at all.
    ServiceError
        When the slot comes after the deadline, or the host cannot be resolved.
    """
    url = overpass_url.rstrip("/") + "/status"
    try:
        reply = http_get(
            url,
            service="Overpass",
            base_url=overpass_url,
            headers={"User-Agent": settings.USER_AGENT},
            timeout_s=min(timeout_s, 15.0),
        )
    except ServiceError as err:
        if err.status is not None:
            return  # some servers have no status page; a busy one says so in its replies
        raise
    text = reply.text
    if "slots available now" in text:
        return
    waits = re.findall(r"Slot available after: \S+, in (\d+) seconds", text)
    if waits:
        pause = min(int(w) for w in waits)
        log.info("Overpass: waiting %d s for a free slot", pause)
        sleep_within_deadline(
            pause, service="Overpass", url=overpass_url, why="has no free slot for"
        )


def check_overpass_reply(reply: object, *, url: str, streets: bool) -> None:
    """
    Check that an Overpass reply is well formed, before it is cached or used.

    Parameters
    ----------
    reply
        The parsed JSON reply.
    url
        The Overpass API base URL, for messages.
    streets
        Whether it answers a walking-network query, which must return elements (an empty
        reply there means the server is out of order, or the area has no streets at all).

    Raises
    ------
    RetryableServiceError
        When the reply carries an error remark (e.g. "runtime error: Query timed out").
    ServiceError
        When it is not an object, has no ``elements`` list, an element is malformed (not an
        object, an unknown type, an id that is not a whole number, a node without finite
        in-range coordinates, way nodes or relation members of the wrong shape), or a
        network reply holds no elements.
    """

    def bad(what: str) -> ServiceError:
        text = (
            f"Overpass at {url!r} sent a malformed reply: {what}; the server may be out of "
            "order: try again later or use another --overpass-url"
        )
        return ServiceError(text, url=url)

    if not isinstance(reply, dict):
        what = f"expected a JSON object, got a {type(reply).__name__}"
        raise bad(what)
    remark = reply.get("remark")
    if remark is not None and "error" in str(remark).lower():
        msg = f"Overpass reported: {one_line(str(remark))[:200]}"
        raise RetryableServiceError(msg, url=url)
    elements = reply.get("elements")
    if not isinstance(elements, list):
        msg = f"Overpass at {url!r} sent a reply with no 'elements' list"
        raise ServiceError(msg, url=url)
    for index, element in enumerate(elements):
        problem = _element_problem(element)
        if problem:
            what = f"element {index} {problem}"
            raise bad(what)
    if streets and not elements:
        msg = (
            f"Overpass at {url!r} sent no streets at all for this area: if it has streets, "
            "the server is out of order; try again later, use another --overpass-url, "
            "or --osm-file FILE"
        )
        raise ServiceError(msg, url=url)


def _short(value: object) -> str:
    """
    Show a value from a reply in a message: its repr (control characters escaped), cut short.

    Parameters
    ----------
    value
        Any value.

    Returns
    -------
    str
        At most 40 characters.
    """
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."  # noqa: PLR2004


def _is_int(value: object) -> bool:
    """
    Tell whether a JSON value is a whole number (not a bool).

    Parameters
    ----------
    value
        The value.

    Returns
    -------
    bool
        True for an int.
    """
    return type(value) is int


def _node_problem(element: dict[str, Any]) -> str | None:
    """
    Say what is wrong with an Overpass node's coordinates, if anything.

    Parameters
    ----------
    element
        The node.

    Returns
    -------
    str or None
        The problem, or None when ``lat`` and ``lon`` are finite numbers in range.
    """
    for key, limit in (("lat", 90.0), ("lon", 180.0)):
        value = element.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return f"(a node) has the {key} {_short(value)}, not a number within ±{limit:g}"
        if not (math.isfinite(value) and abs(value) <= limit):
            return f"(a node) has the {key} {_short(value)}, not a number within ±{limit:g}"
    return None


def _element_problem(element: object) -> str | None:  # noqa: PLR0911 - one answer per check
    """
    Say what is wrong with one Overpass element, if anything.

    Parameters
    ----------
    element
        One item of ``elements``.

    Returns
    -------
    str or None
        The problem, to follow "element N", or None when it is well formed.
    """
    if not isinstance(element, dict):
        return f"is {_short(element)}, not an object"
    kind = element.get("type")
    if kind not in {"node", "way", "relation"}:
        return f"has the type {_short(kind)}"
    if not _is_int(element.get("id")):
        return f"has the id {_short(element.get('id'))}, not a whole number"
    tags = element.get("tags")
    if tags is not None and not isinstance(tags, dict):
        return f"has tags {_short(tags)}, not an object"
    if kind == "node":
        return _node_problem(element)
    if kind == "way":
        refs = element.get("nodes")
        if refs is not None and not (isinstance(refs, list) and all(map(_is_int, refs))):
            return f"(a way) has nodes {_short(refs)}, not a list of whole numbers"
    else:
        members = element.get("members")
        if members is not None and not (
            isinstance(members, list)
            and all(
                isinstance(m, dict) and _is_int(m.get("ref")) and isinstance(m.get("type"), str)
                for m in members
            )
        ):
            return f"(a relation) has members {_short(members)} of the wrong shape"
    return None


def ways_from_overpass_json(replies: list[dict[str, Any]], *, source: str) -> OsmWays:
    """
    Collect walking-way candidates from Overpass JSON replies.

    Parameters
    ----------
    replies
        Overpass ``out;`` replies holding ways and their nodes.
    source
        The ``source`` label to record.

    Returns
    -------
    OsmWays
        The candidate ways; nodes absent from the replies get NaN coordinates.
    """
    coords: dict[int, tuple[float, float]] = {}
    raw_ways: dict[int, dict[str, Any]] = {}
    stamps: list[str] = []
    for reply in replies:
        osm3s = reply.get("osm3s")
        base = osm3s.get("timestamp_osm_base") if isinstance(osm3s, dict) else None
        if isinstance(base, str):
            stamps.append(base)
        for element in reply.get("elements", []):
            kind = element.get("type")
            if kind == "node" and "lat" in element and "lon" in element:
                coords[int(element["id"])] = (float(element["lat"]), float(element["lon"]))
            elif kind == "way" and isinstance(element.get("nodes"), list):
                raw_ways[int(element["id"])] = element
    ways = []
    nan = (math.nan, math.nan)
    for way_id, element in raw_ways.items():
        tags = {str(k): str(v) for k, v in (element.get("tags") or {}).items()}
        if not is_walkable(tags):
            continue
        refs = tuple(int(r) for r in element["nodes"])
        points = [coords.get(r, nan) for r in refs]
        ways.append(
            WayRecord(way_id, refs, tuple(p[0] for p in points), tuple(p[1] for p in points), tags)
        )
    date = None
    if stamps:
        try:
            date = dt.datetime.fromisoformat(max(stamps))
        except ValueError:
            date = None
    return OsmWays(ways=tuple(ways), source=source, data_date=date)


def features_from_overpass_json(  # noqa: C901, PLR0912 - one pass per element kind
    replies: list[dict[str, Any]], wanted: Callable[[dict[str, str]], bool], *, source: str
) -> OsmFeatures:
    """
    Collect features and buildings from Overpass JSON replies (``out; >; out skel qt;``).

    Parameters
    ----------
    replies
        The replies.
    wanted
        Says which tagged objects to keep as features.
    source
        The ``source`` label to record.

    Returns
    -------
    OsmFeatures
        Features (nodes, closed ways, multipolygon outer ways) and buildings.
    """
    import shapely  # noqa: PLC0415

    coords: dict[int, tuple[float, float]] = {}
    ways: dict[int, dict[str, Any]] = {}
    others: list[dict[str, Any]] = []
    for reply in replies:
        for el in reply.get("elements", []):
            if el.get("type") == "node" and "lat" in el:
                coords[int(el["id"])] = (float(el["lon"]), float(el["lat"]))
                if el.get("tags"):
                    others.append(el)
            elif el.get("type") == "way":
                ways[int(el["id"])] = el
            elif el.get("type") == "relation":
                others.append(el)

    def ring_of(way: dict[str, Any]) -> tuple[tuple[float, float], ...] | None:
        refs = way.get("nodes") or []
        if len(refs) < 4 or refs[0] != refs[-1] or any(r not in coords for r in refs):  # noqa: PLR2004
            return None
        return tuple(coords[r] for r in refs)

    features: list[Feature] = []
    buildings: list[Building] = []

    def add(
        kind: str, osm_id: int, tags: dict[str, str], ring: tuple[tuple[float, float], ...]
    ) -> None:
        if "building" in tags and tags["building"] != "no":
            height, how = building_height(tags)
            buildings.append(Building(ring, height, how))
        if wanted(tags):
            c = shapely.Polygon(ring).centroid
            features.append(Feature(kind, osm_id, tags, c.y, c.x, ring))

    for way in ways.values():
        tags = {str(k): str(v) for k, v in (way.get("tags") or {}).items()}
        ring = ring_of(way) if tags else None
        if ring is not None:
            add("way", int(way["id"]), tags, ring)
    for el in others:
        tags = {str(k): str(v) for k, v in (el.get("tags") or {}).items()}
        if el["type"] == "node":
            if wanted(tags):
                lon, lat = coords[int(el["id"])]
                features.append(Feature("node", int(el["id"]), tags, lat, lon))
            continue
        outers = [
            ways[int(m["ref"])] for m in el.get("members", [])
            if m.get("type") == "way" and m.get("role") == "outer" and int(m["ref"]) in ways
        ]  # fmt: skip
        for outer in outers:
            ring = ring_of(outer)
            if ring is not None:
                add("relation", int(el["id"]), tags, ring)
                break
    return OsmFeatures(tuple(features), tuple(buildings), source)


def fetch_overpass_features(
    area: Area,
    tags: dict[str, bool | str | list[str]],
    wanted: Callable[[dict[str, str]], bool],
    *,
    overpass_url: str = settings.OVERPASS_URL,
    cache_dir: Path | None = None,
    timeout_s: float = settings.REQUEST_TIMEOUT_S,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
) -> OsmFeatures:
    """
    Fetch tagged objects and buildings of an area from Overpass, through osmnx (cached).

    Parameters
    ----------
    area
        The region (for a landmark view, a corridor towards the landmark may be included).
    tags
        osmnx-style tag query, e.g. ``{"amenity": ["cafe"], "building": True}``.
    wanted
        Says which tagged objects to keep as features.
    overpass_url, cache_dir, timeout_s, attempts, backoff_s
        As for ``fetch_overpass``.

    Returns
    -------
    OsmFeatures
        The features and buildings.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, runs out of time, or answers nonsense.
    UsageError
        When the URL is not http(s), or another argument is out of range.
    AreaError
        When ``area`` is not an ``Area``.
    """
    overpass_url, cache_dir = _check_arguments(
        area, overpass_url, cache_dir, timeout_s, attempts, backoff_s
    )
    with run_deadline():
        replies = call_with_retries(
            lambda: _ask_overpass(area, overpass_url, cache_dir / "http", timeout_s, tags),
            service="Overpass",
            url=overpass_url,
            attempts=attempts,
            backoff_s=backoff_s,
        )
    return features_from_overpass_json(replies, wanted, source=f"overpass:{overpass_url}")
