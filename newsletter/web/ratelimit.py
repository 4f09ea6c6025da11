"""Request limits for the public endpoints, and who the client is.

``Windows`` counts requests per bucket (a client, or one reader's link) in a
sliding window; a check touches one bucket only, whatever the number of clients.

- ``MemoryWindows`` keeps them in one process, exactly, at most ``max_buckets``
  (the least recently used are forgotten first), so memory is bounded whatever
  arrives.
- ``DatabaseWindows`` keeps them in the state database (``rate_windows``), so
  several ``serve`` processes on one database (the two-host set-up) share them:
  two fixed windows per bucket, the previous one weighted by how much of it still
  overlaps (the usual approximation; Cloudflare's and nginx's).

``client_key`` turns an address into its bucket: an IPv4 address, or the /64 of an
IPv6 address (one host usually holds a whole /64). ``client_address`` believes
``X-Forwarded-For`` only when the peer is a trusted proxy, taking the last hop
they did not add. Pure apart from the clock and the database.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Protocol

from starlette.requests import Request

from newsletter import state
from newsletter.state import Db


class Windows(Protocol):
    """A sliding-window limit per bucket."""

    # True when a check does I/O (run it off the event loop)
    blocking: bool

    def hit(self, bucket: str, count: bool = True) -> float | None:
        """Count a request (or only look, ``count=False``); None if it is within the
        limit, else seconds until one would be."""


def _retry_after(limit: int, window: float, now: float, current: int, previous: int) -> float:
    """Seconds until ``previous * (1 - elapsed) + current`` drops below ``limit``."""
    start = (now // window) * window
    elapsed = (now - start) / window
    if current < limit and previous:
        # within this window: previous * (1 - f) + current < limit
        f = 1 - (limit - current) / previous
        return max((f - elapsed) * window, 0.0) + 0.001
    # in the next window: current * (1 - f) < limit
    f = 1 - limit / current if current else 0.0
    return (1 - elapsed) * window + max(f, 0.0) * window + 0.001


def _estimate(window: float, now: float, current: int, previous: int) -> float:
    elapsed = (now % window) / window
    return previous * (1 - elapsed) + current


class MemoryWindows:
    """At most ``limit`` requests per bucket in any ``window`` seconds, in memory.

    Exact: each bucket keeps the times of its last ``limit`` counted requests (a
    check touches that bucket only: O(limit), whatever the number of clients), and
    at most ``max_buckets`` buckets are kept, the least recently used forgotten
    first, so memory stays bounded (about 60 MB at the default, limit 10)."""

    blocking = False

    def __init__(
        self,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_buckets = max_buckets
        # bucket -> times of its counted requests still in the window, oldest first
        self.buckets: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self.lock = threading.Lock()

    def hit(self, bucket: str, count: bool = True) -> float | None:
        now = self.clock()
        with self.lock:
            since = now - self.window
            times = tuple(t for t in self.buckets.get(bucket, ()) if t > since)
            if len(times) >= self.limit:
                self._keep(bucket, times)
                return max(times[0] + self.window - now, 1.0)
            if count:
                times = (*times, now)
            if times:
                self._keep(bucket, times)
            else:
                self.buckets.pop(bucket, None)
            return None

    def _keep(self, bucket: str, times: tuple[float, ...]) -> None:
        self.buckets[bucket] = times
        self.buckets.move_to_end(bucket)
        while len(self.buckets) > self.max_buckets:
            self.buckets.popitem(last=False)


class DatabaseWindows:
    """The same limit, counted in the state database that several processes share."""

    blocking = True

    def __init__(
        self,
        connect: Callable[[], Db],
        name: str,
        limit: int,
        window: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.connect = connect
        self.name = name
        self.limit = limit
        self.window = window
        self.clock = clock
        self.hits = 0

    def hit(self, bucket: str, count: bool = True) -> float | None:
        now = self.clock()
        number = int(now // self.window)
        key = f"{self.name}:{bucket}"[:200]
        with self.connect() as db, state.transaction(db):
            current = state.rate_window_hits(db, key, number)
            previous = state.rate_window_hits(db, key, number - 1)
            if _estimate(self.window, now, current, previous) >= self.limit:
                return max(_retry_after(self.limit, self.window, now, current, previous), 1.0)
            if count:
                state.rate_window_hit(db, key, number)
                self.hits += 1
                if self.hits % 1000 == 0:  # old windows: a cheap sweep now and then
                    state.purge_rate_windows(db, number - 1)
        return None


def client_key(address: str) -> str:
    """The bucket of a client address: IPv4 as it is, IPv6 by its /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_address(request: Request, trusted: Sequence[Network]) -> str:
    """The client's address: the peer, or the last untrusted hop a trusted proxy reports."""
    peer = request.client.host if request.client else ""
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def networks(values: Sequence[str]) -> tuple[Network, ...]:
    """``newsletter.signup.trusted_proxies`` as networks (validated by the config)."""
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == n.version and ip in n for n in trusted)
