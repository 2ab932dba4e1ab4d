"""Retries with exponential back-off for calls to online services."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, TypeVar

from walks import settings
from walks.errors import RetryableServiceError, ServiceError

if TYPE_CHECKING:
    from collections.abc import Callable

log = logging.getLogger(__name__)

T = TypeVar("T")


def call_with_retries(
    func: Callable[[], T],
    *,
    service: str,
    url: str,
    attempts: int = settings.MAX_ATTEMPTS,
    backoff_s: float = settings.BACKOFF_S,
    max_backoff_s: float = settings.MAX_BACKOFF_S,
) -> T:
    """
    Call ``func`` until it succeeds, pausing longer after each retryable failure.

    Parameters
    ----------
    func
        The call to make; it raises ``RetryableServiceError`` for a reply worth retrying.
    service
        The service's name for messages, for example ``"Overpass"``.
    url
        The service URL, for messages.
    attempts
        How many calls to make in all (at least 1).
    backoff_s
        The first pause in seconds; it doubles after every failure. A ``Retry-After``
        reply overrides it.
    max_backoff_s
        The longest single pause in seconds.

    Returns
    -------
    T
        What ``func`` returned.

    Raises
    ------
    ServiceError
        When every attempt failed; the message names the service, the URL and the last failure.
    """
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        try:
            return func()
        except RetryableServiceError as err:
            if attempt == attempts:
                msg = (
                    f"{service} at {url!r} failed {attempts} time(s), last with: {err}. "
                    "Try again later, or point walks at another endpoint."
                )
                raise ServiceError(msg, url=url, status=err.status) from err
            pause = backoff_s * 2 ** (attempt - 1)
            if err.retry_after_s is not None:
                pause = err.retry_after_s
            pause = min(max(pause, 0.0), max_backoff_s)
            log.warning(
                "%s: %s; retrying in %.1f s (attempt %d of %d)",
                service,
                err,
                pause,
                attempt + 1,
                attempts,
            )
            time.sleep(pause)
    msg = "unreachable"  # pragma: no cover - the loop always returns or raises
    raise AssertionError(msg)  # pragma: no cover


def parse_retry_after(value: str | None) -> float | None:
    """
    Read a ``Retry-After`` header given in seconds.

    Parameters
    ----------
    value
        The header's text, or None.

    Returns
    -------
    float or None
        The pause in seconds, or None when absent or not a number of seconds.
    """
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
