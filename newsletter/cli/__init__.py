"""The ``feedletter`` command line: see ``group`` for the group and exit codes.

One module per command group, named after it; importing them registers their
commands on ``cli``. Each command is a thin wrapper over a library call.
"""

from __future__ import annotations

from newsletter.cli import bounces, build, check, init, schedule, send, serve, subscribers
from newsletter.cli.group import cli, main

__all__ = [
    "bounces",
    "build",
    "check",
    "cli",
    "init",
    "main",
    "schedule",
    "send",
    "serve",
    "subscribers",
]
