"""Honest results and bad input, continued: no service option silently ignored by stops and
generate; osmium's errors told apart from ours; nodes off the globe counted as left out.

Through the real command line (typer's CliRunner), as ``test_honest.py`` does, and through the
readers of ``walks.data`` where the library is the subject.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from osm_services import Failure, FakeOsmServices

from walks.cli import app
from walks.data import read_extract, read_features

#: A part of the Paris extract (west, south, east, north) small enough to plan in quickly.
PARIS_BOX = "2.3455,48.8765,2.3525,48.8815"
#: A local port nothing listens on: a service that cannot be reached.
NO_SERVICE = "http://127.0.0.1:9/"


def _one_error(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# ------------------------------------------------- 1. service options a run would ignore

#: The command lines of stops and generate on local data, each needing no service at all.
LOCAL_RUNS = {
    "generate": ["generate", "--osm-file", "{paris}", PARIS_BOX, "--stops", "cafe", "--minutes",
                 "20", "--no-terrain", "--json", "-"],
    "stops": ["stops", "--osm-file", "{paris}", PARIS_BOX, "--stops", "cafe", "--json"],
}  # fmt: skip


def _argv(command: str, paris: Path, *extra: str) -> list[str]:
    return [a.replace("{paris}", str(paris)) for a in LOCAL_RUNS[command]] + list(extra)


@pytest.mark.parametrize("command", ["generate", "stops"])
@pytest.mark.parametrize(
    ("option", "why"),
    [
        (["--overpass-url", NO_SERVICE], "the data comes from --osm-file, not Overpass"),
        (["--max-area-km2", "5"], "limits downloads only"),
        (["--nominatim-url", NO_SERVICE], "the AREA is coordinates, not a place name"),
        (["--retries", "2"], "this run asks none (the data comes from --osm-file; "),
        (["--timeout", "30"], "this run asks none (the data comes from --osm-file; "),
    ],
)
def test_stops_and_generate_of_a_file_refuse_service_options(
    runner, paris_osm: Path, command: str, option: list[str], why: str
) -> None:
    line = _one_error(runner.invoke(app, _argv(command, paris_osm, *option)))
    assert f"Invalid value for {option[0]}: {option[0]} " in line
    assert why in line
    assert line.endswith("drop it")


@pytest.mark.parametrize(
    ("argv", "why"),
    [
        (["generate", "--overpass-url", NO_SERVICE], "the data is the demo, not Overpass"),
        (["generate", "--max-area-km2", "5"], "and the data is the demo"),
        (["generate", "--nominatim-url", NO_SERVICE],
         "no AREA to look up (the data is the demo) (and no --start or --end name)"),
        (["stops", "--nominatim-url", NO_SERVICE], "no AREA to look up (the data is the demo)"),
        (["generate", "--start", "60.17,24.94", "--no-terrain", "--retries", "3"],
         "(the data is the demo; no elevation tiles with --no-terrain)"),
        (["generate", "--dem", "{dem}", "--timeout", "60"],
         "(the data is the demo; the ground comes from --dem, not elevation tiles)"),
        (["stops", "--stops", "cafe,studio", "--retries", "3"],
         "(the data is the demo; no view stop asked for, so no elevation tiles)"),
        (["stops", "--stops", "view", "--no-terrain", "--timeout", "60"],
         "(the data is the demo; no elevation tiles with --no-terrain)"),
    ],
)  # fmt: skip
def test_the_demo_refuses_service_options_saying_why(
    runner, tmp_path: Path, argv: list[str], why: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default outputs, were the run not refused
    dem = tmp_path / "dem.tif"  # refused before it is opened
    line = _one_error(runner.invoke(app, [a.replace("{dem}", str(dem)) for a in argv]))
    assert why in line
    assert "drop it" in line


def test_values_from_the_environment_are_not_refused(
    runner, paris_osm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WALKS_* values are defaults for every command, whatever the data."""
    monkeypatch.setenv("WALKS_TIMEOUT", "30")
    monkeypatch.setenv("WALKS_OVERPASS_URL", NO_SERVICE)
    monkeypatch.setenv("WALKS_NOMINATIM_URL", NO_SERVICE)
    done = runner.invoke(app, _argv("stops", paris_osm))
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)  # cafés found in the file


