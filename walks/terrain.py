"""Ground elevations without asking: Terrarium elevation tiles fetched, cached and checked.

The source is the keyless public "Terrain Tiles" dataset on AWS Open Data (Mapzen / Tilezen,
built from SRTM, GMTED2010, ETOPO1, NED and other open sources; see
https://registry.opendata.aws/terrain-tiles/), in the Terrarium encoding: 256 x 256 px PNG
tiles in the Web Mercator tile scheme at ``{base}/{z}/{x}/{y}.png``, where a pixel's elevation
in metres is ``R * 256 + G + B / 256 - 32768``.

For an area (and the corridor to its landmark), the zoom is the finest whose pixels are at
least ``MIN_PIXEL_M`` on the ground (``MAX_PIXEL_M`` at most, coarser only when that is the
only way to stay within ``MAX_TILES`` tiles). Tiles are cached under
``<cache dir>/terrain/terrarium/z-x-y.png``, written atomically and checked on every read (a
PNG of the right size with plausible elevations); damaged ones are fetched again. Every
request has a timeout and bounded retries. Without a network the cached tiles are used; a
tile that cannot be had leaves the ground flat with a warning, never a failed walk.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import socket
import time
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from walks import _files, settings
from walks._http import call_with_retries, http_get
from walks.errors import RetryableServiceError, ServiceError, UnreachableError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from numpy.typing import NDArray
    from shapely import Polygon

    from walks.types import BBox, LatLon

log = logging.getLogger(__name__)

#: The Terrarium tiles of the AWS Open Data "Terrain Tiles" (no key needed).
TERRARIUM_URL = "https://s3.amazonaws.com/elevation-tiles-prod/terrarium"
#: Environment variable naming another tile source; set to an empty value to never download.
TERRAIN_URL_ENV = "WALKS_TERRAIN_URL"
#: Credit for the elevation data, to show with results that use it.
TERRAIN_ATTRIBUTION = "Elevation: Terrain Tiles (Mapzen/Tilezen, AWS Open Data; SRTM, NED, ...)"
#: Tile size in pixels.
TILE_PX = 256
#: Finest ground size of a pixel to fetch, in metres (finer adds tiles, not accuracy).
MIN_PIXEL_M = 10.0
#: Coarsest ground size of a pixel wanted, in metres (exceeded only to stay in MAX_TILES).
MAX_PIXEL_M = 30.0
#: Most tiles fetched for one area (and corridor).
MAX_TILES = 16
#: Finest zoom the source serves.
MAX_ZOOM = 15
#: Seconds to wait for one tile.
TILE_TIMEOUT_S = 20.0
#: Longest time spent fetching the tiles of one region, in seconds (then the ground is flat).
FETCH_BUDGET_S = 90.0
#: Largest tile accepted, in bytes (real ones are about 100 KB).
MAX_TILE_BYTES = 4 << 20
#: Plausible elevations in metres (the Dead Sea shore to above Everest; deep sea floor).
LOWEST_M, HIGHEST_M = -11_500.0, 9_000.0
#: Seconds for which a source that could not be connected to is not asked again.
UNREACHABLE_S = 120.0
_EQUATOR_M = 40_075_016.686
_MAX_LAT = 85.05112878


class TileError(ValueError):
    """A tile's bytes are not a Terrarium tile (internal: the tile is fetched again)."""


def default_terrain_url() -> str | None:
    """
    Return the tile source: ``WALKS_TERRAIN_URL`` when set, else ``TERRARIUM_URL``.

    Returns
    -------
    str or None
        The base URL, or None when the variable is set but empty (never download: cached
        tiles only).
    """
    value = os.environ.get(TERRAIN_URL_ENV)
    if value is None:
        return TERRARIUM_URL
    return value.strip() or None


def pixel_m(zoom: int, lat: float) -> float:
    """
    Ground size of a tile pixel.

    Parameters
    ----------
    zoom
        The zoom level.
    lat
        The latitude, degrees.

    Returns
    -------
    float
        Metres.
    """
    return float(_EQUATOR_M * math.cos(math.radians(lat)) / (TILE_PX * 2**zoom))


def _tile_xy(lat: NDArray[np.float64], lon: NDArray[np.float64], zoom: int) -> tuple[
    NDArray[np.float64], NDArray[np.float64]
]:  # fmt: skip
    """
    Web Mercator position in tiles (fractional) at a zoom.

    Parameters
    ----------
    lat, lon
        Degrees.
    zoom
        The zoom level.

    Returns
    -------
    tuple of ndarray
        ``(x, y)``: tile column and row, with the fraction inside the tile.
    """
    n = 2.0**zoom
    x = (np.asarray(lon, dtype=float) + 180.0) / 360.0 * n
    phi = np.radians(np.clip(np.asarray(lat, dtype=float), -_MAX_LAT, _MAX_LAT))
    y = (1.0 - np.arcsinh(np.tan(phi)) / math.pi) / 2.0 * n
    return x, y


