"""One send run's shared parts: its tally (``SendReport``), the queue of recipients
its workers take from, the pacing they share, and the hooks tests replace.

Used by ``delivery`` (which plans the run) and ``worker`` (which does it).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsletter.audience import lifecycle as subs
from newsletter.mail.smtp import SmtpTransport


@dataclass
class SendReport:
    """What one ``send`` run did."""

    # the issue sent
    issue_id: str
    # subscribers the run would have to cover (active, not yet sent)
    planned: int = 0
    # addresses accepted by the server in this run
    sent: list[str] = field(default_factory=list)
    # active subscribers already accepted in an earlier run
    already_sent: int = 0
    # subscribers that failed permanently in an earlier run (not retried)
    failed_before: int = 0
    # (address, server reply) refused permanently (5xx) in this run
    failed: list[tuple[str, str]] = field(default_factory=list)
    # (address, last problem) still not accepted after max_attempts; retried next run
    deferred: list[tuple[str, str]] = field(default_factory=list)
    # subscribers whose topics had no stories in this period
    nothing_new: int = 0
    # addresses marked bounced in this run (hard or soft bounce limit reached)
    bounced: list[str] = field(default_factory=list)
    # recipients another sender had claimed (it is sending them)
    claimed_elsewhere: int = 0
    # rendered variants (distinct topic sets with stories)
    variants: int = 0
    # True when nothing was sent on purpose
    dry_run: bool = False
    # True when --limit stopped the run early
    limited: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """One subscriber to send to, with the variant (topic set) they get."""

    subscriber: subs.Subscriber
    topics: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Hooks:
    """What tests and the CLI put in place of the real world."""

    # the relay connection (None: one per worker from smtp settings)
    transport: SmtpTransport | None = None
    # the time written to the send log and tokens
    clock: Callable[[], datetime] = _now
    # how waits happen (retries' back-off, pacing)
    sleep: Callable[[float], None] = time.sleep
    # called with (handled, total) after each recipient
    on_progress: Callable[[int, int], None] | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the relay did with one copy."""

    # "sent", "failed" (refused for good), "deferred" (try again next run) or
    # "withdrawn" (its claim lapsed while it was retried and another sender took it)
    status: str
    # the server's reply, or why it was not sent
    reply: str
    # how many times it was handed over (0: never, the address cannot be written)
    attempts: int
    # the copy's Message-ID ("" when not written)
    message_id: str = ""


class Queue:
    """The recipients still to do and the run's tally, shared by the worker threads."""

    def __init__(self, report: SendReport, recipients: list[Recipient], limit: int | None):
        self.report = report
        self.total = len(recipients)
        # recipients finished (sent, refused, deferred or skipped), for the progress bar
        self.done = 0
        # the first error a worker met; the others stop taking work
        self.error: BaseException | None = None
        self._todo = list(reversed(recipients))
        self._limit = limit
        self._lock = threading.Lock()

    def take(self, count: int) -> list[Recipient]:
        """Up to ``count`` recipients (fewer near ``--limit``); [] when done or stopped."""
        with self._lock:
            if self.error is not None or not self._todo or not self._may_send():
                return []
            if self._limit is not None:
                report = self.report
                count = min(count, max(1, self._limit - len(report.sent) - len(report.failed)))
            taken = self._todo[-count:]
            del self._todo[-count:]
            return taken[::-1]

    def may_send(self) -> bool:
        """False once ``--limit`` recipients were accepted or refused (and say so)."""
        with self._lock:
            return self.error is None and self._may_send()

    def _may_send(self) -> bool:
        report = self.report
        if self._limit is not None and len(report.sent) + len(report.failed) >= self._limit:
            report.limited = True
            return False
        return True

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = self.error or exc

    def nothing_new(self) -> None:
        """Count a recipient whose topics had no stories in this period."""
        with self._lock:
            self.report.nothing_new += 1
            self.done += 1

    def claimed_elsewhere(self, count: int = 1) -> None:
        """Count recipients another sender holds (or has sent meanwhile)."""
        with self._lock:
            self.report.claimed_elsewhere += count
            self.done += count

    def skipped(self, count: int) -> None:
        """Count recipients who left (unsubscribed, bounced) since the run began."""
        with self._lock:
            self.done += count

    def count(self, address: str, outcome: Outcome, bounced: bool) -> None:
        with self._lock:
            report = self.report
            self.done += 1
            if outcome.status == "sent":
                report.sent.append(address)
            elif outcome.status == "failed":
                report.failed.append((address, outcome.reply))
            else:
                report.deferred.append((address, outcome.reply))
            if bounced:
                report.bounced.append(address)


class Pacer:
    """Keeps all workers together under ``smtp.rate_per_second``: one passes per interval."""

    def __init__(self, rate: float | None, sleep: Callable[[float], None]) -> None:
        self._rate = rate
        self._sleep = sleep
        self._next = 0.0
        self._gate = threading.Lock()

    @property
    def active(self) -> bool:
        return bool(self._rate)

    def wait(self) -> None:
        if not self._rate:
            return
        with self._gate:
            wait = self._next - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._next = time.monotonic() + 1.0 / self._rate
