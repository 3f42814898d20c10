"""A fake upstream HTTP server on 127.0.0.1 for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[["FakeUpstream", BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes]]


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops SYNs when 20 clients connect at once (1 s retry).
    request_queue_size = 128
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The daemon under test may be killed while a delayed answer is pending; that is expected.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


class FakeUpstream:
    """Serves canned responses by path; records every request (method, path, headers)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        self.delay = 0.0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                upstream.requests.append((self.command, self.path, dict(self.headers)))
                if upstream.delay:
                    time.sleep(upstream.delay)
                path = self.path.split("?", 1)[0]
                status, headers, body = upstream.routes.get(path, (404, {}, b'{"error":"not found"}'))
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def set_json(self, path: str, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        """Answer `path` with JSON."""
        self.routes[path] = (status, headers or {}, json.dumps(data).encode())

    def __enter__(self) -> FakeUpstream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
