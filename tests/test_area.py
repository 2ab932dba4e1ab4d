"""Area selection: boxes, points with a radius, place names, and the size limit."""

from __future__ import annotations

import pytest

from walks.area import area_from_point, area_km2, check_area_size, resolve_area
from walks.errors import AreaError
from walks.types import LatLon


def test_bbox_text() -> None:
    area = resolve_area("2.3432, 48.87717, 2.3541, 48.88119")
    assert area.kind == "bbox"
    assert area.bbox == pytest.approx((2.3432, 48.87717, 2.3541, 48.88119))
    # the provenance says about 800 m by 450 m
    assert area_km2(area.polygon) == pytest.approx(0.80 * 0.447, rel=0.03)


def test_point_and_radius() -> None:
    area = resolve_area("48.8867,2.3431", radius_m=500)
    assert area.kind == "point"
    assert area_km2(area.polygon) == pytest.approx(3.14159 * 0.25, rel=0.01)
    _west, south, _east, north = area.bbox
    assert (north - south) * 111_320 == pytest.approx(1000, rel=0.01)


@pytest.mark.parametrize(
    ("text", "radius", "message"),
    [
        ("48.8,2.3", 0.0, "radius 0.0 m is not positive"),
        ("48.8,2.3", -50.0, "radius -50.0 m is not positive"),
        ("48.8,2.3", float("nan"), "is not positive"),
        ("2.36,48.88,2.34,48.87", None, "is empty: give west,south,east,north"),
        ("95.0,2.3", None, "out of range"),
        ("2.3,48.8,200,48.9", None, "out of range"),
        ("   ", None, "the area is empty"),
    ],
)
def test_bad_areas(text: str, radius: float | None, message: str) -> None:
    with pytest.raises(AreaError, match=message):
        resolve_area(text, radius_m=radius)


def test_area_limit() -> None:
    area = area_from_point(LatLon(48.86, 2.34), 5000)
    with pytest.raises(
        AreaError, match=r"covers 78\.\d km², more than the 30 km² limit.*--max-area-km2"
    ):
        check_area_size(area, max_km2=30)
    check_area_size(area, max_km2=100)
