"""A local SMTP relay that answers each message after a delay, as real relays do.

    python -m benchmarks.slow_relay PORT [DELAY_SECONDS]

Used by ``benchmarks.senders``; it accepts and discards every message.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

from aiosmtpd.controller import Controller


class SlowSink:
    def __init__(self, delay: float) -> None:
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main() -> None:
    port = int(sys.argv[1])
    delay = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
    controller = Controller(SlowSink(delay), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
