"""The site build: the feeds, then the digest that is due, then the hub pings.

This is the one copy of the workflow that ``feedletter build`` and ``digest``,
``serve --watch`` and the scheduled jobs run; they differ only in what they ask
for (``Options``) and in how they report the ``SiteBuild`` they get back.

``check_site`` loads and validates exactly as ``build_site`` does and renders
everything in memory, writing nothing: whatever a build or a send would reject
in the config, templates or topics, ``feedletter check`` rejects too.

Every build holds the work lock (``state.locks``), so builds, digests and the
scheduler's jobs never overlap, on one host or (PostgreSQL) several, and first
brings the project up to date (``runtime.migrate``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from feeds.build import (
    BuildResult,
    FeedPlan,
    Project,
    build_feeds,
    load_project,
    load_topics,
    plan_feeds,
)
from feeds.build.summary import skipped
from feeds.publishing.output import WriteReport
from feeds.publishing.websub import PublishReport, publish
from feeds.reading.scan import FileStat, Handoff
from newsletter.config import Config
from newsletter.errors import EmptyIssueError
from newsletter.issue.pipeline import (
    DigestResult,
    check_topics,
    current_period,
    make_issue,
    period_ends,
    render_due_digest,
)
from newsletter.issue.plan import Period
from newsletter.issue.render import RenderedIssue
from newsletter.replay import Witness
from newsletter.runtime.migrate import migrate
from newsletter.state.locks import work_lock, work_lock_path


@dataclass(frozen=True)
class Options:
    """What one site build is asked to do."""

    # who is building, as the work lock names the holder to others
    who: str
    # the digest's period; None: the one due at ``now`` (``current_period``)
    period: Period | None = None
    # build the feeds and pages (``digest`` alone does not)
    feeds: bool = True
    # render the digest that is due
    digest: bool = True
    # render an issue even when the period has no stories
    force: bool = False
    # ping the WebSub hubs about what changed (a local preview does not)
    ping: bool = True
    # write even when most of the published feeds would go (``build --allow-removal``)
    allow_removal: bool = False


@dataclass(frozen=True)
class DigestOutcome:
    """What became of the digest in one site build."""

    # the issue's period
    period: Period
    # the issue rendered and written; None when it was already written or empty
    result: DigestResult | None = None
    # why there is no issue (the period has no stories), or ""
    empty: str = ""

    @property
    def unchanged(self) -> bool:
        """The issue was already written from the same inputs: nothing was rendered."""
        return self.result is None and not self.empty


@dataclass(frozen=True)
class SiteBuild:
    """What one site build did."""

    # the feed build (None when only the digest was asked for)
    feeds: BuildResult | None
    # the digest (None when it was not asked for)
    digest: DigestOutcome | None
    # the WebSub pings (None when not asked for)
    pings: PublishReport | None

    @property
    def unchanged(self) -> bool:
        """Nothing was written, rendered or pinged: every part found nothing changed."""
        pings = self.pings
        return (
            (self.feeds is None or self.feeds.summary.skipped)
            and (self.digest is None or self.digest.unchanged)
            and (pings is None or not (pings.results or pings.given_up or pings.warnings))
        )

    @property
    def written(self) -> tuple[str, ...]:
        """Every path in output/ this build changed."""
        paths = list(self.feeds.report.written) if self.feeds else []
        if self.digest is not None and self.digest.result is not None:
            paths += self.digest.result.report.written
        return tuple(paths)


def build_site(
    config: Config,
    now: datetime,
    options: Options,
    progress: Callable[[int, int], None] | None = None,
    files: list[FileStat] | Handoff | None = None,
) -> SiteBuild:
    """Build what ``options`` asks for, under the work lock; returns what happened
    (``files``: a scan of the records folder the caller already made, best handed
    over: ``feeds.reading.scan.Handoff``).

    The config's references to topics are checked before anything is written.
    ``EmptyIssueError`` never escapes: an empty period is ``DigestOutcome.empty``.
    """
    check_topics(config, load_topics(config))
    with work_lock(config.database, options.who, config.state.lock_wait_seconds):
        migrate(config)
        feeds = None
        if options.feeds:
            feeds = build_feeds(
                config, now, progress, allow_removal=options.allow_removal, files=files
            )
        digest = None
        if options.digest:
            digest = _digest(config, now, options, feeds)
        pings = None
        if options.ping:
            written = list(feeds.report.written) if feeds else []
            if digest is not None and digest.result is not None:
                written += digest.result.report.written
            # after the files are in place; under the lock, which keeps the pending file whole
            pings = publish(config.websub, config.site.base_url, written)
    return SiteBuild(feeds, digest, pings)


def as_run_again(site: SiteBuild) -> SiteBuild | None:
    """What the same build, run again with nothing changed, gives: every part found
    unchanged (the feeds' summary as ``uptodate`` reports a skipped build, the same
    digest period unchanged, nothing pinged); None when that cannot be told from
    this one (cache warnings, a digest not produced, pings to retry)."""
    if site.unchanged:
        return site
    feeds, digest, pings = site.feeds, site.digest, site.pings
    if feeds is not None and feeds.summary.warnings:
        return None
    if digest is not None and digest.empty:
        return None
    if pings is not None and (pings.failed or pings.given_up or pings.warnings):
        return None
    again = None
    if feeds is not None:
        outputs = feeds.summary.written + feeds.summary.unchanged
        summary = skipped(feeds.summary, outputs)
        files = (*feeds.report.written, *feeds.report.unchanged)
        report = WriteReport((), tuple(sorted(files)), ())
        again = replace(feeds, summary=summary, project=None, selection=None, report=report)
    return SiteBuild(
        again,
        DigestOutcome(digest.period) if digest is not None else None,
        PublishReport() if pings is not None else None,
    )


def inputs_of(config: Config) -> list[Witness] | None:
    """What a site build reads, as ``newsletter.replay`` observes it before the build
    (the records' scan apart: ``replay.records_witness``); None when that cannot be
    observed from files (the state on a database server)."""
    if config.database.kind != "sqlite":
        return None
    import feeds
    import newsletter

    folders = [
        Path(feeds.__file__).parent,
        Path(newsletter.__file__).parent,
        config.templates,
        *([config.content.topics] if config.content.topics is not None else []),
    ]
    return [
        ["bytes", str(config.source.resolve() if config.source else "")],
        ["env", config.environment_names()],
        *(["tree", str(folder)] for folder in folders),
        *([["file", str(config.site.icon)]] if config.site.icon is not None else []),
    ]


@dataclass(frozen=True)
class Outcome:
    """What an unchanged site build leaves, as ``newsletter.replay`` observes it."""

    # the witnesses of what it wrote (``replay.observe``), observed after it
    witnesses: list[Witness]
    # when the time alone changes what it would do (None: never)
    until: datetime | None
    # the work lock's file
    lock: Path


def outcome_of(config: Config, site: SiteBuild, options: Options, now: datetime) -> Outcome | None:
    """What the unchanged ``site`` build wrote and until when it holds
    (``replay.remember``); None when the build was not one that is replayed
    (something changed, a given period)."""
    database = config.database
    if not site.unchanged or database.kind != "sqlite" or options.period is not None:
        return None
    witnesses: list[Witness] = [
        *(["tree", str(folder)] for folder in (config.output, config.issues_folder)),
        *(["file", path] for path in (database.where, f"{database.where}-wal")),
        ["file", str(config.websub.pending)],
    ]
    moments = [site.feeds.valid_until] if site.feeds is not None else []
    if site.digest is not None:
        moments.append(period_ends(config, now))
    until = min((m for m in moments if m is not None), default=None)
    return Outcome(witnesses, until, work_lock_path(Path(database.where)))


def _digest(
    config: Config, now: datetime, options: Options, feeds: BuildResult | None
) -> DigestOutcome:
    period = options.period or current_period(config, now)
    # a skipped feed build has just proved that no input changed
    inputs = feeds.fingerprint if feeds is not None and feeds.fingerprint else None
    try:
        result = render_due_digest(
            config,
            feeds.project if feeds is not None else None,
            period,
            force=options.force,
            inputs=inputs,
            unchanged=feeds is not None and feeds.summary.skipped,
        )
    except EmptyIssueError as exc:
        return DigestOutcome(period, empty=str(exc))
    return DigestOutcome(period, result)


@dataclass(frozen=True)
class SiteCheck:
    """What a build would do, found without writing anything."""

    # the loaded inputs, as a build loads them
    project: Project
    # what a feed build would write, and remove or empty of the published feeds
    feeds: FeedPlan
    # the digest due now, rendered in memory (None when its period has no stories;
    # its templates were rendered all the same, empty)
    issue: RenderedIssue | None
    # the period of that digest
    period: Period
    # why there is no issue, or ""
    empty: str = ""


def check_site(config: Config, now: datetime) -> SiteCheck:
    """Load, validate and render as ``build_site`` would, writing nothing.

    Raises what a build would raise (a bad topic reference, a template error);
    rejected records are in ``project.corpus.rejected``.
    """
    project = load_project(config)  # as a build loads it, without the cache
    check_topics(config, project.topics)
    plan = plan_feeds(project, now)
    period = current_period(config, now)
    try:
        issue = make_issue(project, config, period)
    except EmptyIssueError as exc:
        make_issue(project, config, period, force=True)  # the templates still render
        return SiteCheck(project, plan, None, period, str(exc))
    return SiteCheck(project, plan, issue, period)
