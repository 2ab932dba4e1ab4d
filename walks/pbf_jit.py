"""Compiled loops for importing large PBF files, when numba is installed (``walks[fast]``).

The import (``walks.store``) decodes a file with numpy (``walks.pbf``), writes its rows'
tags as text (``walks.store_tags``) and packs rows into groups (``walks.store_groups``). A
few of those steps are loops over bytes that numpy cannot express without many passes, or
without one Python object per row: varints, string tables, a group's ways or relations, the
tags' text of a block's rows, gathering rows' bytes, packing groups. Here they are the same
loops compiled by numba (``walks.pbf_loops``); each gives exactly what the numpy code gives,
or the same refusal, and the tests hold them to it (stores come out byte for byte the same).
One more loop has no numpy twin: ``meta`` checks the objects' metadata (versions,
changesets, user names) as osmium reads it, so that an import with the loops need not have
osmium decode the whole file first to refuse what it refuses (``walks.pbf.check_meta``).

The loops are used only inside ``engaged`` (an import of a file large enough for numba's own
start, about 0.6 CPU-s, to pay), and only when numba imports and compiles them
(``available``). The first import after walks is installed or upgraded compiles them (and
``walks.ring_loops``), about 20 CPU-s once; numba keeps them in its cache (``__pycache__``
beside this file, else the user's cache folder). ``WALKS_JIT=0`` turns them off;
``WALKS_JIT=1`` uses them for any file.

numba does not check bounds here: each wrapper checks the spans it hands a loop against the
arrays, and each loop checks every index it reads against those spans. A hostile file gives
a status, never a read past the end.
"""

from __future__ import annotations

import contextlib
import contextvars
import gc
import importlib
import itertools
import logging
import os
import warnings
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import ModuleType

_U8 = np.ndarray[Any, np.dtype[np.uint8]]
_U64 = np.ndarray[Any, np.dtype[np.uint64]]
_I64 = np.ndarray[Any, np.dtype[np.int64]]

#: Files from this size on are read with the compiled loops (numba's own start is about
#: 0.6 CPU-s once they are in its cache; on a 16 MiB file the loops save more than that).
MIN_BYTES = 16 * 2**20

#: Statuses the loops give (0: fine; ``META``: metadata osmium may refuse, ``meta``).
OK, CUT, LONG, OTHER, PAST, DOUBLED, META = 0, 1, 2, 3, 4, 5, 6

#: How ``group`` reads a length-delimited field: packed varints, packed zig-zag deltas (from 0
#: in each message), or a message of its own (an ``Info``: only its timestamp is read).
PLAIN, DELTA, MESSAGE = 0, 1, 2

log = logging.getLogger(__name__)

_ENGAGED: contextvars.ContextVar[bool] = contextvars.ContextVar("walks_jit", default=False)


def _setting() -> str:
    """
    Read ``WALKS_JIT``.

    Returns
    -------
    str
        ``"0"`` (never), ``"1"`` (any file) or ``"auto"`` (large files).
    """
    value = os.environ.get("WALKS_JIT", "auto").strip().lower()
    if value in ("0", "off", "no", "false"):
        return "0"
    if value in ("1", "on", "yes", "true"):
        return "1"
    return "auto"


@cache
def available() -> bool:
    """
    Say whether the compiled loops can be used (``pip install walks[fast]``).

    numba must import, and compile (or load from its cache) every loop: each is run once on
    a few bytes here. A numba that cannot compile them (another numpy than it supports, say)
    leaves the import to numpy, with one log line, instead of failing it halfway.

    Returns
    -------
    bool
        True when they can.
    """
    try:
        import numba  # noqa: F401, PLC0415 - optional, heavy: imported only when wanted
    except ImportError:
        return False
    try:
        with warnings.catch_warnings():  # numba's own (a cache it cannot write): not the user's
            warnings.simplefilter("ignore")
            loops = _loops()
            _light_loads((loops, *_ring_module()))
            _warm(loops)
            after_compiling(loops)
    except Exception as err:  # noqa: BLE001 - any failure of numba's: numpy reads the file
        log.warning("the compiled PBF loops are not used (%s): numpy reads the file", err)
        return False
    return True


