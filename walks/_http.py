"""Requests to online services: one run-wide deadline, bounded retries, bodies read in time.

Every request walks makes (Overpass through osmnx, Overpass's ``/status``, Nominatim through
geopy) goes through this module's pieces:

* ``deadline(seconds)`` sets one deadline for everything inside it (a context variable, so it
  follows the code that runs, thread by thread); ``remaining_s()`` reads it. The CLI wraps each
  command in ``with deadline(timeout):``; library calls made outside one get
  ``settings.RUN_TIMEOUT_S`` each (``run_deadline``).
* ``request_timeout`` caps each request's connect/read time-out by the time left.
* Every socket ``urllib3`` opens inside a deadline is registered with it (``watch_sockets``
  wraps ``urllib3.util.connection.create_connection``) and shut down when the deadline passes:
  a server that trickles its status line, headers or body one byte a second, or never
  answers, ends at the deadline whatever read it is blocked in.
* ``response_hook`` is a ``requests`` response hook. Hooks run before ``requests`` reads the body
  of a non-streamed reply, so the hook reads it itself, one socket read at a time, checking the
  clock and a size cap between pieces, and naming short bodies and bad compression. The body
  is then handed back to ``requests`` as the reply's content, so callers (osmnx, geopy's
  adapter) see an ordinary reply. The hook also turns 429 / 5xx / 4xx into our errors, reading
  ``Retry-After`` in seconds or as an HTTP date (RFC 9110).
* ``call_with_retries`` retries with exponential back-off, never sleeping past the deadline; a
  ``Retry-After`` that reaches beyond it ends the run at once, saying so.
* ``translate_request_error`` turns ``requests`` failures into one-line ``ServiceError`` s; a host
  that cannot be resolved or reached says "no network?".

What is left to the operating system: resolving a host name (``getaddrinfo`` cannot be
interrupted) is bounded by the resolver's own time-outs, not by the deadline.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import logging
import math
import os
import socket
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from walks import settings
from walks.errors import RetryableServiceError, ServiceError, UnreachableError, UsageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import requests

log = logging.getLogger(__name__)

T = TypeVar("T")

#: (monotonic end, the budget in seconds it was set with), or None outside any deadline.
_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "walks_deadline", default=None
)
_CHUNK_BYTES = 64 * 1024
_HTTP_TOO_MANY = 429
_HTTP_SERVER_ERROR = 500
_HTTP_CLIENT_ERROR = 400
_NO_NETWORK_HINT = "Use --osm-file FILE or run without AREA for the offline demo"


# ------------------------------------------------------------------------------------ deadline


class _SocketWatch:
    """The sockets opened under one deadline, shut down when it passes.

    A blocked read (a status line, headers or a body trickled a byte at a time, a TLS
    handshake that never ends) then returns at once, and the request fails with the deadline.

    Parameters
    ----------
    end
        The deadline, on the ``time.monotonic`` clock.
    """

    def __init__(self, end: float) -> None:
        self._end = end
        self._lock = threading.Lock()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._timer: threading.Timer | None = None
        self._stopped = False

    def add(self, sock: socket.socket) -> None:
        """
        Watch a socket; the timer starts with the first one.

        Parameters
        ----------
        sock
            A socket just connected for a request.
        """
        with self._lock:
            if self._stopped:
                return
            self._sockets.add(sock)
            if self._timer is None:
                self._timer = threading.Timer(max(self._end - time.monotonic(), 0.0), self._cut)
                self._timer.daemon = True
                self._timer.start()

    def _cut(self) -> None:
        """Shut every watched socket down (the deadline has passed)."""
        with self._lock:
            if self._stopped:
                return
            for sock in list(self._sockets):
                with contextlib.suppress(OSError):
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop watching (the deadline's block ended); no socket is touched after this."""
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()


_WATCH: contextvars.ContextVar[_SocketWatch | None] = contextvars.ContextVar(
    "walks_socket_watch", default=None
)


