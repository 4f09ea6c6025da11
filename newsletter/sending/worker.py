"""One send run's workers: take recipients, send their copies, record them, tally.

``delivery`` plans the run and hands a ``Queue`` of recipients to one ``Sender``
shared by its threads. A worker takes a batch of recipients and claims them in
one transaction (``claims.claim_many``: taken by no one else, not yet in the
send log, still active), which also drops its claims on the copies it has
logged since the last batch and reads the readers as they are now; before half
the claims' lease has gone (pacing, a relay's retries) it renews those of the
readers still waiting and of the copies handed out, and leaves any another
sender took over after a lapse, even a copy it was retrying (``claims.renew``:
"withdrawn"). Then per recipient the steps are separate methods:
personalise the copy (tokens, bytes), pace and hand it to the relay
(``smtp.deliver_one`` retries), write the send-log row as soon as the server
accepted it, let the lifecycle decide what the outcome does to the reader, and
count it.

Over one connection the protocol waits for the server after every command, so
the worker does its own work in those waits (``SmtpTransport.send``): the next
copy is claimed and personalised while the server takes the current one's data,
and a clean delivery's send-log row is committed while the server answers the
next copy's MAIL FROM. That row is still committed before the next copy's data
goes out and before any wait (pacing, a retry's back-off), so a process killed
at any moment leaves at most the one copy the server accepted in the last
microseconds unrecorded, as before. Claims of copies sent and logged are dropped
a batch at a time, with the next batch's claims; claims taken but never used (a
stop, ``--limit``) are dropped before the worker ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from newsletter import state
from newsletter.addresses import header_problem
from newsletter.audience import lifecycle as subs
from newsletter.audience.status import Status
from newsletter.audience.tokens import link_maker, make_expiring_token, make_token
from newsletter.issue.archive import IssueInfo
from newsletter.issue.message import PreparedMessage
from newsletter.mail.returnpath import envelope_sender
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending import claims
from newsletter.sending.queue import Hooks, Outcome, Pacer, Queue
from newsletter.sending.settings import SendSettings
from newsletter.state import Db

# recipients a worker claims in one transaction
BATCH = 32


@dataclass(slots=True)
class Copy:
    """One claimed reader's copy, ready to go (or why it cannot)."""

    # the reader as stored when they were claimed
    reader: subs.Subscriber
    # the message bytes and Message-ID (b"" when the address cannot be written)
    data: bytes
    message_id: str
    # the envelope sender (a VERP address: ``Sender.envelope_from``), made with the
    # copy while the server is busy, not between its answer and the next command
    envelope: str = ""
    # why it cannot be sent ("" when it can)
    problem: str = ""