def _ring_module() -> tuple[ModuleType, ...]:
    """
    Import ``walks.ring_loops`` (its loop loads as the others), unless it cannot be.

    Returns
    -------
    tuple
        The module, or nothing (``walks.store_areas`` then leaves its rule to numpy).
    """
    try:
        return (importlib.import_module("walks.ring_loops"),)
    except Exception:  # noqa: BLE001 - any failure of numba's: the PBF loops still serve
        return ()


def after_compiling(module: ModuleType) -> None:
    """
    Let go of what numba's compiler left, when it compiled (not loaded) a function of a module.

    Compiling the loops (once after walks is installed or upgraded, about 20 CPU-s) leaves
    about 100 MB of cyclic garbage, which an import (that pauses Python's collector,
    ``walks.store``) would otherwise carry to its end: Munich's first import peaked at 413 MB
    against 306. One collection after the compile frees it.

    Parameters
    ----------
    module
        ``walks.pbf_loops`` or ``walks.ring_loops``.
    """
    if any(getattr(getattr(f, "stats", None), "cache_misses", None) for f in vars(module).values()):
        gc.collect()


def _light_loads(modules: Sequence[ModuleType]) -> None:
    """
    Let walks' loops come from numba's cache without loading numba's compiler registries.

    Before a cached function is loaded, numba refreshes its target: it imports and installs
    every implementation and typing registry it has (arrays' math, linear algebra, typed
    containers, random numbers, ...), and its linear algebra probes for BLAS by importing
    ``scipy.linalg``. That is 0.1-0.2 CPU-s, and 0.35 more for the probe, spent for loading
    machine code that needs none of it: only numba's runtime, which allocates the arrays the
    loops make. So each of walks' own compiled functions (``walks.pbf_loops``,
    ``walks.ring_loops``) loads from its cache after starting that runtime only. Compiling
    (a loop not yet in the cache, or any numba code of the caller's) still refreshes the
    target first, as numba always does; no other function is touched. With a numba whose
    cache is built otherwise, or whose loading fails so, the functions load as numba loads
    them.

    Parameters
    ----------
    modules
        The modules whose compiled functions (defined there) load so.
    """
    import numba  # noqa: PLC0415 - optional: only when engaged
    from numba.core.runtime import nrt  # noqa: PLC0415

    for module in modules:
        for function in vars(module).values():
            cache: Any = getattr(function, "_cache", None)
            if not (
                isinstance(function, numba.core.registry.CPUDispatcher)
                and function.__module__ == module.__name__
                and callable(getattr(cache, "_load_overload", None))
                and callable(getattr(cache, "_guard_against_spurious_io_errors", None))
                and "load_overload" not in vars(cache)  # not set here already (a second call)
            ):
                continue

            def load(
                signature: Any,  # noqa: ANN401 - numba's
                target: Any,  # noqa: ANN401
                cache: Any = cache,  # noqa: ANN401
                full: Any = cache.load_overload,  # noqa: ANN401
            ) -> Any:  # noqa: ANN401
                try:
                    nrt.rtsys.initialize(target)
                    with cache._guard_against_spurious_io_errors():  # noqa: SLF001 - as numba's own
                        return cache._load_overload(signature, target)  # noqa: SLF001
                except Exception:  # noqa: BLE001 - a numba whose loading needs more: its own way
                    return full(signature, target)

            cache.load_overload = load


