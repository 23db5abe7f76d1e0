"""A loopback HTTP server over a folder, with fault injection for download tests."""

from __future__ import annotations

import contextlib
import functools
import http.server
import threading
from collections import Counter
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: "FaultyServer"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):  # noqa: N802 (http.server naming)
        path = self.path.split("?")[0]
        self.server.requests[path] += 1
        self.server.queries.append(self.path)
        fault = self.server.faults.get(path)
        if fault:
            kind, count = fault
            if count > 0:
                self.server.faults[path] = (kind, count - 1)
                if kind == "503":
                    self.send_error(503, "try later")
                    return
                if kind == "404":
                    self.send_error(404, "gone")
                    return
                if kind == "truncate":
                    data = (Path(self.directory) / path.lstrip("/")).read_bytes()
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.connection.close()
                    return
        super().do_GET()


class FaultyServer(http.server.ThreadingHTTPServer):
    """``faults[path] = (kind, n)`` makes the next ``n`` GETs of ``path`` fail with
    ``"503"``, ``"404"`` or a ``"truncate"``d body."""

    daemon_threads = True

    def __init__(self, directory: Path, handler: type = _Handler):
        super().__init__(("127.0.0.1", 0), functools.partial(handler, directory=str(directory)))
        self.requests: Counter[str] = Counter()
        self.queries: list[str] = []
        self.faults: dict[str, tuple[str, int]] = {}

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
        server.shutdown()
        server.server_close()
