"""Writing a small PBF file: the relations, ways and nodes osmium is to make areas of.

``walks.store_areas`` leaves the areas of a file's multipolygon relations (and of closed ways
osmium must split) to osmium, which reads them from a small file written here from the arrays
(``write_pbf``): untagged dense nodes, ways with their tags, and the relations' blocks with
their own string tables. Blobs are stored raw (the file lives for one import, next to its
store); a block ends at ``_BLOCK`` objects or ``_BLOCK_BYTES`` bytes, well under the 32 MiB a
blob may hold. ``walks.pbf`` reads PBF files; this is its writing side, kept apart.
"""

from __future__ import annotations

import bisect
import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from walks import pbf_jit
from walks.pbf import runs_of

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from walks.pbf import RelationBlock

_I64 = np.ndarray[Any, np.dtype[np.int64]]


def _varints(values: _I64) -> tuple[bytes, _I64]:
    """
    Encode values as protocol-buffer varints (of their 64-bit two's complement).

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    tuple
        The bytes, back to back, and where each value's bytes end.
    """
    v = values.astype(np.uint64)
    made = pbf_jit.encoded(v)
    if made is not None:  # the compiled loop: 0.09 CPU-s less for the benchmark region's file
        return made
    size = np.ones(v.size, dtype=np.int64)
    for k in range(1, 10):
        more = v >= np.uint64(1 << (7 * k))
        if not more.any():
            break
        size += more
    end = np.cumsum(size)
    width = int(size.max()) if v.size else 0
    # each value's bytes in a row of ``width``; those past its size are left out
    rows = np.empty((v.size, width), dtype=np.uint8)
    for k in range(width):
        seven = ((v >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        rows[:, k] = seven | ((size > k + 1).astype(np.uint8) << 7)
    out = rows[np.arange(width) < size[:, None]]
    return out.tobytes(), end


def _zigzag(values: _I64) -> _I64:
    """
    Zig-zag code signed values (protocol buffers' ``sint64``).

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    numpy.ndarray
        The coded values (as int64 bit patterns).
    """
    return (values << 1) ^ (values >> 63)


def _steps(values: _I64) -> _I64:
    """
    Delta code values (each from the one before, the first from 0).

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    numpy.ndarray
        The differences.
    """
    out = values.astype(np.int64)
    out[1:] = out[1:] - out[:-1].copy()
    return out


#: Values of one varint byte (field keys, most lengths and string indices), encoded once.
_ONE_BYTE = [bytes((n,)) for n in range(0x80)]


def _varint(n: int) -> bytes:
    """
    Encode one non-negative value as a varint.

    Parameters
    ----------
    n
        The value.

    Returns
    -------
    bytes
        Its varint.
    """
    if 0 <= n < 0x80:  # noqa: PLR2004 - one byte
        return _ONE_BYTE[n]
    if 0x80 <= n < 0x4000:  # noqa: PLR2004 - two bytes
        return bytes(((n & 0x7F) | 0x80, n >> 7))
    out = bytearray()
    while n >= 0x80:  # noqa: PLR2004 - seven bits a byte
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """
    Encode a length-delimited field.

    Parameters
    ----------
    number
        The field number.
    payload
        Its bytes.

    Returns
    -------
    bytes
        The field.
    """
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _packed(number: int, values: _I64) -> bytes:
    """
    Encode a packed field of varints.

    Parameters
    ----------
    number
        The field number.
    values
        The values.

    Returns
    -------
    bytes
        The field.
    """
    data, _ = _varints(values)
    return _field(number, data)


#: Objects per block of the small file.
_BLOCK = 8000

#: The most bytes of ways a block of the small file holds (a blob may hold 32 MiB for osmium).
_BLOCK_BYTES = 16 * 2**20

_U8 = np.ndarray[Any, np.dtype[np.uint8]]

#: Byte strings back to back, and each one's size: the fields of many objects, made at once.
_Runs = tuple[_U8, _I64]


def write_pbf(
    path: Path,
    nodes: tuple[_I64, _I64, _I64],
    ways: tuple[_I64, _I64, _I64, list[tuple[tuple[str, str], ...]]],
    relations: list[tuple[RelationBlock, _I64]],
) -> None:
    """
    Write a small PBF file: untagged nodes, ways and relations (blobs stored raw).

    The objects' fields are encoded for all of them at once (``_joined``, ``_delimited``);
    Python goes object by object only for the ways' tags (a block's string table).

    Parameters
    ----------
    path
        The file.
    nodes
        Node ids (ascending), latitudes and longitudes (1e-7 degree, as osmium keeps them).
    ways
        Way ids (ascending), ``offsets`` (``refs[offsets[i]:offsets[i + 1]]`` are way ``i``'s
        nodes), the nodes, and each way's tags.
    relations
        Relation blocks, each with the relations of it to write (in file order).
    """
    with path.open("wb") as f:
        _blob(f, "OSMHeader", _field(4, b"OsmSchema-V0.6") + _field(4, b"DenseNodes"))
        node_ids, lats, lons = nodes
        cuts = np.append(np.arange(0, node_ids.size, _BLOCK), node_ids.size).astype(np.int64)
        columns = [_bounds(_runs(c, cuts, delta=True)) for c in (node_ids, lats, lons)]
        for k in range(cuts.size - 1):
            dense = b"".join(
                _field(number, data[int(at[k]) : int(at[k + 1])].tobytes())
                for number, (data, at) in zip((1, 8, 9), columns, strict=True)
            )
            _blob(f, "OSMData", _field(1, _field(1, b"")) + _field(2, _field(2, dense)))
        for table, group in _way_blocks(ways):
            _blob(f, "OSMData", _field(1, table) + _field(2, group))
        for block, chosen in relations:
            if chosen.size:
                _blob(f, "OSMData", _relation_block(block, chosen))


def _way_blocks(
    ways: tuple[_I64, _I64, _I64, list[tuple[tuple[str, str], ...]]],
) -> Iterator[tuple[bytes, bytes]]:
    """
    Encode ways as primitive blocks: of ``_BLOCK`` ways, or fewer long ones (osmium's 32 MiB).

    Parameters
    ----------
    ways
        As ``write_pbf`` takes them.

    Yields
    ------
    tuple of bytes
        Each block's string table and its group of ways.
    """
    way_ids, offsets, refs, tags = ways
    n = way_ids.size
    heads = _bounds(_coded(way_ids))
    nodes = _bounds(_delimited(8, _runs(refs, offsets, delta=True)))
    tagged = np.flatnonzero(np.fromiter(map(bool, tags), dtype=bool, count=n)).tolist()
    k = 0
    while k < n:
        end = min(k + _BLOCK, n)
        strings: dict[str, int] = {"": 0}
        fields = [b""] * (end - k)
        grown = np.ones(end - k, dtype=np.int64)  # the table's size after each tagged way
        for j in tagged[bisect.bisect_left(tagged, k) : bisect.bisect_left(tagged, end)]:
            pairs = tags[j]
            fields[j - k] = _string_run(2, [key for key, _ in pairs], strings) + _string_run(
                3, [value for _, value in pairs], strings
            )
            grown[j - k] = len(strings)
        known = np.maximum.accumulate(grown)  # the table's size after each way
        count = end - k
        body = _joined([
            (np.full(count, 0x08, dtype=np.uint8), np.ones(count, dtype=np.int64)),
            _slice(heads, k, end),
            (np.frombuffer(b"".join(fields), dtype=np.uint8),
             np.fromiter(map(len, fields), dtype=np.int64, count=count)),
            _slice(nodes, k, end),
        ])  # fmt: skip
        data, sizes = _delimited(3, body)
        total = np.cumsum(sizes)
        # ways are taken while the block holds fewer than _BLOCK_BYTES
        taken = min(int(np.searchsorted(total, _BLOCK_BYTES)) + 1, count)
        table = b"".join(_field(1, text.encode()) for text in list(strings)[: known[taken - 1]])
        yield table, data[: int(total[taken - 1])].tobytes()
        k += taken


def _coded(values: _I64) -> _Runs:
    """
    Encode values as varints, each a run of its own.

    Parameters
    ----------
    values
        The values.

    Returns
    -------
    tuple
        The bytes, and each value's size.
    """
    data, ends = _varints(values)
    return np.frombuffer(data, dtype=np.uint8), np.diff(ends, prepend=0)


def _bounds(runs: _Runs) -> tuple[_U8, _I64]:
    """
    Find where each run starts.

    Parameters
    ----------
    runs
        The runs.

    Returns
    -------
    tuple
        The bytes, and each run's start (one more: the end).
    """
    data, sizes = runs
    return data, np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)


def _slice(runs: tuple[_U8, _I64], first: int, end: int) -> _Runs:
    """
    Take runs ``first`` to ``end`` (not included).

    Parameters
    ----------
    runs
        The bytes, and each run's start (``_bounds``).
    first, end
        Which runs.

    Returns
    -------
    tuple
        Their bytes and sizes.
    """
    data, at = runs
    return data[int(at[first]) : int(at[end])], np.diff(at[first : end + 1])


def _joined(columns: list[_Runs]) -> _Runs:
    """
    Join runs object by object: object ``i``'s bytes are its run of each column in turn.

    Parameters
    ----------
    columns
        Runs, as many in each (one per object).

    Returns
    -------
    tuple
        The objects' bytes and sizes.
    """
    sizes = np.zeros(columns[0][1].size, dtype=np.int64)
    for _, size in columns:
        sizes += size
    out = np.empty(int(sizes.sum()), dtype=np.uint8)
    at = np.cumsum(sizes) - sizes  # where each object's next run goes
    for data, size in columns:
        if data.size:
            shift = at - (np.cumsum(size) - size)
            out[np.arange(data.size, dtype=np.int64) + np.repeat(shift, size)] = data
        at += size
    return out, sizes


def _delimited(number: int, runs: _Runs) -> _Runs:
    """
    Make each run a length-delimited field.

    Parameters
    ----------
    number
        The field number (under 16: its key is one byte).
    runs
        The fields' contents.

    Returns
    -------
    tuple
        The fields' bytes and sizes.
    """
    n = runs[1].size
    key = (np.full(n, number << 3 | 2, dtype=np.uint8), np.ones(n, dtype=np.int64))
    return _joined([key, _coded(runs[1]), runs])


def _runs(values: _I64, offsets: _I64, *, delta: bool) -> _Runs:
    """
    Encode runs of values as varints, all at once.

    Parameters
    ----------
    values
        The values, run after run.
    offsets
        ``values[offsets[i]:offsets[i + 1]]`` is run ``i``.
    delta
        Zig-zag and delta code each run (from 0 at its start), as ids are in PBF.

    Returns
    -------
    tuple
        The bytes, and each run's size.
    """
    if delta:
        coded = _steps(values)
        sizes = np.diff(offsets)
        heads = offsets[:-1][sizes > 0]
        coded[heads] = values[heads]
        values = _zigzag(coded)
    data, ends = _varints(values)
    return np.frombuffer(data, dtype=np.uint8), np.diff(np.concatenate(([0], ends))[offsets])


def _relation_block(block: RelationBlock, chosen: _I64) -> bytes:
    """
    Encode some relations of a block as a primitive block, with the block's string table.

    Parameters
    ----------
    block
        The relations.
    chosen
        Which.

    Returns
    -------
    bytes
        The block.
    """
    members, member_starts = runs_of(block.member_offsets, chosen)
    tags, tag_starts = runs_of(block.tag_offsets, chosen)
    n = chosen.size
    types = block.member_types[members].astype(np.uint8)
    body = _joined([
        (np.full(n, 0x08, dtype=np.uint8), np.ones(n, dtype=np.int64)),
        _coded(block.ids[chosen]),
        _delimited(2, _runs(block.keys[tags], tag_starts, delta=False)),
        _delimited(3, _runs(block.values[tags], tag_starts, delta=False)),
        _delimited(8, _runs(block.roles[members], member_starts, delta=False)),
        _delimited(9, _runs(block.member_ids[members], member_starts, delta=True)),
        _delimited(10, (types, np.diff(member_starts))),
    ])  # fmt: skip
    texts = [text.encode() for text in block.strings]
    table = _delimited(1, (
        np.frombuffer(b"".join(texts), dtype=np.uint8),
        np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)),
    ))  # fmt: skip
    return _field(1, table[0].tobytes()) + _field(2, _delimited(4, body)[0].tobytes())


def _string_run(number: int, texts: list[str], strings: dict[str, int]) -> bytes:
    """
    Encode texts as a packed field of string-table indices, adding them to the table.

    Parameters
    ----------
    number
        The field number.
    texts
        The texts.
    strings
        The block's table, by text (filled here).

    Returns
    -------
    bytes
        The field.
    """
    add = strings.setdefault
    return _field(number, b"".join(_varint(add(t, len(strings))) for t in texts))


def _blob(f: Any, kind: str, data: bytes) -> None:  # noqa: ANN401 - a binary file
    """
    Write a blob stored raw, with its header.

    Parameters
    ----------
    f
        The file.
    kind
        ``OSMHeader`` or ``OSMData``.
    data
        The block.
    """
    blob = _field(1, data)
    header = _field(1, kind.encode()) + _varint(3 << 3) + _varint(len(blob))
    f.write(struct.pack(">I", len(header)) + header + blob)
