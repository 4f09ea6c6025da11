"""The ``feedletter`` command line: thin wrappers over library calls.

Each command loads the config once, calls the library, and prints a summary. The
library raises ``FeedletterError``; this module is the only place that turns
errors into messages and exit codes:

0 success · 1 an error stopped the command (message on stderr) · 2 usage error ·
3 ``--strict`` and at least one record was rejected.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from feeds import __version__
from feeds.build import BuildResult, build_feeds
from feeds.errors import FeedletterError

from .config import DEFAULT_CONFIG, load_config

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


@cli.command()
@config_option
@click.option("--strict", is_flag=True, help="Exit with status 3 if any record was rejected.")
def build(config_path: Path, strict: bool) -> None:
    """Load the records, select per topic, and write every feed and page to output/."""
    try:
        config = load_config(config_path)
        result = build_feeds(config, now=datetime.now(UTC))
    except FeedletterError as exc:
        fail(exc)
    print_build_summary(result)
    if strict and result.project.corpus.rejected:
        click.echo(
            f"error: --strict: {len(result.project.corpus.rejected)} record(s) rejected", err=True
        )
        sys.exit(EXIT_REJECTED)


def fail(exc: FeedletterError) -> None:
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
