"""``build``, ``digest``, ``init`` and ``check``: the site and the digest issue."""

from __future__ import annotations

import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from feeds.build import BuildResult, Project, build_feeds
from feeds.errors import FeedletterError
from feeds.text import truncate
from newsletter.cli.group import (
    EXIT_REJECTED,
    VERBOSE,
    cli,
    config_option,
    configure,
    date_option,
    fail,
    force_option,
    locked,
    progress_bar,
    say,
    shown_path,
    verbosity,
    warn,
)
from newsletter.config import Config
from newsletter.errors import EmptyIssueError

if TYPE_CHECKING:
    from newsletter.issue.pipeline import DigestResult


@cli.command()
@config_option
@click.option("--strict", is_flag=True, help="Exit with status 3 if any record was rejected.")
@date_option
@force_option
@click.option("--no-digest", is_flag=True, help="Build the feeds and pages only, not the digest.")
@click.option(
    "--allow-removal",
    is_flag=True,
    help="Write even if more than half of the published feed files (or every topic's) "
    "would be removed or emptied.",
)
def build(
    config_path: Path,
    strict: bool,
    end_date: datetime | None,
    force: bool,
    no_digest: bool,
    allow_removal: bool,
) -> None:
    """Write every feed and page, then this period's digest, to output/."""
    config = configure(config_path)
    with locked(config, "feedletter build"):
        try:
            with progress_bar("Parsing records") as advance:
                result = build_feeds(
                    config, now=datetime.now(UTC), progress=advance, allow_removal=allow_removal
                )
        except FeedletterError as exc:
            fail(exc)
        print_build_summary(result, config)
        changed = list(result.report.written)
        if not no_digest:
            # a skipped feed build has just proved that no input changed
            inputs = result.fingerprint if result.fingerprint else None
            changed += render_digest(
                config, result.project, end_date, force, inputs, result.summary.skipped
            )
        announce(config, changed)
    if strict and result.summary.rejected:
        click.echo(f"error: --strict: {len(result.summary.rejected)} record(s) rejected", err=True)
        sys.exit(EXIT_REJECTED)


@cli.command()
@config_option
@date_option
@force_option
def digest(config_path: Path, end_date: datetime | None, force: bool) -> None:
    """Render the digest issue for a period into output/newsletter/<issue-id>/."""
    config = configure(config_path)
    with locked(config, "feedletter digest"):
        announce(config, render_digest(config, None, end_date, force))


def announce(config: Config, changed: list[str]) -> None:
    """Ping the WebSub hubs about the changed feeds (and retry pending pings); report it."""
    from feeds.publishing.websub import publish

    report = publish(config.websub, config.site.base_url, changed)
    for warning in report.warnings:
        warn(warning)
    if not report.results and not report.given_up:
        return
    for result in report.results:
        ping = result.ping
        say(f"  WebSub ping {ping.hub} about {ping.topic}: {result.answer}", VERBOSE)
    hubs = len({r.ping.hub for r in report.results})
    failed = report.failed
    say(
        f"WebSub: {len(report.results) - len(failed)} of {len(report.results)} "
        f"ping(s) to {hubs} hub(s) answered"
    )
    if failed:
        warn(f"{len(failed)} WebSub ping(s) failed; they are retried on the next build:")
        causes = Counter((r.ping.hub, r.cause) for r in failed)
        for (hub, cause), count in causes.items():
            click.echo(f"  {hub}: {count} feed(s) not notified: {cause}", err=True)
        if verbosity() < VERBOSE:
            click.echo("  (-v lists every ping)", err=True)
    for ping in report.given_up:
        warn(f"WebSub: gave up pinging {ping.hub} about {ping.topic} after {ping.failures} builds")


