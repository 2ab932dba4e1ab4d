"""Exports: GPX 1.1 against the schema and read back by gpxpy and gpsbabel; GeoJSON; JSON; text."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import gpxpy
import pytest
import xmlschema
from conftest import GPX_XSD
from hypothesis import given, settings
from hypothesis import strategies as st

from walks.api import stops_in_area
from walks.errors import ExportError
from walks.export import (
    check_writable,
    directions_text,
    gpx_text,
    simplify_line,
    walk_geojson,
    walk_summary,
    write_atomic,
    xml_safe,
)
from walks.planner import plan_walk
from walks.types import LatLon, Leg, PlanRequest, Step, Stop, VisitedStop, Walk

HOSTILE = "<img src=x onerror=alert(1)> & `${x}` ]]> \"quoted\" 'single'"


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    if not GPX_XSD.is_file():
        pytest.fail(f"GPX schema missing: {GPX_XSD}")
    return xmlschema.XMLSchema(str(GPX_XSD))


@pytest.fixture(scope="module")
def demo_walk(tmp_path_factory):
    found = stops_in_area(None, ["cafe", "studio"], cache_dir=tmp_path_factory.mktemp("cache"))
    request = PlanRequest(start=LatLon(60.1699, 24.9384), minutes=90,
                          stops=(("cafe", 1), ("studio", 2)))  # fmt: skip
    return plan_walk(found.loaded.graph, found.stops, request)[0]


def _hand_walk(names: list[str], points: list[tuple[float, float]]) -> Walk:
    geometry = tuple(LatLon(lat, lon) for lat, lon in points)
    visits = tuple(
        VisitedStop(
            Stop(id=f"cafe:node/{i}", osm_id=f"node/{i}", name=name, category="cafe",
                 location=geometry[min(i, len(geometry) - 1)], node=0, score=1.0,
                 reason=f"why: {name}"),
            arrival_s=60.0 * (i + 1), leg=0,
        )
        for i, name in enumerate(names)
    )  # fmt: skip
    step = Step(
        street=None, highway="footway", length_m=10.0, turn_deg=0.0, instruction="head north"
    )
    leg = Leg(nodes=(0, 1), edges=(0,), length_m=10.0, walking_time_s=8.0, steps=(step,))
    return Walk(stops=visits, nodes=(0, 1), geometry=geometry, legs=(leg,), length_m=10.0,
                walking_time_s=8.0, total_time_s=8.0, pleasant_share=1.0, retraced_share=0.0,
                dead_end_spurs=0, budget_error=0.0, seed=0)  # fmt: skip


def test_gpx_is_schema_valid_and_reads_back(demo_walk, schema, tmp_path: Path) -> None:
    text = gpx_text(demo_walk, title="A walk in Helsinki")
    schema.validate(text)
    parsed = gpxpy.parse(text)
    assert parsed.version == "1.1"
    assert parsed.copyright_author == "OpenStreetMap contributors"
    assert "OpenStreetMap" in parsed.description
    points = parsed.tracks[0].segments[0].points
    assert len(points) == len(demo_walk.geometry)
    for got, want in zip(points, demo_walk.geometry, strict=True):
        assert abs(got.latitude - want.lat) < 1e-6
        assert abs(got.longitude - want.lon) < 1e-6
    assert [w.name.split(". ", 1)[1] for w in parsed.waypoints] == [
        v.stop.name for v in demo_walk.stops
    ]
    assert [w.description for w in parsed.waypoints] == [v.stop.reason for v in demo_walk.stops]
    assert [w.type for w in parsed.waypoints] == [v.stop.category for v in demo_walk.stops]
    assert 2 <= len(parsed.routes[0].points) <= 250


def test_gpsbabel_reads_it(demo_walk, tmp_path: Path) -> None:
    babel = shutil.which("gpsbabel")
    if babel is None:
        pytest.fail("gpsbabel is not installed: run `bash .ci/run` (apt-get install gpsbabel)")
    source, out = tmp_path / "walk.gpx", tmp_path / "out.gpx"
    source.write_text(gpx_text(demo_walk, title="Helsinki"), encoding="utf-8")
    subprocess.run([babel, "-i", "gpx", "-f", str(source), "-o", "gpx", "-F", str(out)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    again = gpxpy.parse(out.read_text(encoding="utf-8"))
    assert len(again.waypoints) == len(demo_walk.stops)
    assert len(again.routes[0].points) == sum(len(leg.maneuvers) for leg in demo_walk.legs)
    assert sum(len(s.points) for t in again.tracks for s in t.segments) == len(demo_walk.geometry)


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1,
                           max_size=30), min_size=1, max_size=4),
    points=st.lists(st.tuples(st.floats(-89.9, 89.9), st.floats(-179.9, 179.9)), min_size=2,
                    max_size=30),
)  # fmt: skip
def test_gpx_round_trip_any_text(names, points, schema) -> None:
    walk = _hand_walk([n.strip() or "x" for n in names], points)
    text = gpx_text(walk, title=HOSTILE)
    schema.validate(text)
    parsed = gpxpy.parse(text)
    assert parsed.name == HOSTILE
    got = [(p.latitude, p.longitude) for p in parsed.tracks[0].segments[0].points]
    assert all(
        abs(a - c) < 1e-6 and abs(b - d) < 1e-6 for (a, b), (c, d) in zip(got, points, strict=True)
    )
    # XML cannot hold control characters: they are dropped, everything else survives
    assert [w.name.split(". ", 1)[1] for w in parsed.waypoints] == [
        xml_safe(v.stop.name).strip() for v in walk.stops
    ]


def test_hostile_text_is_escaped_in_gpx(schema) -> None:
    text = gpx_text(_hand_walk([HOSTILE], [(48.0, 2.0), (48.001, 2.001)]), title=HOSTILE)
    schema.validate(text)
    assert "<img" not in text
    assert gpxpy.parse(text).waypoints[0].name == f"1. {HOSTILE}"


def test_elevations_go_into_the_track(demo_walk, schema) -> None:
    heights = [10.0 + i * 0.1 for i in range(len(demo_walk.geometry))]
    text = gpx_text(demo_walk, title="t", elevations=heights)
    schema.validate(text)
    points = gpxpy.parse(text).tracks[0].segments[0].points
    assert points[5].elevation == pytest.approx(heights[5], abs=0.05)


def test_simplify_keeps_ends_and_caps_points() -> None:
    line = [(48.0 + i * 1e-4, 2.0 + (i % 7) * 1e-4) for i in range(2000)]
    short = simplify_line(line, 250)
    assert len(short) <= 250
    assert short[0] == line[0]
    assert short[-1] == line[-1]
    assert simplify_line(line[:10], 250) == line[:10]


def test_geojson_and_summary(demo_walk) -> None:
    geo = walk_geojson(demo_walk)
    assert geo["type"] == "FeatureCollection"
    route, *points = geo["features"]
    assert route["geometry"]["type"] == "LineString"
    assert len(route["geometry"]["coordinates"]) == len(demo_walk.geometry)
    assert len(points) == len(demo_walk.stops)
    assert points[0]["properties"]["arrival_s"] == pytest.approx(
        demo_walk.stops[0].arrival_s, abs=0.1
    )
    summary = walk_summary(demo_walk)
    for key in ("length_m", "walking_time_s", "total_time_s", "budget_error", "retraced_share",
                "pleasant_share", "seed", "stops"):  # fmt: skip
        assert key in summary
    for stop in summary["stops"]:
        assert {"name", "category", "lat", "lon", "arrival_s", "reason"} <= stop.keys()
    json.dumps(summary)
    assert len(summary["maneuvers"]) == len(summary["directions"]) == len(demo_walk.legs)
    for leg_maneuvers, leg_lines in zip(summary["maneuvers"], summary["directions"], strict=True):
        assert [m["instruction"] for m in leg_maneuvers] == leg_lines
        assert leg_maneuvers[-1]["type"] == "arrive"
        assert {"type", "modifier", "name", "distance_m", "lat", "lon"} <= leg_maneuvers[0].keys()
    assert "maneuvers" not in geo["features"][0]["properties"]
    text = directions_text(demo_walk)
    lines = text.splitlines()
    assert lines[0].strip().startswith("Head ")
    arrivals = [line for line in lines if not line.startswith(" ")]
    assert len(arrivals) == len(demo_walk.stops) + 1  # each stop, then the finish
    for line, visit in zip(arrivals, demo_walk.stops, strict=False):
        assert visit.stop.name in line
        assert f"({visit.stop.category})" in line


def test_atomic_write_and_refusals(tmp_path: Path) -> None:
    target = tmp_path / "walk.html"
    write_atomic(target, "one")
    with pytest.raises(ExportError, match="already exists: pass --overwrite to replace it"):
        check_writable([target], overwrite=False)
    check_writable([target], overwrite=True)
    with pytest.raises(ExportError, match="is a folder"):
        check_writable([tmp_path], overwrite=True)
    with pytest.raises(ExportError, match="does not exist"):
        check_writable([tmp_path / "no" / "walk.gpx"], overwrite=False)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportError, match="cannot write"):
        write_atomic(blocker / "walk.gpx", "two")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "walk.html"]
    assert target.read_text() == "one"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)
