"""Terrain without asking: Terrarium tiles from a local stand-in, cached, checked, and used.

The tile server (``tile_services.FakeTileServer``) encodes a synthetic ground in the real
Terrarium format; it also answers 404, 500, 429 and damaged tiles on demand. No test here
talks to the internet.
"""

from __future__ import annotations

import json
import math
import socket
import time
from typing import TYPE_CHECKING

import gpxpy
import numpy as np
import pytest
import shapely
from tile_services import FakeTileServer, TileFailure, png_bytes, terrarium_rgb, terrarium_tile

from walks.api import generate_walks, stops_in_area
from walks.errors import UsageError
from walks.export import gpx_text, walk_summary
from walks.terrain import (
    MAX_PIXEL_M,
    MAX_TILES,
    MIN_PIXEL_M,
    TERRARIUM_URL,
    UNREACHABLE_S,
    TileError,
    choose_tiles,
    decode_tile,
    default_terrain_url,
    fetch_terrain,
    pixel_m,
    terrain_region,
)
from walks.types import BBox, LatLon

if TYPE_CHECKING:
    from pathlib import Path

PARIS_BOX = BBox(2.3455, 48.8755, 2.3565, 48.8800)
EIFFEL = LatLon(48.8583, 2.2945)
MONTMARTRE = (48.8867, 2.3431)


def _plane(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A tilted plane: 40 m at the extract's south-west corner, rising 30 m per km north."""
    north_m = (np.asarray(lat) - 48.87) * 111_195.0
    east_m = (np.asarray(lon) - 2.34) * 111_195.0 * math.cos(math.radians(48.87))
    return 40.0 + 0.03 * north_m + 0.01 * east_m


def _butte(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """A 130 m hill on Montmartre over a 35 m plain."""
    dy = (np.asarray(lat) - MONTMARTRE[0]) * 111_195.0
    dx = (np.asarray(lon) - MONTMARTRE[1]) * 111_195.0 * math.cos(math.radians(MONTMARTRE[0]))
    return 35.0 + 95.0 * np.exp(-(dx**2 + dy**2) / (2 * 350.0**2))


def _region():
    return terrain_region(PARIS_BOX, EIFFEL)


# --------------------------------------------------------------------------- tiles


def test_a_served_tile_decodes_to_its_ground() -> None:
    tile = decode_tile(terrarium_tile(_butte, 13, 4149, 2817))
    from tile_services import pixel_centres

    lat, lon = pixel_centres(13, 4149, 2817)
    assert tile.shape == (256, 256)
    assert np.abs(tile - _butte(lat, lon)).max() <= 1 / 256 + 1e-4


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "not a PNG"),
        (b"<html>503 Slow Down</html>", "not a PNG"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "unreadable PNG"),
        (png_bytes(np.zeros((128, 128, 3), np.uint8)), "128 x 128"),
        (png_bytes(np.full((256, 256, 3), 255, np.uint8)), "not plausible"),  # 32,767 m
        (png_bytes(np.zeros((256, 256, 3), np.uint8)), "not plausible"),  # -32,768 m
    ],
)
def test_damaged_tiles_are_refused(data: bytes, why: str) -> None:
    with pytest.raises(TileError, match=why):
        decode_tile(data)


def test_zoom_gives_pixels_of_10_to_30_m_and_few_tiles() -> None:
    zoom, tiles = choose_tiles(_region())
    assert MIN_PIXEL_M <= pixel_m(zoom, 48.87) <= MAX_PIXEL_M
    assert zoom == 13
    assert 1 <= len(tiles) <= MAX_TILES
    # a corridor 100 km long takes coarser tiles, never more of them
    far = terrain_region(PARIS_BOX, LatLon(48.0, 2.35))
    far_zoom, far_tiles = choose_tiles(far)
    assert far_zoom < zoom
    assert len(far_tiles) <= MAX_TILES
    # a corridor across Europe is settled at once, with few tiles
    start = time.perf_counter()
    europe_zoom, europe = choose_tiles(terrain_region(BBox(24.93, 60.16, 24.95, 60.18), EIFFEL))
    assert time.perf_counter() - start < 0.5
    assert len(europe) <= MAX_TILES
    assert europe_zoom <= 7
    # every tile touches the region, and the region is covered
    boxes = shapely.union_all([shapely.box(*_bounds(far_zoom, x, y)) for x, y in far_tiles])
    assert boxes.covers(far)