class Claimed:
    """One worker's claimed recipients, claimed a batch at a time, and the claims
    it still has to drop (copies logged, or never sent)."""

    def __init__(self, sender: Sender, conn: Db, owner: str) -> None:
        self.sender = sender
        self.conn = conn
        self.owner = owner
        self.ready: list[tuple[subs.Subscriber, PreparedMessage]] = []
        # claims of copies already logged: dropped with the next batch
        self.logged: list[int] = []
        # when the claims of ``ready`` and ``out`` are renewed (``time.time()``: half
        # their lease)
        self.renew_at = 0.0
        # readers whose copies were handed out (being sent, or made ahead) and are
        # not done yet
        self.out: set[int] = set()
        # of those, the ones whose claims lapsed and went to another sender
        self.lost: set[int] = set()

    def next(self) -> Copy | None:
        """The next claimed reader's copy, personalised; None when there are no more."""
        while True:
            if self.ready and time.time() >= self.renew_at:
                self._renew()
            if self.ready:
                reader, message = self.ready.pop()
                self.out.add(reader.id)
                return self.sender.personalise(message, reader)
            if not self._refill():
                return None

    def still_ours(self, reader_id: int) -> bool:
        """Whether this worker still holds its claim on ``reader_id``, a copy handed
        out (before it is sent, and before each retry), renewing its claims first
        when half their lease has gone."""
        if time.time() >= self.renew_at:
            self._renew()
        return reader_id not in self.lost

    def done(self, reader_id: int) -> None:
        """The copy of ``reader_id`` was sent, refused, deferred or withdrawn."""
        self.out.discard(reader_id)
        self.lost.discard(reader_id)

    def _lease(self) -> float:
        """How long a claim lasts; the claims are renewed when half of it has gone."""
        lease = self.sender.settings.smtp.claim_lease_seconds
        self.renew_at = time.time() + lease / 2
        return lease

    def _renew(self) -> None:
        """Renew the claims of the copies handed out and of the readers still waiting;
        a reader whose claim lapsed and another sender took over is theirs now: a
        waiting one is dropped here, a copy handed out is marked ``lost``."""
        ids = sorted(self.out) + [reader.id for reader, _ in self.ready]
        now = time.time()
        kept = claims.renew(self.conn, self.sender.info.id, ids, self.owner, now, self._lease())
        self.lost |= self.out - kept
        waiting = len(self.ready)
        self.ready = [(r, m) for r, m in self.ready if r.id in kept]
        if len(self.ready) < waiting:
            self.sender.queue.claimed_elsewhere(waiting - len(self.ready))

    def _refill(self) -> bool:
        queue, info = self.sender.queue, self.sender.info
        taken = queue.take(BATCH)
        if not taken:
            return False
        wanted = []
        for recipient in taken:
            message = self.sender.prepared.get(recipient.topics)
            if message is None:
                queue.nothing_new()
            else:
                wanted.append((recipient.subscriber.id, message))
        ids = [i for i, _ in wanted]
        now, lease = time.time(), self._lease()
        with state.transaction(self.conn):  # one commit: the claims, the readers as now
            claimed = claims.claim_many(
                self.conn, info.id, ids, self.owner, now, lease, self.logged
            )
            current = {s.id: s for s in subs.by_ids(self.conn, sorted(claimed))}
        self.logged = []
        queue.claimed_elsewhere(len(ids) - len(claimed))
        gone = [i for i in claimed if current.get(i) is None or current[i].status != Status.ACTIVE]
        if gone:  # unsubscribed or bounced while this run was going
            claims.release(self.conn, info.id, gone, self.owner)
            queue.skipped(len(gone))
        # kept in queue order, taken from the end
        self.ready = [
            (current[i], message)
            for i, message in reversed(wanted)
            if i in claimed and i not in gone
        ]
        return True

    def flush(self) -> None:
        """Drop the claims of copies already in the send log."""
        if self.logged:
            claims.release(self.conn, self.sender.info.id, self.logged, self.owner)
            self.logged = []

    def close(self, unused: list[int]) -> None:
        """Drop the claims of logged copies, and of ``unused`` and every reader still
        waiting: this worker will not send to them."""
        self.logged.extend(unused + [reader.id for reader, _ in self.ready])
        self.ready = []
        self.flush()


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
    _unsubscribe_link: Callable[[str], str] = field(init=False)
    _preferences_link: Callable[[str], str] = field(init=False)

    def __post_init__(self) -> None:
        self.pacer = Pacer(self.settings.smtp.rate_per_second, self.hooks.sleep)
        self._unsubscribe_link = link_maker(self.settings.unsubscribe_endpoint)
        self._preferences_link = link_maker(self.settings.preferences_endpoint)

    def work_on_own_connection(self) -> None:
        try:
            with state.connect(self.settings.database) as conn:
                self.work(conn, SmtpTransport(self.settings.smtp))
        except BaseException as exc:
            self.queue.fail(exc)

    def work(self, conn: Db, transport: SmtpTransport) -> None:
        claimed = Claimed(self, conn, claims.owner_id())
        unlogged = _Unlogged(self, conn, claimed)
        progress = self.hooks.on_progress
        upcoming: Copy | None = None
        try:
            upcoming = claimed.next()
            while upcoming is not None and self.queue.may_send():
                copy, ahead = upcoming, _Ahead(claimed)
                upcoming = None
                if claimed.still_ours(copy.reader.id):
                    outcome = self.deliver(transport, copy, ahead, unlogged.write)
                else:  # made while a long wait let its claim lapse to another sender
                    outcome = Outcome("withdrawn", "claimed by another sender", 0)
                    unlogged.write()
                    ahead()
                unlogged.write()  # when this send failed before its MAIL FROM went
                if outcome.status == "sent" and not copy.reader.soft_bounce_issues:
                    unlogged.hold(copy, outcome)  # logged as the next MAIL FROM goes out
                else:
                    self.record(conn, copy, outcome)
                    claimed.logged.append(copy.reader.id)
                    self.after(conn, copy, outcome)
                claimed.done(copy.reader.id)
                if progress:
                    progress(self.queue.done, self.queue.total)
                upcoming = ahead.result()
        finally:
            try:
                unlogged.write()  # the last copy's row
            finally:
                try:  # claims taken but not used (--limit, a stop): free them for others
                    claimed.close([upcoming.reader.id] if upcoming is not None else [])
                finally:
                    transport.close()

    def personalise(self, message: PreparedMessage, reader: subs.Subscriber) -> Copy:
        """This reader's copy and its Message-ID, with their signed links."""
        settings, secret, now = self.settings, self.secret, self.hooks.clock()
        token = make_token(secret, reader.id, reader.email)
        expires = int(now.timestamp() + settings.preferences_days * 86_400)
        manage = make_expiring_token(secret, "preferences", reader.id, reader.email, expires)
        try:
            data, message_id = message.message(
                reader.email,
                self._unsubscribe_link(token),
                now,
                self._preferences_link(manage),
            )
        except ValueError as exc:
            # an address stored before today's checks that no header can carry:
            # that reader's failure, never the run's
            return Copy(reader, b"", "", problem=f"not sent: {header_problem(reader.email) or exc}")
        return Copy(reader, data, message_id, self.envelope_from(reader))

    def deliver(
        self,
        transport: SmtpTransport,
        copy: Copy,
        ahead: _Ahead,
        started: Callable[[], None],
    ) -> Outcome:
        """Hand one copy to the relay. ``started`` (the previous copy's send-log row)
        runs once this copy's MAIL FROM is on the wire, and always before any wait;
        ``ahead`` (the next copy) while the server takes this one."""
        if copy.problem:
            started()
            ahead()
            return Outcome("failed", copy.problem, 0)
        if self.pacer.active:
            started()  # never held back by the pacing
        self.pacer.wait()
        status, reply, attempts = deliver_one(
            transport, copy.envelope, copy.reader.email, copy.data,
            self.settings.smtp, self.hooks.sleep, meanwhile=ahead, started=started,
            may_retry=lambda: ahead.claimed.still_ours(copy.reader.id),  # its claim
        )  # fmt: skip
        ahead()  # when the server answered before the copy's data went (a refusal)
        return Outcome(status, reply, attempts, copy.message_id)

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

    def record(self, conn: Db, copy: Copy, outcome: Outcome) -> None:
        """The send-log row, committed at once (none for a deferral: tried next run;
        none for a copy withdrawn: another sender holds the reader now)."""
        if outcome.status not in ("deferred", "withdrawn"):
            state.record_delivery(
                conn,
                issue_id=self.info.id,
                subscriber_id=copy.reader.id,
                email=copy.reader.email,
                status=outcome.status,
                message_id=outcome.message_id,
                reply=outcome.reply,
                attempts=outcome.attempts,
                at=self.hooks.clock().isoformat(timespec="seconds"),
            )

    def after(self, conn: Db, copy: Copy, outcome: Outcome) -> None:
        """What the outcome does to the reader (the lifecycle decides), then the tally."""
        reader = copy.reader
        bounced = False
        if outcome.status == "withdrawn":  # the other sender's to send and count
            self.queue.claimed_elsewhere()
            return
        if outcome.status != "sent" or reader.soft_bounce_issues:  # clean: nothing changes
            bounced = subs.record_delivery_outcome(
                conn,
                reader.id,
                self.info.id,
                outcome.status,
                outcome.reply,
                limits=self.settings.bounces,
                now=self.hooks.clock(),
            )
        self.queue.count(reader.email, outcome, bounced)


