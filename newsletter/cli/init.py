"""``init``: a new project from the starter files (``runtime.scaffold``)."""

from __future__ import annotations

from pathlib import Path

import click

from newsletter.cli.group import cli, say
from newsletter.runtime.scaffold import create_project


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY: config, templates, sample records."""
    written = create_project(directory)
    say(f"Created {directory} ({len(written)} files). Next:")
    say(f"  cd {directory}")
    say("  feedletter build --date 2021-11-07   # feeds, pages and a digest of the samples")
    say("  export FEEDLETTER_SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')")
    say("  feedletter serve                     # then open http://127.0.0.1:8000/")
