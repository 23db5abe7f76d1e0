"""HTTP(S) downloads with retries, backoff, time limits and an optional progress bar.

Only the standard library is used for the transfer; ``tqdm`` draws the bar when
the output is a terminal. Three limits keep a bad server from hanging a caller:
a short connect timeout, a read timeout for each wait on the socket, and a
deadline for the whole download (every attempt and wait together). Retries
cover connection errors, truncated bodies and 5xx/408/429 answers, each
announced on the ``flaxjs.download`` logger ("retry 2/5 in 1.0 s: <reason>");
other 4xx answers, unknown host names and redirects that loop or leave http(s)
fail at once, and a server that accepts the connection but sends nothing for a
read timeout twice in a row is given up on.
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import io
import logging
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO

from .._version import __version__
from ..errors import SourceError

USER_AGENT = f"flaxjs/{__version__}"
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}
#: consecutive attempts that received no answer at all before the download is given up.
MAX_SILENT_ATTEMPTS = 2
LOG = logging.getLogger("flaxjs.download")


class HTTPStatusError(SourceError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, reason: str):
        super().__init__(f"GET {url} failed: HTTP {status} {reason}")
        self.url = url
        self.status = status


class _SilentError(TimeoutError):
    """The server accepted the connection but sent no answer within the read timeout."""


class _DeadlineError(TimeoutError):
    """The download's overall deadline passed."""


@functools.lru_cache(maxsize=8)
def _connection(base: type[http.client.HTTPConnection], read_timeout: float) -> Any:
    """``base`` connecting under the request's (connect) timeout, then reading under
    ``read_timeout``: urllib knows only one timeout for both."""

    class Connection(base):  # type: ignore[valid-type,misc]
        def connect(self) -> None:
            super().connect()
            self.sock.settimeout(read_timeout)

    return Connection


class _HTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, read_timeout: float):
        super().__init__()
        self.read_timeout = read_timeout

    def http_open(self, req):
        return self.do_open(_connection(http.client.HTTPConnection, self.read_timeout), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, read_timeout: float):
        super().__init__()
        self.read_timeout = read_timeout

    def https_open(self, req):
        return self.do_open(_connection(http.client.HTTPSConnection, self.read_timeout), req,
                            context=getattr(self, "_context", None))


class _RedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follows redirects to http(s) only (urllib also follows ftp://)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if urllib.parse.urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(req.full_url, code, f"{msg}; the redirect to "
                                         f"{newurl!r} is refused (http and https only)",
                                         headers, fp)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener(read_timeout: float) -> urllib.request.OpenerDirector:
    """urllib's opener: connections reading under ``read_timeout``, http(s) redirects only."""
    return urllib.request.build_opener(_HTTPHandler(read_timeout), _HTTPSHandler(read_timeout),
                                       _RedirectHandler())


