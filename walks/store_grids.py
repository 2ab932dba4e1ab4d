"""The height grids kept beside a region store, in a SQLite file of their own.

A store is never written after its import (its readers open it read-only); the building height
grids of view stops (``walks.views.height_grid``) go to ``<store>.grids.sqlite`` beside it, at
most ``GRIDS_MAX_BYTES`` of them, and go with it: a re-import or ``walks cache clear`` removes
them.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from typing import TYPE_CHECKING, Any

from walks.store_groups import _connect

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger("walks.store")


#: The table of the grids file kept beside a store (``keep_grid``).
_GRIDS = "CREATE TABLE IF NOT EXISTS grids (key TEXT PRIMARY KEY, data BLOB NOT NULL)"


#: The most bytes of height grids a store keeps; the oldest go first beyond it.
GRIDS_MAX_BYTES = 64 * 2**20


def grids_path(store: Path) -> Path:
    """
    Name the file that keeps a store's height grids, beside it.

    The store itself is never written after its import (a write killed half-way would leave
    a journal that read-only readers cannot roll back); its grids live in this file, which
    goes with it.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    Path
        ``<store>.grids.sqlite`` in the same folder.
    """
    return store.with_name(f"{store.stem}.grids.sqlite")


def _companions(store: Path) -> list[Path]:
    """
    List the files that belong to a store besides itself: its grids file and journals.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    list of Path
        The paths (present or not).
    """
    grids = grids_path(store)
    return [grids, grids.with_name(grids.name + "-journal"),
            store.with_name(store.name + "-journal")]  # fmt: skip


def _grids_row(store: Path, query: str, *params: object) -> tuple[Any, ...] | None:
    """
    Ask a store's grids file (read-only) for one row.

    Parameters
    ----------
    store
        The store file.
    query
        The SQL, on the ``grids`` table.
    *params
        Its parameters.

    Returns
    -------
    tuple or None
        The row; None when there is none, or no readable grids file (missing, a write left
        half-done, damaged).
    """
    grids = grids_path(store)
    if not grids.is_file():
        return None
    try:
        with _connect(grids) as db:
            row: tuple[Any, ...] | None = db.execute(query, params).fetchone()
    except sqlite3.Error as err:
        log.debug("cannot read %s (%s)", grids, err)
        return None
    return row


def _count_grids(store: Path) -> int:
    """
    Count the height grids kept for a store.

    Parameters
    ----------
    store
        The store file.

    Returns
    -------
    int
        How many (0 when there is no readable grids file).
    """
    row = _grids_row(store, "SELECT count(*) FROM grids")
    return 0 if row is None else int(row[0])


def read_grid(store: Path, key: str) -> bytes | None:
    """
    Read a height grid kept with a store.

    Parameters
    ----------
    store
        The store file.
    key
        The grid's key: a digest of everything it is made from.

    Returns
    -------
    bytes or None
        The grid as ``keep_grid`` was given it; None when none of that key can be read.
    """
    row = _grids_row(store, "SELECT data FROM grids WHERE key = ?", key)
    return bytes(row[0]) if row is not None and isinstance(row[0], bytes) else None


def keep_grid(store: Path, key: str, data: bytes) -> None:
    """
    Keep a height grid with a store (in ``grids_path(store)``), beside its buildings.

    The grid goes with its store: a store rebuilt because the file changed starts without
    grids, and ``walks cache clear`` removes them with it. Beyond ``GRIDS_MAX_BYTES`` the
    oldest grids are dropped. A grids file that cannot be written (read-only, busy beyond
    the timeout) is only logged: the grid is made again next time. A write killed half-way
    is rolled back by the next one.

    Parameters
    ----------
    store
        The store file (it must exist: a missing store is not created).
    key
        The grid's key: a digest of everything it is made from.
    data
        The grid, encoded.
    """
    if not store.is_file():
        return
    grids = grids_path(store)
    for attempt in range(2):
        try:
            _keep(grids, key, data)
        except sqlite3.DatabaseError as err:
            if attempt or getattr(err, "sqlite_errorcode", None) not in _DAMAGED:
                log.info("the height grid was not kept in %s (%s)", grids, err)
                return
            # not a database any more (damaged): it goes, with its journal, and is made again
            log.info("the grids file %s is damaged (%s): making it again", grids, err)
            for stale in (grids, grids.with_name(grids.name + "-journal")):
                stale.unlink(missing_ok=True)
        except sqlite3.Error as err:
            log.info("the height grid was not kept in %s (%s)", grids, err)
            return
        else:
            return


#: SQLite's result codes of a file that is damaged or not a database (SQLITE_CORRUPT,
#: SQLITE_NOTADB): only then is a grids file made again.
_DAMAGED = (11, 26)


def _keep(grids: Path, key: str, data: bytes) -> None:
    """
    Write one grid into a grids file, dropping the oldest beyond ``GRIDS_MAX_BYTES``.

    Parameters
    ----------
    grids
        The grids file.
    key
        The grid's key.
    data
        The grid, encoded.
    """
    with contextlib.closing(sqlite3.connect(grids, timeout=5.0)) as db, db:
        db.execute(_GRIDS)
        newest = db.execute(
            "INSERT OR REPLACE INTO grids (key, data) VALUES (?, ?)", (key, data)
        ).lastrowid
        sizes = db.execute("SELECT rowid, length(data) FROM grids ORDER BY rowid").fetchall()
        total = sum(int(size) for _, size in sizes)
        for rowid, size in sizes:  # the oldest first, never the one just kept
            if total <= GRIDS_MAX_BYTES or rowid == newest:
                break
            db.execute("DELETE FROM grids WHERE rowid = ?", (rowid,))
            total -= int(size)
