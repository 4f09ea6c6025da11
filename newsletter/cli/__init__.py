"""The ``feedletter`` command line: see ``common`` for the group and exit codes.

Importing the command modules registers their commands on ``cli``.
"""

from __future__ import annotations

from . import audience, returned, send, server, site
from .common import cli, main

__all__ = ["audience", "cli", "main", "returned", "send", "server", "site"]
