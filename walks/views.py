"""Landmark views, computed: line of sight over building heights (and terrain), and the light.

Buildings are rasterised once into a height grid in a local metric projection; rays from every
candidate point to the landmark are then sampled in numpy, all points at once, in chunks. For a
point at distance ``D`` from the landmark, an obstacle of height ``h`` at distance ``s`` hides
the landmark below ``z = eye + (h + c(s) - eye) * D / s``, where ``c(s) = s (D - s) / 2R'`` is
the Earth's curvature with standard refraction (``R' = R / (1 - 0.13)``). The visible fraction
is the part of the landmark's height above the highest such ``z``.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import logging
import math
import re
import tomllib
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from walks._resources import data_file
from walks.errors import DataError, LandmarkError
from walks.graph import EARTH_RADIUS_M, haversine_m, local_xy
from walks.types import Area, BBox, LatLon

if TYPE_CHECKING:
    import datetime as dt
    from pathlib import Path

    from numpy.typing import NDArray
    from shapely import Polygon

    from walks.data import Building, Feature

log = logging.getLogger(__name__)

#: Eye height of a standing walker, in metres.
EYE_M = 1.6
#: Effective Earth radius with standard atmospheric refraction (k = 0.13).
EFFECTIVE_RADIUS_M = EARTH_RADIUS_M / (1 - 0.13)
#: Step along a sight line beyond the building grid, where only assumed roofs and terrain are.
COARSE_STEP_M = 10.0
#: Most samples along one sight line; past it the steps grow, so work stays bounded.
MAX_SAMPLES = 8192
#: Most samples (points x samples) held in memory at once.
CHUNK_ELEMENTS = 1 << 19
#: Samples worked on at once within a chunk, so that the arrays stay in a CPU cache.
BLOCK_ELEMENTS = 1 << 14
#: The percentile of mapped building heights assumed where building data is missing.
ROOFLINE_PERCENTILE = 90.0
#: Fewest mapped heights from which the assumed roofline is taken (else the default height).
MIN_MAPPED_HEIGHTS = 10


@dataclass(frozen=True, slots=True)
class Landmark:
    """A tall thing worth seeing from the street.

    Attributes
    ----------
    key
        Identifier (``"eiffel-tower"``), or ``"custom"``.
    name
        Its name.
    location
        Its centre.
    height_m
        Its height above its ground.
    ground_m
        Its ground's elevation above sea level (used with a DEM).
    radius_m
        Half its footprint's size: rays stop this far from its centre.
    default_for
        Areas ``(west, south, east, north)`` where it is the default landmark.
    """

    key: str
    name: str
    location: LatLon
    height_m: float
    ground_m: float = 0.0
    radius_m: float = 30.0
    default_for: tuple[BBox, ...] = ()


def load_landmarks(path: Path | None = None) -> dict[str, Landmark]:
    """
    Read the landmarks file.

    Parameters
    ----------
    path
        A TOML file; None reads the shipped ``data/landmarks.toml``.

    Returns
    -------
    dict
        Landmarks by key.

    Raises
    ------
    LandmarkError
        When the file is unreadable or an entry lacks a number.
    """
    path = path or data_file("landmarks.toml")
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as err:
        msg = f"cannot read landmarks from {str(path)!r}: {err}"
        raise LandmarkError(msg) from err
    out = {}
    for key, raw in tables.items():
        try:
            out[key] = Landmark(
                key=key,
                name=str(raw["name"]),
                location=LatLon(float(raw["lat"]), float(raw["lon"])),
                height_m=float(raw["height_m"]),
                ground_m=float(raw.get("ground_m", 0.0)),
                radius_m=float(raw.get("radius_m", 30.0)),
                default_for=tuple(BBox(*map(float, b)) for b in raw.get("default_for", [])),
            )
        except (KeyError, TypeError, ValueError) as err:
            msg = f"landmark {key!r} in {str(path)!r} needs name, lat, lon and height_m ({err})"
            raise LandmarkError(msg) from err
    return out


def default_landmark(bbox: BBox) -> Landmark | None:
    """
    Pick the shipped landmark whose default area holds the centre of a bounding box.

    Parameters
    ----------
    bbox
        The walking area's box.

    Returns
    -------
    Landmark or None
        The landmark, or None when no default applies.
    """
    lon = (bbox.west + bbox.east) / 2
    lat = (bbox.south + bbox.north) / 2
    for landmark in load_landmarks().values():
        for box in landmark.default_for:
            if box.west <= lon <= box.east and box.south <= lat <= box.north:
                return landmark
    return None


_CUSTOM = re.compile(
    r"^\s*([-+]?\d+(?:\.\d*)?)\s*,\s*([-+]?\d+(?:\.\d*)?)\s*,\s*(\d+(?:\.\d*)?)\s*$"
)


def resolve_landmark(text: str, features: tuple[Feature, ...] = ()) -> Landmark:
    """
    Find the landmark a user named.

    Parameters
    ----------
    text
        ``"LAT,LON,HEIGHT_M"``, a key or name from the landmarks file (case-insensitive), or the
        name of an OSM feature of the area that has a ``height`` (or ``building:levels``).
    features
        The area's OSM features, searched by name.

    Returns
    -------
    Landmark
        The landmark.

    Raises
    ------
    LandmarkError
        When nothing matches; the message lists the known landmarks.
    """
    from walks.data import building_height  # noqa: PLC0415

    if match := _CUSTOM.match(text):
        lat, lon, height = (float(g) for g in match.groups())
        if not (abs(lat) <= 90 and abs(lon) <= 180 and height > 0):  # noqa: PLR2004
            msg = (
                f"landmark {text!r} is out of range: give LAT,LON,HEIGHT_M, e.g. 48.8583,2.2945,330"
            )
            raise LandmarkError(msg)
        return Landmark("custom", f"the landmark at {lat:.5f},{lon:.5f}", LatLon(lat, lon), height)
    wanted = text.strip().lower()
    known = load_landmarks()
    for landmark in known.values():
        if wanted in {landmark.key, landmark.name.lower()}:
            return landmark
    for feature in features:
        if feature.tags.get("name", "").lower() == wanted:
            height, how = building_height(feature.tags)
            if how != "default":
                return Landmark(f"{feature.osm_type}/{feature.osm_id}", feature.tags["name"],
                                LatLon(feature.lat, feature.lon), height)  # fmt: skip
    names = ", ".join(sorted(lm.name for lm in known.values()))
    msg = (
        f"landmark {text!r} was not found: use one of {names}, the name of a tall OSM feature "
        "of the area, or LAT,LON,HEIGHT_M"
    )
    raise LandmarkError(msg)


@dataclass(frozen=True)
class HeightGrid:
    """Building heights rasterised on a local metric grid.

    Attributes
    ----------
    lat0, lon0
        The projection's origin (x east and y north in metres from it).
    x0, y0
        The grid's south-west corner, in metres.
    cell_m
        Cell size.
    heights
        ``(rows, cols)`` heights in metres (row 0 is the south edge).
    known
        ``(west, south, east, north)`` in metres: where building data was loaded; outside it
        heights are unknown.
    known_mask
        ``(rows, cols)``: True where building data was loaded, when that is not the whole box
        (an area plus a corridor towards the landmark); None means the whole box.
    """

    lat0: float
    lon0: float
    x0: float
    y0: float
    cell_m: float
    heights: NDArray[np.float32]
    known: tuple[float, float, float, float]
    known_mask: NDArray[np.bool_] | None = None

    def project(self, lat: NDArray[np.float64], lon: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]
    ]:  # fmt: skip
        """
        Project degrees to the grid's metres.

        Parameters
        ----------
        lat, lon
            Degrees.

        Returns
        -------
        tuple of ndarray
            ``(x, y)`` in metres east and north of the origin.
        """
        return local_xy(np.asarray(lat) - self.lat0, lon, lat0=self.lat0, lon0=self.lon0)

    def unproject(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]
    ]:  # fmt: skip
        """
        Turn grid metres back into degrees.

        Parameters
        ----------
        x, y
            Metres east and north of the origin.

        Returns
        -------
        tuple of ndarray
            ``(lat, lon)``.
        """
        k = math.pi / 180 * EARTH_RADIUS_M
        return self.lat0 + np.asarray(y) / k, self.lon0 + np.asarray(x) / (
            k * math.cos(math.radians(self.lat0))
        )


def _flat_rings(
    buildings: tuple[Building, ...],
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.float64]]:
    """
    Put the buildings' outlines and heights into flat arrays.

    Parameters
    ----------
    buildings
        Footprints with heights.

    Returns
    -------
    tuple of ndarray
        ``(coords, counts, heights)``: ``(n, 2)`` longitude/latitude rows of all outlines one
        after the other, the number of rows of each outline, and each building's height.
    """
    counts = np.fromiter((len(b.outline) for b in buildings), np.int64, len(buildings))
    total = int(counts.sum())
    flat = np.fromiter(
        itertools.chain.from_iterable(itertools.chain.from_iterable(b.outline for b in buildings)),
        np.float64,
        2 * total,
    )
    heights = np.fromiter((b.height_m for b in buildings), np.float64, len(buildings))
    return flat.reshape(total, 2), counts, heights


def _burn_rings(
    out: NDArray[np.float32],
    x0: float,
    y0: float,
    cell_m: float,
    xy: tuple[NDArray[np.float64], NDArray[np.float64]],
    counts: NDArray[np.int64],
    values: NDArray[np.float32],
) -> None:
    """
    Burn polygons into a grid: each cell whose centre lies inside a ring takes the ring's value.

    A scanline fill of all rings at once: every edge is crossed with the rows of cell centres
    it spans (half-open in y, so a vertex on a row counts once), the crossings of each ring and
    row are sorted and paired (even-odd rule), and the cells whose centres lie strictly between
    a pair take the larger of their value and the ring's. This is the test ``shapely.contains_xy``
    makes cell by cell (a centre on the outline is outside), in numpy throughout.

    Parameters
    ----------
    out
        ``(rows, cols)`` grid, updated in place; row 0 is the south edge.
    x0, y0
        The grid's south-west corner in metres.
    cell_m
        Cell size.
    xy
        ``(x, y)`` in metres of all ring vertices, ring after ring.
    counts
        Vertices per ring (a ring need not repeat its first vertex).
    values
        Each ring's value.
    """
    rows, cols = out.shape
    x, y = xy
    keep = counts > 0
    if not keep.any():
        return
    ring = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    nxt = np.arange(x.size) + 1
    nxt[starts[keep] + counts[keep] - 1] = starts[keep]  # the closing edge of each ring
    xa, ya, xb, yb = x, y, x[nxt], y[nxt]
    with np.errstate(invalid="ignore"):
        lo = np.floor((np.minimum(ya, yb) - y0) / cell_m - 0.5) - 1
        hi = np.ceil((np.maximum(ya, yb) - y0) / cell_m - 0.5) + 1
    bad = np.bincount(ring, weights=~(np.isfinite(x) & np.isfinite(y)), minlength=counts.size)
    ok = bad[ring] == 0  # a ring with a vertex that is not a number covers nothing
    r_lo = np.where(ok, np.clip(lo, 0, rows), 0).astype(np.int64)
    r_hi = np.where(ok, np.clip(hi, -1, rows - 1), -1).astype(np.int64)
    n = np.maximum(r_hi - r_lo + 1, 0)
    edge = np.repeat(np.arange(x.size), n)
    row = np.repeat(r_lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
    cy = y0 + (row + 0.5) * cell_m  # the centres exactly as a cell-by-cell test sees them
    e_ya, e_yb = ya[edge], yb[edge]
    crosses = (e_ya > cy) != (e_yb > cy)
    edge, row, cy = edge[crosses], row[crosses], cy[crosses]
    e_xa, e_ya, e_yb = xa[edge], e_ya[crosses], e_yb[crosses]
    cx = e_xa + (cy - e_ya) * (xb[edge] - e_xa) / (e_yb - e_ya)
    which = ring[edge]
    order = np.lexsort((cx, row, which))
    cx, row, which = cx[order], row[order], which[order]
    # a closed ring crosses every row an even number of times: pair them up
    left, right, row, which = cx[0::2], cx[1::2], row[0::2], which[0::2]
    with np.errstate(invalid="ignore"):
        c_lo = np.clip(np.floor((left - x0) / cell_m - 0.5), 0, cols).astype(np.int64)
        c_hi = np.clip(np.ceil((right - x0) / cell_m - 0.5), -1, cols - 1).astype(np.int64)
    n = np.maximum(c_hi - c_lo + 1, 0)
    span = np.repeat(np.arange(n.size), n)
    col = np.repeat(c_lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))
    centre = x0 + (col + 0.5) * cell_m
    inside = (left[span] < centre) & (centre < right[span])
    span, col = span[inside], col[inside]
    np.maximum.at(out.reshape(-1), row[span] * cols + col, values[which[span]])


#: Bumped when the height grid's layout or rasterisation changes, so old cache entries are
#: not read.
GRID_CACHE_VERSION = 2


def _grid_key(parts: list[bytes]) -> str:
    """
    Name a height grid from everything it is made from.

    Parameters
    ----------
    parts
        The inputs, as bytes.

    Returns
    -------
    str
        A hex digest, the same for the same inputs.
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"height-grid/{GRID_CACHE_VERSION}".encode())
    for part in parts:
        digest.update(len(part).to_bytes(8, "little"))
        digest.update(part)
    return digest.hexdigest()


