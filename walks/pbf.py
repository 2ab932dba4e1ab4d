"""Read an OSM PBF file's nodes and ways as arrays, block by block, without an object per element.

pyosmium hands every object to Python as an object of its own (a few microseconds each, which
is most of an import's time). The PBF format (https://wiki.openstreetmap.org/wiki/PBF_Format)
packs nodes and ways as runs of protocol-buffer varints; here those runs are decoded with numpy
for a whole block at once. Only what the region store needs is read: node ids, coordinates and
tags (``DenseNodes``), way ids, node references and tags. A file this reader does not handle (a
compression other than zlib, plain non-dense nodes, an unknown required feature) raises
``UnsupportedPbfError``, and the caller reads it with osmium instead. So does anything
osmium would refuse (a field key, a blob's type or size, zlib data that does not end; with
the compiled loops, metadata out of range too: ``check_meta``): osmium's reading gives the
verdict.

Coordinates are kept as osmium keeps them, integers of 1e-7 degree (``lat / 1e7`` gives the
same double as osmium's ``Location.lat``).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from walks import pbf_jit

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

_I64 = np.dtype[np.int64]
Array = np.ndarray[Any, _I64]

#: The largest absolute longitude and latitude osmium calls valid, in its 1e-7 degree.
MAX_LON, MAX_LAT = 1_800_000_000, 900_000_000

#: Features a file may require that this reader understands.
_KNOWN_FEATURES = {"OsmSchema-V0.6", "DenseNodes", "Sort.Type_then_ID"}

#: The largest blob header and blob the format allows (64 KiB and 32 MiB).
_MAX_HEADER, _MAX_BLOB = 64 * 1024, 32 * 1024 * 1024

#: osmium's coordinate unit is 1e-7 degree; PBF's is 1e-9 degree times the granularity.
_TO_OSMIUM = 100

#: The longest string osmium takes from a string table (bytes).
MAX_STRING = 1024

#: Field numbers protocol buffers reserve (osmium refuses a message holding one), and the
#: first a field key of 32 bits cannot hold (osmium reads keys as 32 bits).
_RESERVED, _MAX_NUMBER = range(19000, 20000), 2**29


class UnsupportedPbfError(Exception):
    """A PBF file (or a block of it) this reader does not decode; osmium reads it instead.

    An internal signal, as ``walks.data._NeedsRepairError`` is: it never reaches a user (the
    store reads the file with osmium, whose errors are ``DataError``).
    """


class NulTagError(UnsupportedPbfError):
    """A tag whose text holds a NUL character: osmium's C++ side crashes on it (pyosmium 4.3)."""


class ZeroMemberError(UnsupportedPbfError):
    """A multipolygon with a way member of id 0: osmium's area assembler crashes on it.

    It does when the file holds a way 0 (pyosmium 4.3). OSM ids start at 1: only a broken tool
    writes one.
    """


def zero_member(blocks: list[RelationBlock]) -> bool:
    """
    Say whether a relation of some blocks has a way member of id 0.

    Parameters
    ----------
    blocks
        The relations.

    Returns
    -------
    bool
        True when one has.
    """
    return any(
        bool(((b.member_ids == 0) & (b.member_types == 1)).any()) for b in blocks if b.ids.size
    )


class StringTable(list[str]):
    """A block's string table, with its strings' UTF-8 bytes as the compiled loops read them.

    Parameters
    ----------
    texts
        The strings.
    utf8
        The strings joined (uint8), and each one's first byte and end in them.
    nul
        Whether a string may hold a NUL character (False: none does).
    """

    def __init__(
        self,
        texts: list[str],
        utf8: tuple[np.ndarray[Any, np.dtype[np.uint8]], Array, Array],
        *,
        nul: bool = True,
    ) -> None:
        super().__init__(texts)
        self.utf8 = utf8
        self.nul = nul


@dataclass(frozen=True)
class NodeBlock:
    """The dense nodes of one block.

    Attributes
    ----------
    ids
        Node ids, in file order.
    lats, lons
        Coordinates in 1e-7 degree (osmium's 32-bit integers).
    tag_offsets
        ``tags[tag_offsets[i]:tag_offsets[i + 1]]`` are node ``i``'s tags.
    keys, values
        String-table indices of each tag's key and value.
    strings
        The block's string table.
    newest
        The newest timestamp after 1970 (seconds, as osmium reads it), when asked for; else -1.
    """

    ids: Array
    lats: np.ndarray[Any, np.dtype[np.int32]]
    lons: np.ndarray[Any, np.dtype[np.int32]]
    tag_offsets: Array
    keys: Array
    values: Array
    strings: list[str]
    newest: int = -1


@dataclass(frozen=True)
class WayBlock:
    """The ways of one block.

    Attributes
    ----------
    ids
        Way ids, in file order.
    ref_offsets
        ``refs[ref_offsets[i]:ref_offsets[i + 1]]`` are way ``i``'s node ids.
    refs
        Node ids of every way, one after the other.
    tag_offsets, keys, values, strings, newest
        As in ``NodeBlock``.
    """

    ids: Array
    ref_offsets: Array
    refs: Array
    tag_offsets: Array
    keys: Array
    values: Array
    strings: list[str]
    newest: int = -1


@dataclass(frozen=True)
class RelationBlock:
    """The relations of one block.

    Attributes
    ----------
    ids
        Relation ids, in file order.
    member_offsets
        ``member_ids[member_offsets[i]:member_offsets[i + 1]]`` are relation ``i``'s members.
    member_ids
        The members' ids, one relation after the other.
    member_types
        Their types: 0 node, 1 way, 2 relation.
    roles
        String-table indices of their roles.
    tag_offsets, keys, values, strings, newest
        As in ``NodeBlock``.
    """

    ids: Array
    member_offsets: Array
    member_ids: Array
    member_types: Array
    roles: Array
    tag_offsets: Array
    keys: Array
    values: Array
    strings: list[str]
    newest: int = -1

    def subset(self, chosen: Array) -> RelationBlock:
        """
        Keep some of the relations (and the block's newest timestamp).

        Parameters
        ----------
        chosen
            Their places in the block, ascending.

        Returns
        -------
        RelationBlock
            Those relations only.
        """
        members, member_starts = runs_of(self.member_offsets, chosen)
        tags, tag_starts = runs_of(self.tag_offsets, chosen)
        return RelationBlock(
            self.ids[chosen], member_starts, self.member_ids[members], self.member_types[members],
            self.roles[members], tag_starts, self.keys[tags], self.values[tags], self.strings,
            self.newest,
        )  # fmt: skip


def runs_of(offsets: Array, chosen: Array) -> tuple[Array, Array]:
    """
    Index some items' runs (a way's nodes, an object's tags) one after the other.

    Parameters
    ----------
    offsets
        ``offsets[i]:offsets[i + 1]`` is item ``i``'s run.
    chosen
        The items.

    Returns
    -------
    tuple of numpy.ndarray
        The indices into the runs' values, and where each chosen item's run starts among them
        (with the end last).
    """
    compiled = pbf_jit.runs(offsets, chosen)
    if compiled is not None:
        return compiled
    first = offsets[chosen]
    sizes = offsets[chosen + 1] - first
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    index = np.arange(int(starts[-1]), dtype=np.int64) + np.repeat(first - starts[:-1], sizes)
    return index, starts


def _varint(data: bytes, at: int) -> tuple[int, int]:
    """
    Read one varint.

    Parameters
    ----------
    data
        The bytes.
    at
        Where it starts.

    Returns
    -------
    tuple of int
        Its value and where the next field starts.

    Raises
    ------
    UnsupportedPbfError
        When it runs past the end.
    """
    value = shift = 0
    while True:
        if at >= len(data) or shift > 63:  # noqa: PLR2004 - ten bytes at most
            msg = "a varint runs past its message"
            raise UnsupportedPbfError(msg)
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:  # noqa: PLR2004 - the last byte of a varint
            return value, at
        shift += 7


