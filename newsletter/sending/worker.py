"""One send run's workers: take a recipient, send their copy, record it, tally it.

``delivery`` plans the run and hands a ``Queue`` of recipients to one ``Sender``
shared by its threads. Per recipient the steps are separate functions: check the
reader is still active and claim them, personalise the copy (tokens, bytes),
pace and hand it to the relay (``smtp.deliver_one`` retries), write the send-log
row and drop the claim in one transaction, let the lifecycle decide what the
outcome does to the reader, then count it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from newsletter import state
from newsletter.addresses import header_problem
from newsletter.audience import lifecycle as subs
from newsletter.audience.status import Status
from newsletter.audience.tokens import make_expiring_token, make_token, signed_link
from newsletter.issue.archive import IssueInfo
from newsletter.issue.message import PreparedMessage
from newsletter.mail.returnpath import envelope_sender
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending import claims
from newsletter.sending.settings import SendSettings
from newsletter.state import Db


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

    # "sent", "failed" (refused for good) or "deferred" (try again next run)
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
        self.handled = 0
        # the first error a worker met; the others stop taking work
        self.error: BaseException | None = None
        self._todo = list(reversed(recipients))
        self._limit = limit
        self._lock = threading.Lock()

    def take(self) -> Recipient | None:
        with self._lock:
            report = self.report
            if self.error is not None or not self._todo:
                return None
            if self._limit is not None and len(report.sent) + len(report.failed) >= self._limit:
                report.limited = True
                return None
            self.handled += 1
            return self._todo.pop()

    def fail(self, exc: BaseException) -> None:
        with self._lock:
            self.error = self.error or exc

    def nothing_new(self) -> None:
        """Count a recipient whose topics had no stories in this period."""
        with self._lock:
            self.report.nothing_new += 1

    def claimed_elsewhere(self) -> None:
        """Count a recipient another sender holds."""
        with self._lock:
            self.report.claimed_elsewhere += 1

    def count(self, address: str, outcome: Outcome, bounced: bool) -> None:
        with self._lock:
            report = self.report
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

    def wait(self) -> None:
        if not self._rate:
            return
        with self._gate:
            wait = self._next - time.monotonic()
            if wait > 0:
                self._sleep(wait)
            self._next = time.monotonic() + 1.0 / self._rate


@dataclass
class Sender:
    """Sends one issue's prepared copies to what the queue hands out."""

    settings: SendSettings
    info: IssueInfo
    # one prepared message per topic set with stories; no entry = nothing new
    prepared: dict[tuple[str, ...], PreparedMessage]
    secret: bytes
    queue: Queue
    hooks: Hooks
    pacer: Pacer = field(init=False)

    def __post_init__(self) -> None:
        self.pacer = Pacer(self.settings.smtp.rate_per_second, self.hooks.sleep)

    def work_on_own_connection(self) -> None:
        try:
            with state.connect(self.settings.database) as conn:
                self.work(conn, SmtpTransport(self.settings.smtp))
        except BaseException as exc:
            self.queue.fail(exc)

    def work(self, conn: Db, transport: SmtpTransport) -> None:
        owner = claims.owner_id()
        progress = self.hooks.on_progress
        try:
            while (recipient := self.queue.take()) is not None:
                self.send_one(conn, transport, recipient, owner)
                if progress:
                    progress(self.queue.handled, self.queue.total)
        finally:
            transport.close()

    def send_one(
        self, conn: Db, transport: SmtpTransport, recipient: Recipient, owner: str
    ) -> None:
        message = self.prepared.get(recipient.topics)
        if message is None:
            self.queue.nothing_new()
            return
        current = self.claim(conn, recipient.subscriber, owner)
        if current is None:
            return
        outcome = self.deliver(transport, message, current)
        self.record(conn, current, outcome, owner)
        bounced = False
        if outcome.status != "sent" or current.soft_bounce_issues:  # clean: nothing changes
            bounced = subs.record_delivery_outcome(
                conn,
                current.id,
                self.info.id,
                outcome.status,
                outcome.reply,
                limits=self.settings.bounces,
                now=self.hooks.clock(),
            )
        self.queue.count(current.email, outcome, bounced)

    def claim(self, conn: Db, subscriber: subs.Subscriber, owner: str) -> subs.Subscriber | None:
        """The reader as stored now, claimed for this run; None when they left since
        the run began or another sender holds them."""
        current = subs.by_id(conn, subscriber.id)
        if current is None or current.status != Status.ACTIVE:
            return None  # unsubscribed while this run was going
        lease = self.settings.smtp.claim_lease_seconds
        if not claims.claim(conn, self.info.id, current.id, owner, time.time(), lease):
            self.queue.claimed_elsewhere()
            return None
        return current

    def personalise(self, message: PreparedMessage, reader: subs.Subscriber) -> tuple[bytes, str]:
        """This reader's copy and its Message-ID, with their signed links."""
        settings, secret, now = self.settings, self.secret, self.hooks.clock()
        token = make_token(secret, reader.id, reader.email)
        expires = int(now.timestamp() + settings.preferences_days * 86_400)
        manage = make_expiring_token(secret, "preferences", reader.id, reader.email, expires)
        return message.message(
            reader.email,
            signed_link(settings.unsubscribe_endpoint, token),
            now,
            signed_link(settings.preferences_endpoint, manage),
        )

    def deliver(
        self, transport: SmtpTransport, message: PreparedMessage, reader: subs.Subscriber
    ) -> Outcome:
        try:
            data, message_id = self.personalise(message, reader)
        except ValueError as exc:
            # an address stored before today's checks that no header can carry:
            # that reader's failure, never the run's
            return Outcome("failed", f"not sent: {header_problem(reader.email) or exc}", 0)
        self.pacer.wait()
        status, reply, attempts = deliver_one(
            transport, self.envelope_from(reader), reader.email, data, self.settings.smtp,
            self.hooks.sleep,
        )  # fmt: skip
        return Outcome(status, reply, attempts, message_id)

    def envelope_from(self, reader: subs.Subscriber) -> str:
        """The envelope sender of this reader's copy: a keyed VERP address, so what
        returns proves which reader and issue it is about (``returnpath``)."""
        settings = self.settings
        if not settings.bounces.verp:
            return settings.return_path
        return envelope_sender(
            settings.return_path,
            self.secret,
            self.info.id,
            reader.id,
            reader.email,
            settings.bounces.verp_delimiter,
        )

    def record(self, conn: Db, reader: subs.Subscriber, outcome: Outcome, owner: str) -> None:
        """The send-log row (none for a deferral) and the end of the claim, together."""
        with state.transaction(conn):
            if outcome.status != "deferred":
                state.record_delivery(
                    conn,
                    issue_id=self.info.id,
                    subscriber_id=reader.id,
                    email=reader.email,
                    status=outcome.status,
                    message_id=outcome.message_id,
                    reply=outcome.reply,
                    attempts=outcome.attempts,
                    at=self.hooks.clock().isoformat(timespec="seconds"),
                )
            state.drop_claim(conn, self.info.id, reader.id, owner)
