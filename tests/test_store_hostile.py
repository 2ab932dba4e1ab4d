"""Hostile input for the region store: broken extracts, odd names, damaged stores, racing runs.

Each case goes through the real command line (in a subprocess where the terminal matters or
processes race, else typer's runner) or the library, and checks what a user sees: the exit
code (1 for our errors, 2 for bad arguments), exactly one ``Error: …`` line naming the value
and the fix, no traceback, no control character on the terminal, nothing half-written left,
and a good run afterwards still working.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from conftest import SHARED

from walks import store, store_grids
from walks.cli import app
from walks.data import read_extract, read_features
from walks.errors import CacheError, DataError
from walks.loader import load_features, load_graph

if TYPE_CHECKING:
    from collections.abc import Iterator

    from typer.testing import CliRunner

    from walks.data import OsmWays

MUNICH = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
KREMS = SHARED / "data" / "osm-krems" / "krems.osm.gz"
REPO = Path(__file__).resolve().parents[1]

#: What must never reach a terminal: C0 controls but line feed, DEL, C1, bidi overrides.
RAW_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _walks(*args: str | bytes, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m walks`` with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-m", "walks", *args],
        capture_output=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def _error_line(stderr: str, code: int, actual: int) -> str:
    """The one ``Error:`` line of a failed run (no traceback, right exit code)."""
    assert actual == code, stderr
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    assert "a bug in walks" not in lines[0]
    return lines[0]


def _pbf_block_ends(path: Path) -> list[int]:
    """The byte offsets where the blocks of a PBF file end (a cut there is a valid file)."""
    data = path.read_bytes()
    ends, at = [], 0
    while at < len(data):
        (size,) = struct.unpack(">I", data[at : at + 4])
        header = data[at + 4 : at + 4 + size]
        i, datasize = 0, 0
        while i < len(header):  # BlobHeader: field 3 (varint) is the blob's size
            key = header[i]
            i += 1
            value = shift = 0
            while True:
                byte = header[i]
                i += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            if key & 7 == 2:
                i += value
            elif key >> 3 == 3:
                datasize = value
        at += 4 + size + datasize
        ends.append(at)
    return ends


def _same_ways(a: OsmWays, b: OsmWays) -> None:
    """Two readings of ways are equal, NaN (a node missing from the extract) equal to NaN."""
    assert len(a.ways) == len(b.ways)
    for x, y in zip(a.ways, b.ways, strict=True):
        assert (x.osm_id, x.refs, x.tags) == (y.osm_id, y.refs, y.tags)
        for p, q in zip(x.lats + x.lons, y.lats + y.lons, strict=True):
            assert p == q or (math.isnan(p) and math.isnan(q))
    assert a.areas == b.areas


# ------------------------------------------------------------------ broken and odd extracts


def _bad_extracts(folder: Path) -> dict[str, tuple[Path, int, str]]:
    """Broken files: name -> (path, exit code, text the error line must hold)."""
    data = MUNICH.read_bytes()
    made: dict[str, tuple[Path, int, str]] = {}
    for cut in (100, 50_000, 400_000, len(data) - 1000):
        path = folder / f"cut{cut}.osm.pbf"
        path.write_bytes(data[:cut])
        made[f"pbf cut at {cut}"] = (path, 1, "truncated")
    empty = folder / "empty.osm.pbf"
    empty.write_bytes(b"")
    made["zero bytes"] = (empty, 1, "is empty")
    noise = folder / "noise.osm.pbf"
    noise.write_bytes(bytes(range(256)) * 400)
    made["random bytes"] = (noise, 1, "corrupt")
    xml = (SHARED / "data" / "osm-paris-gare-du-nord-2021" / "map.osm").read_bytes()
    tail = folder / "tail.osm"
    tail.write_bytes(xml[: len(xml) // 3])
    made["xml broken tail"] = (tail, 1, "XML")
    not_gzip = folder / "plain.osm.gz"
    not_gzip.write_bytes(b"hello, no gzip here\n" * 20)
    made["gzip that is not gzip"] = (not_gzip, 1, "plain.osm.gz")
    not_bz2 = folder / "plain.osm.bz2"
    not_bz2.write_bytes(b"hello, no bzip2 here\n" * 20)
    made["bz2 that is not bz2"] = (not_bz2, 1, "bzip2")
    made["missing"] = (folder / "none.osm.pbf", 1, "does not exist")
    made["fifo"] = (folder / "pipe.osm.pbf", 1, "not a regular file")
    os.mkfifo(made["fifo"][0])
    (folder / "dir.osm.pbf").mkdir()
    made["directory"] = (folder / "dir.osm.pbf", 2, "is a directory")
    return made


def test_broken_extracts_are_one_error_leave_nothing_and_a_good_run_follows(
    runner: CliRunner, tmp_path: Path
) -> None:
    cache = tmp_path / "c"
    for name, (path, code, needle) in _bad_extracts(tmp_path).items():
        for argv in (["import", str(path)], ["info", "--osm-file", str(path)]):
            done = runner.invoke(app, [*argv, "--cache-dir", str(cache)])
            line = _error_line(done.stderr, code, done.exit_code)
            assert path.name in line, (name, line)
            assert needle in line, (name, line)
            leftovers = list((cache / "stores").glob("*")) if (cache / "stores").is_dir() else []
            assert leftovers == [], (name, leftovers)
    good = runner.invoke(app, ["import", str(KREMS), "--cache-dir", str(cache), "--json"])
    assert good.exit_code == 0, good.stderr
    assert json.loads(good.stdout)["current"] is True


def test_info_of_an_extract_name_never_asks_the_geocoder(runner: CliRunner, tmp_path: Path) -> None:
    """``walks info X.osm.pbf`` for a missing file, a folder or a FIFO names the file."""
    (tmp_path / "dir.osm.pbf").mkdir()
    os.mkfifo(tmp_path / "pipe.osm.pbf")
    (tmp_path / "loop.osm.pbf").symlink_to(tmp_path / "loop.osm.pbf")
    for name, needle in (
        ("loop.osm.pbf", "does not exist"),
        ("none.osm.pbf", "does not exist"),
        ("dir.osm.pbf", "directory"),
        ("pipe.osm.pbf", "not a regular file"),
    ):
        done = runner.invoke(
            app, ["info", str(tmp_path / name), "--nominatim-url", "http://127.0.0.1:9/"]
        )
        line = _error_line(done.stderr, 1, done.exit_code)
        assert name in line
        assert needle in line
        assert "nominatim" not in line.lower()
        assert "127.0.0.1" not in line


@pytest.mark.parametrize("command", ["generate", "stops"])
def test_an_extract_given_as_area_is_a_usage_error_not_a_place(
    runner: CliRunner, command: str, tmp_path: Path
) -> None:
    """``walks generate munchen.osm.pbf``: the local path is not sent to the geocoder."""
    done = runner.invoke(
        app,
        [
            command,
            str(MUNICH),
            "--nominatim-url",
            "http://127.0.0.1:9/",
            "--cache-dir",
            str(tmp_path / "c"),
        ],
    )
    line = _error_line(done.stderr, 2, done.exit_code)
    assert "munchen.osm.pbf" in line
    assert "--osm-file" in line
    assert "127.0.0.1" not in line


def test_pbf_cut_at_a_block_boundary_warns_that_it_holds_no_street(
    runner: CliRunner, tmp_path: Path
) -> None:
    """A PBF cut between blocks is a valid, shorter file: the import says what it lacks."""
    first_data_block = _pbf_block_ends(MUNICH)[1]
    cut = tmp_path / "cut.osm.pbf"
    cut.write_bytes(MUNICH.read_bytes()[:first_data_block])
    done = runner.invoke(app, ["import", str(cut), "--json", "--cache-dir", str(tmp_path / "c")])
    assert done.exit_code == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["ways"] == 0
    assert len(record["warnings"]) == 1
    assert "no walkable way" in record["warnings"][0]
    assert "Warning: " in done.stderr
    assert "cut.osm.pbf" in done.stderr
    whole = runner.invoke(app, ["import", str(MUNICH), "--json", "--cache-dir", str(tmp_path)])
    assert json.loads(whole.stdout)["warnings"] == []


# ------------------------------------------------------------------------------ file names


def test_control_characters_in_a_file_name_never_reach_the_terminal(tmp_path: Path) -> None:
    name = "a b\x1b[31mRED\x07\nline2\u202e\x9b2J" + "x" * 60 + ".osm.pbf"
    odd = tmp_path / name
    odd.write_bytes(MUNICH.read_bytes())
    cache = str(tmp_path / "c")
    runs = [
        _walks("import", str(odd), "--cache-dir", cache),
        _walks("info", str(odd), "--cache-dir", cache, "--json"),
        _walks("cache", "list", "--cache-dir", cache),
        _walks("import", str(odd) + "-gone.osm.pbf", "--cache-dir", cache),
    ]
    for done in runs:
        out, err = done.stdout.decode(), done.stderr.decode()
        assert not RAW_CONTROL.search(out), out
        assert not RAW_CONTROL.search(err), err
        assert "Traceback" not in err
    assert [r.returncode for r in runs] == [0, 0, 0, 1]
    progress = [ln for ln in runs[0].stderr.decode().split("\n") if ln]
    assert len(progress) == 1, progress
    # each phase is one line, however long the name (no folding at the console's width)
    assert all(line.startswith("walks: ") and line.endswith("…") for line in progress), progress
    assert json.loads(runs[1].stdout)["store"]["osm_file"] == str(odd)


def test_a_file_name_that_is_not_utf8_is_one_error(tmp_path: Path) -> None:
    folder = os.fsencode(tmp_path)
    odd = folder + b"/bad\xff\x9b.osm.pbf"
    Path(os.fsdecode(odd)).write_bytes(MUNICH.read_bytes())
    cache = tmp_path / "c"
    for argv in (
        [b"import", odd],
        [b"info", odd],
        [
            b"generate",
            b"--osm-file",
            odd,
            b"--no-terrain",
            b"--stops",
            b"",
            b"--html",
            os.fsencode(tmp_path / "w.html"),
        ],
    ):
        done = _walks(*argv, b"--cache-dir", os.fsencode(cache))
        line = _error_line(done.stderr.decode(), 1, done.returncode)
        assert "not valid UTF-8" in line
        assert "bad\\xff\\x9b.osm.pbf" in line
        assert "rename" in line
    assert not cache.exists()
    assert not (tmp_path / "w.html").exists()


def test_the_library_refuses_a_file_whose_name_is_not_utf8(tmp_path: Path) -> None:
    odd = Path(os.fsdecode(os.fsencode(tmp_path) + b"/bad\xff.osm.pbf"))
    odd.write_bytes(MUNICH.read_bytes())
    with pytest.raises(DataError, match="not valid UTF-8"):
        store.import_extract(odd, tmp_path / "c")
    assert store.store_path(odd, tmp_path / "c").name.endswith(".sqlite")  # no encoding error


# ------------------------------------------------------------------ the file and its store


def test_store_whose_file_is_gone_is_shown_as_orphaned(runner: CliRunner, tmp_path: Path) -> None:
    cache = str(tmp_path / "c")
    copy = tmp_path / "gone.osm.pbf"
    copy.write_bytes(MUNICH.read_bytes())
    assert runner.invoke(app, ["import", str(copy), "--cache-dir", cache]).exit_code == 0
    copy.unlink()
    shown = runner.invoke(app, ["info", str(copy), "--cache-dir", cache])
    assert shown.exit_code == 0, shown.stderr
    assert re.search(r"^store\s+orphaned \(its file is gone", shown.stdout, re.MULTILINE)
    record = json.loads(
        runner.invoke(app, ["info", str(copy), "--json", "--cache-dir", cache]).stdout
    )
    assert (record["store"]["state"], record["store"]["current"]) == ("file gone", False)
    rows = json.loads(runner.invoke(app, ["cache", "list", "--json", "--cache-dir", cache]).stdout)
    assert [(r["state"], r["current"]) for r in rows if r["kind"] == "store"] == [
        ("file gone", False)
    ]
    listed = runner.invoke(app, ["cache", "list", "--cache-dir", cache]).stdout
    assert "[orphaned (its file is gone" in listed
    moved = tmp_path / "sub" / "gone.osm.pbf"  # the same content elsewhere: a store of its own
    moved.parent.mkdir()
    moved.write_bytes(MUNICH.read_bytes())
    other = json.loads(
        runner.invoke(app, ["info", str(moved), "--json", "--cache-dir", cache]).stdout
    )
    assert other["store"]["present"] is False


class _Kept(logging.Handler):
    """Keeps the messages of a logger (the CLI's runs turn off propagation to pytest's)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _warnings_of(name: str) -> Iterator[list[str]]:
    """Collect the warnings a logger emits inside the block."""
    kept = _Kept()
    logger = logging.getLogger(name)
    logger.addHandler(kept)
    try:
        yield kept.messages
    finally:
        logger.removeHandler(kept)


