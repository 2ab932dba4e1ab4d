"""Ask the Overpass API (through osmnx) for an area's walking ways, stop features and buildings.

osmnx builds the queries, splits large areas and keeps its HTTP cache; this module points it at
our endpoint for one request at a time, turns its failures into ``ServiceError`` and reads the
JSON replies into the same ``OsmWays`` / ``OsmFeatures`` that ``data.py`` reads from local files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import math
import re
import time
from typing import TYPE_CHECKING, Any

from walks import settings
from walks._http import call_with_retries, parse_retry_after
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
from walks.errors import RetryableServiceError, ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import requests

    from walks.types import Area

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
    with exponential back-off; other failures are reported at once.

    Parameters
    ----------
    area
        The region; ways crossing its outline come whole (the graph builder clips them).
    overpass_url
        The Overpass API base URL (without ``/interpreter``).
    cache_dir
        The walks cache directory; osmnx's HTTP cache lives in its ``http`` folder.
        None uses ``settings.default_cache_dir()``.
    timeout_s
        Seconds to wait for one reply.
    attempts
        How many times to try in all.
    backoff_s
        The first pause between tries, in seconds; it doubles each time.

    Returns
    -------
    OsmWays
        The candidate ways, with ``source`` ``"overpass:<url>"`` and the data date Overpass reports.

    Raises
    ------
    ServiceError
        When Overpass cannot be reached, keeps failing, or answers something that is not
        an Overpass reply.
    """
    cache_dir = settings.default_cache_dir() if cache_dir is None else cache_dir
    replies = call_with_retries(
        lambda: _overpass_replies(area, overpass_url, cache_dir / "http", timeout_s),
        service="Overpass",
        url=overpass_url,
        attempts=attempts,
        backoff_s=backoff_s,
    )
    return ways_from_overpass_json(replies, source=f"overpass:{overpass_url}")


def _overpass_replies(
    area: Area, overpass_url: str, http_cache: Path, timeout_s: float
) -> list[dict[str, Any]]:
    """
    Ask Overpass, through osmnx, for the area's walking ways and their nodes.

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

    Returns
    -------
    list of dict
        One Overpass JSON reply per sub-area osmnx asked for.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out or a dropped connection.
    ServiceError
        On any other failed or malformed reply.
    """
    with _osmnx_settings(overpass_url, http_cache, timeout_s) as overpass:
        _wait_for_slot(overpass_url, timeout_s)
        replies = list(
            overpass._download_overpass_network(area.polygon, "walk", OVERPASS_WAY_FILTER)  # noqa: SLF001
        )
    for reply in replies:
        if not isinstance(reply.get("elements"), list):
            msg = f"Overpass at {overpass_url!r} sent a reply with no 'elements' list"
            raise ServiceError(msg, url=overpass_url)
        remark = str(reply.get("remark", ""))
        if "error" in remark.lower():  # e.g. "runtime error: Query timed out": worth a retry
            msg = f"Overpass reported: {remark[:200]}"
            raise RetryableServiceError(msg, url=overpass_url)
    return replies


