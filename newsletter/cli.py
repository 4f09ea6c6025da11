"""The ``feedletter`` command line: thin wrappers over library calls.

Each command loads the config once, calls the library, and prints a summary. The
library raises ``FeedletterError``; this module is the only place that turns
errors into messages and exit codes:

0 success · 1 an error stopped the command (message on stderr) · 2 usage error ·
3 ``--strict`` and at least one record was rejected.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import click

from feeds import __version__
from feeds.build import BuildResult, build_feeds, load_project
from feeds.errors import EmptyIssueError, FeedletterError

from .config import DEFAULT_CONFIG, Config, load_config
from .pipeline import DigestResult, issue_period, make_issue, write_issue

EXIT_ERROR = 1
EXIT_REJECTED = 3

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Configuration file; relative paths in it are resolved against its folder.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedletter")
def cli() -> None:
    """Per-topic RSS/Atom feeds and a weekly email digest from a folder of news records."""


date_option = click.option(
    "--date",
    "end_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Digest: the last day (UTC) of the period the issue covers. Default: the period ends now.",
)
force_option = click.option(
    "--force", is_flag=True, help="Digest: produce an issue even when it has no stories."
)


@cli.command()
@config_option
@click.option("--strict", is_flag=True, help="Exit with status 3 if any record was rejected.")
@date_option
@force_option
def build(config_path: Path, strict: bool, end_date: datetime | None, force: bool) -> None:
    """Write every feed and page, then this period's digest, to output/."""
    try:
        config = load_config(config_path)
        result = build_feeds(config, now=datetime.now(UTC))
    except FeedletterError as exc:
        fail(exc)
    print_build_summary(result)
    try:
        period = issue_period(config, end_date.date() if end_date else datetime.now(UTC))
        digest = write_issue(config, make_issue(result.project, config, period, force=force))
    except EmptyIssueError as exc:
        click.echo(f"Digest: not produced: {exc}")
    except FeedletterError as exc:
        fail(exc)
    else:
        print_digest_summary(digest, config)
    if strict and result.project.corpus.rejected:
        click.echo(
            f"error: --strict: {len(result.project.corpus.rejected)} record(s) rejected", err=True
        )
        sys.exit(EXIT_REJECTED)


@cli.command()
@config_option
@date_option
@force_option
def digest(config_path: Path, end_date: datetime | None, force: bool) -> None:
    """Render the digest issue for a period into output/newsletter/<issue-id>/."""
    try:
        config = load_config(config_path)
        project = load_project(config)
        period = issue_period(config, end_date.date() if end_date else datetime.now(UTC))
        result = write_issue(config, make_issue(project, config, period, force=force))
    except EmptyIssueError as exc:
        click.echo(f"Digest: not produced: {exc}")
        return
    except FeedletterError as exc:
        fail(exc)
    print_digest_summary(result, config)


def print_digest_summary(result: DigestResult, config: Config) -> None:
    """The human summary of a digest: period, stories, size, where it went."""
    issue = result.issue
    plan = issue.plan
    period = plan.period
    start = (period.start + timedelta(microseconds=1)).date()
    click.echo(
        f"Digest {issue.issue_id} ({start} to {period.last_day}): {len(plan.items)} stories, "
        f"{len(plan.top.items)} top, {len(plan.sections)} topic sections"
    )
    if plan.left_out:
        click.echo(f"  {plan.left_out} more qualified but their section was full (items_per_topic)")
    budget = config.newsletter.max_html_bytes
    click.echo(
        f"  HTML {result.html_bytes:,} bytes (budget {budget:,}); text {len(issue.text):,} chars"
    )
    if plan.trimmed:
        click.echo(f"  {plan.trimmed} stories dropped to stay under the size budget")
    folder = config.output / "newsletter" / issue.issue_id
    report = result.report
    click.echo(
        f"  {shown_path(folder)}/: {len(report.written)} files written, "
        f"{len(report.unchanged)} unchanged"
    )


def fail(exc: FeedletterError) -> NoReturn:
    """Print ``exc`` as one error message and exit with status 1."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_ERROR)


def print_build_summary(result: BuildResult) -> None:
    """The human summary of a build: records, rejections, feeds, files."""
    corpus = result.project.corpus
    selection = result.selection
    settings = result.project.settings
    click.echo(
        f"Records: {corpus.read} read, {len(corpus.articles)} parsed, "
        f"{len(corpus.rejected)} rejected, {len(selection.duplicates)} duplicates collapsed"
    )
    for error in corpus.rejected:
        click.echo(f"  rejected {error.path}: {error.reason}")
    if selection.unknown_topics:
        names = ", ".join(selection.unknown_topics)
        click.echo(f"  topics named by records but not defined: {names}")
    click.echo("Feeds (items shown / qualified):")
    rows = [("All topics", selection.everything)]
    rows += [
        (result.project.topics.by_id[t.topic_id].name, t)
        for t in selection.topics
        if t.topic_id is not None
    ]
    width = max(len(name) for name, _ in rows)
    for name, item in rows:
        click.echo(f"  {name:<{width}}  {len(item.articles):>4} / {item.qualified}")
    report = result.report
    click.echo(
        f"Files: {len(report.written)} written, {len(report.unchanged)} unchanged, "
        f"{len(report.removed)} removed in {shown_path(settings.output)}"
    )


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="feedletter")