def test_store_of_another_version_says_so_and_is_rebuilt(runner: CliRunner, tmp_path: Path) -> None:
    cache = tmp_path / "c"
    info = store.import_extract(MUNICH, cache)
    with contextlib.closing(sqlite3.connect(info.path)) as db, db:
        db.execute("UPDATE meta SET value = '3' WHERE key = 'version'")
    shown = runner.invoke(app, ["info", str(MUNICH), "--cache-dir", str(cache)])
    assert "made by another version of walks" in shown.stdout
    assert "the file changed" not in shown.stdout
    record = json.loads(
        runner.invoke(app, ["info", str(MUNICH), "--json", "--cache-dir", str(cache)]).stdout
    )["store"]
    assert (record["state"], record["version"]) == ("other version", "3")
    with _warnings_of("walks.loader") as said:
        load_graph(osm_file=MUNICH, cache_dir=cache, use_cache=False, use_store=True)
    assert len(said) == 1, said
    assert "made by another version of walks" in said[0]
    assert "the file changed" not in said[0]
    assert store.store_info(MUNICH, cache).current  # type: ignore[union-attr]


def test_file_changed_during_an_implicit_import_is_one_error(tmp_path: Path) -> None:
    copy = tmp_path / "m.osm.pbf"
    copy.write_bytes(MUNICH.read_bytes())

    def meddle(text: str) -> None:  # the download still writing while walks reads the file
        if "into the store" in text:
            with copy.open("ab") as fh:
                fh.write(b"\0")

    with pytest.raises(DataError, match="changed while it was imported"):
        load_graph(osm_file=copy, cache_dir=tmp_path / "c", progress=meddle)