@contextlib.contextmanager
def _osmnx_settings(overpass_url: str, http_cache: Path, timeout_s: float) -> Iterator[Any]:
    """
    Point osmnx at our endpoint and cache for one request, and translate its errors.

    osmnx keeps its settings in module globals; they are restored afterwards.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    http_cache
        osmnx's HTTP cache folder.
    timeout_s
        Seconds to wait for one reply.

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
    from osmnx import _overpass  # noqa: PLC0415

    names = (
        "overpass_url", "cache_folder", "use_cache", "requests_timeout", "requests_kwargs",
        "http_user_agent", "log_console", "overpass_rate_limit",
    )  # fmt: skip
    saved = {name: getattr(ox.settings, name) for name in names}
    ox.settings.overpass_url = overpass_url
    ox.settings.cache_folder = http_cache
    ox.settings.use_cache = True
    ox.settings.requests_timeout = timeout_s
    ox.settings.http_user_agent = settings.USER_AGENT
    ox.settings.log_console = False
    # osmnx's own slot check sleeps 60 s when /status is unreachable; ours fails fast instead.
    ox.settings.overpass_rate_limit = False
    ox.settings.requests_kwargs = {**saved["requests_kwargs"], "hooks": {"response": _check_reply}}
    try:
        yield _overpass
    except (requests.Timeout, requests.ConnectionError) as err:
        msg = f"no reply ({type(err).__name__})"
        raise RetryableServiceError(msg, url=overpass_url) from err
    except (ox._errors.InsufficientResponseError, ox._errors.ResponseStatusCodeError) as err:  # noqa: SLF001
        msg = f"Overpass at {overpass_url!r} sent an unreadable reply: {str(err)[:200]}"
        raise ServiceError(msg, url=overpass_url) from err
    finally:
        for name, value in saved.items():
            setattr(ox.settings, name, value)


def _wait_for_slot(overpass_url: str, timeout_s: float) -> None:
    """
    Ask Overpass's ``/status`` page whether we may query now, and wait for our slot if not.

    Parameters
    ----------
    overpass_url
        The Overpass API base URL.
    timeout_s
        Seconds to wait for the status reply (at most 15).

    Raises
    ------
    RetryableServiceError
        When the server does not answer at all.
    """
    import requests  # noqa: PLC0415

    url = overpass_url.rstrip("/") + "/status"
    try:
        reply = requests.get(
            url, timeout=min(timeout_s, 15.0), headers={"User-Agent": settings.USER_AGENT}
        )
    except (requests.Timeout, requests.ConnectionError) as err:
        msg = f"no reply ({type(err).__name__})"
        raise RetryableServiceError(msg, url=overpass_url) from err
    if not reply.ok or "slots available now" in reply.text:
        return  # some servers have no status page; a busy one says so in its replies
    waits = re.findall(r"Slot available after: \S+, in (\d+) seconds", reply.text)
    if waits:
        pause = min(*(int(w) for w in waits), settings.MAX_BACKOFF_S)
        log.info("Overpass: waiting %d s for a free slot", pause)
        time.sleep(pause)


def _check_reply(response: requests.Response, *_args: object, **_kwargs: object) -> None:
    """
    Turn a failed HTTP reply into our exception before osmnx sees it.

    osmnx would sleep and retry 429 / 504 forever; raising here hands retries to
    ``call_with_retries``, which backs off and gives up after a bounded number of tries.

    Parameters
    ----------
    response
        The reply, as a ``requests`` response hook receives it.

    Raises
    ------
    RetryableServiceError
        On 429 and 5xx replies.
    ServiceError
        On other 4xx replies.
    """
    status = response.status_code
    if status == 429 or status >= 500:  # noqa: PLR2004
        msg = f"HTTP {status} {response.reason}"
        raise RetryableServiceError(
            msg,
            url=response.url,
            status=status,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= 400:  # noqa: PLR2004
        msg = f"{response.url!r} answered HTTP {status} {response.reason}: check the endpoint URL"
        raise ServiceError(msg, url=response.url, status=status)


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
        base = reply.get("osm3s", {}).get("timestamp_osm_base")
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
        When Overpass cannot be reached, keeps failing, or answers nonsense.
    """
    cache_dir = settings.default_cache_dir() if cache_dir is None else cache_dir

    def ask() -> list[dict[str, Any]]:
        with _osmnx_settings(overpass_url, cache_dir / "http", timeout_s) as overpass:
            _wait_for_slot(overpass_url, timeout_s)
            return list(overpass._download_overpass_features(area.polygon, tags))  # noqa: SLF001

    replies = call_with_retries(
        ask, service="Overpass", url=overpass_url, attempts=attempts, backoff_s=backoff_s
    )
    return features_from_overpass_json(replies, wanted, source=f"overpass:{overpass_url}")