def _bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    n = 2.0**z

    def lat(row: float) -> float:
        return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * row / n))))

    return x / n * 360 - 180, lat(y + 1), (x + 1) / n * 360 - 180, lat(y)


def test_default_source_and_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WALKS_TERRAIN_URL")
    assert default_terrain_url() == TERRARIUM_URL
    assert TERRARIUM_URL == "https://s3.amazonaws.com/elevation-tiles-prod/terrarium"
    monkeypatch.setenv("WALKS_TERRAIN_URL", "http://127.0.0.1:1/t")
    assert default_terrain_url() == "http://127.0.0.1:1/t"
    monkeypatch.setenv("WALKS_TERRAIN_URL", "")
    assert default_terrain_url() is None


# --------------------------------------------------------------------------- fetching


def test_fetched_terrain_matches_the_ground_and_is_cached(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url)
        served = server.tiles_served()
    assert got.problem is None
    assert got.terrain is not None
    assert got.downloaded == served == len(choose_tiles(_region())[1])
    # points on sight lines from the area to the tower: the region the tiles were chosen for
    rng = np.random.default_rng(3)
    t = rng.uniform(0, 1, 500)
    lats = rng.uniform(PARIS_BOX.south, PARIS_BOX.north, 500) * (1 - t) + EIFFEL.lat * t
    lons = rng.uniform(PARIS_BOX.west, PARIS_BOX.east, 500) * (1 - t) + EIFFEL.lon * t
    assert got.terrain.covers(lats, lons)
    # bilinear between pixel centres is exact on a plane, up to the 1/256 m encoding and the
    # Mercator pixels' curvature
    assert np.abs(got.terrain.sample(lats, lons) - _plane(lats, lons)).max() < 0.05
    cached = sorted((cache_dir / "terrain").glob("*/*.png"))
    assert len(cached) == served
    # offline now (the server is gone): the cache answers, nothing is downloaded
    again = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url, attempts=1)
    assert again.terrain is not None
    assert again.downloaded == 0
    assert np.array_equal(again.terrain.elevations, got.terrain.elevations)
    # with downloads off, the cache still answers
    assert fetch_terrain(_region(), cache_dir=cache_dir, url=None).terrain is not None


def test_a_damaged_cached_tile_is_fetched_again(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        first = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url)
        path = min((cache_dir / "terrain").glob("*/*.png"))
        path.write_bytes(path.read_bytes()[:500])  # cut short
        before = server.tiles_served()
        second = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url)
        assert server.tiles_served() == before + 1
    assert second.downloaded == 1
    assert first.terrain is not None
    assert second.terrain is not None
    assert np.array_equal(second.terrain.elevations, first.terrain.elevations)
    decode_tile(path.read_bytes())  # whole again


@pytest.mark.parametrize(
    "failure",
    [
        TileFailure(500, b"Internal Server Error"),
        TileFailure(503, b"", {"Retry-After": "0"}),
        TileFailure(429, b"Slow down", {"Retry-After": "0"}),
        TileFailure(200, b"\x89PNG\r\n\x1a\ngarbage"),  # a damaged tile
        TileFailure(200, png_bytes(terrarium_rgb(np.full((64, 64), 50.0)))),  # a wrong size
    ],
)
def test_passing_failures_are_retried(cache_dir: Path, failure: TileFailure) -> None:
    with FakeTileServer(_plane) as server:
        server.fail(failure, failure)
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url, backoff_s=0.0)
        assert got.problem is None
        assert got.terrain is not None
        assert server.tiles_served() == got.downloaded + 2


def test_a_missing_tile_gives_flat_ground_and_says_why(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        server.fail(TileFailure(404, b"Not Found"))
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url, backoff_s=0.0)
        assert server.tiles_served() == 1  # 404 is not retried, and no other tile is asked for
    assert got.terrain is None
    assert "could not be fetched" in got.problem
    assert "HTTP 404" in got.problem


def test_a_failing_source_is_tried_a_bounded_number_of_times(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        server.fail_always = TileFailure(500, b"down")
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url, attempts=3,
                            backoff_s=0.0)  # fmt: skip
        assert server.tiles_served() == 3
    assert got.terrain is None
    assert "failed 3 time(s)" in got.problem


def test_a_slow_source_is_given_up_after_the_budget(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url, budget_s=0.0)
        assert server.tiles_served() == 1  # the first tile, then the budget is spent
    assert got.terrain is None
    assert "took over 0 s" in got.problem


