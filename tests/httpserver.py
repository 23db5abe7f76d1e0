"""A loopback HTTP server over a folder, with fault injection for download tests."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import http.server
import socket
import struct
import threading
import time
from collections import Counter
from pathlib import Path

HTML_PAGE = (b"<!DOCTYPE html><html><head><title>Service unavailable</title></head>"
             b"<body><h1>Please try again later</h1></body></html>")

#: what each fault kind does to one GET (``FaultyServer.faults``).
FAULTS = {
    "503": "answers 503 Service Unavailable",
    "500": "answers 500 Internal Server Error",
    "429": "answers 429 Too Many Requests",
    "404": "answers 404 Not Found",
    "truncate": "sends the full Content-Length, half the body, then closes",
    "reset": "sends the headers and part of the body, then resets the connection (RST)",
    "stall": "reads the request and never answers (until the server stops)",
    "slow": "sends the body 256 bytes at a time, 0.2 s apart",
    "short": "sends the first half of the body with a Content-Length that matches it",
    "garbage": "sends as many bytes as the file, but other ones",
    "html": "answers 200 with an HTML error page",
    "not_a_model": "answers 200 with JSON that is not a model.json",
    "redirect_loop": "redirects to itself",
    "redirect_file": "redirects to file:///etc/passwd",
    "redirect_ftp": "redirects to ftp://127.0.0.1:1/model.json",
}


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: FaultyServer

    def log_message(self, *args):  # keep test output clean
        pass

    def _body(self, path: str) -> bytes:
        return (Path(self.directory) / path.lstrip("/")).read_bytes()

    def _send(self, data: bytes, *, length: int | None = None,
              kind: str = "application/octet-stream") -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data) if length is None else length))
        self.end_headers()

    def _fault(self, kind: str, path: str) -> None:
        if kind in ("503", "500", "429", "404"):
            self.send_error(int(kind), "injected fault")
        elif kind == "truncate":
            data = self._body(path)
            self._send(data)
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.connection.close()
        elif kind == "reset":
            data = self._body(path)
            self._send(data)
            self.wfile.write(data[: len(data) // 3])
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        elif kind == "stall":
            self.server.stop.wait(60)
            self.close_connection = True
        elif kind == "slow":
            data = self._body(path)
            self._send(data)
            for start in range(0, len(data), 256):
                if self.server.stop.is_set():
                    break
                self.wfile.write(data[start:start + 256])
                self.wfile.flush()
                time.sleep(0.2)
        elif kind == "short":
            data = self._body(path)
            data = data[: len(data) // 2]
            self._send(data)
            self.wfile.write(data)
        elif kind == "garbage":
            data = bytes((b + 1) % 256 for b in self._body(path))
            self._send(data)
            self.wfile.write(data)
        elif kind == "html":
            self._send(HTML_PAGE, kind="text/html")
            self.wfile.write(HTML_PAGE)
        elif kind == "not_a_model":
            data = b'{"error": {"code": 404, "message": "model not found"}}'
            self._send(data, kind="application/json")
            self.wfile.write(data)
        elif kind.startswith("redirect_"):
            self.send_response(302)
            self.send_header("Location", {"redirect_loop": self.path,
                                          "redirect_file": "file:///etc/passwd",
                                          "redirect_ftp": "ftp://127.0.0.1:1/model.json"}[kind])
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")

    def do_GET(self):  # noqa: N802 (http.server naming)
        path = self.path.split("?")[0]
        self.server.requests[path] += 1
        self.server.queries.append(self.path)
        fault = self.server.faults.get(path)
        if fault:
            kind, count = fault
            if count > 0:
                self.server.faults[path] = (kind, count - 1)
                self._fault(kind, path)
                return
        self._etag = None
        file = Path(self.directory) / path.lstrip("/")
        if self.server.etags and file.is_file():
            self._etag = '"' + hashlib.sha256(file.read_bytes()).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == self._etag:
                self.server.not_modified[path] += 1
                self.send_response(304)
                self.end_headers()
                return
        super().do_GET()

    def end_headers(self):
        if getattr(self, "_etag", None):
            self.send_header("ETag", self._etag)
        super().end_headers()


class FaultyServer(http.server.ThreadingHTTPServer):
    """``faults[path] = (kind, n)`` makes the next ``n`` GETs of ``path`` fail in one of
    the ways of :data:`FAULTS`. Files carry an ``ETag`` (their hash) and a matching
    ``If-None-Match`` gets 304 (counted in ``not_modified``) unless ``etags`` is False."""

    daemon_threads = True

    def __init__(self, directory: Path, handler: type = _Handler):
        super().__init__(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        self.faults: dict[str, tuple[str, int]] = {}
        self.etags = True
        self.not_modified: Counter[str] = Counter()
        self.stop = threading.Event()  # ends stalls and slow bodies when the server stops

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serve(directory: Path, handler: type = _Handler):
    """A :class:`FaultyServer` of ``directory`` on 127.0.0.1 (``handler``: a subclass of the
    default request handler) for the ``with`` block."""
    server = FaultyServer(directory, handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server():
    """A port on 127.0.0.1 that accepts connections (the kernel's backlog does) and
    never answers: the URL of the ``with`` block."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
