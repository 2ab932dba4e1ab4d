"""The compiled loops of the PBF decoder (walks.pbf_jit, numba) against its numpy code.

Each test decodes the same bytes both ways and asks for the same arrays, or the same refusal.
Skipped where numba is not installed (``pip install walks[fast]``).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest
from conftest import SHARED
from pbf_bytes import field, number, varint, zigzag

import walks
from walks import pbf, pbf_jit, store_pbf
from walks.pbf import UnsupportedPbfError
from walks.store import import_extract, store_path
from walks.store_groups import Packed, _tags_of
from walks.store_tags import BlockTags

if TYPE_CHECKING:
    from collections.abc import Iterator

pytest.importorskip("numba")

DATA = SHARED / "data"
PBFS = {
    "andorra": DATA / "osm-andorra-2013" / "andorra.osm.pbf",
    "munich": DATA / "osm-munich-altstadt-2020" / "munchen.osm.pbf",
}


@contextlib.contextmanager
def _mode(monkeypatch: pytest.MonkeyPatch, *, compiled: bool) -> Iterator[None]:
    """Decode with the compiled loops, or with numpy only."""
    monkeypatch.setenv("WALKS_JIT", "1" if compiled else "0")
    with pbf_jit.engaged(0) as used:
        assert used is compiled
        yield


def _decoded(data: bytes) -> list[Any] | str:
    """A block's groups as plain values, or the refusal's message."""
    try:
        groups = list(pbf._primitive_block(data, dates=True, relations=True))
    except UnsupportedPbfError as err:
        return f"refused: {err}"
    out: list[Any] = []
    for group in groups:
        for name in group.__dataclass_fields__:
            value = getattr(group, name)
            if isinstance(value, np.ndarray):
                out.append((name, value.dtype.str, value.tolist()))
            else:
                out.append((name, value))
    return out


def _both(data: bytes, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Any]:
    """The block decoded by numpy, then by the compiled loops."""
    with _mode(monkeypatch, compiled=False):
        plain = _decoded(data)
    with _mode(monkeypatch, compiled=True):
        compiled = _decoded(data)
    return plain, compiled


def _blocks(path: Path) -> list[bytes]:
    """A PBF file's inflated data blocks."""
    out = []
    with path.open("rb") as f:
        while True:
            kind, data = pbf._next_blob(f)
            if kind is None:
                return out
            if kind == "OSMData":
                out.append(data)