def test_options_a_run_may_use_are_taken(runner, paris_osm: Path) -> None:
    """Elevation tiles and a --start looked up are services too: --retries/--timeout apply."""
    # generate fetches tiles for the walk's climb (none here: WALKS_TERRAIN_URL is empty)
    argv = [a for a in _argv("generate", paris_osm) if a != "--no-terrain"]
    done = runner.invoke(app, [*argv, "--retries", "2", "--timeout", "120"])
    assert done.exit_code == 0, done.stderr
    # stops fetches them for view stops
    done = runner.invoke(
        app, [*_argv("stops", paris_osm), "--stops", "cafe,view", "--retries", "2"]
    )
    assert done.exit_code == 0, done.stderr
    # a --start that is a name may be looked up (here it is a café of the file)
    done = runner.invoke(
        app,
        [*_argv("generate", paris_osm), "--start", "Le Balto", "--nominatim-url", NO_SERVICE,
         "--retries", "1", "--timeout", "120"],
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr


def test_a_place_area_of_a_file_asks_the_geocoder(runner, paris_osm: Path) -> None:
    argv = _argv("stops", paris_osm)
    argv[argv.index(PARIS_BOX)] = "Gare du Nord"
    done = runner.invoke(app, [*argv, "--nominatim-url", NO_SERVICE, "--retries", "1"])
    assert "cannot reach 127.0.0.1" in _one_error(done, 1)  # asked, not refused


def test_retries_hold_for_a_start_looked_up(
    runner, paris_osm: Path, osm_services: FakeOsmServices
) -> None:
    """``--retries`` reaches the geocoding of ``--start`` (it once took the default, 4 tries)."""
    osm_services.fail("nominatim", Failure(503, b"busy", sticky=True))
    done = runner.invoke(
        app,
        [*_argv("generate", paris_osm), "--start", "1 rue de Nulle Part", "--nominatim-url",
         osm_services.url, "--retries", "1"],
    )  # fmt: skip
    assert "Nominatim" in _one_error(done, 1)
    assert osm_services.count("nominatim") == 1


# ------------------------------------------------- 2. osmium's errors told apart from ours

#: A café beside the streets of ``_streets_xml``.
CAFE = '<node id="30" lat="60.1701" lon="24.9401"><tag k="amenity" v="cafe"/></node>'
#: The grid of ``_streets_xml``: SIDE by SIDE junctions, nodes 1 to SIDE², row by row.
SIDE = 5
#: The node in the middle of the grid, which tests put off the globe.
MIDDLE = 13


def _spot(node: int) -> tuple[float, float]:
    row, col = divmod(node - 1, SIDE)
    return 60.17 + 0.001 * row, 24.94 + 0.002 * col  # about 111 m apart either way


def _streets_xml(extra: str = "", *, lat: str | None = None, ways_first: bool = False) -> str:
    """
    Write a grid of footways (5 by 5 junctions about 111 m apart) as OSM XML.

    Parameters
    ----------
    extra
        More nodes, placed after the grid's.
    lat
        The latitude text of the middle node (``MIDDLE``), or None for its own.
    ways_first
        Put the ways before the nodes (an unsorted file, read through a repaired copy).

    Returns
    -------
    str
        The document.
    """
    texts = {i: f"{_spot(i)[0]:.7f}" for i in range(1, SIDE * SIDE + 1)}
    if lat is not None:
        texts[MIDDLE] = lat
    nodes = "\n".join(
        f'<node id="{i}" lat="{y}" lon="{_spot(i)[1]:.7f}"/>' for i, y in texts.items()
    )
    lines = [[r * SIDE + c + 1 for c in range(SIDE)] for r in range(SIDE)]  # rows
    lines += [[r * SIDE + c + 1 for r in range(SIDE)] for c in range(SIDE)]  # columns
    nds = ["".join(f'<nd ref="{i}"/>' for i in refs) for refs in lines]
    ways = "\n".join(
        f'<way id="{100 + n}">{refs}<tag k="highway" v="footway"/></way>'
        for n, refs in enumerate(nds)
    )
    body = f"{ways}\n{nodes}{extra}" if ways_first else f"{nodes}{extra}\n{ways}"
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n{body}\n</osm>\n'


@pytest.mark.parametrize("ways_first", [False, True])
def test_an_error_of_the_callers_filter_is_not_called_a_corrupt_file(
    tmp_path: Path, ways_first: bool
) -> None:
    """A ValueError raised around osmium's reading (our code, numpy, a caller's filter) is a
    bug, not a file osmium could not read: it is not turned into "corrupt or truncated"."""
    path = tmp_path / "cafe.osm"
    path.write_text(_streets_xml(CAFE, ways_first=ways_first), encoding="utf-8")

    def wanted(tags: dict[str, str]) -> bool:
        if tags.get("amenity") == "cafe":
            msg = "a bug in the filter"
            raise ValueError(msg)
        return False

    with pytest.raises(ValueError, match="^a bug in the filter$") as caught:
        read_features(path, wanted)
    assert type(caught.value) is ValueError
    (cafe,) = read_features(path, lambda tags: "amenity" in tags).features  # the file is fine
    assert cafe.osm_id == 30


@pytest.mark.parametrize("no_cache", [[], ["--no-cache"]])
@pytest.mark.parametrize(
    ("extra", "said"),
    [
        # osmium's ValueErrors: libosmium's std::length_error and std::range_error
        ('<node id="31" lat="60.17" lon="24.94"><tag k="name" v="' + "x" * 1100 + '"/></node>',
         "holds a tag longer than the 1024 bytes the reader accepts (OSM tag value is too "
         "long; OSM itself allows 255 characters): shorten or remove that tag"),
        ('<node id="3x" lat="60.17" lon="24.94"/>',
         "is corrupt or truncated (illegal id: '3x'): download it again"),
        ('<node id="31" lat="60.17" lon="24.94" timestamp="yesterday"/>',
         "is corrupt or truncated (can not parse timestamp: 'yesterday'): download it again"),
        # a RuntimeError
        ('<relation id="40"><member type="blob" ref="1" role=""/></relation>',
         "is corrupt or truncated (Unknown type on relation <member>): download it again"),
    ],
)  # fmt: skip
def test_a_file_osmium_cannot_read_still_gives_one_line(
    runner, tmp_path: Path, extra: str, said: str, no_cache: list[str]
) -> None:
    path = tmp_path / "bad.osm"
    path.write_text(_streets_xml(extra), encoding="utf-8")
    for argv in (["info", "--osm-file", str(path)], ["stops", "--osm-file", str(path), "-c",
                                                      "cafe"]):  # fmt: skip
        line = _one_error(runner.invoke(app, [*argv, *no_cache]), 1)
        assert line.startswith(f"Error: OSM file {str(path)!r} {said}")


# ------------------------------------------------- 3. nodes off the globe are said as left out


def _pbf_streets(path: Path, *, ways_first: bool) -> Path:
    """
    Write the grid of ``_streets_xml`` as PBF with osmium, its middle node at latitude 95.

    Parameters
    ----------
    path
        The file to write.
    ways_first
        Write the ways before their nodes (an unsorted file, read through a repaired copy).

    Returns
    -------
    Path
        ``path``.
    """
    import osmium
    from osmium.osm import mutable

    def spot(i: int) -> tuple[float, float]:
        lat, lon = _spot(i)
        return lon, 95.0 if i == MIDDLE else lat

    nodes = [mutable.Node(id=i, location=spot(i)) for i in range(1, SIDE * SIDE + 1)]
    refs = [[r * SIDE + c + 1 for c in range(SIDE)] for r in range(SIDE)]  # rows
    refs += [[r * SIDE + c + 1 for r in range(SIDE)] for c in range(SIDE)]  # columns
    ways = [
        mutable.Way(id=100 + n, nodes=row, tags={"highway": "footway"})
        for n, row in enumerate(refs)
    ]
    writer = osmium.SimpleWriter(str(path))
    try:
        for item in [*ways, *nodes] if ways_first else [*nodes, *ways]:
            writer.add(item)
    finally:
        writer.close()
    return path


@pytest.mark.parametrize(
    ("make", "count"),
    [
        (lambda p: p.write_text(_streets_xml(lat="95.0000000")), 1),  # read as it is
        (lambda p: p.write_text(_streets_xml(lat="-91.5")), 1),
        (lambda p: p.write_text(_streets_xml(lat="95.0", ways_first=True)), 1),  # a sorted copy
        # with an unreadable one: the XML is repaired first, both counted there, once
        (lambda p: p.write_text(_streets_xml('<node id="41" lat="nan" lon="24.94"/>',
                                            lat="95.0")), 2),
    ],
)  # fmt: skip
def test_xml_nodes_off_the_globe_are_counted_as_left_out(tmp_path: Path, make, count: int) -> None:
    path = tmp_path / "pole.osm"
    make(path)
    osm = read_extract(path)
    through = [w for w in osm.ways if MIDDLE in w.refs]
    assert len(through) == 2  # its row and its column
    for way in through:
        assert math.isnan(way.lats[way.refs.index(MIDDLE)])  # read as missing: left out
    assert osm.dropped_nodes == count
    assert read_features(path, bool).dropped_nodes == count


@pytest.mark.parametrize("ways_first", [False, True])
def test_pbf_nodes_off_the_globe_are_counted_as_left_out(tmp_path: Path, ways_first: bool) -> None:
    path = _pbf_streets(tmp_path / "pole.osm.pbf", ways_first=ways_first)
    assert read_extract(path).dropped_nodes == 1
    assert read_features(path, bool).dropped_nodes == 1


def test_an_intact_file_counts_none(paris_osm: Path, tmp_path: Path) -> None:
    assert read_extract(paris_osm).dropped_nodes == 0
    path = tmp_path / "street.osm"
    path.write_text(_streets_xml(CAFE))  # a node without tags beside it, and one with
    assert read_features(path, bool).dropped_nodes == 0


def _said_once(result, count: int) -> str:
    assert result.exit_code == 0, result.stderr
    lines = [ln for ln in result.stderr.splitlines() if "with unreadable coordinates" in ln]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"Warning: {count} node(s) with unreadable coordinates in ")
    return lines[0].removeprefix("Warning: ")


