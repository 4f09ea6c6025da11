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

This module plans the run (who gets which variant) and owns its settings;
``worker`` does one recipient at a time.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.reading.topics import TopicSet
from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import secret_from_env
from newsletter.errors import NoIssue, SendWindowClosed, UnknownIssue
from newsletter.issue.archive import IssueInfo, read_issues, read_parts
from newsletter.issue.clicks import counted
from newsletter.issue.marks import Review, refusal, skipped_by
from newsletter.issue.message import PreparedMessage
from newsletter.issue.variants import (
    IssueLook,
    ProjectInputs,
    issue_topics,
    issue_variants,
    variant_topics,
)
from newsletter.mail.smtp import SmtpTransport
from newsletter.sending import claims
from newsletter.sending.queue import Hooks, Queue, Recipient
from newsletter.sending.queue import SendReport as SendReport
from newsletter.sending.settings import SendSettings as SendSettings
from newsletter.sending.worker import Sender
from newsletter.state import Db

if TYPE_CHECKING:
    from feeds.build import Project


@dataclass(frozen=True)
class SendOptions:
    """How this run goes, as the operator asked."""

    # plan and render, send nothing
    dry_run: bool = False
    # stop after this many recipients were handled (accepted or refused)
    limit: int | None = None
    # sender threads, each with its own SMTP and database connection
    workers: int = 1


def find_issue(issues_folder: Path, issue_id: str | None) -> IssueInfo:
    """The archived issue to send: ``issue_id``, or the newest one."""
    issues = read_issues(issues_folder)
    if not issues:
        raise NoIssue(issues_folder)
    if issue_id is None:
        return max(issues, key=lambda i: (i.end, i.id))
    for info in issues:
        if info.id == issue_id:
            return info
    raise UnknownIssue(issue_id, sorted(i.id for i in issues))


def check_window(info: IssueInfo, hours: float, now: datetime, force: bool) -> None:
    """Refuse an issue whose period ended more than ``hours`` ago, unless ``force``."""
    if not force and now > info.end_time + timedelta(hours=hours):
        raise SendWindowClosed(info.id, info.end_time, hours)


def send_issue(
    conn: Db,
    project: Project | ProjectInputs,
    settings: SendSettings,
    info: IssueInfo,
    options: SendOptions | None = None,
    hooks: Hooks | None = None,
) -> SendReport:
    """Send issue ``info`` to every active subscriber not yet accepted for it.

    ``options.workers`` senders share the run, each with its own SMTP connection
    and database connection; recipients are claimed (``claims``), so they and any
    other ``send`` on the same database never send one recipient two copies.
    ``project`` may be ``ProjectInputs``: the records are then loaded only if a
    reader's topic set is not the filed issue's. Under ``newsletter.review`` an
    issue the editors have not released is refused (``review_gate``).
    """
    options = options or SendOptions()
    hooks = hooks or Hooks()
    inputs = project if isinstance(project, ProjectInputs) else ProjectInputs.of(project)
    report = SendReport(info.id, dry_run=options.dry_run)
    dropped = review_gate(conn, settings, info.id, hooks.clock(), options.dry_run)
    recipients = _recipients(conn, inputs.topics(), settings.look, info.id, report)
    if not options.dry_run:
        claims.sweep(conn, info.id)  # what a killed sender left on logged pairs
    filed = read_parts(settings.issues_folder, info)
    topic_sets = [r.topics for r in recipients]
    variants = issue_variants(inputs, settings.look, info, topic_sets, filed, dropped)
    report.variants = sum(v is not None for v in variants.values())
    if options.dry_run or not recipients:
        report.nothing_new = sum(variants[r.topics] is None for r in recipients)
        return report
    secret = secret_from_env(settings.secret_env)
    look = settings.look
    # one prepared message per topic set with stories; no entry = nothing new
    prepared = {
        topics: PreparedMessage(
            issue if settings.click_base is None else counted(issue, settings.click_base, secret),
            look.newsletter,
            look.site,
            secret,
            settings.signer,
        )
        for topics, issue in variants.items()
        if issue is not None
    }
    queue = Queue(report, recipients, options.limit)
    sender = Sender(settings, info, prepared, secret, queue, hooks)
    if options.workers <= 1:
        sender.work(conn, hooks.transport or SmtpTransport(settings.smtp))
    else:
        threads = [
            threading.Thread(target=sender.work_on_own_connection, name=f"sender-{n}")
            for n in range(options.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if queue.error is not None:
            raise queue.error
    claims.sweep(conn, info.id)
    return report


def review_gate(
    conn: Db, settings: SendSettings, issue_id: str, now: datetime, dry_run: bool
) -> tuple[str, ...]:
    """Under ``newsletter.review``: refuse an issue the editors have not released
    (``marks.refusal``), mark its send begun, and return the stories they dropped.
    Without review: nothing to check, nothing dropped."""
    if settings.review is None:
        return ()
    from newsletter.state import reviews

    with state.transaction(conn):
        row = reviews.review_of(conn, issue_id)
        review = Review.of_row(row) if row is not None else None
        if not dry_run:
            by = skipped_by(reviews.review_actions(conn, issue_id))
            problem = refusal(issue_id, review, settings.review, now, by)
            if problem is not None:
                raise problem
            reviews.claim_release(conn, issue_id, now.isoformat(timespec="seconds"))
        return tuple(reviews.dropped_stories(conn, issue_id))


def _recipients(
    conn: Db, topics: TopicSet, look: IssueLook, issue_id: str, report: SendReport
) -> list[Recipient]:
    """The active subscribers not yet accepted or refused for this issue, each with
    the topic set of the copy they get; counts the others in ``report``."""
    done = state.delivery_statuses(conn, issue_id)
    default, order = issue_topics(look, topics)
    recipients: list[Recipient] = []
    for subscriber in subs.listing(conn, active_only=True):
        status = done.get(subscriber.id)
        if status == "sent":
            report.already_sent += 1
        elif status == "failed":
            report.failed_before += 1
        else:
            chosen = variant_topics(subscriber.topics, default, order)
            recipients.append(Recipient(subscriber, chosen))
    report.planned = len(recipients)
    return recipients