def _warm(loops: Any) -> None:  # noqa: ANN401 - the compiled module (numba has no types)
    """
    Run each compiled loop once, on a few bytes, as the import calls it.

    Parameters
    ----------
    loops
        ``walks.pbf_loops``.
    """
    block = np.frombuffer(bytes([0x0A, 1, 0x61, 0x1A, 0]), dtype=np.uint8)  # read-only, as a file's
    loops.varints(block[:0])
    loops.encode(np.zeros(1, dtype=np.uint64))
    loops.scaled(loops.deltas(block[:0])[0], 100, 0)
    loops.dense_tags(np.zeros(1, dtype=np.uint64))
    loops.runs(np.zeros(2, dtype=np.int64), np.zeros(1, dtype=np.int64))
    loops.repeated(np.zeros(1, dtype=np.int64), np.zeros(2, dtype=np.int64), _MOST_TAGS)
    table, starts, ends, _ = loops.strings(block, 0, 3, 1024)
    begins, stops, _ = loops.messages(block, 3, 5, 0x1A)
    numbers = np.array([1, 2, 3, 4, 8], dtype=np.int64)
    kinds = np.array([PLAIN, PLAIN, MESSAGE, DELTA], dtype=np.int64)
    loops.group(block, np.array([3, 5], dtype=np.int64), begins, stops, numbers, kinds, 64, 2)
    loops.meta(block, begins, stops, 1)
    one = np.zeros(1, dtype=np.int64)
    loops.tag_texts(table, starts, ends, one, one, one, one + 1)
    out = np.empty(1, dtype=np.uint8)
    loops.gather(block, one + 2, one + 3, out)
    loops.gather(out.copy(), one, one + 1, out)
    loops.lay(out, one - 1, block[:0], 8, 32, block, one, one)  # read-only bytes, as ``pack``
    node = np.zeros(1, dtype=np.int32)
    loops.locate((one, node, node), one, node.copy(), node.copy(), np.zeros(1, dtype=bool))


@contextlib.contextmanager
def engaged(size: int) -> Iterator[bool]:
    """
    Use the compiled loops, within this context, for a file of some size when they pay.

    Parameters
    ----------
    size
        The file's size in bytes.

    Yields
    ------
    bool
        Whether they are used.
    """
    setting = _setting()
    use = setting != "0" and (setting == "1" or size >= MIN_BYTES) and available()
    if setting == "1" and not use:
        log.warning("WALKS_JIT=1, but the compiled loops cannot be used: numpy reads the file")
    token = _ENGAGED.set(use)
    try:
        yield use
    finally:
        _ENGAGED.reset(token)


def active() -> bool:
    """
    Say whether the compiled loops are in use here.

    Returns
    -------
    bool
        True inside ``engaged`` for a file they pay on.
    """
    return _ENGAGED.get()


def _loops() -> Any:  # noqa: ANN401 - the compiled module (numba has no types)
    """
    Import the compiled loops (numba compiles them once and keeps them in its cache).

    Returns
    -------
    module
        ``walks.pbf_loops``.
    """
    from walks import pbf_loops  # noqa: PLC0415 - imports numba: only when engaged

    return pbf_loops


def varints(data: bytes | memoryview) -> tuple[_U64, int]:
    """
    Decode a packed run of varints.

    Parameters
    ----------
    data
        The run.

    Returns
    -------
    tuple
        The values and a status: ``OK``, ``CUT`` (ends inside a varint) or ``LONG`` (a
        varint longer than ten bytes).
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    values, status = _loops().varints(raw)
    return values, int(status)


def deltas(data: bytes | memoryview) -> tuple[_I64, int]:
    """
    Decode a packed run of zig-zag, delta-coded varints.

    Parameters
    ----------
    data
        The run.

    Returns
    -------
    tuple
        The running totals and a status, as ``varints`` gives it.
    """
    values, status = _loops().deltas(np.frombuffer(data, dtype=np.uint8))
    return values, int(status)


def scaled(values: _I64, granularity: int, offset: int) -> np.ndarray[Any, np.dtype[np.int32]]:
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
        The coordinates (int32).
    """
    scaled: np.ndarray[Any, np.dtype[np.int32]] = _loops().scaled(
        np.ascontiguousarray(values, dtype=np.int64), granularity, offset
    )
    return scaled