def watch_sockets() -> None:
    """
    Make every connection ``urllib3`` opens under a deadline known to that deadline's watch.

    ``urllib3`` opens all its connections (``requests``, so osmnx and our geopy adapter too)
    through ``urllib3.util.connection.create_connection``; it is wrapped once, so that a socket
    opened while a ``deadline`` is active is shut down when the deadline passes. Outside a
    deadline the wrapper does nothing. Idempotent; called before the first request.
    """
    from urllib3.util import connection  # noqa: PLC0415 - only the online path needs it

    original = connection.create_connection
    if getattr(original, "_walks_watch", False):
        return

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:  # noqa: ANN401
        sock = original(*args, **kwargs)
        watch = _WATCH.get()
        if watch is not None:
            watch.add(sock)
        return sock

    create_connection._walks_watch = True  # type: ignore[attr-defined]  # noqa: SLF001
    connection.create_connection = create_connection


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """
    Bound every request made inside the block, retries and pauses included, by one deadline.

    Deadlines nest: an inner one can only shorten the outer one, never extend it. Sockets
    opened for requests inside the block are shut down when the deadline passes (see
    ``watch_sockets``), so no blocked read outlasts it.

    Parameters
    ----------
    seconds
        The time allowed from now, in seconds (finite, above 0).

    Yields
    ------
    None
        Inside the block, ``remaining_s()`` tells the time left.

    Raises
    ------
    UsageError
        When ``seconds`` is not a finite number above 0.
    """
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        msg = f"the time limit {seconds!r} is not a number: give seconds above 0, e.g. 300"
        raise UsageError(msg)
    if not (math.isfinite(seconds) and seconds > 0):
        msg = f"the time limit {seconds!r} s is not a finite number above 0: give e.g. 300"
        raise UsageError(msg)
    end = time.monotonic() + float(seconds)
    outer = _DEADLINE.get()
    if outer is not None and outer[0] <= end:
        yield  # the outer deadline comes first; it stays in force
        return
    watch = _SocketWatch(end)
    token = _DEADLINE.set((end, float(seconds)))
    watch_token = _WATCH.set(watch)
    try:
        yield
    finally:
        watch.stop()
        _WATCH.reset(watch_token)
        _DEADLINE.reset(token)


def remaining_s() -> float | None:
    """
    Return the seconds left before the current deadline.

    Returns
    -------
    float or None
        The time left (0 or less once it has passed), or None when no deadline is active.
    """
    current = _DEADLINE.get()
    return None if current is None else current[0] - time.monotonic()


def _budget_s() -> float:
    """
    Return the length of the current deadline, as it was set, for messages.

    Returns
    -------
    float
        The seconds the deadline was set with (``settings.RUN_TIMEOUT_S`` when none is active).
    """
    current = _DEADLINE.get()
    return settings.RUN_TIMEOUT_S if current is None else current[1]


@contextlib.contextmanager
def run_deadline() -> Iterator[None]:
    """
    Make sure a deadline is active: keep the caller's, or set ``settings.RUN_TIMEOUT_S``.

    Yields
    ------
    None
        Inside the block a deadline is active.
    """
    if _DEADLINE.get() is not None:
        yield
        return
    with deadline(settings.RUN_TIMEOUT_S):
        yield


def out_of_time(service: str, url: str, *, doing: str = "did not finish") -> ServiceError:
    """
    Build the error for a service call that ran out of time.

    Parameters
    ----------
    service
        The service's name, e.g. ``"Overpass"``.
    url
        The service URL.
    doing
        What did not happen in time, e.g. ``"did not finish its reply"``.

    Returns
    -------
    ServiceError
        The error to raise, naming the service, the URL and the time limit.
    """
    msg = (
        f"{service} at {url!r} {doing} within the time limit of {_budget_s():g} s: "
        "try again later, or allow more time with --timeout"
    )
    return ServiceError(msg, url=url)


