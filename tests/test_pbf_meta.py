"""The compiled import refuses what osmium refuses, without osmium's own pass over the file.

With the compiled loops (``walks.pbf_jit``) the import does not have osmium decode the whole
file first (``walks.store_build._decodes``): walks checks, as it decodes each block, what
osmium would refuse (metadata out of range, malformed framing), stricter than osmium, and
a file it refuses is read by osmium alone, whose verdict and message the user gets. Here
pyosmium (``walks.data.read_extract``) is the judge. Skipped where numba is not installed.
"""

from __future__ import annotations

import logging
import struct
import zlib
from typing import TYPE_CHECKING

import numpy as np
import osmium
import pytest
from pbf_bytes import HEADER, blob, varint, zigzag, zlib_data
from pbf_bytes import field as _ld
from pbf_bytes import number as _vf
from test_pbf_jit import PBFS, _blocks, _rows

from walks import pbf, pbf_jit
from walks.data import read_extract
from walks.errors import DataError
from walks.pbf import UnsupportedPbfError
from walks.store import import_extract, store_path

if TYPE_CHECKING:
    from pathlib import Path

pytest.importorskip("numba")

#: The store's log lines: which check ran, and whether osmium read the file alone.
COMPILED = "checked by the compiled loops"
ALONE = "read by osmium alone"

_STRINGS = [b"", b"highway", b"footway", b"alice"]


def _dense(info: bytes | None = None, extra: bytes = b"") -> bytes:
    """Two nodes, with their metadata (version 1, changeset 5 and 5, user "alice")."""
    if info is None:
        info = (
            _ld(1, varint(1) + varint(1))
            + _ld(2, zigzag(1_300_000_000) + zigzag(5))
            + _ld(3, zigzag(5) + zigzag(0))
            + _ld(4, zigzag(7) + zigzag(0))
            + _ld(5, zigzag(3) + zigzag(0))
        )
    columns = (
        _ld(1, zigzag(1) + zigzag(1))
        + _ld(8, zigzag(481_000_000) + zigzag(10_000))
        + _ld(9, zigzag(115_000_000) + zigzag(10_000))
    )
    return columns + (_ld(5, info) if info else b"") + extra


_WAY_INFO = _vf(1, 1) + _vf(3, 5) + _vf(5, 3)


def _way(info: bytes = _WAY_INFO, extra: bytes = b"") -> bytes:
    """Way 10: a footway over both nodes."""
    refs = _ld(8, zigzag(1) + zigzag(1))
    return _vf(1, 10) + _ld(2, varint(1)) + _ld(3, varint(2)) + _ld(4, info) + refs + extra


def _relation(info: bytes = _WAY_INFO, types: bytes = varint(1)) -> bytes:
    """Relation 20: way 10, of no role."""
    members = _ld(8, varint(0)) + _ld(9, zigzag(10)) + _ld(10, types)
    return _vf(1, 20) + _ld(4, info) + members


def _block(
    dense: bytes | None = None,
    way: bytes | None = None,
    relation: bytes | None = None,
    strings: list[bytes] = _STRINGS,
    extra: bytes = b"",
) -> bytes:
    """A block: a string table, then groups of dense nodes, of a way, of a relation."""
    table = _ld(1, b"".join(_ld(1, s) for s in strings))
    groups = (
        _ld(2, _ld(2, _dense() if dense is None else dense))
        + _ld(2, _ld(3, _way() if way is None else way))
        + _ld(2, _ld(4, _relation() if relation is None else relation))
    )
    return table + groups + extra


def _file(block: bytes = b"", inside: bytes | None = None, after: bytes = b"") -> bytes:
    """The header, then a data blob of ``block`` (or of the Blob message ``inside``)."""
    data = blob(b"OSMData", zlib_data(block or _block()) if inside is None else inside)
    return HEADER + data + after


def _sized(block: bytes, raw_size: int, packed: bytes | None = None) -> bytes:
    """A Blob message of zlib data, of some said size."""
    return _vf(2, raw_size) + _ld(3, zlib.compress(block) if packed is None else packed)


def _big_header() -> bytes:
    """A blob whose header is over 64 KiB."""
    head = _ld(1, b"OSMData") + _ld(2, bytes(70_000)) + _vf(3, 10)
    return struct.pack(">I", len(head)) + head + bytes(10)


def _headed(head: bytes, inside: bytes) -> bytes:
    """A blob of a hand-made header."""
    return struct.pack(">I", len(head)) + head + inside


_GOOD = _block()

