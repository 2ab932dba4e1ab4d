"""walks: plan pleasant city walks from OpenStreetMap data."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from walks.errors import (
    AreaError,
    CacheError,
    DataError,
    ExportError,
    GeocodeError,
    NoWalkError,
    ServiceError,
    WalksError,
)
from walks.types import Area, BBox, LatLon

try:
    __version__ = version("walks")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "Area",
    "AreaError",
    "BBox",
    "CacheError",
    "DataError",
    "ExportError",
    "GeocodeError",
    "LatLon",
    "NoWalkError",
    "ServiceError",
    "WalksError",
    "__version__",
]
