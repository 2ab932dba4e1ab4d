"""Trust leftovers of the region store: hostile tags, a terminated import, ignored options, warnings.

Each case runs the real command line in a subprocess (a crash, a signal and stderr's form are
what a user meets there) and checks the exit code, the one line said and what is left on disk.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SHARED
from pbf_bytes import field as _ld
from pbf_bytes import pbf_file
from pbf_bytes import varint as _v

MUNICH = SHARED / "data" / "osm-munich-altstadt-2020" / "munchen.osm.pbf"
REPO = Path(__file__).resolve().parents[1]


def _walks(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m walks`` with this checkout first on the path."""
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="80")
    return subprocess.run(
        [sys.executable, "-m", "walks", *args],
        capture_output=True, text=True, env=env, timeout=timeout, check=False,
    )  # fmt: skip


# ------------------------------------------------------------- a NUL in a tag, a name, a role


def _pbf(*, key: bytes = b"type", value: bytes = b"multipolygon", role: bytes = b"outer",
         user: bytes = b"alice", node_value: bytes = b"cafe", empty: bytes = b"",
         node_tags: bytes = b"\x07\x08\x00\x00") -> bytes:  # fmt: skip
    """A PBF file of two dense nodes (one a café, both by ``user``), a footway and a relation."""
    table = [empty, b"highway", b"footway", key, value, role, user, b"amenity", node_value]
    strings = _ld(1, b"".join(_ld(1, s) for s in table))
    info = _ld(1, _v(1) * 2) + _ld(2, _v(2) * 2) + _ld(5, _v(12) + _v(0))  # user: string 6
    dense = (_ld(1, _v(2) * 2) + _ld(5, info) + _ld(8, _v(0) + _v(2)) + _ld(9, _v(0) + _v(2))
             + _ld(10, node_tags))  # fmt: skip
    way = _v(8) + _v(10) + _ld(2, _v(1)) + _ld(3, _v(2)) + _ld(8, _v(2) + _v(2))
    relation = (_v(8) + _v(20) + _ld(2, _v(3)) + _ld(3, _v(4)) + _ld(8, _v(5))
                + _ld(9, _v(20)) + _ld(10, _v(1)))  # fmt: skip
    block = strings + _ld(2, _ld(2, dense)) + _ld(2, _ld(3, way)) + _ld(2, _ld(4, relation))
    return pbf_file(block)