def progress_bar(total: float | None, desc: str, enabled: bool | None, unit: str = "B"):
    """A tqdm bar on stderr, or ``None``: ``enabled`` None means when stderr is a terminal."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm
    if unit == "B":
        return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                    leave=False)
    return tqdm(total=total, unit=unit, desc=desc, leave=False,
                bar_format="{desc}: {n:.1f} {unit}")


def _stream_once(url: str, out: BinaryIO, *, connect_timeout: float, timeout: float,
                 deadline: float, progress: bool | None, desc: str,
                 headers: Mapping[str, str], meta: dict[str, Any]) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **headers})
    try:
        response = _opener(timeout).open(request, timeout=connect_timeout)
    except TimeoutError as err:
        raise _SilentError(f"no answer within {timeout:g} s") from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise _SilentError(f"could not connect within {connect_timeout:g} s") from err
        raise
    with response:
        meta["status"] = response.status
        meta["headers"] = dict(response.headers.items())
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = progress_bar(total, desc, progress)
        received = 0
        try:
            while True:
                if time.monotonic() > deadline:
                    raise _DeadlineError(f"{received} of {total or '?'} bytes received")
                chunk = response.read1(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                received += len(chunk)
                if bar is not None:
                    bar.update(len(chunk))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and received != total:
            raise http.client.IncompleteRead(b"", total - received)
        return received


def _reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    if isinstance(err, http.client.IncompleteRead):
        return f"connection closed {err.expected} bytes short of Content-Length"
    if isinstance(err, urllib.error.URLError):
        return str(err.reason)
    return str(err) or type(err).__name__


def _is_dns_failure(err: BaseException) -> bool:
    return isinstance(err, urllib.error.URLError) and isinstance(err.reason, socket.gaierror)


def stream(url: str, open_out: Callable[[], contextlib.AbstractContextManager[BinaryIO]], *,
           retries: int = 4, backoff: float = 0.5, timeout: float = 10.0,
           connect_timeout: float = 10.0, deadline: float = 600.0,
           progress: bool | None = None, desc: str | None = None,
           headers: Mapping[str, str] | None = None, meta: dict[str, Any] | None = None) -> int:
    """Download ``url`` into a fresh file object from ``open_out()`` per attempt.

    Args:
      url: an ``http://`` or ``https://`` URL.
      open_out: called before each attempt; returns a context manager giving a
        writable binary file that the attempt fills from its start.
      retries: attempts after the first one for transient failures.
      backoff: the first wait in seconds; doubled after each failure.
      timeout: read timeout: the longest wait for the answer or for more of the body.
      connect_timeout: the longest wait for the TCP (and TLS) connection.
      deadline: seconds the whole download may take, every attempt and wait included.
      progress: draw a tqdm bar; ``None`` draws it only when stderr is a terminal.
      desc: label of the bar and of the retry messages (default: the URL's file name).
      headers: extra request headers (``If-None-Match`` ...).
      meta: filled with the successful answer's ``status`` and ``headers``.

    Returns:
      the number of bytes written by the successful attempt.

    Raises:
      HTTPStatusError: a non-retryable status (a 304 answer to ``If-None-Match`` too),
        or a retryable one after the last retry.
      SourceError: a connection error, unknown host, truncated body, silent server or
        passed deadline.
    """
    desc = desc or url.rsplit("/", 1)[-1].split("?")[0] or url
    end = time.monotonic() + deadline
    wait = backoff
    silent = 0
    for attempt in range(retries + 1):
        last = attempt == retries
        with open_out() as out:
            try:
                return _stream_once(url, out, connect_timeout=connect_timeout, timeout=timeout,
                                    deadline=end, progress=progress, desc=desc,
                                    headers=headers or {}, meta=meta if meta is not None else {})
            except urllib.error.HTTPError as err:
                if err.code not in _RETRY_STATUS or last:
                    raise HTTPStatusError(url, err.code, str(err.reason)) from None
                error: BaseException = err
                silent = 0
            except _DeadlineError as err:
                raise SourceError(f"GET {url} gave up: the download took longer than its "
                                  f"deadline of {deadline:g} s ({err}); raise "
                                  "FLAXJS_ZOO_DEADLINE for slow links") from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError, OSError) as err:
                if _is_dns_failure(err):
                    raise SourceError(f"GET {url} failed: cannot resolve the host name "
                                      f"({_reason(err)}); check the URL and the network "
                                      "(not retried)") from None
                silent = silent + 1 if isinstance(err, _SilentError) else 0
                if last or silent >= MAX_SILENT_ATTEMPTS:
                    why = (f" (the server sent nothing {silent} times in a row)"
                           if silent >= MAX_SILENT_ATTEMPTS and not last else "")
                    raise SourceError(f"GET {url} failed after {attempt + 1} attempt(s)"
                                      f"{why}: {_reason(err)}") from err
                error = err
        if time.monotonic() + wait > end:
            raise SourceError(f"GET {url} gave up: no time left within its deadline of "
                              f"{deadline:g} s for another attempt ({_reason(error)}); "
                              "raise FLAXJS_ZOO_DEADLINE for slow links")
        LOG.warning("%s: retry %d/%d in %.1f s: %s", desc, attempt + 2, retries + 1, wait,
                    _reason(error))
        time.sleep(wait)
        wait *= 2
    raise AssertionError("unreachable")


def fetch_bytes(url: str, **kwargs) -> bytes:
    """Download ``url`` into memory with :func:`stream`'s retries and progress bar."""
    attempts: list[io.BytesIO] = []

    def open_out():
        attempts.append(io.BytesIO())
        return contextlib.nullcontext(attempts[-1])

    stream(url, open_out, **kwargs)
    return attempts[-1].getvalue()


def fetch_optional(url: str, **kwargs) -> bytes | None:
    """:func:`fetch_bytes`, or ``None`` when the file is not published (HTTP 403, 404,
    410: S3-style hosts answer 403 for a missing file)."""
    try:
        return fetch_bytes(url, **kwargs)
    except HTTPStatusError as err:
        if err.status in (403, 404, 410):
            return None
        raise
