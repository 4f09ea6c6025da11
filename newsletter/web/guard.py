"""What `feedletter serve` accepts from the network, bounded everywhere.

The server is uvicorn (h11); this module sets it up so that nothing a client
sends can take more than a fixed share of the process (``serve.*`` in config):

- **connections**: at most ``max_connections`` at once, and always well under the
  process's open-file limit (raised to its hard limit at start); one more is
  closed as soon as it is accepted, before it holds anything.
- **time**: a request must arrive whole (line, headers, body) within
  ``request_timeout_seconds`` of the connection opening or of the previous
  answer, else ``408`` and the connection is closed; idle keep-alive connections
  close after ``keep_alive_seconds``. A request the application is answering is
  never cut off.
- **size**: headers at most ``max_header_bytes`` (``431``, or ``400`` when they
  arrive in pieces and h11 stops buffering them); a body larger than
  ``max_body_bytes`` gets ``413`` and is not read further (``BodyLimit``, which
  also reads every body before the application sees it, so no form parser ever
  spools to disk).
- **proxies**: uvicorn's own forwarded-header handling is off; only
  ``newsletter.signup.trusted_proxies`` decides whom to believe (``ratelimit``).
- **the log**: ``QuietRepeats`` lets a few of each kind of message through per
  minute and counts the rest, so a flood of bad connections cannot fill a disk.

``BoundedPool`` is a thread pool with a bounded queue, for work (sign-up mail)
that must never wait on, or starve, the threads that serve files.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import h11
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from newsletter.config import ServerSettings

log = logging.getLogger("feedletter.serve")

# connections accepted in one burst before the server can close extra ones
BACKLOG = 128
# file descriptors kept for everything else: the database, static files, mail, logs
RESERVED_FILES = 64


def open_file_limit() -> int:
    """Raise this process's open-file limit to its hard limit; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return soft


