"""Honest results and bad input: data left out is said in JSON and on stderr; no option ignored.

Through the real command line (typer's CliRunner), as ``test_cli.py`` does.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

from walks.cli import app

#: A part of the Paris extract (west, south, east, north) small enough to plan in quickly.
PARIS_BOX = "2.3455,48.8765,2.3525,48.8815"
#: A local port nothing listens on: a service that cannot be reached.
NO_SERVICE = "http://127.0.0.1:9/"
#: How many nodes the damaged copy of the Paris extract gets unreadable coordinates.
BAD_NODES = 3


def _warning_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Warning:")]


@pytest.fixture
def damaged_paris(paris_osm: Path, tmp_path: Path) -> Path:
    """A copy of the Paris extract in which three nodes have unreadable coordinates."""
    text = paris_osm.read_text(encoding="utf-8")
    values = iter(['lat="nan"', 'lat="12a.5"', 'lat="1e99"'])
    spoilt = re.sub(
        r'(<node id="\d+"[^>]*?) lat="[^"]*"', lambda m: f"{m.group(1)} {next(values)}", text,
        count=BAD_NODES,
    )  # fmt: skip
    assert spoilt != text
    path = tmp_path / "damaged.osm"
    path.write_text(spoilt, encoding="utf-8")
    return path


def _generate(runner, path: Path, *extra: str):
    return runner.invoke(
        app,
        ["generate", "--osm-file", str(path), PARIS_BOX, "--stops", "cafe", "--minutes", "20",
         "--no-terrain", "--json", "-", *extra],
    )  # fmt: skip


def _dropped(result) -> list[dict[str, str]]:
    assert result.exit_code == 0, result.stderr
    found = [w for w in json.loads(result.stdout)["warnings"] if w["code"] == "nodes_dropped"]
    lines = [line for line in _warning_lines(result.stderr) if "unreadable coordinates" in line]
    assert len(lines) == 1, result.stderr  # said once per run, not once per reading
    assert len(found) == 1, found
    assert f"{BAD_NODES} node(s) with unreadable coordinates" in found[0]["message"]
    assert "damaged.osm" in found[0]["message"]
    assert lines[0] == f"Warning: {found[0]['message']}"
    return found


def test_dropped_nodes_reach_the_json_without_a_cache(runner, damaged_paris: Path) -> None:
    _dropped(_generate(runner, damaged_paris, "--no-cache"))


def test_dropped_nodes_reach_the_json_through_the_store(
    runner, damaged_paris: Path, cache_dir: Path
) -> None:
    first = _generate(runner, damaged_paris)
    assert "into the store" in first.stderr  # the first run imports the file
    second = _generate(runner, damaged_paris)
    assert "from the store" in second.stderr
    assert "reading" not in second.stderr  # not the file: the count came from the store
    without = _generate(runner, damaged_paris, "--no-cache")
    assert _dropped(first) == _dropped(second) == _dropped(without)
    # a walk in another part of the same file: its graph is new, read from the store
    other = runner.invoke(
        app,
        ["generate", "--osm-file", str(damaged_paris), "2.350,48.877,2.356,48.882", "--stops",
         "", "--minutes", "15", "--no-terrain", "--json", "-"],
    )  # fmt: skip
    _dropped(other)


def test_an_intact_file_has_no_such_warning(runner, paris_osm: Path) -> None:
    done = _generate(runner, paris_osm)
    assert done.exit_code == 0, done.stderr
    codes = [w["code"] for w in json.loads(done.stdout)["warnings"]]
    assert "nodes_dropped" not in codes
    assert "unreadable" not in done.stderr


def test_dropped_nodes_in_stops_info_and_import(runner, damaged_paris: Path) -> None:
    stops = runner.invoke(
        app, ["stops", "--osm-file", str(damaged_paris), PARIS_BOX, "--stops", "cafe", "--json"]
    )
    assert stops.exit_code == 0, stops.stderr
    assert len([ln for ln in _warning_lines(stops.stderr) if "unreadable" in ln]) == 1
    info = runner.invoke(app, ["info", "--osm-file", str(damaged_paris), "--json"])
    assert info.exit_code == 0, info.stderr
    (said,) = json.loads(info.stdout)["warnings"]
    assert f"{BAD_NODES} node(s) with unreadable coordinates" in said
    assert _warning_lines(info.stderr) == [f"Warning: {said}"]
    imported = runner.invoke(app, ["import", str(damaged_paris), "--json"])
    assert imported.exit_code == 0, imported.stderr
    record = json.loads(imported.stdout)
    assert [w for w in record["warnings"] if "unreadable" in w] == [said]
    shown = json.loads(runner.invoke(app, ["info", str(damaged_paris), "--json"]).stdout)
    assert shown["store"]["dropped_nodes"] == BAD_NODES
    text = runner.invoke(app, ["info", str(damaged_paris)]).stdout
    assert re.search(rf"^left out\s+{BAD_NODES} node\(s\) with unreadable", text, re.MULTILINE)


def test_a_store_that_does_not_say_is_imported_again(
    runner, damaged_paris: Path, cache_dir: Path
) -> None:
    """A store of an XML file made before the count was kept cannot vouch for the file."""
    done = runner.invoke(app, ["import", str(damaged_paris), "--json"])
    assert done.exit_code == 0, done.stderr
    with contextlib.closing(sqlite3.connect(json.loads(done.stdout)["path"])) as db:
        db.execute("DELETE FROM meta WHERE key = 'dropped_nodes'")
        db.commit()
    shown = json.loads(runner.invoke(app, ["info", str(damaged_paris), "--json"]).stdout)
    assert (shown["store"]["current"], shown["store"]["state"]) == (False, "other version")
    again = _generate(runner, damaged_paris)
    assert "does not say which nodes" in again.stderr
    _dropped(again)


def _one_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("option", "fix"),
    [
        (["--no-cache"], "walks info --osm-file"),
        (["--overpass-url", NO_SERVICE], "drop it"),
        (["--nominatim-url", NO_SERVICE], "drop it"),
        (["--max-area-km2", "5"], "drop it"),
        (["--retries", "2"], "drop it"),
        (["--timeout", "30"], "drop it"),
    ],
)
def test_info_of_a_file_refuses_options_it_would_ignore(
    runner, paris_osm: Path, option: list[str], fix: str
) -> None:
    line = _one_error(runner.invoke(app, ["info", str(paris_osm), *option]))
    assert option[0] in line
    assert "region store" in line
    assert fix in line


def test_info_of_a_file_takes_the_environment_and_still_says_a_missing_file(
    runner, paris_osm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defaults from the environment are for every command: not refused."""
    monkeypatch.setenv("WALKS_TIMEOUT", "30")
    monkeypatch.setenv("WALKS_OVERPASS_URL", NO_SERVICE)
    done = runner.invoke(app, ["info", str(paris_osm), "--json"])
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["store"]["present"] is False
    # a file that is not there is the first thing said, before the options
    missing = runner.invoke(app, ["info", str(tmp_path / "none.osm"), "--retries", "2"])
    assert "does not exist" in _one_error(missing, 1)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--overpass-url", NO_SERVICE], "--overpass-url"),
        (["--max-area-km2", "5"], "--max-area-km2"),
        (["--retries", "2"], "--retries"),
        (["--timeout", "30"], "--timeout"),
        (["--nominatim-url", NO_SERVICE], "--nominatim-url"),
        (["48.8791,2.3486", "--radius", "250", "--nominatim-url", NO_SERVICE],
         "--nominatim-url"),
        ([PARIS_BOX, "--max-area-km2", "5"], "--max-area-km2"),
    ],
)  # fmt: skip
def test_info_of_local_data_refuses_service_options(
    runner, paris_osm: Path, args: list[str], option: str
) -> None:
    line = _one_error(runner.invoke(app, ["info", "--osm-file", str(paris_osm), *args]))
    assert f"Invalid value for {option}:" in line
    assert "drop it" in line