def _tile_box(x: int, y: int, zoom: int) -> tuple[float, float, float, float]:
    """
    Give a tile's bounds in degrees.

    Parameters
    ----------
    x, y, zoom
        The tile.

    Returns
    -------
    tuple
        ``(west, south, east, north)``.
    """
    n = 2.0**zoom

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360.0 - 180.0, lat(y + 1), (x + 1) / n * 360.0 - 180.0, lat(y)


def terrain_region(box: BBox, landmark: LatLon | None = None, *, margin_m: float = 100.0) -> (
    Polygon
):  # fmt: skip
    """
    Outline where ground elevations are needed, with a margin.

    That is an area's box and, with a landmark, the corridor to it (their convex hull).

    Parameters
    ----------
    box
        The area's box.
    landmark
        Where the landmark stands, or None.
    margin_m
        Extra ground around it.

    Returns
    -------
    shapely.Polygon
        Longitude/latitude outline.
    """
    import shapely  # noqa: PLC0415

    shapes = [shapely.box(box.west, box.south, box.east, box.north)]
    if landmark is not None:
        shapes.append(shapely.Point(landmark.lon, landmark.lat))
    hull = shapely.union_all(shapes).convex_hull
    lat = (box.south + box.north) / 2
    grow = margin_m / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))
    region: Polygon = hull.buffer(grow, join_style="mitre")
    return region


def choose_tiles(region: Polygon) -> tuple[int, list[tuple[int, int]]]:
    """
    Pick the zoom and the tiles that cover a region.

    The finest zoom whose pixels are at least ``MIN_PIXEL_M`` and which needs at most
    ``MAX_TILES`` tiles (only tiles that touch the region are counted).

    Parameters
    ----------
    region
        Longitude/latitude outline.

    Returns
    -------
    tuple
        ``(zoom, [(x, y), ...])`` with the tiles sorted.
    """
    import shapely  # noqa: PLC0415

    west, south, east, north = region.bounds
    lat = (south + north) / 2
    zoom = MAX_ZOOM
    while zoom > 0 and pixel_m(zoom, lat) < MIN_PIXEL_M:
        zoom -= 1
    while True:
        x0, y1 = _tile_xy(np.array(south), np.array(west), zoom)
        x1, y0 = _tile_xy(np.array(north), np.array(east), zoom)
        last = 2**zoom - 1
        cols = range(max(0, int(x0)), min(last, int(x1)) + 1)
        rows = range(max(0, int(y0)), min(last, int(y1)) + 1)
        if len(cols) * len(rows) > 4 * MAX_TILES and zoom > 0:
            zoom -= 1
            continue
        tiles = [
            (x, y) for x in cols for y in rows
            if shapely.intersects(region, shapely.box(*_tile_box(x, y, zoom)))
        ]  # fmt: skip
        if (len(tiles) <= MAX_TILES and len(cols) * len(rows) <= 4 * MAX_TILES) or zoom == 0:
            return zoom, sorted(tiles)
        zoom -= 1


