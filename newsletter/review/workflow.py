"""The review workflow: put an issue under review, apply the editors' actions,
release what is due. The one copy of each, for the jobs, ``serve`` and the CLI.

Every change is a conditional statement in ``state.reviews`` whose row count
says who won, so two editors (or an editor and the schedule) acting at once
never both succeed; every action is logged in ``review_actions`` with who and
when. Files (the issue's ``issue.json``, its web copy, the archive) are rendered
before the action is recorded and written after it, under the work lock, as a
build writes them (a build mends files that a crash left behind the record).
What is allowed is decided by ``issue.marks``; this module only applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import secret_from_env
from newsletter.config import Config, ReviewSettings
from newsletter.errors import (
    DeliveryError,
    EmptyIssueError,
    LastStory,
    ReviewOff,
    ReviewSettled,
    UnknownStory,
)
from newsletter.issue.archive import IssueInfo, Listed
from newsletter.issue.marks import (
    APPROVED,
    IN_REVIEW,
    PENDING,
    SKIPPED,
    Review,
    action_refusal,
    refusal,
    release_due,
    skipped_by,
)
from newsletter.issue.pipeline import filing, make_issue, write_issue
from newsletter.issue.variants import ProjectInputs
from newsletter.review import links
from newsletter.review.copy import expires, review_copy
from newsletter.sending.delivery import SendReport, check_window, find_issue, send_issue
from newsletter.sending.queue import Hooks
from newsletter.sending.settings import SendSettings
from newsletter.sending.testsend import filed_issue, send_copies
from newsletter.state import Db, reviews
from newsletter.state.locks import work_lock


@dataclass(frozen=True)
class Started:
    """What putting an issue under review did."""

    issue_id: str
    # it was put under review now (False: it already was)
    opened: bool
    # (editor, outcome, reply) for each review copy mailed now; none when the
    # copies went out before or the issue is settled
    copies: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Acted:
    """An editor's action, applied."""

    issue_id: str
    # "approve", "skip" or "drop"
    action: str
    # who took it (an editor's address, or the shell user)
    actor: str
    # the issue after the action
    info: IssueInfo
    # the story dropped (drop only)
    story: Listed | None = None


@dataclass(frozen=True)
class Released:
    """One issue the release found due."""

    issue_id: str
    # the send (None when it could not start)
    report: SendReport | None
    # why it could not be sent ("" when it was)
    problem: str = ""


@dataclass(frozen=True)
class Status:
    """An issue as the editors see it."""

    info: IssueInfo
    # its review (None: never put under review)
    review: Review | None
    # every action on it: (action, story, actor, at)
    actions: tuple[tuple[str, str, str, str], ...]


def settings_of(config: Config) -> ReviewSettings:
    """``newsletter.review``, or ``ReviewOff``."""
    if config.newsletter.review is None:
        raise ReviewOff()
    return config.newsletter.review


def _stamp(now: datetime) -> str:
    return now.isoformat(timespec="seconds")


def _review(conn: Db, issue_id: str) -> Review | None:
    row = reviews.review_of(conn, issue_id)
    return Review.of_row(row) if row is not None else None


def start_review(
    config: Config, info: IssueInfo, now: datetime, actor: str, hooks: Hooks | None = None
) -> Started:
    """Put ``info`` under review (held for ``hold_hours`` from now) and mail each
    editor their review copy, once per issue: a copy no editor received is given
    back, for the next run to send."""
    settings = settings_of(config)
    hold = now + timedelta(hours=settings.hold_hours)
    with state.connect(config.database) as conn:
        with state.transaction(conn):
            opened = reviews.open_review(conn, info.id, _stamp(now), _stamp(hold))
            if opened:
                reviews.log_review_action(conn, info.id, "review", "", actor, _stamp(now))
        review = _review(conn, info.id)
        assert review is not None
        if review.state != PENDING or review.released_at is not None:
            return Started(info.id, opened)
        with state.transaction(conn):
            if not reviews.claim_review_copy(conn, info.id, _stamp(now)):
                return Started(info.id, opened)
        try:
            copies = _mail_copies(config, conn, info, review, hooks)
        except BaseException:
            with state.transaction(conn):
                reviews.give_back_review_copy(conn, info.id)
            raise
        if not any(outcome == "sent" for _, outcome, _ in copies):
            with state.transaction(conn):
                reviews.give_back_review_copy(conn, info.id)
    return Started(info.id, opened, tuple(copies))


def _mail_copies(
    config: Config, conn: Db, info: IssueInfo, review: Review, hooks: Hooks | None
) -> list[tuple[str, str, str]]:
    settings = settings_of(config)
    send = SendSettings.of(config)
    secret = secret_from_env(config.state.secret_env)
    issue = filed_issue(ProjectInputs.of_config(config), send, info)
    readers = len(subs.listing(conn, active_only=True))
    until = expires(info, config)
    copies = []
    for editor in settings.editors:
        grant = links.Pass(info.id, editor, until)
        copies.append((editor, review_copy(config, issue, info, review, grant, secret, readers)))
    return send_copies(send, copies, hooks)