def time_left(service: str, url: str) -> float:
    """
    Return the seconds left before the deadline, or raise when none are.

    Parameters
    ----------
    service
        The service's name, for the message.
    url
        The service URL, for the message.

    Returns
    -------
    float
        The time left, above 0 (infinity when no deadline is active).

    Raises
    ------
    ServiceError
        When the deadline has passed.
    """
    left = remaining_s()
    if left is None:
        return math.inf
    if left <= 0:
        raise out_of_time(service, url)
    return left


def request_timeout(timeout_s: float, service: str, url: str) -> float:
    """
    Return the time-out for one request: ``timeout_s``, but never past the deadline.

    Parameters
    ----------
    timeout_s
        The longest wait for one reply, in seconds.
    service
        The service's name, for messages.
    url
        The service URL, for messages.

    Returns
    -------
    float
        Seconds, above 0.

    Raises
    ------
    ServiceError
        When the deadline has passed.
    """
    return max(min(timeout_s, time_left(service, url)), 0.001)


def sleep_within_deadline(pause_s: float, *, service: str, url: str, why: str) -> None:
    """
    Sleep, unless the pause would end after the deadline: then fail at once, saying so.

    Parameters
    ----------
    pause_s
        The pause, in seconds.
    service
        The service's name, for the message.
    url
        The service URL, for the message.
    why
        What asked for the pause, e.g. ``"asked to retry after"``.

    Raises
    ------
    ServiceError
        When the pause reaches beyond the deadline.
    """
    if pause_s <= 0:
        return
    left = time_left(service, url)
    if pause_s >= left:
        msg = (
            f"{service} at {url!r} {why} {pause_s:.0f} s, beyond the --timeout of "
            f"{_budget_s():g} s: try later"
        )
        raise ServiceError(msg, url=url)
    time.sleep(pause_s)


# ---------------------------------------------------------------------------- argument checks


def check_service_url(url: object, *, service: str, option: str) -> str:
    """
    Check that a service URL is an http(s) URL with a host, before any request is made.

    Parameters
    ----------
    url
        The URL given.
    service
        The service's name, e.g. ``"Overpass"``.
    option
        The CLI option that sets it, e.g. ``"--overpass-url"``, for the message.

    Returns
    -------
    str
        The URL.

    Raises
    ------
    UsageError
        When it is not text, not http(s), has no host, has a bad port, or holds spaces or
        control characters.
    """
    example = settings.OVERPASS_URL if service == "Overpass" else settings.NOMINATIM_URL
    fix = f"give the {service} base URL, e.g. {option} {example}"
    if not isinstance(url, str):
        msg = f"{option} {url!r} is not a URL: {fix}"
        raise UsageError(msg)
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        msg = f"{option} {url!r} holds spaces or control characters: {fix}"
        raise UsageError(msg)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        msg = f"{option} {url!r} is not a valid URL ({err}): {fix}"
        raise UsageError(msg) from err
    if parts.scheme.lower() not in {"http", "https"}:
        msg = f"{option} {url!r} is not an http(s) URL: {fix}"
        raise UsageError(msg)
    if not parts.hostname or port == 0:
        msg = f"{option} {url!r} names no host: {fix}"
        raise UsageError(msg)
    return url


def check_cache_dir(cache_dir: object) -> Path:
    """
    Check a cache directory argument, and give the default one for None.

    Parameters
    ----------
    cache_dir
        A path (``str`` or ``os.PathLike``), or None for ``settings.default_cache_dir()``.

    Returns
    -------
    Path
        The directory.

    Raises
    ------
    UsageError
        When it is neither a path nor None, or is empty.
    """
    if cache_dir is None:
        return settings.default_cache_dir()
    if not isinstance(cache_dir, (str, os.PathLike)) or not os.fspath(cache_dir):
        msg = f"the cache directory {cache_dir!r} is not a path: give a folder, e.g. ~/.cache/walks"
        raise UsageError(msg)
    return Path(cache_dir)


