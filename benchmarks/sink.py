"""Local SMTP servers for the send benchmarks, each in its own process.

``start_sink`` starts aiosmtpd's Sink (or ``benchmarks.slow_relay``) on a free
port of 127.0.0.1 and returns once it accepts connections, not after a guess.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

from .corpus import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 30) -> None:
    """Return once something accepts connections on ``port``; exit if ``process``
    ended or the time is up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server for port {port} exited ({process.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing accepted connections on port {port} within {seconds:g} s")


def start_sink(port: int, delay: float | None = None) -> subprocess.Popen[bytes]:
    """aiosmtpd's Sink on ``port`` (``delay``: the slow relay, answering each message
    after that many seconds), started and accepting."""
    if delay is None:
        command = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                   "-c", "aiosmtpd.handlers.Sink"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "benchmarks.slow_relay", str(port), str(delay)]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_for_port(port, process)
    return process
