"""A WebSub hub on 127.0.0.1 for the tests: it records every publish ping it gets.

It answers ``status`` (204 unless a test changes it) to each POST and keeps the
form fields and the time; ``down()`` closes the port so pings get no answer.
"""

from __future__ import annotations

import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .smtp_server import free_port


class Hub:
    """The hub; use as a context manager."""

    def __init__(self, status: int = 204) -> None:
        # what to answer each ping with
        self.status = status
        # every ping received: its form fields (each a list, as parse_qs gives them)
        self.pings: list[dict[str, list[str]]] = []
        self.port = free_port()
        self._server: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hub"

    def topics(self) -> list[str]:
        """The hub.url of every ping, in the order received."""
        with self._lock:
            return [fields["hub.url"][0] for fields in self.pings]

    def clear(self) -> None:
        with self._lock:
            self.pings.clear()

    def up(self) -> None:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                fields = urllib.parse.parse_qs(body)
                fields["content-type"] = [self.headers.get("Content-Type", "")]
                with hub._lock:
                    hub.pings.append(fields)
                self.send_response(hub.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Hub:
        self.up()
        return self

    def __exit__(self, *exc: object) -> None:
        self.down()
