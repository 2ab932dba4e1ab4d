"""Constructed scenes with known answers: hills, a hilltop over roofs, the curve of the Earth.

The ground is a synthetic DEM written as a GeoTIFF (EPSG:4326) to the test's folder; buildings
are boxes. Every expected number comes from the sight-line geometry in ``walks.views``: an
obstacle whose top stands ``h`` above sea level at ``s`` metres from a walker whose eye is at
``e``, on a line of length ``D``, hides the landmark below ``e + (h + s (D - s) / 2R' - e) D / s``.
"""

from __future__ import annotations

import math
import tracemalloc
from typing import TYPE_CHECKING

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_bounds

from walks.data import Building
from walks.graph import EARTH_RADIUS_M
from walks.types import BBox, LatLon
from walks.views import (
    EFFECTIVE_RADIUS_M,
    EYE_M,
    MAX_SAMPLES,
    Landmark,
    Terrain,
    _sample_plan,
    height_grid,
    line_of_sight,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

LAT0, LON0 = 45.0, 6.0
K = math.pi / 180 * EARTH_RADIUS_M
CELL_M = 2.0


def _north(m: float) -> float:
    return LAT0 + m / K


def _east(m: float) -> float:
    return LON0 + m / (K * math.cos(math.radians(LAT0)))


def _box(x0: float, y0: float, x1: float, y1: float, height: float) -> Building:
    ring = ((_east(x0), _north(y0)), (_east(x1), _north(y0)), (_east(x1), _north(y1)),
            (_east(x0), _north(y1)), (_east(x0), _north(y0)))  # fmt: skip
    return Building(ring, height, "height")


def _dem(path: Path, ground: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Terrain:
    """Write a DEM of 2 m cells over x -400..400, y -700..1300 m; ``ground(x, y)`` in metres."""
    west, east, south, north = -400.0, 400.0, -700.0, 1300.0
    cols, rows = int((east - west) / CELL_M), int((north - south) / CELL_M)
    x = west + (np.arange(cols) + 0.5) * CELL_M
    y = north - (np.arange(rows) + 0.5) * CELL_M  # row 0 is the north edge
    gx, gy = np.meshgrid(x, y)
    transform = from_bounds(_east(west), _north(south), _east(east), _north(north), cols, rows)
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs="EPSG:4326", transform=transform) as dst:  # fmt: skip
        dst.write(ground(gx, gy).astype("float32"), 1)
    return Terrain(path)


def _grid(*buildings: Building):
    known = BBox(_east(-400), _north(-700), _east(400), _north(1300))
    return height_grid(buildings, known, cell_m=1.0)


def _hidden(top: float, at: float, dist: float, eye: float) -> float:
    """Height (above the landmark's ground, here sea level) hidden by a top at ``at`` metres."""
    curve = at * (dist - at) / (2 * EFFECTIVE_RADIUS_M)
    return eye + (top + curve - eye) * dist / at


def _at(y_m: float) -> tuple[np.ndarray, np.ndarray]:
    return np.array([_north(y_m)]), np.array([LON0])


@pytest.mark.parametrize(("ridge_m", "at_m"), [(40.0, 300.0), (15.0, 120.0), (80.0, 600.0)])
def test_a_hill_hides_exactly_what_geometry_says(tmp_path: Path, ridge_m, at_m) -> None:
    # flat ground at sea level with a ridge from at_m to at_m + 40 m north, across the line
    terrain = _dem(tmp_path / "ridge.tif",
                   lambda x, y: np.where((y >= at_m) & (y < at_m + 40), ridge_m, 0.0))  # fmt: skip
    tower = Landmark("t", "Tower", LatLon(_north(1000), LON0), 300.0, radius_m=10.0)
    sight = line_of_sight(_grid(), *_at(0.0), tower, terrain=terrain)
    # the ridge's face is met between at_m and at_m + one DEM cell and one sample step
    near = _hidden(ridge_m, at_m, 1000.0, EYE_M)
    far = _hidden(ridge_m, at_m + CELL_M + 1.0, 1000.0, EYE_M)
    assert far - 1e-6 <= sight.hidden_below_m[0] <= near + 1e-6
    assert sight.visible_fraction[0] == pytest.approx((300 - sight.hidden_below_m[0]) / 300)
    # without the ridge nothing hides it, and flat ground (no terrain) hides nothing either
    flat = _dem(tmp_path / "flat.tif", lambda x, _y: np.zeros_like(x))
    assert line_of_sight(_grid(), *_at(0.0), tower, terrain=flat).visible_fraction[0] == 1.0
    assert line_of_sight(_grid(), *_at(0.0), tower).visible_fraction[0] == 1.0


def test_a_ridge_beside_the_line_hides_nothing(tmp_path: Path) -> None:
    terrain = _dem(tmp_path / "side.tif",
                   lambda x, y: np.where((x > 50) & (y > 200) & (y < 400), 200.0, 0.0))  # fmt: skip
    tower = Landmark("t", "Tower", LatLon(_north(1000), LON0), 300.0, radius_m=10.0)
    assert line_of_sight(_grid(), *_at(0.0), tower, terrain=terrain).visible_fraction[0] == 1.0


def _cone(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A 60 m hill whose top is 300 m south of the foot point (0, 0), sloping to sea level."""
    r = np.hypot(x, y + 300.0)
    return np.clip(60.0 * (1.0 - r / 300.0), 0.0, None)


def test_from_the_hilltop_one_sees_over_the_roofs_that_hide_it_below(tmp_path: Path) -> None:
    terrain = _dem(tmp_path / "hill.tif", _cone)
    row = _box(-400, 200, 400, 210, 25.0)  # a 25 m row of houses across the line
    grid = _grid(row)
    tower = Landmark("t", "Tower", LatLon(_north(1000), LON0), 100.0, radius_m=10.0)
    foot = line_of_sight(grid, *_at(0.0), tower, terrain=terrain)
    top = line_of_sight(grid, *_at(-300.0), tower, terrain=terrain)
    # at the foot (ground 0) the row hides 1.6 + 23.4 * 1000 / 200 = 118.6 m of a 100 m tower
    assert _hidden(25.0, 200.0, 1000.0, EYE_M) > 100
    assert foot.visible_fraction[0] == 0.0
    # on the top (ground 60 m, eye 61.6 m) the roofs and the slope are below the line of sight
    assert _hidden(25.0, 500.0, 1300.0, 60.0 + EYE_M) < 0
    assert top.visible_fraction[0] == 1.0
    assert top.hidden_below_m[0] == 0.0
    # the same spot on flat ground sees only what the row leaves: the hill is what matters
    flat = line_of_sight(grid, *_at(-300.0), tower)
    expected = _hidden(25.0, 500.0, 1300.0, EYE_M)
    assert flat.hidden_below_m[0] == pytest.approx(expected, abs=0.2)
    assert flat.visible_fraction[0] == pytest.approx((100 - expected) / 100, abs=0.003)


def test_halfway_up_the_hill_looks_down_on_the_roofs(tmp_path: Path) -> None:
    terrain = _dem(tmp_path / "hill.tif", _cone)
    grid = _grid(_box(-400, 200, 400, 210, 25.0))
    tower = Landmark("t", "Tower", LatLon(_north(1000), LON0), 100.0, radius_m=10.0)
    # 150 m up the slope: ground about 30 m (the DEM cell's value), the row 350-360 m ahead.
    # The eye is above the roofs, so the row's far edge, not its face, decides.
    sight = line_of_sight(grid, *_at(-150.0), tower, terrain=terrain)
    eye = float(terrain.sample(*_at(-150.0))[0]) + EYE_M
    assert eye == pytest.approx(30.0 + EYE_M, abs=0.25)
    low, high = _hidden(25.0, 359.0, 1150.0, eye), _hidden(25.0, 360.0, 1150.0, eye)
    assert 0 < low < high < 100
    assert low - 1e-6 <= sight.hidden_below_m[0] <= high + 1e-6
    assert sight.hidden_below_m[0] > _hidden(25.0, 350.0, 1150.0, eye)  # the face hides less


def test_a_landmark_on_a_hill_is_measured_from_its_own_ground(tmp_path: Path) -> None:
    # the landmark stands on a 50 m plateau; the walker's ground is 0; a 20 m wall at 500 m
    terrain = _dem(tmp_path / "plateau.tif", lambda _x, y: np.where(y > 900, 50.0, 0.0))
    grid = _grid(_box(-400, 500, 400, 506, 20.0))
    tower = Landmark("t", "Tower", LatLon(_north(1000), LON0), 100.0, radius_m=10.0)
    sight = line_of_sight(grid, *_at(0.0), tower, terrain=terrain)
    # the wall hides up to 38.4 m above sea level: below the plateau, so all 100 m show;
    # the plateau's own edge at 900 m hides 1.6 + 48.4 * 1000 / 900 = 55.4 m a.s.l., 5.4 m of it
    edge = _hidden(50.0, 900.0, 1000.0, EYE_M) - 50.0
    assert sight.hidden_below_m[0] == pytest.approx(edge, abs=0.2)


def test_curvature_and_refraction_over_a_flat_sea() -> None:
    # no obstacle at all: over 30 km the bulge of the Earth (k = 0.13) hides (D - d0)^2 / 2R'
    assert pytest.approx(EARTH_RADIUS_M / (1 - 0.13)) == EFFECTIVE_RADIUS_M
    far = Landmark("f", "Lighthouse", LatLon(_north(30_000), LON0), 300.0, radius_m=10.0)
    sight = line_of_sight(_grid(), *_at(0.0), far)
    horizon = math.sqrt(2 * EFFECTIVE_RADIUS_M * EYE_M)
    assert sight.hidden_below_m[0] == pytest.approx((30_000 - horizon) ** 2 / (2 * EFFECTIVE_RADIUS_M),
                                                    abs=0.05)  # fmt: skip
    assert sight.unknown_m[0] == pytest.approx(30_000 - 10 - 1300, abs=11)


def test_sample_plan_is_linear_in_length_and_capped() -> None:
    short = _sample_plan(5_000.0, 1_000.0, 2.0)
    longer = _sample_plan(10_000.0, 1_000.0, 2.0)
    assert short.s.size == 500 + 400
    assert longer.s.size == 500 + 900
    assert np.all(np.diff(short.s[0]) > 0)
    assert short.ds.sum() == pytest.approx(short.s[0, -1])
    huge = _sample_plan(150_000.0, 20_000.0, 2.0)
    assert huge.s.size <= MAX_SAMPLES + 2
    assert huge.s[0, -1] >= 150_000.0


def test_memory_stays_bounded_for_long_lines() -> None:
    # 2,000 walkers 100 km from the landmark: without chunks and the cap this needs gigabytes
    far = Landmark("f", "Mountain", LatLon(_north(100_000), LON0), 2000.0, radius_m=10.0)
    rng = np.random.default_rng(1)
    lats = _north(rng.uniform(-600, 1200, 2000))
    lons = _east(rng.uniform(-350, 350, 2000))
    grid = _grid(_box(-400, 200, 400, 210, 25.0))
    tracemalloc.start()
    try:
        sight = line_of_sight(grid, lats, lons, far)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 120e6
    assert np.all(sight.unknown_m > 95_000)
