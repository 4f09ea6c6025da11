"""The state database: one SQLite file for subscribers, the send log and the job store.

This module owns the SQL: the lifecycle (``subscribers``), sending (``delivery``),
bounces, the jobs and the web handlers call the functions below and write no SQL
of their own. The schema is versioned with numbered migrations
(``PRAGMA user_version``); opening the database applies any that are missing, in
one transaction each. The database runs in WAL mode so a reader (``serve``) and a
writer (``send``) do not block each other, and every write commits at once, so a
killed process loses at most the statement it was in. APScheduler keeps its jobs
in a table of its own in the same file (``apscheduler_jobs``), created by
APScheduler.
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
    # 3: the subscriber lifecycle: double opt-in, consent, pause, bounces, suppression
    """
    CREATE TABLE subscribers_v3 (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        name TEXT NOT NULL DEFAULT '',
        topics TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'active'
            CHECK (status IN ('pending', 'active', 'paused', 'bounced', 'unsubscribed')),
        created_at TEXT NOT NULL,
        unsubscribed_at TEXT,
        confirmed_at TEXT,
        consent_source TEXT NOT NULL DEFAULT 'operator',
        consent_at TEXT,
        consent_ip TEXT NOT NULL DEFAULT '',
        hard_bounces INTEGER NOT NULL DEFAULT 0,
        soft_bounce_issues INTEGER NOT NULL DEFAULT 0,
        last_soft_bounce_issue TEXT NOT NULL DEFAULT '',
        status_reason TEXT NOT NULL DEFAULT '',
        status_at TEXT
    );
    INSERT INTO subscribers_v3 (id, email, name, topics, status, created_at, unsubscribed_at,
        confirmed_at, consent_source, consent_at, status_at)
        SELECT id, email, name, topics, status, created_at, unsubscribed_at,
            created_at, 'operator', created_at, COALESCE(unsubscribed_at, created_at)
        FROM subscribers;
    DROP TABLE subscribers;
    ALTER TABLE subscribers_v3 RENAME TO subscribers;
    CREATE INDEX subscribers_by_status ON subscribers (status);
    CREATE TABLE notices (
        subscriber_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX notices_by_subscriber ON notices (subscriber_id, at);
    CREATE TABLE suppressions (
        address_hash TEXT PRIMARY KEY,
        reason TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE TABLE bounce_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        subscriber_id INTEGER,
        kind TEXT NOT NULL,
        source TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    );
    CREATE INDEX deliveries_by_message_id ON deliveries (message_id);
    """,
    # 4: claims: which sender is sending an issue to a subscriber right now
    """
    CREATE TABLE claims (
        issue_id TEXT NOT NULL,
        subscriber_id INTEGER NOT NULL,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id)
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


# --- subscribers -------------------------------------------------------------------

SUBSCRIBER_COLUMNS = (
    "id, email, name, topics, status, created_at, confirmed_at, consent_source, consent_at, "
    "consent_ip, hard_bounces, soft_bounce_issues, last_soft_bounce_issue, status_reason, "
    "status_at"
)


def subscriber_by_email(conn: sqlite3.Connection, email: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE email = ?", (email,)
    ).fetchone()
    return row


def subscriber_by_id(conn: sqlite3.Connection, subscriber_id: int) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute(
        f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = ?", (subscriber_id,)
    ).fetchone()
    return row


def subscribers(conn: sqlite3.Connection, status: str | None = None) -> list[sqlite3.Row]:
    """Every subscriber (or those with ``status``), by address."""
    if status is None:
        return list(conn.execute(f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers ORDER BY email"))
    return list(
        conn.execute(
            f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE status = ? ORDER BY email",
            (status,),
        )
    )


def insert_subscriber(conn: sqlite3.Connection, **values: object) -> int:
    names = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    cursor = conn.execute(
        f"INSERT INTO subscribers ({names}) VALUES ({marks})", tuple(values.values())
    )
    return int(cursor.lastrowid or 0)


_UPDATABLE = frozenset(
    {
        "name", "topics", "status", "unsubscribed_at", "confirmed_at", "consent_source",
        "consent_at", "consent_ip", "hard_bounces", "soft_bounce_issues",
        "last_soft_bounce_issue", "status_reason", "status_at",
    }
)  # fmt: skip


def update_subscriber(
    conn: sqlite3.Connection,
    subscriber_id: int,
    *,
    only_status: tuple[str, ...] = (),
    **values: object,
) -> bool:
    """Set ``values`` on one subscriber (only while its status is one of ``only_status``)."""
    assert values and set(values) <= _UPDATABLE, values
    sets = ", ".join(f"{name} = ?" for name in values)
    query = f"UPDATE subscribers SET {sets} WHERE id = ?"
    params: tuple[object, ...] = (*values.values(), subscriber_id)
    if only_status:
        query += f" AND status IN ({', '.join('?' for _ in only_status)})"
        params += only_status
    return conn.execute(query, params).rowcount == 1


def delete_subscriber(conn: sqlite3.Connection, subscriber_id: int) -> None:
    conn.execute("DELETE FROM subscribers WHERE id = ?", (subscriber_id,))
    conn.execute("DELETE FROM notices WHERE subscriber_id = ?", (subscriber_id,))


def purge_pending(conn: sqlite3.Connection, created_before: str) -> int:
    """Delete pending sign-ups created before ``created_before``; returns how many."""
    stale = [
        row["id"]
        for row in conn.execute(
            "SELECT id FROM subscribers WHERE status = 'pending' AND created_at < ?",
            (created_before,),
        )
    ]
    for subscriber_id in stale:
        delete_subscriber(conn, subscriber_id)
    return len(stale)


# --- notices (confirmation mails), for the per-address limits -------------------------


def record_notice(conn: sqlite3.Connection, subscriber_id: int, kind: str, at: str) -> None:
    conn.execute(
        "INSERT INTO notices (subscriber_id, kind, at) VALUES (?, ?, ?)", (subscriber_id, kind, at)
    )


def notices_since(conn: sqlite3.Connection, subscriber_id: int, since: str) -> list[str]:
    """When notices went to this subscriber after ``since``, newest first."""
    return [
        row["at"]
        for row in conn.execute(
            "SELECT at FROM notices WHERE subscriber_id = ? AND at > ? ORDER BY at DESC",
            (subscriber_id, since),
        )
    ]


# --- suppression list (keyed hashes of forgotten addresses) ---------------------------


def is_suppressed(conn: sqlite3.Connection, address_hash: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM suppressions WHERE address_hash = ?", (address_hash,)
        ).fetchone()
        is not None
    )


def suppress(conn: sqlite3.Connection, address_hash: str, reason: str, at: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO suppressions (address_hash, reason, at) VALUES (?, ?, ?)",
        (address_hash, reason, at),
    )


def unsuppress(conn: sqlite3.Connection, address_hash: str) -> None:
    conn.execute("DELETE FROM suppressions WHERE address_hash = ?", (address_hash,))


def suppression_count(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM suppressions").fetchone()[0])


# --- the send log --------------------------------------------------------------------


def delivery_statuses(conn: sqlite3.Connection, issue_id: str) -> dict[int, str]:
    """subscriber id -> "sent" | "failed" for one issue."""
    return {
        row["subscriber_id"]: row["status"]
        for row in conn.execute(
            "SELECT subscriber_id, status FROM deliveries WHERE issue_id = ?", (issue_id,)
        )
    }


def record_delivery(
    conn: sqlite3.Connection,
    *,
    issue_id: str,
    subscriber_id: int,
    email: str,
    status: str,
    message_id: str,
    reply: str,
    attempts: int,
    at: str,
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO deliveries "
        "(issue_id, subscriber_id, email, status, message_id, reply, attempts, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (issue_id, subscriber_id, email, status, message_id, reply, attempts, at),
    )


def delivered(conn: sqlite3.Connection, issue_id: str, subscriber_id: int) -> bool:
    """Whether the send log has a row (sent or failed) for this issue and subscriber."""
    row = conn.execute(
        "SELECT 1 FROM deliveries WHERE issue_id = ? AND subscriber_id = ?",
        (issue_id, subscriber_id),
    ).fetchone()
    return row is not None


def claim_holder(
    conn: sqlite3.Connection, issue_id: str, subscriber_id: int
) -> tuple[str, float] | None:
    """(owner, expires_at) of the claim on this issue and subscriber, if any."""
    row = conn.execute(
        "SELECT owner, expires_at FROM claims WHERE issue_id = ? AND subscriber_id = ?",
        (issue_id, subscriber_id),
    ).fetchone()
    return (str(row[0]), float(row[1])) if row else None


def put_claim(
    conn: sqlite3.Connection, issue_id: str, subscriber_id: int, owner: str, expires_at: float
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO claims (issue_id, subscriber_id, owner, expires_at) "
        "VALUES (?, ?, ?, ?)",
        (issue_id, subscriber_id, owner, expires_at),
    )


def drop_claim(conn: sqlite3.Connection, issue_id: str, subscriber_id: int, owner: str) -> None:
    conn.execute(
        "DELETE FROM claims WHERE issue_id = ? AND subscriber_id = ? AND owner = ?",
        (issue_id, subscriber_id, owner),
    )


def subscriber_for_message(conn: sqlite3.Connection, message_id: str) -> int | None:
    """The subscriber a sent message (by Message-ID) went to, if it is in the log."""
    row = conn.execute(
        "SELECT subscriber_id FROM deliveries WHERE message_id = ?", (message_id,)
    ).fetchone()
    return int(row[0]) if row else None


def forget_deliveries(conn: sqlite3.Connection, subscriber_id: int, replacement: str) -> None:
    """Replace a person's address in the send log (the rows stay: they prevent resends)."""
    conn.execute(
        "UPDATE deliveries SET email = ? WHERE subscriber_id = ?", (replacement, subscriber_id)
    )


def record_bounce_event(
    conn: sqlite3.Connection,
    subscriber_id: int | None,
    kind: str,
    source: str,
    detail: str,
    at: str,
) -> None:
    conn.execute(
        "INSERT INTO bounce_events (subscriber_id, kind, source, detail, at) "
        "VALUES (?, ?, ?, ?, ?)",
        (subscriber_id, kind, source, detail[:500], at),
    )


# --- scheduled job runs --------------------------------------------------------------


def start_job_run(conn: sqlite3.Connection, job_id: str, at: str) -> int:
    cursor = conn.execute("INSERT INTO job_runs (job_id, started_at) VALUES (?, ?)", (job_id, at))
    return int(cursor.lastrowid or 0)


def finish_job_run(conn: sqlite3.Connection, run_id: int, at: str, outcome: str) -> None:
    conn.execute(
        "UPDATE job_runs SET finished_at = ?, outcome = ? WHERE id = ?", (at, outcome[:500], run_id)
    )