def test_the_cli_says_nodes_off_the_globe_without_a_cache(runner, tmp_path: Path) -> None:
    path = tmp_path / "pole.osm"
    path.write_text(_streets_xml(CAFE, lat="95.0000000"), encoding="utf-8")
    info = runner.invoke(app, ["info", "--osm-file", str(path), "--no-cache", "--json"])
    said = _said_once(info, 1)
    assert json.loads(info.stdout)["warnings"] == [said]
    walk = runner.invoke(
        app,
        ["generate", "--osm-file", str(path), "--stops", "cafe", "--minutes", "40",
         "--no-terrain", "--no-cache", "--json", "-"],
    )  # fmt: skip
    assert _said_once(walk, 1) == said
    found = [w["message"] for w in json.loads(walk.stdout)["warnings"]]
    assert found.count(said) == 1
    stops = runner.invoke(
        app, ["stops", "--osm-file", str(path), "-c", "cafe", "--no-cache", "--json"]
    )
    assert _said_once(stops, 1) == said


@pytest.mark.parametrize("form", ["xml", "pbf"])
def test_the_store_says_nodes_off_the_globe_too(runner, tmp_path: Path, form: str) -> None:
    """The region store (osmium's pass for XML, the arrays for PBF) says what the file says."""
    if form == "xml":
        path = tmp_path / "pole.osm"
        path.write_text(_streets_xml(CAFE, lat="95.0000000"), encoding="utf-8")
    else:
        path = _pbf_streets(tmp_path / "pole.osm.pbf", ways_first=False)
    said = []
    for extra in ([], ["--no-cache"]):
        info = runner.invoke(app, ["info", "--osm-file", str(path), "--json", *extra])
        assert info.exit_code == 0, info.stderr
        said.append(json.loads(info.stdout)["warnings"])
    assert said[0] == said[1]
    (warning,) = said[0]
    assert warning.startswith("1 node(s) with unreadable coordinates")
