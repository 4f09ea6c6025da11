"""The scheduled jobs: what `feedletter schedule` runs (and system cron can run too).

Each job is a plain function of the config path, so APScheduler can store it by
reference in its job store. A job runs the same site build as ``feedletter
build`` (``runtime.sitebuild``, under the work lock, so it never overlaps a
``build`` or ``send`` started from a shell or cron) and records its run in the
``job_runs`` table; its lines go to the ``feedletter.jobs`` log. ``purge`` deletes
sign-ups that were never confirmed (nothing else deletes them).

Under ``newsletter.review`` the digest job puts the issue under review and mails
the editors instead of the readers, and ``release`` (every ten minutes by
default) sends each reviewed issue once it is due (``newsletter.review``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from feeds.errors import FeedletterError
from feeds.publishing.websub import PublishReport
from newsletter import state
from newsletter.audience import lifecycle
from newsletter.config import Config, load_config
from newsletter.issue.archive import IssueInfo
from newsletter.issue.variants import ProjectInputs
from newsletter.runtime.sitebuild import Options, build_site
from newsletter.sending.delivery import SendSettings, find_issue, send_issue

log = logging.getLogger("feedletter.jobs")

FEEDS_JOB = "feeds-rebuild"
DIGEST_JOB = "digest-send"
PURGE_JOB = "purge-signups"
RELEASE_JOB = "release-reviewed"
# who the review log names when the schedule acts
SCHEDULE_ACTOR = "schedule"


def _recorded(job_id: str, config: Config, work: Callable[[], str]) -> None:
    with state.connect(config.database) as conn:
        run_id = state.start_job_run(conn, job_id, _now())
        outcome = "failed"
        try:
            outcome = work()
        except FeedletterError as exc:
            outcome = f"failed: {exc}"
            log.error("%s: %s", job_id, exc)
        finally:
            state.finish_job_run(conn, run_id, _now(), outcome)


def _log_pings(report: PublishReport | None) -> None:
    """How the WebSub hubs answered."""
    if report is None:
        return
    for warning in report.warnings:
        log.warning("%s", warning)
    for result in report.results:
        level = logging.INFO if result.ok else logging.WARNING
        log.log(level, "WebSub ping %s about %s: %s", result.ping.hub, result.ping.topic,
                result.answer)  # fmt: skip
    for ping in report.given_up:
        log.warning("WebSub: gave up pinging %s about %s", ping.hub, ping.topic)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def rebuild(config_path: str) -> None:
    """The site build: every feed and page, the digest that is due, the pings."""
    config = load_config(Path(config_path))

    def work() -> str:
        site = build_site(config, datetime.now(UTC), Options(f"scheduled {FEEDS_JOB}"))
        _log_pings(site.pings)
        assert site.feeds is not None
        report = site.feeds.report
        log.info(
            "%s: %d written, %d unchanged", FEEDS_JOB, len(report.written), len(report.unchanged)
        )
        return f"ok: {len(report.written)} written, {len(report.unchanged)} unchanged"

    _recorded(FEEDS_JOB, config, work)


def digest_and_send(config_path: str, now: datetime | None = None) -> None:
    """The site build, then the issue due ``now`` (``current_period``) to every
    subscriber, or under review to its editors (``now``: the clock's, unless given)."""
    config = load_config(Path(config_path))
    when = now or datetime.now(UTC)

    def work() -> str:
        site = build_site(config, when, Options(f"scheduled {DIGEST_JOB}"))
        _log_pings(site.pings)
        assert site.digest is not None
        if site.digest.empty:
            log.info("%s: %s", DIGEST_JOB, site.digest.empty)
            return "ok: no issue (nothing new)"
        # no work lock while sending: claims keep senders apart (sending.claims)
        settings = SendSettings.of(config)
        info = find_issue(settings.issues_folder, site.digest.period.issue_id)
        if config.newsletter.review is not None:
            return _review(config, info, when)
        with state.connect(settings.database) as conn:
            report = send_issue(conn, ProjectInputs.of_config(config), settings, info)
        log.info(
            "%s: %s sent %d, failed %d", DIGEST_JOB, info.id, len(report.sent), len(report.failed)
        )
        return f"ok: {info.id} sent {len(report.sent)}, failed {len(report.failed)}"

    _recorded(DIGEST_JOB, config, work)


def _review(config: Config, info: IssueInfo, now: datetime) -> str:
    """The issue to its editors, then whatever is due (a hold of zero hours)."""
    from newsletter.review import workflow

    started = workflow.start_review(config, info, now, SCHEDULE_ACTOR)
    for editor, outcome, reply in started.copies:
        level = logging.INFO if outcome == "sent" else logging.WARNING
        log.log(level, "%s: review copy of %s to %s: %s (%s)", DIGEST_JOB, info.id, editor,
                outcome, reply)  # fmt: skip
    sent = sum(outcome == "sent" for _, outcome, _ in started.copies)
    outcome = f"ok: {info.id} in review, {sent} review cop{'y' if sent == 1 else 'ies'} sent"
    released = _release(config, now)
    return "; ".join([outcome, *released])


def _release(config: Config, now: datetime) -> list[str]:
    from newsletter.review import workflow

    lines = []
    for done in workflow.release(config, now):
        if done.report is None:
            log.error("%s: %s not sent: %s", RELEASE_JOB, done.issue_id, done.problem)
            lines.append(f"{done.issue_id} not sent: {done.problem}")
            continue
        report = done.report
        log.info("%s: %s sent %d, failed %d", RELEASE_JOB, done.issue_id, len(report.sent),
                 len(report.failed))  # fmt: skip
        lines.append(f"{done.issue_id} sent {len(report.sent)}, failed {len(report.failed)}")
    return lines


def release(config_path: str, now: datetime | None = None) -> None:
    """Send the reviewed issues that are due ``now``: approved, or held long enough."""
    config = load_config(Path(config_path))

    def work() -> str:
        lines = _release(config, now or datetime.now(UTC))
        return "ok: " + ("; ".join(lines) if lines else "nothing due")

    _recorded(RELEASE_JOB, config, work)


def purge(config_path: str) -> None:
    """Delete the sign-ups never confirmed within ``newsletter.confirm_days`` (their
    links have expired) and sign-up requests as old."""
    config = load_config(Path(config_path))

    def work() -> str:
        with state.connect(config.database) as conn:
            gone = lifecycle.purge_pending(conn, datetime.now(UTC), config.newsletter.confirm_days)
        log.info("%s: %d unconfirmed sign-up(s) deleted", PURGE_JOB, gone)
        return f"ok: {gone} deleted"

    _recorded(PURGE_JOB, config, work)
