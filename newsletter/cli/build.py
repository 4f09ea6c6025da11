"""``build`` and ``digest``: the site build (``runtime.sitebuild``), reported."""

from __future__ import annotations

import io
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click

from feeds import gc_paused
from feeds.build import BuildResult
from feeds.publishing.websub import PublishReport
from feeds.reading.scan import Handoff, scan
from feeds.text import truncate
from newsletter.cli.group import (
    EXIT_REJECTED,
    VERBOSE,
    cli,
    config_option,
    date_option,
    force_option,
    progress_bar,
    say,
    shown_path,
    verbosity,
    warn,
)
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import DigestResult, issue_period
from newsletter.replay import handed, observe, records_witness, remember
from newsletter.runtime.sitebuild import (
    DigestOutcome,
    Options,
    SiteBuild,
    as_run_again,
    build_site,
    inputs_of,
    outcome_of,
)


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
    config = load_config(config_path)
    options = Options(
        "feedletter build",
        period=issue_period(config, end_date.date()) if end_date else None,
        digest=not no_digest,
        force=force,
        allow_removal=allow_removal,
    )
    now = datetime.now(UTC)
    # what the build reads, observed before it reads it (the next identical run is
    # answered from this when none of it changed: ``newsletter.replay``)
    folder = config.content.news.resolve()
    given = handed(folder)
    files, seen = given if given is not None else (scan(folder), None)
    inputs = inputs_of(config) if config.cache is not None else None
    observed = [(w, observe(w)) for w in inputs or []] + [seen or records_witness(folder, files)]
    handoff = Handoff(files)
    del files  # the build lets go of the scan once it has loaded the records
    with progress_bar("Parsing records") as advance, gc_paused():
        site = build_site(config, now, options, progress=advance, files=handoff)
    assert site.feeds is not None
    code = print_build(site, config, strict)
    again = as_run_again(site) if inputs is not None and verbosity() < VERBOSE else None
    outcome = outcome_of(config, again, options, now) if again is not None else None
    if again is not None and outcome is not None and config.cache is not None:
        # what the same run would print, found as this one was printed
        with Recorded(echo=False) as printed:
            print_build(again, config, strict)
        what = (printed.out.getvalue(), printed.err.getvalue(), code)
        observed += [(w, observe(w)) for w in outcome.witnesses]
        remember(sys.argv[1:], config.cache, observed, outcome.until, outcome.lock, what)
    if code:
        sys.exit(code)


def print_build(site: SiteBuild, config: Config, strict: bool) -> int:
    """Print a site build's summary; its exit status."""
    assert site.feeds is not None
    print_build_summary(site.feeds, config)
    report(site, config)
    if strict and site.feeds.summary.rejected:
        rejected = len(site.feeds.summary.rejected)
        click.echo(f"error: --strict: {rejected} record(s) rejected", err=True)
        return EXIT_REJECTED
    return 0


class _Tee(io.TextIOBase):
    """A text stream that keeps what is written to it, and writes it to another."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream
        self.copy = io.StringIO()

    def write(self, text: str) -> int:
        self.copy.write(text)
        return self.stream.write(text) if self.stream is not None else len(text)

    def flush(self) -> None:
        if self.stream is not None:
            self.stream.flush()

    def getvalue(self) -> str:
        return self.copy.getvalue()


class Recorded:
    """What is printed on stdout and stderr inside it, kept (and printed when
    ``echo``)."""

    def __init__(self, echo: bool = True) -> None:
        self.echo = echo

    def __enter__(self) -> Recorded:
        out, err = (sys.stdout, sys.stderr) if self.echo else (None, None)
        self.out, self.err = _Tee(out), _Tee(err)
        self._streams = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = self.out, self.err
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stdout, sys.stderr = self._streams


@cli.command()
@config_option
@date_option
@force_option
def digest(config_path: Path, end_date: datetime | None, force: bool) -> None:
    """Render the digest issue for a period into output/newsletter/<issue-id>/."""
    config = load_config(config_path)
    options = Options(
        "feedletter digest",
        period=issue_period(config, end_date.date()) if end_date else None,
        feeds=False,
        force=force,
    )
    report(build_site(config, datetime.now(UTC), options), config)


def report(site: SiteBuild, config: Config) -> None:
    """The digest's and the pings' part of a site build's summary."""
    if site.digest is not None:
        print_digest_outcome(site.digest, config)
    if site.pings is not None:
        print_pings(site.pings)


def print_digest_outcome(outcome: DigestOutcome, config: Config) -> None:
    """One line when nothing was rendered, else the issue's summary."""
    period = outcome.period
    if outcome.empty:
        say(f"Digest: not produced: {outcome.empty}")
    elif outcome.result is None:
        say(
            f"Digest {period.issue_id} ({period.first_day} to {period.last_day}): "
            "nothing changed since the last build"
        )
    else:
        print_digest_summary(outcome.result, config)


def print_pings(report: PublishReport) -> None:
    """How the WebSub hubs answered, and which pings are retried later."""
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
