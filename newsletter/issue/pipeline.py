"""The digest pipeline: select (the collector) → plan → render → write.

``make_issue`` asks the feeds' own ``select`` for the period's articles, so the
digest and the feeds always agree, then plans and renders the issue.
``write_issue`` writes the issue's private files (state folder) and web copy, and
refreshes the archive index and feed, atomically. ``current_period`` decides
which period is due: whole calendar days, so every run inside one period writes
the same bytes. Beyond that this module only ties the stages together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from feeds.build import Project, load_cached_project, open_cache, select, uptodate
from feeds.errors import ConfigError
from feeds.publishing.output import WriteReport, write_tree
from feeds.reading.topics import TopicSet
from newsletter.config import Config
from newsletter.errors import EmptyIssueError
from newsletter.issue.marks import Marks, marks_of
from newsletter.issue.plan import Period, period_ending, plan_issue

if TYPE_CHECKING:
    from newsletter.issue.archive import IssueInfo
    from newsletter.issue.render import RenderedIssue

# Rendering (Jinja2, premailer, feedgen) is imported where it is used: a build
# that finds its digest unchanged decides so without loading any of it.


@dataclass(frozen=True)
class DigestResult:
    """A rendered and written issue."""

    # the rendered issue
    issue: RenderedIssue
    # what was written to output/ (web copy, archive index and feed)
    report: WriteReport
    # what was written to the issues folder (message parts, sample, metadata)
    private: WriteReport

    @property
    def html_bytes(self) -> int:
        """Size of the inlined HTML part (placeholders in place)."""
        return len(self.issue.html.encode())


# where the parse cache keeps the record of the last issue written (the key is the
# one earlier versions used)
DIGEST_RECORD = "digest-stamp"
# the newsletter package: a change to its code changes the issue
PACKAGE = Path(__file__).resolve().parent.parent


def digest_fingerprint(inputs: str, period: Period, marks: Marks | None = None) -> str:
    """What an issue's files depend on: the feed build's inputs, the period, this code,
    and the editors' marks (status, dropped stories)."""
    digest = hashlib.sha256(inputs.encode())
    digest.update(f"{period.start}\0{period.end}\0{period.zone}\n".encode())
    if marks is not None:
        digest.update("\0".join((marks.status, *marks.dropped)).encode() + b"\n")
    digest.update(uptodate.source_stats([PACKAGE], (".py",)).encode())
    return digest.hexdigest()


def unchanged_issue(config: Config, fingerprint: str) -> str | None:
    """The id of the issue already written for ``fingerprint``, files intact; else None."""
    cache = open_cache(config)
    if cache is None:
        return None
    try:
        value = uptodate.load_outputs(cache, DIGEST_RECORD, fingerprint)
    finally:
        cache.close()
    return str(value["issue"]) if value is not None else None


def record_issue(config: Config, fingerprint: str, result: DigestResult) -> None:
    """Remember that ``fingerprint`` gave these files (for ``unchanged_issue``)."""
    cache = open_cache(config)
    if cache is None:
        return
    public, private = result.report, result.private
    try:
        uptodate.save_outputs(
            cache,
            DIGEST_RECORD,
            fingerprint,
            {
                config.output: public.written + public.unchanged,
                config.issues_folder: private.written + private.unchanged,
            },
            {"issue": result.issue.issue_id},
        )
    finally:
        cache.close()


def render_due_digest(
    config: Config,
    project: Project | None,
    period: Period,
    *,
    force: bool = False,
    inputs: str | None = None,
    unchanged: bool = False,
) -> DigestResult | None:
    """Render and write the issue for ``period``; None when it is already written.

    ``inputs`` is the fingerprint a feed build has just checked; when it did not
    change (``unchanged``) and the same period's files are intact, nothing is
    rendered. Under ``newsletter.review`` the editors' dropped stories stay out, and
    an issue they approved or skipped (or that was sent) is never rendered again.
    Raises ``EmptyIssueError`` when the period has nothing to send.
    """
    marks = marks_of(config, period.issue_id)
    if marks is not None and marks.settled:
        _mend(config, period.issue_id, marks.status)
        return None  # approved, skipped or sent: the filed issue stands
    fingerprint = digest_fingerprint(inputs, period, marks) if inputs else None
    if unchanged and fingerprint and unchanged_issue(config, fingerprint):
        return None
    project = project or load_cached_project(config)
    dropped = marks.dropped if marks is not None else ()
    issue = make_issue(project, config, period, force=force, dropped=dropped)
    result = write_issue(config, issue, marks.status if marks is not None else "")
    if fingerprint:
        record_issue(config, fingerprint, result)
    return result


def issue_period(config: Config, last_day: date) -> Period:
    """The issue period whose last whole day (in ``schedule.timezone``) is ``last_day``."""
    zone = ZoneInfo(config.schedule.timezone)
    return period_ending(last_day, config.newsletter.period_days, zone)


def current_period(config: Config, now: datetime) -> Period:
    """The period of the issue that is due at ``now``.

    It ends at local midnight (``schedule.timezone``) at the start of the day on
    which the digest schedule last ran: with ``0 8 * * mon`` every run from one
    Monday 08:00 to the next gives the week Monday to Sunday just ended, so
    every run inside one period writes the same files. Without a digest schedule
    the period ends with the last complete day.
    """
    zone = ZoneInfo(config.schedule.timezone)
    crontab = config.schedule.digest
    due = previous_run(crontab, zone, now) if crontab else None
    today = (due or now).astimezone(zone).date()
    return issue_period(config, today - timedelta(days=1))


