"""HTTP(S) downloads with retries, backoff and an optional progress bar.

Only the standard library is used for the transfer; ``tqdm`` draws the bar when
the output is a terminal. Retries cover connection errors, truncated bodies and
5xx/408/429 answers; other 4xx answers fail at once.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import BinaryIO

from .._version import __version__
from ..errors import SourceError

USER_AGENT = f"flaxjs/{__version__}"
_RETRY_STATUS = {408, 429, 500, 502, 503, 504}


class HTTPStatusError(SourceError):
    """The server answered with an error status."""

    def __init__(self, url: str, status: int, reason: str):
        super().__init__(f"GET {url} failed: HTTP {status} {reason}")
        self.url = url
        self.status = status


def _progress_bar(total: int | None, desc: str, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc,
                leave=False)


def _stream_once(url: str, out: BinaryIO, *, timeout: float, progress: bool | None,
                 desc: str) -> int:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        bar = _progress_bar(total, desc, progress)
        received = 0
        try:
            while True:
                chunk = response.read(1 << 20)
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


def stream(url: str, open_out: Callable[[], contextlib.AbstractContextManager[BinaryIO]], *,
           retries: int = 4, backoff: float = 0.5, timeout: float = 60.0,
           progress: bool | None = None, desc: str | None = None) -> int:
    """Download ``url`` into a fresh file object from ``open_out()`` per attempt.

    Args:
      url: an ``http://`` or ``https://`` URL.
      open_out: called before each attempt; returns a context manager giving a
        writable binary file that the attempt fills from its start.
      retries: attempts after the first one for transient failures.
      backoff: the first wait in seconds; doubled after each failure.
      timeout: socket timeout per attempt.
      progress: draw a tqdm bar; ``None`` draws it only when stderr is a terminal.
      desc: label of the bar (default: the URL's last path segment).

    Returns:
      the number of bytes written by the successful attempt.

    Raises:
      HTTPStatusError: a non-retryable status, or a retryable one after the last retry.
      SourceError: a connection error or truncated body after the last retry.
    """
    desc = desc or url.rsplit("/", 1)[-1].split("?")[0] or url
    wait = backoff
    for attempt in range(retries + 1):
        last = attempt == retries
        with open_out() as out:
            try:
                return _stream_once(url, out, timeout=timeout, progress=progress, desc=desc)
            except urllib.error.HTTPError as err:
                if err.code not in _RETRY_STATUS or last:
                    raise HTTPStatusError(url, err.code, str(err.reason)) from None
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError,
                    TimeoutError, OSError) as err:
                if last:
                    raise SourceError(
                        f"GET {url} failed after {retries + 1} attempt(s): {err}") from err
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
