"""The ``feedletter`` command line: thin wrappers over library calls.

Each command loads the config once, calls the library, and prints a summary. The
library raises ``FeedletterError``; this module is the only place that turns
errors into messages and exit codes:

0 success · 1 an error stopped the command (message on stderr) · 2 usage error ·
3 ``--strict`` and at least one record was rejected · 4 another feedletter
process held the lock for longer than ``state.lock_wait_seconds`` · 5 ``send``
finished but some recipients failed or were deferred.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from feeds import __version__
from feeds.build import BuildResult, Project, build_feeds, load_cached_project, load_topics
from feeds.errors import FeedletterError
from feeds.text import truncate

from .config import DEFAULT_CONFIG, Config, load_config
from .errors import BusyError, EmptyIssueError
from .locks import work_lock

if TYPE_CHECKING:
    from .delivery import SendReport
    from .pipeline import DigestResult

EXIT_ERROR = 1
EXIT_REJECTED = 3
EXIT_BUSY = 4
EXIT_UNDELIVERED = 5

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
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (for cron).")
@click.option("-v", "--verbose", is_flag=True, help="Print more detail, and log to stderr.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Per-topic RSS/Atom feeds and a weekly email digest from a folder of news records."""
    if quiet and verbose:
        raise click.UsageError("-q and -v cannot be used together")
    ctx.meta["verbosity"] = QUIET if quiet else VERBOSE if verbose else NORMAL
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


date_option = click.option(
    "--date",
    "end_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Digest: the last day of the period the issue covers (schedule.timezone). "
    "Default: the period due now (see README: the digest period).",
)
force_option = click.option(
    "--force", is_flag=True, help="Digest: produce an issue even when it has no stories."
)


@cli.command()
@config_option
@click.option("--strict", is_flag=True, help="Exit with status 3 if any record was rejected.")
@date_option
@force_option
@click.option("--no-digest", is_flag=True, help="Build the feeds and pages only, not the digest.")
def build(
    config_path: Path, strict: bool, end_date: datetime | None, force: bool, no_digest: bool
) -> None:
    """Write every feed and page, then this period's digest, to output/."""
    config = configure(config_path)
    with locked(config, "feedletter build"):
        try:
            with progress_bar("Parsing records") as advance:
                result = build_feeds(config, now=datetime.now(UTC), progress=advance)
        except FeedletterError as exc:
            fail(exc)
        print_build_summary(result, config)
        if not no_digest:
            # a skipped feed build has just proved that no input changed
            inputs = result.fingerprint if result.fingerprint else None
            render_digest(config, result.project, end_date, force, inputs, result.summary.skipped)
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
        render_digest(config, None, end_date, force)