def test_info_online_by_coordinates_refuses_a_geocoder(runner, monkeypatch) -> None:
    monkeypatch.setenv("WALKS_OVERPASS_URL", NO_SERVICE)  # never the internet, even on a bug
    done = runner.invoke(
        app, ["info", "48.88,2.35", "--radius", "300", "--nominatim-url", NO_SERVICE]
    )
    line = _one_error(done)
    assert "--nominatim-url" in line
    assert "not a place name" in line


def test_options_in_use_are_still_taken(runner, paris_osm: Path) -> None:
    done = runner.invoke(
        app, ["-q", "info", "--osm-file", str(paris_osm), PARIS_BOX, "--no-cache", "--json"]
    )
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["from_cache"] is False


@pytest.mark.parametrize(
    "argv",
    [
        ["info", PARIS_BOX, "--radius", "300"],
        ["info", PARIS_BOX, "--radius", "300", "--osm-file", "{paris}"],
        ["stops", PARIS_BOX, "--radius", "300", "--osm-file", "{paris}"],
        ["generate", PARIS_BOX, "--radius", "300", "--osm-file", "{paris}", "--json", "-"],
    ],
)
def test_a_box_with_a_radius_is_refused(
    runner, paris_osm: Path, argv: list[str], monkeypatch
) -> None:
    monkeypatch.setenv("WALKS_OVERPASS_URL", NO_SERVICE)  # never the internet, even on a bug
    argv = [a.replace("{paris}", str(paris_osm)) for a in argv]
    line = _one_error(runner.invoke(app, argv))
    assert "Invalid value for --radius:" in line
    assert "drop --radius 300" in line
    assert "'LAT,LON' --radius 300" in line


