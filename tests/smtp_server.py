"""A real SMTP server for the tests: aiosmtpd on 127.0.0.1, with fault injection."""

from __future__ import annotations

import asyncio
import email
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Faults:
    """What the server does wrong, and when."""

    # address -> how many times its RCPT gets a 451 before it is accepted
    greylist: dict[str, int] = field(default_factory=dict)
    # addresses refused with 550 at RCPT
    reject: set[str] = field(default_factory=set)
    # address -> how many times its message gets a 451 after its data arrived
    tempfail_data: dict[str, int] = field(default_factory=dict)
    # close the connection instead of answering the MAIL command after this many
    # accepted messages on that connection
    drop_after: int | None = None
    # SIGKILL this pid when the Nth message (1-based, over the server's life) arrives
    # at DATA, before answering: the client dies with that message unaccepted
    kill_pid: int | None = None
    kill_at: int | None = None
    # SIGKILL the client process (whichever it is) that sends the Nth message, for
    # each N here: it dies with that message unaccepted
    kill_client_at: set[int] = field(default_factory=set)
    # answer each message after this many seconds, like a real relay
    delay: float = 0.0


class Handler:
    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.messages: list[EmailMessage] = []
        # each message's bytes as they arrived (what a DKIM verifier checks)
        self.raw: list[bytes] = []
        # (envelope sender, recipients) of each message, in the same order
        self.envelopes: list[tuple[str, tuple[str, ...]]] = []
        self.lock = threading.Lock()
        # notified (under ``lock``) each time a message is stored
        self.arrived = threading.Condition(self.lock)
        self.data_seen = 0
        self.per_connection: dict[int, int] = {}
        self.killed: list[int] = []

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        drop = self.faults.drop_after
        if drop is not None and self.per_connection.get(id(session), 0) >= drop:
            server.transport.close()
            return "421 closing (test fault)"
        envelope.mail_from = address
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        with self.lock:
            if address in self.faults.reject:
                return "550 5.1.1 mailbox unavailable (test fault)"
            left = self.faults.greylist.get(address, 0)
            if left > 0:
                self.faults.greylist[address] = left - 1
                return "451 4.7.1 greylisted, try again later (test fault)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.faults.delay:
            await asyncio.sleep(self.faults.delay)
        with self.lock:
            for address in envelope.rcpt_tos:
                left = self.faults.tempfail_data.get(address, 0)
                if left > 0:
                    self.faults.tempfail_data[address] = left - 1
                    return "451 4.3.0 try again later (test fault)"
            self.data_seen += 1
            if self.faults.kill_pid and self.data_seen == self.faults.kill_at:
                os.kill(self.faults.kill_pid, signal.SIGKILL)
                return "451 client is gone"
            if self.data_seen in self.faults.kill_client_at:
                pid = client_pid(session.peer[1])
                if pid is not None:
                    os.kill(pid, signal.SIGKILL)
                    self.killed.append(pid)
                    return "451 client is gone"
            message = email.message_from_bytes(envelope.original_content, policy=default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
            self.raw.append(bytes(envelope.original_content))
            self.envelopes.append((str(envelope.mail_from), tuple(envelope.rcpt_tos)))
            self.per_connection[id(session)] = self.per_connection.get(id(session), 0) + 1
            self.arrived.notify_all()
        return "250 Message accepted for delivery"

    def recipients(self) -> list[str]:
        with self.lock:
            return [str(m["To"]) for m in self.messages]


def client_pid(port: int) -> int | None:
    """The pid of the local process whose TCP socket has local ``port`` (Linux /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if int(pid) == os.getpid():
            continue
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


class SmtpServer:
    """Start with ``with SmtpServer() as server:``; ``server.port`` is where it listens."""

    def __init__(
        self,
        faults: Faults | None = None,
        authenticator: Callable[..., AuthResult] | None = None,
    ) -> None:
        self.handler = Handler(faults or Faults())
        self.port = free_port()
        kwargs: dict[str, Any] = {}
        if authenticator is not None:
            kwargs = {"authenticator": authenticator, "auth_require_tls": False}
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def envelope_sender(self, recipient: str) -> str:
        """The envelope sender (MAIL FROM) of the last message sent to ``recipient``."""
        with self.handler.lock:
            found = [s for s, rcpts in self.handler.envelopes if recipient in rcpts]
        assert found, f"nothing was sent to {recipient}"
        return found[-1]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived (mail sent after an HTTP reply).

        It proves nothing about mail that has not arrived: to say "no more", first
        wait until the sender is done (``Served.settle``, a finished send)."""
        with self.handler.arrived:
            self.handler.arrived.wait_for(lambda: len(self.handler.messages) >= count, timeout)
            return list(self.handler.messages)


def refuse_all(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    assert isinstance(data, LoginPassword)
    return AuthResult(success=False, handled=False)