def _decode_grid(raw: bytes, shape: tuple[int, int], *, masked: bool) -> tuple[
    NDArray[np.float32], NDArray[np.bool_] | None
] | None:  # fmt: skip
    """
    Decode a kept height grid, or None when it is damaged or not the grid expected.

    Parameters
    ----------
    raw
        The grid as ``_encode_grid`` made it.
    shape
        The grid's expected ``(rows, cols)``.
    masked
        Whether a known-area mask is expected too.

    Returns
    -------
    tuple or None
        ``(heights, mask)``.
    """
    cells = shape[0] * shape[1]
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as data:
            palette = np.asarray(data["palette"])
            index = np.frombuffer(zlib.decompress(data["index"].tobytes()), np.uint16)
            bits = (
                np.frombuffer(zlib.decompress(data["mask"].tobytes()), np.uint8) if masked else None
            )
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        log.info("a kept height grid is unreadable (%s): rebuilding it", err)
        return None
    ok = palette.dtype == np.float32 and palette.ndim == 1 and index.size == cells
    ok = ok and (not index.size or int(index.max()) < palette.size)
    if bits is not None:
        ok = ok and bits.size == (cells + 7) // 8
    if not ok:
        log.info("a kept height grid is not the grid expected: rebuilding it")
        return None
    heights = palette[index].reshape(shape)
    mask = None if bits is None else np.unpackbits(bits, count=cells).astype(bool).reshape(shape)
    return heights, mask