def check_attempts(attempts: object) -> int:
    """
    Check a number of attempts.

    Parameters
    ----------
    attempts
        How many times to try in all.

    Returns
    -------
    int
        The number, at least 1.

    Raises
    ------
    UsageError
        When it is not a whole number of at least 1.
    """
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        msg = f"attempts {attempts!r} is not a whole number of at least 1: give e.g. --retries 4"
        raise UsageError(msg)
    return attempts


def check_seconds(value: object, name: str, *, allow_zero: bool = False) -> float:
    """
    Check a duration argument.

    Parameters
    ----------
    value
        The duration, in seconds.
    name
        The argument's name, for the message.
    allow_zero
        Whether 0 is allowed.

    Returns
    -------
    float
        The duration.

    Raises
    ------
    UsageError
        When it is not a finite number above 0 (or at least 0 with ``allow_zero``).
    """
    ok = (
        not isinstance(value, bool)
        and isinstance(value, (int, float))
        and math.isfinite(value)
        and (value >= 0 if allow_zero else value > 0)
    )
    if not ok:
        least = "at least 0" if allow_zero else "above 0"
        msg = f"{name} {value!r} is not a finite number of seconds {least}"
        raise UsageError(msg)
    return float(value)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------ retries


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

    Everything happens within the current deadline (``settings.RUN_TIMEOUT_S`` when none is
    active): no pause sleeps past it, and a ``Retry-After`` that reaches beyond it ends the
    call at once.

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
        The longest back-off pause in seconds (a ``Retry-After`` is honoured as given).

    Returns
    -------
    T
        What ``func`` returned.

    Raises
    ------
    ServiceError
        When every attempt failed, or the deadline came first; the message names the
        service, the URL and the last failure.
    UsageError
        When ``attempts`` is not a whole number of at least 1.
    """
    attempts = check_attempts(attempts)
    with run_deadline():
        for attempt in range(1, attempts + 1):
            time_left(service, url)
            try:
                return func()
            except RetryableServiceError as err:
                left = remaining_s()
                if left is not None and left <= 0:
                    raise out_of_time(service, url) from err
                if attempt == attempts:
                    raise _final_error(err, service, url, attempts) from err
                _pause_before_retry(err, service, url, attempt, attempts, backoff_s, max_backoff_s)
    msg = "unreachable"  # pragma: no cover - the loop always returns or raises
    raise AssertionError(msg)  # pragma: no cover


def _pause_before_retry(
    err: RetryableServiceError,
    service: str,
    url: str,
    attempt: int,
    attempts: int,
    backoff_s: float,
    max_backoff_s: float,
) -> None:
    """
    Sleep before the next attempt, within the deadline.

    Parameters
    ----------
    err
        The failure just seen.
    service, url
        The service and its URL, for messages.
    attempt, attempts
        The attempt that failed and how many there are in all.
    backoff_s, max_backoff_s
        The first and the longest back-off pause.

    Raises
    ------
    ServiceError
        When the pause would end after the deadline.
    """
    if err.retry_after_s is not None:
        pause = max(err.retry_after_s, 0.0)
        why = "asked to retry after"
    else:
        pause = min(max(backoff_s * 2 ** (attempt - 1), 0.0), max_backoff_s)
        why = f"failed ({one_line(str(err))}); the next try would start after"
    log.warning(
        "%s: %s; retrying in %.1f s (attempt %d of %d)",
        service, one_line(str(err)), pause, attempt + 1, attempts,
    )  # fmt: skip
    sleep_within_deadline(pause, service=service, url=url, why=why)


def _final_error(err: RetryableServiceError, service: str, url: str, attempts: int) -> ServiceError:
    """
    Build the error raised when the last attempt failed.

    Parameters
    ----------
    err
        The last failure.
    service, url
        The service and its URL.
    attempts
        How many attempts were made.

    Returns
    -------
    ServiceError
        The error; for an unreachable host it says "no network?".
    """
    if isinstance(err, UnreachableError):
        host = urlsplit(url).hostname or url
        tries = "1 try" if attempts == 1 else f"{attempts} tries"
        msg = (
            f"cannot reach {host}: no network? ({service} at {url!r}: {err}, {tries}). "
            f"{_NO_NETWORK_HINT}"
        )
        return ServiceError(msg, url=url, status=err.status)
    msg = (
        f"{service} at {url!r} failed {attempts} time(s), last with: {err}. "
        "Try again later, or point walks at another endpoint."
    )
    return ServiceError(msg, url=url, status=err.status)


def parse_retry_after(value: str | None) -> float | None:
    """
    Read a ``Retry-After`` header: a number of seconds or an HTTP date (RFC 9110, 10.2.3).

    Parameters
    ----------
    value
        The header's text, or None.

    Returns
    -------
    float or None
        The pause in seconds (0 for a date in the past), or None when absent or unreadable.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        import email.utils  # noqa: PLC0415 - 17 ms at every command's start, for a rare header

        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # "-0000": UTC, per RFC 5322
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