def connection_limit(settings: ServerSettings, open_files: int) -> int:
    """``serve.max_connections``, lowered (with a warning) to what the open-file
    limit can hold."""
    room = max(open_files - BACKLOG - RESERVED_FILES, 8)
    if room < settings.max_connections:
        log.warning(
            "serve.max_connections is %d, but the open-file limit (ulimit -n %d) leaves "
            "room for %d connections: serving at most %d",
            settings.max_connections, open_files, room, room,
        )  # fmt: skip
        return room
    return settings.max_connections


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with a connection cap and a whole-request deadline."""

    # set per server by ``server_config``
    max_connections = 1000
    request_timeout = 15.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # closes the connection if the request is not in by then
        self.deadline: asyncio.TimerHandle | None = None
        # whether the current request has sent anything yet (a silent one gets no 408)
        self.got_bytes = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections:
            transport.abort()  # frees the descriptor at once
            return
        self.arm()

    def arm(self) -> None:
        self.disarm()
        self.deadline = self.loop.call_later(self.request_timeout, self.too_slow)

    def disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def data_received(self, data: bytes) -> None:
        self.got_bytes = True
        super().data_received(data)
        if self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            self.disarm()  # the request is in: answering it is the application's time

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self.got_bytes = False
            self.arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm()
        super().connection_lost(exc)

    def too_slow(self) -> None:
        self.deadline = None
        if self.transport.is_closing() or self.conn.their_state not in (h11.IDLE, h11.SEND_BODY):
            return
        cycle = self.cycle  # the request in progress, or the one answered before
        nothing_sent = cycle is None or cycle.response_complete or not cycle.response_started
        if self.got_bytes and nothing_sent:
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
            )
        if self.cycle is not None:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()


def server_config(
    app: ASGIApp, settings: ServerSettings, host: str, port: int, **extra: Any
) -> uvicorn.Config:
    """The uvicorn configuration of `feedletter serve` (the CLI and the tests share it)."""
    protocol = type(
        "GuardedProtocol",
        (GuardedProtocol,),
        {
            "max_connections": connection_limit(settings, open_file_limit()),
            "request_timeout": settings.request_timeout_seconds,
        },
    )
    return uvicorn.Config(
        BodyLimit(
            app,
            settings.max_body_bytes,
            settings.request_timeout_seconds,
            settings.max_header_bytes,
        ),
        host=host,
        port=port,
        http=protocol,
        ws="none",
        lifespan="on",
        proxy_headers=False,  # trusted_proxies alone decides (ratelimit.client_address)
        server_header=False,
        log_config=None,  # our logging (QuietRepeats); no second set of handlers
        access_log=False,
        backlog=BACKLOG,
        timeout_keep_alive=max(int(settings.keep_alive_seconds), 1),
        h11_max_incomplete_event_size=settings.max_header_bytes,
        timeout_graceful_shutdown=10,
        **extra,
    )


class BodyLimit:
    """ASGI middleware: headers within ``max_header_bytes``; every request body read
    whole, refusing one over ``max_bytes``.

    h11 bounds only headers that arrive in pieces (``max_incomplete_event_size``);
    headers that arrive in one read are measured here, and more than
    ``max_header_bytes`` get ``431``.

    A ``Content-Length`` over the limit gets ``413`` before a byte of the body is
    read; a body that grows past it (chunked) gets ``413`` as soon as it does, and
    the rest is never read (the connection closes). A body that does not arrive
    within ``timeout`` seconds gets ``408``. The application then gets the body in
    one piece, so nothing it parses can be larger than the limit.
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, timeout: float, max_header_bytes: int = 16384
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size = len(scope.get("raw_path", b"")) + len(scope.get("query_string", b""))
        size += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        if size > self.max_header_bytes:
            await _refuse(send, 431, "Request headers too large.")
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await _refuse(send, 413, "Request body too large.")
            return
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body (GET, HEAD, …)
            return
        try:
            outcome, body = await asyncio.wait_for(self._read(receive), self.timeout)
        except TimeoutError:
            await _refuse(send, 408, "Request body too slow.")
            return
        if outcome == "gone":
            return  # the client went away (or was cut off) before its body was in
        if outcome == "too large":
            await _refuse(send, 413, "Request body too large.")
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _read(self, receive: Receive) -> tuple[str, bytes]:
        """("ok", the whole body), ("too large", b"") or ("gone", b""): never came whole."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return "gone", b""
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return "too large", b""
            chunks.append(chunk)
            if not message.get("more_body", False):
                return "ok", b"".join(chunks)


async def _refuse(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class QuietRepeats(logging.Filter):
    """Let ``burst`` records of each kind (logger and message template) through per
    ``window`` seconds; count the rest and say how many on the next one let through.
    Only the first record of a kind in a window keeps its traceback."""

    def __init__(
        self,
        burst: int = 5,
        window: float = 60.0,
        kinds: int = 1000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.kinds = kinds
        self.clock = clock
        # kind -> [window start, let through, held back]
        self.seen: OrderedDict[tuple[str, str], list[float]] = OrderedDict()
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, str(record.msg))
        now = self.clock()
        with self.lock:
            entry = self.seen.get(kind)
            if entry is None or now - entry[0] >= self.window:
                held = int(entry[2]) if entry else 0
                entry = [now, 0, 0]
                self.seen[kind] = entry
                if held:
                    record.msg = f"{record.msg} ({held} more like this were not logged)"
            self.seen.move_to_end(kind)
            while len(self.seen) > self.kinds:
                self.seen.popitem(last=False)
            if entry[1] >= self.burst:
                entry[2] += 1
                return False
            if entry[1] > 0:
                record.exc_info = None
                record.exc_text = None
            entry[1] += 1
            return True


def quiet_logging() -> QuietRepeats:
    """Put one ``QuietRepeats`` on every handler of the root logger (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=logging.WARNING)
    quiet = QuietRepeats()
    for handler in root.handlers:
        if not any(isinstance(f, QuietRepeats) for f in handler.filters):
            handler.addFilter(quiet)
    return quiet


def quiet_loop_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Send the event loop's errors (``accept() out of system resource`` …) through
    the logging module without their tracebacks repeated (``QuietRepeats`` counts them)."""

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        logging.getLogger("asyncio").error(
            "%s%s", context.get("message", "event loop error"), f": {exc!r}" if exc else ""
        )

    loop.set_exception_handler(handler)


class BoundedPool:
    """A thread pool that queues at most ``queue`` jobs; ``submit`` says False when full."""

    def __init__(self, threads: int, queue: int, name: str) -> None:
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)
        self.slots = threading.BoundedSemaphore(threads + queue)
        # jobs queued or running, and a condition that says when it changes
        self._busy = 0
        self._changed = threading.Condition()

    def submit(self, fn: Callable[..., object], *args: object) -> bool:
        if not self.slots.acquire(blocking=False):
            return False
        with self._changed:
            self._busy += 1
        try:
            future: Future[object] = self.executor.submit(fn, *args)
        except RuntimeError:  # shut down
            self._done()
            return False
        future.add_done_callback(lambda _: self._done())
        return True

    def _done(self) -> None:
        self.slots.release()
        with self._changed:
            self._busy -= 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every job submitted so far has finished; False on timeout. (The
        tests wait on this before saying that no further mail was sent.)"""
        with self._changed:
            return self._changed.wait_for(lambda: self._busy == 0, timeout)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
