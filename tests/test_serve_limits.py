"""A real `feedletter serve` process attacked from outside: nothing a client sends
takes more than a bounded share of it (issue 19).

Body and header sizes, idle and half-sent connections, connections beyond the
open-file limit, a relay that never answers, a locked database, forwarded
headers from an untrusted peer, a hostile Host header, and the limits that
readers behind one address share. Each waits on what it can observe (a status
line, a closed socket, a connection the relay holds), never on a sleep.
"""

from __future__ import annotations

import json
import select
import socket
import sqlite3
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.build import build_feeds
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import make_expiring_token, make_token
from newsletter.config import Config, load_config
from newsletter.state import connect

from .conftest import NOW
from .serving import ServeProcess, read_to_end, wait_until
from .smtp_server import Faults, SmtpServer, free_port
from .test_web import SECRET


def setup(project: Path, smtp_port: int, **sections: dict[str, object]) -> Config:
    """The fixture project with SMTP at ``smtp_port`` and extra config ``sections``."""
    blocks = {
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "security": "none",
                 "max_attempts": 1, "timeout_seconds": 120},
        "state": {"database": "var/state.sqlite3", "lock_wait_seconds": 0},
        **sections,
    }  # fmt: skip
    path = project / "config.yaml"
    text = path.read_text()
    signup = blocks.pop("signup", None)
    if signup:
        lines = "".join(f"    {k}: {json.dumps(v)}\n" for k, v in signup.items())
        text = text.replace("newsletter:\n", f"newsletter:\n  signup:\n{lines}", 1)
    for name, values in blocks.items():
        text += f"{name}:\n" + "".join(f"  {k}: {json.dumps(v)}\n" for k, v in values.items())
    path.write_text(text)
    config = load_config(path)
    build_feeds(config, NOW)
    return config


def form(**fields: str) -> bytes:
    return urllib.parse.urlencode(fields).encode()


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer(Faults()) as server:
        yield server


