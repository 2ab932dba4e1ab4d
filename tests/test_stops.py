"""Stops on real extracts: categories, hours, hiddenness, views, dedupe, the CLI and bad input."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pytest

from walks.api import stops_in_area
from walks.categories import load_categories, select_categories
from walks.cli import app
from walks.data import Feature, OsmFeatures
from walks.errors import CategoryError, DataError, LandmarkError, NoStopsError
from walks.hours import opening_status, parse_local_time
from walks.stops import StopOptions, _dedupe, find_stops

MORNING = dt.datetime(2026, 11, 25, 9, 0)  # noqa: DTZ001 - local wall-clock time, a Wednesday


def test_paris_has_its_sixteen_cafes(paris_osm: Path) -> None:
    found = stops_in_area(None, ["cafe"], osm_file=paris_osm, at=MORNING)
    cafes = found.stops
    assert len(cafes) == 16
    names = {s.name for s in cafes}
    assert {"Jolis Mômes", "Odette & Aimé", "Le Disque Bleu", "Le Balto", "Le Café Royal"} <= names
    assert sum(not s.name.startswith("Unnamed") for s in cafes) == 15
    with_hours = {s.name: s for s in cafes if s.opening_hours}
    assert len(with_hours) == 6
    assert with_hours["Le Café Royal"].opening == "open"
    assert with_hours["Le Café Royal"].hours == "open until 21:00"
    # 'Sa-Su09:30-17:30' is not valid opening_hours syntax: kept, reported, no crash
    assert with_hours["Roche Coffee Shop"].opening == "unknown"
    assert with_hours["Roche Coffee Shop"].hours.startswith("hours unknown")
    assert with_hours["Coffélia - Brûlerie artisanale"].opening == "closed"
    assert all(s.reason and s.score > 0 for s in cafes)
    assert [s.score for s in cafes] == sorted((s.score for s in cafes), reverse=True)


def test_helsinki_galleries_art_shops_and_cafes(helsinki_pbf: Path) -> None:
    found = stops_in_area(None, ["cafe", "studio"], at=MORNING)
    cafes = [s for s in found.stops if s.category == "cafe"]
    studios = [s for s in found.stops if s.category == "studio"]
    assert len(cafes) > 50
    kinds = {s.reason.split()[0] for s in studios}
    assert {"Gallery", "Art"} <= kinds  # galleries and art shops
    hidden_ones = [s for s in studios if "quiet lane" in s.reason]
    exposed = [s for s in studios if "quiet lane" not in s.reason]
    assert hidden_ones
    # hiddenness is scored: on average a studio in a quiet lane ranks above one on a street
    if exposed:
        assert np.mean([s.score for s in hidden_ones]) > np.mean([s.score for s in exposed])
    assert found.loaded.graph.meta.source == "demo:helsinki"


def test_views_in_the_demo_face_the_cathedral() -> None:
    found = stops_in_area(None, ["view"], at=MORNING)
    views = found.stops
    assert found.landmark is not None
    assert found.landmark.name == "Helsinki Cathedral"
    assert 1 <= len(views) <= 12
    for stop in views:
        assert stop.view is not None
        assert 0.05 <= stop.view.visible_fraction <= 1
        assert 0 <= stop.view.bearing_deg < 360
        assert stop.reason.startswith("Helsinki Cathedral shows")
    spread = [
        math.dist((a.location.lat * 111_000, a.location.lon * 55_000),
                  (b.location.lat * 111_000, b.location.lon * 55_000))
        for i, a in enumerate(views) for b in views[:i]
    ]  # fmt: skip
    assert min(spread, default=1e9) >= 100


def test_paris_views_report_missing_building_data(paris_osm: Path) -> None:
    found = stops_in_area(None, ["view"], osm_file=paris_osm)
    assert found.landmark.name == "Eiffel Tower"
    top = found.stops[0]
    assert top.view.unknown_m > 3000  # the tower is 4 km away, the extract covers 800 m
    assert "has no building data" in top.reason
    walled = stops_in_area(None, ["view"], osm_file=paris_osm, roofline_m=25.0)
    assert max(s.view.visible_fraction for s in walled.stops) < top.view.visible_fraction


def test_dedupe_node_inside_building() -> None:
    ring = ((2.0, 48.0), (2.001, 48.0), (2.001, 48.001), (2.0, 48.001), (2.0, 48.0))
    node = Feature("node", 1, {"tourism": "gallery", "name": "Galerie X"}, 48.0005, 2.0005)
    way = Feature("way", 2, {"tourism": "gallery", "building": "yes", "website": "x"}, 48.0005,
                  2.0005, ring)  # fmt: skip
    other = Feature("node", 3, {"tourism": "gallery", "name": "Galerie Y"}, 48.01, 2.01)
    kept = _dedupe([way, node, other])
    assert [(f.osm_type, f.osm_id) for f in kept] == [("node", 1), ("node", 3)]
    assert kept[0].tags["website"] == "x"


def test_custom_category_file(tmp_path: Path, helsinki_pbf: Path) -> None:
    extra = tmp_path / "mine.toml"
    extra.write_text(
        '[bakery]\ndescription = "Fresh bread"\nweight = 0.8\nicon = "bread-slice"\n'
        'dwell_minutes = 5\nfilters = [{ shop = "bakery" }]\n'
    )
    categories = load_categories(extra)
    assert {"cafe", "studio", "view", "bakery"} <= set(categories)
    found = stops_in_area(None, ["bakery"], category_files=(extra,))
    assert found.stops
    assert all(s.category == "bakery" for s in found.stops)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[bakery\nweight = 1", r"is not valid TOML: .*line 1"),
        (
            "[bakery]\nweight = 'heavy'\nfilters = [{ shop = 'bakery' }]",
            r"category 'bakery' .*'weight' must be a number",
        ),
        (
            "[bakery]\nfilters = 'shop=bakery'",
            r"category 'bakery' .*'filters' must be a non-empty list",
        ),
        ("[bakery]\nfilters = [{ shop = 3 }]", r"filter value for 'shop' must be a string"),
        ("[bakery]\nfiltres = [{ shop = 'bakery' }]", r"unknown key 'filtres'"),
    ],
)
def test_malformed_category_file(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    with pytest.raises(CategoryError, match=message):
        load_categories(bad)


def test_unknown_category_lists_valid_ones() -> None:
    with pytest.raises(
        CategoryError, match="unknown category 'museum': choose from cafe, studio, view"
    ):
        select_categories(load_categories(), ["museum"])


def test_no_stop_of_a_category(paris_osm: Path, tmp_path: Path) -> None:
    zoo = tmp_path / "zoo.toml"
    zoo.write_text('[zoo]\ndescription = "Animals"\nfilters = [{ tourism = "zoo" }]\n')
    with pytest.raises(NoStopsError, match="no 'zoo' stop in this area: choose a wider area"):
        stops_in_area(None, ["zoo"], osm_file=paris_osm, category_files=(zoo,))


def test_views_without_landmark() -> None:
    graph_features = OsmFeatures((), (), "test")
    from walks.loader import load_graph

    graph = load_graph().graph
    with pytest.raises(NoStopsError, match="pass --landmark"):
        find_stops(graph, graph_features, [load_categories()["view"]], options=StopOptions())


def test_unknown_landmark(paris_osm: Path) -> None:
    with pytest.raises(LandmarkError, match="'Tour Montparnasse' was not found"):
        stops_in_area(None, ["view"], osm_file=paris_osm, landmark="Tour Montparnasse")


def _write_dem(
    path: Path, *, crs: str, bounds: tuple[float, float, float, float], values: np.ndarray
) -> None:
    import rasterio
    from rasterio.transform import from_bounds

    rows, cols = values.shape
    with rasterio.open(path, "w", driver="GTiff", width=cols, height=rows, count=1,
                       dtype="float32", crs=crs,
                       transform=from_bounds(*bounds, cols, rows)) as dst:  # fmt: skip
        dst.write(values.astype("float32"), 1)


def test_dem_in_another_crs_is_reprojected(paris_osm: Path, tmp_path: Path) -> None:
    from pyproj import Transformer

    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32631", always_xy=True)
    x0, y0 = to_utm.transform(2.28, 48.84)
    x1, y1 = to_utm.transform(2.37, 48.93)
    dem = tmp_path / "dem.tif"
    # flat at 35 m with a 200 m ridge across the line towards the Eiffel Tower
    values = np.full((200, 200), 35.0)
    values[120:130, :] = 235.0
    _write_dem(dem, crs="EPSG:32631", bounds=(x0, y0, x1, y1), values=values)
    flat = stops_in_area(None, ["view"], osm_file=paris_osm, roofline_m=0.0)
    hilly = stops_in_area(None, ["view"], osm_file=paris_osm, roofline_m=0.0, dem=dem)
    assert hilly.terrain is not None
    assert max(s.view.visible_fraction for s in hilly.stops) < max(
        s.view.visible_fraction for s in flat.stops
    )


def test_dem_that_misses_the_area(paris_osm: Path, tmp_path: Path) -> None:
    dem = tmp_path / "elsewhere.tif"
    _write_dem(dem, crs="EPSG:4326", bounds=(10.0, 50.0, 10.1, 50.1), values=np.zeros((10, 10)))
    with pytest.raises(DataError, match="does not cover the area"):
        stops_in_area(None, ["view"], osm_file=paris_osm, dem=dem)


def test_hours_edge_cases() -> None:
    assert opening_status(None, MORNING) == ("unknown", "hours unknown")
    assert opening_status("24/7", MORNING)[0] == "open"
    assert opening_status("Mo-Fr 10:00-12:00", MORNING) == ("closed", "closed (opens Wed 10:00)")
    assert opening_status("<script>alert(1)</script>", MORNING)[0] == "unknown"
    assert parse_local_time("2026-11-25T09:00") == MORNING
    with pytest.raises(ValueError, match="write it like '2026-11-25 09:00'"):
        parse_local_time("tomorrow morning")


def test_cli_stops_json_and_geojson(runner, paris_osm: Path) -> None:
    result = runner.invoke(app, ["-q", "stops", "--osm-file", str(paris_osm), "--category",
                                 "cafe,view", "--at", "2026-11-25 09:00", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {"id", "osm_id", "name", "category", "lat", "lon", "score", "reason"} <= rows[0].keys()
    views = [r for r in rows if r["category"] == "view"]
    assert views
    assert {"visible_fraction", "distance_m", "bearing_deg"} <= views[0].keys()
    geo = json.loads(runner.invoke(app, ["-q", "stops", "--osm-file", str(paris_osm), "-c", "cafe",
                                         "--geojson"]).stdout)  # fmt: skip
    assert geo["type"] == "FeatureCollection"
    assert len(geo["features"]) == 16
    assert geo["features"][0]["geometry"]["type"] == "Point"


def test_cli_stops_table_on_demo(runner) -> None:
    result = runner.invoke(app, ["-q", "stops", "-c", "studio", "--limit", "3"])
    assert result.exit_code == 0, result.stderr
    assert "quiet lane" in result.stdout
    assert "© OpenStreetMap contributors" in result.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (
            ["stops", "-c", "bakery"],
            2,
            "Error: unknown category 'bakery': choose from cafe, studio, view",
        ),
        (
            ["stops", "--at", "someday"],
            2,
            "Error: Invalid value for --at: time 'someday' is not a date and time: write it like '2026-11-25 09:00'",
        ),
        (
            ["stops", "-c", "view", "--landmark", "Nowhere Tower"],
            1,
            "Error: landmark 'Nowhere Tower' was not found",
        ),
        (
            ["stops", "-c", ","],
            2,
            "Error: Invalid value for --stops: give at least one category",
        ),
    ],
)
def test_cli_stops_bad_input(runner, args, code, message) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code
    line = next(ln for ln in result.stderr.splitlines() if ln.startswith("Error:"))
    assert line.startswith(message)


@pytest.mark.parametrize(
    ("kind", "name", "reason"),
    [
        ("Café", "Café Metro", "Café Metro"),
        ("Café", "CAFE java", "CAFE java"),
        ("Café", "Le Balto", "Café Le Balto"),
        ("Art shop", "Art Shop Salakauppa", "Art Shop Salakauppa"),
        ("Art shop", "Salakauppa", "Art shop Salakauppa"),
    ],
)
def test_reasons_do_not_repeat_the_kind(kind, name, reason) -> None:
    from walks.stops import _named

    assert _named(kind, name) == reason


def test_feature_filter_quick_refusal_keeps_every_match(paris_osm: Path) -> None:
    from dataclasses import replace

    from walks.data import read_features
    from walks.loader import _wanted

    every = read_features(paris_osm, lambda _tags: True).features
    categories = list(load_categories().values())
    wanted = _wanted(categories)
    kept = [f for f in every if wanted(f.tags)]
    full = [
        f for f in every
        if f.tags.get("tourism") == "viewpoint" or any(c.matches(f.tags) for c in categories)
    ]  # fmt: skip
    assert kept == full
    assert 0 < len(kept) < len(every)
    # an empty filter matches anything: the quick refusal must not apply then
    anything = replace(categories[0], key="anything", filters=((),))
    assert all(_wanted([*categories, anything])(f.tags) for f in every)
