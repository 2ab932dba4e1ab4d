"""The building height grid: the scanline fill against a cell-by-cell test, and its cache."""

from __future__ import annotations

import math
import sqlite3
import zlib
from pathlib import Path

import numpy as np
import pytest
import shapely

from walks.categories import load_categories, select_categories
from walks.data import Building, read_features
from walks.types import BBox
from walks.views import HeightGrid, height_grid

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
MUNICH = SHARED / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
#: View stops towards the Frauenkirche (98.6 m), without terrain (no network in tests).
VIEW = {"landmark": "48.13864,11.57341,99", "no_terrain": True}


def _cell_by_cell(
    buildings: tuple[Building, ...], grid: HeightGrid, polygon: shapely.Polygon | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Burn each footprint with shapely.contains_xy at every cell centre (the slow reference)."""
    rows, cols = grid.heights.shape
    cx = grid.x0 + (np.arange(cols) + 0.5) * grid.cell_m
    cy = grid.y0 + (np.arange(rows) + 0.5) * grid.cell_m
    gx, gy = np.meshgrid(cx, cy)
    heights = np.zeros((rows, cols), np.float32)
    for b in buildings:
        ring = np.asarray(b.outline)
        x, y = grid.project(ring[:, 1], ring[:, 0])
        # only the cells around the footprint (a generous window) are tested
        near_x = (cx >= np.nanmin(x) - grid.cell_m) & (cx <= np.nanmax(x) + grid.cell_m)
        near_y = (cy >= np.nanmin(y) - grid.cell_m) & (cy <= np.nanmax(y) + grid.cell_m)
        window = np.ix_(near_y, near_x)
        footprint = shapely.Polygon(np.column_stack([x, y]))
        inside = shapely.contains_xy(footprint, gx[window], gy[window])
        block = heights[window]
        block[inside] = np.maximum(block[inside], np.float32(b.height_m))
        heights[window] = block
    mask = None
    if polygon is not None:
        ring = np.asarray(polygon.exterior.coords)
        x, y = grid.project(ring[:, 1], ring[:, 0])
        mask = shapely.contains_xy(shapely.Polygon(np.column_stack([x, y])), gx, gy)
    return heights, mask


def _box(buildings: tuple[Building, ...]) -> BBox:
    lons = [p[0] for b in buildings for p in b.outline]
    lats = [p[1] for b in buildings for p in b.outline]
    return BBox(min(lons), min(lats), max(lons), max(lats))


@pytest.fixture(scope="module")
def paris_buildings(paris_osm: Path) -> tuple[Building, ...]:
    """The Paris extract's building footprints."""
    chosen = select_categories(load_categories(), ["cafe"])
    return read_features(paris_osm, lambda tags: any(c.matches(tags) for c in chosen)).buildings


@pytest.mark.parametrize("cell_m", [2.0, 1.3])
def test_scanline_fill_covers_the_cells_a_cell_by_cell_test_covers(
    paris_buildings: tuple[Building, ...], cell_m: float
) -> None:
    known = _box(paris_buildings)
    middle = shapely.Point((known.west + known.east) / 2, (known.south + known.north) / 2)
    polygon = middle.buffer((known.east - known.west) / 3)
    grid = height_grid(paris_buildings, known, cell_m=cell_m, known_polygon=polygon)
    heights, mask = _cell_by_cell(paris_buildings, grid, polygon)
    assert len(paris_buildings) > 400
    assert (grid.heights > 0).sum() > 10_000
    np.testing.assert_array_equal(grid.heights, heights)
    assert grid.known_mask is not None
    assert mask is not None
    np.testing.assert_array_equal(grid.known_mask, mask)


def test_concave_overlapping_and_unclosed_rings() -> None:
    # an L (concave, not closed), a taller square over its corner, a ring with a NaN
    ell = ((0.0, 0.0), (0.0009, 0.0), (0.0009, 0.0003), (0.0003, 0.0003), (0.0003, 0.0009),
           (0.0, 0.0009))  # fmt: skip
    tower = ((0.0001, 0.0001), (0.0002, 0.0001), (0.0002, 0.0002), (0.0001, 0.0002),
             (0.0001, 0.0001))  # fmt: skip
    broken = ((0.0005, 0.0005), (math.nan, 0.0006), (0.0006, 0.0006), (0.0005, 0.0005))
    buildings = (Building(ell, 10.0, "levels"), Building(tower, 30.0, "height"),
                 Building(broken, 50.0, "height"))  # fmt: skip
    known = BBox(-0.0001, -0.0001, 0.001, 0.001)
    grid = height_grid(buildings, known, cell_m=1.0)
    heights, _ = _cell_by_cell(buildings[:2], grid, None)
    np.testing.assert_array_equal(grid.heights, heights)
    assert set(np.unique(grid.heights)) == {0.0, 10.0, 30.0}
    assert height_grid((), known, cell_m=1.0).heights.max() == 0.0


@pytest.fixture(scope="module")
def munich_buildings() -> tuple[Building, ...]:
    """The Munich extract's building footprints."""
    if not MUNICH.is_file():
        pytest.skip(f"{MUNICH} is missing")
    chosen = select_categories(load_categories(), ["cafe"])
    return read_features(MUNICH, lambda tags: any(c.matches(tags) for c in chosen)).buildings


def test_grid_is_cached_and_read_back(
    munich_buildings: tuple[Building, ...], tmp_path: Path
) -> None:
    known = _box(munich_buildings)
    first = height_grid(munich_buildings, known, cache_dir=tmp_path)
    files = list((tmp_path / "heights").glob("grid-*.npz"))
    assert len(files) == 1
    stamp = files[0].stat().st_mtime_ns
    again = height_grid(munich_buildings, known, cache_dir=tmp_path)
    assert files[0].stat().st_mtime_ns == stamp  # read, not written again
    np.testing.assert_array_equal(again.heights, first.heights)
    assert again.known == first.known
    assert again.cell_m == first.cell_m
    # with a known-area mask too
    middle = shapely.Point((known.west + known.east) / 2, (known.south + known.north) / 2)
    polygon = middle.buffer((known.east - known.west) / 3)
    masked = height_grid(munich_buildings, known, known_polygon=polygon, cache_dir=tmp_path)
    read = height_grid(munich_buildings, known, known_polygon=polygon, cache_dir=tmp_path)
    assert masked.known_mask is not None
    assert read.known_mask is not None
    np.testing.assert_array_equal(read.known_mask, masked.known_mask)
    np.testing.assert_array_equal(read.heights, masked.heights)
    assert 0 < masked.known_mask.sum() < masked.known_mask.size
    # the entries are small: a palette of heights and deflated indices
    assert all(f.stat().st_size < 1_000_000 for f in (tmp_path / "heights").iterdir())
    # other buildings, another box or another cell size are other entries
    height_grid(munich_buildings[:100], known, cache_dir=tmp_path)
    height_grid(munich_buildings, known, cell_m=3.0, cache_dir=tmp_path)
    assert len(list((tmp_path / "heights").glob("grid-*.npz"))) == 4


@pytest.mark.parametrize(
    "damage",
    [b"", b"not a zip file at all", b"PK\x03\x04 truncated"],
    ids=["empty", "garbage", "truncated-zip"],
)
def test_damaged_cache_entry_is_rebuilt(
    paris_buildings: tuple[Building, ...], tmp_path: Path, damage: bytes
) -> None:
    known = _box(paris_buildings)
    fresh = height_grid(paris_buildings, known)
    height_grid(paris_buildings, known, cache_dir=tmp_path)
    (path,) = (tmp_path / "heights").glob("grid-*.npz")
    path.write_bytes(damage)
    rebuilt = height_grid(paris_buildings, known, cache_dir=tmp_path)
    np.testing.assert_array_equal(rebuilt.heights, fresh.heights)
    assert path.stat().st_size > len(damage)  # written again, whole
    stamp = path.stat().st_mtime_ns
    again = height_grid(paris_buildings, known, cache_dir=tmp_path)
    assert path.stat().st_mtime_ns == stamp  # and read back
    np.testing.assert_array_equal(again.heights, fresh.heights)


def test_cache_entry_that_is_not_the_grid_is_rebuilt(
    paris_buildings: tuple[Building, ...], tmp_path: Path
) -> None:
    known = _box(paris_buildings)
    fresh = height_grid(paris_buildings, known)
    height_grid(paris_buildings, known, cache_dir=tmp_path)
    (path,) = (tmp_path / "heights").glob("grid-*.npz")
    for index in (np.zeros(9, np.uint16), np.full(fresh.heights.size, 7, np.uint16)):
        # a grid of another size, and indices beyond the palette
        with path.open("wb") as fh:
            np.savez(fh, palette=np.zeros(2, np.float32),
                     index=np.frombuffer(zlib.compress(index.tobytes()), np.uint8))  # fmt: skip
        rebuilt = height_grid(paris_buildings, known, cache_dir=tmp_path)
        np.testing.assert_array_equal(rebuilt.heights, fresh.heights)


def test_unwritable_cache_still_gives_the_grid(
    paris_buildings: tuple[Building, ...], tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    known = _box(paris_buildings)
    grid = height_grid(paris_buildings, known, cache_dir=blocker)
    np.testing.assert_array_equal(grid.heights, height_grid(paris_buildings, known).heights)


def test_grid_is_kept_in_the_store_of_its_buildings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buildings from a region store: their grid goes into it (and with it), not heights/."""
    from walks import store, store_grids
    from walks.api import stops_in_area

    if not MUNICH.is_file():
        pytest.skip(f"{MUNICH} is missing")
    cache = tmp_path / "cache"
    first = stops_in_area(None, ["view"], osm_file=MUNICH, cache_dir=cache, **VIEW)
    info = store.store_info(MUNICH, cache)
    assert info is not None
    assert info.current
    assert info.grids == 1
    assert not list(cache.glob("heights/*"))
    assert first.features.store == info.path
    # the next run reads it back: same stops, nothing new kept
    again = stops_in_area(None, ["view"], osm_file=MUNICH, cache_dir=cache, **VIEW)
    assert [s.node for s in again.stops] == [s.node for s in first.stops]
    assert store.store_info(MUNICH, cache).grids == 1  # type: ignore[union-attr]
    # a damaged entry is rebuilt; beyond the size bound the oldest grids go first
    grids = store_grids.grids_path(info.path)
    with sqlite3.connect(grids) as db:
        db.execute("UPDATE grids SET data = ?", (b"not a grid",))
    db.close()
    rebuilt = stops_in_area(None, ["view"], osm_file=MUNICH, cache_dir=cache, **VIEW)
    assert [s.node for s in rebuilt.stops] == [s.node for s in first.stops]
    with sqlite3.connect(grids) as db:
        (kept,) = db.execute("SELECT data FROM grids").fetchone()
    db.close()
    assert bytes(kept) != b"not a grid"
    monkeypatch.setattr(store_grids, "GRIDS_MAX_BYTES", 2 * len(kept))
    for name in ("a", "b", "c"):
        store_grids.keep_grid(info.path, name, bytes(kept))
    with sqlite3.connect(grids) as db:
        keys = [k for (k,) in db.execute("SELECT key FROM grids ORDER BY rowid")]
    db.close()
    assert keys == ["b", "c"]
    assert store_grids.read_grid(info.path, "c") == bytes(kept)
    assert store_grids.read_grid(info.path, "a") is None
    # a store that is gone gets no grids file; clearing the cache removes the grids with it
    store_grids.keep_grid(tmp_path / "none.sqlite", "d", b"x")
    assert not store_grids.grids_path(tmp_path / "none.sqlite").exists()
    assert store.remove_stores(cache) == 1
    assert not grids.exists()


_KILLED_WRITER = """
import os, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("CREATE TABLE IF NOT EXISTS grids (key TEXT PRIMARY KEY, data BLOB NOT NULL)")
db.commit()
db.execute("BEGIN")
db.execute("DELETE FROM grids")
db.execute("INSERT INTO grids VALUES ('half', ?)", (os.urandom(3_000_000),))
os._exit(9)  # killed before the commit: a hot journal stays beside the file
"""


def test_a_grid_write_killed_half_way_breaks_nothing(tmp_path: Path) -> None:
    """The store is never written after its import; a killed grids write is rolled back."""
    import subprocess
    import sys

    from walks import store, store_grids
    from walks.api import stops_in_area

    if not MUNICH.is_file():
        pytest.skip(f"{MUNICH} is missing")
    cache = tmp_path / "cache"
    first = stops_in_area(None, ["view"], osm_file=MUNICH, cache_dir=cache, **VIEW)
    info = store.store_info(MUNICH, cache)
    assert info is not None
    grids = store_grids.grids_path(info.path)
    stamp = info.path.stat().st_mtime_ns
    subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(grids)], check=False)
    assert grids.with_name(grids.name + "-journal").exists()
    again = stops_in_area(None, ["view"], osm_file=MUNICH, cache_dir=cache, **VIEW)
    assert [s.node for s in again.stops] == [s.node for s in first.stops]
    assert info.path.stat().st_mtime_ns == stamp  # the store itself is untouched
    assert store.store_info(MUNICH, cache).grids == 1  # type: ignore[union-attr]
    assert not grids.with_name(grids.name + "-journal").exists()