def _encode_grid(heights: NDArray[np.float32], mask: NDArray[np.bool_] | None) -> bytes | None:
    """
    Encode a height grid compactly, or None for a grid too varied to be worth keeping.

    Parameters
    ----------
    heights, mask
        The grid.

    Returns
    -------
    bytes or None
        A palette of its heights and deflated 16-bit indices into it (a town's grid takes some
        hundred kB instead of megabytes), and the deflated bits of the mask.
    """
    palette, index = np.unique(heights, return_inverse=True)
    if palette.size > np.iinfo(np.uint16).max:
        return None  # a grid this varied is rebuilt each time rather than kept
    arrays: dict[str, NDArray[np.generic]] = {
        "palette": palette.astype(np.float32),
        "index": np.frombuffer(zlib.compress(index.astype(np.uint16).tobytes(), 1), np.uint8),
    }
    if mask is not None:
        packed = np.packbits(mask.reshape(-1)).tobytes()
        arrays["mask"] = np.frombuffer(zlib.compress(packed, 1), np.uint8)
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _grid_file(cache_dir: Path, key: str) -> Path:
    """
    Name the cache file of a height grid made from buildings of no region store.

    Parameters
    ----------
    cache_dir
        The walks cache directory.
    key
        The grid's key.

    Returns
    -------
    Path
        ``<cache_dir>/heights/grid-<key>.npz``.
    """
    return cache_dir / "heights" / f"grid-{key}.npz"


