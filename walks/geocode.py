"""Place name -> location and outline via geopy's Nominatim: rate-limited, cached on disk."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import shutil
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from walks import _files, settings
from walks._http import (
    call_with_retries,
    check_attempts,
    check_cache_dir,
    check_seconds,
    check_service_url,
    http_get,
    one_line,
    run_deadline,
    sleep_within_deadline,
)
from walks.errors import GeocodeError, ServiceError, UsageError
from walks.types import BBox, LatLon

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import requests

log = logging.getLogger(__name__)

_last_request = 0.0
_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Place:
    """A geocoded place.

    Attributes
    ----------
    name
        The service's display name.
    point
        The place's representative point.
    bbox
        Its bounding box ``(west, south, east, north)``.
    geojson
        Its outline as a GeoJSON geometry (Polygon, MultiPolygon, LineString or Point), or None.
    raw
        The service's reply for this place.
    """

    name: str
    point: LatLon
    bbox: BBox
    geojson: dict[str, Any] | None
    raw: dict[str, Any] = field(repr=False)


def _wait_turn(min_delay_s: float, nominatim_url: str) -> None:
    """
    Sleep so that requests to Nominatim are at least ``min_delay_s`` apart in this process.

    Parameters
    ----------
    min_delay_s
        The least time between two requests, in seconds.
    nominatim_url
        The service URL, for messages.

    Raises
    ------
    ServiceError
        When the wait would end after the deadline.
    """
    global _last_request  # noqa: PLW0603 - one clock for the whole process, as the policy asks
    with _lock:
        wait = _last_request + min_delay_s - time.monotonic()
        sleep_within_deadline(
            wait, service="Nominatim", url=nominatim_url, why="must wait between requests for"
        )
        _last_request = time.monotonic()


def _cache_file(cache_dir: Path, url: str, query: str) -> Path:
    """
    Return the cache file of one query.

    Parameters
    ----------
    cache_dir
        The walks cache directory.
    url
        The Nominatim base URL.
    query
        The place name.

    Returns
    -------
    Path
        ``cache_dir/geocode/<sha256>.json``.
    """
    digest = hashlib.sha256(f"{url}\n{query.strip().lower()}".encode()).hexdigest()
    return cache_dir / "geocode" / f"{digest}.json"


def _write_json_atomic(path: Path, payload: object) -> None:
    """
    Write JSON to a file atomically; failures are logged, not raised (it is only a cache).

    Parameters
    ----------
    path
        The file; a directory standing in its place is removed first.
    payload
        A JSON-serialisable value.
    """
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, json.dumps(payload))
    except OSError as err:
        log.warning("could not cache the geocoder reply in %s: %s", path, err)


def _read_cached(path: Path, query: str, nominatim_url: str) -> Place | None:
    """
    Read a cached geocoder reply; a file that is unreadable or not a usable place is discarded.

    Parameters
    ----------
    path
        The cache file.
    query
        The place name, for messages.
    nominatim_url
        The service URL, for messages.

    Returns
    -------
    Place or None
        The place, or None (a cache miss).
    """
    if not path.exists() and not path.is_symlink():
        return None
    try:
        if path.is_dir():
            msg = "a directory stands where a cache file belongs"
            raise ValueError(msg)  # noqa: TRY301 - one place discards every kind of bad file
        raw = json.loads(path.read_text(encoding="utf-8"))
        return _place_from_raw(query, raw, nominatim_url)
    except (OSError, ValueError, ServiceError) as err:
        reason = one_line(str(err))[:200]
        log.warning("discarding the unusable geocoder cache file %s (%s)", path, reason)
        try:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        except OSError as gone:
            log.warning("could not remove the bad cache entry %s: %s", path, gone)
        return None


def _nominatim_adapter(nominatim_url: str, query: str) -> Callable[..., Any]:
    """
    Make a geopy adapter factory whose requests go through ``walks._http``.

    geopy's own ``RequestsAdapter`` retries inside one call (urllib3 ``Retry``, 3 requests per
    try) and reads bodies without a total time limit. This adapter makes exactly one request
    per call, with ``http_get``: time-out capped by the deadline, body read against the
    deadline, 429 / 5xx / 4xx turned into our errors. It also checks the reply's shape (a list
    of objects, or an ``{"error": ...}`` object) and the first place's numbers before geopy
    reads them.

    Parameters
    ----------
    nominatim_url
        The service base URL, for messages.
    query
        The place name asked for, for messages.

    Returns
    -------
    callable
        The ``adapter_factory`` for geopy's ``Nominatim``.
    """
    from geopy.adapters import BaseSyncAdapter  # noqa: PLC0415 - geopy lives in this module only

    def fetch(url: str, timeout: float, headers: dict[str, str]) -> requests.Response:
        return http_get(
            url, service="Nominatim", base_url=nominatim_url, headers=headers, timeout_s=timeout
        )

    class WalksAdapter(BaseSyncAdapter):  # type: ignore[misc]
        """One request per call, within the deadline."""

        def get_text(self, url: str, *, timeout: float, headers: dict[str, str]) -> str:
            return fetch(url, timeout, headers).text

        def get_json(self, url: str, *, timeout: float, headers: dict[str, str]) -> object:
            try:
                data = json.loads(fetch(url, timeout, headers).content)
            except ValueError as err:
                msg = f"Nominatim at {nominatim_url!r} sent a reply that is not JSON: check the URL"
                raise ServiceError(msg, url=nominatim_url) from err
            if isinstance(data, dict) and "error" in data:
                return data
            if not (isinstance(data, list) and all(isinstance(d, dict) for d in data)):
                msg = (
                    f"Nominatim at {nominatim_url!r} sent a reply of the wrong shape "
                    f"(a {type(data).__name__} where a list of places belongs): check the URL"
                )
                raise ServiceError(msg, url=nominatim_url)
            if data:
                _place_from_raw(query, data[0], nominatim_url)
            return data

    def factory(*, proxies: object, ssl_context: object) -> object:
        return WalksAdapter(proxies=proxies, ssl_context=ssl_context)

    return factory


def _ask_nominatim(
    query: str, *, nominatim_url: str, user_agent: str, timeout_s: float, min_delay_s: float
) -> dict[str, Any] | None:
    """
    Ask Nominatim once (exactly one HTTP request), translating geopy's errors into ours.

    Parameters
    ----------
    query
        The place name.
    nominatim_url
        The service base URL, e.g. ``https://nominatim.openstreetmap.org``.
    user_agent
        Our user agent.
    timeout_s
        Seconds to wait for the reply (capped by the deadline).
    min_delay_s
        The least time between two requests.

    Returns
    -------
    dict or None
        The first result's raw reply, or None when nothing matched.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, time-outs and unreachable hosts.
    ServiceError
        On other failures, such as a reply that is not JSON or not of Nominatim's shape.
    """
    from geopy import exc  # noqa: PLC0415 - geopy lives in this module only
    from geopy.geocoders import Nominatim  # noqa: PLC0415

    parts = urlsplit(nominatim_url)
    geocoder = Nominatim(
        domain=(parts.netloc + parts.path).rstrip("/"),
        scheme=parts.scheme or "https",
        user_agent=user_agent,
        timeout=timeout_s,
        adapter_factory=_nominatim_adapter(nominatim_url, query),
    )
    _wait_turn(min_delay_s, nominatim_url)
    try:
        location = geocoder.geocode(query, exactly_one=True, geometry="geojson")
    except exc.GeocoderServiceError as err:  # an {"error": ...} reply
        msg = (
            f"Nominatim at {nominatim_url!r} refused the query {query!r}: "
            f"{one_line(str(err))[:200]}"
        )
        raise ServiceError(msg, url=nominatim_url) from err
    except (TypeError, ValueError, AttributeError) as err:  # geopy could not read the place
        msg = (
            f"Nominatim at {nominatim_url!r} sent a place of the wrong shape for {query!r}: "
            "check the URL"
        )
        raise ServiceError(msg, url=nominatim_url) from err
    return None if location is None else dict(location.raw)


def geocode(
    query: str,
    *,
    nominatim_url: str = settings.NOMINATIM_URL,
    cache_dir: Path | None = None,
    user_agent: str = settings.USER_AGENT,
    timeout_s: float = 30.0,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
    min_delay_s: float = settings.NOMINATIM_MIN_DELAY_S,
) -> Place:
    """
    Find a place by name with Nominatim.

    Replies are cached on disk per URL and query, so a place is asked for once (a cache file
    that is unreadable or not a usable place is discarded and asked for again); requests are
    at least ``min_delay_s`` apart, and 429 / 5xx / time-outs are retried with back-off. Each
    try is exactly one HTTP request, and everything happens within the current
    ``walks._http.deadline`` (``settings.RUN_TIMEOUT_S`` when none is active).

    Parameters
    ----------
    query
        The place name, e.g. ``"Montmartre, Paris"`` (at most ``settings.MAX_QUERY_CHARS``
        characters).
    nominatim_url
        The Nominatim base URL, http or https.
    cache_dir
        The walks cache directory; None uses ``settings.default_cache_dir()``.
    user_agent
        The user agent sent (Nominatim's policy requires a real one).
    timeout_s
        Seconds to wait for a reply (capped by the deadline).
    attempts
        How many times to try in all (at least 1): that many requests at most.
    backoff_s
        The first pause between tries; it doubles each time.
    min_delay_s
        The least time between two requests, in seconds.

    Returns
    -------
    Place
        The best match.

    Raises
    ------
    GeocodeError
        When nothing matches the name.
    ServiceError
        When Nominatim cannot be reached, keeps failing, runs out of time or answers nonsense.
    UsageError
        When the name is not text, empty, too long or holds control characters, the URL is
        not http(s), or another argument is out of range.
    """
    query = _check_query(query)
    nominatim_url = check_service_url(nominatim_url, service="Nominatim", option="--nominatim-url")
    check_attempts(attempts)
    check_seconds(timeout_s, "timeout_s")
    check_seconds(backoff_s, "backoff_s", allow_zero=True)
    check_seconds(min_delay_s, "min_delay_s", allow_zero=True)
    agent: object = user_agent
    if not (isinstance(agent, str) and agent.strip()):
        msg = f"user_agent {user_agent!r} is empty: Nominatim's usage policy asks for a real one"
        raise UsageError(msg)
    cache_file = _cache_file(check_cache_dir(cache_dir), nominatim_url, query)
    cached = _read_cached(cache_file, query, nominatim_url)
    if cached is not None:
        return cached
    with run_deadline():
        raw = call_with_retries(
            lambda: _ask_nominatim(
                query, nominatim_url=nominatim_url, user_agent=user_agent,
                timeout_s=timeout_s, min_delay_s=min_delay_s,
            ),
            service="Nominatim", url=nominatim_url, attempts=attempts, backoff_s=backoff_s,
        )  # fmt: skip
    if raw is None:
        msg = (
            f"no place called {query!r} was found: check the spelling, add the city "
            "(e.g. 'Montmartre, Paris'), or give 'lat,lon' or 'west,south,east,north'"
        )
        raise GeocodeError(msg)
    place = _place_from_raw(query, raw, nominatim_url)
    _write_json_atomic(cache_file, raw)
    return place


def _check_query(query: object) -> str:
    """
    Check a place name before it is sent anywhere.

    Parameters
    ----------
    query
        The place name.

    Returns
    -------
    str
        The name, stripped.

    Raises
    ------
    UsageError
        When it is not text, is empty, is longer than ``settings.MAX_QUERY_CHARS`` or holds
        control characters.
    """
    fix = "give a place name such as 'Montmartre, Paris', or 'lat,lon'"
    if not isinstance(query, str):
        msg = f"the place name {query!r} is not text: {fix}"
        raise UsageError(msg)
    text = query.strip()
    if not text:
        msg = f"the place name {query!r} is empty: {fix}"
        raise UsageError(msg)
    if len(text) > settings.MAX_QUERY_CHARS:
        msg = (
            f"the place name {text[:40]!r}... is {len(text)} characters long, more than the "
            f"{settings.MAX_QUERY_CHARS} allowed: shorten it"
        )
        raise UsageError(msg)
    if not text.isprintable():
        msg = f"the place name {text!r} holds control characters: {fix}"
        raise UsageError(msg)
    return text


def _coordinate(value: object, limit: float) -> float:
    """
    Read one coordinate of a Nominatim reply (a number or a numeric string).

    Parameters
    ----------
    value
        The value.
    limit
        The largest magnitude allowed (90 for latitudes, 180 for longitudes).

    Returns
    -------
    float
        The coordinate.

    Raises
    ------
    ValueError
        When it is not a finite number within ``±limit``.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        msg = f"{value!r} is not a number"
        raise ValueError(msg)  # noqa: TRY004 - ValueError is what callers catch
    number = float(value)
    if not (math.isfinite(number) and abs(number) <= limit):
        msg = f"{value!r} is not within ±{limit:g}"
        raise ValueError(msg)
    return number


def _place_from_raw(query: str, raw: object, nominatim_url: str) -> Place:
    """
    Turn a Nominatim result into a ``Place``, checking its numbers.

    Parameters
    ----------
    query
        The place name asked for, for messages.
    raw
        One Nominatim search result (``format=json``).
    nominatim_url
        The service URL, for messages.

    Returns
    -------
    Place
        The place.

    Raises
    ------
    ServiceError
        When the result is not an object, or its point or bounding box is missing, not
        numbers, not finite, out of range, or (for the box) upside down.
    """
    try:
        if not isinstance(raw, dict):
            msg = f"a {type(raw).__name__} where a place belongs"
            raise ValueError(msg)  # noqa: TRY004, TRY301 - one message for every bad shape
        point = LatLon(_coordinate(raw.get("lat"), 90.0), _coordinate(raw.get("lon"), 180.0))
        box = raw.get("boundingbox")
        if not (isinstance(box, list) and len(box) == 4):  # noqa: PLR2004
            msg = f"the bounding box {box!r} is not 4 numbers"
            raise ValueError(msg)  # noqa: TRY301
        south, north = (_coordinate(v, 90.0) for v in box[:2])
        west, east = (_coordinate(v, 180.0) for v in box[2:])
        if south > north or west > east:
            msg = f"the bounding box {box!r} is upside down"
            raise ValueError(msg)  # noqa: TRY301
    except ValueError as err:
        detail = one_line(str(err))[:120]
        msg = (
            f"Nominatim at {nominatim_url!r} sent no usable coordinates for {query!r} "
            f"({detail}): check the URL, or try another name"
        )
        raise ServiceError(msg, url=nominatim_url) from err
    geojson = raw.get("geojson")
    return Place(
        name=one_line(str(raw.get("display_name", query))),
        point=point,
        bbox=BBox(west, south, east, north),
        geojson=geojson if isinstance(geojson, dict) else None,
        raw=raw,
    )
