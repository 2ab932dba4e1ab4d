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