def render_digest(
    config: Config,
    project: Project | None,
    end_date: datetime | None,
    force: bool,
    inputs: str | None = None,
    unchanged: bool = False,
) -> None:
    """Render, write and summarise the issue ending on ``end_date`` (default: the one due).

    ``inputs`` is the fingerprint a feed build has just checked; when it did not
    change (``unchanged``) and the same period's files are intact, nothing is rendered.
    """
    from . import pipeline

    try:
        if end_date is not None:
            period = pipeline.issue_period(config, end_date.date())
        else:
            period = pipeline.current_period(config, datetime.now(UTC))
        fingerprint = pipeline.digest_fingerprint(inputs, period) if inputs else None
        if unchanged and fingerprint and pipeline.unchanged_issue(config, fingerprint):
            say(
                f"Digest {period.issue_id} ({period.first_day} to {period.last_day}): "
                "nothing changed since the last build"
            )
            return
        project = project or load_cached_project(config)
        issue = pipeline.make_issue(project, config, period, force=force)
        result = pipeline.write_issue(config, issue)
        if fingerprint:
            pipeline.record_issue(config, fingerprint, result)
    except EmptyIssueError as exc:
        say(f"Digest: not produced: {exc}")
    except FeedletterError as exc:
        fail(exc)
    else:
        print_digest_summary(result, config)


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY: config, templates, sample records."""
    from .scaffold import create_project

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
    from feeds.build import Project, select
    from feeds.corpus import load_corpus

    config = configure(config_path)
    try:
        topics = load_topics(config)
        corpus = load_corpus(config.content.news, limits=config.limits.limits())
    except FeedletterError as exc:
        fail(exc)
    selection = select(Project(config, corpus, topics), datetime.now(UTC))
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
    say(f"Records that would be dropped as duplicates: {len(selection.duplicates)}")
    for duplicate in selection.duplicates:
        say(f"  {duplicate.dropped.path} (same story as {duplicate.kept.path})")
    if corpus.rejected:
        click.echo(f"error: {len(corpus.rejected)} record(s) rejected", err=True)
        sys.exit(EXIT_REJECTED)
    say("OK")


@cli.group()
def subscribers() -> None:
    """Manage the subscribers in the state database."""


def open_state(config: Config) -> sqlite3.Connection:
    from . import state

    try:
        return state.connect(config.database)
    except FeedletterError as exc:
        fail(exc)


def known_topics(config: Config) -> list[str]:
    try:
        return [t.id for t in load_topics(config).topics]
    except FeedletterError as exc:
        fail(exc)


@subscribers.command("add")
@config_option
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--topics", default="", help="Comma-separated topic ids; omit for all topics.")
def subscribers_add(config_path: Path, email: str, name: str, topics: str) -> None:
    """Add a subscriber (or re-activate and update one)."""
    from . import subscribers as subs

    config = configure(config_path)
    conn = open_state(config)
    try:
        wanted = subs.parse_topics(topics, known_topics(config)) if topics else ()
        subscriber, created = subs.add(conn, email, name=name, topics=wanted)
    except FeedletterError as exc:
        fail(exc)
    finally:
        conn.close()
    verb = "Added" if created else "Updated"
    say(f"{verb} {subscriber.email} ({', '.join(subscriber.topics) or 'all topics'})")


@subscribers.command("remove")
@config_option
@click.argument("email")
def subscribers_remove(config_path: Path, email: str) -> None:
    """Delete a subscriber (their send-log rows stay)."""
    from . import subscribers as subs

    config = configure(config_path)
    conn = open_state(config)
    try:
        removed = subs.remove(conn, subs.normalise_address(email))
    except FeedletterError as exc:
        fail(exc)
    finally:
        conn.close()
    say(f"Removed {removed.email}")


@subscribers.command("list")
@config_option
def subscribers_list(config_path: Path) -> None:
    """List every subscriber: address, status, topics, name."""
    from . import subscribers as subs

    config = configure(config_path)
    conn = open_state(config)
    try:
        rows = subs.listing(conn)
    finally:
        conn.close()
    for s in rows:
        click.echo(f"{s.email}\t{s.status}\t{','.join(s.topics) or 'all'}\t{s.name}")
    active = sum(s.status == "active" for s in rows)
    click.echo(f"{len(rows)} subscribers, {active} active", err=True)


@subscribers.command("import")
@config_option
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
def subscribers_import(config_path: Path, csv_file: Path) -> None:
    """Import subscribers from a CSV file with a header: email[,name][,topics]."""
    from . import subscribers as subs

    config = configure(config_path)
    conn = open_state(config)
    try:
        report = subs.import_csv(conn, csv_file, known_topics(config))
    except FeedletterError as exc:
        fail(exc)
    finally:
        conn.close()
    for line, problem in report.errors:
        click.echo(f"  line {line}: {problem}", err=True)
    say(
        f"Imported {csv_file}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.errors)} rejected"
    )


@cli.command()
@config_option
@click.option(
    "--issue", "issue_id", default=None, help="Issue id (e.g. 2021-W44); default: the newest."
)
@click.option(
    "--dry-run", is_flag=True, help="Render and count, but connect to no server and send nothing."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages in this run."
)
@click.option("--force", is_flag=True, help="Send even if the issue's period ended long ago.")
def send(
    config_path: Path, issue_id: str | None, dry_run: bool, limit: int | None, force: bool
) -> None:
    """Send a digest issue to every active subscriber who has not received it yet."""
    from . import delivery

    config = configure(config_path)
    with locked(config, "feedletter send"):
        conn = open_state(config)
        try:
            info = delivery.find_issue(config, issue_id)
            delivery.check_window(info, config, datetime.now(UTC), force or dry_run)
            project = load_cached_project(config)
            with progress_bar(f"Sending {info.id}") as advance:
                report = delivery.send_issue(
                    conn, project, config, info, dry_run=dry_run, limit=limit, on_progress=advance
                )
        except FeedletterError as exc:
            fail(exc)
        finally:
            conn.close()
    print_send_summary(report)
    if report.failed or report.deferred:
        sys.exit(EXIT_UNDELIVERED)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal (stderr); nothing when output is redirected."""
    if not sys.stderr.isatty() or verbosity() == QUIET:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