class HungRelay:
    """A 'mail server' that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.held: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.accept, daemon=True)

    def accept(self) -> None:
        self.listener.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.held.append(conn)

    def __enter__(self) -> HungRelay:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.held:
            conn.close()
        self.listener.close()


# --- 2. bodies --------------------------------------------------------------------------


def test_bodies_over_the_limit_get_413_and_are_not_read(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    setup(fixture_project, smtp.port, serve={"max_body_bytes": 65536})
    with ServeProcess(fixture_project) as server:
        before = server.rss_kib()
        # a Content-Length of 1 GB: refused before a byte of the body is read
        head = (
            b"POST /news/subscribe HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: 1000000000\r\n\r\nemail=a%40example.com&name="
        )
        assert server.raw(head).startswith(b"HTTP/1.1 413 ")

        # four chunked sign-up bodies of 16 MB at once, many small fields each: each
        # is cut off at the limit, and the server never holds them
        def chunked(results: list[bytes]) -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(
                    b"POST /news/subscribe HTTP/1.1\r\nHost: x\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n"
                )
                piece = b"x=" + b"y" * 1000 + b"&"
                chunk = b"%x\r\n%s\r\n" % (len(piece) * 64, piece * 64)
                try:
                    for _ in range(256):  # 16 MB
                        sock.sendall(chunk)
                    sock.sendall(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the server stopped reading: what we want
                results.append(read_to_end(sock))

        results: list[bytes] = []
        threads = [threading.Thread(target=chunked, args=(results,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(results) == 4
        assert all(r.startswith(b"HTTP/1.1 413 ") for r in results), [r[:40] for r in results]
        # a multipart body with a file part: no file is ever spooled
        boundary = b"b0undary"
        multipart = (
            b"--" + boundary + b'\r\nContent-Disposition: form-data; name="email"\r\n\r\n'
            b"a@example.com\r\n--" + boundary + b"\r\nContent-Disposition: form-data; "
            b'name="upload"; filename="big.bin"\r\n'
            b"Content-Type: application/octet-stream\r\n\r\n"
            + b"z" * 2_000_000
            + b"\r\n--"
            + boundary
            + b"--\r\n"
        )
        answer = server.raw(
            b"POST /news/subscribe HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b0undary\r\n"
            b"Content-Length: %d\r\n\r\n" % len(multipart) + multipart
        )
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:80]
        assert server.rss_kib() - before < 30_000  # KiB: the bodies never lived in memory
        # a form within the limit is still a sign-up
        status, _, body = server.request("/news/subscribe", form(email="ok@example.com"))
        assert status == 200 and b"Check your inbox" in body


# --- 7. idle, half-sent and too many connections ----------------------------------------


def test_idle_and_half_sent_connections_are_closed_and_the_log_stays_small(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    """260+ idle sockets against a server whose open-file limit is 256: the extra ones
    are closed at once, the rest when their request does not come in time; the server
    answers afterwards and its log holds a few lines, not a traceback per connection."""
    setup(fixture_project, smtp.port, serve={"request_timeout_seconds": 2})
    with ServeProcess(fixture_project, open_files=256) as server:
        idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(300)]
        try:
            # every idle socket is closed by the server (EOF), within the guard
            open_ = list(idle)
            deadline = time.monotonic() + 60
            while open_ and time.monotonic() < deadline:
                ready, _, _ = select.select(open_, [], [], 1.0)
                for sock in ready:
                    try:
                        data = sock.recv(1024)
                    except ConnectionResetError:
                        data = b""
                    assert data == b"", data  # an idle connection gets no answer, just EOF
                    open_.remove(sock)
            assert not open_, f"{len(open_)} idle connections still open"
        finally:
            for sock in idle:
                sock.close()
        # a request that stops half-way, in its body or in its headers: 408, closed
        for stalled in (
            b"POST /news/subscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nemail=",
            b"GET /news/ HTTP/1.1\r\nHost:",
        ):
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(stalled)
                assert read_to_end(sock).startswith(b"HTTP/1.1 408 "), stalled
        status, _, _ = server.request("/news/index.html")
        assert status == 200
        lines = server.output().splitlines()
        assert len(lines) < 40, lines[:60]


def test_headers_over_the_limit_are_refused(fixture_project: Path, smtp: SmtpServer) -> None:
    setup(fixture_project, smtp.port, serve={"max_header_bytes": 4096})
    with ServeProcess(fixture_project) as server:
        answer = server.raw(
            b"GET /news/ HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"j" * 8000 + b"\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 431 ")
        # the same headers sent in small pieces: h11 stops buffering them (400)
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(b"GET /news/ HTTP/1.1\r\nHost: x\r\nX-Junk: ")
            try:
                for _ in range(20):
                    sock.sendall(b"j" * 1000)  # never the blank line that ends headers
            except (BrokenPipeError, ConnectionResetError):
                pass
            assert read_to_end(sock).startswith(b"HTTP/1.1 400 ")
        assert server.request("/news/")[0] == 200


# --- 6. a relay that never answers --------------------------------------------------------


def test_a_hung_relay_stalls_no_other_request(fixture_project: Path) -> None:
    with HungRelay() as relay:
        setup(
            fixture_project,
            relay.port,
            signup={"per_client_requests": 100},
            serve={"mail_threads": 2},
        )
        with ServeProcess(fixture_project) as server:
            for n in range(45):
                status, _, _ = server.request("/news/subscribe", form(email=f"r{n}@example.com"))
                assert status == 200
            # both sign-up mail threads are stuck in the relay (observable: it holds them)
            wait_until(lambda: len(relay.held) >= 2, what="the relay holding both mail threads")
            # files and the other endpoints answer as ever (a stall would outlast this)
            for path in ("/news/index.html", "/news/atom.xml", "/news/subscribe"):
                assert server.request(path, timeout=10)[0] == 200
            assert len(relay.held) == 2  # the pool is bounded: no third connection


# --- 8. a locked database ---------------------------------------------------------------


def test_a_locked_database_delays_only_the_requests_that_write(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    config = setup(fixture_project, smtp.port)
    with connect(config.database) as conn:
        reader, _ = subs.add(conn, "ada@example.com")
    expires = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    token = make_expiring_token(SECRET, "preferences", reader.id, reader.email, expires)
    with ServeProcess(fixture_project) as server:
        assert config.database.path is not None
        holder = sqlite3.connect(config.database.path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        answers: list[int] = []
        saving = threading.Thread(
            target=lambda: answers.append(
                server.request(
                    f"/news/preferences?token={token}", form(topics="portals"), timeout=60
                )[0]
            )
        )
        saving.start()
        try:
            # while that save waits for the lock, everything else answers
            for path in ("/news/index.html", f"/news/preferences?token={token}", "/news/"):
                assert server.request(path, timeout=10)[0] == 200
            assert saving.is_alive() and not answers  # the save is still waiting
            # a sign-up is answered too, before its decision (which waits for the lock)
            status, _, _ = server.request("/news/subscribe", form(email="ada@example.com"))
            assert status == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        saving.join(timeout=60)
        assert answers == [200]


# --- 5. forwarded headers ---------------------------------------------------------------


def test_no_trusted_proxies_means_no_forwarded_header_is_believed(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    config = setup(
        fixture_project, smtp.port, signup={"trusted_proxies": [], "per_client_requests": 10}
    )
    with ServeProcess(fixture_project) as server:
        codes = [
            server.request(
                "/news/subscribe",
                form(email=f"p{n}@example.com"),
                {"X-Forwarded-For": f"198.51.100.{n}", "X-Real-IP": f"198.51.100.{n}",
                 "Forwarded": f"for=198.51.100.{n}"},
            )[0]
            for n in range(12)
        ]  # fmt: skip
        assert codes == [200] * 10 + [429] * 2
        smtp.wait_for(10)
    with connect(config.database) as conn:
        ips = {s.consent_ip for s in subs.listing(conn)}
    assert ips == {"127.0.0.1"}


# --- 12. limits that readers behind one address do not share ------------------------------


def test_valid_links_from_one_address_are_not_limited_by_the_client_window(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    """An office NAT: 30 readers open their preferences from one address after the
    Monday issue. Valid links count against each reader; bad links and sign-ups
    against the address."""
    config = setup(
        fixture_project, smtp.port, signup={"per_client_requests": 3, "per_reader_requests": 5}
    )
    expires = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    tokens = []
    with connect(config.database) as conn:
        for n in range(30):
            reader, _ = subs.add(conn, f"colleague{n}@example.com")
            tokens.append(
                make_expiring_token(SECRET, "preferences", reader.id, reader.email, expires)
            )
    with ServeProcess(fixture_project) as server:
        assert [server.request(f"/news/preferences?token={t}")[0] for t in tokens] == [200] * 30
        # one reader's link past its own window
        mine = [server.request(f"/news/preferences?token={tokens[0]}")[0] for _ in range(5)]
        assert mine == [200] * 4 + [429]
        # bad links count against the address: 3, then 429
        bad = [
            server.request(f"/news/preferences?token=1.ffffffff.{'A' * 43}")[0] for _ in range(4)
        ]
        assert bad == [400] * 3 + [429]
        # and the other readers' valid links still work from it
        assert server.request(f"/news/preferences?token={tokens[1]}")[0] == 200
        unsubscribe = make_token(SECRET, 2, "colleague1@example.com")
        assert server.request(f"/news/unsubscribe?token={unsubscribe}")[0] == 200


# --- 9. windows shared by two serve processes on one database -------------------------------


def test_shared_limits_hold_across_serve_processes(fixture_project: Path, smtp: SmtpServer) -> None:
    setup(fixture_project, smtp.port, signup={"per_client_requests": 10, "shared_limits": True})
    with ServeProcess(fixture_project) as first, ServeProcess(fixture_project) as second:
        codes = [
            (first if n % 2 else second).request(
                "/news/subscribe", form(email=f"s{n}@example.com")
            )[0]
            for n in range(12)
        ]
    assert codes == [200] * 10 + [429] * 2


# --- 10. smaller holes ------------------------------------------------------------------


def test_a_hostile_host_header_never_reaches_pages_or_feeds(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    """The preview writes the Host it was reached at into pages and feeds; a Host
    that is no host name gets the published bytes instead."""
    from .test_web import serve

    config = setup(fixture_project, smtp.port)
    for served in serve(config, preview=True):
        status, _, body = served.request(
            "/news/topics/portals/feed.json", headers={"Host": 'evil".example'}
        )
        assert status == 200
        feed = json.loads(body)  # still JSON
        assert feed["home_page_url"].startswith("https://fixture.example.org/news")
        assert b"evil" not in body
        status, _, body = served.request(
            "/news/topics/portals/feed.json", headers={"Host": "127.0.0.1:8123"}
        )
        assert json.loads(body)["home_page_url"].startswith("http://127.0.0.1:8123/news")


def test_token_ids_too_large_for_the_database_are_invalid_links(
    fixture_project: Path, smtp: SmtpServer
) -> None:
    setup(fixture_project, smtp.port, signup={"per_client_requests": 100})
    with ServeProcess(fixture_project) as server:
        for page, token in [
            ("unsubscribe", f"{2**63}.{'A' * 43}"),
            ("preferences", f"{2**64 - 1}.ffff.{'A' * 43}"),
            ("confirm", f"9223372036854775807.{2**63}.ffff.{'A' * 43}"),
        ]:
            assert server.request(f"/news/{page}?token={token}")[0] == 400, page
        assert "Traceback" not in server.output()


@pytest.mark.parametrize("secret", [" " * 16, "a" * 32, "short"])
def test_a_secret_that_is_no_secret_is_refused(
    fixture_project: Path, smtp: SmtpServer, secret: str
) -> None:
    from click.testing import CliRunner

    from newsletter.cli import cli

    setup(fixture_project, smtp.port)
    result = CliRunner(env={"FEEDLETTER_SECRET": secret}).invoke(
        cli, ["--quiet", "serve", "--config", str(fixture_project / "config.yaml")]
    )
    assert result.exit_code == 1
    assert "FEEDLETTER_SECRET must hold the link-signing secret" in result.stderr
