"""What one limiter check costs as the number of clients grows.

``MemoryWindows.hit`` on a limiter that already holds 1,000 and then 100,000
clients (the most it keeps by default), each hit from a new client, as a flood
from many addresses sends them. Prints microseconds per hit at each size and
the ratio between them (1.0: the cost does not grow with the number of clients;
the limiter before issue 19 rescanned every client on each hit past 50,000). On
demand only:

    .venv/bin/python -m benchmarks.ratelimit
"""

from __future__ import annotations

import time

from newsletter.web.ratelimit import MemoryWindows, client_key


def per_hit(clients: int, hits: int = 50_000) -> float:
    windows = MemoryWindows(10, 600)
    for n in range(clients):
        windows.hit(f"198.18.{n // 256 % 256}.{n % 256}-{n}")
    start = time.perf_counter()
    for n in range(hits):
        windows.hit(client_key(f"2001:db8:{n // 65536:x}:{n % 65536:x}::1"))
    return (time.perf_counter() - start) / hits * 1e6


def main() -> None:
    small, large = per_hit(1_000), per_hit(100_000)
    print(f"1,000 clients: {small:.2f} us a hit; 100,000 clients: {large:.2f} us a hit")
    print(f"ratio 100k / 1k: {large / small:.2f}")


if __name__ == "__main__":
    main()
