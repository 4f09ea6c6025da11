"""A real `feedletter serve` process for tests that attack it from outside."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from .smtp_server import free_port
from .test_web import SECRET


def wait_until(condition: Callable[[], object], seconds: float = 30, what: str = "") -> None:
    """Poll ``condition`` (an observable event) until it holds; fail after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


class ServeProcess:
    """``feedletter serve --production`` in ``project``; ``with`` starts and stops it."""

    def __init__(
        self, project: Path, open_files: int | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.project = project
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.open_files = open_files
        self.env = {**os.environ, "FEEDLETTER_SECRET": SECRET.decode(), **(env or {})}
        self.log = project / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def _limits(self) -> None:
        if self.open_files is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (self.open_files, self.open_files))

    def __enter__(self) -> ServeProcess:
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "newsletter", "serve", "--production",
                 "--port", str(self.port)],
                cwd=self.project,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limits if self.open_files is not None else None,
            )  # fmt: skip
        wait_until(self.answers, 30, f"serve on port {self.port} ({self.output()})")
        return self

    def answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"serve exited: {self.output()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        except OSError:
            return False

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def rss_kib(self) -> int:
        """The server's resident memory now (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def request(
        self,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10,
    ) -> tuple[int, dict[str, str], bytes]:
        method = "POST" if data is not None else "GET"
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def raw(self, data: bytes, timeout: float = 30) -> bytes:
        """Send ``data`` on a new connection and read until the server closes it.

        The server may answer and close before it has read all of ``data`` (a body
        over the limit): the send then fails, and the answer is still there to read
        (Linux keeps what arrived before the reset)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(data)
            return read_to_end(sock)


def read_to_end(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)
