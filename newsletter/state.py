"""The state database: one SQLite file for subscribers, the send log and the job store.

The schema is versioned with numbered migrations (``PRAGMA user_version``); opening
the database applies any that are missing, in one transaction each. The database
runs in WAL mode so a reader (``serve``) and a writer (``send``) do not block each
other, and every write commits at once, so a killed process loses at most the
statement it was in. APScheduler keeps its jobs in a table of its own in the same
file (``apscheduler_jobs``), created by APScheduler.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StateError

MIGRATIONS: tuple[str, ...] = (
    # 1: subscribers and the send log
    """
    CREATE TABLE subscribers (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        topics TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'unsubscribed')),
        created_at TEXT NOT NULL,
        unsubscribed_at TEXT
    );
    CREATE TABLE deliveries (
        issue_id TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL,
        email TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('sent', 'failed')),
        message_id TEXT NOT NULL,
        reply TEXT NOT NULL DEFAULT '',
        attempts INTEGER NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id)
    );
    """,
    # 2: a record of every scheduled job run
    """
    CREATE TABLE job_runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL DEFAULT 'running'
    );
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) and migrate the state database at ``path``."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StateError(path, f"cannot open: {exc}") from exc
    conn.row_factory = sqlite3.Row
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(path, describe(exc)) from exc
    return conn


def describe(exc: sqlite3.Error) -> str:
    """A message for a database error that says how to recover."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        return f"{text}: another process holds the database; wait for it or stop it"
    if "malformed" in text or "not a database" in text:
        return (
            f"{text}: the file is damaged. Move it aside and restore a backup "
            "(see README, 'State and recovery'); do not delete it before that, "
            "the send log inside is what prevents repeated sends"
        )
    return text


def migrate(conn: sqlite3.Connection) -> int:
    """Apply missing migrations; returns the schema version afterwards."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise sqlite3.DatabaseError(
            f"schema version {version} is newer than this feedletter knows ({SCHEMA_VERSION}); "
            "upgrade feedletter"
        )
    for number in range(version, SCHEMA_VERSION):
        with transaction(conn):
            for statement in _statements(MIGRATIONS[number]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number + 1}")
    return SCHEMA_VERSION


def _statements(script: str) -> Iterator[str]:
    for part in script.split(";"):
        if part.strip():
            yield part


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