class _Unlogged:
    """At most one copy the relay accepted (a clean delivery) whose send-log row is
    written once the next copy's MAIL FROM is on the wire: the commit then runs
    while the server answers that command instead of before it. The row is still
    committed before the next copy's data goes out and before any wait, so a kill
    at any moment leaves at most the one just-accepted copy unrecorded, within
    microseconds of its 250, as writing it at once would."""

    def __init__(self, sender: Sender, conn: Db, claimed: Claimed) -> None:
        self.sender = sender
        self.conn = conn
        self.claimed = claimed
        self.copy: Copy | None = None
        self.outcome: Outcome | None = None

    def hold(self, copy: Copy, outcome: Outcome) -> None:
        assert self.copy is None
        self.copy, self.outcome = copy, outcome
        self.sender.queue.count(copy.reader.email, outcome, False)

    def write(self) -> None:
        copy, outcome = self.copy, self.outcome
        if copy is None or outcome is None:
            return
        self.copy = self.outcome = None
        self.sender.record(self.conn, copy, outcome)
        self.claimed.logged.append(copy.reader.id)


class _Ahead:
    """The next copy, made at most once: while the server takes the current one, or
    after it answered. An error making it waits until the current copy is recorded."""

    def __init__(self, claimed: Claimed) -> None:
        self.claimed = claimed
        self.made = False
        self.copy: Copy | None = None
        self.error: BaseException | None = None

    def __call__(self) -> None:
        if self.made:
            return
        self.made = True
        try:
            self.copy = self.claimed.next()
        except BaseException as exc:  # raised by result(), after the current copy's row
            self.error = exc

    def result(self) -> Copy | None:
        self()
        if self.error is not None:
            raise self.error
        return self.copy
