"""``bounces import PATH``: act on returned mail (bounces and complaints)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from newsletter.cli.group import cli, config_option, plain, say
from newsletter.config import load_config


@cli.group()
def bounces() -> None:
    """Process returned mail: bounces and complaints."""


@bounces.command("import")
@config_option
@click.argument("path", type=click.Path(path_type=Path, exists=True))
def bounces_import(config_path: Path, path: Path) -> None:
    """Read a Maildir folder or an mbox file of returned mail and update the subscribers.

    Only mail that proves it is about a message sent to a reader (its keyed VERP
    return path or Message-ID) changes that reader; everything else is "not ours".
    A hard bounce counts towards newsletter.bounces.hard_limit; a complaint
    unsubscribes at once. Each message is reported; one that cannot be read is
    skipped.
    """
    from newsletter import state
    from newsletter.audience.bounces import import_returned
    from newsletter.audience.tokens import secret_from_env
    from newsletter.mail.headers import return_path

    config = load_config(config_path)
    settings = config.newsletter.bounces
    with state.connect(config.database) as conn:
        outcomes = import_returned(
            conn,
            path,
            secret=secret_from_env(config.state.secret_env),
            return_path=return_path(config.newsletter, config.site),
            delimiter=settings.verp_delimiter,
            limits=settings,
            max_bytes=settings.max_message_bytes,
            now=datetime.now(UTC),
        )
    for o in outcomes:
        who = f", {o.subscriber}" if o.subscriber else ""
        change = f" -> {o.status}" if o.status else ""
        detail = f" ({o.detail})" if o.detail else ""
        say(plain(f"  {o.name}: {o.kind}{who}{change}{detail}"))
    changed = sum(bool(o.status) for o in outcomes)
    not_ours = sum(o.kind == "not ours" for o in outcomes)
    say(
        plain(
            f"Returned mail in {path}: {len(outcomes)} messages, {changed} subscribers changed, "
            f"{not_ours} not ours (they changed nobody)"
        )
    )
