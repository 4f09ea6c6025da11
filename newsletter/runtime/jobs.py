"""The scheduled jobs: what `feedletter schedule` runs (and system cron can run too).

Each job is a plain function of the config path, so APScheduler can store it by
reference in its job store. A job takes the work lock (so it never overlaps a
`build` or `send` started from a shell or cron), does the same thing as the CLI
command, and records its run in the ``job_runs`` table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from feeds.build import build_feeds, load_cached_project
from feeds.errors import FeedletterError
from feeds.publishing.websub import publish
from newsletter import state
from newsletter.config import Config, load_config
from newsletter.errors import EmptyIssueError
from newsletter.issue.archive import issue_info
from newsletter.issue.pipeline import current_period, make_issue, write_issue
from newsletter.runtime.locks import work_lock
from newsletter.sending.delivery import send_issue
from newsletter.state import connect

log = logging.getLogger("feedletter.jobs")

FEEDS_JOB = "feeds-rebuild"
DIGEST_JOB = "digest-send"


def _recorded(job_id: str, config: Config, work: Callable[[], str]) -> None:
    conn = connect(config.database)
    try:
        run_id = state.start_job_run(conn, job_id, _now())
        outcome = "failed"
        try:
            outcome = work()
        except FeedletterError as exc:
            outcome = f"failed: {exc}"
            log.error("%s: %s", job_id, exc)
        finally:
            state.finish_job_run(conn, run_id, _now(), outcome)
    finally:
        conn.close()


def _announce(config: Config, changed: Sequence[str]) -> None:
    """Ping the WebSub hubs about changed feeds (and pending pings); log how it went."""
    report = publish(config.websub, config.site.base_url, changed)
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
    """Rebuild every feed and page."""
    config = load_config(Path(config_path))

    def work() -> str:
        with work_lock(config.database, f"scheduled {FEEDS_JOB}", config.state.lock_wait_seconds):
            result = build_feeds(config, datetime.now(UTC))
            # after the files are in place; under the lock, which keeps the pending file whole
            _announce(config, result.report.written)
        report = result.report
        log.info(
            "%s: %d written, %d unchanged", FEEDS_JOB, len(report.written), len(report.unchanged)
        )
        return f"ok: {len(report.written)} written, {len(report.unchanged)} unchanged"

    _recorded(FEEDS_JOB, config, work)


def digest_and_send(config_path: str) -> None:
    """Render the issue that is due now (``current_period``) and send it to every subscriber."""
    config = load_config(Path(config_path))

    def work() -> str:
        with work_lock(config.database, f"scheduled {DIGEST_JOB}", config.state.lock_wait_seconds):
            now = datetime.now(UTC)
            project = load_cached_project(config)
            try:
                issue = make_issue(project, config, current_period(config, now))
            except EmptyIssueError as exc:
                log.info("%s: %s", DIGEST_JOB, exc)
                return "ok: no issue (nothing new)"
            written = write_issue(config, issue)
            _announce(config, written.report.written)
            info = issue_info(issue)  # just written
            conn = connect(config.database)
            try:
                report = send_issue(conn, project, config, info)
            finally:
                conn.close()
        log.info(
            "%s: %s sent %d, failed %d", DIGEST_JOB, info.id, len(report.sent), len(report.failed)
        )
        return f"ok: {info.id} sent {len(report.sent)}, failed {len(report.failed)}"

    _recorded(DIGEST_JOB, config, work)
