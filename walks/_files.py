"""Atomic file writes: one file (cache entries, service replies) or a set of outputs, all or none.

Every file walks writes goes through here. A file is written to a temporary name beside its
target, flushed and synced, then renamed over the target, so a reader never sees half a file.
``OutputSet`` does the same for several files at once: everything is staged first and moved into
place only when all of it was written, and on any failure what this run wrote is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

from walks.errors import ExportError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

#: Prefix of temporary files, so stray ones are recognisable (and ignored by cache listings).
TMP_PREFIX = ".walks-tmp-"


def _read_umask() -> int:
    """
    Read the process umask (once, at import: setting it to read it races with other threads).

    Returns
    -------
    int
        The umask.
    """
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def stage_file(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """
    Write a temporary file beside ``path`` and sync it to disk; the target is not touched.

    Parameters
    ----------
    path
        The final file.
    write
        Writes the content into the binary file object it is given.

    Returns
    -------
    Path
        The temporary file, with the usual permissions (``0666`` less the umask).

    Raises
    ------
    OSError
        When the file cannot be written; the temporary file is removed first.
    """
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=TMP_PREFIX, suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual mode
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return tmp


def _as_bytes(data: str | bytes) -> bytes:
    """
    Encode text as UTF-8; pass bytes through.

    Parameters
    ----------
    data
        Text or bytes.

    Returns
    -------
    bytes
        The bytes to write.
    """
    return data.encode("utf-8") if isinstance(data, str) else data


def write_atomic(path: Path, data: str | bytes) -> None:
    """
    Write one file atomically: a synced temporary file beside it, then a rename.

    Parameters
    ----------
    path
        The file; its folder must exist.
    data
        The content (text is written as UTF-8).

    Raises
    ------
    OSError
        When it cannot be written; no partial or temporary file remains, and an existing
        file at ``path`` is left as it was.
    """
    payload = _as_bytes(data)
    tmp = stage_file(path, lambda fh: fh.write(payload))
    try:
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


class OutputSet:
    """The outputs of one run, written all or none.

    ``add`` stages each file beside its target; ``commit`` moves them all into place. If a
    stage or a move fails, or ``commit`` is never reached (use it as a context manager), every
    staged file is removed and every target this run already replaced is put back as it was
    (files that did not exist before are removed).

    Examples
    --------
    >>> with OutputSet() as outputs:  # doctest: +SKIP
    ...     outputs.add(Path("walk.html"), page)
    ...     outputs.add(Path("walk.gpx"), gpx)
    ...     outputs.commit()
    """

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is not None or self._staged:
            self.abort()

    def add(self, path: Path, data: str | bytes) -> None:
        """
        Stage one output.

        Parameters
        ----------
        path
            The final file.
        data
            Its content (text is written as UTF-8).

        Raises
        ------
        ExportError
            When it cannot be written (a full disk, a missing folder); everything staged so
            far is removed.
        """
        payload = _as_bytes(data)
        try:
            tmp = stage_file(path, lambda fh: fh.write(payload))
        except OSError as err:
            self.abort()
            msg = f"cannot write {str(path)!r} ({err.strerror or err}): choose a writable place"
            raise ExportError(msg) from err
        self._staged.append((path, tmp))

    def commit(self) -> list[Path]:
        """
        Move every staged file into place.

        Existing targets are first kept under a temporary name, so that a failure half-way
        restores them.

        Returns
        -------
        list of Path
            The files written, in the order they were added.

        Raises
        ------
        ExportError
            When a file cannot be moved into place; the run's files are removed and the
            previous ones restored.
        """
        backups: list[tuple[Path, Path | None]] = []
        try:
            for path, tmp in self._staged:
                backup: Path | None = None
                if path.exists():
                    backup = path.with_name(f"{TMP_PREFIX}{path.name}.{os.getpid()}.bak")
                    path.replace(backup)
                backups.append((path, backup))
                tmp.replace(path)
        except OSError as err:
            for path, backup in reversed(backups):
                with contextlib.suppress(OSError):
                    if backup is not None:
                        backup.replace(path)
                    else:
                        path.unlink()
            self.abort()
            msg = f"cannot move the outputs into place ({err.strerror or err}): nothing was written"
            raise ExportError(msg) from err
        for _path, backup in backups:
            if backup is not None:
                with contextlib.suppress(OSError):
                    backup.unlink()
        written = [path for path, _tmp in self._staged]
        self._staged.clear()
        return written

    def abort(self) -> None:
        """Remove every staged file; targets are left as they were."""
        for _path, tmp in self._staged:
            with contextlib.suppress(OSError):
                tmp.unlink()
        self._staged.clear()
