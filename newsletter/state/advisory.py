"""PostgreSQL advisory locks: the work lock and the scheduler lock shared by every host.

A session-level advisory lock (``pg_try_advisory_lock``) is held on a connection
of its own for as long as the holder runs; the server drops it when that session
ends, so a process that dies (or a host whose connection goes) never leaves a
stale lock. The holder's description travels in the session's
``application_name``, which is how a refused process names who holds the lock.
Only the SQL lives here; ``state.locks`` decides when to wait.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from newsletter.state.database import Database
from newsletter.state.engine import engine_for

# first key of every feedletter advisory lock ("feed"); the second names the lock
LOCK_CLASS = 0x66656564
LOCK_KEYS = {"work": 1, "scheduler": 2}


def open_lock_session(database: Database, what: str) -> Connection:
    """A connection of its own for holding a lock, labelled with ``what``."""
    conn = engine_for(database).connect()
    label = what[:63]
    conn.execute(text("SELECT set_config('application_name', :label, false)"), {"label": label})
    return conn


def try_lock(conn: Connection, name: str) -> bool:
    """Take lock ``name`` on this session if no other session holds it."""
    got = conn.execute(
        text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": LOCK_CLASS, "b": LOCK_KEYS[name]}
    ).scalar_one()
    return bool(got)


def unlock(conn: Connection, name: str) -> None:
    conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": LOCK_CLASS, "b": LOCK_KEYS[name]})


def still_held(conn: Connection, name: str) -> bool:
    """Whether this session still holds lock ``name`` (False if the session is gone)."""
    try:
        held = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND pid = pg_backend_pid() AND classid = :a AND objid = :b"
            ),
            {"a": LOCK_CLASS, "b": LOCK_KEYS[name]},
        ).scalar_one()
    except Exception:
        return False
    return bool(held)


def holder(conn: Connection, name: str) -> str:
    """Who holds lock ``name``: the holding session's label and host."""
    row = (
        conn.execute(
            text(
                "SELECT a.application_name AS label, a.client_addr AS addr FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
                "AND l.granted AND l.classid = :a AND l.objid = :b"
            ),
            {"a": LOCK_CLASS, "b": LOCK_KEYS[name]},
        )
        .mappings()
        .first()
    )
    if row is None:
        return "unknown"
    return f"{row['label'] or 'unknown'} (from {row['addr'] or 'a local socket'})"
