"""``report``: the operator's page (or JSON) of readers, sends, bounces, clicks and feeds."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import click

from newsletter.cli.group import cli, config_option, say, shown_path
from newsletter.config import load_config


@cli.command()
@config_option
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Where to write the page (default: var/report.html beside the state).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON instead.")
def report(config_path: Path, output: Path | None, as_json: bool) -> None:
    """Write one self-contained HTML page of readers over time, sign-ups, issues sent,
    bounce and complaint rates, clicks and feed sizes (charts as static SVG)."""
    from newsletter import state
    from newsletter.reporting.figures import as_json as to_json
    from newsletter.reporting.figures import gather, save
    from newsletter.reporting.page import page

    config = load_config(config_path)
    with state.connect(config.database) as conn:
        found = gather(conn, config, datetime.now(UTC))
    if as_json:
        click.echo(to_json(found), nl=False)
        return
    target = output or config.issues_folder.parent / "report.html"
    save(target, page(found, config.templates))
    readers = sum(values[-1] for values in found.by_status.values() if values)
    say(f"Report: {shown_path(target)} ({readers} readers, {len(found.issues)} issues sent)")
