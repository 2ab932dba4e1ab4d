"""GPX as phone apps read it: turn prompts in the route, one track per alternative, names, times."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import gpxpy
import pytest
import xmlschema
from conftest import GPX_XSD

from walks.api import stops_in_area
from walks.export import GPX_NOMINAL_START, gpx_text, walk_title
from walks.planner import plan_walk
from walks.types import LatLon, PlanRequest, Walk

KML = "{http://www.opengis.net/kml/2.2}"


@pytest.fixture(scope="module")
def walks(tmp_path_factory) -> list[Walk]:
    found = stops_in_area(None, ["cafe", "studio"], cache_dir=tmp_path_factory.mktemp("cache"))
    request = PlanRequest(start=LatLon(60.1699, 24.9384), minutes=60,
                          stops=(("cafe", 1), ("studio", 1)), alternatives=2)  # fmt: skip
    found_walks = plan_walk(found.loaded.graph, found.stops, request)
    assert len(found_walks) == 2
    return found_walks


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(GPX_XSD))


def _maneuvers(walk: Walk) -> list[str]:
    return [m.instruction for leg in walk.legs for m in leg.maneuvers]


def test_route_is_the_turn_prompts_and_each_alternative_has_a_track(walks, schema) -> None:
    text = gpx_text(walks, title="unused", area="Helsinki centre")
    schema.validate(text)
    gpx = gpxpy.parse(text)
    assert len(gpx.tracks) == len(gpx.routes) == 2
    for walk, track, route in zip(walks, gpx.tracks, gpx.routes, strict=True):
        assert [p.name for p in route.points] == _maneuvers(walk)
        assert len(route.points) < len(walk.geometry) / 3  # prompts, not a copy of the track
        assert len(track.segments[0].points) == len(walk.geometry)
    assert gpx.name == walk_title("Helsinki centre", walks[0])
    assert gpx.tracks[1].name.startswith("Alternative 2: Helsinki centre: ")
    assert gpx.copyright_author == "OpenStreetMap contributors"
    assert "© OpenStreetMap contributors" in gpx.description


def test_title_names_area_stops_length_and_time(walks) -> None:
    walk = walks[0]
    title = walk_title("Helsinki centre", walk)
    minutes = round(walk.total_time_s / 60)
    assert title.endswith(f" — {walk.length_m / 1000:.1f} km, {minutes // 60}:{minutes % 60:02d}")
    assert title.startswith("Helsinki centre: ")
    assert "café" in title
    assert " and " in title  # two categories: "café and studio" (in walking order)


def test_one_walk_still_works_as_before(walks, schema) -> None:
    text = gpx_text(walks[0], title="A walk in Helsinki")
    schema.validate(text)
    gpx = gpxpy.parse(text)
    assert gpx.name == "A walk in Helsinki"
    assert len(gpx.tracks) == len(gpx.routes) == 1
    assert not any(p.time for p in gpx.tracks[0].segments[0].points)  # times only when asked


def test_gpsbabel_kml_has_the_same_waypoints_and_route_points(walks, tmp_path: Path) -> None:
    babel = shutil.which("gpsbabel")
    if babel is None:
        pytest.fail("gpsbabel is not installed: apt-get install gpsbabel")
    source, out = tmp_path / "walk.gpx", tmp_path / "walk.kml"
    text = gpx_text(walks, title="t", area="Helsinki centre")
    source.write_text(text, encoding="utf-8")
    subprocess.run([babel, "-i", "gpx", "-f", str(source), "-o", "kml", "-F", str(out)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    document = ET.parse(out).getroot().find(f"{KML}Document")
    assert document is not None
    folders = {f.findtext(f"{KML}name"): f for f in document.findall(f"{KML}Folder")}
    waypoints = folders["Waypoints"].findall(f"{KML}Placemark")
    assert len(waypoints) == len(walks[0].stops)
    route_points = [  # each route is a folder: its line, then a "Points" folder of its points
        placemark
        for folder in folders["Routes"].iter(f"{KML}Folder")
        if folder.findtext(f"{KML}name") == "Points"
        for placemark in folder.findall(f"{KML}Placemark")
    ]
    gpx = gpxpy.parse(text)
    assert len(route_points) == sum(len(r.points) for r in gpx.routes)
    assert len(route_points) == sum(len(_maneuvers(w)) for w in walks)


def test_planned_times_follow_the_walk(walks, schema) -> None:
    walk = walks[0]
    start = dt.datetime(2026, 5, 1, 10, 0, tzinfo=dt.UTC)
    text = gpx_text(walk, title="t", departure=start, times=True)
    schema.validate(text)
    gpx = gpxpy.parse(text)
    times = [p.time for p in gpx.tracks[0].segments[0].points]
    assert times[0] == start
    assert all(a <= b for a, b in itertools.pairwise(times))
    assert times[-1] == start + dt.timedelta(seconds=round(walk.total_time_s))
    for waypoint, visit in zip(gpx.waypoints, walk.stops, strict=True):
        assert waypoint.time == start + dt.timedelta(seconds=round(visit.arrival_s))
    route_times = [p.time for p in gpx.routes[0].points]
    assert all(a <= b for a, b in itertools.pairwise(route_times))
    # no departure: the clock starts at midnight of a fixed day, reading time since the start
    relative = gpxpy.parse(gpx_text(walk, title="t", times=True))
    assert relative.tracks[0].segments[0].points[0].time == GPX_NOMINAL_START


def test_elevations_reach_the_route_points(walks, schema) -> None:
    walk = walks[0]
    heights = [float(i) for i in range(len(walk.geometry))]
    text = gpx_text(walk, title="t", elevations=heights)
    schema.validate(text)
    gpx = gpxpy.parse(text)
    route = gpx.routes[0].points
    assert route[0].elevation == 0.0
    assert all(p.elevation is not None for p in route)
    assert [p.elevation for p in route] == sorted(p.elevation for p in route)