def test_no_network_fails_at_once(cache_dir: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    start = time.perf_counter()
    got = fetch_terrain(_region(), cache_dir=cache_dir, url=f"http://127.0.0.1:{port}/t",
                        attempts=4, backoff_s=5.0)  # fmt: skip
    assert time.perf_counter() - start < 2.0  # no back-off: there is no network to wait for
    assert got.terrain is None
    assert "cannot connect" in got.problem


def test_an_unreachable_source_is_not_asked_again_for_a_while(cache_dir: Path) -> None:
    with socket.socket() as sock:  # bound, not yet listening: connections are refused
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/t"
        first = fetch_terrain(_region(), cache_dir=cache_dir, url=url, backoff_s=0.0)
        assert first.terrain is None
        assert "cannot connect" in first.problem
        sock.listen()  # the port now takes connections; the source is noted as unreachable
        sock.setblocking(False)
        again = fetch_terrain(_region(), cache_dir=cache_dir, url=url, backoff_s=0.0)
        assert again == first  # the same flat ground and the same words for it
        with pytest.raises(BlockingIOError):
            sock.accept()  # nobody connected
        note = cache_dir / "terrain" / "unreachable.json"
        record = json.loads(note.read_text())
        assert record["url"] == url
        record["at"] -= UNREACHABLE_S  # the note expires: the source is asked again
        note.write_text(json.dumps(record))
        sock.settimeout(5.0)
        later = fetch_terrain(_region(), cache_dir=cache_dir, url=url, backoff_s=0.0,
                              timeout_s=0.5, attempts=1)  # fmt: skip
        conn, _ = sock.accept()
        conn.close()
    assert later.terrain is None
    assert later.problem != first.problem  # a connection was made this time (no reply)


def test_a_tile_that_comes_through_clears_the_note(cache_dir: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/t"
        assert fetch_terrain(_region(), cache_dir=cache_dir, url=refused).terrain is None
    note = cache_dir / "terrain" / "unreachable.json"
    assert note.exists()
    with FakeTileServer(_plane) as server:
        got = fetch_terrain(_region(), cache_dir=cache_dir, url=server.url)
    assert got.terrain is not None
    assert not note.exists()


def test_other_failures_are_not_remembered(cache_dir: Path) -> None:
    with FakeTileServer(_plane) as server:
        server.fail(TileFailure(404, b"Not Found"))
        assert fetch_terrain(_region(), cache_dir=cache_dir, url=server.url).terrain is None
        assert not (cache_dir / "terrain" / "unreachable.json").exists()
        assert fetch_terrain(_region(), cache_dir=cache_dir, url=server.url).terrain is not None


def test_downloads_off_and_nothing_cached_is_quietly_flat(cache_dir: Path) -> None:
    got = fetch_terrain(_region(), cache_dir=cache_dir, url=None)
    assert got.terrain is None
    assert got.problem is None


def test_an_unwritable_cache_still_gives_terrain(tmp_path: Path) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    with FakeTileServer(_plane) as server:
        got = fetch_terrain(_region(), cache_dir=blocked, url=server.url)
    assert got.terrain is not None


# --------------------------------------------------------------------------- walks


def test_a_walk_carries_climb_and_elevations_with_no_flag(paris_osm: Path, cache_dir: Path) -> None:
    with FakeTileServer(_butte) as server:
        result = generate_walks(None, [("cafe", 1)], osm_file=paris_osm, minutes=30,
                                terrain_url=server.url)  # fmt: skip
        assert server.tiles_served() > 0
    best = result.walks[0]
    assert best.climb_m is not None
    assert best.descent_m is not None
    assert best.climb_m > 1.0
    assert result.climb_m == best.climb_m
    assert result.descent_m == best.descent_m
    lats = np.array([p.lat for p in best.geometry])
    lons = np.array([p.lon for p in best.geometry])
    assert result.elevations is not None
    assert np.allclose(result.elevations, _butte(lats, lons), atol=0.6)
    ground = np.array(result.elevations)
    # a loop climbs what it descends, up to the 0.1 m rounding
    assert best.climb_m == pytest.approx(best.descent_m, abs=0.2)
    assert best.climb_m == pytest.approx(np.clip(np.diff(ground), 0, None).sum(), abs=1.0)
    summary = walk_summary(best)
    assert summary["climb_m"] == best.climb_m
    assert summary["descent_m"] == best.descent_m
    assert not [w for w in best.warnings if w.code == "terrain_missing"]
    gpx = gpxpy.parse(gpx_text(best, title="t", elevations=result.elevations))
    points = gpx.tracks[0].segments[0].points
    assert [p.elevation for p in points] == pytest.approx(result.elevations, abs=0.051)


def test_terrain_failure_is_a_warning_not_a_failed_walk(paris_osm: Path) -> None:
    with FakeTileServer(_butte) as server:
        server.fail_always = TileFailure(500, b"down")
        result = generate_walks(None, [("cafe", 1)], osm_file=paris_osm, minutes=30,
                                terrain_url=server.url, attempts=1)  # fmt: skip
    best = result.walks[0]
    assert best.climb_m is None
    assert result.elevations is None
    notes = [w for w in best.warnings if w.code == "terrain_missing"]
    assert len(notes) == 1
    assert "the ground is taken as flat" in notes[0].message
    assert walk_summary(best)["climb_m"] is None


def test_no_terrain_asks_for_nothing(paris_osm: Path) -> None:
    with FakeTileServer(_butte) as server:
        result = generate_walks(None, [("cafe", 1)], osm_file=paris_osm, minutes=30,
                                terrain_url=server.url, no_terrain=True)  # fmt: skip
        found = stops_in_area(None, ["view"], osm_file=paris_osm, terrain_url=server.url,
                              no_terrain=True)  # fmt: skip
        assert server.tiles_served() == 0
    assert result.walks[0].climb_m is None
    assert not result.walks[0].warnings or all(
        w.code != "terrain_missing" for w in result.walks[0].warnings
    )
    assert found.terrain is None


def test_terrain_arguments_are_checked(paris_osm: Path, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give only one of them"):
        stops_in_area(None, ["view"], osm_file=paris_osm, dem=tmp_path / "x.tif",
                      no_terrain=True)  # fmt: skip
    with pytest.raises(UsageError, match="no_terrain must be True or False"):
        stops_in_area(None, ["view"], osm_file=paris_osm, no_terrain="yes")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="terrain_url must be an http"):
        generate_walks(None, [("cafe", 1)], osm_file=paris_osm, terrain_url="ftp://x")


def test_views_stand_on_the_fetched_ground(paris_osm: Path) -> None:
    # the extract lies at the south foot of a (synthetic) Butte Montmartre: the ground rises
    # towards the north-west, and so do the eyes of the walkers there
    with FakeTileServer(_butte) as server:
        hilly = stops_in_area(None, ["view"], osm_file=paris_osm, terrain_url=server.url)
    flat = stops_in_area(None, ["view"], osm_file=paris_osm, no_terrain=True)
    assert hilly.terrain is not None
    assert hilly.terrain_warning is None
    assert flat.terrain is None
    by_node = {s.node: s.view.visible_fraction for s in flat.stops}
    higher = [s for s in hilly.stops if s.node in by_node]
    assert higher
    # raised eyes over the same assumed roofs see more of the tower
    assert all(s.view.visible_fraction >= by_node[s.node] for s in higher)
    assert any(s.view.visible_fraction > by_node[s.node] + 0.01 for s in higher)


def test_a_walk_planned_online_carries_climb_with_no_flag(
    runner, osm_services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from walks.cli import app

    with FakeTileServer(_butte) as tiles:
        monkeypatch.setenv("WALKS_OVERPASS_URL", osm_services.url)
        monkeypatch.setenv("WALKS_NOMINATIM_URL", osm_services.url)
        monkeypatch.setenv("WALKS_TERRAIN_URL", tiles.url)  # where the tiles are: no flag
        out_json, out_gpx = tmp_path / "walk.json", tmp_path / "walk.gpx"
        result = runner.invoke(app, ["-q", "generate", "Gare du Nord, Paris", "--stops", "cafe",
                                     "--minutes", "30", "--json", str(out_json),
                                     "--gpx", str(out_gpx)])  # fmt: skip
        assert result.exit_code == 0, result.stderr
        assert tiles.tiles_served() > 0
    summary = json.loads(out_json.read_text())
    assert summary["climb_m"] > 0
    assert summary["descent_m"] > 0
    assert summary["climb_m"] == pytest.approx(summary["descent_m"], abs=0.2)  # a loop
    assert all(w["code"] != "terrain_missing" for w in summary["warnings"])
    points = gpxpy.parse(out_gpx.read_text()).tracks[0].segments[0].points
    assert all(p.elevation is not None and 35.0 <= p.elevation <= 130.0 for p in points)
