"""Writing a small PBF file: the relations, ways and nodes osmium is to make areas of.

``walks.store_areas`` leaves the areas of a file's multipolygon relations (and of closed ways
osmium must split) to osmium, which reads them from a small file written here from the arrays
(``write_pbf``): untagged dense nodes, ways with their tags, and the relations' blocks with
their own string tables. Blobs are stored raw (the file lives for one import, next to its
store); a block ends at ``_BLOCK`` objects or ``_BLOCK_BYTES`` bytes, well under the 32 MiB a
blob may hold. ``walks.pbf`` reads PBF files; this is its writing side, kept apart.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

import numpy as np

from walks.pbf import runs_of

if TYPE_CHECKING:
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
    size = np.ones(v.size, dtype=np.int64)
    for k in range(1, 10):
        size += v >= np.uint64(1 << (7 * k))
    end = np.cumsum(size)
    out = np.zeros(int(end[-1]) if v.size else 0, dtype=np.uint8)
    begin = end - size
    for k in range(10):
        at = np.flatnonzero(size > k)
        if not at.size:
            break
        byte = ((v[at] >> np.uint64(7 * k)) & np.uint64(0x7F)).astype(np.uint8)
        out[begin[at] + k] = byte | ((size[at] > k + 1).astype(np.uint8) << 7)
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


def write_pbf(
    path: Path,
    nodes: tuple[_I64, _I64, _I64],
    ways: tuple[_I64, _I64, _I64, list[tuple[tuple[str, str], ...]]],
    relations: list[tuple[RelationBlock, _I64]],
) -> None:
    """
    Write a small PBF file: untagged nodes, ways and relations (blobs stored raw).

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
        for a in range(0, node_ids.size, _BLOCK):
            dense = b"".join(
                _packed(k, _zigzag(_steps(column[a : a + _BLOCK])))
                for k, column in ((1, node_ids), (8, lats), (9, lons))
            )
            _blob(f, "OSMData", _field(1, _field(1, b"")) + _field(2, _field(2, dense)))
        way_ids, offsets, refs, tags = ways
        data, byte_at = _runs(refs, offsets, delta=True)
        heads, head_at = _runs(way_ids, np.arange(way_ids.size + 1, dtype=np.int64), delta=False)
        k = 0
        while k < way_ids.size:  # blocks of _BLOCK ways, or fewer long ones (osmium's 32 MiB)
            strings: dict[str, int] = {"": 0}
            parts: list[bytes] = []
            size = 0
            while k < way_ids.size and len(parts) < _BLOCK and size < _BLOCK_BYTES:
                parts.append(_field(3, b"".join((
                    b"\x08" + heads[head_at[k] : head_at[k + 1]],
                    _string_run(2, [key for key, _ in tags[k]], strings) if tags[k] else b"",
                    _string_run(3, [value for _, value in tags[k]], strings) if tags[k] else b"",
                    _field(8, data[byte_at[k] : byte_at[k + 1]]),
                ))))  # fmt: skip
                size += len(parts[-1])
                k += 1
            table = b"".join(_field(1, text.encode()) for text in strings)
            _blob(f, "OSMData", _field(1, table) + _field(2, b"".join(parts)))
        for block, chosen in relations:
            if chosen.size:
                _blob(f, "OSMData", _relation_block(block, chosen))


def _runs(values: _I64, offsets: _I64, *, delta: bool) -> tuple[bytes, list[int]]:
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
        The bytes, and where each run's bytes start (one more: the end).
    """
    if delta:
        coded = _steps(values)
        sizes = np.diff(offsets)
        heads = offsets[:-1][sizes > 0]
        coded[heads] = values[heads]
        values = _zigzag(coded)
    data, ends = _varints(values)
    return data, np.concatenate(([0], ends))[offsets].tolist()


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
    ids, id_at = _runs(block.ids[chosen], np.arange(chosen.size + 1, dtype=np.int64), delta=False)
    refs, ref_at = _runs(block.member_ids[members], member_starts, delta=True)
    roles, role_at = _runs(block.roles[members], member_starts, delta=False)
    keys, key_at = _runs(block.keys[tags], tag_starts, delta=False)
    values, value_at = _runs(block.values[tags], tag_starts, delta=False)
    types = block.member_types[members].astype(np.uint8).tobytes()
    member_at = member_starts.tolist()
    parts = [
        _field(4, b"".join((
            b"\x08" + ids[id_at[k] : id_at[k + 1]],
            _field(2, keys[key_at[k] : key_at[k + 1]]),
            _field(3, values[value_at[k] : value_at[k + 1]]),
            _field(8, roles[role_at[k] : role_at[k + 1]]),
            _field(9, refs[ref_at[k] : ref_at[k + 1]]),
            _field(10, types[member_at[k] : member_at[k + 1]]),
        )))
        for k in range(chosen.size)
    ]  # fmt: skip
    table = b"".join(_field(1, text.encode()) for text in block.strings)
    return _field(1, table) + _field(2, b"".join(parts))


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