def test_a_batch_row_with_a_box_and_a_radius_fails_saying_why(
    runner, paris_osm: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    rows = tmp_path / "rows.csv"
    rows.write_text(
        f'bbox,radius,minutes\n"{PARIS_BOX}",300,15\n"{PARIS_BOX}",,15\n', encoding="utf-8"
    )
    out = tmp_path / "walks.parquet"
    done = runner.invoke(
        app,
        ["batch", str(rows), "--osm-file", str(paris_osm), "--out", str(out), "--no-terrain",
         "--radius", "500", "--stops", ""],
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    first, second = pq.read_table(out).to_pylist()
    assert first["status"] == "failed"
    assert "takes no radius (300 m given)" in first["error"]
    assert second["status"] == "ok"  # the batch's --radius is a default for rows that need one


def test_a_batch_polygon_with_a_radius_fails_saying_why(
    runner, paris_osm: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    west, south, east, north = (float(v) for v in PARIS_BOX.split(","))
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    areas = tmp_path / "areas.geojson"
    areas.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"label": "box", "radius": 300, "minutes": 15},
         "geometry": {"type": "Polygon", "coordinates": [ring]}},
        {"type": "Feature", "properties": {"label": "point", "radius": 300, "minutes": 15},
         "geometry": {"type": "Point", "coordinates": [2.349, 48.879]}},
    ]}))  # fmt: skip
    out = tmp_path / "walks.parquet"
    done = runner.invoke(
        app,
        ["batch", str(areas), "--osm-file", str(paris_osm), "--out", str(out), "--no-terrain",
         "--stops", ""],
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    box, point = pq.read_table(out).to_pylist()
    assert box["status"] == "failed"
    assert "Polygon of 'box' takes no radius (300 m given)" in box["error"]
    assert point["status"] == "ok"


def test_the_library_refuses_a_box_with_a_radius() -> None:
    from walks.area import area_kind, resolve_area
    from walks.errors import AreaError

    with pytest.raises(AreaError, match=r"takes no radius \(500 m given\)"):
        resolve_area(PARIS_BOX, radius_m=500)
    assert resolve_area(PARIS_BOX).kind == "bbox"
    assert [area_kind(t) for t in (PARIS_BOX, " 48.8,2.3 ", "Montmartre", "1,2,3")] == [
        "bbox", "point", "place", "place",
    ]  # fmt: skip