def dense_tags(keys_vals: _U64) -> tuple[_I64, _I64, _I64] | None:
    """
    Split a dense ``keys_vals`` run per node with the compiled loop (``walks.pbf._tags_csr``).

    Parameters
    ----------
    keys_vals
        The run (uint64).

    Returns
    -------
    tuple or None
        Per-node offsets into the tags, the key ids and the value ids; None for a run that
        ends inside a pair or holds no node.
    """
    offsets, keys, values, whole = _loops().dense_tags(
        np.ascontiguousarray(keys_vals, dtype=np.uint64)
    )
    return (offsets, keys, values) if whole else None


def runs(offsets: _I64, chosen: _I64) -> tuple[_I64, _I64] | None:
    """
    Index some items' runs one after the other with the compiled loop, when it is in use.

    Parameters
    ----------
    offsets
        ``offsets[i]:offsets[i + 1]`` is item ``i``'s run.
    chosen
        The items.

    Returns
    -------
    tuple or None
        The indices into the runs' values and where each chosen item's run starts among them;
        None when the loop is not in use, or an item is outside ``offsets`` or its run
        falls (numpy says which).
    """
    if not (
        active()
        and offsets.dtype.kind == "i"
        and chosen.dtype.kind == "i"
        and offsets.ndim == chosen.ndim == 1
    ):
        return None
    index, starts, fine = _loops().runs(
        np.ascontiguousarray(offsets, dtype=np.int64), np.ascontiguousarray(chosen, dtype=np.int64)
    )
    return (index, starts) if fine else None


#: Tags an object may have for ``repeated`` (each compared with each); more: numpy's sort.
_MOST_TAGS = 48


def repeated(keys: _I64, starts: _I64) -> np.ndarray[Any, np.dtype[np.bool_]] | None:
    """
    Find the objects that give a key twice with the compiled loop, when it is in use.

    Parameters
    ----------
    keys
        The tags' keys (one number per text).
    starts
        ``keys[starts[j]:starts[j + 1]]`` are object ``j``'s.

    Returns
    -------
    numpy.ndarray or None
        One flag per object; None when the loop is not in use, or leaves the objects to
        numpy (an object of many tags, or spans it refuses).
    """
    if not active() or starts.size == 0:
        return None
    flags, whole = _loops().repeated(
        np.ascontiguousarray(keys, dtype=np.int64),
        np.ascontiguousarray(starts, dtype=np.int64),
        _MOST_TAGS,
    )
    return flags if whole else None


def encoded(values: _U64) -> tuple[bytes, _I64] | None:
    """
    Encode values as varints with the compiled loop, when it is in use.

    Parameters
    ----------
    values
        The values, as uint64.

    Returns
    -------
    tuple or None
        The bytes, back to back, and where each value's bytes end; None when the loop is
        not in use.
    """
    if not active():
        return None
    data, ends = _loops().encode(np.ascontiguousarray(values, dtype=np.uint64))
    return data.tobytes(), ends


def messages(data: bytes, start: int, end: int, tag: int) -> tuple[_I64, _I64, int]:
    """
    Find where each length-delimited message of one field lies in a group.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the group lies.
    tag
        The messages' field key.

    Returns
    -------
    tuple
        Each message's first byte and end, and a status: ``OK``, ``OTHER`` (another field) or
        ``PAST`` (a message runs past the group).
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if not 0 <= start <= end <= raw.size:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), PAST
    starts, stops, status = _loops().messages(raw, start, end, tag)
    return starts, stops, int(status)


def strings(data: bytes, start: int, end: int, longest: int) -> tuple[_U8, _I64, _I64, int]:
    """
    Take a string table's strings out of their fields, joined by NUL bytes.

    Parameters
    ----------
    data
        The block.
    start, end
        Where the table lies.
    longest
        The most bytes a string may hold.

    Returns
    -------
    tuple
        The joined strings, each one's first byte and end in them, and a status: ``OK``,
        ``DOUBLED`` (a string holds a NUL: the joined text cannot be split at NULs),
        ``OTHER`` (a field that is not a string), ``LONG`` (a string longer than
        ``longest``) or ``PAST`` (a string runs past the table).
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    if not 0 <= start <= end <= raw.size:
        empty = np.zeros(0, dtype=np.int64)
        return np.zeros(0, dtype=np.uint8), empty, empty, PAST
    joined, starts, ends, status = _loops().strings(raw, start, end, longest)
    return joined, starts, ends, int(status)


