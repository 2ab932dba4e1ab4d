"""The loops of ``walks.pbf_jit``, compiled by numba (imported only when numba is installed).

Each decoding loop reads bytes of a PBF block and gives arrays and a status
(``walks.pbf_jit.OK`` and the others); the others write the store's tag text and pack rows.
Bounds are not checked by numba here (``boundscheck=False``): each loop checks every index it
reads against the ends it was given, and ``walks.pbf_jit`` checks those ends against the
arrays.
"""

# numba takes no keyword-only flags: booleans are passed by place
# numba has no type information (its decorator leaves these functions untyped for mypy), and
# numpy scalars stand for ints here, as numba types them
# mypy: disable-error-code="untyped-decorator,misc,return-value,assignment"

from __future__ import annotations

from typing import Any

import numba
import numpy as np
from numba.core import cgutils
from numba.extending import intrinsic

from walks.pbf import MAX_LAT, MAX_LON
from walks.pbf_jit import CUT, DELTA, DOUBLED, LONG, MESSAGE, META, OK, OTHER, PAST

_U8 = np.ndarray[Any, np.dtype[np.uint8]]
_U64 = np.ndarray[Any, np.dtype[np.uint64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]
_I32 = np.ndarray[Any, np.dtype[np.int32]]
_B = np.ndarray[Any, np.dtype[np.bool_]]

_jit = numba.njit(cache=True, nogil=True, boundscheck=False)

#: Past any block (a blob inflates to 32 MiB at most): also keeps sums of offsets in int64.
_MAX_LENGTH = np.uint64(2**40)

#: The first field number a 32-bit key cannot hold, and the numbers protocol buffers reserve
#: (osmium refuses a message holding one, or 0).
_MAX_NUMBER, _FIRST_RESERVED, _LAST_RESERVED = 2**29, 19000, 19999

#: The end of the changesets osmium takes (``uint32`` max), and the low 32 bits of a varint.
_END_CHANGESET, _LOW = 2**32 - 1, np.uint64(0xFFFFFFFF)


def _typed_copy(
    _context: Any,  # noqa: ANN401 - numba's typing context
    out: Any,  # noqa: ANN401 - numba's types of the arguments
    at: Any,  # noqa: ANN401
    data: Any,  # noqa: ANN401
    start: Any,  # noqa: ANN401
    length: Any,  # noqa: ANN401
) -> tuple[Any, Any] | None:
    """
    Copy ``data[start:start + length]`` to ``out[at:at + length]`` as one ``memcpy``.

    numba's slice assignment checks shapes and overlap, and builds two views, for each copy:
    about 45 ns, where laying a group's rows copies 3.3 million short runs of bytes (45 bytes
    on average) for the store benchmark's region. The caller checks both spans, and that the
    arrays do not overlap (distinct buffers). Only one-dimensional, C-contiguous uint8 arrays
    are typed (``out`` writable): numba refuses any other.

    Parameters
    ----------
    out, at
        The bytes written to (C-contiguous uint8), and where.
    data, start, length
        The bytes read (C-contiguous uint8), where, and how many.

    Returns
    -------
    tuple or None
        The signature and the code generator, as numba's intrinsics give them (None: arrays
        it does not take).
    """
    del _context, at, start, length
    for array in (out, data):  # plain bytes only: memcpy counts bytes and knows no strides
        if not (
            isinstance(array, numba.types.Array)
            and array.dtype == numba.types.uint8
            and array.ndim == 1
            and array.layout == "C"
        ):
            return None
    if not out.mutable:
        return None

    def generate(context: Any, builder: Any, signature: Any, args: Any) -> Any:  # noqa: ANN401
        target, place, source, first, count = args
        written = context.make_array(signature.args[0])(context, builder, target)
        read = context.make_array(signature.args[2])(context, builder, source)
        cgutils.raw_memcpy(  # type: ignore[no-untyped-call]
            builder, builder.gep(written.data, [place]), builder.gep(read.data, [first]), count, 1
        )
        return context.get_dummy_value()

    index = numba.types.intp
    return numba.types.void(out, index, data, index, index), generate


_copy: Any = intrinsic(_typed_copy)


@_jit
def varints(raw: _U8) -> tuple[_U64, int]:
    """
    Decode a packed run of varints.

    Parameters
    ----------
    raw
        The run's bytes.

    Returns
    -------
    tuple
        The values, and ``OK``, ``CUT`` (the run ends inside a varint) or ``LONG`` (a varint
        of more than ten bytes).
    """
    out = np.empty(raw.size, dtype=np.uint64)
    count = 0
    value = np.uint64(0)
    shift = 0
    for i in range(raw.size):
        byte = raw[i]
        if shift > 63:  # noqa: PLR2004 - an eleventh byte
            return out[:0], LONG
        value |= np.uint64(byte & 0x7F) << np.uint64(shift)
        if byte < 0x80:  # noqa: PLR2004 - a varint's last byte
            out[count] = value
            count += 1
            value = np.uint64(0)
            shift = 0
        else:
            shift += 7
    if shift:
        return out[:0], CUT
    return out[:count], OK


@_jit
def deltas(raw: _U8) -> tuple[_I64, int]:
    """
    Decode a packed run of zig-zag, delta-coded varints (``walks.pbf._delta`` of ``varints``).

    Parameters
    ----------
    raw
        The run's bytes.

    Returns
    -------
    tuple
        The running totals (int64, wrapping as numpy's sum does), and the status ``varints``
        gives.
    """
    values, status = varints(raw)
    out = np.empty(values.size, dtype=np.int64)
    total = np.int64(0)
    for i in range(values.size):  # a second pass over values in cache: one decoder
        value = values[i]
        total += np.int64(value >> np.uint64(1)) ^ -np.int64(value & np.uint64(1))
        out[i] = total
    return out, status


@_jit
def scaled(values: _I64, granularity: int, offset: int) -> _I32:
    """
    Turn PBF coordinates into osmium's integers of 1e-7 degree (``walks.pbf._scaled``).

    Parameters
    ----------
    values
        Coordinates in units of ``granularity`` nanodegrees.
    granularity, offset
        The block's granularity and offset (nanodegrees).

    Returns
    -------
    numpy.ndarray
        The coordinates: the product divided by 100 toward zero, kept in 32 bits, with
        numpy's wrapping of int64 at every step.
    """
    out = np.empty(values.size, dtype=np.int32)
    for i in range(values.size):
        nano = values[i] * np.int64(granularity) + np.int64(offset)
        units = (abs(nano) // np.int64(100)) * np.int64(np.sign(nano))
        out[i] = np.int32((units + np.int64(2**31)) % np.int64(2**32) - np.int64(2**31))
    return out


@_jit
def dense_tags(keys_vals: _U64) -> tuple[_I64, _I64, _I64, bool]:
    """
    Split a dense ``keys_vals`` run per node, as libosmium walks it (``walks.pbf._tags_csr``).

    Each node's key and value ids (a value may be 0, the empty string), then a 0 key.

    Parameters
    ----------
    keys_vals
        The run (uint64, taken as int64 as numpy's ``astype`` takes them).

    Returns
    -------
    tuple
        Per-node offsets into the tags, the key ids, the value ids, and whether the run
        ends with a node's 0 (else it ends inside a pair, or holds no node).
    """
    n = keys_vals.size
    nodes = 0
    pairs = 0
    at = 0
    ended = -1  # where the last node's 0 is
    while at < n:
        if keys_vals[at] == 0:
            nodes += 1
            ended = at
            at += 1
        else:
            pairs += 1
            at += 2
    empty = np.zeros(0, dtype=np.int64)
    if at != n or ended != n - 1:  # inside a pair, or tags after the last node's 0
        return empty, empty, empty, False
    offsets = np.zeros(nodes + 1, dtype=np.int64)
    keys = np.empty(pairs, dtype=np.int64)
    values = np.empty(pairs, dtype=np.int64)
    node = 0
    pair = 0
    at = 0
    while at < n:
        if keys_vals[at] == 0:
            node += 1
            offsets[node] = pair
            at += 1
        else:
            keys[pair] = np.int64(keys_vals[at])
            values[pair] = np.int64(keys_vals[at + 1])
            pair += 1
            at += 2
    return offsets, keys, values, True


@_jit
def runs(offsets: _I64, chosen: _I64) -> tuple[_I64, _I64, bool]:
    """
    Index some items' runs one after the other (``walks.pbf.runs_of``).

    Parameters
    ----------
    offsets
        ``offsets[i]:offsets[i + 1]`` is item ``i``'s run.
    chosen
        The items.

    Returns
    -------
    tuple
        The indices into the runs' values, where each chosen item's run starts among them
        (with the end last), and whether every item is within ``offsets`` and its run
        rises (else nothing was indexed).
    """
    starts = np.empty(chosen.size + 1, dtype=np.int64)
    starts[0] = 0
    for j in range(chosen.size):
        item = chosen[j]
        if item < 0 or item >= offsets.size - 1 or offsets[item + 1] < offsets[item]:
            return starts[:0], starts[:0], False
        starts[j + 1] = starts[j] + offsets[item + 1] - offsets[item]
    index = np.empty(starts[chosen.size], dtype=np.int64)
    at = 0
    for j in range(chosen.size):
        for i in range(offsets[chosen[j]], offsets[chosen[j] + 1]):
            index[at] = i
            at += 1
    return index, starts, True


@_jit
def repeated(keys: _I64, starts: _I64, most: int) -> tuple[_B, bool]:
    """
    Find the objects that give a key twice (``walks.store_tags.BlockTags.twice``).

    Parameters
    ----------
    keys
        The tags' keys (one number per text).
    starts
        ``keys[starts[j]:starts[j + 1]]`` are object ``j``'s.
    most
        The most tags an object may have here (each is compared with each).

    Returns
    -------
    tuple
        One flag per object, and whether every object was looked at (False: spans outside
        ``keys`` or falling, or an object of more tags than ``most``).
    """
    n = starts.size - 1
    flags = np.zeros(max(n, 0), dtype=np.bool_)
    for j in range(n):
        a, b = starts[j], starts[j + 1]
        if a < 0 or b < a or b > keys.size or b - a > most:
            return flags[:0], False
        for x in range(a, b):
            for y in range(x + 1, b):
                if keys[x] == keys[y]:
                    flags[j] = True
    return flags, True


@_jit
def encode(values: _U64) -> tuple[_U8, _I64]:
    """
    Encode values as varints (``walks.pbf_write._varints``: of their 64-bit two's complement).

    Parameters
    ----------
    values
        The values, as uint64.

    Returns
    -------
    tuple
        The bytes, back to back, and where each value's bytes end.
    """
    out = np.empty(10 * values.size, dtype=np.uint8)
    ends = np.empty(values.size, dtype=np.int64)
    size = 0
    for i in range(values.size):
        value = values[i]
        while value >= np.uint64(0x80):
            out[size] = np.uint8((value & np.uint64(0x7F)) | np.uint64(0x80))
            value >>= np.uint64(7)
            size += 1
        out[size] = np.uint8(value)
        size += 1
        ends[i] = size
    return out[:size], ends


@_jit
def _varint(raw: _U8, at: int, end: int) -> tuple[np.uint64, int, bool]:
    """
    Read one varint before ``end``.

    Parameters
    ----------
    raw
        The block.
    at, end
        Where the varint starts, and where it must end by.

    Returns
    -------
    tuple
        The value, the byte after it, and whether it was whole (ten bytes at most, before
        ``end``).
    """
    value = np.uint64(0)
    shift = 0
    while at < end and shift <= 63:  # noqa: PLR2004 - ten bytes at most
        byte = raw[at]
        at += 1
        value |= np.uint64(byte & 0x7F) << np.uint64(shift)
        if byte < 0x80:  # noqa: PLR2004
            return value, at, True
        shift += 7
    return value, at, False


@_jit
def _length(raw: _U8, at: int, end: int) -> tuple[int, int]:
    """
    Read a length (a varint) before ``end``.

    Parameters
    ----------
    raw
        The block.
    at, end
        Where the varint starts, and where it must end by.

    Returns
    -------
    tuple
        The length (-1 when cut short by ``end``, longer than ten bytes or past any block)
        and the byte after it.
    """
    value, at, whole = _varint(raw, at, end)
    if not whole or value > _MAX_LENGTH:
        return -1, at
    return np.int64(value), at


@_jit
def messages(raw: _U8, start: int, end: int, tag: int) -> tuple[_I64, _I64, int]:
    """
    Find where each length-delimited message of one field lies in a group.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the group lies.
    tag
        The messages' field key (their only one).

    Returns
    -------
    tuple
        Each message's first byte and end, and ``OK``, ``OTHER`` (another field) or ``PAST``
        (a message runs past the group).
    """
    starts = np.empty(max(end - start, 0) // 2 + 1, dtype=np.int64)  # two bytes at least each
    stops = np.empty_like(starts)
    count = 0
    at = start
    while at < end:
        if raw[at] != tag:
            return starts[:0], stops[:0], OTHER
        length, at = _length(raw, at + 1, end)
        if length < 0:
            return starts[:0], stops[:0], PAST
        starts[count] = at
        at += length
        stops[count] = at
        count += 1
    if at != end:
        return starts[:0], stops[:0], PAST
    return starts[:count], stops[:count], OK


@_jit
def strings(raw: _U8, start: int, end: int, longest: int) -> tuple[_U8, _I64, _I64, int]:
    """
    Take a string table's strings out of their fields, joined by NUL bytes.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the table lies.
    longest
        The most bytes a string may hold.

    Returns
    -------
    tuple
        The joined strings, each one's first byte and end in them, and ``OK``, ``DOUBLED`` (a
        string holds a NUL), ``OTHER`` (a field that is not a string), ``LONG`` (a string
        longer than ``longest``) or ``PAST`` (a string runs past the table).
    """
    out = np.empty(max(end - start, 0) + 1, dtype=np.uint8)
    bounds = np.empty((max(end - start, 0) // 2 + 1, 2), dtype=np.int64)  # two bytes each
    size = 0
    count = 0
    status = OK
    at = start
    while at < end:
        if raw[at] != 0x0A:  # noqa: PLR2004 - field 1, length-delimited: a string
            return out[:0], bounds[:0, 0], bounds[:0, 1], OTHER
        length, at = _length(raw, at + 1, end)
        if length < 0 or at + length > end:
            return out[:0], bounds[:0, 0], bounds[:0, 1], PAST
        if length > longest:
            return out[:0], bounds[:0, 0], bounds[:0, 1], LONG
        if count:
            out[size] = 0
            size += 1
        bounds[count, 0] = size
        for i in range(at, at + length):
            byte = raw[i]
            if byte == 0:
                status = DOUBLED
            out[size] = byte
            size += 1
        bounds[count, 1] = size
        at += length
        count += 1
    return out[:size], bounds[:count, 0].copy(), bounds[:count, 1].copy(), status


@_jit
def _special(data: _U8, start: int, end: int) -> bool:
    """
    Say whether a string holds a separator of the store's tag text (0x1E, 0x1F).

    Parameters
    ----------
    data
        The joined strings.
    start, end
        The string's span.

    Returns
    -------
    bool
        True when it does.
    """
    for i in range(start, end):  # noqa: SIM110 - a plain loop, for numba
        if data[i] == 0x1E or data[i] == 0x1F:  # noqa: PLR2004 - numba: no `in`
            return True
    return False


@_jit
def tag_texts(  # noqa: C901 - one loop over the rows, kept together
    data: _U8,
    starts: _I64,
    ends: _I64,
    keys: _I64,
    values: _I64,
    first: _I64,
    last: _I64,
) -> tuple[_U8, _I64, _I64, np.ndarray[Any, np.dtype[np.bool_]]]:
    """
    Write rows' tags as the store's text: ``key<RS>value<US>key<RS>value``, UTF-8.

    Parameters
    ----------
    data, starts, ends
        The joined strings of a table and each one's span (``strings``).
    keys, values
        The tags' string indices (checked against the table).
    first, last
        Each row's tags: ``keys[first[j]:last[j]]`` (checked against the tags).

    Returns
    -------
    tuple
        The texts, each one's first byte and end, and the rows whose text must be written
        another way (``walks.store_groups._tags_text``: a string holding a separator, a text
        starting with ``{``, no tag).
    """
    n = first.size
    total = 0
    for j in range(n):
        for k in range(first[j], last[j]):
            total += ends[keys[k]] - starts[keys[k]] + ends[values[k]] - starts[values[k]] + 2
    out = np.empty(total, dtype=np.uint8)
    row_starts = np.empty(n, dtype=np.int64)
    row_ends = np.empty(n, dtype=np.int64)
    slow = np.zeros(n, dtype=np.bool_)
    known = np.full(starts.size, -1, dtype=np.int8)  # each string: holds a separator?
    size = 0
    for j in range(n):
        row_starts[j] = size
        for k in range(first[j], last[j]):
            if k > first[j]:
                out[size] = 0x1F
                size += 1
            for side in range(2):  # the key, <RS>, the value
                text = values[k] if side else keys[k]
                if known[text] < 0:
                    known[text] = 1 if _special(data, starts[text], ends[text]) else 0
                if known[text]:
                    slow[j] = True
                for i in range(starts[text], ends[text]):
                    out[size] = data[i]
                    size += 1
                if not side:
                    out[size] = 0x1E
                    size += 1
        row_ends[j] = size
        if last[j] <= first[j] or out[row_starts[j]] == 0x7B:  # noqa: PLR2004 - "{"
            slow[j] = True
    return out[:size], row_starts, row_ends, slow


@_jit
def _refused(number: np.int64) -> bool:
    """
    Say whether osmium refuses a field number (0, reserved, beyond a 32-bit key).

    Parameters
    ----------
    number
        The field number.

    Returns
    -------
    bool
        True when it does.
    """
    return number <= 0 or number >= _MAX_NUMBER or _FIRST_RESERVED <= number <= _LAST_RESERVED


@_jit
def _fields_of(  # noqa: C901, PLR0911, PLR0912 - each way a field can be wrong
    raw: _U8, at: int, end: int, scalar: int, runs: _I64, max_fields: int, out: _I64
) -> int:
    """
    Walk one message's fields: one varint field's value, some length-delimited fields' spans.

    Parameters
    ----------
    raw
        The block.
    at, end
        Where the message lies.
    scalar
        The varint field to read (its last value; 0 when absent).
    runs
        The length-delimited fields to give the spans of (their last; ``[0, 0]`` absent).
    max_fields
        The most fields a message may hold.
    out
        Filled: ``out[0]`` the scalar, then each run's first byte and end.

    Returns
    -------
    int
        ``OK``, ``OTHER`` (a wire type other than varint or length-delimited, a known field
        of the other one, a field number osmium refuses, too many fields) or ``PAST`` (a
        field runs past the message).
    """
    out[:] = 0
    fields = 0
    first = at
    while at < end:
        if at > first and raw[at - 1] >= 0x80:  # noqa: PLR2004
            # a field's bytes end inside a varint: the numpy code, which reads the group's
            # bytes as varints, finds no field here; refused alike
            return OTHER
        key, at, whole = _varint(raw, at, end)
        if not whole:
            return PAST
        number = np.int64(key >> np.uint64(3))
        wire = np.int64(key & np.uint64(7))
        if _refused(number):
            return OTHER
        fields += 1
        if fields > max_fields:
            return OTHER
        if wire == 0:
            value, at, whole = _varint(raw, at, end)
            if not whole:
                return PAST
            for k in range(runs.size):
                if runs[k] == number:
                    return OTHER
            if number == scalar:
                out[0] = np.int64(value)
        elif wire == 2:  # noqa: PLR2004 - length-delimited
            if number == scalar:
                return OTHER
            length, at, whole = _varint(raw, at, end)
            if not whole:
                return PAST
            if length > np.uint64(end - at):
                return PAST
            for k in range(runs.size):
                if runs[k] == number:
                    out[1 + 2 * k] = at
                    out[2 + 2 * k] = at + np.int64(length)
            at += np.int64(length)
        else:
            return OTHER
    return OK


@_jit
def _count(raw: _U8, start: int, end: int) -> tuple[int, bool]:
    """
    Count the varints of a packed run.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the run lies.

    Returns
    -------
    tuple
        How many, and whether the last one ends with the run.
    """
    count = 0
    for i in range(start, end):
        if raw[i] < 0x80:  # noqa: PLR2004
            count += 1
    return count, end == start or raw[end - 1] < 0x80  # noqa: PLR2004


@_jit
def _run(raw: _U8, start: int, end: int, out: _I64, at: int, delta: bool) -> int:
    """
    Decode a packed run of varints into ``out`` from ``at``.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the run lies (its varints whole: ``_count``).
    out
        Where to write (int64: the two's complement, or zig-zag and delta decoded).
    at
        The first place to write.
    delta
        The run is zig-zag and delta coded, from 0.

    Returns
    -------
    int
        ``OK``, or ``LONG`` for a varint of more than ten bytes.
    """
    total = np.int64(0)
    i = start
    while i < end:
        value, i, whole = _varint(raw, i, end)
        if not whole:
            return LONG
        if delta:
            half = np.int64(value >> np.uint64(1))
            total += half ^ -np.int64(value & np.uint64(1))
            out[at] = total
        else:
            out[at] = np.int64(value)
        at += 1
    return OK


@_jit
def group(  # noqa: C901, PLR0911, PLR0912 - one loop over a group's messages, kept together
    raw: _U8,
    span: _I64,
    starts: _I64,
    stops: _I64,
    fields: _I64,
    kinds: _I64,
    max_fields: int,
    stamp_field: int,
) -> tuple[_I64, _I64, _I64, _I64, int]:
    """
    Decode a group of ways or relations (their messages found by ``messages``).

    Parameters
    ----------
    raw
        The block.
    span
        Where the group lies: its bytes must read as varints (none over ten bytes, the last
        one whole).
    starts, stops
        Where each message lies.
    fields
        The id's field number, then the length-delimited fields to read.
    kinds
        How to read each of those (``PLAIN``, ``DELTA``, ``MESSAGE``).
    max_fields
        The most fields a message may hold.
    stamp_field
        The timestamp's field number in the ``MESSAGE`` field (an ``Info``) to read, or 0
        not to read them.

    Returns
    -------
    tuple
        The ids; ``(r, n + 1)`` offsets of each field's values per message, into the values
        of every field one after the other (field ``r``'s are ``offsets[r, 0]:offsets[r, n]``);
        the timestamps of the messages that have an ``Info`` (0 where none is given); and
        ``OK``, ``OTHER``, ``PAST``, ``CUT`` (a run ends inside a varint) or ``LONG``.
    """
    empty = np.zeros(0, dtype=np.int64)
    nothing = np.zeros((0, 0), dtype=np.int64)
    run = 0
    for i in range(span[0], span[1]):  # as the numpy code, which reads them as varints
        if raw[i] >= 0x80:  # noqa: PLR2004
            run += 1
            if run > 9:  # noqa: PLR2004 - ten bytes at most
                return empty, nothing, empty, empty, LONG
        else:
            run = 0
    if run:  # the group ends inside a varint
        return empty, nothing, empty, empty, CUT
    n = starts.size
    runs = fields[1:].copy()
    count = runs.size
    ids = np.zeros(n, dtype=np.int64)
    one = np.zeros(1 + 2 * count, dtype=np.int64)
    sizes = np.zeros((count, n + 1), dtype=np.int64)
    timed = 0
    for j in range(n):  # first: check every message, count its values
        status = _fields_of(raw, starts[j], stops[j], fields[0], runs, max_fields, one)
        if status != OK:
            return ids, nothing, empty, empty, status
        ids[j] = one[0]
        for r in range(count):
            if kinds[r] == MESSAGE:
                timed += one[2 + 2 * r] > one[1 + 2 * r]
                continue
            found, whole = _count(raw, one[1 + 2 * r], one[2 + 2 * r])
            if not whole:
                return ids, nothing, empty, empty, CUT
            sizes[r, j + 1] = found
    offsets = np.zeros((count, n + 1), dtype=np.int64)
    total = 0
    for r in range(count):
        offsets[r, 0] = total
        for j in range(n):
            offsets[r, j + 1] = offsets[r, j] + sizes[r, j + 1]
        total = offsets[r, n]
    values = np.empty(total, dtype=np.int64)
    times = np.zeros(timed if stamp_field else 0, dtype=np.int64)
    timed = 0
    stamp_runs = np.zeros(0, dtype=np.int64)
    info = np.zeros(1, dtype=np.int64)
    for j in range(n):  # then: read them (the fields walked again: no span kept per message)
        _fields_of(raw, starts[j], stops[j], fields[0], runs, max_fields, one)
        for r in range(count):
            first, end = one[1 + 2 * r], one[2 + 2 * r]
            if kinds[r] == MESSAGE:
                if stamp_field and end > first:
                    status = _fields_of(raw, first, end, stamp_field, stamp_runs, max_fields, info)
                    if status != OK:
                        return ids, nothing, empty, empty, status
                    times[timed] = info[0]
                    timed += 1
                continue
            if _run(raw, first, end, values, offsets[r, j], kinds[r] == DELTA) != OK:
                return ids, nothing, empty, empty, LONG
    return ids, offsets, values, times, OK


@_jit
def _gallop(ids: _I64, ref: int, at: int) -> int:
    """
    Find where a node is, or would be, among ascending ids, searching from a place.

    It gallops 1, 2, 4, ... places away from ``at`` until it passes the id, then halves what
    is left: a few steps for a node near the last one found, O(log n) for any.

    Parameters
    ----------
    ids
        The ids, strictly ascending, one at least.
    ref
        The id looked for.
    at
        Where to start (a place among the ids).

    Returns
    -------
    int
        The first place whose id is not below ``ref`` (``numpy.searchsorted``), at most the
        last place.
    """
    n = ids.size
    if ids[at] < ref:  # ahead: the place is in (lo, hi]
        lo = at
        step = 1
        hi = at + 1
        while hi < n and ids[hi] < ref:
            lo = hi
            step *= 2
            hi = at + step
        hi = min(hi, n)
    else:  # here or behind: the place is in (lo, hi]
        hi = at
        step = 1
        lo = at - 1
        while lo >= 0 and ids[lo] >= ref:
            hi = lo
            step *= 2
            lo = at - step
        lo = max(lo, -1)
    while lo + 1 < hi:
        middle = (lo + hi) >> 1
        if ids[middle] < ref:
            lo = middle
        else:
            hi = middle
    return min(hi, n - 1)


@_jit
def locate(nodes: tuple[_I64, _I32, _I32], refs: _I64, lats: _I32, lons: _I32, known: _B) -> None:
    """
    Look nodes up (``walks.store_pbf._Nodes.ints``): each search starts where the last ended.

    A way's nodes, and a block's ways, mostly lie near one another: most searches take a
    few steps, with no sort first; refs in any order still take O(log n) steps each.

    Parameters
    ----------
    nodes
        Every node's id (strictly ascending, one at least), latitude and longitude.
    refs
        The ids looked for.
    lats, lons, known
        Each one's latitude and longitude (of the node at its place: meaningless where not
        known), and whether it is known: in the file, on the globe (as many as ``refs``).
    """
    ids, node_lats, node_lons = nodes
    at = 0
    for i in range(refs.size):
        ref = refs[i]
        at = _gallop(ids, ref, at)
        lat = node_lats[at]
        lon = node_lons[at]
        lats[i] = lat
        lons[i] = lon
        known[i] = ids[at] == ref and -MAX_LAT <= lat <= MAX_LAT and -MAX_LON <= lon <= MAX_LON


@_jit
def gather(data: _U8, starts: _I64, ends: _I64, out: _U8) -> None:
    """
    Copy items out of a buffer, back to back (``walks.store_groups.Packed.compact``).

    Parameters
    ----------
    data
        The buffer.
    starts, ends
        Each item's span in it (checked against it).
    out
        Where the items go, one after the other (as long as they are, together).
    """
    size = 0
    for j in range(starts.size):
        length = ends[j] - starts[j]
        _copy(out, size, data, starts[j], length)
        size += length


@_jit
def lay(
    out: _U8, at: _I64, fixed: _U8, width: int, size: int, data: _U8, starts: _I64, ends: _I64
) -> None:
    """
    Lay one column of rows into group blobs (``walks.pbf_jit.pack``), group by group.

    Group ``g`` (rows ``g * size`` on) gets, from ``out[at[g]]`` on, its rows' fixed bytes,
    then each row's bytes ``data[starts[i]:ends[i]]`` one after the other (none for a row
    whose end is not past its start). The caller checks every span against the arrays.

    Parameters
    ----------
    out
        The blobs.
    at
        Where each group's part of the column starts in ``out``.
    fixed
        ``width`` bytes per row.
    width, size
        Bytes per row in ``fixed``; rows per group.
    data, starts, ends
        The rows' bytes and their spans (empty ``starts``: none).
    """
    n = fixed.size // width
    spans = starts.size > 0
    for g in range(at.size):
        first = g * size
        last = min(first + size, n)
        pos = at[g]
        _copy(out, pos, fixed, width * first, width * (last - first))
        pos += width * (last - first)
        if spans:
            for i in range(first, last):
                length = ends[i] - starts[i]
                if length > 0:
                    _copy(out, pos, data, starts[i], length)
                    pos += length


@_jit
def _key(raw: _U8, at: int, end: int) -> tuple[int, int, int]:
    """
    Read a field's key as osmium reads it.

    Parameters
    ----------
    raw
        The block.
    at, end
        Where the key starts, and the end of its message.

    Returns
    -------
    tuple
        The field number, the wire type and the byte after the key (-1: a key osmium
        refuses, or cut short).
    """
    key, at, whole = _varint(raw, at, end)
    number = np.int64(key >> np.uint64(3))
    if not whole or _refused(number):
        return 0, 0, -1
    return number, np.int64(key & np.uint64(7)), at


@_jit
def _skip(raw: _U8, at: int, end: int, wire: int) -> int:
    """
    Step over a field's value.

    Parameters
    ----------
    raw
        The block.
    at, end
        Where the value starts, and the end of its message.
    wire
        Its wire type.

    Returns
    -------
    int
        The byte after it (-1: an unknown wire type, or a value past the message).
    """
    if wire == 0:
        _, at, whole = _varint(raw, at, end)
        return at if whole else -1
    if wire == 1 or wire == 5:  # noqa: PLR1714, PLR2004 - fixed 64 or 32 bits (numba: no `in`)
        at += 8 if wire == 1 else 4
        return at if at <= end else -1
    if wire == 2:  # noqa: PLR2004
        length, at = _length(raw, at, end)
        return at + length if 0 <= length <= end - at else -1
    return -1


@_jit
def _int32(value: np.uint64) -> np.int64:
    """
    Read a varint as a 32-bit integer, as osmium does (its low 32 bits, two's complement).

    Parameters
    ----------
    value
        The varint.

    Returns
    -------
    numpy.int64
        The integer.
    """
    low = np.int64(value & _LOW)
    return low - 2**32 if low >= 2**31 else low


@_jit
def _column(raw: _U8, start: int, end: int, nodes: int, number: int, strings: int) -> int:
    """
    Check one array of a ``DenseInfo``: one whole varint per node, in osmium's ranges.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the array lies.
    nodes
        How many nodes the ``DenseNodes`` holds.
    number
        The array's field number: 1 versions (32 bits), 3 changesets (zig-zag deltas), 5
        user names (zig-zag deltas of 32 bits: string indices), 6 visible (0: refused, as
        osmium gives such a node no location); the others are only read.
    strings
        The size of the block's string table.

    Returns
    -------
    int
        ``OK``, ``META`` (a value out of range, or not one per node) or ``CUT``.
    """
    total = np.int64(0)
    count = 0
    at = start
    while at < end:
        value, at, whole = _varint(raw, at, end)
        if not whole:
            return CUT
        count += 1
        if number == 1:
            if _int32(value) < -1:
                return META
        elif number == 3:  # noqa: PLR2004 - changesets
            total += np.int64(value >> np.uint64(1)) ^ -np.int64(value & np.uint64(1))
            if total < -1 or total >= _END_CHANGESET:
                return META
        elif number == 5:  # noqa: PLR2004 - user names: sint32, as osmium reads them
            low = value & _LOW
            total += np.int64(low >> np.uint64(1)) ^ -np.int64(low & np.uint64(1))
            if total < 0 or total >= strings:
                return META
        elif number == 6 and not value & _LOW:  # noqa: PLR2004 - a node osmium hides
            return META
    return OK if count == nodes else META


@_jit
def _dense_meta(raw: _U8, start: int, end: int, strings: int) -> int:  # noqa: C901, PLR0911, PLR0912
    """
    Check a ``DenseNodes`` message's ``DenseInfo`` (``meta``).

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the message lies.
    strings
        The size of the block's string table.

    Returns
    -------
    int
        ``OK`` or a refusal (``META``, ``OTHER``, ``PAST``, ``CUT``).
    """
    ids_start = ids_end = 0
    info_start = info_end = -1
    at = start
    while at < end:
        number, wire, at = _key(raw, at, end)
        if at < 0:
            return OTHER
        if wire == 2 and (number == 1 or number == 5):  # noqa: PLR1714, PLR2004 - ids, DenseInfo
            length, at = _length(raw, at, end)
            if length < 0 or length > end - at:
                return PAST
            if number == 1:
                ids_start, ids_end = at, at + length
            elif info_start >= 0:  # two: osmium would read each array's last
                return OTHER
            else:
                info_start, info_end = at, at + length
            at += length
        else:
            at = _skip(raw, at, end, wire)
            if at < 0:
                return PAST
    if info_start < 0:
        return OK
    nodes, whole = _count(raw, ids_start, ids_end)
    if not whole:
        return CUT
    seen = 0
    at = info_start
    while at < info_end:
        number, wire, at = _key(raw, at, info_end)
        if at < 0:
            return OTHER
        if 1 <= number <= 6:  # noqa: PLR2004 - version, timestamp, changeset, uid, user, visible
            if wire != 2 or seen & (1 << number):  # noqa: PLR2004 - one packed array each
                return OTHER
            seen |= 1 << number
            length, at = _length(raw, at, info_end)
            if length < 0 or length > info_end - at:
                return PAST
            status = _column(raw, at, at + length, nodes, number, strings)
            if status != OK:
                return status
            at += length
        else:
            at = _skip(raw, at, info_end, wire)
            if at < 0:
                return PAST
    return OK


@_jit
def _info(raw: _U8, start: int, end: int, strings: int) -> int:  # noqa: PLR0911 - each check
    """
    Check an ``Info`` message (of a way or relation) as osmium reads it, stricter.

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the message lies.
    strings
        The size of the block's string table.

    Returns
    -------
    int
        ``OK`` or a refusal (``META``, ``OTHER``, ``PAST``).
    """
    at = start
    while at < end:
        number, wire, at = _key(raw, at, end)
        if at < 0:
            return OTHER
        if 1 <= number <= 6:  # noqa: PLR2004 - version, timestamp, changeset, uid, user, visible
            if wire != 0:
                return OTHER
            value, at, whole = _varint(raw, at, end)
            if not whole:
                return PAST
            signed = np.int64(value)
            if number == 1 and _int32(value) < -1:
                return META
            if number == 3 and (signed < -1 or signed >= _END_CHANGESET):  # noqa: PLR2004
                return META
            if number == 5 and value & _LOW >= np.uint64(strings):  # noqa: PLR2004
                return META
        else:
            at = _skip(raw, at, end, wire)
            if at < 0:
                return PAST
    return OK


@_jit
def _object_meta(raw: _U8, start: int, end: int, strings: int, way: bool) -> int:
    """
    Check a way's or relation's ``Info`` fields, and a way's node coordinates (``meta``).

    Parameters
    ----------
    raw
        The block.
    start, end
        Where the message lies.
    strings
        The size of the block's string table.
    way
        The message is a way's: its fields 9 and 10 (node latitudes and longitudes, which
        osmium reads) must be whole varints.

    Returns
    -------
    int
        ``OK`` or a refusal.
    """
    at = start
    while at < end:
        number, wire, at = _key(raw, at, end)
        if at < 0:
            return OTHER
        if wire == 2 and (number == 4 or (way and (number == 9 or number == 10))):  # noqa: PLR1714, PLR2004
            length, at = _length(raw, at, end)
            if length < 0 or length > end - at:
                return PAST
            if number == 4:  # noqa: PLR2004 - the Info
                status = _info(raw, at, at + length, strings)
                if status != OK:
                    return status
            else:
                i = at
                while i < at + length:
                    _, i, whole = _varint(raw, i, at + length)
                    if not whole:
                        return CUT
            at += length
        else:
            at = _skip(raw, at, end, wire)
            if at < 0:
                return PAST
    return OK


@_jit
def meta(raw: _U8, starts: _I64, ends: _I64, strings: int) -> int:
    """
    Check the metadata of a block's objects as osmium reads it (``walks.pbf.check_meta``).

    Parameters
    ----------
    raw
        The block.
    starts, ends
        Where each of its primitive groups lies.
    strings
        The size of its string table.

    Returns
    -------
    int
        ``OK``, or ``META`` (a value osmium refuses, or a ``DenseInfo`` array not of one
        value per node), ``OTHER`` (a field key osmium refuses, a field of another wire
        type), ``PAST`` or ``CUT``.
    """
    for g in range(starts.size):
        end = ends[g]
        at = starts[g]
        while at < end:
            number, wire, at = _key(raw, at, end)
            if at < 0:
                return OTHER
            if wire == 2 and 1 <= number <= 4:  # noqa: PLR2004 - nodes, dense nodes, ways, relations
                length, at = _length(raw, at, end)
                if length < 0 or length > end - at:
                    return PAST
                if number == 2:  # noqa: PLR2004
                    status = _dense_meta(raw, at, at + length, strings)
                else:
                    status = _object_meta(raw, at, at + length, strings, number == 3)  # noqa: PLR2004
                if status != OK:
                    return status
                at += length
            else:
                at = _skip(raw, at, end, wire)
                if at < 0:
                    return PAST
    return OK
