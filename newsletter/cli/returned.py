"""``bounces import PATH``: act on returned mail (bounces and complaints)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from feeds.errors import FeedletterError

from .audience import open_state
from .common import cli, config_option, configure, fail, say


@cli.group()
def bounces() -> None:
    """Process returned mail: bounces and complaints."""


@bounces.command("import")
@config_option
@click.argument("path", type=click.Path(path_type=Path, exists=True))
def bounces_import(config_path: Path, path: Path) -> None:
    """Read a Maildir folder or an mbox file of returned mail and update the subscribers.

    A hard bounce counts towards newsletter.bounces.hard_limit; a complaint
    unsubscribes at once. Each message is reported; one that cannot be read is
    skipped.
    """
    from ..bounces import import_returned

    config = configure(config_path)
    conn = open_state(config)
    try:
        outcomes = import_returned(
            conn, path, hard_limit=config.newsletter.bounces.hard_limit, now=datetime.now(UTC)
        )
    except (FeedletterError, OSError) as exc:
        fail(exc if isinstance(exc, FeedletterError) else FeedletterError(f"{path}: {exc}"))
    finally:
        conn.close()
    for o in outcomes:
        who = o.subscriber or "no known subscriber"
        change = f" -> {o.status}" if o.status else ""
        say(f"  {o.name}: {o.kind}, {who}{change}" + (f" ({o.detail})" if o.detail else ""))
    changed = sum(bool(o.status) for o in outcomes)
    unmatched = sum(not o.subscriber for o in outcomes)
    say(
        f"Returned mail in {path}: {len(outcomes)} messages, {changed} subscribers changed, "
        f"{unmatched} not matched to a subscriber"
    )