@pytest.mark.parametrize("jit", ["0", "1"])
@pytest.mark.parametrize(
    ("case", "nul"),
    [("relation key", {"key": b"ty\0pe"}), ("relation value", {"value": b"multi\0polygon"}),
     ("node value", {"node_value": b"ca\0fe"}), ("not UTF-8", {"value": b"\xffmulti\0"})],
)  # fmt: skip
def test_a_nul_in_any_tag_is_one_error_in_every_path(
    case: str, nul: dict[str, bytes], jit: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """osmium crashes on such a tag or reads other text: the import and --no-cache refuse it.

    With the compiled loops (``WALKS_JIT=1``) no pass looks for such tags first: the loops'
    own reading of every block refuses them, before osmium reads the file.
    """
    if jit == "1":
        pytest.importorskip("numba")
    monkeypatch.setenv("WALKS_JIT", jit)
    extract = tmp_path / "nul.osm.pbf"
    extract.write_bytes(_pbf(**nul))
    cache = str(tmp_path / "cache")
    for args in (
        ("import", str(extract), "--cache-dir", cache),
        ("info", "--osm-file", str(extract), "--no-cache"),  # read_extract
    ):
        done = _walks(*args)
        assert done.returncode == 1, (case, args, done.returncode, done.stderr)
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
        assert "NUL character" in line, line
        assert "remove the tag" in line
        assert "Traceback" not in done.stderr
    # the other entry point of --no-cache, in a process of its own (osmium may crash it)
    script = (
        "import sys\nfrom walks.data import read_features\nfrom walks.errors import DataError\n"
        "try:\n    read_features(sys.argv[1], bool)\nexcept DataError as err:\n"
        "    sys.exit(f'Error: {err}')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    done = subprocess.run([sys.executable, "-c", script, str(extract)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 1, (case, done.returncode, done.stderr)
    assert "NUL character" in done.stderr
    stores = tmp_path / "cache" / "stores"
    assert not stores.exists() or not list(stores.iterdir())  # no store, no temporary file


def test_a_nul_after_a_block_the_loops_refuse_is_refused_before_osmium_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loops stop at a block they do not read; osmium, reading the file alone, is not
    handed the NUL tag of a later block (it would crash): one error line."""
    pytest.importorskip("numba")
    from pbf_bytes import HEADER, blob, zlib_data

    table = [b"", b"highway", b"foot\0way"]
    strings = _ld(1, b"".join(_ld(1, t) for t in table))
    plain = _v(0x08) + _v(2) + _v(0x40) + _v(0) + _v(0x48) + _v(0)  # node 1 at 0, 0
    dense = _ld(1, _v(4) * 2) + _ld(8, _v(0) + _v(2)) + _ld(9, _v(0) + _v(2))  # nodes 2, 4
    way = _v(8) + _v(10) + _ld(2, _v(1)) + _ld(3, _v(2)) + _ld(8, _v(4) + _v(4))
    clean = strings.replace(b"foot\0way", b"footxway")
    way2 = _v(8) + _v(12) + _ld(2, _v(1)) + _ld(3, _v(2)) + _ld(8, _v(4) + _v(4))
    first = clean + _ld(2, _ld(1, plain))  # a plain (not dense) node: not the loops'
    second = strings + _ld(2, _ld(2, dense)) + _ld(2, _ld(3, way))  # highway=foot<NUL>way
    third = clean + _ld(2, _ld(3, way2))  # (the last block is read first, for relations)
    extract = tmp_path / "late-nul.osm.pbf"
    extract.write_bytes(
        HEADER + b"".join(blob(b"OSMData", zlib_data(b)) for b in (first, second, third))
    )
    monkeypatch.setenv("WALKS_JIT", "1")
    done = _walks("import", str(extract), "--cache-dir", str(tmp_path / "cache"))
    assert done.returncode == 1, (done.returncode, done.stderr)
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    assert "NUL character" in line, line
    assert "corrupt" not in line  # said once, as itself
    assert "Traceback" not in done.stderr
    second = clean + _ld(2, _ld(2, dense)) + _ld(2, _ld(3, way))
    extract.write_bytes(
        HEADER + b"".join(blob(b"OSMData", zlib_data(b)) for b in (first, second, third))
    )
    done = _walks("import", str(extract), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert done.returncode == 0, done.stderr  # without the NUL: osmium reads it alone
    assert '"ways": 2' in done.stdout


def test_a_nul_in_a_user_name_or_a_role_is_read(tmp_path: Path) -> None:
    """osmium cuts such text at the NUL (one string of its own): the file is imported."""
    extract = tmp_path / "names.osm.pbf"
    extract.write_bytes(_pbf(user=b"al\0ice", role=b"ou\0ter"))
    done = _walks("import", str(extract), "--cache-dir", str(tmp_path / "cache"), "--json")
    assert done.returncode == 0, done.stderr
    assert '"ways": 1' in done.stdout


def test_string_0_holding_a_nul_is_refused_only_when_a_tag_names_it(tmp_path: Path) -> None:
    """In dense nodes a 0 ends each node's tags; in a value's place it names string 0."""
    from walks.pbf import NulTagError, check_tags

    extract = tmp_path / "zero.osm.pbf"
    extract.write_bytes(_pbf(empty=b"\0"))  # the 0s end the nodes' tags only
    check_tags(extract)
    extract.write_bytes(_pbf(empty=b"\0", node_tags=b"\x07\x00\x00\x00"))  # amenity=<0>
    with pytest.raises(NulTagError):
        check_tags(extract)


@pytest.mark.parametrize("text", [b"multi&#0;polygon", b"multi\0polygon"])
def test_a_nul_in_xml_is_refused_by_the_xml_reader(text: bytes, tmp_path: Path) -> None:
    """expat refuses a NUL, raw or as a character reference: one error naming the line."""
    extract = tmp_path / "nul.osm"
    extract.write_bytes(
        b'<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        b'<node id="1" version="1" lat="48.1" lon="11.5"/>\n'
        b'<node id="2" version="1" lat="48.2" lon="11.6"/>\n'
        b'<way id="10" version="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="footway"/>'
        b'</way>\n<relation id="20" version="1"><member type="way" ref="10" role="outer"/>'
        b'<tag k="type" v="' + text + b'"/></relation>\n</osm>\n'
    )
    for args in (
        ("import", str(extract), "--cache-dir", str(tmp_path / "cache")),
        ("info", "--osm-file", str(extract), "--no-cache"),
    ):
        done = _walks(*args)
        assert done.returncode == 1, done.stderr
        (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
        assert "line 6" in line, line


# ------------------------------------------------------------------ an import ended by a signal


def _import_caught_midway(cache: Path) -> tuple[subprocess.Popen[str], Path]:
    """Start ``walks import``, and stop its process (SIGSTOP) once its temporary store exists."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    run = subprocess.Popen(
        [sys.executable, "-m", "walks", "import", str(MUNICH), "--cache-dir", str(cache)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    stores = cache / "stores"
    give_up = time.monotonic() + 60
    while time.monotonic() < give_up:
        temporary = list(stores.glob(".walks-*")) if stores.is_dir() else []
        if temporary:
            run.send_signal(signal.SIGSTOP)
            if temporary[0].exists():  # frozen before its rename: the import is midway
                return run, temporary[0]
            run.send_signal(signal.SIGCONT)
        time.sleep(0.002)
    run.kill()
    pytest.fail("the import wrote no temporary store")


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="POSIX signals")
@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_a_signal_during_an_import_ends_it_as_ctrl_c_does(name: str, tmp_path: Path) -> None:
    """The import's cleanup runs: no temporary store is left; one line; exit 128 + signal."""
    sig = getattr(signal, name)
    run, temporary = _import_caught_midway(tmp_path / "cache")
    run.send_signal(sig)
    run.send_signal(signal.SIGCONT)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 128 + sig, stderr
    (line,) = [ln for ln in stderr.splitlines() if ln.startswith("Error: ")]
    assert name in line
    assert "Traceback" not in stderr
    assert not temporary.exists()
    assert not list((tmp_path / "cache" / "stores").iterdir())


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_a_killed_imports_leftover_is_listed_and_cleared_a_running_ones_kept(
    tmp_path: Path,
) -> None:
    """SIGKILL leaves the temporary store: walks cache shows it and clear removes it at once."""
    cache = tmp_path / "cache"
    run, leftover = _import_caught_midway(cache)
    run.kill()
    run.communicate(timeout=60)
    assert leftover.exists()
    # the same name for a process that runs (this one): an import being written now
    running = leftover.with_name(
        re.sub(r"^\.walks-import-[0-9]+-", f".walks-import-{os.getpid()}-", leftover.name)
    )
    assert running != leftover
    running.write_bytes(b"SQLite format 3\0")
    small = leftover.with_suffix(".areas.osm.pbf")  # killed while osmium read its small file
    small.write_bytes(b"")
    listed = _walks("cache", "list", "--cache-dir", str(cache), "--json", "-")
    assert listed.returncode == 0, listed.stderr
    states = {Path(r["path"]).name: r["state"] for r in json.loads(listed.stdout)}
    assert states == {leftover.name: "leftover", small.name: "leftover", running.name: "importing"}
    shown = _walks("cache", "--cache-dir", str(cache))
    assert "left by an import that ended unfinished" in shown.stdout, shown.stdout
    cleared = _walks("cache", "clear", "--cache-dir", str(cache))
    assert cleared.returncode == 0, cleared.stderr
    assert [p.name for p in (cache / "stores").iterdir()] == [running.name]


# ------------------------------------------------------------------ walks info FILE --radius N


def test_info_of_a_file_refuses_a_radius_naming_the_fix(tmp_path: Path) -> None:
    """A file has no point to centre on: not the whole store silently, an exit 2 and the fix."""
    cache = str(tmp_path / "cache")
    done = _walks("info", str(MUNICH), "--radius", "500", "--cache-dir", cache)
    assert done.returncode == 2, (done.stdout, done.stderr)
    (line,) = [ln for ln in done.stderr.splitlines() if ln.startswith("Error: ")]
    assert "--radius" in line
    assert f"--osm-file {MUNICH} --radius 500" in line
    assert not done.stdout
    assert not (tmp_path / "cache" / "stores").exists()  # refused before any work
    done = _walks("info", "48.137,11.575", "--osm-file", str(MUNICH), "--radius", "500",
                  "--cache-dir", cache, "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["area"]


# ------------------------------------------------------------------------ the library's warnings


def test_a_loader_warning_is_said_as_the_commands_say_theirs(tmp_path: Path) -> None:
    """One ``Warning: …`` line on stderr (not logging's ``WARNING  …``), stdout JSON intact."""
    extract = tmp_path / "munich.osm.pbf"
    extract.write_bytes(MUNICH.read_bytes())
    cache = str(tmp_path / "cache")
    assert _walks("import", str(extract), "--cache-dir", cache).returncode == 0
    later = extract.stat().st_mtime + 10
    os.utime(extract, (later, later))  # the file changed: its store is imported again
    done = _walks("info", "48.137,11.575", "--osm-file", str(extract), "--radius", "300",
                  "--cache-dir", cache, "--json", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["nodes"] > 0
    (line,) = [ln for ln in done.stderr.splitlines() if "out of date" in ln]
    assert line.startswith("Warning: the store of munich.osm.pbf is out of date"), line
    assert "WARNING" not in done.stderr
