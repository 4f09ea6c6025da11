"""The ``feedletter`` command line: see ``group`` for the group and exit codes.

One module per command group, named after it; the group imports a module when
its command is asked for, and the module's decorators register its commands on
``cli``. Each command is a thin wrapper over a library call.
"""

from __future__ import annotations

from newsletter.cli.group import cli, main

__all__ = ["cli", "main"]
