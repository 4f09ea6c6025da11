"""``schedule``: the feed and digest jobs on their schedules (``runtime.scheduler``)."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.group import cli, config_option, log_jobs, shown_database
from newsletter.config import load_config


@cli.command()
@config_option
def schedule(config_path: Path) -> None:
    """Run the feed and digest jobs on their schedules until stopped (SIGINT/SIGTERM)."""
    from newsletter.runtime.scheduler import run_scheduler

    log_jobs()
    config = load_config(config_path)

    def ready(lines: list[str]) -> None:
        click.echo(f"Scheduler running on {shown_database(config.database)}:", err=True)
        for line in lines:
            click.echo(f"  {line}", err=True)

    run_scheduler(config, config_path, on_ready=ready)
    click.echo("Scheduler stopped.", err=True)
