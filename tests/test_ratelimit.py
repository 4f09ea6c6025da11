"""The request limiter and the quiet log, as values: bounded memory, one bucket per
IPv4 address or IPv6 /64, exact windows, and a flood of one message logged a few
times (issue 19, items 7, 9 and 12)."""

from __future__ import annotations

import logging

from newsletter.state import connect
from newsletter.web.guard import QuietRepeats
from newsletter.web.ratelimit import DatabaseWindows, MemoryWindows, client_key


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_window_is_exact_and_says_when_to_retry() -> None:
    clock = Clock()
    windows = MemoryWindows(3, 600, clock)
    assert [windows.hit("a") for _ in range(3)] == [None, None, None]
    assert windows.hit("a") == 600  # the oldest counted request leaves in 600 s
    clock.now += 599
    assert windows.hit("a") == 1.0  # refused requests are not counted; 1 s to go
    clock.now += 1
    assert windows.hit("a") is None  # the first one left the window
    assert windows.hit("b") is None  # another bucket, its own window
    assert windows.hit("a", count=False) is None  # looking counts nothing
    assert windows.hit("a") is None


def test_memory_is_bounded_whatever_arrives() -> None:
    clock = Clock()
    windows = MemoryWindows(2, 600, clock, max_buckets=1000)
    for n in range(50_000):
        windows.hit(f"client-{n}")
    assert len(windows.buckets) == 1000
    # the most recent clients are the ones kept; a kept client still has its count
    windows.hit("client-49999")
    assert windows.hit("client-49999") is not None


def test_ipv6_clients_are_one_bucket_per_64() -> None:
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:ffff:ffff:ffff:ffff")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.0.2.7") == "192.0.2.7"  # IPv4 through an IPv6 socket
    assert client_key("192.0.2.7") == "192.0.2.7"
    clock = Clock()
    windows = MemoryWindows(2, 600, clock)
    hits = [windows.hit(client_key(f"2001:db8:1:2::{n:x}")) for n in range(1, 5)]
    assert hits[:2] == [None, None] and all(h is not None for h in hits[2:])


def test_windows_in_the_database_are_shared(tmp_path: object) -> None:
    from pathlib import Path

    database = Path(str(tmp_path)) / "state.sqlite3"
    clock = Clock()
    first = DatabaseWindows(lambda: connect(database), "client", 3, 600, clock)
    second = DatabaseWindows(lambda: connect(database), "client", 3, 600, clock)
    assert [first.hit("x"), second.hit("x"), first.hit("x")] == [None, None, None]
    assert second.hit("x") is not None and first.hit("x") is not None
    assert first.hit("y") is None
    clock.now += 1200  # two windows later: forgotten
    assert second.hit("x") is None


def test_a_flood_of_one_message_is_logged_a_few_times() -> None:
    clock = Clock()
    quiet = QuietRepeats(burst=3, window=60, clock=clock)

    def record(msg: str, *args: object) -> logging.LogRecord:
        try:
            raise OSError(24, "Too many open files")
        except OSError:
            import sys

            return logging.LogRecord(
                "asyncio", logging.ERROR, __file__, 1, msg, args, sys.exc_info()
            )

    let = [
        quiet.filter(record("socket.accept() out of system resource: %s", n)) for n in range(10_000)
    ]
    assert let.count(True) == 3
    kept = [record("socket.accept() out of system resource: %s", 0) for _ in range(1)]
    clock.now += 61
    assert quiet.filter(kept[0])
    assert "(9997 more like this were not logged)" in kept[0].getMessage()
    # only the first of a kind in a window keeps its traceback
    first, second = record("other %s", 1), record("other %s", 2)
    assert quiet.filter(first) and first.exc_info is not None
    assert quiet.filter(second) and second.exc_info is None