def print_send_summary(report: SendReport) -> None:
    """The final summary of a send run."""
    mode = " (dry run: nothing sent)" if report.dry_run else ""
    say(
        f"Issue {report.issue_id}{mode}: {report.planned} subscribers to send to, "
        f"{report.variants} rendered variant(s)"
    )
    say(
        f"Sent {len(report.sent)}, already sent {report.already_sent}, "
        f"failed {len(report.failed)}, deferred {len(report.deferred)}, "
        f"nothing new {report.nothing_new}, failed in earlier runs {report.failed_before}"
    )
    for address, reply in report.failed:
        say(f"  failed {address}: {reply}")
    for address, reply in report.deferred:
        say(f"  deferred {address} (retried on the next run): {reply}")
    if report.limited:
        say("  stopped at --limit; run send again to continue")


@cli.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port to listen on.",
)
@click.option(
    "--production",
    is_flag=True,
    help="Serve output/ exactly as published (behind a proxy at site.base_url). "
    "Default: a local preview whose pages and feeds link to this server.",
)
def serve(config_path: Path, host: str, port: int, production: bool) -> None:
    """Serve output/ under site.base_url's path, with the one-click unsubscribe endpoint."""
    import uvicorn

    from . import state
    from .tokens import secret_from_env
    from .web import ServeSettings, create_app

    config = configure(config_path)
    try:
        secret = secret_from_env(config.state.secret_env)
        state.connect(config.database).close()
    except FeedletterError as exc:
        fail(exc)
    settings = ServeSettings(
        output=config.output,
        base_url=config.site.base_url,
        unsubscribe_url=config.unsubscribe_endpoint(),
        site_title=config.site.title,
        preview=not production,
    )
    app = create_app(settings, lambda: state.connect(config.database), secret)
    shown_host = f"[{host}]" if ":" in host else host
    address = f"http://{shown_host}:{port}{settings.base_path}/"
    if production:
        click.echo(f"Serving {shown_path(config.output)} as published on {address}", err=True)
    else:
        click.echo(
            f"Previewing {shown_path(config.output)} on {address} "
            "(links point here; --production serves the files as published)",
            err=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning")


@cli.command()
@config_option
def schedule(config_path: Path) -> None:
    """Run the feed and digest jobs on their schedules until stopped (SIGINT/SIGTERM)."""
    import logging

    from .schedule import run_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = configure(config_path)

    def ready(lines: list[str]) -> None:
        click.echo(f"Scheduler running on {shown_path(config.database)}:", err=True)
        for line in lines:
            click.echo(f"  {line}", err=True)

    try:
        run_scheduler(config, config_path, on_ready=ready)
    except FeedletterError as exc:
        fail(exc)
    click.echo("Scheduler stopped.", err=True)


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


QUIET, NORMAL, VERBOSE = 0, 1, 2


def verbosity() -> int:
    """0 with -q, 2 with -v, else 1."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get("verbosity", NORMAL)) if ctx is not None else NORMAL


def say(text: str, level: int = NORMAL) -> None:
    """Print a summary line on stdout unless the verbosity is below ``level``."""
    if verbosity() >= level:
        click.echo(text)


def warn(text: str) -> None:
    """Print a warning on stderr unless -q."""
    if verbosity() >= NORMAL:
        click.echo(f"warning: {text}", err=True)


def fail(exc: FeedletterError) -> NoReturn:
    """Print ``exc`` as one error message and exit (4 when busy, else 1)."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(EXIT_BUSY if isinstance(exc, BusyError) else EXIT_ERROR)


def configure(config_path: Path) -> Config:
    """Load the config or exit with its error."""
    try:
        return load_config(config_path)
    except FeedletterError as exc:
        fail(exc)


@contextmanager
def locked(config: Config, what: str) -> Iterator[None]:
    """Hold the work lock for the command's duration, or exit 4 if it stays taken."""
    try:
        lock = work_lock(config.database, what, config.state.lock_wait_seconds)
        lock.__enter__()
    except FeedletterError as exc:
        fail(exc)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def print_build_summary(result: BuildResult, settings: Config) -> None:
    """The human summary of a build: records, rejections, feeds, files."""
    summary = result.summary
    cached = summary.read - summary.parsed
    say(
        f"Records: {summary.read} read ({summary.parsed} parsed, {cached} from cache), "
        f"{len(summary.rejected)} rejected, {summary.duplicates} duplicates collapsed"
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


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="feedletter")