def _fields(
    data: bytes, start: int = 0, end: int | None = None, wires: dict[int, int] | None = None
) -> Iterator[tuple[int, int, int]]:
    """
    Walk a message's fields.

    Parameters
    ----------
    data
        The bytes holding the message.
    start, end
        Where the message lies.
    wires
        The wire type some field numbers must have.

    Yields
    ------
    tuple of int
        ``(field number, value, next)`` for a varint field (``next``: where the next field
        starts), else ``(field number, start, end)`` of a length-delimited field's bytes.

    Raises
    ------
    UnsupportedPbfError
        For a field number osmium refuses (0, reserved, beyond 32 bits), a wire type other
        than varint, length-delimited and fixed, a field past the end, or a field of another
        wire type than ``wires`` says.
    """
    stop = len(data) if end is None else end
    at = start
    while at < stop:
        key, at = _varint(data, at)
        number, wire = key >> 3, key & 7
        if not 0 < number < _MAX_NUMBER or number in _RESERVED:
            msg = f"a field number {number}"
            raise UnsupportedPbfError(msg)
        if wires is not None and wires.get(number, wire) != wire:
            msg = f"field {number} of wire type {wire}"
            raise UnsupportedPbfError(msg)
        if wire == 0:
            value, at = _varint(data, at)
            yield number, value, at
        elif wire == 2:  # noqa: PLR2004 - length-delimited
            length, at = _varint(data, at)
            if at + length > stop:
                msg = "a field runs past its message"
                raise UnsupportedPbfError(msg)
            yield number, at, at + length
            at += length
        elif wire in (1, 5):  # fixed 64 or 32 bits
            at += 8 if wire == 1 else 4
            if at > stop:
                msg = "a fixed field runs past its message"
                raise UnsupportedPbfError(msg)
        else:
            msg = f"wire type {wire}"
            raise UnsupportedPbfError(msg)


def varints(data: bytes | memoryview) -> np.ndarray[Any, np.dtype[np.uint64]]:
    """
    Decode a packed run of varints, all at once.

    Parameters
    ----------
    data
        The run (complete varints, back to back).

    Returns
    -------
    numpy.ndarray
        The values (uint64).

    Raises
    ------
    UnsupportedPbfError
        When the run ends inside a varint or holds one longer than ten bytes.
    """
    if pbf_jit.active():
        values, status = pbf_jit.varints(data)
        _refuse_run(status)
        return values
    raw = np.frombuffer(data, dtype=np.uint8)
    if not raw.size:
        return np.zeros(0, dtype=np.uint64)
    if raw[-1] >= 0x80:  # noqa: PLR2004 - a varint's last byte is below 0x80
        msg = "a packed run ends inside a varint"
        raise UnsupportedPbfError(msg)
    ends = np.flatnonzero(raw < 0x80)  # noqa: PLR2004
    if len(ends) == raw.size:  # every varint one byte long: the common case for tags
        return raw.astype(np.uint64)
    lengths = np.diff(ends, prepend=-1)
    if int(lengths.max()) > 10:  # noqa: PLR2004 - ten bytes at most
        msg = "a varint longer than ten bytes"
        raise UnsupportedPbfError(msg)
    # from each varint's last (most significant) byte down to its first, 7 bits at a time,
    # for fewer varints at each step
    values = raw[ends].astype(np.uint64)
    back = 1
    longer = np.flatnonzero(lengths > 1)
    while longer.size:
        values[longer] = (values[longer] << np.uint64(7)) | (raw[ends[longer] - back] & 0x7F)
        back += 1
        longer = longer[lengths[longer] > back]
    return values


def _refuse_run(status: int) -> None:
    """
    Refuse a packed run the compiled loops could not read.

    Parameters
    ----------
    status
        What the loop gave (``walks.pbf_jit.OK`` for a run read whole).

    Raises
    ------
    UnsupportedPbfError
        When the run ends inside a varint or holds one longer than ten bytes.
    """
    if status == pbf_jit.CUT:
        msg = "a packed run ends inside a varint"
        raise UnsupportedPbfError(msg)
    if status:
        msg = "a varint longer than ten bytes"
        raise UnsupportedPbfError(msg)


def _zigzag(values: np.ndarray[Any, np.dtype[np.uint64]]) -> Array:
    """
    Undo protocol buffers' zig-zag coding of signed numbers.

    Parameters
    ----------
    values
        The coded values.

    Returns
    -------
    numpy.ndarray
        The signed values.
    """
    half = (values >> np.uint64(1)).astype(np.int64)
    return half ^ -((values & np.uint64(1)).astype(np.int64))


def _delta(values: np.ndarray[Any, np.dtype[np.uint64]]) -> Array:
    """
    Decode a zig-zag, delta-coded run (ids, coordinates, references).

    Parameters
    ----------
    values
        The coded values.

    Returns
    -------
    numpy.ndarray
        The running totals.
    """
    return np.cumsum(_zigzag(values))


def _strings(data: bytes, start: int, end: int) -> list[str]:
    """
    Read a block's string table.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the table lies.

    Returns
    -------
    list of str
        The strings.

    Raises
    ------
    UnsupportedPbfError
        For a field other than a string, a string longer than osmium takes, or text that is
        not UTF-8 (osmium's reading decides what becomes of such a file).
    """
    if pbf_jit.active():
        return _strings_compiled(data, start, end)
    spans: list[tuple[int, int]] = []
    at = start
    while at < end:
        if data[at] != 0x0A:  # noqa: PLR2004 - field 1, length-delimited: a string
            msg = "a string table holding something else"
            raise UnsupportedPbfError(msg)
        length = data[at + 1] if at + 1 < end else 0x80
        if length < 0x80:  # noqa: PLR2004 - a one-byte length, the common case
            at += 2
        else:
            length, at = _varint(data, at + 1)
            if length > MAX_STRING:  # osmium refuses the block
                msg = f"a string longer than {MAX_STRING} bytes"
                raise UnsupportedPbfError(msg)
        spans.append((at, at + length))
        at += length
    if at != end:
        msg = "a string runs past its table"
        raise UnsupportedPbfError(msg)
    try:
        texts = [data[a:b].decode() for a, b in spans]
    except UnicodeDecodeError as err:
        msg = "a string that is not UTF-8"
        raise UnsupportedPbfError(msg) from err
    return texts


def _strings_compiled(data: bytes, start: int, end: int) -> StringTable:
    """
    Read a block's string table as ``_strings`` does, with a compiled loop.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the table lies.

    Returns
    -------
    StringTable
        The strings, and their UTF-8 bytes for the compiled loops.

    Raises
    ------
    UnsupportedPbfError
        What ``_strings`` refuses.
    """
    joined, starts, ends, status = pbf_jit.strings(data, start, end, MAX_STRING)
    if status not in (pbf_jit.OK, pbf_jit.DOUBLED):
        msg = {
            pbf_jit.OTHER: "a string table holding something else",
            pbf_jit.LONG: f"a string longer than {MAX_STRING} bytes",
        }.get(status, "a string runs past its table")
        raise UnsupportedPbfError(msg)
    raw = joined.tobytes()
    try:
        if status == pbf_jit.OK:  # no NUL in a string: split the text at the NULs
            texts = raw.decode().split("\0") if len(starts) else []
        else:
            pairs = zip(starts.tolist(), ends.tolist(), strict=True)
            texts = [raw[a:b].decode() for a, b in pairs]
    except UnicodeDecodeError as err:
        msg = "a string that is not UTF-8"
        raise UnsupportedPbfError(msg) from err
    return StringTable(texts, (joined, starts, ends), nul=status != pbf_jit.OK)


def _deltas(data: bytes | memoryview) -> Array:
    """
    Decode a packed run of zig-zag, delta-coded varints (``_delta`` of ``varints``).

    Parameters
    ----------
    data
        The run.

    Returns
    -------
    numpy.ndarray
        The running totals (int64).

    Raises
    ------
    UnsupportedPbfError
        As ``varints`` refuses a run.
    """
    if not pbf_jit.active():
        return _delta(varints(data))
    values, status = pbf_jit.deltas(data)
    _refuse_run(status)
    return values


