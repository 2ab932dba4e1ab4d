"""The exception hierarchy: every error the library raises on purpose derives from WalksError."""

from __future__ import annotations


class WalksError(Exception):
    """Root of every error raised by walks on purpose."""


class UsageError(WalksError, ValueError):
    """An argument is malformed, not finite or out of range (the CLI exits with code 2)."""


class DataError(WalksError, OSError):
    """OSM data is missing, unreadable, corrupt, or holds nothing walkable."""


class AreaError(WalksError, ValueError):
    """An area is malformed, empty, or larger than the configured limit."""


class GeocodeError(WalksError, LookupError):
    """A place name was not found, or the geocoding service failed."""


class ServiceError(WalksError, ConnectionError):
    """An online service (Overpass, Nominatim) could not be reached or kept failing.

    Parameters
    ----------
    message
        The human-readable message.
    url
        The service URL that failed.
    status
        The last HTTP status code seen, if any.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class RetryableServiceError(ServiceError):
    """A reply worth trying again later (HTTP 429, 5xx, a time-out, a dropped connection).

    Parameters
    ----------
    message
        The human-readable message.
    url
        The service URL that failed.
    status
        The HTTP status code, if any.
    retry_after_s
        The pause the service asked for (``Retry-After``), if it did.
    """

    def __init__(
        self,
        message: str,
        *,
        url: str,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status)
        self.retry_after_s = retry_after_s


class UnreachableError(RetryableServiceError):
    """A service's host could not be connected to (connection refused, no route, no network)."""


class CacheError(WalksError, OSError):
    """The cache directory cannot be created or written."""


class NoWalkError(WalksError, ValueError):
    """The constraints of a walk request cannot be met."""


class ExportError(WalksError, OSError):
    """An output file cannot be written."""


class CategoryError(UsageError):
    """A category file is malformed, or a category name is unknown (a bad argument: exit 2)."""


class LandmarkError(WalksError, LookupError):
    """A landmark cannot be found, or is too far away to be seen from the area."""


class NoStopsError(WalksError, LookupError):
    """A category has no stop in the area."""