def render_digest(
    config: Config,
    project: Project | None,
    end_date: datetime | None,
    force: bool,
    inputs: str | None = None,
    unchanged: bool = False,
) -> list[str]:
    """Render, write and summarise the issue ending on ``end_date`` (default: the one due);
    returns the paths it changed in output/.

    ``inputs`` is the fingerprint a feed build has just checked; when it did not
    change (``unchanged``) and the same period's files are intact, nothing is rendered.
    """
    from newsletter.issue import pipeline

    try:
        if end_date is not None:
            period = pipeline.issue_period(config, end_date.date())
        else:
            period = pipeline.current_period(config, datetime.now(UTC))
        result = pipeline.render_due_digest(
            config, project, period, force=force, inputs=inputs, unchanged=unchanged
        )
        if result is None:
            say(
                f"Digest {period.issue_id} ({period.first_day} to {period.last_day}): "
                "nothing changed since the last build"
            )
            return []
    except EmptyIssueError as exc:
        say(f"Digest: not produced: {exc}")
        return []
    except FeedletterError as exc:
        fail(exc)
    print_digest_summary(result, config)
    return list(result.report.written)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY: config, templates, sample records."""
    from newsletter.runtime.scaffold import create_project

    try:
        written = create_project(directory)
    except FeedletterError as exc:
        fail(exc)
    say(f"Created {directory} ({len(written)} files). Next:")
    say(f"  cd {directory}")
    say("  feedletter build --date 2021-11-07   # feeds, pages and a digest of the samples")
    say("  export FEEDLETTER_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')")
    say("  feedletter serve                     # then open http://127.0.0.1:8000/")


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Check the config and every record without writing anything; exit 3 on problems."""
    from feeds.build import load_project, removal_of, select
    from feeds.selection.collector import rank_key

    config = configure(config_path)
    try:
        project = load_project(config)  # as build loads it, without the cache
    except FeedletterError as exc:
        fail(exc)
    topics, corpus = project.topics, project.corpus
    selection = select(project, datetime.now(UTC))
    say(
        f"Config {shown_path(config_path)}: valid; {len(topics.topics)} topics, "
        f"{corpus.read} records"
    )
    say(f"Rejected records: {len(corpus.rejected)}")
    for error in corpus.rejected:
        say(f"  {error.path}: {error.reason}")
    empty = [
        topics.by_id[t.topic_id].name for t in selection.topics if t.topic_id and not t.articles
    ]
    say(f"Topics with no qualifying articles: {', '.join(empty) or 'none'}")
    unknown = [truncate(name, 60) for name in selection.unknown_topics]
    say(f"Topic names used by records but not defined: {', '.join(unknown) or 'none'}")
    say(
        f"Stories told by several records: {len(selection.stories)} "
        f"({selection.copies_folded} extra copies folded into them)"
    )
    for story in selection.stories:
        first = story.copies[0]
        say(f"  {truncate(first.title, 80)!r} ({first.published_at:%Y-%m-%d}):")
        for copy in sorted(story.copies, key=rank_key):
            provider = copy.provider_name or "no provider"
            say(f"    {copy.path} ({provider}, quality {copy.quality})")
    taken = removal_of(project, datetime.now(UTC))
    if taken.removed or taken.emptied:
        say(
            f"A build would remove {len(taken.removed)} and empty {len(taken.emptied)} of the "
            f"{taken.published} published feed files"
            + (
                " (it stops: more than half, or every topic; --allow-removal)"
                if taken.drastic
                else ""
            )
        )
        for name in taken.removed:
            say(f"  removed: {name}", VERBOSE)
        for name in taken.emptied:
            say(f"  emptied: {name}", VERBOSE)
    notes = [(a.path, a.excerpt_note) for a in corpus.articles if a.excerpt_note]
    trimmed = sum(note.startswith("trimmed") for _, note in notes)
    say(
        f"Excerpts cleaned: {trimmed} trimmed, {len(notes) - trimmed} dropped"
        + (" (-v lists them)" if notes and verbosity() < VERBOSE else "")
    )
    for path, note in notes:
        say(f"  {path}: {truncate(note, 160)}", VERBOSE)
    if corpus.rejected:
        click.echo(f"error: {len(corpus.rejected)} record(s) rejected", err=True)
        sys.exit(EXIT_REJECTED)
    if taken.drastic:
        click.echo(f"error: {taken.error()}", err=True)
        sys.exit(EXIT_REJECTED)
    say("OK")


def print_digest_summary(result: DigestResult, config: Config) -> None:
    """The human summary of a digest: period, stories, size, where it went."""
    issue = result.issue
    plan = issue.plan
    period = plan.period
    say(
        f"Digest {issue.issue_id} ({period.first_day} to {period.last_day}): "
        f"{len(plan.items)} {'story' if len(plan.items) == 1 else 'stories'}, "
        f"{len(plan.top.items)} top, {len(plan.sections)} topic sections"
    )
    if plan.left_out:
        say(f"  {plan.left_out} more qualified but their section was full (items_per_topic)")
    budget = config.newsletter.max_html_bytes
    say(f"  HTML {result.html_bytes:,} bytes (budget {budget:,}); text {len(issue.text):,} chars")
    if plan.trimmed:
        say(f"  {plan.trimmed} stories dropped to stay under the size budget")
    web = config.output / "newsletter" / issue.issue_id
    private = config.issues_folder / issue.issue_id
    written = len(result.report.written) + len(result.private.written)
    unchanged = len(result.report.unchanged) + len(result.private.unchanged)
    say(f"  web copy in {shown_path(web)}/, message and sample in {shown_path(private)}/")
    say(f"  {written} files written, {unchanged} unchanged")


def print_build_summary(result: BuildResult, settings: Config) -> None:
    """The human summary of a build: records, rejections, feeds, files."""
    summary = result.summary
    cached = summary.read - summary.parsed
    say(
        f"Records: {summary.read} read ({summary.parsed} parsed, {cached} from cache), "
        f"{len(summary.rejected)} rejected, "
        f"{summary.duplicates} copies folded into {summary.stories} stories"
    )
    for path, reason in summary.rejected:
        say(f"  rejected {path}: {reason}")
    if summary.unknown_topics:
        names = ", ".join(truncate(name, 60) for name in summary.unknown_topics[:20])
        more = len(summary.unknown_topics) - 20
        extra = f" and {more} more" if more > 0 else ""
        say(f"  topics named by records but not defined: {names}{extra}")
    for warning in summary.warnings:
        warn(warning)
    for name in result.report.written:
        say(f"  wrote {name}", VERBOSE)
    say("Feeds (items shown / qualified):")
    width = max(len(row.name) for row in summary.feeds)
    for row in summary.feeds:
        say(f"  {row.name:<{width}}  {row.shown:>4} / {row.qualified}")
    note = " (nothing changed since the last build)" if summary.skipped else ""
    say(
        f"Files: {summary.written} written, {summary.unchanged} unchanged, "
        f"{summary.removed} removed in {shown_path(settings.output)}{note}"
    )