# ----------------------------------------------------------------------------------- replies


def response_hook(service: str, base_url: str) -> Callable[..., None]:
    """
    Make a ``requests`` response hook that reads the body within the deadline and checks the status.

    Parameters
    ----------
    service
        The service's name, for messages.
    base_url
        The service base URL, for messages.

    Returns
    -------
    callable
        The hook, for ``hooks={"response": [...]}``.
    """

    def hook(response: requests.Response, *_args: object, **_kwargs: object) -> None:
        read_body(response, service=service, url=base_url)
        check_status(response, service=service, url=base_url)

    return hook


def _read_piece(response: requests.Response, *, service: str, url: str, size: int) -> bytes:
    """
    Read the next piece of a reply's body (one read on the socket at most, decompressed).

    Parameters
    ----------
    response
        The reply.
    service, url
        The service and its URL, for messages.
    size
        The bytes read so far, for messages.

    Returns
    -------
    bytes
        The piece; empty at the end of the body.

    Raises
    ------
    ServiceError
        When the piece cannot be decompressed, or the deadline passed.
    RetryableServiceError
        When the connection dropped (a short body) or the read timed out.
    """
    import urllib3  # noqa: PLC0415

    try:
        return bytes(response.raw.read1(_CHUNK_BYTES, decode_content=True))
    except urllib3.exceptions.DecodeError as err:
        encoding = one_line(response.headers.get("Content-Encoding", ""))[:40]
        msg = (
            f"{service} at {url!r} sent a reply that cannot be decompressed "
            f"(Content-Encoding {encoding!r}): the server or a proxy is out of order; "
            "try again later"
        )
        raise ServiceError(msg, url=url, status=response.status_code) from err
    except (urllib3.exceptions.HTTPError, OSError) as err:
        left = remaining_s()
        if left is not None and left <= 0:
            raise out_of_time(service, url, doing="did not finish its reply") from err
        msg = f"the reply was cut short after {size} bytes ({type(err).__name__})"
        raise RetryableServiceError(msg, url=url, status=response.status_code) from err


def read_body(response: requests.Response, *, service: str, url: str) -> None:
    """
    Read a reply's body in pieces within the deadline, and store it as the reply's content.

    Used from a response hook, which ``requests`` calls before it reads a non-streamed body.
    The clock is checked between pieces (each piece is one read on the socket), and the
    deadline's socket watch (``_SocketWatch``) shuts the socket down when the deadline passes,
    so a read blocked on a silent or trickling server returns then.

    Parameters
    ----------
    response
        The reply, body not yet read.
    service
        The service's name, for messages.
    url
        The service URL, for messages.

    Raises
    ------
    ServiceError
        When the deadline passes first, the body is larger than ``settings.MAX_REPLY_BYTES``,
        or it cannot be decompressed.
    RetryableServiceError
        When the connection drops before the whole body came (a short body) or a read times out.
    """
    if getattr(response, "_content_consumed", False) or response.raw is None:
        return
    parts: list[bytes] = []
    size = 0
    try:
        time_left(service, url)
        while piece := _read_piece(response, service=service, url=url, size=size):
            size += len(piece)
            if size > settings.MAX_REPLY_BYTES:
                msg = (
                    f"{service} at {url!r} sent a reply larger than "
                    f"{settings.MAX_REPLY_BYTES // 2**20} MiB: choose a smaller area"
                )
                raise ServiceError(msg, url=url, status=response.status_code)
            parts.append(piece)
            left = remaining_s()
            if left is not None and left <= 0:
                raise out_of_time(service, url, doing="did not finish its reply")
        left = remaining_s()
        if left is not None and left <= 0:  # the watchdog cut a trickle short
            raise out_of_time(service, url, doing="did not finish its reply")
    finally:
        response.close()
    response._content = b"".join(parts)  # noqa: SLF001 - what requests itself sets
    response._content_consumed = True  # type: ignore[attr-defined]  # noqa: SLF001