def decode_tile(data: bytes) -> NDArray[np.float32]:
    """
    Read a Terrarium tile.

    Parameters
    ----------
    data
        The PNG's bytes.

    Returns
    -------
    ndarray
        ``(256, 256)`` elevations in metres, row 0 the north edge.

    Raises
    ------
    TileError
        When the bytes are not a 256 x 256 RGB PNG of plausible elevations.
    """
    import rasterio  # noqa: PLC0415
    from rasterio.io import MemoryFile  # noqa: PLC0415

    if len(data) > MAX_TILE_BYTES:
        msg = f"a tile of {len(data):,} bytes is too large"
        raise TileError(msg)
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        msg = "not a PNG"
        raise TileError(msg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            with MemoryFile(data) as memory, memory.open() as src:
                if (src.driver, src.width, src.height) != ("PNG", TILE_PX, TILE_PX) or (
                    src.count < 3 or src.dtypes[0] != "uint8"  # noqa: PLR2004
                ):
                    msg = (f"a {src.width} x {src.height} {src.dtypes[0]} image with "
                           f"{src.count} band(s)")  # fmt: skip
                    raise TileError(msg)
                rgb = src.read((1, 2, 3)).astype(np.float64)
    except rasterio.errors.RasterioError as err:
        msg = f"an unreadable PNG ({err})"
        raise TileError(msg) from err
    elevation = rgb[0] * 256.0 + rgb[1] + rgb[2] / 256.0 - 32768.0
    low, high = float(elevation.min()), float(elevation.max())
    if low < LOWEST_M or high > HIGHEST_M:
        msg = f"elevations from {low:,.0f} to {high:,.0f} m are not plausible"
        raise TileError(msg)
    out: NDArray[np.float32] = elevation.astype(np.float32)
    return out


@dataclass(frozen=True)
class TileTerrain:
    """Ground elevations from a mosaic of Terrarium tiles, sampled bilinearly.

    Attributes
    ----------
    zoom
        The tiles' zoom.
    x0, y0
        The mosaic's north-west tile.
    elevations
        ``(rows, cols)`` metres, tile pixels side by side, row 0 the north edge.
    """

    zoom: int
    x0: int
    y0: int
    elevations: NDArray[np.float32]

    def sample(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> NDArray[np.float64]:
        """
        Ground elevation at points (bilinear between pixel centres; clamped at the edges).

        Parameters
        ----------
        lats, lons
            Points in degrees.

        Returns
        -------
        ndarray
            Elevations in metres.
        """
        tx, ty = _tile_xy(lats, lons, self.zoom)
        rows, cols = self.elevations.shape
        fx = np.clip((tx - self.x0) * TILE_PX - 0.5, 0.0, cols - 1.0)
        fy = np.clip((ty - self.y0) * TILE_PX - 0.5, 0.0, rows - 1.0)
        c0 = np.minimum(fx.astype(np.int64), cols - 2) if cols > 1 else np.zeros_like(fx, int)
        r0 = np.minimum(fy.astype(np.int64), rows - 2) if rows > 1 else np.zeros_like(fy, int)
        c1, r1 = np.minimum(c0 + 1, cols - 1), np.minimum(r0 + 1, rows - 1)
        wx, wy = fx - c0, fy - r0
        e = self.elevations
        top = e[r0, c0] * (1 - wx) + e[r0, c1] * wx
        bottom = e[r1, c0] * (1 - wx) + e[r1, c1] * wx
        out: NDArray[np.float64] = np.asarray(top * (1 - wy) + bottom * wy, dtype=np.float64)
        return out

    def covers(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> bool:
        """
        Say whether every point lies on the mosaic.

        Parameters
        ----------
        lats, lons
            Points in degrees.

        Returns
        -------
        bool
            True when all are inside it.
        """
        tx, ty = _tile_xy(lats, lons, self.zoom)
        rows, cols = self.elevations.shape
        return bool(
            np.all((tx >= self.x0) & (tx <= self.x0 + cols / TILE_PX))
            and np.all((ty >= self.y0) & (ty <= self.y0 + rows / TILE_PX))
        )


@dataclass(frozen=True)
class TerrainFetch:
    """What fetching terrain gave.

    Attributes
    ----------
    terrain
        The elevations, or None when some tile could not be had (the ground is then flat).
    problem
        Why not, as one sentence for a warning; None when all went well, or when tiles
        were missing from the cache with downloads off (no source URL).
    downloaded
        How many tiles came from the network (the rest from the cache).
    """

    terrain: TileTerrain | None
    problem: str | None
    downloaded: int = 0


def _cache_folder(cache_dir: Path) -> Path:
    """
    Give where tiles are cached.

    One folder whatever the source: every source serves the same Terrarium tiles, and a run
    with downloads off must find what any earlier run fetched.

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    Path
        ``<cache_dir>/terrain/terrarium``.
    """
    return cache_dir / "terrain" / "terrarium"


def _unreachable_note(cache_dir: Path) -> Path:
    """
    Give the file that remembers a source that could not be connected to.

    Parameters
    ----------
    cache_dir
        The walks cache directory.

    Returns
    -------
    Path
        ``<cache_dir>/terrain/unreachable.json``.
    """
    return cache_dir / "terrain" / "unreachable.json"


def _no_connection(err: BaseException) -> bool:
    """
    Say whether an error means the source could not be connected to at all.

    Parameters
    ----------
    err
        The error a tile download ended with.

    Returns
    -------
    bool
        True when its causes hold a refused or timed-out connection (``UnreachableError``)
        or a host name that cannot be looked up (no network).
    """
    seen: set[int] = set()
    todo: list[BaseException | None] = [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        if isinstance(current, (UnreachableError, socket.gaierror)):
            return True
        seen.add(id(current))
        todo += [current.__cause__, current.__context__]
    return False


def _remembered_failure(note: Path, url: str) -> str | None:
    """
    Read why a source could not be connected to, if that was found out lately.

    Parameters
    ----------
    note
        The note file (see ``_unreachable_note``).
    url
        The source's base URL.

    Returns
    -------
    str or None
        The error of the last try, when it was for this source less than ``UNREACHABLE_S``
        seconds ago; None otherwise (also for a missing or damaged note).
    """
    try:
        record = json.loads(note.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict):
        return None
    at, error = record.get("at"), record.get("error")
    if record.get("url") != url or not isinstance(at, float) or not isinstance(error, str):
        return None
    if not 0.0 <= time.time() - at < UNREACHABLE_S:
        return None
    log.info("terrain tiles: %s could not be connected to %.0f s ago; not asked again before "
             "%.0f s have passed", url, time.time() - at, UNREACHABLE_S)  # fmt: skip
    return error


def _remember_failure(note: Path, url: str, error: str) -> None:
    """
    Note that a source could not be connected to, so that the next runs do not wait for it.

    Parameters
    ----------
    note
        The note file (see ``_unreachable_note``).
    url
        The source's base URL.
    error
        The error, as it goes into the warning.
    """
    record = {"url": url, "at": time.time(), "error": error}
    try:
        note.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(note, json.dumps(record))
    except OSError as err:
        log.debug("cannot note the unreachable terrain source in %s (%s)", note, err)


def _forget_failure(note: Path) -> None:
    """
    Remove the note of an unreachable source, once a tile came through.

    Parameters
    ----------
    note
        The note file (see ``_unreachable_note``).
    """
    try:
        note.unlink(missing_ok=True)
    except OSError as err:
        log.debug("cannot remove %s (%s)", note, err)


def _read_cached(path: Path) -> NDArray[np.float32] | None:
    """
    Read a cached tile, discarding it when damaged.

    Parameters
    ----------
    path
        The tile file.

    Returns
    -------
    ndarray or None
        Its elevations, or None when it is missing or was damaged (and removed).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as err:
        log.warning("cannot read the cached terrain tile %s (%s): fetching it again", path, err)
        return None
    try:
        return decode_tile(data)
    except TileError as err:
        log.warning("the cached terrain tile %s is damaged (%s): fetching it again", path, err)
        try:
            path.unlink()
        except OSError:
            log.debug("cannot remove %s", path)
        return None


def _download(url: str, timeout_s: float) -> bytes:
    """
    Get one tile's bytes.

    Parameters
    ----------
    url
        The tile's URL.
    timeout_s
        Seconds to wait for the reply.

    Returns
    -------
    bytes
        A checked Terrarium tile.

    Raises
    ------
    RetryableServiceError
        For 429, 5xx, a time-out, a dropped connection or a damaged tile.
    ServiceError
        For other replies (404: no such tile) and when no connection can be made at all.
    """
    base = "/".join(url.split("/", 3)[:3])
    try:  # the body is read within the run's deadline (see walks._http)
        reply = http_get(
            url, service="Terrain tiles", base_url=base,
            headers={"User-Agent": settings.USER_AGENT}, timeout_s=timeout_s,
        )  # fmt: skip
    except UnreachableError as err:  # no network: terrain is optional, do not wait for it
        msg = f"cannot connect ({err})"
        raise ServiceError(msg, url=url) from err
    body = reply.content
    if len(body) > MAX_TILE_BYTES:
        msg = f"a tile of {len(body)} bytes, more than a tile can be"
        raise RetryableServiceError(msg, url=url, status=reply.status_code)
    status = reply.status_code
    try:
        decode_tile(body)
    except TileError as err:
        msg = f"a damaged tile: {err}"
        raise RetryableServiceError(msg, url=url, status=status) from err
    return bytes(body)


def _get_tile(
    fetch: Callable[[], bytes], note: Path, url: str, *, first: bool
) -> tuple[bytes | None, str | None]:
    """
    Download one tile, unless the source was found unreachable lately.

    Parameters
    ----------
    fetch
        Downloads the tile (with retries), raising ``ServiceError`` when it cannot.
    note
        The note of an unreachable source (see ``_unreachable_note``).
    url
        The source's base URL.
    first
        Whether this is the first tile of the run asked from the source (later ones follow
        a tile that came through, so the note is not read).

    Returns
    -------
    tuple
        ``(data, None)``, or ``(None, error)`` with the error of this try or of the try the
        note remembers. A failure to connect at all is noted; a tile that came first through
        removes the note.
    """
    error = _remembered_failure(note, url) if first else None
    if error is not None:
        return None, error
    try:
        data = fetch()
    except ServiceError as err:
        if _no_connection(err):
            _remember_failure(note, url, str(err))
        return None, str(err)
    if first:
        _forget_failure(note)
    return data, None


def fetch_terrain(
    region: Polygon,
    *,
    cache_dir: Path | None = None,
    url: str | None = TERRARIUM_URL,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
    timeout_s: float = TILE_TIMEOUT_S,
    budget_s: float = FETCH_BUDGET_S,
) -> TerrainFetch:
    """
    Get ground elevations for a region: from the cache, else from the tile source.

    Parameters
    ----------
    region
        Longitude/latitude outline (see ``terrain_region``).
    cache_dir
        The walks cache directory; None uses the default.
    url
        The tile source's base URL (tiles at ``{url}/{z}/{x}/{y}.png``); None uses cached
        tiles only, and quietly gives no terrain when one is missing.
    attempts
        Tries per tile (429, 5xx, time-outs and damaged tiles are retried).
    backoff_s
        First pause between tries, doubled each time.
    timeout_s
        Seconds to wait for one tile.
    budget_s
        Seconds after which no further tile is asked for (a safety guard on slow sources).

    Returns
    -------
    TerrainFetch
        The terrain, or None with the reason when any tile is missing. After the first tile
        that cannot be had no further one is asked for. When the source could not be
        connected to (no network, a refused connection) less than ``UNREACHABLE_S`` seconds
        ago, a missing tile is not asked for: the reason is that failure, said again.
    """
    zoom, tiles = choose_tiles(region)
    cache_dir = cache_dir or settings.default_cache_dir()
    folder = _cache_folder(cache_dir)
    note = _unreachable_note(cache_dir)
    arrays: dict[tuple[int, int], NDArray[np.float32]] = {}
    downloaded, can_write = 0, True
    deadline = time.monotonic() + budget_s
    for x, y in tiles:
        path = folder / f"{zoom}-{x}-{y}.png"
        cached = _read_cached(path)
        if cached is not None:
            arrays[x, y] = cached
            continue
        if url is None:  # downloads are off by choice: flat ground is what was asked for
            log.info("terrain tile %d/%d/%d is not cached and downloads are off: flat ground",
                     zoom, x, y)  # fmt: skip
            return TerrainFetch(None, None)
        tile_url = f"{url.rstrip('/')}/{zoom}/{x}/{y}.png"
        if downloaded and time.monotonic() > deadline:
            return TerrainFetch(None, f"fetching terrain tiles took over {budget_s:g} s; tile "
                                      f"{zoom}/{x}/{y} was not asked for", downloaded)  # fmt: skip
        download = functools.partial(_download, tile_url, timeout_s)
        fetch = functools.partial(call_with_retries, download, service="the terrain tile source",
                                  url=tile_url, attempts=attempts, backoff_s=backoff_s)  # fmt: skip
        data, error = _get_tile(fetch, note, url, first=not downloaded)
        if data is None:
            return TerrainFetch(None, f"terrain tile {zoom}/{x}/{y} could not be fetched "
                                      f"from {tile_url!r} ({error})", downloaded)  # fmt: skip
        downloaded += 1
        arrays[x, y] = decode_tile(data)
        if can_write:
            try:
                folder.mkdir(parents=True, exist_ok=True)
                _files.write_atomic(path, data)
            except OSError as err:
                log.warning("cannot cache terrain tiles in %s (%s): they are used once",
                            folder, err)  # fmt: skip
                can_write = False
    xs, ys = [t[0] for t in tiles], [t[1] for t in tiles]
    x0, y0 = min(xs), min(ys)
    mosaic = np.zeros(((max(ys) - y0 + 1) * TILE_PX, (max(xs) - x0 + 1) * TILE_PX), np.float32)
    filled = np.zeros(mosaic.shape, dtype=bool)
    for (x, y), values in arrays.items():
        r, c = (y - y0) * TILE_PX, (x - x0) * TILE_PX
        mosaic[r : r + TILE_PX, c : c + TILE_PX] = values
        filled[r : r + TILE_PX, c : c + TILE_PX] = True
    if not filled.all():  # corners of the rectangle off the region, never sampled on a line
        mosaic[~filled] = float(mosaic[filled].mean())
    return TerrainFetch(TileTerrain(zoom, x0, y0, mosaic), None, downloaded)
