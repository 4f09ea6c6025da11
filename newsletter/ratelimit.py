"""Per-client request limits for the public endpoints, and who the client is.

``SlidingWindow`` counts requests per client address in memory (one ``serve``
process); ``client_address`` believes ``X-Forwarded-For`` only from trusted
proxies, taking the last hop they did not add. Pure apart from the clock.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from starlette.requests import Request


class SlidingWindow:
    """At most ``limit`` requests per client in any ``window`` seconds (in memory)."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self.hits: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def hit(self, client: str) -> float | None:
        """Count a request; None if allowed, else seconds until the next one is."""
        now = self.clock()
        with self.lock:
            if len(self.hits) > 50_000:  # bounded memory: forget idle clients
                self.hits = {k: v for k, v in self.hits.items() if v and v[-1] > now - self.window}
            times = self.hits.setdefault(client, deque())
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(times[0] + self.window - now, 1.0)
            times.append(now)
            return None


def client_address(request: Request, trusted: Sequence[str]) -> str:
    """The client's address: the peer, or the last untrusted hop a trusted proxy reports."""
    peer = request.client.host if request.client else ""
    networks = [_network(t) for t in trusted]
    if not _trusted(peer, networks):
        return peer
    hops = [h.strip() for h in request.headers.get("x-forwarded-for", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


def _network(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


def _trusted(address: str, networks: Sequence[object]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(n is not None and ip in n for n in networks)  # type: ignore[operator]
