"""Deliver an issue to every active subscriber, once, over one or more SMTP connections.

For each distinct topic set among the subscribers the issue is planned and
rendered once (premailer never runs per recipient); each recipient's message is
then composed by filling placeholders. Each recipient is claimed first
(``claims``), so worker threads and other senders never send a second copy. A
row in ``deliveries`` is written only after the server accepted the message, and
committed at once, so re-running after a crash, a dropped connection or Ctrl-C
sends to everyone not yet accepted and to nobody already accepted. (The one
window left — the server accepted, the process died before the row was
committed — is microseconds wide; the stable Message-ID lets receiving servers
drop such a repeat.)

Retries and the SMTP answers are ``smtp``'s business: 4xx and dropped
connections are retried, then the recipient is left for the next run; a 5xx
marks that recipient failed and feeds the bounce rules; an authentication
failure, or a 5xx for the sender, stops the run. The lifecycle decides what an
outcome does to the reader (``lifecycle.record_delivery_outcome``, decided by ``audience.status``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from feeds.build import Project, select
from feeds.rendering.templating import environment
from newsletter import state
from newsletter.addresses import header_problem
from newsletter.audience import lifecycle as subs
from newsletter.audience.status import Status
from newsletter.audience.tokens import make_expiring_token, make_token, secret_from_env, signed_link
from newsletter.config import Config, Database
from newsletter.errors import NoIssue, SendWindowClosed, UnknownIssue
from newsletter.issue.archive import IssueInfo, read_issues
from newsletter.issue.message import PreparedMessage, return_path
from newsletter.issue.plan import Period, plan_issue
from newsletter.issue.render import RenderedIssue, render_issue
from newsletter.mail.returnpath import envelope_sender
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending import claims
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


def find_issue(config: Config, issue_id: str | None) -> IssueInfo:
    """The archived issue to send: ``issue_id``, or the newest one."""
    issues = read_issues(config.issues_folder)
    if not issues:
        raise NoIssue(config.issues_folder)
    if issue_id is None:
        return max(issues, key=lambda i: (i.end, i.id))
    for info in issues:
        if info.id == issue_id:
            return info
    raise UnknownIssue(issue_id, sorted(i.id for i in issues))


def check_window(info: IssueInfo, config: Config, now: datetime, force: bool) -> None:
    """Refuse an issue whose period ended too long ago, unless ``force``."""
    window = timedelta(hours=config.newsletter.send_window_hours)
    if not force and now > info.end_time + window:
        raise SendWindowClosed(info.id, info.end_time, config.newsletter.send_window_hours)


@dataclass(frozen=True, slots=True)
class Recipient:
    """One subscriber to send to, with the variant (topic set) they get."""

    subscriber: subs.Subscriber
    topics: tuple[str, ...]


def issue_topics(config: Config, project: Project) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The default topic set (``newsletter.topics``, or all topics) and the order of
    sections: the defaults first, then any other topic a subscriber may choose."""
    known = [t.id for t in project.topics.topics]
    default = tuple(config.newsletter.topics or known)
    return default, default + tuple(t for t in known if t not in default)


def variant_topics(
    subscriber: subs.Subscriber, default: Sequence[str], order: Sequence[str]
) -> tuple[str, ...]:
    """The topic set of the issue a subscriber gets: theirs (in issue order), or the default."""
    if not subscriber.topics:
        return tuple(default)
    return tuple(t for t in order if t in subscriber.topics)


def render_variants(
    project: Project, config: Config, period: Period, topic_sets: Sequence[tuple[str, ...]]
) -> dict[tuple[str, ...], RenderedIssue | None]:
    """One rendered issue per distinct topic set (None when it has no stories)."""
    selection = select(project, now=period.end, since=period.start)
    env = environment(config.templates)
    settings = config.newsletter
    variants: dict[tuple[str, ...], RenderedIssue | None] = {}
    for topics in dict.fromkeys(topic_sets):
        plan = plan_issue(
            selection,
            project.topics,
            period,
            topic_ids=topics,
            items_per_topic=settings.items_per_topic,
            top_stories=settings.top_stories,
        )
        variants[topics] = None if plan.is_empty else render_issue(plan, env, config.site, settings)
    return variants


