"""The state database: subscribers, the send log, claims, job runs and the job store.

One SQLite file (the default, nothing to set up) or one PostgreSQL database
(``state.database: postgresql+psycopg://…``, for several hosts). This package
owns every statement: the lifecycle (``subscribers``), sending (``delivery``,
``claims``), bounces, the jobs and the web handlers call the functions below and
write no SQL of their own. ``engine`` opens connections and runs transactions,
``schema`` holds the one migration history both databases share, ``queries`` the
statements, ``locks`` the database advisory locks used with PostgreSQL.
"""

from __future__ import annotations

from newsletter.state.engine import Db as Db
from newsletter.state.engine import Row as Row
from newsletter.state.engine import describe as describe
from newsletter.state.engine import engine_for as engine_for
from newsletter.state.engine import transaction as transaction
from newsletter.state.queries import *  # noqa: F403  (every statement, as listed in queries.__all__)
from newsletter.state.schema import SCHEMA_VERSION as SCHEMA_VERSION
from newsletter.state.schema import connect as connect
from newsletter.state.schema import migrate as migrate