#: Files osmium refuses, each for one reason of its own.
REFUSED = {
    # zlib data
    "zlib cut before its end": _file(inside=_sized(_GOOD, len(_GOOD), zlib.compress(_GOOD)[:-4])),
    "zlib longer than said": _file(inside=_sized(_GOOD, len(_GOOD) - 1)),
    "zlib shorter than said": _file(inside=_sized(_GOOD, len(_GOOD) + 1)),
    "zlib of a bad checksum": _file(
        inside=_sized(_GOOD, len(_GOOD), zlib.compress(_GOOD)[:-1] + b"\x00")
    ),
    "raw size 0": _file(inside=_vf(2, 0) + _ld(1, b"")),
    "lzma": _file(inside=_vf(2, len(_GOOD)) + _ld(4, b"x")),
    "zstd": _file(inside=_vf(2, len(_GOOD)) + _ld(7, b"x")),
    # blobs (the header block is osmium's to check: it reads it before walks does)
    "a header's box holding field 0": blob(
        b"OSMHeader", zlib_data(_ld(1, _vf(1, 5) + b"\x00\x00") + _ld(4, b"OsmSchema-V0.6"))
    )
    + blob(b"OSMData", zlib_data(_GOOD)),
    "a blob of another type": HEADER + blob(b"OSMFoo", zlib_data(_GOOD)),
    "a second header": _file(after=HEADER),
    "a blob header over 64 KiB": HEADER + _big_header(),
    "a blob of size 0": HEADER + _headed(_ld(1, b"OSMData") + _vf(3, 0), b""),
    "a blob over 32 MiB": HEADER + _headed(_ld(1, b"OSMData") + _vf(3, 33 * 2**20), b"x"),
    # field keys and fixed fields
    "field 0 in the block": _block(extra=b"\x00\x00"),
    "field 0 in a way": _block(way=_way(extra=b"\x00\x01")),
    "a reserved field in a way": _block(way=_way(extra=_vf(19000, 1))),
    "a reserved field in dense nodes": _block(dense=_dense(extra=_vf(19999, 1))),
    "a fixed32 field cut by the block's end": _block(extra=varint(15 << 3 | 5) + b"\x00\x00"),
    "a fixed64 field cut by the dense nodes' end": _block(
        dense=_dense(extra=varint(15 << 3 | 1) + bytes(4))
    ),
    # DenseInfo
    "a dense version below -1": _block(dense=_dense(_ld(1, varint(1) + varint(-2)))),
    "a dense changeset from 2**32 - 1": _block(dense=_dense(_ld(3, zigzag(5) + zigzag(2**32 - 6)))),
    "a dense changeset below -1": _block(dense=_dense(_ld(3, zigzag(-2) + zigzag(0)))),
    "a dense user past the table": _block(dense=_dense(_ld(5, zigzag(3) + zigzag(1)))),
    "a dense user below 0": _block(dense=_dense(_ld(5, zigzag(3) + zigzag(-4)))),
    "a DenseInfo field 0": _block(dense=_dense(_ld(1, varint(1) + varint(1)) + b"\x00\x00")),
    # Info of ways and relations
    "a way's version below -1": _block(way=_way(_vf(1, -2))),
    "a way's changeset from 2**32 - 1": _block(way=_way(_vf(3, 2**32 - 1))),
    "a way's changeset below -1": _block(way=_way(_vf(3, -2))),
    "a way's user past the table": _block(way=_way(_vf(5, 4))),
    "a relation's user past the table": _block(relation=_relation(_vf(5, 9))),
    "a reserved field in an Info": _block(way=_way(_WAY_INFO + _vf(19500, 0))),
    # the rest of osmium's list
    "two string tables": _block(extra=_ld(1, _ld(1, b""))),
    "a string over 1024 bytes": _block(strings=[*_STRINGS, b"x" * 1025]),
    "a relation member of type 3": _block(relation=_relation(types=varint(3))),
    "a way's key past the table": _block(way=_vf(1, 10) + _ld(2, varint(9)) + _ld(3, varint(2))),
    "dense latitudes shorter than the ids": _block(
        dense=_ld(1, zigzag(1) + zigzag(1)) + _ld(8, zigzag(1)) + _ld(9, zigzag(1) + zigzag(1))
    ),
    "a dense key without its value": _block(dense=_dense(extra=_ld(10, varint(1)))),
}

#: Refused by osmium's reading of the header, before walks reads the file.
HEADER_REFUSED = {"a header's box holding field 0"}

#: Files osmium reads, which walks' compiled checks (stricter) leave to it.
STRICTER = {
    "a dense version array of one value for two nodes": _block(dense=_dense(_ld(1, varint(1)))),
    "a dense version of one value, not packed": _block(dense=_dense(_vf(1, 1))),
    "two DenseInfo": _block(dense=_dense(extra=_ld(5, _ld(1, varint(1) + varint(1))))),
}


