"""The schema: one numbered migration history for SQLite and PostgreSQL.

Each migration is portable SQL with a few ``{placeholders}`` for what the two
spell differently (an auto-numbered key, SQLite's case-blind collation, a double).
Opening a database applies the missing ones in order, one transaction each, under
a lock (SQLite's write lock; a transaction-scoped advisory lock on PostgreSQL),
re-reading the version inside it, so processes starting at once migrate once.
The version is ``PRAGMA user_version`` in SQLite (as always) and the one row of
``feedletter_schema`` in PostgreSQL. APScheduler creates its own table
(``apscheduler_jobs``) in the same database.

Only this module changes the schema; it must never edit a migration that has
shipped: a change is a new migration at the end.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from newsletter.errors import StateError
from newsletter.state.database import Database
from newsletter.state.engine import Db, describe, open_db, run_script, transaction

# the key of the advisory lock migrations take on PostgreSQL (pg_advisory_xact_lock)
MIGRATION_LOCK = (0x66656564, 0)  # 'feed', 0

MIGRATIONS: tuple[str, ...] = (
    # 1: subscribers and the send log
    """
    CREATE TABLE subscribers (
        id {serial},
        email TEXT NOT NULL UNIQUE{nocase},
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
        id {serial},
        job_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL DEFAULT 'running'
    );
    """,
    # 3: the subscriber lifecycle: double opt-in, consent, pause, bounces, suppression
    """
    CREATE TABLE subscribers_v3 (
        id {serial},
        email TEXT NOT NULL UNIQUE{nocase},
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
    {reseed_subscriber_ids};
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
        id {serial},
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
        expires_at {float} NOT NULL,
        PRIMARY KEY (issue_id, subscriber_id)
    );
    """,
    # 5: addresses unique whatever their case, on both databases (SQLite's column
    # was NOCASE already; PostgreSQL has no such collation)
    """
    CREATE UNIQUE INDEX subscribers_by_address ON subscribers (lower(email));
    """,
    # 6: what outsiders cannot use. Each sign-up's choices are a request of their
    # own, applied only by its confirmation link (a sign-up never rewrites a
    # reader); a notice is reserved while it is being sent and counts against the
    # mail limits only once sent (or while the reservation is fresh); the per-client
    # request windows, when serve processes share them
    """
    CREATE TABLE signup_requests (
        id {serial},
        subscriber_id INTEGER NOT NULL,
        topics TEXT NOT NULL DEFAULT '',
        name TEXT NOT NULL DEFAULT '',
        client TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL
    );
    CREATE INDEX signup_requests_by_subscriber ON signup_requests (subscriber_id);
    CREATE TABLE notices_v6 (
        id {serial},
        subscriber_id INTEGER NOT NULL,
        kind TEXT NOT NULL,
        at TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'sent' CHECK (state IN ('sending', 'sent'))
    );
    INSERT INTO notices_v6 (subscriber_id, kind, at, state)
        SELECT subscriber_id, kind, at, 'sent' FROM notices;
    DROP TABLE notices;
    ALTER TABLE notices_v6 RENAME TO notices;
    CREATE INDEX notices_by_subscriber_v6 ON notices (subscriber_id, at);
    CREATE TABLE rate_windows (
        bucket TEXT NOT NULL,
        window_start BIGINT NOT NULL,
        hits INTEGER NOT NULL,
        PRIMARY KEY (bucket, window_start)
    );
    """,
    # 7: when a reader was sent the welcome mail (once per address, not again when
    # they confirm again)
    """
    ALTER TABLE subscribers ADD COLUMN welcomed_at TEXT;
    """,
    # 8: clicks on counted links, per issue and link: nothing about who clicked
    """
    CREATE TABLE clicks (
        issue_id TEXT NOT NULL,
        url TEXT NOT NULL,
        clicks INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (issue_id, url)
    );
    """,
    # 9: review before send: one row per issue under review, and every editor's
    # action (approve, skip, drop a story) with who and when
    """
    CREATE TABLE reviews (
        issue_id TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'skipped')),
        created_at TEXT NOT NULL,
        hold_until TEXT NOT NULL,
        copy_sent_at TEXT,
        released_at TEXT
    );
    CREATE TABLE review_actions (
        id {serial},
        issue_id TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('review', 'approve', 'skip', 'drop')),
        story TEXT NOT NULL DEFAULT '',
        actor TEXT NOT NULL,
        at TEXT NOT NULL
    );
    CREATE INDEX review_actions_by_issue ON review_actions (issue_id, id);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_SPELLING = {
    "sqlite": {
        "serial": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "nocase": " COLLATE NOCASE",
        "float": "REAL",
        # SQLite numbers from the largest id in the table: nothing to do
        "reseed_subscriber_ids": "SELECT 1",
    },
    "postgresql": {
        "serial": "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "nocase": "",
        "float": "DOUBLE PRECISION",
        "reseed_subscriber_ids": (
            "SELECT setval(pg_get_serial_sequence('subscribers', 'id'), "
            "(SELECT COALESCE(MAX(id), 0) + 1 FROM subscribers), false)"
        ),
    },
}


def statements(number: int, dialect: str) -> list[str]:
    """Migration ``number`` (from 1) as statements for ``dialect``."""
    script = MIGRATIONS[number - 1].format(**_SPELLING[dialect])
    return [part for part in script.split(";") if part.strip()]


def version(db: Db) -> int:
    """The schema version the database is at (0: empty)."""
    if db.dialect == "sqlite":
        return int(db.conn.exec_driver_sql("PRAGMA user_version").scalar_one())
    # read pg_tables (an MVCC scan of the catalog), not to_regclass(): a name lookup
    # can answer from a cache that has not yet seen a table another session's
    # migration just committed, and the migration would then run twice
    present = db.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = current_schema() "
        "AND tablename = 'feedletter_schema')"
    ).scalar_one()
    if not present:
        return 0
    row = db.one("SELECT version FROM feedletter_schema")
    return int(row["version"]) if row else 0


def _set_version(db: Db, number: int) -> None:
    if db.dialect == "sqlite":
        db.conn.exec_driver_sql(f"PRAGMA user_version = {int(number)}")
        return
    db.execute("CREATE TABLE IF NOT EXISTS feedletter_schema (version INTEGER NOT NULL)")
    db.execute("DELETE FROM feedletter_schema")
    db.execute("INSERT INTO feedletter_schema (version) VALUES (:n)", {"n": number})


def migrate(db: Db) -> int:
    """Apply missing migrations; returns the schema version afterwards."""
    current = version(db)
    if current > SCHEMA_VERSION:
        raise StateError(
            db.database.shown,
            f"schema version {current} is newer than this feedletter knows "
            f"({SCHEMA_VERSION}); upgrade feedletter",
        )
    while current < SCHEMA_VERSION:
        with transaction(db):
            if db.dialect == "postgresql":
                db.execute("SELECT pg_advisory_xact_lock(:a, :b)", {"a": MIGRATION_LOCK[0], "b": 0})
            current = version(db)  # another process may have migrated meanwhile
            if current >= SCHEMA_VERSION:
                break
            run_script(db, statements(current + 1, db.dialect))
            _set_version(db, current + 1)
            current += 1
    return current


def connect(database: Database | Path) -> Db:
    """Open (creating a file if needed) and migrate the state database."""
    db = open_db(database)
    try:
        migrate(db)
    except SQLAlchemyError as exc:
        db.close()
        raise StateError(db.database.shown, describe(exc)) from exc
    except BaseException:
        db.close()
        raise
    return db