def _read_kept_grid(
    key: str, shape: tuple[int, int], *, masked: bool, store: Path | None, cache_dir: Path
) -> tuple[NDArray[np.float32], NDArray[np.bool_] | None] | None:
    """
    Read a height grid kept in a region store or in the cache's ``heights/`` folder.

    Parameters
    ----------
    key
        The grid's key.
    shape
        The grid's expected ``(rows, cols)``.
    masked
        Whether a known-area mask is expected too.
    store
        The region store the buildings came from, or None.
    cache_dir
        The walks cache directory (for buildings from no store).

    Returns
    -------
    tuple or None
        ``(heights, mask)``; None when none is kept, or it is damaged (a damaged file is
        removed, to be written again).
    """
    if store is not None:
        from walks import store_grids  # noqa: PLC0415

        raw = store_grids.read_grid(store, key)
        return None if raw is None else _decode_grid(raw, shape, masked=masked)
    path = _grid_file(cache_dir, key)
    try:
        raw = path.read_bytes()  # read whole, so that no file is left open on a damaged zip
    except FileNotFoundError:
        return None
    except OSError as err:  # e.g. a file where the cache folder should be: no cache then
        log.info("cannot read the height grid cache %s (%s)", path, err)
        return None
    grid = _decode_grid(raw, shape, masked=masked)
    if grid is None:
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            log.info("cannot remove %s (%s)", path, err)
    return grid


