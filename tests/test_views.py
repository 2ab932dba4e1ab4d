"""Line of sight on constructed scenes with known answers, landmarks, light and directions."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from walks.api import stops_in_area
from walks.data import DEFAULT_BUILDING_M, Building
from walks.export import stop_record
from walks.graph import EARTH_RADIUS_M
from walks.types import BBox, LatLon
from walks.views import (
    EFFECTIVE_RADIUS_M,
    Landmark,
    LandmarkError,
    assumed_roofline_m,
    default_landmark,
    facing,
    height_grid,
    line_of_sight,
    resolve_landmark,
    sun_light,
)

LAT0, LON0 = 48.0, 2.0
K = math.pi / 180 * EARTH_RADIUS_M


def _north(m: float) -> float:
    return LAT0 + m / K


def _east(m: float) -> float:
    return LON0 + m / (K * math.cos(math.radians(LAT0)))


def _box_building(x0: float, y0: float, x1: float, y1: float, height: float) -> Building:
    ring = ((_east(x0), _north(y0)), (_east(x1), _north(y0)), (_east(x1), _north(y1)),
            (_east(x0), _north(y1)), (_east(x0), _north(y0)))  # fmt: skip
    return Building(ring, height, "height")


def _scene(*buildings: Building, cell_m: float = 1.0):
    known = BBox(_east(-400), _north(-100), _east(400), _north(1200))
    return height_grid(buildings, known, cell_m=cell_m)


TOWER = Landmark("t", "Tower", LatLon(_north(1000), LON0), 300.0, radius_m=10.0)


def _expected_hidden(wall_m: float, at_m: float, dist_m: float, eye: float = 1.6) -> float:
    curve = at_m * (dist_m - at_m) / (2 * EFFECTIVE_RADIUS_M)
    return eye + (wall_m + curve - eye) * dist_m / at_m


@pytest.mark.parametrize(("wall", "at"), [(10.0, 100.0), (25.0, 300.0), (4.0, 50.0), (30.0, 40.0)])
def test_wall_hides_exactly_what_geometry_says(wall: float, at: float) -> None:
    grid = _scene(_box_building(-300, at, 300, at + 6, wall))
    sight = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), TOWER)
    # exact up to the 1 m grid: the wall's face is seen somewhere between `at` and `at + 1`
    near, far = _expected_hidden(wall, at, 1000.0), _expected_hidden(wall, at + 1.0, 1000.0)
    assert far - 1e-6 <= sight.hidden_below_m[0] <= near + 1e-6
    fraction = sight.visible_fraction[0]
    assert max(0.0, (300 - near) / 300) - 1e-9 <= fraction <= max(0.0, (300 - far) / 300) + 1e-9
    assert sight.distance_m[0] == pytest.approx(1000.0, rel=1e-6)
    assert sight.bearing_deg[0] == pytest.approx(0.0, abs=1e-6)


def test_wall_taller_than_needed_hides_everything() -> None:
    grid = _scene(_box_building(-300, 20, 300, 30, 40.0))
    sight = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), TOWER)
    assert sight.visible_fraction[0] == 0.0


def test_wall_beside_the_ray_hides_nothing() -> None:
    grid = _scene(_box_building(50, 100, 300, 110, 80.0))  # east of the northward ray
    sight = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), TOWER)
    assert sight.visible_fraction[0] == pytest.approx(1.0)


def test_many_points_at_once_match_one_by_one() -> None:
    grid = _scene(_box_building(-300, 100, 0, 106, 20.0), _box_building(0, 200, 300, 206, 35.0))
    lats = np.array([LAT0, LAT0, _north(50)])
    lons = np.array([_east(-100), _east(100), LON0])
    batch = line_of_sight(grid, lats, lons, TOWER)
    for i in range(3):
        one = line_of_sight(grid, lats[i : i + 1], lons[i : i + 1], TOWER)
        assert batch.visible_fraction[i] == pytest.approx(one.visible_fraction[0])
    assert batch.visible_fraction[0] != pytest.approx(batch.visible_fraction[1])


def test_unknown_ground_is_reported_and_roofline_applies() -> None:
    far = Landmark("f", "Far", LatLon(_north(3000), LON0), 300.0, radius_m=10.0)
    grid = _scene()  # known up to 1200 m north
    open_ground = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), far)
    assert open_ground.unknown_m[0] == pytest.approx(3000 - 10 - 1200, abs=3)
    assert open_ground.visible_fraction[0] == pytest.approx(1.0)
    assumed = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), far, roofline_m=20.0)
    # the first unknown cell, just past 1200 m, with a 20 m roofline decides
    assert assumed.hidden_below_m[0] == pytest.approx(
        _expected_hidden(20.0, 1200.0, 3000.0), abs=0.2
    )


def test_default_and_named_landmarks() -> None:
    assert default_landmark(BBox(2.34, 48.87, 2.36, 48.89)).name == "Eiffel Tower"
    assert default_landmark(BBox(24.93, 60.16, 24.95, 60.18)).name == "Helsinki Cathedral"
    assert default_landmark(BBox(13.3, 52.5, 13.4, 52.6)) is None
    assert resolve_landmark("eiffel tower").height_m == 330.0
    custom = resolve_landmark("48.8867,2.3431,83")
    assert custom.location == LatLon(48.8867, 2.3431)
    assert custom.height_m == 83.0
    with pytest.raises(LandmarkError, match="'Big Ben' was not found: use one of Eiffel Tower"):
        resolve_landmark("Big Ben")
    with pytest.raises(LandmarkError, match="out of range"):
        resolve_landmark("95,2,100")


def test_sun_behind_the_walker() -> None:
    # Paris, 2026-06-21 at 19:00 UTC: the sun is in the west-north-west, low
    when = dt.datetime(2026, 6, 21, 19, 0, tzinfo=dt.UTC)
    here = LatLon(48.88, 2.35)
    lit_east, golden, elevation = sun_light(here, when, bearing_deg=110.0)  # looking east-ish
    lit_west, _, _ = sun_light(here, when, bearing_deg=290.0)  # looking into the sun
    assert lit_east > 0.9
    assert lit_west == 0.0
    assert 0 < elevation < 15
    night = sun_light(here, dt.datetime(2026, 6, 21, 23, 0, tzinfo=dt.UTC), 110.0)
    assert night[0] == 0.0
    assert golden is (-4 <= elevation <= 6)


@pytest.mark.parametrize(
    ("direction", "bearing", "expected"),
    [
        ("SW", 225, True),
        ("SW", 100, False),
        ("200", 230, True),
        ("180-270", 260, True),
        ("180-270", 300, False),
        ("350-20", 5, True),
        (None, 0, False),
        ("nonsense", 0, False),
    ],
)
def test_viewpoint_direction(direction, bearing, expected) -> None:
    assert facing(direction, bearing) is expected


# ----------------------------------------------------------------- unknown is not empty


def test_assumed_roofline_is_a_high_percentile_of_mapped_heights() -> None:
    mapped = [_box_building(i * 20, 0, i * 20 + 10, 10, float(h)) for i, h in
              enumerate(range(10, 30))]  # fmt: skip  # 10..29 m
    guessed = [Building(b.outline, 99.0, "default") for b in mapped[:5]]
    # the guessed heights do not count; the 90th percentile of 10..29 is 27.1
    assert assumed_roofline_m(tuple(mapped + guessed)) == pytest.approx(27.1)
    assert assumed_roofline_m(tuple(mapped[:9])) == DEFAULT_BUILDING_M  # too few mapped
    assert assumed_roofline_m(()) == DEFAULT_BUILDING_M


def test_known_share_is_the_share_of_the_line_with_building_data() -> None:
    far = Landmark("f", "Far", LatLon(_north(2410), LON0), 300.0, radius_m=10.0)
    grid = _scene()  # building data up to 1200 m north: half the 2400 m line
    sight = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), far, roofline_m=20.0)
    assert sight.known_share[0] == pytest.approx(0.5, abs=0.01)
    assert sight.unknown_m[0] == pytest.approx(1200, abs=11)
    near = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), TOWER)
    assert near.known_share[0] == 1.0
    assert near.unknown_m[0] == 0.0


def test_unknown_stretch_with_a_mask_counts_as_unknown() -> None:
    import shapely

    known = BBox(_east(-400), _north(-100), _east(400), _north(1200))
    # data only for the southern half of the box: a mask, as an online area plus corridor gives
    mask = shapely.box(_east(-400), _north(-100), _east(400), _north(500))
    grid = height_grid((), known, cell_m=2.0, known_polygon=mask)
    sight = line_of_sight(grid, np.array([LAT0]), np.array([LON0]), TOWER, roofline_m=15.0)
    assert sight.unknown_m[0] == pytest.approx(1000 - 10 - 500, abs=3)
    assert sight.hidden_below_m[0] == pytest.approx(_expected_hidden(15.0, 500.0, 1000.0), abs=0.2)


def test_paris_views_no_longer_claim_all_of_the_tower(paris_osm: Path) -> None:
    found = stops_in_area(None, ["view"], osm_file=paris_osm)
    assert found.stops
    for stop in found.stops:
        view = stop.view
        assert view is not None
        assert view.known_share < 0.5  # 3.6+ km of 4.4-4.9 km have no building data
        assert view.visible_fraction < 0.9
        assert "likely shows" in stop.reason
        assert "shows 100 %" not in stop.reason
        assert f"{view.assumed_roofline_m:g} m roofs assumed" in stop.reason
        record = stop_record(stop)
        assert record["known_share"] == view.known_share
        assert record["assumed_roofline_m"] == 21.0  # 90th percentile of the mapped heights
    # the discount: the view weight 1.5 x (0.3 + visible share) x (0.5 + 0.5 known share)
    open_ground = stops_in_area(None, ["view"], osm_file=paris_osm, roofline_m=0.0)
    top = open_ground.stops[0]
    assert top.view is not None
    assert top.view.visible_fraction == 1.0
    assert top.reason.startswith("Eiffel Tower likely shows 100 %")
    assert top.score == pytest.approx(1.5 * (0.3 + 1.0) * (0.5 + 0.5 * top.view.known_share),
                                      rel=1e-3)  # fmt: skip
