"""Place name -> location and outline via geopy's Nominatim: rate-limited, cached on disk."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from walks import _files, settings
from walks._http import call_with_retries
from walks.errors import GeocodeError, RetryableServiceError, ServiceError
from walks.types import BBox, LatLon

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

_HTTP_SERVER_ERROR = 500
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


def _wait_turn(min_delay_s: float) -> None:
    """
    Sleep so that requests to Nominatim are at least ``min_delay_s`` apart in this process.

    Parameters
    ----------
    min_delay_s
        The least time between two requests, in seconds.
    """
    global _last_request  # noqa: PLW0603 - one clock for the whole process, as the policy asks
    with _lock:
        wait = _last_request + min_delay_s - time.monotonic()
        if wait > 0:
            time.sleep(wait)
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
        The file.
    payload
        A JSON-serialisable value.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, json.dumps(payload))
    except OSError as err:
        log.warning("could not cache the geocoder reply in %s: %s", path, err)


def _ask_nominatim(
    query: str, *, nominatim_url: str, user_agent: str, timeout_s: float, min_delay_s: float
) -> dict[str, Any] | None:
    """
    Ask Nominatim once, translating geopy's errors into ours.

    Parameters
    ----------
    query
        The place name.
    nominatim_url
        The service base URL, e.g. ``https://nominatim.openstreetmap.org``.
    user_agent
        Our user agent.
    timeout_s
        Seconds to wait for the reply.
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
        On other failures, such as a reply that is not JSON.
    """
    from geopy import exc  # noqa: PLC0415 - geopy lives in this module only
    from geopy.geocoders import Nominatim  # noqa: PLC0415

    parts = urlsplit(nominatim_url)
    geocoder = Nominatim(
        domain=(parts.netloc + parts.path).rstrip("/"),
        scheme=parts.scheme or "https",
        user_agent=user_agent,
        timeout=timeout_s,
    )
    _wait_turn(min_delay_s)
    try:
        location = geocoder.geocode(query, exactly_one=True, geometry="geojson")
    except exc.GeocoderRateLimited as err:
        msg = "HTTP 429 Too Many Requests"
        raise RetryableServiceError(
            msg, url=nominatim_url, status=429,
            retry_after_s=err.retry_after,
        ) from err  # fmt: skip
    except (exc.GeocoderTimedOut, exc.GeocoderUnavailable) as err:
        raise RetryableServiceError(str(err) or type(err).__name__, url=nominatim_url) from err
    except exc.GeocoderParseError as err:
        msg = f"Nominatim at {nominatim_url!r} sent a reply that is not JSON: check the URL"
        raise ServiceError(msg, url=nominatim_url) from err
    except exc.GeocoderServiceError as err:
        status = getattr(err.__cause__, "status_code", None)
        if isinstance(status, int) and status >= _HTTP_SERVER_ERROR:
            raise RetryableServiceError(str(err), url=nominatim_url, status=status) from err
        msg = f"Nominatim at {nominatim_url!r} refused the query {query!r}: {err}"
        raise ServiceError(msg, url=nominatim_url, status=status) from err
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

    Replies are cached on disk per URL and query, so a place is asked for once; requests are
    at least ``min_delay_s`` apart, and 429 / 5xx / time-outs are retried with back-off.

    Parameters
    ----------
    query
        The place name, e.g. ``"Montmartre, Paris"``.
    nominatim_url
        The Nominatim base URL.
    cache_dir
        The walks cache directory; None uses ``settings.default_cache_dir()``.
    user_agent
        The user agent sent (Nominatim's policy requires a real one).
    timeout_s
        Seconds to wait for a reply.
    attempts
        How many times to try in all.
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
        When Nominatim cannot be reached, keeps failing or answers nonsense.
    """
    cache_dir = settings.default_cache_dir() if cache_dir is None else cache_dir
    cache_file = _cache_file(cache_dir, nominatim_url, query)
    raw: dict[str, Any] | None = None
    with contextlib.suppress(OSError, ValueError):
        cached = json.loads(cache_file.read_text(encoding="utf-8"))
        raw = cached if isinstance(cached, dict) else None
    if raw is None:
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
        _write_json_atomic(cache_file, raw)
    return _place_from_raw(query, raw)


def _place_from_raw(query: str, raw: dict[str, Any]) -> Place:
    """
    Turn a Nominatim result into a ``Place``.

    Parameters
    ----------
    query
        The place name asked for, for messages.
    raw
        One Nominatim search result (``format=json``).

    Returns
    -------
    Place
        The place.

    Raises
    ------
    ServiceError
        When the result lacks coordinates.
    """
    try:
        point = LatLon(float(raw["lat"]), float(raw["lon"]))
        south, north, west, east = (float(v) for v in raw.get("boundingbox") or [])
    except (KeyError, TypeError, ValueError) as err:
        msg = f"Nominatim's answer for {query!r} has no usable coordinates; try another name"
        raise ServiceError(msg, url="") from err
    geojson = raw.get("geojson")
    return Place(
        name=str(raw.get("display_name", query)),
        point=point,
        bbox=BBox(west, south, east, north),
        geojson=geojson if isinstance(geojson, dict) else None,
        raw=raw,
    )