def _keep_grid(
    key: str,
    heights: NDArray[np.float32],
    mask: NDArray[np.bool_] | None,
    *,
    store: Path | None,
    cache_dir: Path,
) -> None:
    """
    Keep a height grid in its region store, or atomically in the cache; a failure is logged.

    Parameters
    ----------
    key
        The grid's key.
    heights, mask
        The grid.
    store
        The region store the buildings came from, or None.
    cache_dir
        The walks cache directory (for buildings from no store).
    """
    data = _encode_grid(heights, mask)
    if data is None:
        return
    if store is not None:
        from walks import store_grids  # noqa: PLC0415

        store_grids.keep_grid(store, key, data)
        return
    from walks import _files  # noqa: PLC0415

    path = _grid_file(cache_dir, key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _files.write_atomic(path, data)
    except OSError as err:
        log.info("cannot cache the height grid in %s (%s)", path.parent, err)


def height_grid(
    buildings: tuple[Building, ...],
    known: BBox,
    *,
    cell_m: float = 2.0,
    known_polygon: Polygon | None = None,
    cache_dir: Path | None = None,
    store: Path | None = None,
) -> HeightGrid:
    """
    Rasterise building footprints into a height grid covering the known area.

    Parameters
    ----------
    buildings
        Footprints with heights.
    known
        The box (degrees) where building data is complete.
    cell_m
        Cell size in metres; grown for large boxes so the grid stays under ~4 million cells.
    known_polygon
        Where inside the box building data is complete (degrees), or None for all of it.
    cache_dir
        The walks cache directory: the grid is kept in ``heights/`` there, keyed by the
        buildings, the box, the polygon and the cell size, and read back when they are the
        same (a damaged entry is rebuilt). None neither reads nor keeps a grid.
    store
        The region store the buildings were read from: the grid is kept there instead, and
        goes with it (``walks.store_grids.keep_grid``).

    Returns
    -------
    HeightGrid
        The grid; where footprints overlap the taller one wins. A cell is covered by a
        footprint when its centre lies inside the outline.
    """
    lat0, lon0 = (known.south + known.north) / 2, (known.west + known.east) / 2
    grid = HeightGrid(lat0, lon0, 0.0, 0.0, cell_m, np.zeros((1, 1), np.float32), (0, 0, 0, 0))
    x_w, y_s = grid.project(np.array(known.south), np.array(known.west))
    x_e, y_n = grid.project(np.array(known.north), np.array(known.east))
    cell_m = max(cell_m, math.sqrt((float(x_e) - float(x_w)) * (float(y_n) - float(y_s)) / 4e6))
    cols = max(1, math.ceil((float(x_e) - float(x_w)) / cell_m))
    rows = max(1, math.ceil((float(y_n) - float(y_s)) / cell_m))
    coords, counts, values = _flat_rings(buildings)
    ring = (
        np.asarray(known_polygon.exterior.coords, dtype=np.float64)
        if known_polygon is not None
        else None
    )
    key = None
    if cache_dir is not None:
        box = np.array([*known, cell_m, rows, cols], dtype=np.float64)
        parts = [box.tobytes(), coords.tobytes(), counts.tobytes(), values.tobytes()]
        parts.append(b"" if ring is None else ring.tobytes())
        key = _grid_key(parts)
        cached = _read_kept_grid(
            key, (rows, cols), masked=ring is not None, store=store, cache_dir=cache_dir
        )
        if cached is not None:
            heights, mask = cached
            return HeightGrid(
                lat0, lon0, float(x_w), float(y_s), cell_m, heights,
                (float(x_w), float(y_s), float(x_e), float(y_n)), mask,
            )  # fmt: skip
    heights = np.zeros((rows, cols), dtype=np.float32)
    _burn_rings(heights, float(x_w), float(y_s), cell_m,
                grid.project(coords[:, 1], coords[:, 0]), counts,
                values.astype(np.float32))  # fmt: skip
    mask = None
    if ring is not None:
        covered = np.zeros((rows, cols), dtype=np.float32)
        _burn_rings(covered, float(x_w), float(y_s), cell_m, grid.project(ring[:, 1], ring[:, 0]),
                    np.array([len(ring)]), np.ones(1, np.float32))  # fmt: skip
        mask = covered > 0
    if key is not None and cache_dir is not None:
        _keep_grid(key, heights, mask, store=store, cache_dir=cache_dir)
    return HeightGrid(
        lat0, lon0, float(x_w), float(y_s), cell_m, heights,
        (float(x_w), float(y_s), float(x_e), float(y_n)), mask,
    )  # fmt: skip


@dataclass(frozen=True)
class Sightlines:
    """Line-of-sight results, one entry per point.

    Attributes
    ----------
    visible_fraction
        Share of the landmark's height that can be seen (0..1).
    distance_m
        Distance to the landmark.
    bearing_deg
        Compass bearing towards the landmark.
    unknown_m
        Length of the sight line over ground without building data.
    hidden_below_m
        Height on the landmark below which it is hidden.
    known_share
        Share of the sight line (walker to the landmark's footprint) over ground with building
        data (0..1; 1 for a walker at the landmark).
    """

    visible_fraction: NDArray[np.float64]
    distance_m: NDArray[np.float64]
    bearing_deg: NDArray[np.float64]
    unknown_m: NDArray[np.float64]
    hidden_below_m: NDArray[np.float64]
    known_share: NDArray[np.float64]


class Ground(Protocol):
    """Ground elevations: a DEM file (``Terrain``) or fetched tiles (``walks.terrain``)."""

    def sample(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> NDArray[np.float64]:
        """
        Ground elevation at points.

        Parameters
        ----------
        lats, lons
            Points in degrees.

        Returns
        -------
        ndarray
            Elevations above sea level in metres (0 where unknown).
        """


def assumed_roofline_m(buildings: tuple[Building, ...]) -> float:
    """
    Choose the roofline assumed where a sight line crosses ground without building data.

    Unknown is not empty: a city goes on beyond the loaded data. The assumption is the
    ``ROOFLINE_PERCENTILE``-th percentile of the heights of the loaded buildings whose height
    is mapped (``height`` or ``building:levels``), so a sight line that clears it most likely
    clears the real roofs too; with fewer than ``MIN_MAPPED_HEIGHTS`` mapped heights it is
    ``DEFAULT_BUILDING_M`` (16 m, about five storeys and a roof).

    Parameters
    ----------
    buildings
        The loaded buildings.

    Returns
    -------
    float
        Metres above the ground, rounded to 0.1 m.
    """
    from walks.data import DEFAULT_BUILDING_M  # noqa: PLC0415

    mapped = [b.height_m for b in buildings if b.height_source != "default"]
    if len(mapped) < MIN_MAPPED_HEIGHTS:
        return DEFAULT_BUILDING_M
    return round(float(np.percentile(mapped, ROOFLINE_PERCENTILE)), 1)


@dataclass(frozen=True)
class _Samples:
    """Where a sight line is sampled: distances from the walker and the length each stands for.

    Attributes
    ----------
    s
        ``(1, M)`` distances along the line, increasing.
    ds
        ``(1, M)`` length of line each sample stands for (the gap to the previous one).
    """

    s: NDArray[np.float64]
    ds: NDArray[np.float64]


def _box_exit_m(
    px: NDArray[np.float64],
    py: NDArray[np.float64],
    ux: NDArray[np.float64],
    uy: NDArray[np.float64],
    box: tuple[float, float, float, float],
) -> NDArray[np.float64]:
    """
    Distance along rays at which they leave a box (0 for rays that miss it).

    Parameters
    ----------
    px, py
        Ray origins in metres.
    ux, uy
        Unit directions.
    box
        ``(west, south, east, north)`` in metres.

    Returns
    -------
    ndarray
        Metres.
    """
    west, south, east, north = box
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = np.where(ux > 0, (east - px) / ux, np.where(ux < 0, (west - px) / ux, np.inf))
        ty = np.where(uy > 0, (north - py) / uy, np.where(uy < 0, (south - py) / uy, np.inf))
    out: NDArray[np.float64] = np.maximum(np.minimum(tx, ty), 0.0)
    return out


def _sample_plan(reach_max: float, fine_end: float, cell_m: float) -> _Samples:
    """
    Lay out the samples of the sight lines, at most ``MAX_SAMPLES`` in all.

    Every grid cell while the lines cross the building grid, then every ``COARSE_STEP_M``
    (assumed roofs and terrain only); past ``MAX_SAMPLES`` the steps grow.

    Parameters
    ----------
    reach_max
        The longest sight line.
    fine_end
        How far any line runs over the building grid.
    cell_m
        The grid's cell size.

    Returns
    -------
    _Samples
        The layout, shared by all lines of a call (each uses its own first part).
    """
    fine_end = min(fine_end, reach_max)
    half = MAX_SAMPLES // 2
    fine_step = max(cell_m, fine_end / half)
    coarse_step = max(COARSE_STEP_M, cell_m, (reach_max - fine_end) / half)
    fine = np.arange(1, math.ceil(fine_end / fine_step) + 1) * fine_step
    start = float(fine[-1]) if fine.size else 0.0
    coarse = start + np.arange(1, math.ceil(max(reach_max - start, 0.0) / coarse_step) + 1) * (
        coarse_step
    )
    s = np.concatenate([fine, coarse])
    ds = np.diff(s, prepend=0.0)
    return _Samples(s[None, :], ds[None, :])


@dataclass(frozen=True)
class _Rays:
    """Sight lines of some walkers: origins, directions to the landmark, lengths, eyes.

    Attributes
    ----------
    px, py
        Origins in grid metres.
    dx, dy
        From the origin to the landmark's centre, in metres.
    dist
        Length of ``(dx, dy)``.
    reach
        How far each line runs (to the landmark's footprint).
    eye
        Eye elevation (ground plus eye height).
    """

    px: NDArray[np.float64]
    py: NDArray[np.float64]
    dx: NDArray[np.float64]
    dy: NDArray[np.float64]
    dist: NDArray[np.float64]
    reach: NDArray[np.float64]
    eye: NDArray[np.float64]


def _trace(
    grid: HeightGrid,
    rays: _Rays,
    samples: _Samples,
    *,
    roofline_m: float | None,
    terrain: Ground | None,
    ground_mark: float,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """
    Sample some sight lines over the grid (see ``line_of_sight``).

    Parameters
    ----------
    grid
        Building heights.
    rays
        The lines.
    samples
        Where along them, shared by all.
    roofline_m, terrain
        As for ``line_of_sight``.
    ground_mark
        The ground elevation at the landmark.

    Returns
    -------
    tuple of ndarray
        ``(unknown_m, covered_m, hidden_below_m)`` per line.
    """
    west, south, east, north = grid.known
    rows, cols = grid.heights.shape
    s, ds = samples.s, samples.ds
    d = rays.dist
    valid = s < rays.reach[:, None]
    t = s / np.maximum(d[:, None], 1e-9)
    x = rays.px[:, None] + rays.dx[:, None] * t
    y = rays.py[:, None] + rays.dy[:, None] * t
    inside = (x >= west) & (x < east) & (y >= south) & (y < north)
    col = np.clip(((x - grid.x0) / grid.cell_m).astype(np.int64), 0, cols - 1)
    row = np.clip(((y - grid.y0) / grid.cell_m).astype(np.int64), 0, rows - 1)
    if grid.known_mask is not None:
        inside &= grid.known_mask[row, col]
    h = np.where(inside, grid.heights[row, col], 0.0 if roofline_m is None else roofline_m)
    # each sample stands for the stretch since the previous one, up to the footprint
    length = np.clip(rays.reach[:, None] - (s - ds), 0.0, ds)
    unknown = (length * ~inside).sum(axis=1)
    covered = length.sum(axis=1)
    if terrain is not None:
        glat, glon = grid.unproject(x, y)
        h = h + terrain.sample(glat.ravel(), glon.ravel()).reshape(x.shape)
    curve = s * (d[:, None] - s) / (2 * EFFECTIVE_RADIUS_M)
    eye = rays.eye[:, None]
    need = (h + curve - eye) * d[:, None] / s + eye - ground_mark
    need = np.where(valid, need, -np.inf)
    return unknown, covered, np.maximum(need.max(axis=1), 0.0)


def line_of_sight(
    grid: HeightGrid,
    lats: NDArray[np.float64],
    lons: NDArray[np.float64],
    landmark: Landmark,
    *,
    eye_m: float = EYE_M,
    roofline_m: float | None = None,
    terrain: Ground | None = None,
) -> Sightlines:
    """
    Compute how much of a landmark each point sees over the buildings (and terrain).

    Each line is sampled at every grid cell while it crosses the building grid and every
    ``COARSE_STEP_M`` beyond, with at most ``MAX_SAMPLES`` samples (the steps grow past that),
    and points are taken in chunks of at most ``CHUNK_ELEMENTS`` samples: work grows linearly
    with the sight lines' length, and memory is capped.

    Parameters
    ----------
    grid
        Building heights.
    lats, lons
        The observer points.
    landmark
        What to look at.
    eye_m
        Eye height above the ground.
    roofline_m
        Building height assumed where no building data was loaded (see
        ``assumed_roofline_m``); None assumes open ground there. Either way the length is
        reported in ``unknown_m`` and ``known_share``.
    terrain
        Ground elevations; None assumes flat ground.

    Returns
    -------
    Sightlines
        Per point.
    """
    lats = np.atleast_1d(np.asarray(lats, dtype=float))
    lons = np.atleast_1d(np.asarray(lons, dtype=float))
    px, py = grid.project(lats, lons)
    lx, ly = grid.project(np.array(landmark.location.lat), np.array(landmark.location.lon))
    dx, dy = float(lx) - px, float(ly) - py
    dist = np.hypot(dx, dy)
    bearing = np.degrees(np.arctan2(dx, dy)) % 360.0
    reach = np.maximum(dist - landmark.radius_m, 0.0)
    hidden_below = np.zeros(lats.size)
    unknown = np.zeros(lats.size)
    covered = np.zeros(lats.size)
    ground_here = terrain.sample(lats, lons) if terrain is not None else np.zeros(lats.size)
    mark_lat, mark_lon = np.array([landmark.location.lat]), np.array([landmark.location.lon])
    ground_mark = float(terrain.sample(mark_lat, mark_lon)[0]) if terrain is not None else 0.0
    safe = np.maximum(dist, 1e-9)
    exits = _box_exit_m(px, py, dx / safe, dy / safe, grid.known)
    reach_max = float(reach.max()) if reach.size else 0.0
    plan = _sample_plan(reach_max, float(exits.max()) if exits.size else 0.0, grid.cell_m)
    per_chunk = max(1, CHUNK_ELEMENTS // max(plan.s.size, 1))
    for lo in range(0, lats.size if plan.s.size else 0, per_chunk):
        chunk = slice(lo, min(lo + per_chunk, lats.size))
        n = int(np.searchsorted(plan.s[0], float(reach[chunk].max()), side="right")) + 1
        s, ds = plan.s[:, :n], plan.ds[:, :n]
        # the chunk's rows in blocks that fit a CPU cache (each row's numbers are the same)
        block = max(1, BLOCK_ELEMENTS // n)
        for first in range(chunk.start, chunk.stop, block):
            sl = slice(first, min(first + block, chunk.stop))
            rays = _Rays(
                px[sl], py[sl], dx[sl], dy[sl], dist[sl], reach[sl], ground_here[sl] + eye_m
            )
            unknown[sl], covered[sl], hidden_below[sl] = _trace(
                grid, rays, _Samples(s, ds), roofline_m=roofline_m, terrain=terrain,
                ground_mark=ground_mark,
            )  # fmt: skip
    fraction = np.clip((landmark.height_m - hidden_below) / landmark.height_m, 0.0, 1.0)
    known_share = np.where(covered > 0, 1.0 - unknown / np.maximum(covered, 1e-9), 1.0)
    return Sightlines(fraction, dist, bearing, unknown, hidden_below, np.clip(known_share, 0, 1))


@dataclass
class Terrain:
    """Ground elevations from a DEM GeoTIFF, sampled by coordinates (any CRS; reprojected).

    Parameters
    ----------
    path
        The DEM file.
    """

    path: Path

    def __post_init__(self) -> None:
        import rasterio  # noqa: PLC0415

        try:
            with rasterio.open(self.path) as src:
                self._band = src.read(1, masked=True).astype(float).filled(np.nan)
                self._transform = src.transform
                self._crs = src.crs
                self._bounds = src.bounds
        except (rasterio.errors.RasterioError, OSError) as err:
            msg = f"cannot read the DEM {str(self.path)!r} ({err}): give a GeoTIFF elevation file"
            raise DataError(msg) from err
        if self._crs is None:
            msg = (
                f"the DEM {str(self.path)!r} has no CRS: georeference it (e.g. gdal_edit.py -a_srs)"
            )
            raise DataError(msg)

    def _to_crs(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> tuple[
        NDArray[np.float64], NDArray[np.float64]
    ]:  # fmt: skip
        from rasterio.warp import transform  # noqa: PLC0415

        if self._crs.to_epsg() == 4326:  # noqa: PLR2004
            return np.asarray(lons), np.asarray(lats)
        xs, ys = transform("EPSG:4326", self._crs, list(lons), list(lats))
        return np.asarray(xs), np.asarray(ys)

    def covers(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> bool:
        """
        Say whether every point lies on the DEM.

        Parameters
        ----------
        lats, lons
            Points in degrees.

        Returns
        -------
        bool
            True when all are inside its bounds.
        """
        xs, ys = self._to_crs(lats, lons)
        b = self._bounds
        return bool(np.all((xs >= b.left) & (xs <= b.right) & (ys >= b.bottom) & (ys <= b.top)))

    def sample(self, lats: NDArray[np.float64], lons: NDArray[np.float64]) -> NDArray[np.float64]:
        """
        Ground elevation at points (nearest cell; NaN cells and points off the DEM give 0).

        Parameters
        ----------
        lats, lons
            Points in degrees.

        Returns
        -------
        ndarray
            Elevations in the DEM's units (metres).
        """
        xs, ys = self._to_crs(np.asarray(lats), np.asarray(lons))
        t = self._transform  # x = a col + b row + c, y = d col + e row + f
        inverse = np.linalg.inv(np.array([[t.a, t.b], [t.d, t.e]]))
        dx, dy = np.asarray(xs) - t.c, np.asarray(ys) - t.f
        cols = np.floor(inverse[0, 0] * dx + inverse[0, 1] * dy).astype(np.int64)
        rows = np.floor(inverse[1, 0] * dx + inverse[1, 1] * dy).astype(np.int64)
        h, w = self._band.shape
        ok = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
        out = np.zeros(np.shape(xs))
        out[ok] = self._band[rows[ok], cols[ok]]
        return np.nan_to_num(out, nan=0.0)


#: Highest eye above the landmark's ground assumed when bounding how far it can be seen (a hill
#: or a tower in the area; generous, so that only truly hidden landmarks are refused).
MAX_EYE_M = 500.0


def sight_limit_m(landmark: Landmark) -> float:
    """
    Say how far a landmark's top can be seen at most, over the curve of the Earth.

    The sum of the horizon distances of the landmark's top and of an eye ``MAX_EYE_M`` above
    its ground, on an Earth of ``EFFECTIVE_RADIUS_M`` (standard refraction).

    Parameters
    ----------
    landmark
        The landmark.

    Returns
    -------
    float
        Metres.
    """
    return math.sqrt(2 * EFFECTIVE_RADIUS_M * max(landmark.height_m, 0.0)) + math.sqrt(
        2 * EFFECTIVE_RADIUS_M * MAX_EYE_M
    )


def check_within_sight(landmark: Landmark, box: BBox) -> None:
    """
    Refuse a landmark that cannot be seen from anywhere in an area, before any work on it.

    Parameters
    ----------
    landmark
        The landmark.
    box
        The area's box.

    Raises
    ------
    LandmarkError
        When the area's nearest point is beyond ``sight_limit_m``; the message gives both
        distances.
    """
    lat = min(max(landmark.location.lat, box.south), box.north)
    lon = min(max(landmark.location.lon, box.west), box.east)
    gap = float(haversine_m(np.array(lat), np.array(lon), np.array(landmark.location.lat),
                            np.array(landmark.location.lon)))  # fmt: skip
    limit = sight_limit_m(landmark)
    if gap > limit:
        msg = (
            f"the landmark {landmark.name!r} is {gap / 1000:,.0f} km from this area, beyond the "
            f"{limit / 1000:,.0f} km from which its {landmark.height_m:g} m can be seen over the "
            "curve of the Earth: choose a nearer landmark with --landmark, or leave out 'view'"
        )
        raise LandmarkError(msg)


def view_corridor(area: Area, landmark: Landmark, *, max_km2: float) -> Area | None:
    """
    Outline the region between an area and its landmark, whose buildings can hide it.

    Parameters
    ----------
    area
        The walking area.
    landmark
        The landmark.
    max_km2
        The largest region worth downloading.

    Returns
    -------
    Area or None
        The convex hull of the area and the landmark's footprint, or None when it is larger
        than ``max_km2`` (the sight lines then report the missing building data).
    """
    import shapely  # noqa: PLC0415

    from walks.area import area_km2  # noqa: PLC0415

    radius_deg = (landmark.radius_m + 50.0) / 111_320.0
    mark = shapely.Point(landmark.location.lon, landmark.location.lat).buffer(radius_deg)
    hull = shapely.union(area.polygon, mark).convex_hull
    if area_km2(hull) > max_km2:
        log.warning("the corridor to the %s covers %.1f km²: buildings there are left out",
                    landmark.name, area_km2(hull))  # fmt: skip
        return None
    return Area(label=f"{area.label} towards the {landmark.name}", kind="place", polygon=hull)


def sun_light(
    location: LatLon, when_utc: dt.datetime, bearing_deg: float
) -> tuple[float, bool, float]:
    """
    Judge the light on a landmark seen from a point (is the sun behind the walker).

    Parameters
    ----------
    location
        Where the walker stands.
    when_utc
        The time (aware).
    bearing_deg
        Bearing from the walker to the landmark.

    Returns
    -------
    tuple
        ``(lit, golden_hour, sun_elevation_deg)``: ``lit`` is 1 with the sun straight behind
        the walker, 0 with the sun in front or below the horizon; golden hour is a sun between
        -4° and 6° above the horizon.
    """
    from astral import Observer  # noqa: PLC0415
    from astral.sun import azimuth, elevation  # noqa: PLC0415

    observer = Observer(location.lat, location.lon)
    sun_el = float(elevation(observer, when_utc))
    sun_az = float(azimuth(observer, when_utc))
    golden = -4.0 <= sun_el <= 6.0  # noqa: PLR2004
    if sun_el <= 0:
        return 0.0, golden, sun_el
    behind = math.cos(math.radians(sun_az - (bearing_deg + 180.0)))
    return max(0.0, behind), golden, sun_el


_COMPASS = {
    d: i * 22.5
    for i, d in enumerate(
        ("N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW").split()  # noqa: SIM905
    )
}


def facing(direction: str | None, bearing_deg: float, *, tolerance_deg: float = 45.0) -> bool:
    """
    Say whether an OSM ``direction`` (degrees, compass letters or a range) faces a bearing.

    Parameters
    ----------
    direction
        The tag value, e.g. ``"225"``, ``"SW"`` or ``"180-270"``.
    bearing_deg
        The bearing to test.
    tolerance_deg
        Half-width of the view cone for a single direction.

    Returns
    -------
    bool
        True when the bearing lies within the view.
    """
    if not direction:
        return False

    def angle(text: str) -> float | None:
        text = text.strip().upper()
        if text in _COMPASS:
            return _COMPASS[text]
        try:
            return float(text) % 360.0
        except ValueError:
            return None

    if "-" in direction.strip("-"):
        lo_text, hi_text = direction.split("-", 1)
        lo, hi = angle(lo_text), angle(hi_text)
        if lo is None or hi is None:
            return False
        return (bearing_deg - lo) % 360.0 <= (hi - lo) % 360.0
    centre = angle(direction)
    if centre is None:
        return False
    return abs((bearing_deg - centre + 180.0) % 360.0 - 180.0) <= tolerance_deg