# ---------------------------------------------------------------------------- damaged stores


def _damage(store_file: Path, needle: bytes, replacement: bytes) -> None:
    """Overwrite the first occurrence of some bytes of a store file (same length)."""
    data = bytearray(store_file.read_bytes())
    at = data.find(needle)
    assert at >= 0, needle
    data[at : at + len(replacement)] = replacement
    store_file.write_bytes(bytes(data))


def test_damaged_rows_make_the_store_rebuilt_not_a_bug(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    info = store.import_extract(MUNICH, cache)
    _damage(info.path, b"highway\x1efootway", b"highwayXfootway")  # a way's tags
    _damage(info.path, b"amenity\x1ecafe", b"amenityXcafe")  # a feature's tags
    assert store.store_info(MUNICH, cache).current  # type: ignore[union-attr]
    said: list[str] = []
    with _warnings_of("walks.loader") as warned:
        loaded = load_graph(
            osm_file=MUNICH, cache_dir=cache, use_cache=False, use_store=True, progress=said.append
        )
    assert "importing munchen.osm.pbf into the store again" in said
    assert len(warned) == 1, warned
    assert "cannot be read" in warned[0]
    _same_ways(store.load_ways(MUNICH, None, cache), read_extract(MUNICH))
    assert loaded.graph.n_nodes > 1000
    _damage(info.path, b"amenity\x1ecafe\x1f", b"amenity\x1ecafeX")  # two tags run together
    said.clear()
    from walks.categories import load_categories, select_categories

    cafes = select_categories(load_categories(), ["cafe"])
    found = load_features(None, cafes, osm_file=MUNICH, cache_dir=cache, progress=said.append)
    assert "importing munchen.osm.pbf into the store again" in said
    assert len(found.features) >= 100


def test_store_cleared_while_a_run_opens_it_is_imported_again(tmp_path: Path) -> None:
    """``walks cache clear`` between the store's check and its reading: the run still works."""
    cache = tmp_path / "c"
    target = store.import_extract(KREMS, cache).path
    said: list[str] = []

    def clear_meanwhile(text: str) -> None:
        said.append(text)
        if text.startswith("opening"):
            target.unlink()

    loaded = load_graph(
        osm_file=KREMS, cache_dir=cache, use_cache=False, use_store=True, progress=clear_meanwhile
    )
    assert "importing krems.osm.gz into the store again" in said
    assert loaded.graph.n_nodes > 1000
    assert store.store_info(KREMS, cache).current  # type: ignore[union-attr]


def test_damaged_rows_are_a_cache_error_of_the_store_itself(tmp_path: Path) -> None:
    cache = tmp_path / "c"
    info = store.import_extract(MUNICH, cache)
    _damage(info.path, b"highway\x1efootway", b"highwayXfootway")
    with pytest.raises(CacheError, match="walks import"):
        store.load_ways(MUNICH, None, cache)


def test_corrupt_store_pages_and_a_stale_journal(runner: CliRunner, tmp_path: Path) -> None:
    """Bytes overwritten in a store, or a hot journal beside it: shown, then rebuilt on use."""
    cache = tmp_path / "c"
    good = store.import_extract(MUNICH, cache).path.read_bytes()
    target = store.store_path(MUNICH, cache)
    for offset in (0, 100, len(good) // 2):
        target.write_bytes(good[:offset] + b"\xde\xad\xbe\xef" * 256 + good[offset + 1024 :])
        shown = runner.invoke(app, ["info", str(MUNICH), "--json", "--cache-dir", str(cache)])
        assert shown.exit_code == 0, shown.stderr
        state = json.loads(shown.stdout)["store"]["state"]
        assert state in {"unreadable", "current"}, state
        loaded = load_graph(osm_file=MUNICH, cache_dir=cache, use_cache=False, use_store=True)
        assert loaded.graph.n_nodes > 1000
        assert store.store_info(MUNICH, cache).current  # type: ignore[union-attr]
    # a write killed half-way (not walks' own: it never writes a store after its import)
    target.write_bytes(good)
    with contextlib.closing(sqlite3.connect(target)) as db:
        db.execute("PRAGMA cache_size = 1")
        db.execute("BEGIN")
        db.execute("DELETE FROM features")
        (tmp_path / "hot").write_bytes(Path(f"{target}-journal").read_bytes())
        (tmp_path / "half").write_bytes(target.read_bytes())
        db.rollback()
    target.write_bytes((tmp_path / "half").read_bytes())
    Path(f"{target}-journal").write_bytes((tmp_path / "hot").read_bytes())
    shown = runner.invoke(app, ["info", str(MUNICH), "--cache-dir", str(cache)])
    assert re.search(r"^store\s+unreadable \(damaged or half-written\)", shown.stdout, re.MULTILINE)
    listed = json.loads(
        runner.invoke(app, ["cache", "list", "--json", "--cache-dir", str(cache)]).stdout
    )
    assert [r["state"] for r in listed if r["kind"] == "store"] == ["unreadable"]
    walk = runner.invoke(app, ["info", "--osm-file", str(MUNICH), "--cache-dir", str(cache)])
    assert walk.exit_code == 0, walk.stderr
    assert re.search(r"^store\s+current", walk.stdout, re.MULTILINE)
    assert not Path(f"{target}-journal").exists()


def test_stale_temporary_store_goes_with_cache_clear(runner: CliRunner, tmp_path: Path) -> None:
    """A half-written store left by a killed import: kept while young, cleared when stale."""
    cache = tmp_path / "c"
    stores = cache / "stores"
    stores.mkdir(parents=True)
    young = stores / ".walks-tmp-young.sqlite"
    old = stores / ".walks-tmp-old.sqlite"
    for path in (young, old):
        path.write_bytes(MUNICH.read_bytes()[:4096])
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert runner.invoke(app, ["cache", "clear", "--cache-dir", str(cache)]).exit_code == 0
    assert sorted(p.name for p in stores.iterdir()) == [young.name]
    done = runner.invoke(app, ["import", str(MUNICH), "--cache-dir", str(cache)])
    assert done.exit_code == 0, done.stderr


# --------------------------------------------------------------------- the cache folder itself


def test_a_file_in_place_of_the_cache_folders(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder", encoding="utf-8")
    done = runner.invoke(app, ["import", str(MUNICH), "--cache-dir", str(blocker)])
    assert "blocker" in _error_line(done.stderr, 2, done.exit_code)
    cache = tmp_path / "c"
    cache.mkdir()
    (cache / "stores").write_text("not a folder", encoding="utf-8")
    done = runner.invoke(app, ["import", str(MUNICH), "--cache-dir", str(cache)])
    line = _error_line(done.stderr, 1, done.exit_code)
    assert str(cache / "stores") in line
    assert "--cache-dir" in line


def test_a_file_in_place_of_the_stores_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "stores").write_text("not a folder", encoding="utf-8")
    with pytest.raises(CacheError, match="not a folder"):
        store.import_extract(MUNICH, tmp_path)


def test_a_relative_cache_folder_works_everywhere(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--cache-dir rel`` and ``WALKS_CACHE_DIR=rel``: SQLite's file: URIs need absolute paths."""
    monkeypatch.chdir(tmp_path)
    done = runner.invoke(app, ["import", str(KREMS), "--cache-dir", "rel", "--json"])
    assert done.exit_code == 0, done.stderr
    assert json.loads(done.stdout)["path"].startswith(str(tmp_path / "rel" / "stores"))
    for argv in (["info", str(KREMS)], ["cache", "list"], ["info", "--osm-file", str(KREMS)]):
        shown = runner.invoke(app, [*argv, "--cache-dir", "rel"])
        assert shown.exit_code == 0, (argv, shown.stderr)
        assert "current" in shown.stdout or "from cache" in shown.stdout, shown.stdout
    monkeypatch.setenv("WALKS_CACHE_DIR", "rel2")
    listed = runner.invoke(app, ["import", str(KREMS)])
    assert listed.exit_code == 0, listed.stderr
    assert (tmp_path / "rel2" / "stores").is_dir()
    loaded = load_graph(osm_file=KREMS, cache_dir=Path("rel3"), use_cache=False, use_store=True)
    assert loaded.graph.n_nodes > 1000
    assert store.store_info(KREMS, (tmp_path / "rel3").absolute()).current  # type: ignore[union-attr]


@contextlib.contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[Path]:
    """Mount a small tmpfs (root only), unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    folder.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {made.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_full_disk_is_one_error_and_the_import_is_tried_once_per_run(
    runner: CliRunner, tmp_path: Path
) -> None:
    with _tmpfs(tmp_path / "small", "size=2m") as small:
        done = runner.invoke(app, ["import", str(MUNICH), "--cache-dir", str(small)])
        line = _error_line(done.stderr, 1, done.exit_code)
        assert "disk is full" in line
        assert "has room" in line
        assert list((small / "stores").iterdir()) == []
        said: list[str] = []
        from walks.categories import load_categories, select_categories

        load_graph(osm_file=MUNICH, cache_dir=small, progress=said.append)
        cafes = select_categories(load_categories(), ["cafe"])
        found = load_features(None, cafes, osm_file=MUNICH, cache_dir=small, progress=said.append)
        assert sum("into the store" in text for text in said) == 2, said  # one import, once
        assert len(found.features) >= 100
        assert list((small / "stores").iterdir()) == []


def test_an_import_failing_on_a_full_disk_lets_its_packing_buffer_go(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's buffer for packing groups goes with a failed import too, not only with a
    finished one (a library process would hold it, tens of MB for a region, until its next
    import in that thread)."""
    from walks import pbf_jit, store_tables

    if not pbf_jit.available():
        pytest.skip("numba")
    monkeypatch.setenv("WALKS_JIT", "1")  # groups packed into the buffer
    monkeypatch.setattr(store_tables, "_CHUNK", 2000)  # flushes before the disk is full
    with (
        _tmpfs(tmp_path / "small", "size=2m") as small,
        pytest.raises(CacheError, match="disk is full"),
    ):
        store.import_extract(MUNICH, small)
    assert getattr(store_tables._SCRATCH, "buffer", None) is None


def test_read_only_cache_folder(runner: CliRunner, tmp_path: Path) -> None:
    with _tmpfs(tmp_path / "ro", "size=20m") as folder:
        assert (
            runner.invoke(app, ["import", str(MUNICH), "--cache-dir", str(folder)]).exit_code == 0
        )
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        shown = runner.invoke(app, ["info", str(MUNICH), "--cache-dir", str(folder)])
        assert re.search(r"^store\s+current", shown.stdout, re.MULTILINE)
        empty = folder / "sub"
        done = runner.invoke(app, ["import", str(KREMS), "--cache-dir", str(folder)])
        line = _error_line(done.stderr, 1, done.exit_code)
        assert "Read-only file system" in line
        done = runner.invoke(app, ["import", str(KREMS), "--cache-dir", str(empty)])
        _error_line(done.stderr, 1, done.exit_code)
        cleared = runner.invoke(app, ["cache", "clear", "--cache-dir", str(folder)])
        _error_line(cleared.stderr, 1, cleared.exit_code)


# ---------------------------------------------------------------------------- racing runs


def test_two_imports_and_a_clear_at_once(tmp_path: Path) -> None:
    cache = str(tmp_path / "c")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "walks"]
    runs = [
        subprocess.Popen(
            [*command, "import", str(MUNICH), "--cache-dir", cache, "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        for _ in range(2)
    ]
    clear = subprocess.run(
        [*command, "cache", "clear", "--cache-dir", cache],
        capture_output=True,
        env=env,
        check=False,
    )
    outputs = [run.communicate(timeout=60) for run in runs]
    assert clear.returncode == 0, clear.stderr
    for run, (out, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err
        assert json.loads(out)["ways"] > 2000
    assert not [p for p in (tmp_path / "c" / "stores").iterdir() if p.name.startswith(".")]
    # the clear may land before, between or after the imports' renames (CI saw each): it
    # leaves no store or a whole, current one, and the next import works either way
    info = store.store_info(MUNICH, tmp_path / "c")
    assert info is None or info.current
    again = subprocess.run(
        [*command, "import", str(MUNICH), "--cache-dir", cache, "--json"],
        capture_output=True, env=env, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["ways"] > 2000
    info = store.store_info(MUNICH, tmp_path / "c")
    assert info is not None
    assert info.current


# ------------------------------------------------------------------------------ hostile tags


def _hostile_pbf(path: Path, *, sorted_header: bool) -> Path:
    """A small street grid with hostile tags, written by pyosmium (OSM XML cannot hold them)."""
    import osmium
    from osmium.osm.mutable import Node, Way

    header = osmium.io.Header()
    if sorted_header:  # the store's fast path: osmium's C++ side filters
        header.set("sorting", "Type_then_ID")
        header.set("osmosis_replication_timestamp", "2020-01-01T00:00:00Z")
    writer = osmium.SimpleWriter(str(path), 4096 * 1024, header)
    stamp = "2020-01-01T00:00:00Z"
    grid = {}
    for i in range(5):
        for j in range(5):
            grid[i, j] = 1 + i * 5 + j
            writer.add_node(
                Node(
                    id=grid[i, j],
                    location=(11.570 + j * 0.0013, 48.135 + i * 0.0009),
                    version=1,
                    timestamp=stamp,
                )
            )
    odd = [
        ("amenity", "cafe"),
        ("name", "Caf\u00e9 \x1b[31mRED\x07 \u202eevil\u202c"),
        ("note", "\u00e9" * 255),
        ("k\x1ee\x1fy", "v\x1fa\x1el"),
        ("description", "{no json"),
        ("name:he", "\u05e7\u05e4\u05d4"),
        ("name:ar", "\u0645\u0642\u0647\u0649"),
    ]
    writer.add_node(
        Node(id=1000, location=(11.5726, 48.1368), version=1, timestamp=stamp, tags=odd)
    )
    writer.add_node(
        Node(
            id=1001,
            location=(11.5739, 48.1368),
            version=1,
            timestamp=stamp,
            tags=[("amenity", "cafe"), ("name", '{"a": 1}')],
        )
    )
    writer.add_node(
        Node(
            id=1002,
            location=(0.0, 0.0),
            version=1,
            timestamp=stamp,
            tags=[("amenity", "cafe"), ("name", "Null Island")],
        )
    )
    way = 100
    for i in range(5):
        writer.add_way(
            Way(
                id=way,
                nodes=[grid[i, j] for j in range(5)],
                version=1,
                timestamp=stamp,
                tags=[("highway", "residential"), ("name", f"Gasse\x1e{i}\x1f")],
            )
        )
        way += 1
    for j in range(5):
        writer.add_way(
            Way(
                id=way,
                nodes=[grid[i, j] for i in range(5)],
                version=1,
                timestamp=stamp,
                tags=[("highway", "footway"), ("k\x1f", "\x1e")],
            )
        )
        way += 1
    writer.add_way(
        Way(id=way, nodes=[grid[0, 0]], version=1, timestamp=stamp, tags=[("highway", "footway")])
    )
    writer.add_way(
        Way(
            id=way + 1,
            nodes=[grid[4, 4], 99999, 99998],
            version=1,
            timestamp=stamp,
            tags=[("highway", "path")],
        )
    )
    writer.close()
    return path


@pytest.mark.parametrize("sorted_header", [False, True])
def test_hostile_tags_come_back_from_the_store_as_from_the_file(
    sorted_header: bool, tmp_path: Path
) -> None:
    pbf = _hostile_pbf(tmp_path / "odd.osm.pbf", sorted_header=sorted_header)
    cache = tmp_path / "c"
    info = store.import_extract(pbf, cache)
    assert (info.ways, info.features) == (12, 3)
    _same_ways(store.load_ways(pbf, None, cache), read_extract(pbf))
    from_file = read_features(pbf, bool)
    from_store = store.load_features(pbf, None, bool, cache)
    assert from_store.features == from_file.features
    tags = {f.osm_id: f.tags for f in from_store.features}
    assert tags[1000]["k\x1ee\x1fy"] == "v\x1fa\x1el"
    assert tags[1001]["name"] == '{"a": 1}'
    assert (tags[1002]["name"], from_store.features[-1].lat) == ("Null Island", 0.0)


def test_a_node_at_zero_degrees_keeps_the_data_date(tmp_path: Path) -> None:
    pbf = _hostile_pbf(tmp_path / "odd.osm.pbf", sorted_header=False)
    store.import_extract(pbf, tmp_path / "c")
    assert read_extract(pbf).data_date is not None
    assert store.load_ways(pbf, None, tmp_path / "c").data_date == read_extract(pbf).data_date


def test_directions_show_separators_in_names_as_escapes(tmp_path: Path) -> None:
    """A record separator in a street name is no line break in the directions (str.splitlines)."""
    pbf = _hostile_pbf(tmp_path / "odd.osm.pbf", sorted_header=True)
    done = _walks(
        "generate",
        "--osm-file",
        str(pbf),
        "--minutes",
        "40",
        "--stops",
        "cafe",
        "--no-terrain",
        "--html",
        str(tmp_path / "w.html"),
        "--directions",
        "--cache-dir",
        str(tmp_path / "c"),
    )
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 0, err
    assert not RAW_CONTROL.search(out + err)
    assert "Gasse\\x1e" in out
    assert "Caf\u00e9 \\x1b[31mRED\\x07 \\u202eevil\\u202c" in out
    lines = out.split("\n")
    assert not [ln for ln in lines if ln and not ln.startswith(("  ", "+", str(tmp_path)))], out


def _unsorted_pbf_saying_sorted(path: Path) -> Path:
    """A PBF whose header says ``Type_then_ID`` while some nodes come after the ways."""
    import osmium
    from osmium.osm.mutable import Node, Way

    header = osmium.io.Header()
    header.set("sorting", "Type_then_ID")
    header.set("osmosis_replication_timestamp", "2020-01-01T00:00:00Z")
    writer = osmium.SimpleWriter(str(path), 4096 * 1024, header)
    stamp = "2020-01-01T00:00:00Z"
    grid = {(i, j): 1 + i * 5 + j for i in range(5) for j in range(5)}

    def node(i: int, j: int) -> None:
        location = (11.570 + j * 0.0013, 48.135 + i * 0.0009)
        writer.add_node(Node(id=grid[i, j], location=location, version=1, timestamp=stamp))

    for i in range(3):
        for j in range(5):
            node(i, j)
    for i in range(5):
        nodes = [grid[i, j] for j in range(5)]
        tags = [("highway", "residential")]
        writer.add_way(Way(id=100 + i, nodes=nodes, version=1, timestamp=stamp, tags=tags))
    for i in range(3, 5):  # concatenated extracts, or a tool that copied the header
        for j in range(5):
            node(i, j)
    writer.close()
    return path


def test_an_unsorted_pbf_that_says_it_is_sorted_gives_the_file_ways(tmp_path: Path) -> None:
    pbf = _unsorted_pbf_saying_sorted(tmp_path / "liar.osm.pbf")
    assert not any(math.isnan(v) for w in read_extract(pbf).ways for v in w.lats)
    store.import_extract(pbf, tmp_path / "c")
    _same_ways(store.load_ways(pbf, None, tmp_path / "c"), read_extract(pbf))


def test_a_damaged_grids_file_is_replaced(tmp_path: Path) -> None:
    info = store.import_extract(KREMS, tmp_path / "c")
    store_grids.grids_path(info.path).write_bytes(b"\x00not a database" * 200)
    store_grids.keep_grid(info.path, "key", b"grid")
    assert store_grids.read_grid(info.path, "key") == b"grid"