def period_ends(config: Config, now: datetime) -> datetime:
    """When ``current_period`` stops giving the period it gives at ``now``: the digest
    schedule's next run (without a schedule, the next local midnight)."""
    zone = ZoneInfo(config.schedule.timezone)
    crontab = config.schedule.digest
    if crontab:
        from apscheduler.triggers.cron import CronTrigger

        fire = CronTrigger.from_crontab(crontab, timezone=zone).get_next_fire_time(None, now)
        return fire if fire is not None else now + timedelta(days=1)
    tomorrow = now.astimezone(zone).date() + timedelta(days=1)
    return datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=zone)


def previous_run(crontab: str, zone: ZoneInfo, now: datetime) -> datetime | None:
    """The last time at or before ``now`` that ``crontab`` fires (None within 2 years)."""
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(crontab, timezone=zone)
    window = timedelta(days=1)
    while window <= timedelta(days=800):
        last = None
        fire = trigger.get_next_fire_time(None, now - window)
        while fire is not None and fire <= now:
            last = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        if last is not None:
            return last  # type: ignore[no-any-return]
        window *= 2
    return None


def check_topics(config: Config, topics: TopicSet) -> None:
    """``ConfigError`` when ``newsletter.topics`` names a topic that is not defined."""
    known = topics.by_id
    for tid in config.newsletter.topics or []:
        if tid not in known:
            raise ConfigError(
                "newsletter.topics",
                f"{tid!r} is not a topic; known: {', '.join(known)}",
                config.source,
            )


def make_issue(
    project: Project,
    config: Config,
    period: Period,
    *,
    force: bool = False,
    dropped: Collection[str] = (),
) -> RenderedIssue:
    """Select, plan and render the issue for ``period``, without the ``dropped`` stories.

    Raises ``EmptyIssueError`` when nothing qualifies, unless ``force``.
    """
    settings = config.newsletter
    check_topics(config, project.topics)
    selection = select(project, now=period.end, since=period.start)
    plan = plan_issue(
        selection,
        project.topics,
        period,
        topic_ids=settings.topics,
        items_per_topic=settings.items_per_topic,
        top_stories=settings.top_stories,
        dropped=dropped,
    )
    from feeds.rendering.templating import environment
    from newsletter.issue.render import render_issue

    if plan.is_empty and not force:
        raise EmptyIssueError(
            period.issue_id, f"{period.first_day}", f"{period.last_day} ({period.zone})"
        )
    return render_issue(plan, environment(config.templates), config.site, settings)


def write_issue(config: Config, issue: RenderedIssue, status: str = "") -> DigestResult:
    """Write the issue's private files, then its web copy and the refreshed archive
    (``status``: the issue's ``IssueInfo.status``)."""
    from newsletter.issue.archive import issue_files, issue_info

    public, private = issue_files(issue, config.newsletter, config.site, status)
    private_report = write_tree(config.issues_folder, private)
    public.update(archive_of(config, issue_info(issue, status)))
    return DigestResult(issue, write_tree(config.output, public), private_report)


def archive_of(config: Config, info: IssueInfo) -> dict[str, bytes]:
    """The archive index and feed with ``info`` in place of the filed issue of its id."""
    from feeds.rendering.templating import environment
    from newsletter.issue.archive import archive_files, read_issues

    issues = [i for i in read_issues(config.issues_folder) if i.id != info.id]
    issues.append(info)
    env = environment(config.templates)
    return archive_files(issues, env, config.site, config.subscribe_form_url(), config.websub.hubs)


@dataclass(frozen=True)
class Filing:
    """An issue filed under a new status (``newsletter.review``), rendered, not written."""

    # the issue's metadata with its new status
    info: IssueInfo
    # its issue.json (issues folder), and the archive (output/): index, feed, and for
    # a skipped issue the web copy that says it was not sent
    private: dict[str, bytes]
    public: dict[str, bytes]

    def write(self, config: Config) -> IssueInfo:
        write_tree(config.issues_folder, self.private)
        write_tree(config.output, self.public)
        return self.info


def filing(config: Config, info: IssueInfo, status: str) -> Filing:
    """``info`` filed under ``status`` ("", "review", "skipped"), rendered."""
    from dataclasses import replace

    from feeds.rendering.templating import environment, render
    from feeds.urls import join
    from newsletter.issue.archive import ARCHIVE, info_file
    from newsletter.issue.marks import SKIPPED
    from newsletter.issue.render import archive_path

    new = replace(info, status=status)
    public = archive_of(config, new)
    if status == SKIPPED:
        public[f"{archive_path(info.id)}index.html"] = render(
            environment(config.templates),
            "newsletter_skipped.html.j2",
            site=config.site,
            issue=new,
            archive_url=join(config.site.base_url, ARCHIVE),
            opml_url=join(config.site.base_url, "feeds.opml"),
        )
    return Filing(new, info_file(new), public)


def _mend(config: Config, issue_id: str, status: str) -> None:
    """File a settled issue under its status if its files still say another (the
    process that recorded the editors' action died before writing them)."""
    from newsletter.issue.archive import read_issues

    for info in read_issues(config.issues_folder):
        if info.id == issue_id and info.status != status:
            filing(config, info, status).write(config)
