"""The state database: subscribers, the send log, claims, job runs and the job store.

One SQLite file (the default, nothing to set up) or one PostgreSQL database
(``state.database: postgresql+psycopg://…``, for several hosts). This package
owns every statement: the lifecycle (``audience.lifecycle``), sending
(``sending``), bounces, the jobs and the web handlers call the functions below
and write no SQL of their own. ``database`` says where the state lives,
``engine`` opens connections and runs transactions, ``schema`` holds the one
migration history both databases share, ``queries`` the statements,
``advisory`` the database advisory locks used with PostgreSQL, ``locks`` the
work and scheduler locks built on them (or on files beside an SQLite file),
``reviews`` and ``reports`` the statements of review before send and of the report.

The names below load SQLAlchemy on first use, not on import: the config reads
``state.database`` through ``database`` alone, so a command that never opens the
state (``build``) never pays for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsletter.state.engine import Db as Db
    from newsletter.state.engine import Row as Row
    from newsletter.state.engine import describe as describe
    from newsletter.state.engine import engine_for as engine_for
    from newsletter.state.engine import transaction as transaction
    from newsletter.state.queries import *  # noqa: F403  (every statement, as in queries.__all__)
    from newsletter.state.schema import SCHEMA_VERSION as SCHEMA_VERSION
    from newsletter.state.schema import connect as connect
    from newsletter.state.schema import migrate as migrate

_FROM_ENGINE = frozenset({"Db", "Row", "describe", "engine_for", "transaction"})
_FROM_SCHEMA = frozenset({"SCHEMA_VERSION", "connect", "migrate"})


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    if name in _FROM_ENGINE:
        module = importlib.import_module("newsletter.state.engine")
    elif name in _FROM_SCHEMA:
        module = importlib.import_module("newsletter.state.schema")
    else:
        module = importlib.import_module("newsletter.state.queries")
        if name not in getattr(module, "__all__", ()):
            raise AttributeError(f"module 'newsletter.state' has no attribute {name!r}")
    value = getattr(module, name)
    globals()[name] = value
    return value
