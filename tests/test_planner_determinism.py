"""Same request and seed, same bytes: the search is bounded by work, not by the machine's load."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from walks.categories import load_categories
from walks.data import read_features
from walks.export import gpx_text, walk_geojson, walk_summary
from walks.planner import plan_walk
from walks.stops import find_stops
from walks.types import LatLon, PlanRequest

if TYPE_CHECKING:
    from pathlib import Path

    from walks.graph import WalkGraph
    from walks.types import Stop


@pytest.fixture(scope="module")
def helsinki_cafes_studios(helsinki_pbf: Path, helsinki_graph: WalkGraph) -> list[Stop]:
    cats = load_categories()
    wanted = [cats["cafe"], cats["studio"]]
    features = read_features(helsinki_pbf, lambda tags: any(c.matches(tags) for c in wanted))
    return find_stops(helsinki_graph, features, wanted, skip_missing=True)


def _exports(graph: WalkGraph, stops: list[Stop], request: PlanRequest) -> tuple[str, ...]:
    walks = plan_walk(graph, stops, request)
    texts: list[str] = []
    for walk in walks:
        texts += [
            json.dumps(walk_summary(walk), sort_keys=True),
            json.dumps(walk_geojson(walk), sort_keys=True),
            gpx_text(walk, title="A walk"),
        ]
    return tuple(texts)


def test_same_bytes_under_cpu_load(helsinki_graph, helsinki_cafes_studios) -> None:
    request = PlanRequest(
        start=LatLon(60.1699, 24.9384),
        minutes=100,
        stops=(("cafe", 1), ("studio", 2)),
        seed=7,
        alternatives=2,
    )
    quiet = _exports(helsinki_graph, helsinki_cafes_studios, request)
    # both cores busy: a search stopped by the clock would now run fewer iterations
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        busy = _exports(helsinki_graph, helsinki_cafes_studios, request)
    finally:
        for proc in spinners:
            proc.kill()
            proc.wait()
    assert len(quiet) == 6  # two walks, three files each
    for a, b in zip(quiet, busy, strict=True):
        assert a == b
    other_seed = _exports(
        helsinki_graph,
        helsinki_cafes_studios,
        PlanRequest(start=request.start, minutes=100, stops=request.stops, seed=8, alternatives=2),
    )
    assert other_seed != quiet, "the seed is used: another seed gives another walk"


def test_gpx_time_is_the_departure_not_the_clock(paris_graph) -> None:
    import datetime as dt

    walk = plan_walk(paris_graph, [], PlanRequest(start=LatLon(48.8795, 2.3495), km=1.5))[0]
    plain = gpx_text(walk, title="walk")
    assert "<time>" not in plain
    leave = dt.datetime(2026, 5, 1, 9, 30, tzinfo=dt.UTC)
    timed = gpx_text(walk, title="walk", departure=leave)
    assert "<time>2026-05-01T09:30:00Z</time>" in timed