def check_status(response: requests.Response, *, service: str, url: str) -> None:
    """
    Turn a failed HTTP reply into our exception.

    Parameters
    ----------
    response
        The reply.
    service
        The service's name, for messages.
    url
        The service base URL, for messages.

    Raises
    ------
    RetryableServiceError
        On 429 and 5xx replies, with the ``Retry-After`` pause when one is given.
    ServiceError
        On other 4xx replies.
    """
    status = response.status_code
    reason = one_line(str(response.reason or ""))[:80]
    if status == _HTTP_TOO_MANY or status >= _HTTP_SERVER_ERROR:
        msg = f"HTTP {status} {reason}".rstrip()
        raise RetryableServiceError(
            msg,
            url=url,
            status=status,
            retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
        )
    if status >= _HTTP_CLIENT_ERROR:
        msg = f"{service} at {url!r} answered HTTP {status} {reason}: check the endpoint URL"
        raise ServiceError(msg, url=url, status=status)


def one_line(text: str) -> str:
    """
    Make text safe for a one-line message: control characters become spaces.

    Parameters
    ----------
    text
        Any text.

    Returns
    -------
    str
        The text on one line.
    """
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def _causes(err: BaseException) -> Iterator[BaseException]:
    """
    Walk an exception's causes, contexts, ``reason`` attributes and exception arguments.

    Parameters
    ----------
    err
        The exception.

    Yields
    ------
    BaseException
        ``err`` and every exception it wraps.
    """
    seen: set[int] = set()
    todo: list[BaseException] = [err]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked: list[Any] = [
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
        ]
        linked += list(current.args)
        todo += [e for e in linked if isinstance(e, BaseException)]


def translate_request_error(  # noqa: PLR0911 - one answer per kind of failure
    err: Exception, *, service: str, url: str
) -> ServiceError:
    """
    Turn a ``requests`` failure into our error.

    Parameters
    ----------
    err
        The exception ``requests`` raised.
    service
        The service's name.
    url
        The service base URL.

    Returns
    -------
    ServiceError
        ``UnreachableError`` (retryable) when the host refused or could not be connected
        to, ``RetryableServiceError`` for a time-out or a dropped connection, a plain
        ``ServiceError`` for a host name that cannot be resolved ("no network?"), a redirect
        loop, a redirect to somewhere that is not http(s), or the deadline.
    """
    import requests  # noqa: PLC0415
    import urllib3  # noqa: PLC0415

    chain = list(_causes(err))
    left = remaining_s()
    if left is not None and left <= 0:
        return out_of_time(service, url)
    if any(isinstance(e, (socket.gaierror, urllib3.exceptions.NameResolutionError)) for e in chain):
        host = urlsplit(url).hostname or url
        msg = f"cannot reach {host}: no network? (its name cannot be looked up). {_NO_NETWORK_HINT}"
        return ServiceError(msg, url=url)
    if isinstance(err, requests.TooManyRedirects):
        hops = len(err.response.history) if err.response is not None else settings.MAX_REDIRECTS
        msg = f"{service} at {url!r} redirects in a loop (gave up after {hops}): check the URL"
        return ServiceError(msg, url=url)
    bad_target = (requests.exceptions.InvalidSchema, requests.exceptions.InvalidURL,
                  requests.exceptions.MissingSchema)  # fmt: skip
    if isinstance(err, bad_target):
        detail = one_line(str(err))[:120]
        msg = (
            f"{service} at {url!r} redirected to a URL walks cannot follow ({detail}): "
            "check the URL"
        )
        return ServiceError(msg, url=url)
    if isinstance(err, requests.ConnectTimeout):
        return UnreachableError("connection timed out", url=url)
    refused = (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)
    if isinstance(err, requests.ConnectionError) and any(isinstance(e, refused) for e in chain):
        return UnreachableError("connection refused", url=url)
    if isinstance(err, (requests.Timeout, requests.ConnectionError,
                        requests.exceptions.ChunkedEncodingError)):  # fmt: skip
        return RetryableServiceError(f"no reply ({type(err).__name__})", url=url)
    msg = f"{service} at {url!r} failed: {one_line(str(err))[:200]}"
    return ServiceError(msg, url=url)