def find_story(info: IssueInfo, story: str) -> Listed:
    """The story of ``info`` named by its number in reading order or its short name."""
    wanted = story.strip().lower()
    if wanted.isdigit() and 1 <= int(wanted) <= len(info.toc):
        return info.toc[int(wanted) - 1]
    for listed in info.toc:
        if listed.ref == wanted:
            return listed
    raise UnknownStory(info.id, story, [s.ref for s in info.toc])


def act(
    config: Config, issue_id: str, action: str, actor: str, now: datetime, story: str = ""
) -> Acted:
    """Apply an editor's ``action`` ("approve", "skip", "drop" with ``story``) to the
    issue; ``ReviewSettled`` when it no longer applies."""
    settings_of(config)
    who = f"feedletter issue {action} {issue_id}"
    with (
        work_lock(config.database, who, config.state.lock_wait_seconds),
        state.connect(config.database) as conn,
    ):
        info = find_issue(config.issues_folder, issue_id)
        problem = action_refusal(issue_id, _review(conn, issue_id), action)
        if problem is not None:
            raise problem
        if action == "drop":
            return _drop(config, conn, info, story, actor, now)
        to_state, status = (APPROVED, "") if action == "approve" else (SKIPPED, SKIPPED)
        allowed = (PENDING,) if action == "approve" else (PENDING, APPROVED)
        filed = filing(config, info, status)  # rendered before anything is recorded
        with state.transaction(conn):
            reviews.open_review(conn, issue_id, _stamp(now), _stamp(now))
            if not reviews.decide_review(conn, issue_id, to_state, allowed):
                review = _review(conn, issue_id)
                raise action_refusal(issue_id, review, action) or ReviewSettled(
                    issue_id, action, review.state if review else "gone"
                )
            reviews.log_review_action(conn, issue_id, action, "", actor, _stamp(now))
        info = filed.write(config)
    return Acted(issue_id, action, actor, info)


def _drop(
    config: Config, conn: Db, info: IssueInfo, story: str, actor: str, now: datetime
) -> Acted:
    listed = find_story(info, story)
    dropped = [*reviews.dropped_stories(conn, info.id), listed.key]
    from feeds.build import load_cached_project

    try:
        issue = make_issue(load_cached_project(config), config, info.period, dropped=dropped)
    except EmptyIssueError:
        raise LastStory(info.id) from None
    with state.transaction(conn):
        reviews.open_review(conn, info.id, _stamp(now), _stamp(now))
        problem = action_refusal(info.id, _review(conn, info.id), "drop")
        if problem is not None:
            raise problem
        reviews.log_review_action(conn, info.id, "drop", listed.key, actor, _stamp(now))
    write_issue(config, issue, IN_REVIEW)
    after = find_issue(config.issues_folder, info.id)
    return Acted(info.id, "drop", actor, after, listed)


def begin_send(config: Config, info: IssueInfo, now: datetime) -> bool:
    """Release ``info`` for sending, if the editors allow it now (else the reason,
    raised: ``marks.refusal``). True for the one caller that released it, which
    also files it for the archive (no longer "in review"); False when it was
    released before. Every send of a reviewed issue begins here (the release, and
    ``feedletter send``); ``sending.delivery.review_gate`` refuses any that did not."""
    settings = settings_of(config)
    with state.connect(config.database) as conn, state.transaction(conn):
        by = skipped_by(reviews.review_actions(conn, info.id))
        problem = refusal(info.id, _review(conn, info.id), settings, now, by)
        if problem is not None:
            raise problem
        first = reviews.claim_release(conn, info.id, _stamp(now))
    if first and info.status:
        with work_lock(config.database, f"release {info.id}", config.state.lock_wait_seconds):
            filing(config, info, "").write(config)
    return first


def release(config: Config, now: datetime, hooks: Hooks | None = None) -> list[Released]:
    """Send every issue under review that is due (``marks.release_due``), once: the
    first caller to mark it released sends it; a stale one is left, said why."""
    settings = settings_of(config)
    send = SendSettings.of(config)
    done = []
    with state.connect(config.database) as conn:
        for row in reviews.unreleased_reviews(conn):
            review = Review.of_row(row)
            if not release_due(review, settings, now):
                continue
            try:
                info = find_issue(config.issues_folder, review.issue_id)
                check_window(info, send.send_window_hours, now, force=False)
            except DeliveryError as exc:
                done.append(Released(review.issue_id, None, str(exc)))
                continue
            if not begin_send(config, info, now):
                continue  # another scheduler or shell got there first
            report = send_issue(conn, ProjectInputs.of_config(config), send, info, hooks=hooks)
            done.append(Released(info.id, report))
    return done


def statuses(config: Config, issue_id: str | None = None) -> list[Status]:
    """Every filed issue (or just ``issue_id``), newest first, with its review."""
    from newsletter.issue.archive import read_issues

    if issue_id is None:
        issues = read_issues(config.issues_folder)
    else:
        issues = [find_issue(config.issues_folder, issue_id)]
    out = []
    with state.connect(config.database) as conn:
        for info in sorted(issues, key=lambda i: (i.end, i.id), reverse=True):
            actions = tuple(
                (str(a["action"]), str(a["story"]), str(a["actor"]), str(a["at"]))
                for a in reviews.review_actions(conn, info.id)
            )
            out.append(Status(info, _review(conn, info.id), actions))
    return out
