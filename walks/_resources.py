"""Locate the data files shipped with walks (categories, landmarks, the map's script)."""

from __future__ import annotations

from pathlib import Path


def data_file(name: str) -> Path:
    """
    Return the path of a shipped data file.

    Parameters
    ----------
    name
        The file name inside ``data/``, e.g. ``"categories.toml"``.

    Returns
    -------
    Path
        The file (inside the installed package, or the source tree's ``data/``).
    """
    here = Path(__file__).resolve().parent
    for folder in (here / "_data", here.parent / "data"):
        if (folder / name).exists():
            return folder / name
    return here.parent / "data" / name