def http_get(
    url: str, *, service: str, base_url: str, headers: dict[str, str], timeout_s: float
) -> requests.Response:
    """
    GET a URL once (no retries below ours), its body read within the deadline.

    Parameters
    ----------
    url
        The full URL.
    service
        The service's name, for messages.
    base_url
        The service base URL, for messages.
    headers
        Request headers.
    timeout_s
        The longest wait for the reply, capped by the deadline.

    Returns
    -------
    requests.Response
        The reply, body read, status below 400.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, time-outs and dropped connections.
    ServiceError
        On other failures.
    """
    return http_request(
        "GET", url, service=service, base_url=base_url, headers=headers, timeout_s=timeout_s
    )


def http_request(
    method: str,
    url: str,
    *,
    service: str,
    base_url: str,
    headers: dict[str, str],
    timeout_s: float,
    data: dict[str, str] | None = None,
) -> requests.Response:
    """
    Send one request (no retries below ours), its body read within the deadline.

    Parameters
    ----------
    method
        ``"GET"`` or ``"POST"``.
    url
        The full URL.
    service
        The service's name, for messages.
    base_url
        The service base URL, for messages.
    headers
        Request headers.
    timeout_s
        The longest wait for the reply, capped by the deadline.
    data
        A form to send (for POST), or None.

    Returns
    -------
    requests.Response
        The reply, body read, status below 400.

    Raises
    ------
    RetryableServiceError
        On 429, 5xx, time-outs and dropped connections.
    ServiceError
        On other failures.
    """
    import requests  # noqa: PLC0415

    watch_sockets()
    with run_deadline(), requests.Session() as session:
        session.max_redirects = settings.MAX_REDIRECTS
        session.hooks["response"] = [response_hook(service, base_url)]
        try:
            return session.request(
                method, url, headers=headers, data=data,
                timeout=request_timeout(timeout_s, service, base_url),
            )  # fmt: skip
        except requests.RequestException as err:
            raise translate_request_error(err, service=service, url=base_url) from err


# ------------------------------------------------------------------- foreign library warnings


class _OneLineToDebug(logging.Filter):
    """Route a foreign library's warnings to our logger at DEBUG level, on one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        """
        Drop a warning or error record, logging it again on one line at DEBUG level.

        Parameters
        ----------
        record
            The record.

        Returns
        -------
        bool
            False for records at WARNING or above (they are re-logged), True otherwise.
        """
        if record.levelno < logging.WARNING:
            return True
        log.debug("%s: %s", record.name, one_line(record.getMessage())[:300])
        return False


def _quiet_foreign_loggers() -> None:
    """Keep urllib3's and geopy's multi-line warnings (with tracebacks) off the user's terminal."""
    names = (
        "urllib3", "urllib3.connection", "urllib3.connectionpool", "urllib3.response",
        "urllib3.poolmanager", "urllib3.util.retry", "geopy",
    )  # fmt: skip
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, _OneLineToDebug) for f in logger.filters):
            logger.addFilter(_OneLineToDebug())


_quiet_foreign_loggers()
