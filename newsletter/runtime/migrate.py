"""Bringing a project an older feedletter wrote up to date: one named step.

``migrate`` moves the private issue files that versions before 0.1 wrote into
``output/``, which is published, to the issues folder (``state.issues``). The
site build runs it first, under the work lock; ``send`` and ``serve`` run it when
they start. It is idempotent and costs one folder scan when there is nothing to
do. The state database's schema migrations are the other named step: every
connection applies them as it opens (``state.schema.connect``), so a command that
never opens the state (a build) never waits for the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.config import Config
from newsletter.issue.archive import move_private_files


@dataclass(frozen=True)
class Migration:
    """What ``migrate`` did."""

    # the private files it took out of output/ (now in the issues folder)
    moved: tuple[Path, ...]


def migrate(config: Config) -> Migration:
    """Move private files an older version left in output/ to the issues folder."""
    return Migration(tuple(move_private_files(config.output, config.issues_folder)))