@pytest.mark.parametrize("name", sorted(PBFS))
def test_compiled_loops_decode_the_extracts_as_numpy_does(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for data in _blocks(PBFS[name]):
        plain, compiled = _both(data, monkeypatch)
        assert not isinstance(plain, str), plain
        assert compiled == plain


@pytest.mark.parametrize("seed", range(4))
def test_compiled_loops_refuse_what_numpy_refuses(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of a real file with bytes changed: the same arrays or both refuse, never a crash.

    The compiled loops read without numba's bounds checks: a read past a block would show
    here as a crash or as other arrays.
    """
    rng = np.random.default_rng(seed)
    blocks = _blocks(PBFS["andorra"])
    agreed = refused = 0
    for _ in range(150):
        data = bytearray(blocks[int(rng.integers(len(blocks)))])
        for place in rng.integers(0, len(data), size=int(rng.integers(1, 4))):
            data[int(place)] = int(rng.integers(256))
        plain, compiled = _both(bytes(data), monkeypatch)
        if isinstance(plain, str):  # a refusal (the two may word it differently)
            assert isinstance(compiled, str), plain
            refused += 1
            continue
        assert compiled == plain
        agreed += 1
    assert agreed > 10
    assert refused > 0


def test_compiled_varints_take_every_length(monkeypatch: pytest.MonkeyPatch) -> None:
    numbers = [0, 1, 127, 128, 300, 2**21 - 1, 2**21, 2**35 + 5, 2**63, 2**64 - 1, 5]
    with _mode(monkeypatch, compiled=True):
        assert pbf.varints(b"".join(map(varint, numbers))).tolist() == numbers
        assert pbf.varints(b"").tolist() == []
        for bad in (b"\x96", b"\xff" * 10 + b"\x01", b"\x01\x80"):
            with pytest.raises(UnsupportedPbfError):
                pbf.varints(bad)


@pytest.mark.parametrize("seed", range(3))
def test_compiled_deltas_and_coordinates_are_numpys(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zig-zag delta runs and coordinates at every scale, overflowing int64 and int32 as numpy
    wraps them, negative and past the globe: the compiled loops give numpy's very integers."""
    rng = np.random.default_rng(seed)
    steps = np.concatenate((
        rng.integers(-(2**62), 2**62, 500), rng.integers(-300, 300, 500),
        [0, 1, -1, 2**63 - 1, -(2**63), 2**62, -(2**62)],
    )).astype(np.int64)  # fmt: skip
    run = b"".join(zigzag(int(v)) for v in steps)
    coords = np.concatenate((
        np.cumsum(rng.integers(-(10**7), 10**7, 2000)), rng.integers(-(2**62), 2**62, 50),
        [0, 1, -1, 99, -99, 100, -100, 900_000_000_0, -(2**63), 2**63 - 1],
    )).astype(np.int64)  # fmt: skip
    for compiled in (True, False):
        with _mode(monkeypatch, compiled=compiled):
            found = pbf._deltas(run), pbf._deltas(b"")
            with pytest.raises(UnsupportedPbfError, match="inside a varint"):
                pbf._deltas(run + b"\x80")
            scaled = [
                pbf._scaled(coords, granularity, offset)
                for granularity, offset in ((100, 0), (1, -7), (10_000, 123_456_789), (7, -(2**40)))
            ]
        if compiled:
            first, first_scaled = found, scaled
    assert first[0].dtype == found[0].dtype == np.int64
    np.testing.assert_array_equal(first[0], found[0])
    np.testing.assert_array_equal(first[0], np.cumsum(steps))  # int64's wrapping sum
    assert first[1].size == found[1].size == 0
    for a, b in zip(first_scaled, scaled, strict=True):
        assert a.dtype == b.dtype == np.int32
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("seed", range(4))
def test_dense_tags_split_as_numpy_splits_them(seed: int) -> None:
    """Runs of nodes with and without tags, values of 0 (the empty string), huge ids, and
    runs cut inside a pair or without their last 0: numpy's split, or both refuse."""
    rng = np.random.default_rng(seed)
    agreed = refused = 0
    for _ in range(300):
        run: list[int] = []
        for _node in range(int(rng.integers(0, 6))):
            for _tag in range(int(rng.integers(0, 4))):
                run += [int(rng.integers(1, 9)), int(rng.choice([0, 1, 5, 2**63 + 3]))]
            run.append(0)
        if rng.random() < 0.3 and run:  # damaged: cut, or a stray id
            run = run[: int(rng.integers(0, len(run)))] if rng.random() < 0.5 else [*run, 7]
        keys_vals = np.array(run, dtype=np.uint64)
        compiled = pbf_jit.dense_tags(keys_vals)
        try:
            plain = pbf._tags_csr(keys_vals.astype(np.int64))
        except UnsupportedPbfError:
            assert compiled is None, run
            refused += 1
            continue
        if not run:  # numpy splits nothing into no node; the loop leaves it to numpy
            continue
        assert compiled is not None, run
        for got, expected in zip(compiled, plain, strict=True):
            assert got.dtype == np.int64
            np.testing.assert_array_equal(got, expected)
        agreed += 1
    assert agreed > 100
    assert refused > 10


def test_runs_are_indexed_as_numpy_indexes_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs empty and not, items repeated, outside the offsets (-1, past the end) and runs
    that fall: numpy's indices, or numpy's own error (the loop leaves those to it)."""
    rng = np.random.default_rng(8)
    errors = 0
    for t in range(1500):
        n = int(rng.integers(1, 30))
        offsets = np.concatenate(([0], np.cumsum(rng.integers(0, 5, n)))).astype(np.int64)
        if t % 7 == 0 and n > 2:
            offsets[int(rng.integers(1, n))] -= 10
        low, high = (-1 if t % 11 == 0 else 0), n + (1 if t % 13 == 0 else 0)
        chosen = np.sort(rng.integers(low, high, int(rng.integers(0, 10)))).astype(np.int64)
        found: list[object] = []
        for compiled in (True, False):
            with _mode(monkeypatch, compiled=compiled):
                try:
                    found.append(pbf.runs_of(offsets, chosen))
                except (IndexError, ValueError) as err:
                    found.append(type(err))
        first, plain = found
        if isinstance(plain, type):
            assert first is plain
            errors += 1
            continue
        assert isinstance(first, tuple)
        assert isinstance(plain, tuple)
        for got, expected in zip(first, plain, strict=True):
            assert got.dtype == expected.dtype == np.int64
            np.testing.assert_array_equal(got, expected)
    assert errors > 50


def test_compiled_copies_take_distinct_plain_bytes_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The loops copy by memcpy: strided, wider or overlapping arrays are left to numpy."""
    data = np.arange(20, dtype=np.uint8)
    one, three = np.array([1]), np.array([3])
    with _mode(monkeypatch, compiled=True):
        out = np.zeros(2, dtype=np.uint8)
        assert pbf_jit.gather(data, one, three, out)
        assert out.tolist() == [1, 2]
        assert not pbf_jit.gather(data[::2], one, three, out)  # strided
        assert not pbf_jit.gather(data.astype(np.int64), one, three, out.astype(np.int64))
        assert not pbf_jit.gather(data, one, three, data[10:12])  # the same buffer
        assert out.tolist() == [1, 2]
        inside = np.zeros(64, dtype=np.uint8)
        text = inside[:3]  # a column's bytes inside the very buffer the groups go to
        columns = [(np.zeros(1, dtype=np.int64), (text, np.array([0]), np.array([3])))]
        assert pbf_jit.pack(np.zeros((1, 4)), columns, 8, into=lambda size: inside[:size]) is None
        assert pbf_jit.pack(np.zeros((1, 4)), columns, 8) is not None


def _way_block(strings: list[bytes], ways: list[bytes]) -> bytes:
    """A primitive block: a string table and one group of ways."""
    table = b"".join(field(1, s) for s in strings)
    return field(1, table) + field(2, b"".join(field(3, w) for w in ways))


def _way(way_id: int, keys: list[int], values: list[int], refs: list[int]) -> bytes:
    """A way's message (refs delta coded)."""
    deltas = [b - a for a, b in zip([0, *refs], refs, strict=False)]
    body = number(1, way_id)
    body += field(2, b"".join(map(varint, keys))) + field(3, b"".join(map(varint, values)))
    body += field(4, number(2, 1_600_000_000))  # an info with a timestamp
    return body + field(8, b"".join(map(zigzag, deltas)))


@pytest.mark.parametrize(
    ("case", "strings", "ways", "readable"),
    [
        ("plain", [b"", b"highway", b"footway"], [_way(7, [1], [2], [5, 3, 9])], True),
        ("a NUL in a name", [b"", b"a", b"us\0er"], [_way(7, [1], [1], [1])], True),
        ("no tags, no refs", [b""], [_way(1, [], [], []), _way(2, [], [], [4])], True),
        ("negative refs", [b""], [_way(3, [], [], [-5, 2**40, -(2**62)])], True),
        ("keys without values", [b"", b"a"], [_way(1, [1, 1], [1], [2])], False),
        ("an index past the table", [b"", b"a"], [_way(1, [1], [9], [2])], False),
        ("not UTF-8", [b"", b"\xff\xfe"], [_way(1, [1], [1], [2])], False),
        ("a run ending inside a varint", [b""], [_way(1, [], [], [1])[:-1] + b"\x81"], False),
        ("an id of the wrong wire type", [b""], [field(1, b"\x01")], False),
        ("a field past its way", [b""], [b"\x42\x05\x01"], False),
        ("a fixed 32-bit field", [b""], [b"\x0d\x01\x02\x03\x04"], False),
    ],
)
def test_hand_made_ways_decode_or_are_refused_alike(
    case: str,
    strings: list[bytes],
    ways: list[bytes],
    readable: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, compiled = _both(_way_block(strings, ways), monkeypatch)
    if isinstance(plain, str):  # refused: the two may word it differently
        assert isinstance(compiled, str), case
    else:
        assert compiled == plain, case
    assert isinstance(plain, str) is not readable, case


def _rows(path: Path) -> dict[str, list[Any]]:
    """Every table of a store, meta but its import time and file."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        out = {n: db.execute(f"SELECT * FROM {n} ORDER BY 1").fetchall() for n in names}
    out["meta"] = [r for r in out["meta"] if r[0] not in ("imported", "osm_file")]
    return out


@pytest.mark.parametrize("name", sorted(PBFS))
def test_a_store_imported_with_the_compiled_loops_is_the_same(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stores = []
    for setting in ("0", "1"):
        monkeypatch.setenv("WALKS_JIT", setting)
        cache = tmp_path / setting
        import_extract(PBFS[name], cache)
        stores.append(_rows(store_path(PBFS[name], cache)))
    assert stores[0] == stores[1]
    assert stores[0]["ways"]


def test_the_loops_are_used_for_large_files_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WALKS_JIT", raising=False)
    with pbf_jit.engaged(pbf_jit.MIN_BYTES - 1) as used:
        assert not used
        assert not pbf_jit.active()
    with pbf_jit.engaged(pbf_jit.MIN_BYTES) as used:
        assert used
        assert pbf_jit.active()
    assert not pbf_jit.active()
    monkeypatch.setenv("WALKS_JIT", "0")
    with pbf_jit.engaged(10 * pbf_jit.MIN_BYTES) as used:
        assert not used


@pytest.mark.parametrize(
    ("table", "strings"),
    [
        (field(1, b"") + field(1, b"highway") + field(1, "café".encode()), ["", "highway", "café"]),
        (b"", []),
        (field(1, b"us\0er") + field(1, b"a"), ["us\0er", "a"]),  # a NUL: split another way
        (b"\x0a\x80\x00" + b"\x0a\x01a", ["", "a"]),  # a length written in two bytes
        (field(1, b"a") + field(2, b"b"), None),  # another field
        (field(1, b"a") + b"\x0a\x05ab", None),  # past the table
        (field(1, b"a") + b"\x0a\x85", None),  # a length cut short
        (field(1, b"\xc3"), None),  # not UTF-8
    ],
)
def test_string_tables_are_read_alike(
    table: bytes, strings: list[str] | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = b"\xff" + table + b"\xff"  # the table inside a block
    for compiled in (False, True):
        with _mode(monkeypatch, compiled=compiled):
            if strings is None:
                with pytest.raises(UnsupportedPbfError):
                    pbf._strings(data, 1, 1 + len(table))
            else:
                assert pbf._strings(data, 1, 1 + len(table)) == strings


def test_tag_texts_of_the_compiled_loop_are_the_dicts_texts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Separators, ``{``, a key given twice, a text twice in the table, UTF-8: as the dicts."""
    texts = ["", "highway", "footway", "a\x1eb", "{x", "name", "é\u202e", "x\x1fy", "highway"]
    table = b"".join(field(1, t.encode()) for t in texts)
    with _mode(monkeypatch, compiled=True):
        strings = pbf._strings(table, 0, len(table))
    assert isinstance(strings, pbf.StringTable)
    assert strings == texts
    rows = [
        [(1, 2)],
        [(1, 2), (5, 6)],
        [(5, 3)],  # a separator in a value
        [(4, 2), (1, 2)],  # a text starting with "{"
        [(1, 2), (5, 7), (1, 6)],  # a key twice: the dict keeps its last value
        [(8, 2), (1, 6)],  # the same key from its two places in the table
        [(0, 0)],
        [(6, 6), (2, 1)],
    ]
    keys = np.array([k for row in rows for k, _ in row], dtype=np.int64)
    values = np.array([v for row in rows for _, v in row], dtype=np.int64)
    starts = np.cumsum([0] + [len(row) for row in rows]).astype(np.int64)
    chosen = list(range(len(rows)))
    written = BlockTags(strings, starts, keys, values).texts(chosen)
    plain = BlockTags(list(texts), starts, keys, values).texts(chosen)
    as_list = written.items("t") if isinstance(written, Packed) else written
    assert as_list == plain
    assert [_tags_of(t) for t in as_list] == [{texts[k]: texts[v] for k, v in row} for row in rows]
    clean = BlockTags(strings, starts[:3], keys[:3], values[:3]).texts([0, 1])
    assert isinstance(clean, Packed)  # rows with nothing to escape stay in one buffer
    assert clean.items("t") == ["highway\x1efootway", "highway\x1efootway\x1fname\x1eé\u202e"]


def test_closed_ways_keep_their_strings_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    """The strings a held block keeps are read by the compiled loop, to the same texts."""
    texts = ["", "building", "yes", "a\x1eb", "{x", "name", "é\u202e", "x\x1fy", "building"]
    table = b"".join(field(1, t.encode()) for t in texts)
    with _mode(monkeypatch, compiled=True):
        strings = pbf._strings(table, 0, len(table))
        used = np.array([1, 2, 3, 5, 6, 8], dtype=np.int64)
        kept = store_pbf._kept_strings(strings, used)
    assert isinstance(kept, pbf.StringTable)
    assert kept == [texts[k] for k in used.tolist()]
    data, starts, ends = kept.utf8
    assert [data[a:b].tobytes().decode() for a, b in zip(starts, ends, strict=True)] == kept
    assert data.size == sum(len(texts[k].encode()) for k in used.tolist())  # no other bytes
    rows = [[(0, 1)], [(3, 4), (5, 1)], [(3, 2)], [(0, 1), (3, 4), (0, 4)]]  # kept's indices
    keys = np.array([k for row in rows for k, _ in row], dtype=np.int64)
    values = np.array([v for row in rows for _, v in row], dtype=np.int64)
    starts = np.cumsum([0] + [len(row) for row in rows]).astype(np.int64)
    with _mode(monkeypatch, compiled=True):
        written = BlockTags(kept, starts, keys, values).texts(range(len(rows)))
        clean = BlockTags(kept, starts[:3], keys[:3], values[:3]).texts([0, 1])
    plain = BlockTags(list(kept), starts, keys, values).texts(range(len(rows)))
    assert (written.items("t") if isinstance(written, Packed) else written) == plain
    assert isinstance(clean, Packed)  # the compiled loop wrote them
    assert clean.items("t") == plain[:2]
    assert store_pbf._kept_strings(list(texts), used) == kept  # a plain table: plain strings


def _relation(
    rel_id: int, members: list[tuple[int, int, int]], tags: list[tuple[int, int]]
) -> bytes:
    """A relation's message: members as ``(role index, id, type)``, ids delta coded."""
    ids = [m[1] for m in members]
    deltas = [b - a for a, b in zip([0, *ids], ids, strict=False)]
    body = number(1, rel_id)
    body += field(2, b"".join(varint(k) for k, _ in tags))
    body += field(3, b"".join(varint(v) for _, v in tags))
    body += field(4, number(2, 1_500_000_000))
    body += field(8, b"".join(varint(m[0]) for m in members))
    body += field(9, b"".join(map(zigzag, deltas)))
    return body + field(10, b"".join(varint(m[2]) for m in members))


@pytest.mark.parametrize(
    ("case", "relations", "readable"),
    [
        ("plain", [_relation(5, [(1, 10, 1), (2, 7, 1), (0, 3, 0)], [(3, 4)])], True),
        ("no members", [_relation(6, [], [(3, 4)]), _relation(8, [(1, -9, 2)], [])], True),
        ("a member of type 3", [_relation(5, [(1, 10, 3)], [])], False),
        ("a role past the table", [_relation(5, [(9, 10, 1)], [])], False),
        ("roles and ids differ in number", [_relation(5, [(1, 10, 1)], [])[:-3] + field(
            10, varint(1) + varint(1))], False),
    ],
)  # fmt: skip
def test_hand_made_relations_decode_or_are_refused_alike(
    case: str,
    relations: list[bytes],
    readable: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    strings = [b"", b"outer", b"inner", b"type", b"multipolygon"]
    table = b"".join(field(1, s) for s in strings)
    block = field(1, table) + field(2, b"".join(field(4, r) for r in relations))
    plain, compiled = _both(block, monkeypatch)
    if isinstance(plain, str):
        assert isinstance(compiled, str), case
    else:
        assert compiled == plain, case
    assert isinstance(plain, str) is not readable, case


def test_a_numba_that_cannot_compile_leaves_the_file_to_numpy(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """numba imports but fails (another numpy than it supports): one log line, numpy reads."""
    import sys
    import types

    broken = types.ModuleType("numba")

    def njit(**_: object) -> object:
        msg = "numba does not support this numpy"
        raise RuntimeError(msg)

    broken.njit = njit  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "numba", broken)
    monkeypatch.delitem(sys.modules, "walks.pbf_loops", raising=False)
    monkeypatch.delattr(walks, "pbf_loops", raising=False)  # imported again, with that numba
    monkeypatch.delenv("WALKS_JIT", raising=False)
    pbf_jit.available.cache_clear()
    try:
        with pbf_jit.engaged(10 * pbf_jit.MIN_BYTES) as used:
            assert not used
        assert "numba does not support this numpy" in caplog.text
    finally:
        pbf_jit.available.cache_clear()  # the real numba again for the next tests


@pytest.mark.parametrize("threads", [False, True])
def test_numbas_start_loads_no_registry_and_leaves_scipy_linalg_importable(threads: bool) -> None:
    """Loading the loops imports neither numba's array math nor scipy.linalg (0.1-0.5 CPU-s),
    whatever threads run; the caller's numba code compiles and computes as numba's own does."""
    import os
    import subprocess
    import sys

    code = (
        "import sys, threading\n"
        "from walks import pbf_jit\n"
        "stop = threading.Event()\n"
        f"if {threads}: threading.Thread(target=stop.wait).start()\n"
        "assert pbf_jit.available()\n"
        "print('scipy.linalg' in sys.modules, 'numba.np.arraymath' in sys.modules)\n"
        "stop.set()\n"
        "import scipy.linalg\n"
        "print(float(scipy.linalg.det([[2.0, 0.0], [0.0, 3.0]])))\n"
        # numba's own BLAS probe ran when the caller's code was compiled: it sums as numpy
        # does (believing BLAS absent, np.convolve's last bits differed by 1.8e-13)
        "import numba, numpy as np\n"
        "a, b = np.random.default_rng(0).random(4000), np.random.default_rng(1).random(999)\n"
        "same = numba.njit(lambda a, b: np.convolve(a, b))(a, b) == np.convolve(a, b)\n"
        "print(bool(same.all()))\n"
    )
    root = str(Path(walks.__file__).resolve().parents[1])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "6.0", "True"]


def test_light_loads_compile_what_the_cache_lacks_then_load_it(tmp_path: Path) -> None:
    """A function not in numba's cache compiles as numba compiles it (registries and all);
    the next process loads it from the cache without them, and both compute the same."""
    import os
    import subprocess
    import sys

    (tmp_path / "loopy.py").write_text(
        "import numba, numpy as np\n"
        "@numba.njit(cache=True)\n"
        "def spread(x):\n"
        "    out = np.zeros(x.size + 1)\n"  # numba's runtime allocates it
        "    squares = 0.0\n"
        "    for i in range(x.size):\n"
        "        out[i + 1] = out[i] + x[i]\n"
        "        squares += x[i] * x[i]\n"
        "    return out, squares\n",
        encoding="utf-8",
    )
    code = (
        "import gc, sys, numpy as np, loopy\n"
        "from walks import pbf_jit\n"
        "pbf_jit._light_loads([loopy])\n"
        "out, norm = loopy.spread(np.array([3.0, 1.0, 2.0]))\n"
        "print(out.tolist(), float(norm), 'numba.np.arraymath' in sys.modules)\n"
        # the compiler's garbage is let go after a compile, not after a load
        "gc.disable()\n"
        "before = gc.get_stats()[2]['collections']\n"
        "pbf_jit.after_compiling(loopy)\n"
        "print(gc.get_stats()[2]['collections'] - before)\n"
    )
    root = str(Path(walks.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join((str(tmp_path), root)),
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}  # fmt: skip
    runs = [
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env
        )
        for _ in range(2)
    ]
    for done in runs:
        assert done.returncode == 0, done.stderr
    assert runs[0].stdout.split() == ["[0.0,", "3.0,", "4.0,", "6.0]", "14.0", "True", "1"]
    assert runs[1].stdout.split() == ["[0.0,", "3.0,", "4.0,", "6.0]", "14.0", "False", "0"]
    # a numba whose light loading fails: the function loads as numba loads it (refreshed)
    failing = (
        "from numba.core.runtime import nrt\n"
        "start, calls = nrt.rtsys.initialize, []\n"
        "def once(target):\n"
        "    calls.append(1)\n"
        "    if len(calls) == 1:\n"
        "        raise RuntimeError('a numba that loads otherwise')\n"
        "    start(target)\n"
        "nrt.rtsys.initialize = once\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", failing + code], capture_output=True, text=True, check=False,
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[0.0,", "3.0,", "4.0,", "6.0]", "14.0", "True", "0"]
    assert list((tmp_path / "numba").rglob("*.nbi"))  # it was in the cache


@pytest.mark.parametrize("seed", range(6))
def test_node_lookups_by_galloping_are_numpys(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ids in order, shuffled, repeated, outside the ids, one node only, coordinates at and
    past the globe's edges (int32's least value too): the compiled lookups are numpy's."""
    from walks.store_pbf import _Nodes

    rng = np.random.default_rng(seed)
    n = [1, 2, 50, 5000, 5000, 100_000][seed]
    ids = np.unique(rng.integers(-(2**40), 2**40, n * 2))[:n] if seed % 2 else np.cumsum(
        rng.integers(1, [2, 5, 1000][seed % 3], n)
    )  # fmt: skip
    edges = np.array([-(2**31), 2**31 - 1, -900_000_000, 900_000_001, 1_800_000_000, 0])
    lats = np.where(rng.random(n) < 0.1, rng.choice(edges, n), rng.integers(-9e8, 9e8, n))
    lons = np.where(rng.random(n) < 0.1, rng.choice(edges, n), rng.integers(-18e8, 18e8, n))
    nodes = _Nodes(ids.astype(np.int64), lats.astype(np.int32), lons.astype(np.int32))
    near = ids[rng.integers(0, ids.size, 3 * n)] + rng.integers(-2, 3, 3 * n)
    refs = np.concatenate((
        near, np.sort(near), ids, ids[::-1], [ids[0] - 1, ids[-1] + 1, ids[0], ids[-1]],
        [np.iinfo(np.int64).min, np.iinfo(np.int64).max], rng.permutation(near)[:7],
    )).astype(np.int64)  # fmt: skip
    monkeypatch.setenv("WALKS_JIT", "1")
    with pbf_jit.engaged(0):
        compiled = nodes.ints(refs)
        assert pbf_jit.locate((ids[:0], lats[:0], lons[:0]), refs) is None  # numpy's answer
        assert nodes.ints(refs[:0])[2].size == 0
    monkeypatch.setenv("WALKS_JIT", "0")
    with pbf_jit.engaged(0):
        plain = nodes.ints(refs)
    for got, expected in zip(compiled, plain, strict=True):
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    place = np.minimum(np.searchsorted(ids, refs), ids.size - 1)
    np.testing.assert_array_equal(compiled[0], nodes.lats[place])
    on = (np.abs(lats.astype(np.int64)) <= 900_000_000) & (
        np.abs(lons.astype(np.int64)) <= 1_800_000_000
    )
    np.testing.assert_array_equal(compiled[2], (ids[place] == refs) & on[place])