def meta(data: bytes, groups: list[tuple[int, int]], strings: int) -> int:
    """
    Check the metadata of a block's objects as osmium reads it (``walks.pbf.check_meta``).

    Parameters
    ----------
    data
        The block.
    groups
        Where each of its primitive groups lies.
    strings
        The size of its string table.

    Returns
    -------
    int
        ``OK``, or ``META``, ``OTHER``, ``PAST`` or ``CUT`` for a block osmium may refuse.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    spans = np.array(groups, dtype=np.int64).reshape(-1, 2)
    starts, ends = spans[:, 0].copy(), spans[:, 1].copy()
    if starts.size and not (
        int(starts.min()) >= 0 and int(ends.max()) <= raw.size and bool((starts <= ends).all())
    ):
        return PAST
    return int(_loops().meta(raw, starts, ends, strings))


def tag_texts(
    table: tuple[_U8, _I64, _I64], tags: tuple[_I64, _I64], first: _I64, last: _I64
) -> tuple[_U8, _I64, _I64, np.ndarray[Any, np.dtype[np.bool_]]] | None:
    """
    Write rows' tags as the store's text (``walks.store_groups._tags_text``), UTF-8.

    Parameters
    ----------
    table
        The block's strings joined, and each one's first byte and end (``strings``).
    tags
        The tags' key and value string indices.
    first, last
        Each row's tags: ``keys[first[j]:last[j]]``.

    Returns
    -------
    tuple or None
        The texts, each one's first byte and end, and the rows whose text must be written
        another way (a string holding a separator, a text starting with ``{``, no tag); None
        when an index is out of range (the caller writes them all another way).
    """
    data, starts, ends = table
    keys, values = tags
    strings = len(starts)
    if keys.shape != values.shape or first.shape != last.shape or starts.shape != ends.shape:
        return None
    if keys.size and not (int(min(keys.min(), values.min())) >= 0 and
                          int(max(keys.max(), values.max())) < strings):  # fmt: skip
        return None
    if first.size and not (
        int(first.min()) >= 0 and int(last.max()) <= len(keys) and bool((first <= last).all())
    ):
        return None
    if strings and not (
        int(starts.min()) >= 0 and int(ends.max()) <= len(data) and bool((ends >= starts).all())
    ):
        return None
    return _loops().tag_texts(data, starts, ends, keys, values, first, last)  # type: ignore[no-any-return]


def group(
    data: bytes,
    span: tuple[int, int],
    messages: tuple[_I64, _I64],
    fields: tuple[tuple[int, int], ...],
    max_fields: int,
    stamp_field: int,
) -> tuple[tuple[_I64, list[tuple[_I64, _I64]], _I64], int]:
    """
    Decode a group of ways or relations: their ids, length-delimited fields and timestamps.

    Parameters
    ----------
    data
        The block.
    span
        Where the group lies.
    messages
        Where each way or relation lies (``messages``).
    fields
        The id's field number (and 0), then each length-delimited field's number and how it
        is read (``PLAIN``, ``DELTA`` or ``MESSAGE``: an ``Info``).
    max_fields
        The most fields a message may hold.
    stamp_field
        The timestamp's field number in an ``Info``, or 0 not to read the timestamps.

    Returns
    -------
    tuple
        ``(ids, [(offsets, values) per field], times)`` (``times``: of the messages that have
        an ``Info``, 0 where it gives none; a ``MESSAGE`` field's values are empty), and a
        status: ``OK``, ``OTHER``, ``PAST``, ``CUT`` or ``LONG``.
    """
    raw = np.frombuffer(data, dtype=np.uint8)
    starts, stops = messages
    empty = np.zeros(0, dtype=np.int64)
    if not 0 <= span[0] <= span[1] <= raw.size or starts.shape != stops.shape:
        return (empty, [], empty), PAST
    if starts.size and not (int(starts.min()) >= span[0] and int(stops.max()) <= span[1]):
        return (empty, [], empty), PAST
    numbers = np.array([number for number, _ in fields], dtype=np.int64)
    kinds = np.array([kind for _, kind in fields[1:]], dtype=np.int64)
    ids, offsets, values, times, status = _loops().group(
        raw, np.array(span, dtype=np.int64), starts, stops, numbers, kinds, max_fields, stamp_field
    )
    if status:
        return (empty, [], empty), int(status)
    runs = []
    for row in offsets:
        first, last = int(row[0]), int(row[-1])
        runs.append((row - first, values[first:last]))
    return (ids, runs, times), OK


def locate(
    nodes: tuple[_I64, np.ndarray[Any, np.dtype[np.int32]], np.ndarray[Any, np.dtype[np.int32]]],
    refs: _I64,
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]] | None:
    """
    Look nodes up with the compiled loop (``walks.store_pbf._Nodes.ints``).

    Parameters
    ----------
    nodes
        Every node's id (strictly ascending), latitude and longitude (int32).
    refs
        The ids looked for.

    Returns
    -------
    tuple of numpy.ndarray or None
        Each one's latitude and longitude (meaningless where not known), and whether it is
        known (in the file, on the globe); None when the loop is not in use or there is no
        node.
    """
    ids, lats, lons = nodes
    if not active() or not ids.size or not (ids.shape == lats.shape == lons.shape):
        return None
    out = (
        np.empty(refs.size, dtype=np.int32),
        np.empty(refs.size, dtype=np.int32),
        np.empty(refs.size, dtype=bool),
    )
    _loops().locate(
        (
            np.ascontiguousarray(ids, dtype=np.int64),
            np.ascontiguousarray(lats, dtype=np.int32),
            np.ascontiguousarray(lons, dtype=np.int32),
        ),
        np.ascontiguousarray(refs, dtype=np.int64),
        *out,
    )
    return out


def gather(data: _U8, starts: _I64, ends: _I64, out: _U8) -> bool:
    """
    Copy items out of a buffer, back to back, when the compiled loops are in use.

    Parameters
    ----------
    data
        The buffer.
    starts, ends
        Each item's span in it.
    out
        Where the items go (as long as they are, together).

    Returns
    -------
    bool
        False when the loops are not in use or the spans do not fit (nothing was copied).
    """
    if not active():
        return False
    if starts.shape != ends.shape or not (_plain_bytes(data) and _plain_bytes(out)):
        return False
    if np.may_share_memory(data, out):  # the loop copies by memcpy
        return False
    if starts.size and not (
        int(starts.min()) >= 0
        and int(ends.max()) <= data.size
        and bool((ends >= starts).all())
        and int((ends - starts).sum()) == out.size
    ):
        return False
    _loops().gather(data, starts, ends, out)
    return True


def pack(
    boxes: np.ndarray[Any, Any],
    columns: Sequence[tuple[np.ndarray[Any, Any], tuple[_U8, _I64, _I64] | None]],
    size: int,
    into: Callable[[int], _U8] | None = None,
) -> list[memoryview] | None:
    """
    Pack rows into group blobs with the compiled loop, when it is in use.

    Each row's bytes are copied once, from where they lie, into their group's blob
    (``walks.store_groups.pack_columns`` gives the layout).

    Parameters
    ----------
    boxes
        ``(n, 4)`` float64 boxes.
    columns
        Each column's ``n`` 8-byte values (text and bytes: their lengths, -1 for NULL), and
        for text and bytes the buffer their rows lie in and each row's span (a NULL row's end
        is before its start), else None.
    size
        Rows per group.
    into
        Gives a buffer of the size asked (one reused from call to call), else a new one is
        made.

    Returns
    -------
    list of memoryview or None
        One blob per group; None when the loop is not in use or a span is outside its buffer
        (nothing was copied).
    """
    if not active():
        return None
    n = len(boxes)
    heads = np.arange(0, n, size, dtype=np.int64)
    counts = np.minimum(heads + size, n) - heads
    parts = np.empty((len(columns), heads.size), dtype=np.int64)
    nothing = np.zeros(0, dtype=np.int64)
    laid: list[tuple[_U8, tuple[_U8, _I64, _I64]]] = []
    for c, (values, spans) in enumerate(columns):
        fixed = _read_only(np.ascontiguousarray(values).reshape(-1).view(np.uint8))
        if fixed.size != 8 * n:
            return None
        parts[c] = 8 * counts
        if spans is None:
            laid.append((fixed, (_read_only(np.zeros(0, dtype=np.uint8)), nothing, nothing)))
            continue
        data, starts, ends = spans
        if starts.shape != (n,) or ends.shape != (n,):
            return None
        sizes = np.maximum(ends - starts, 0)
        full = sizes > 0
        if full.any() and not (int(starts[full].min()) >= 0 and int(ends[full].max()) <= data.size):
            return None
        if n:
            parts[c] += np.add.reduceat(sizes, heads)
        laid.append((fixed, (
            _read_only(np.ascontiguousarray(data, dtype=np.uint8)),
            np.ascontiguousarray(starts, dtype=np.int64),
            np.ascontiguousarray(ends, dtype=np.int64),
        )))  # fmt: skip
    blobs = 4 + 32 * counts + parts.sum(axis=0)
    bounds = np.concatenate(([0], np.cumsum(blobs))).astype(np.int64)
    total = int(bounds[-1])
    out: _U8 = into(total) if into is not None else np.empty(total, dtype=np.uint8)
    if not _plain_bytes(out) or any(
        np.may_share_memory(out, array) for fixed, spans in laid for array in (fixed, spans[0])
    ):  # the loop copies by memcpy: distinct buffers of plain bytes only
        return None
    loops = _loops()
    empty = (_read_only(np.zeros(0, dtype=np.uint8)), nothing, nothing)
    loops.lay(out, bounds[:-1], _read_only(counts.astype("<u4").view(np.uint8)), 4, 1, *empty)
    raw_boxes = np.ascontiguousarray(boxes, dtype="<f8").reshape(-1).view(np.uint8)
    loops.lay(out, bounds[:-1] + 4, _read_only(raw_boxes), 32, size, *empty)
    at = bounds[:-1] + 4 + 32 * counts
    for c, (fixed, spans) in enumerate(laid):
        loops.lay(out, at, fixed, 8, size, *spans)
        at = at + parts[c]
    view = out.data  # a memoryview of the bytes
    return [view[a:b] for a, b in itertools.pairwise(bounds.tolist())]


def _plain_bytes(array: np.ndarray[Any, Any]) -> bool:
    """
    Say whether an array is plain bytes, as the compiled copies take them.

    Parameters
    ----------
    array
        The array.

    Returns
    -------
    bool
        True for one dimension of uint8, C-contiguous.
    """
    return array.dtype == np.uint8 and array.ndim == 1 and bool(array.flags.c_contiguous)


def _read_only(array: _U8) -> _U8:
    """
    View bytes as read-only, as numba types a file's bytes: one compiled ``lay`` for all.

    Parameters
    ----------
    array
        The bytes (C-contiguous).

    Returns
    -------
    numpy.ndarray
        A read-only view of them.
    """
    view = array.view()
    view.flags.writeable = False
    return view
