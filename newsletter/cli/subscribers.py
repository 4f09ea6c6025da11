"""``subscribers add | remove | list | import | export | forget | purge``: the operator's side.

Thin wrappers over ``newsletter.audience.lifecycle`` (the lifecycle). ``add`` and
``import`` are operator actions that make readers active at once (consent source
"operator"); ``import --confirm`` mails confirmation links instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import click

from feeds.build import load_topics
from newsletter.audience.status import Status
from newsletter.cli.group import cli, config_option, plain, say
from newsletter.config import Config, load_config
from newsletter.state import Db

reconsent_option = click.option(
    "--reconsent",
    is_flag=True,
    help="The person asked to be forgotten before and has consented again: take them back.",
)


@cli.group()
def subscribers() -> None:
    """Manage the subscribers in the state database."""


@contextmanager
def state_connection(config: Config) -> Iterator[Db]:
    """The state database for one command, closed whatever happens."""
    from newsletter import state

    with state.connect(config.database) as conn:
        yield conn


def known_topics(config: Config) -> list[str]:
    """The ids of the topics a build would use."""
    return [t.id for t in load_topics(config).topics]


def optional_secret(config: Config) -> bytes | None:
    """The signing secret when it is set (the suppression list needs it), else None."""
    value = os.environ.get(config.state.secret_env, "")
    return value.encode() if value else None


@subscribers.command("add")
@config_option
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--topics", default="", help="Comma-separated topic ids; omit for all topics.")
@reconsent_option
def subscribers_add(config_path: Path, email: str, name: str, topics: str, reconsent: bool) -> None:
    """Add a subscriber, active at once (or re-activate and update one)."""
    from newsletter.audience import lifecycle as subs

    config = load_config(config_path)
    with state_connection(config) as conn:
        wanted = subs.parse_topics(topics, known_topics(config)) if topics else ()
        subscriber, created = subs.add(
            conn,
            email,
            name=name,
            topics=wanted,
            secret=optional_secret(config),
            reconsent=reconsent,
        )
    verb = "Added" if created else "Updated"
    say(f"{verb} {subscriber.email} ({', '.join(subscriber.topics) or 'all topics'})")


@subscribers.command("remove")
@config_option
@click.argument("email")
def subscribers_remove(config_path: Path, email: str) -> None:
    """Delete a subscriber (their send-log rows stay; see forget to erase them)."""
    from newsletter.audience import lifecycle as subs

    config = load_config(config_path)
    with state_connection(config) as conn:
        removed = subs.remove(conn, subs.normalise_address(email))
    say(f"Removed {removed.email}")


@subscribers.command("list")
@config_option
@click.option(
    "--status",
    type=click.Choice([status.value for status in Status]),
    default=None,
    help="Only subscribers with this status.",
)
def subscribers_list(config_path: Path, status: str | None) -> None:
    """List subscribers: address, status, topics, name."""
    from newsletter.audience import lifecycle as subs

    config = load_config(config_path)
    with state_connection(config) as conn:
        rows = subs.listing(conn, status=Status(status) if status else None)
    for s in rows:
        click.echo(plain(f"{s.email}\t{s.status}\t{','.join(s.topics) or 'all'}\t{s.name}"))
    active = sum(s.status == Status.ACTIVE for s in rows)
    click.echo(f"{len(rows)} subscribers, {active} active", err=True)


@subscribers.command("import")
@config_option
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@reconsent_option
@click.option(
    "--confirm",
    "double_opt_in",
    is_flag=True,
    help="Mail each new address a confirmation link instead of making it active.",
)
def subscribers_import(
    config_path: Path, csv_file: Path, reconsent: bool, double_opt_in: bool
) -> None:
    """Import subscribers from a CSV file with a header: email[,name][,topics]."""
    from newsletter.audience import csvfiles as roster

    config = load_config(config_path)
    if double_opt_in:
        import_with_confirmation(config, csv_file)
        return
    with state_connection(config) as conn:
        report = roster.import_csv(
            conn,
            csv_file,
            known_topics(config),
            secret=optional_secret(config),
            reconsent=reconsent,
        )
    for line, problem in report.errors:
        click.echo(plain(f"  line {line}: {problem}"), err=True)
    say(
        f"Imported {csv_file}: {len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.errors)} rejected"
    )


def import_with_confirmation(config: Config, csv_file: Path) -> None:
    """``import --confirm``: every row signs up as the form does; its mail goes out."""
    from newsletter.audience import csvfiles as roster
    from newsletter.audience.notices import NoticeSettings
    from newsletter.audience.tokens import secret_from_env

    known = known_topics(config)
    with state_connection(config) as conn:
        secret = secret_from_env(config.state.secret_env)
        report = roster.import_with_confirmation(
            conn, NoticeSettings.of(config), csv_file, known, secret
        )
    for line, problem in report.errors:
        click.echo(plain(f"  line {line}: {problem}"), err=True)
    say(
        f"Imported {csv_file} with confirmation: {report.mailed} mailed, "
        f"{report.skipped + len(report.errors)} not mailed"
    )


@subscribers.command("export")
@config_option
@click.argument("csv_file", type=click.Path(path_type=Path, dir_okay=False))
def subscribers_export(config_path: Path, csv_file: Path) -> None:
    """Write every subscriber with status, topics, dates and consent to a CSV file."""
    from newsletter.audience import csvfiles as roster

    config = load_config(config_path)
    with state_connection(config) as conn:
        count = roster.export_csv(conn, csv_file)
    say(f"Exported {count} subscribers to {csv_file}")


@subscribers.command("forget")
@config_option
@click.argument("email")
def subscribers_forget(config_path: Path, email: str) -> None:
    """Erase a person's data; keep only a keyed hash so they are not re-imported by mistake."""
    from newsletter.audience import lifecycle as subs
    from newsletter.audience.tokens import secret_from_env

    config = load_config(config_path)
    with state_connection(config) as conn:
        secret = secret_from_env(config.state.secret_env)
        forgotten = subs.forget(conn, email, secret, datetime.now(UTC))
    say(
        f"Forgot {forgotten.email}: subscriber and send-log addresses erased; "
        "a keyed hash stays on the suppression list"
    )


@subscribers.command("purge")
@config_option
def subscribers_purge(config_path: Path) -> None:
    """Delete sign-ups never confirmed within newsletter.confirm_days (the scheduler
    does it daily: schedule.purge)."""
    from newsletter.audience import lifecycle as subs

    config = load_config(config_path)
    with state_connection(config) as conn:
        gone = subs.purge_pending(conn, datetime.now(UTC), config.newsletter.confirm_days)
    say(f"Deleted {gone} sign-up(s) never confirmed within {config.newsletter.confirm_days:g} days")