def send_issue(
    conn: Db,
    project: Project,
    config: Config,
    info: IssueInfo,
    *,
    dry_run: bool = False,
    limit: int | None = None,
    transport: SmtpTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> SendReport:
    """Send issue ``info`` to every active subscriber not yet accepted for it.

    ``workers`` senders share the run, each with its own SMTP connection and
    database connection; recipients are claimed (``claims``), so they and any
    other ``send`` on the same database never send one recipient two copies.
    """
    report = SendReport(info.id, dry_run=dry_run)
    done = state.delivery_statuses(conn, info.id)
    recipients: list[Recipient] = []
    default, order = issue_topics(config, project)
    for subscriber in subs.listing(conn, active_only=True):
        status = done.get(subscriber.id)
        if status == "sent":
            report.already_sent += 1
        elif status == "failed":
            report.failed_before += 1
        else:
            recipients.append(Recipient(subscriber, variant_topics(subscriber, default, order)))
    report.planned = len(recipients)
    period = info.period
    variants = render_variants(project, config, period, [r.topics for r in recipients])
    report.variants = sum(v is not None for v in variants.values())
    if dry_run or not recipients:
        report.nothing_new = sum(variants[r.topics] is None for r in recipients)
        return report
    secret = secret_from_env(config.state.secret_env)
    # one prepared message per topic set with stories; no entry = nothing new
    prepared = {
        topics: PreparedMessage(issue, config.newsletter, config.site, secret)
        for topics, issue in variants.items()
        if issue is not None
    }
    run = _Run(
        config=config,
        info=info,
        report=report,
        prepared=prepared,
        secret=secret,
        limit=limit,
        clock=clock,
        sleep=sleep,
        on_progress=on_progress,
        total=len(recipients),
        queue=list(reversed(recipients)),
        database=config.database,
    )
    if workers <= 1:
        run.work(conn, transport or SmtpTransport(config.smtp))
    else:
        threads = [
            threading.Thread(target=run.work_on_own_connection, name=f"sender-{n}")
            for n in range(workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if run.error is not None:
            raise run.error
    return report


@dataclass
class _Run:
    """One ``send`` run: the recipients still to do, shared by its worker threads."""

    config: Config
    info: IssueInfo
    report: SendReport
    prepared: dict[tuple[str, ...], PreparedMessage]
    secret: bytes
    limit: int | None
    clock: Callable[[], datetime]
    sleep: Callable[[float], None]
    on_progress: Callable[[int, int], None] | None
    total: int
    # recipients not yet taken by a worker, last first
    queue: list[Recipient]
    database: Database
    handled: int = 0
    next_slot: float = 0.0
    error: BaseException | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Lock = field(default_factory=threading.Lock)
    # the same for every message: worked out once
    return_path: str = ""
    unsubscribe_endpoint: str = ""
    preferences_endpoint: str = ""

    def __post_init__(self) -> None:
        config = self.config
        self.return_path = return_path(config.newsletter, config.site)
        self.unsubscribe_endpoint = config.unsubscribe_endpoint()
        self.preferences_endpoint = config.endpoint("preferences")

    def envelope_from(self, subscriber: subs.Subscriber) -> str:
        """The envelope sender of this reader's copy: a keyed VERP address, so what
        returns proves which reader and issue it is about (``returnpath``)."""
        bounces = self.config.newsletter.bounces
        if not bounces.verp:
            return self.return_path
        return envelope_sender(
            self.return_path,
            self.secret,
            self.info.id,
            subscriber.id,
            subscriber.email,
            bounces.verp_delimiter,
        )

    def take(self) -> Recipient | None:
        with self.lock:
            report = self.report
            if self.error is not None or not self.queue:
                return None
            if self.limit is not None and len(report.sent) + len(report.failed) >= self.limit:
                report.limited = True
                return None
            self.handled += 1
            return self.queue.pop()

    def pace(self) -> None:
        """Keep all workers together under ``smtp.rate_per_second``: one passes per interval."""
        rate = self.config.smtp.rate_per_second
        if not rate:
            return
        with self.gate:
            wait = self.next_slot - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self.next_slot = time.monotonic() + 1.0 / rate

    def work_on_own_connection(self) -> None:
        try:
            conn = state.connect(self.database)
        except BaseException as exc:
            self.error = exc
            return
        try:
            self.work(conn, SmtpTransport(self.config.smtp))
        except BaseException as exc:
            with self.lock:
                self.error = self.error or exc
        finally:
            conn.close()

    def work(self, conn: Db, transport: SmtpTransport) -> None:
        owner = claims.owner_id()
        try:
            while (recipient := self.take()) is not None:
                self.send_one(conn, transport, recipient, owner)
                if self.on_progress:
                    self.on_progress(self.handled, self.total)
        finally:
            transport.close()

    def send_one(
        self, conn: Db, transport: SmtpTransport, recipient: Recipient, owner: str
    ) -> None:
        config, info, report, clock = self.config, self.info, self.report, self.clock
        message = self.prepared.get(recipient.topics)
        subscriber = recipient.subscriber
        if message is None:
            with self.lock:
                report.nothing_new += 1
            return
        current = subs.by_id(conn, subscriber.id)
        if current is None or current.status != Status.ACTIVE:
            return  # unsubscribed while this run was going
        lease = config.smtp.claim_lease_seconds
        if not claims.claim(conn, info.id, subscriber.id, owner, time.time(), lease):
            with self.lock:
                report.claimed_elsewhere += 1
            return
        token = make_token(self.secret, subscriber.id, subscriber.email)
        expires = int(clock().timestamp() + config.newsletter.preferences_days * 86_400)
        manage = make_expiring_token(
            self.secret, "preferences", subscriber.id, subscriber.email, expires
        )
        try:
            data, message_id = message.message(
                subscriber.email,
                signed_link(self.unsubscribe_endpoint, token),
                clock(),
                signed_link(self.preferences_endpoint, manage),
            )
        except ValueError as exc:
            # an address stored before today's checks that no header can carry:
            # that reader's failure, never the run's
            data, message_id = b"", ""
            outcome, reply, attempts = (
                "failed",
                f"not sent: {header_problem(subscriber.email) or exc}",
                0,
            )
        else:
            self.pace()
            outcome, reply, attempts = deliver_one(
                transport, self.envelope_from(subscriber), subscriber.email, data, config.smtp,
                self.sleep,
            )  # fmt: skip
        # the send-log row and the end of the claim commit together
        with state.transaction(conn):
            if outcome != "deferred":
                state.record_delivery(
                    conn,
                    issue_id=info.id,
                    subscriber_id=subscriber.id,
                    email=subscriber.email,
                    status=outcome,
                    message_id=message_id,
                    reply=reply,
                    attempts=attempts,
                    at=clock().isoformat(timespec="seconds"),
                )
            state.drop_claim(conn, info.id, subscriber.id, owner)
        bounced = False
        if outcome != "sent" or current.soft_bounce_issues:  # a clean delivery changes nothing
            bounced = subs.record_delivery_outcome(
                conn,
                subscriber.id,
                info.id,
                outcome,
                reply,
                limits=config.newsletter.bounces,
                now=clock(),
            )
        with self.lock:
            if outcome == "sent":
                report.sent.append(subscriber.email)
            elif outcome == "failed":
                report.failed.append((subscriber.email, reply))
            else:
                report.deferred.append((subscriber.email, reply))
            if bounced:
                report.bounced.append(subscriber.email)
