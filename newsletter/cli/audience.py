"""``subscribers add | remove | list | import``: the operator's side of the audience."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import click

from feeds.build import load_topics
from feeds.errors import FeedletterError

from ..config import Config
from .common import cli, config_option, configure, fail, say


@cli.group()
def subscribers() -> None:
    """Manage the subscribers in the state database."""


def open_state(config: Config) -> sqlite3.Connection:
    from .. import state

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
    from .. import subscribers as subs

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
    from .. import subscribers as subs

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
    from .. import subscribers as subs

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
    from .. import subscribers as subs

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