def _scaled(raw: Array, granularity: int, offset: int) -> np.ndarray[Any, np.dtype[np.int32]]:
    """
    Turn PBF coordinates into osmium's integers of 1e-7 degree, as libosmium does.

    Parameters
    ----------
    raw
        Coordinates in units of ``granularity`` nanodegrees.
    granularity, offset
        The block's granularity and offset (nanodegrees).

    Returns
    -------
    numpy.ndarray
        The coordinates (C++ integer division, truncated toward zero, then kept in 32 bits).
    """
    if pbf_jit.active():
        return pbf_jit.scaled(raw, granularity, offset)
    nano = raw * granularity + offset
    units: Array = np.sign(nano) * (np.abs(nano) // _TO_OSMIUM)
    return ((units + 2**31) % 2**32 - 2**31).astype(np.int32)  # as osmium keeps them


def _dense_tags(keys_vals: np.ndarray[Any, np.dtype[np.uint64]]) -> tuple[Array, Array, Array]:
    """
    Split a dense ``keys_vals`` run per node: with the compiled loop when in use.

    Parameters
    ----------
    keys_vals
        The run.

    Returns
    -------
    tuple of numpy.ndarray
        Per-node offsets into the tags, the key ids and the value ids.
    """
    split = pbf_jit.dense_tags(keys_vals) if pbf_jit.active() else None
    if split is None:  # numpy's, or its refusal in its words (a run the loop refuses)
        split = _tags_csr(keys_vals.astype(np.int64))
    return split


def _tags_csr(keys_vals: Array) -> tuple[Array, Array, Array]:
    """
    Split a dense ``keys_vals`` run (each node's key and value ids, then a 0) per node.

    Parameters
    ----------
    keys_vals
        The run.

    Returns
    -------
    tuple of numpy.ndarray
        Per-node offsets into the tags, the key ids and the value ids.

    Raises
    ------
    UnsupportedPbfError
        When the run is malformed.
    """
    n = len(keys_vals)
    stops = np.flatnonzero(keys_vals == 0)
    counts = np.diff(np.concatenate(([-1], stops))) - 1
    if (counts % 2).any() or (n and stops.size and stops[-1] != n - 1) or (n and not stops.size):
        # a 0 in a value's place (the empty string's index, as libosmium reads it): walk it
        ends, at, flags = [], 0, (keys_vals == 0).tolist()
        while at < n:
            if flags[at]:
                ends.append(at)
                at += 1
            else:
                at += 2
        if at != n or (ends and ends[-1] != n - 1) or not ends:
            msg = "a dense node's tags end inside a pair"
            raise UnsupportedPbfError(msg)
        stops = np.asarray(ends, dtype=np.int64)
        counts = np.diff(np.concatenate(([-1], stops))) - 1
    keep = np.ones(n, dtype=bool)
    keep[stops] = False
    pairs = keys_vals[keep]
    offsets = np.concatenate(([0], np.cumsum(counts // 2)))
    return offsets, pairs[0::2], pairs[1::2]


def blocks(
    path: Path, *, dates: bool = False, end: int | None = None
) -> Iterator[NodeBlock | WayBlock]:
    """
    Read a PBF file's node and way blocks, in file order (``relations`` reads the relations).

    Parameters
    ----------
    path
        The file.
    dates
        Read the objects' timestamps too, for each block's ``newest``.
    end
        Stop at this offset, where the blobs of relations only begin (``relations``): a
        relation before it, but in the last blob, is refused (``relations`` did not read it).

    Yields
    ------
    NodeBlock or WayBlock
        One per primitive group of dense nodes or of ways.

    Raises
    ------
    UnsupportedPbfError
        When the file holds what this reader does not decode (it may have yielded blocks
        before: the caller starts again with osmium).
    OSError
        When the file cannot be read.
    """
    with path.open("rb") as f:
        first = True
        while end is None or f.tell() < end:
            kind, data = _next_blob(f)
            if kind is None:
                return
            if first:
                if kind != "OSMHeader":
                    msg = "the file does not start with a header block"
                    raise UnsupportedPbfError(msg)
                _check_header(data)
                first = False
                continue
            if kind != "OSMData":  # (osmium refuses most others, and reads some as data)
                msg = f"a blob of type {kind!r}"
                raise UnsupportedPbfError(msg)
            # the last blob before the relations' may hold some: ``relations`` read them
            last = end is not None and f.tell() == end
            for block in _primitive_block(
                data, dates=dates, relations=end is not None, meta=pbf_jit.active()
            ):
                if not isinstance(block, RelationBlock):
                    yield block
                elif not last:
                    msg = "relations before the last node or way"
                    raise UnsupportedPbfError(msg)


def relations(
    path: Path, *, dates: bool = False, keep: Callable[[RelationBlock], Array] | None = None
) -> tuple[list[RelationBlock], int]:
    """
    Read the relations at the end of a PBF file (where a sorted file keeps them), first.

    The blobs' headers are read from the start, their data from the end back to the last
    block holding nodes or ways (whose relations are read too): the relations are known
    before the ways are read, for a small part of the file's reading. ``blocks(path,
    end=...)`` reads the rest, and refuses a relation there but in its last blob.

    Parameters
    ----------
    path
        The file.
    dates
        Read the relations' timestamps too, for each block's ``newest``.
    keep
        Picks the relations of a block to keep (ascending places), as each block is read:
        the others' members and tags are let go at once (a file of relations the caller
        does not want holds no memory).

    Returns
    -------
    tuple
        The relation blocks in file order, and where the blobs of relations only begin (the
        end of the last blob holding nodes or ways).

    Raises
    ------
    UnsupportedPbfError
        When the file holds what this reader does not decode.
    OSError
        When the file cannot be read.
    """
    found: list[RelationBlock] = []
    with path.open("rb") as f:
        spans: list[tuple[int, str]] = []
        while True:
            at = f.tell()
            kind, size = _blob_header(f)
            if kind is None:
                break
            spans.append((at, kind))
            f.seek(size, 1)
        start = f.tell()
        if f.tell() != path.stat().st_size or (spans and spans[0][1] != "OSMHeader"):
            msg = "a blob is truncated, or the file does not start with a header block"
            raise UnsupportedPbfError(msg)
        if any(kind != "OSMData" for _, kind in spans[1:]):
            msg = "a blob of another type than OSMData after the header"
            raise UnsupportedPbfError(msg)
        for at, _ in reversed(spans[1:]):
            f.seek(at)
            _, data = _next_blob(f)
            read = list(_primitive_block(data, dates=dates, relations=True, meta=pbf_jit.active()))
            kinds = [isinstance(block, RelationBlock) for block in read]
            if True in kinds and not all(kinds[kinds.index(True) :]):
                # nodes or ways after relations in one blob: osmium meets the relations first
                msg = "a relation group before nodes or ways"
                raise UnsupportedPbfError(msg)
            found[:0] = [
                block.subset(keep(block)) if keep is not None else block
                for block in read
                if isinstance(block, RelationBlock)
            ]
            if not all(kinds):
                # the last blob of nodes or ways: any relations it holds are read here, and
                # ``blocks`` reads it up to its end
                start = f.tell()
                break
            start = at
    return found, start


def _blob_header(f: BinaryIO) -> tuple[str | None, int]:
    """
    Read the header of the next blob of a PBF file.

    Parameters
    ----------
    f
        The file, at a blob's start.

    Returns
    -------
    tuple
        The blob's type (None at the end of the file) and its data's size.

    Raises
    ------
    UnsupportedPbfError
        For a truncated or oversized header, or an oversized blob.
    """
    size = f.read(4)
    if not size:
        return None, 0
    if len(size) < 4:  # noqa: PLR2004 - the length prefix
        msg = "the file ends inside a blob"
        raise UnsupportedPbfError(msg)
    (length,) = struct.unpack(">I", size)
    header = f.read(length) if length <= _MAX_HEADER else b""
    if len(header) != length or not length:
        msg = "a blob header is truncated or too large"
        raise UnsupportedPbfError(msg)
    kind, datasize = "", -1
    for number, a, b in _fields(header, wires={1: 2, 3: 0}):
        if number == 1:
            kind = header[a:b].decode("ascii", "replace")
        elif number == 3:  # noqa: PLR2004 - datasize
            datasize = a
    if not 0 < datasize <= _MAX_BLOB:
        msg = "a blob is empty or too large"
        raise UnsupportedPbfError(msg)
    return kind, datasize


def _next_blob(f: BinaryIO) -> tuple[str | None, bytes]:
    """
    Read the next blob of a PBF file and inflate it.

    Parameters
    ----------
    f
        The file, at a blob's start.

    Returns
    -------
    tuple
        The blob's type (None at the end of the file) and its data.

    Raises
    ------
    UnsupportedPbfError
        For a truncated or oversized blob.
    """
    kind, blob = _read_blob(f)
    return kind, (_inflate(blob) if kind is not None else b"")


def _read_blob(f: BinaryIO) -> tuple[str | None, bytes]:
    """
    Read the next blob of a PBF file, as it is stored.

    Parameters
    ----------
    f
        The file, at a blob's start.

    Returns
    -------
    tuple
        The blob's type (None at the end of the file) and its data.

    Raises
    ------
    UnsupportedPbfError
        For a truncated or oversized blob.
    """
    kind, datasize = _blob_header(f)
    if kind is None:
        return None, b""
    blob = f.read(datasize)
    if len(blob) != datasize:
        msg = "a blob is truncated or too large"
        raise UnsupportedPbfError(msg)
    return kind, blob


#: A blob's field of lz4 data (osmium reads it, as zlib's field 3).
_LZ4 = 6


@cache
def _libdeflate() -> tuple[Callable[[bytes, int], bytearray], type[Exception]] | None:
    """
    Load libdeflate's zlib inflater (the ``fast`` extra's ``deflate``), when installed.

    It inflates a stream of exactly the size given, or of less (the caller compares), and
    verifies its checksum; anything else it refuses, and zlib decides. So it accepts nothing
    zlib refuses, and gives the same bytes, at about 2.4 times zlib's speed (0.16 against
    0.39 CPU-s for the store benchmark's region).

    Returns
    -------
    tuple or None
        The function and its error, or None without the package.
    """
    try:
        import deflate  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return deflate.zlib_decompress, deflate.DeflateError


def _zlib(packed: bytes, raw_size: int) -> bytes:
    """
    Inflate a blob's zlib data, one byte past the size it says at most.

    Parameters
    ----------
    packed
        The data.
    raw_size
        The size the blob says.

    Returns
    -------
    bytes
        The block (one byte longer than said when the blob lies: the caller checks).

    Raises
    ------
    UnsupportedPbfError
        For data that does not inflate, or whose stream does not end by ``raw_size`` bytes.
    """
    fast = _libdeflate()
    if fast is not None:
        inflate, failure = fast
        try:  # bytes, as zlib gives (the compiled loops take read-only blocks)
            return bytes(inflate(packed, raw_size))
        except failure:  # zlib below says why, or takes what libdeflate does not
            pass
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed, raw_size + 1)
    except zlib.error as err:
        msg = f"a blob does not inflate ({err})"
        raise UnsupportedPbfError(msg) from err
    if not inflater.eof:  # cut short (no end, no checksum), or longer than it says
        msg = "a blob's zlib data does not end where it says"
        raise UnsupportedPbfError(msg)
    return data


def _lz4(packed: bytes, raw_size: int) -> bytes:
    """
    Decompress a blob's lz4 data (an lz4 block of ``raw_size`` bytes, as osmium writes it).

    Parameters
    ----------
    packed
        The data.
    raw_size
        The size the blob says (its field 2 comes before the data, as osmium requires).

    Returns
    -------
    bytes
        The block.

    Raises
    ------
    UnsupportedPbfError
        For data that does not decompress to that size.
    """
    import lz4.block  # noqa: PLC0415 - only for the rare file compressed with lz4

    try:
        data: bytes = lz4.block.decompress(packed, uncompressed_size=raw_size)
    except lz4.block.LZ4BlockError as err:
        msg = f"a blob does not decompress ({err})"
        raise UnsupportedPbfError(msg) from err
    return data


def _inflate(blob: bytes) -> bytes:
    """
    Inflate a blob's data (stored raw or with zlib).

    Parameters
    ----------
    blob
        The blob message.

    Returns
    -------
    bytes
        Its data.

    Raises
    ------
    UnsupportedPbfError
        For another compression, data that does not inflate or not to the size it says.
    """
    raw_size, data, packed = _blob_fields(blob)
    if data is not None:  # raw data: osmium reads it whatever the size said before
        return data
    if packed is None or not 0 < raw_size <= _MAX_BLOB:
        msg = f"a blob without data, or said to inflate to {raw_size} bytes"
        raise UnsupportedPbfError(msg)
    method, compressed = packed
    data = method(compressed, raw_size)
    if len(data) != raw_size:
        msg = "a blob of another size than it says"
        raise UnsupportedPbfError(msg)
    return data


def _blob_fields(
    blob: bytes,
) -> tuple[int, bytes | None, tuple[Callable[[bytes, int], bytes], bytes] | None]:
    """
    Read a blob's fields.

    Parameters
    ----------
    blob
        The blob message.

    Returns
    -------
    tuple
        The size it says its data has (-1: none said), its raw data (or None), and its
        compressed data with the function to decompress it (or None). As osmium reads a
        blob: its raw data as soon as found (the fields after it unread), else its last
        compressed data.

    Raises
    ------
    UnsupportedPbfError
        For a compression osmium does not read, or a size osmium refuses.
    """
    raw_size = -1
    packed: tuple[Callable[[bytes, int], bytes], bytes] | None = None
    for number, a, b in _fields(blob, wires={1: 2, 2: 0, 3: 2, _LZ4: 2}):
        if number == 1:
            return raw_size, blob[a:b], None
        if number == 2:  # noqa: PLR2004 - raw_size
            raw_size = a
            if not 0 < raw_size <= _MAX_BLOB:  # osmium refuses it
                msg = f"a blob said to inflate to {raw_size} bytes"
                raise UnsupportedPbfError(msg)
        elif number == 3:  # noqa: PLR2004 - zlib
            packed = (_zlib, blob[a:b])
        elif number == _LZ4:
            packed = (_lz4, blob[a:b])
        elif number > 3:  # noqa: PLR2004 - lzma, bzip2, zstd: osmium refuses them
            msg = "a blob compressed other than with zlib or lz4"
            raise UnsupportedPbfError(msg)
    return raw_size, None, packed


def _check_header(data: bytes) -> None:
    """
    Refuse a file requiring a feature this reader does not know (history files, for one).

    Parameters
    ----------
    data
        The header block.

    Raises
    ------
    UnsupportedPbfError
        For an unknown required feature.
    """
    for number, a, b in _fields(data, wires={4: 2}):
        if number == 4:  # noqa: PLR2004 - required_features
            feature = data[a:b].decode("utf-8", "replace")
            if feature not in _KNOWN_FEATURES:
                msg = f"a required feature {feature!r}"
                raise UnsupportedPbfError(msg)


def _primitive_block(
    data: bytes, *, dates: bool, relations: bool = False, meta: bool = False
) -> Iterator[NodeBlock | WayBlock | RelationBlock]:
    """
    Decode one primitive block's dense nodes and ways, and its relations when asked.

    Parameters
    ----------
    data
        The inflated block.
    dates
        Read the objects' timestamps too.
    relations
        Read the relations too (else skipped).
    meta
        Check the objects' metadata as osmium reads it, first (``check_meta``).

    Yields
    ------
    NodeBlock, WayBlock or RelationBlock
        One per group of dense nodes, ways or relations.

    Raises
    ------
    UnsupportedPbfError
        For plain (non-dense) nodes or malformed data, or metadata osmium may refuse.
    """
    strings, groups, granularity, offsets, date_granularity = _block_fields(data)
    if meta:
        check_meta(data, groups, len(strings))
    stamps = date_granularity if dates else None
    for start, end in groups:
        for number, a, b in _fields(data, start, end, {1: 2, 2: 2, 3: 2, 4: 2}):
            if number == 1:
                msg = "plain (not dense) nodes"
                raise UnsupportedPbfError(msg)
            if number == 2:  # noqa: PLR2004 - dense nodes
                yield _dense(data, (a, b), strings, (granularity, *offsets), stamps)
            elif number == 3:  # noqa: PLR2004 - the group holds ways: read them all at once
                yield _ways(data, start, end, strings, stamps)
                break
            elif number == 4 and relations:  # noqa: PLR2004 - relations: all at once too
                yield _relations(data, start, end, strings, stamps)
                break
            # changesets (5) are skipped, as osmium skips them


def check_meta(data: bytes, groups: list[tuple[int, int]], strings: int) -> None:
    """
    Refuse a block whose objects' metadata osmium may refuse, with the compiled loops.

    The store keeps no version, changeset or user, but osmium reads them (as walks' file
    readers do) and refuses a file where they are out of range. Checked here as osmium reads
    each value (a version's low 32 bits from -1 on, a changeset from -1 to 2**32 - 2, a user
    name in the string table), and stricter than osmium for the rest: each ``Info`` of a way
    or relation a message of varints; a ``DenseInfo`` absent, or each of its arrays packed,
    present once and of one value per node (the changesets and user names running sums), no
    node hidden (``visible`` 0, for osmium a node without a location); every field key as
    osmium reads it. A way's node coordinates (``LocationsOnWays``), which only osmium
    reads, must be whole varints. A file refused here is read by osmium alone, which says
    whether it is corrupt.

    Parameters
    ----------
    data
        The block.
    groups
        Where each of its primitive groups lies.
    strings
        The size of its string table.

    Raises
    ------
    UnsupportedPbfError
        When a check fails.
    """
    status = pbf_jit.meta(data, groups, strings)
    if status:
        msg = {
            pbf_jit.META: "metadata out of range, or not one value per node",
            pbf_jit.CUT: "a packed run ends inside a varint",
        }.get(status, "a malformed field in an object or its metadata")
        raise UnsupportedPbfError(msg)


def _block_fields(
    data: bytes,
) -> tuple[list[str], list[tuple[int, int]], int, tuple[int, int], int]:
    """
    Read a primitive block's own fields.

    Parameters
    ----------
    data
        The block.

    Returns
    -------
    tuple
        The string table, where each group lies, the granularity, the (lat, lon) offsets and
        the date granularity (milliseconds).

    Raises
    ------
    UnsupportedPbfError
        For a malformed field, two string tables, a granularity osmium would not keep.
    """
    strings: list[str] = []
    groups: list[tuple[int, int]] = []
    granularity, lat_offset, lon_offset, date_granularity = 100, 0, 0, 1000
    signed = 1 << 63  # int64 fields are varints of their two's complement
    tables = 0
    for number, a, b in _fields(data, wires={1: 2, 2: 2, 17: 0, 18: 0, 19: 0, 20: 0}):
        if number == 1:
            tables += 1
            if tables > 1:  # osmium refuses the block
                msg = "a block of two string tables"
                raise UnsupportedPbfError(msg)
            strings = _strings(data, a, b)
        elif number == 2:  # noqa: PLR2004 - primitivegroup
            groups.append((a, b))
        elif number == 17:  # noqa: PLR2004 - granularity
            granularity = a
        elif number == 18:  # noqa: PLR2004 - date_granularity
            date_granularity = a
        elif number == 19:  # noqa: PLR2004 - lat_offset
            lat_offset = a - (signed << 1) if a >= signed else a
        elif number == 20:  # noqa: PLR2004 - lon_offset
            lon_offset = a - (signed << 1) if a >= signed else a
    if not 0 < granularity < 2**31 or not 0 < date_granularity < 2**31:
        # osmium keeps both as int32: anything else is left to it
        msg = f"a granularity of {granularity}, or a date granularity of {date_granularity}"
        raise UnsupportedPbfError(msg)
    return strings, groups, granularity, (lat_offset, lon_offset), date_granularity


def _dense(
    data: bytes,
    span: tuple[int, int],
    strings: list[str],
    scale: tuple[int, int, int],
    stamps: int | None,
) -> NodeBlock:
    """
    Decode a ``DenseNodes`` message.

    Parameters
    ----------
    data
        The block.
    span
        Where the message lies.
    strings
        The block's string table.
    scale
        The block's coordinate granularity and lat, lon offsets.
    stamps
        The block's date granularity, to read the timestamps; None not to.

    Returns
    -------
    NodeBlock
        The nodes.

    Raises
    ------
    UnsupportedPbfError
        When the columns do not match in length.
    """
    view = memoryview(data)
    columns: dict[int, Array] = {}
    keys_vals: np.ndarray[Any, np.dtype[np.uint64]] | None = None
    newest = -1
    for number, a, b in _fields(data, *span, {1: 2, 5: 2, 8: 2, 9: 2, 10: 2}):
        if number in (1, 8, 9):  # id, lat, lon: delta coded
            columns[number] = _deltas(view[a:b])
        elif number == 10:  # noqa: PLR2004 - keys_vals
            keys_vals = varints(view[a:b])
        elif number == 5 and stamps is not None:  # noqa: PLR2004 - dense info
            for field, c, d in _fields(data, a, b, {2: 2}):
                if field == 2:  # noqa: PLR2004 - timestamps, delta coded
                    newest = _newest(_deltas(view[c:d]), stamps)
    ids = columns.get(1, np.zeros(0, dtype=np.int64))
    lats = columns.get(8, np.zeros(0, dtype=np.int64))
    lons = columns.get(9, np.zeros(0, dtype=np.int64))
    if not len(ids) == len(lats) == len(lons):
        msg = "dense nodes whose columns differ in length"
        raise UnsupportedPbfError(msg)
    if keys_vals is None or not len(keys_vals):
        tag_offsets = np.zeros(len(ids) + 1, dtype=np.int64)
        keys = values = np.zeros(0, dtype=np.int64)
    else:
        tag_offsets, keys, values = _dense_tags(keys_vals)
        if len(tag_offsets) != len(ids) + 1:
            msg = "dense nodes with more or fewer tag lists than nodes"
            raise UnsupportedPbfError(msg)
    _check_indices(keys, values, strings)
    return NodeBlock(
        ids=ids,
        lats=_scaled(lats, scale[0], scale[1]),
        lons=_scaled(lons, scale[0], scale[2]),
        tag_offsets=tag_offsets,
        keys=keys,
        values=values,
        strings=strings,
        newest=newest,
    )


def _check_indices(keys: Array, values: Array, strings: list[str]) -> None:
    """
    Refuse string indices outside the block's table.

    Parameters
    ----------
    keys, values
        The indices.
    strings
        The table.

    Raises
    ------
    UnsupportedPbfError
        When one is out of range.
    NulTagError
        When a tag's text holds a NUL character.
    """
    for column in (keys, values):
        if len(column) and (int(column.max()) >= len(strings) or int(column.min()) < 0):
            msg = "a tag's string index outside the block's table"
            raise UnsupportedPbfError(msg)
    if isinstance(strings, StringTable) and not strings.nul:
        return  # the compiled loop found no NUL in the table
    held = [k for k, text in enumerate(strings) if "\0" in text]
    if held and (np.isin(keys, held).any() or np.isin(values, held).any()):
        # (a user name may hold one: osmium reads that, and it is not read here)
        msg = "a tag whose text holds a NUL character"
        raise NulTagError(msg)


#: More fields than a way (id, keys, vals, info, refs, lats, lons) or an Info has, and room.
_MAX_FIELDS = 64

#: The way fields read: id, keys, vals, refs.
_WAY_ID, _WAY_KEYS, _WAY_VALS, _WAY_INFO, _WAY_REFS = 1, 2, 3, 4, 8

#: The relation fields read: id, keys, vals, info, roles, member ids, member types.
_REL_ID, _REL_KEYS, _REL_VALS, _REL_INFO, _REL_ROLES, _REL_MEMIDS, _REL_TYPES = (
    1, 2, 3, 4, 8, 9, 10,
)  # fmt: skip

#: An ``Info`` message's timestamp field.
_INFO_TIMESTAMP = 2

#: The first second after 1970 (osmium's readers count a timestamp from then on).
_AFTER_1970 = 365 * 86400


def _newest(stamps: Array, granularity: int) -> int:
    """
    Give the newest timestamp after 1970, in seconds as osmium reads it.

    Parameters
    ----------
    stamps
        Timestamps in units of ``granularity`` milliseconds.
    granularity
        The block's date granularity.

    Returns
    -------
    int
        The newest, or -1 when none is after 1970.
    """
    millis = stamps * granularity
    seconds = (np.sign(millis) * (np.abs(millis) // 1000)) & 0xFFFFFFFF  # C++: to uint32
    later = seconds[seconds >= _AFTER_1970]
    return int(later.max()) if later.size else -1


def _ways(data: bytes, start: int, end: int, strings: list[str], stamps: int | None) -> WayBlock:
    """
    Decode a group of ways.

    Every field of a way is a varint (or a run of them), so the whole group is decoded at
    once and the ways' fields are walked side by side.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the group lies.
    strings
        The block's string table.
    stamps
        The block's date granularity, to read the timestamps; None not to.

    Returns
    -------
    WayBlock
        The ways.

    Raises
    ------
    UnsupportedPbfError
        When the keys and values of a way differ in number, or a string index is out of range.
    """
    cursor, stop = _messages(data, start, end)
    if pbf_jit.active():
        return _ways_compiled(data, ((start, end), (cursor, stop)), strings, stamps)
    view = memoryview(data)[start:end]
    values = varints(view)
    ends = np.flatnonzero(np.frombuffer(view, dtype=np.uint8) < 0x80) + 1  # noqa: PLR2004
    begins = np.concatenate(([0], ends[:-1]))
    scalars, spans = _walk(values, (begins, ends), (cursor - start, stop - start),
                           (_WAY_ID,), (_WAY_KEYS, _WAY_VALS, _WAY_REFS, _WAY_INFO))  # fmt: skip
    for span in (spans[_WAY_KEYS], spans[_WAY_VALS], spans[_WAY_REFS]):
        filled = span[span[:, 1] > span[:, 0], 1]
        at = np.minimum(np.searchsorted(ends, filled), len(ends) - 1)
        if filled.size and not bool((ends[at] == filled).all()):  # its last varint runs on
            msg = "a packed run ends inside a varint"
            raise UnsupportedPbfError(msg)
    newest = -1
    if stamps is not None:  # each way's Info holds varints only: walked the same way
        info = spans[_WAY_INFO]
        present = np.flatnonzero(info[:, 1] > info[:, 0])
        times, _ = _walk(values, (begins, ends), (info[present, 0], info[present, 1]),
                         (_INFO_TIMESTAMP,), ())  # fmt: skip
        newest = _newest(times[_INFO_TIMESTAMP], stamps)
    ref_offsets, refs = _runs(values, begins, spans[_WAY_REFS], delta=True)
    tag_offsets, keys = _runs(values, begins, spans[_WAY_KEYS], delta=False)
    value_offsets, vals = _runs(values, begins, spans[_WAY_VALS], delta=False)
    if not np.array_equal(tag_offsets, value_offsets):
        msg = "a way with more keys than values, or fewer"
        raise UnsupportedPbfError(msg)
    _check_indices(keys, vals, strings)
    return WayBlock(
        ids=scalars[_WAY_ID],
        ref_offsets=ref_offsets,
        refs=refs,
        tag_offsets=tag_offsets,
        keys=keys,
        values=vals,
        strings=strings,
        newest=newest,
    )


def _group_compiled(
    data: bytes,
    messages: tuple[tuple[int, int], tuple[Array, Array]],
    fields: tuple[tuple[int, int], ...],
    stamps: int | None,
) -> tuple[Array, list[tuple[Array, Array]], int]:
    """
    Decode a group of ways or relations with a compiled loop (``walks.pbf_jit.group``).

    Parameters
    ----------
    data
        The block.
    messages
        Where the group lies, and each way or relation in it.
    fields
        The id's field number, then each length-delimited field's number and how it is read.
    stamps
        The block's date granularity, to read the timestamps; None not to.

    Returns
    -------
    tuple
        The ids, each field's offsets and values, and the newest timestamp (-1: none).

    Raises
    ------
    UnsupportedPbfError
        For a malformed message (what the numpy code refuses).
    """
    stamp_field = 0 if stamps is None else _INFO_TIMESTAMP
    span, found = messages
    decoded, status = pbf_jit.group(data, span, found, fields, _MAX_FIELDS, stamp_field)
    if status:
        msg = {
            pbf_jit.OTHER: "a field of another wire type, or a message of too many fields",
            pbf_jit.PAST: "a field runs past its message",
            pbf_jit.CUT: "a packed run ends inside a varint",
            pbf_jit.LONG: "a varint longer than ten bytes",
        }[status]
        raise UnsupportedPbfError(msg)
    ids, runs, times = decoded
    return ids, runs, -1 if stamps is None else _newest(times, stamps)


def _ways_compiled(
    data: bytes,
    messages: tuple[tuple[int, int], tuple[Array, Array]],
    strings: list[str],
    stamps: int | None,
) -> WayBlock:
    """
    Decode a group of ways as ``_ways`` does, with a compiled loop.

    Parameters
    ----------
    data
        The block.
    messages
        Where the group lies, and each way in it.
    strings
        The block's string table.
    stamps
        The block's date granularity, to read the timestamps; None not to.

    Returns
    -------
    WayBlock
        The ways.

    Raises
    ------
    UnsupportedPbfError
        When a way is malformed (what ``_ways`` refuses).
    """
    plain, delta, info = pbf_jit.PLAIN, pbf_jit.DELTA, pbf_jit.MESSAGE
    fields = ((_WAY_ID, 0), (_WAY_KEYS, plain), (_WAY_VALS, plain), (_WAY_INFO, info),
              (_WAY_REFS, delta))  # fmt: skip
    ids, runs, newest = _group_compiled(data, messages, fields, stamps)
    (tag_offsets, keys), (value_offsets, values), _, (ref_offsets, refs) = runs
    if not np.array_equal(tag_offsets, value_offsets):
        msg = "a way with more keys than values, or fewer"
        raise UnsupportedPbfError(msg)
    _check_indices(keys, values, strings)
    return WayBlock(ids=ids, ref_offsets=ref_offsets, refs=refs, tag_offsets=tag_offsets,
                    keys=keys, values=values, strings=strings, newest=newest)  # fmt: skip


def _relations(
    data: bytes, start: int, end: int, strings: list[str], stamps: int | None
) -> RelationBlock:
    """
    Decode a group of relations, as ``_ways`` decodes ways.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the group lies.
    strings
        The block's string table.
    stamps
        The block's date granularity, to read the timestamps; None not to.

    Returns
    -------
    RelationBlock
        The relations.

    Raises
    ------
    UnsupportedPbfError
        When a relation's keys and values, or its members' ids, types and roles differ in
        number, a member's type is unknown or a string index is out of range.
    """
    cursor, stop = _messages(data, start, end, 0x22)
    if pbf_jit.active():
        varint_run, delta_run = pbf_jit.PLAIN, pbf_jit.DELTA
        fields = ((_REL_ID, 0), (_REL_KEYS, varint_run), (_REL_VALS, varint_run),
                  (_REL_INFO, pbf_jit.MESSAGE), (_REL_ROLES, varint_run),
                  (_REL_MEMIDS, delta_run), (_REL_TYPES, varint_run))  # fmt: skip
        ids, read, newest = _group_compiled(data, ((start, end), (cursor, stop)), fields, stamps)
        (keys, vals, _, roles, member_ids, types) = read
        return _relation_block(ids, (*member_ids, *types, *roles), (*keys, *vals), strings, newest)
    view = memoryview(data)[start:end]
    values = varints(view)
    ends = np.flatnonzero(np.frombuffer(view, dtype=np.uint8) < 0x80) + 1  # noqa: PLR2004
    begins = np.concatenate(([0], ends[:-1]))
    runs = (_REL_KEYS, _REL_VALS, _REL_INFO, _REL_ROLES, _REL_MEMIDS, _REL_TYPES)
    scalars, spans = _walk(values, (begins, ends), (cursor - start, stop - start),
                           (_REL_ID,), runs)  # fmt: skip
    for field in (_REL_KEYS, _REL_VALS, _REL_ROLES, _REL_MEMIDS, _REL_TYPES):
        span = spans[field]
        filled = span[span[:, 1] > span[:, 0], 1]
        at = np.minimum(np.searchsorted(ends, filled), len(ends) - 1)
        if filled.size and not bool((ends[at] == filled).all()):  # its last varint runs on
            msg = "a packed run ends inside a varint"
            raise UnsupportedPbfError(msg)
    newest = -1
    if stamps is not None:
        info = spans[_REL_INFO]
        present = np.flatnonzero(info[:, 1] > info[:, 0])
        times, _ = _walk(values, (begins, ends), (info[present, 0], info[present, 1]),
                         (_INFO_TIMESTAMP,), ())  # fmt: skip
        newest = _newest(times[_INFO_TIMESTAMP], stamps)
    members = (
        *_runs(values, begins, spans[_REL_MEMIDS], delta=True),
        *_runs(values, begins, spans[_REL_TYPES], delta=False),
        *_runs(values, begins, spans[_REL_ROLES], delta=False),
    )
    tags = (
        *_runs(values, begins, spans[_REL_KEYS], delta=False),
        *_runs(values, begins, spans[_REL_VALS], delta=False),
    )
    return _relation_block(scalars[_REL_ID], members, tags, strings, newest)


def _relation_block(
    ids: Array,
    members: tuple[Array, Array, Array, Array, Array, Array],
    tags: tuple[Array, Array, Array, Array],
    strings: list[str],
    newest: int,
) -> RelationBlock:
    """
    Check a group's decoded relations and hold them.

    Parameters
    ----------
    ids
        The relations' ids.
    members
        The offsets and values of the members' ids, types and roles.
    tags
        The offsets and values of the keys and values.
    strings
        The block's string table.
    newest
        The newest timestamp (-1: none).

    Returns
    -------
    RelationBlock
        The relations.

    Raises
    ------
    UnsupportedPbfError
        When keys and values, or members' ids, types and roles, differ in number; for a
        member of unknown type; for a string index out of the table, or a role with a NUL.
    """
    member_offsets, member_ids, type_offsets, types, role_offsets, roles = members
    tag_offsets, keys, value_offsets, vals = tags
    if not np.array_equal(tag_offsets, value_offsets):
        msg = "a relation with more keys than values, or fewer"
        raise UnsupportedPbfError(msg)
    if not (np.array_equal(member_offsets, type_offsets)
            and np.array_equal(member_offsets, role_offsets)):  # fmt: skip
        msg = "a relation whose members' ids, types and roles differ in number"
        raise UnsupportedPbfError(msg)
    if types.size and (int(types.max()) > 2 or int(types.min()) < 0):  # noqa: PLR2004 - node, way, relation
        msg = "a relation member of unknown type"
        raise UnsupportedPbfError(msg)
    _check_indices(keys, vals, strings)
    if roles.size and (
        int(roles.max()) >= len(strings)
        or int(roles.min()) < 0
        or any("\0" in strings[k] for k in np.flatnonzero(np.bincount(roles)).tolist())
    ):  # (the roles' distinct indices by a count, not np.unique's hashing: 0.04 CPU-s)
        msg = "a role's string index outside the block's table, or a role holding a NUL"
        raise UnsupportedPbfError(msg)
    return RelationBlock(
        ids=ids,
        member_offsets=member_offsets,
        member_ids=member_ids,
        member_types=types,
        roles=roles,
        tag_offsets=tag_offsets,
        keys=keys,
        values=vals,
        strings=strings,
        newest=newest,
    )


def _messages(data: bytes, start: int, end: int, tag: int = 0x1A) -> tuple[Array, Array]:
    """
    Find where each way (or relation) message of a group lies (a tight walk over its fields).

    Parameters
    ----------
    data
        The block.
    start, end
        Where the group lies.
    tag
        The messages' field key: 0x1A ways (field 3), 0x22 relations (field 4).

    Returns
    -------
    tuple of numpy.ndarray
        Each message's first byte and end.

    Raises
    ------
    UnsupportedPbfError
        When the group holds anything but such messages, or one runs past it.
    """
    if pbf_jit.active():
        begins, ends, status = pbf_jit.messages(data, start, end, tag)
        if status == pbf_jit.OTHER:
            msg = "a group mixing ways or relations with other objects"
            raise UnsupportedPbfError(msg)
        if status:
            msg = "a way runs past its group"
            raise UnsupportedPbfError(msg)
        return begins, ends
    starts: list[int] = []
    stops: list[int] = []
    at = start
    while at < end:
        if data[at] != tag:  # field 3 or 4, length-delimited: a way or a relation
            msg = "a group mixing ways or relations with other objects"
            raise UnsupportedPbfError(msg)
        length = data[at + 1] if at + 1 < end else 0x80
        if length < 0x80:  # noqa: PLR2004 - a one-byte length
            at += 2
        else:
            length, at = _varint(data, at + 1)
        starts.append(at)
        at += length
        stops.append(at)
    if at != end:
        msg = "a way runs past its group"
        raise UnsupportedPbfError(msg)
    return np.asarray(starts, dtype=np.int64), np.asarray(stops, dtype=np.int64)


def _wrong_wire(
    number: Array, wire: Array, scalars: tuple[int, ...], runs: tuple[int, ...]
) -> bool:
    """
    Say whether a field is of a wire type this reader does not take for it.

    Parameters
    ----------
    number, wire
        Each field's number and wire type.
    scalars, runs
        The numbers read as varints, and as length-delimited runs.

    Returns
    -------
    bool
        True for a wire type other than varint and length-delimited, a field read of the
        other one (an unpacked run, which protobuf allows: osmium's to read), or a field
        number osmium refuses (0, reserved, beyond 32 bits).
    """
    wrong = (wire != 0) & (wire != 2)  # noqa: PLR2004
    wrong |= (number <= 0) | (number >= _MAX_NUMBER)
    wrong |= (number >= _RESERVED.start) & (number < _RESERVED.stop)
    for field in scalars:
        wrong |= (number == field) & (wire != 0)
    for field in runs:
        wrong |= (number == field) & (wire != 2)  # noqa: PLR2004
    return bool(wrong.any())


def _walk(
    values: np.ndarray[Any, np.dtype[np.uint64]],
    varint_at: tuple[Array, Array],
    messages: tuple[Array, Array],
    scalars: tuple[int, ...],
    runs: tuple[int, ...],
) -> tuple[dict[int, Array], dict[int, Array]]:
    """
    Walk the fields of many messages side by side: one step reads one field of each.

    Every field of the messages must be a varint or a length-delimited run of varints (as in
    ways and their ``Info``).

    Parameters
    ----------
    values
        The varints of the bytes holding the messages.
    varint_at
        Where each varint starts and ends (byte offsets).
    messages
        Each message's first byte and end.
    scalars
        Numbers of varint fields to read (0 where absent).
    runs
        Numbers of length-delimited fields whose byte spans to give (``[0, 0]`` where absent).

    Returns
    -------
    tuple of dict
        The varint fields' values and the length-delimited fields' spans, by field number.

    Raises
    ------
    UnsupportedPbfError
        For a field that is neither a varint nor length-delimited, or runs past its message.
    """
    begins, ends = varint_at
    cursor, stop = messages[0].copy(), messages[1]
    n = len(cursor)
    found_values = {f: np.zeros(n, dtype=np.int64) for f in scalars}
    spans = {f: np.zeros((n, 2), dtype=np.int64) for f in runs}
    active = np.flatnonzero(cursor < stop)
    steps = 0
    while active.size:
        here = np.searchsorted(begins, cursor[active])
        if (here + 1 >= len(begins)).any() or (begins[here] != cursor[active]).any():
            msg = "a field that does not start on a varint"
            raise UnsupportedPbfError(msg)
        key = values[here]
        number, wire = (key >> np.uint64(3)).astype(np.int64), (key & np.uint64(7)).astype(np.int64)
        value = values[here + 1]
        after = ends[here + 1]
        if _wrong_wire(number, wire, scalars, runs):
            msg = "a field of another wire type"
            raise UnsupportedPbfError(msg)
        steps += 1
        if steps > _MAX_FIELDS:  # one numpy step per field: osmium reads such a message
            msg = "a message of too many fields"
            raise UnsupportedPbfError(msg)
        length = np.where(wire == 2, value, 0)  # noqa: PLR2004
        if (length > np.uint64(2**31)).any():  # past any message: never a step backwards
            msg = "a field longer than its message"
            raise UnsupportedPbfError(msg)
        length = length.astype(np.int64)
        for field, column in found_values.items():
            found = (number == field) & (wire == 0)
            column[active[found]] = value[found].astype(np.int64)
        for field, span in spans.items():
            found = (number == field) & (wire == 2)  # noqa: PLR2004
            span[active[found], 0] = after[found]
            span[active[found], 1] = after[found] + length[found]
        cursor[active] = after + length
        if (cursor[active] > stop[active]).any():
            msg = "a field runs past its message"
            raise UnsupportedPbfError(msg)
        active = active[cursor[active] < stop[active]]
    return found_values, spans


def _runs(
    values: np.ndarray[Any, np.dtype[np.uint64]],
    begins: Array,
    spans: Array,
    *,
    delta: bool,
) -> tuple[Array, Array]:
    """
    Gather one packed field of every way (or relation) from the group's decoded varints.

    Parameters
    ----------
    values
        The group's varints.
    begins
        Where each varint starts (byte offsets in the group).
    spans
        ``(n, 2)`` byte spans of each way's field (``[0, 0]`` when absent).
    delta
        The field is zig-zag and delta coded (references), restarting at each way.

    Returns
    -------
    tuple of numpy.ndarray
        Per-way offsets and the values.
    """
    first = np.searchsorted(begins, spans[:, 0])
    last = np.searchsorted(begins, spans[:, 1])
    counts = np.where(spans[:, 1] > spans[:, 0], last - first, 0)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    total = int(offsets[-1])
    where = np.arange(total, dtype=np.int64) + np.repeat(first - offsets[:-1], counts)
    picked = values[where]
    if not delta:
        return offsets, picked.astype(np.int64)
    running = np.cumsum(_zigzag(picked))
    # each way's deltas start from 0: take off the running total before the way
    before = np.concatenate(([0], running))[offsets[:-1]]
    return offsets, running - np.repeat(before, counts)


def check_tags(path: Path) -> None:
    """
    Refuse a PBF file holding a tag whose key or value holds a NUL, before osmium reads it.

    libosmium keeps an object's tags as NUL-terminated text, one after the other: a NUL
    inside one shifts every later key and value, and reading them crashes the process or
    gives other text (pyosmium 4.3, in C++ as in Python). A user name or a member's role is
    one string of its own, which osmium cuts at the NUL: those are read. Only the blocks'
    string tables are decoded, and the tag runs of a block whose table holds a NUL.

    Parameters
    ----------
    path
        The file.

    Raises
    ------
    NulTagError
        When a node's, way's or relation's tag holds a NUL (or a block whose table holds one
        has tags this reader cannot tell apart: osmium would read them all the same).
    OSError
        When the file cannot be read.
    """
    with path.open("rb") as f:
        while True:
            try:
                kind, blob = _read_blob(f)
                # most blocks' string tables hold no NUL: only the table is inflated
                if kind != "OSMData" or not _table_has_nul(blob):
                    if kind is None:
                        return
                    continue
                data = _inflate(blob)
            except UnsupportedPbfError:
                return  # a blob osmium refuses, or inflates (lz4): osmium's to read from here
            if _nul_tag(data):
                msg = "a tag whose text holds a NUL character"
                raise NulTagError(msg)


def _table_has_nul(blob: bytes) -> bool:
    """
    Say whether a block's string table may hold a NUL, inflating the block no further.

    Parameters
    ----------
    blob
        The blob, as stored.

    Returns
    -------
    bool
        False when the table (the block's first field) holds no string with a NUL; True when
        one does, or when the block is not as writers write it (it is then read whole).

    Raises
    ------
    UnsupportedPbfError
        For a blob this reader does not inflate.
    """
    _, raw, packed = _blob_fields(blob)
    if raw is not None or packed is None or packed[0] is not _zlib:
        return True  # raw or lz4 (no partial decompression): read whole
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(packed[1], 11)  # the table's key and length
        if len(data) < 2 or data[0] != 0x0A:  # noqa: PLR2004 - field 1, length-delimited
            return True
        length, at = _varint(data, 1)
        more = at + length - len(data)  # (a max_length of 0 would inflate it all)
        data = data[: at + length] if more <= 0 else data + inflater.decompress(
            inflater.unconsumed_tail, more)  # fmt: skip
    except (zlib.error, UnsupportedPbfError, IndexError):
        return True
    if len(data) != at + length:
        return True
    try:
        return bool(_nul_strings(data, at, at + length))
    except UnsupportedPbfError:
        return True


def _nul_tag(data: bytes) -> bool:
    """
    Say whether a primitive block holds a tag whose key or value holds a NUL.

    Parameters
    ----------
    data
        The inflated block.

    Returns
    -------
    bool
        True when one does, or when the table holds a NUL and the tags cannot be read.
    """
    held: list[int] = []
    groups: list[tuple[int, int]] = []
    try:
        for number, a, b in _fields(data, wires={1: 2, 2: 2}):
            if number == 1:
                held = _nul_strings(data, a, b)
            elif number == 2:  # noqa: PLR2004 - primitivegroup
                groups.append((a, b))
    except UnsupportedPbfError:
        return False  # osmium refuses the block
    if not held:
        return False
    try:
        return any(_nul_in_group(data, span, held) for span in groups)
    except UnsupportedPbfError:
        return True  # a table with a NUL and tags this reader cannot tell apart


def _nul_strings(data: bytes, start: int, end: int) -> list[int]:
    """
    Find the strings of a block's table that hold a NUL.

    A 0 byte in a table is an empty string's length or a NUL in a string. Writers start the
    table with the empty string: past those, a table without a 0 byte (most) is not decoded.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the table lies.

    Returns
    -------
    list of int
        Their indices.

    Raises
    ------
    UnsupportedPbfError
        When the table is malformed.
    """
    at = start
    while data.startswith(b"\n\0", at, end):  # field 1, of length 0
        at += 2
    if data.find(b"\0", at, end) < 0:
        return []
    try:
        return [k for k, text in enumerate(_strings(data, start, end)) if "\0" in text]
    except UnsupportedPbfError:  # not UTF-8: osmium reads such text as it is
        spans = _fields(data, start, end, {1: 2})
        return [k for k, (_, c, d) in enumerate(spans) if 0 in data[c:d]]


def _nul_in_group(data: bytes, span: tuple[int, int], held: list[int]) -> bool:
    """
    Say whether a primitive group's tags name one of some strings (keys or values).

    Parameters
    ----------
    data
        The block.
    span
        Where the group lies.
    held
        The strings' indices in the block's table.

    Returns
    -------
    bool
        True when a node's, way's or relation's tag names one.

    Raises
    ------
    UnsupportedPbfError
        When a tag run is malformed.
    """
    view = memoryview(data)
    for number, a, b in _fields(data, *span, {1: 2, 2: 2, 3: 2, 4: 2}):
        if number == 2:  # noqa: PLR2004 - dense nodes: keys_vals, each node's tags then a 0
            for field, c, d in _fields(data, a, b, {10: 2}):
                if field == 10:  # noqa: PLR2004
                    run = varints(view[c:d]).astype(np.int64)
                    if 0 in held:  # the 0s end each node's tags, unless a value's
                        _, keys, values = _tags_csr(run)
                        run = np.concatenate((keys, values))
                    if np.isin(run, held).any():
                        return True
        elif number in (1, 3, 4):  # plain nodes, ways, relations: keys (2) and values (3)
            for field, c, d in _fields(data, a, b, {2: 2, 3: 2}):
                if field in (2, 3) and np.isin(varints(view[c:d]), held).any():
                    return True
    return False