#: Blobs of raw data osmium reads (the first raw data, the fields after it unread): so do
#: the arrays.
RAW = {
    "raw data": _file(inside=_ld(1, _GOOD)),
    "raw data after zlib data": _file(
        inside=_sized(_block(way=_way(extra=b"\x00")), 9) + _ld(1, _GOOD)
    ),
    "raw data, then a size osmium does not read": _file(inside=_ld(1, _GOOD) + _vf(2, 0)),
}


def _files(tmp_path: Path, data: bytes) -> Path:
    """Write a hand-made file (a whole file, or a block put in one)."""
    path = tmp_path / "case.osm.pbf"
    path.write_bytes(data if data.startswith(b"\0\0") else _file(data))  # a file, or a block
    return path


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """The store's debug lines."""
    caplog.set_level(logging.DEBUG, logger="walks.store")
    return caplog


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_file_osmium_refuses_is_refused_with_its_message(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    extract = _files(tmp_path, REFUSED[name])
    with pytest.raises(DataError) as judged:
        read_extract(extract)
    for setting in ("1", "0"):
        monkeypatch.setenv("WALKS_JIT", setting)
        debug_log.clear()
        with pytest.raises(DataError) as refused:
            import_extract(extract, tmp_path / setting)
        assert str(refused.value) == str(judged.value), setting
        assert not list((tmp_path / setting / "stores").glob("*"))
        if setting == "1" and name not in HEADER_REFUSED:  # walks refused it, osmium judged
            assert COMPILED in debug_log.text
            assert ALONE in debug_log.text


@pytest.mark.parametrize("name", sorted(STRICTER))
def test_a_file_only_osmium_reads_is_imported_by_it(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    extract = _files(tmp_path, STRICTER[name])
    assert read_extract(extract).ways  # osmium reads it
    stores = []
    for setting in ("1", "0"):
        monkeypatch.setenv("WALKS_JIT", setting)
        debug_log.clear()
        import_extract(extract, tmp_path / setting)
        stores.append(_rows(store_path(extract, tmp_path / setting)))
        assert (ALONE in debug_log.text) is (setting == "1")
    assert stores[0] == stores[1]
    assert stores[0]["ways"]


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_data_is_read_as_osmium_reads_it(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    extract = _files(tmp_path, RAW[name])
    assert [w.osm_id for w in read_extract(extract).ways] == [10]
    stores = []
    for setting in ("1", "0"):
        monkeypatch.setenv("WALKS_JIT", setting)
        debug_log.clear()
        import_extract(extract, tmp_path / setting)
        stores.append(_rows(store_path(extract, tmp_path / setting)))
        assert ALONE not in debug_log.text
    assert stores[0] == stores[1]
    assert stores[0]["ways"]


def test_a_nul_tag_in_raw_data_after_zlib_data_is_found(tmp_path: Path) -> None:
    """osmium reads the raw data: the tags checked before it reads are those (a NUL in one
    shifts osmium's text: it gave another error, or could crash)."""
    nul = _block(strings=[b"", b"highway", b"foot\0way", b"alice"])
    extract = _files(tmp_path, _file(inside=_sized(_GOOD, len(_GOOD)) + _ld(1, nul)))
    for read in (read_extract, lambda path: import_extract(path, tmp_path / "cache")):
        with pytest.raises(DataError, match="NUL"):
            read(extract)


def test_a_good_hand_made_file_is_read_by_the_arrays(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, debug_log: pytest.LogCaptureFixture
) -> None:
    """The cases above differ from this file, which each path reads, by their one fault."""
    extract = _files(tmp_path, _GOOD)
    monkeypatch.setenv("WALKS_JIT", "1")
    import_extract(extract, tmp_path / "cache")
    assert COMPILED in debug_log.text
    assert ALONE not in debug_log.text
    assert [w.osm_id for w in read_extract(extract).ways] == [10]


@pytest.mark.parametrize("name", sorted(PBFS))
def test_extracts_with_metadata_import_without_osmium_s_pass(
    name: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    """Real metadata passes the compiled checks: no fallback, the numpy path's store."""
    stores = []
    for setting in ("1", "0"):
        monkeypatch.setenv("WALKS_JIT", setting)
        debug_log.clear()
        import_extract(PBFS[name], tmp_path / setting)
        stores.append(_rows(store_path(PBFS[name], tmp_path / setting)))
        assert (COMPILED in debug_log.text) is (setting == "1")
        assert ALONE not in debug_log.text
    assert stores[0] == stores[1]
    assert stores[0]["ways"]


# ------------------------------------------------------------------ pyosmium as the judge


class _Decoded(osmium.SimpleHandler):
    """Every object decoded in C++, none for Python."""

    def changeset(self, _: object) -> None:
        """Take a changeset (none is wanted)."""


def _osmium_refuses(data: bytes, path: Path) -> bool:
    """Whether osmium refuses a file of one block, its metadata read."""
    path.write_bytes(HEADER + blob(b"OSMData", _sized(data, len(data))))
    try:
        with osmium.io.Reader(str(path)) as reader:
            osmium.apply(reader, _Decoded())
    except RuntimeError:
        return True
    return False


def _walks_refuses(data: bytes) -> bool:
    """Whether walks' compiled decoding, its metadata checks included, refuses a block."""
    try:
        list(pbf._primitive_block(data, dates=True, relations=True, meta=True))
    except UnsupportedPbfError:
        return True
    return False


_Chain = list[tuple[int, int, int]]


def _fields(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int, int]]:
    """A message's fields: number, wire type, where a length-delimited one's length starts,
    and where the value lies."""
    out = []
    at = start
    while at < end:
        key, at = pbf._varint(data, at)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, first = pbf._varint(data, at)
            out.append((number, wire, at, first, first + length))
            at = first + length
        else:
            _, after = pbf._varint(data, at)
            out.append((number, wire, at, at, after))
            at = after
    return out


def _metadata_values(data: bytes) -> list[tuple[_Chain, int, int]]:
    """Each varint of a block's metadata (DenseInfo arrays, Info fields): where it lies, and
    the length-delimited fields around it (where each one's length starts, its value)."""
    found = []
    for number, _, at, a, b in _fields(data, 0, len(data)):
        if number != 2:
            continue
        for kind, _, at2, c, d in _fields(data, a, b):
            for inner, wire, at3, e, f in _fields(data, c, d):
                chain = [(at, a, b), (at2, c, d), (at3, e, f)]
                if kind == 2 and inner == 5:
                    for _, _, at4, g, h in _fields(data, e, f):
                        place = g
                        while place < h:
                            _, after = pbf._varint(data, place)
                            found.append(([*chain, (at4, g, h)], place, after))
                            place = after
                elif kind in (3, 4) and inner == 4 and wire == 2:
                    found += [(chain, g, h) for _, w, _, g, h in _fields(data, e, f) if w == 0]
    return found


def _replaced(data: bytes, chain: _Chain, span: tuple[int, int], new: bytes) -> bytes:
    """A block with one value replaced, the lengths of the fields around it set anew."""
    a, b = span
    out = data[:a] + new + data[b:]
    grown = len(new) - (b - a)
    for at, start, end in reversed(chain):  # the innermost first: the outer ones stay put
        length = varint(end - start + grown)
        out = out[:at] + length + out[start:]
        grown += len(length) - (start - at)
    return out


#: Values put in place of a metadata varint: around each of osmium's limits.
_VALUES = [0, 1, 2, 3, 4, 5, 6, 7, 8, 0x7F, 0x80, 300, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1,
           2**32, 2**33 + 1, 2**63, 2**64 - 4, 2**64 - 3, 2**64 - 2, 2**64 - 1]  # fmt: skip


def test_walks_and_osmium_agree_on_mutated_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A metadata value of a real block replaced by another: refused by both, or by neither.

    One value per node stays one value per node: where walks is stricter than osmium (array
    lengths, packing) nothing changes, and the two verdicts must be the same.
    """
    rng = np.random.default_rng(5)
    data = min(_blocks(PBFS["munich"]), key=len)  # the smallest: fast to decode, with ways
    values = _metadata_values(data)
    assert len(values) > 1000
    monkeypatch.setenv("WALKS_JIT", "1")
    verdicts = {True: 0, False: 0}
    with pbf_jit.engaged(0):
        assert not _walks_refuses(data)
        for _ in range(250):
            chain, a, b = values[int(rng.integers(len(values)))]
            value = _VALUES[int(rng.integers(len(_VALUES)))]
            mutant = _replaced(data, chain, (a, b), varint(value))
            expected = _osmium_refuses(mutant, tmp_path / "judge.osm.pbf")
            assert _walks_refuses(mutant) is expected, (a, value)
            verdicts[expected] += 1
    assert min(verdicts.values()) > 20  # both verdicts seen often


def test_walks_never_takes_a_block_osmium_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Random bytes of a real block's metadata changed: when osmium refuses, walks does."""
    rng = np.random.default_rng(9)
    data = min(_blocks(PBFS["munich"]), key=len)
    values = _metadata_values(data)
    monkeypatch.setenv("WALKS_JIT", "1")
    refused = 0
    with pbf_jit.engaged(0):
        for _ in range(150):
            mutant = bytearray(data)
            for _ in range(int(rng.integers(1, 4))):
                _, a, b = values[int(rng.integers(len(values)))]
                mutant[int(rng.integers(a, b))] = int(rng.integers(256))
            if _osmium_refuses(bytes(mutant), tmp_path / "judge.osm.pbf"):
                assert _walks_refuses(bytes(mutant))
                refused += 1
    assert refused > 20
