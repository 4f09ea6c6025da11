"""Connections to the state database and the transactions on them.

``open_db`` opens one connection (SQLite file or PostgreSQL server) as a ``Db``
(``schema.connect`` also applies any missing migrations: use that). Every
statement outside ``transaction`` commits at once (autocommit), so a killed
process loses at most the statement it was in. ``transaction`` groups
statements: ``BEGIN IMMEDIATE`` on SQLite (the write lock is taken up front, so
two writers never deadlock on an upgrade), ``BEGIN`` on PostgreSQL (row locks
and ``SKIP LOCKED`` keep writers apart). Engines are made once per database and
process, and disposed at exit; a PostgreSQL engine pools its connections, an
SQLite one opens the file for each ``open_db``, as before.

Nothing here knows a table: statements live in ``queries`` and ``schema``.
"""

from __future__ import annotations

import atexit
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, TextClause, create_engine, event, text
from sqlalchemy.engine import Connection, CursorResult, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from newsletter.errors import StateError
from newsletter.state.database import Database

# a result row: columns by name
Row = RowMapping

_engines: dict[tuple[str, str | None], Engine] = {}
_engines_lock = threading.Lock()


class Db:
    """One open connection to the state database."""

    def __init__(self, conn: Connection, database: Database) -> None:
        # the SQLAlchemy connection, in autocommit mode
        self.conn = conn
        # where it leads
        self.database = database
        # "sqlite" or "postgresql"
        self.dialect = database.kind
        # depth of ``transaction`` blocks (only the outermost one begins and commits)
        self.depth = 0

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
        """Run one statement (``:name`` parameters)."""
        return self.conn.execute(_statement(sql), dict(params or {}))

    def rows(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        """Every row of a query, columns by name."""
        return list(self.execute(sql, params).mappings())

    def one(self, sql: str, params: Mapping[str, Any] | None = None) -> Row | None:
        """The first row of a query, or None."""
        return self.execute(sql, params).mappings().first()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Db:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@lru_cache(maxsize=512)
def _statement(sql: str) -> TextClause:
    """The parsed statement, made once per SQL string: a send runs the same few
    statements thousands of times, and parsing each anew cost 8% of the send rate
    (216 against 235 messages/s in benchmarks/digest.py)."""
    return text(sql)


def engine_for(database: Database | Path) -> Engine:
    """The (shared) SQLAlchemy engine of a database; a Path is an SQLite file."""
    database = Database.of(database)
    password = None if database.kind == "sqlite" else os.environ.get(database.password_env)
    key = (database.where, password)
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = _make_engine(database, password)
    return engine


@atexit.register
def dispose_engines() -> None:
    """Close the pooled connections of every engine made so far: at exit, so that a
    PostgreSQL server sees each session end rather than its socket drop (the
    command leaves without the interpreter's teardown: ``newsletter.__main__``)."""
    with _engines_lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.dispose()


def _make_engine(database: Database, password: str | None) -> Engine:
    if database.kind == "sqlite":
        engine = create_engine(
            f"sqlite:///{database.where}",
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": 30, "check_same_thread": False},
        )

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    try:
        import psycopg  # noqa: F401
    except ImportError:
        raise StateError(
            database.shown,
            "the PostgreSQL driver is not installed: pip install 'feedletter[postgresql]'",
        ) from None
    url = make_url(database.where)
    if password is not None:
        url = url.set(password=password)
    return create_engine(
        url,
        isolation_level="AUTOCOMMIT",
        # 5 kept for reuse, and no cap: each connection is held by one of a bounded
        # set of threads (``send --workers`` up to 64 for the whole run, ``serve``'s
        # database and mail threads), so a capped pool only made the 26th wait 30 s
        # and fail; the server's max_connections is the limit that matters
        pool_size=5,
        max_overflow=-1,
        pool_pre_ping=True,
        connect_args={"connect_timeout": 10, "application_name": "feedletter"},
    )


def open_db(database: Database | Path) -> Db:
    """Open (creating a file if needed) the state database, as it is: ``schema.connect``
    also migrates it, and is what everything else uses."""
    database = Database.of(database)
    if database.path is not None:
        try:
            database.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(database.shown, f"cannot open: {exc}") from exc
    try:
        conn = engine_for(database).connect()
    except SQLAlchemyError as exc:
        raise StateError(database.shown, f"cannot open: {describe(exc)}") from exc
    return Db(conn, database)


def describe(exc: BaseException) -> str:
    """A message for a database error that says how to recover."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text_ = str(original).strip().splitlines()[0] if str(original).strip() else repr(original)
    if "locked" in text_ or "busy" in text_:
        return f"{text_}: another process holds the database; wait for it or stop it"
    if "malformed" in text_ or "not a database" in text_:
        return (
            f"{text_}: the file is damaged. Move it aside and restore a backup "
            "(see README, 'State and recovery'); do not delete it before that, "
            "the send log inside is what prevents repeated sends"
        )
    if "password authentication failed" in text_ or "no password supplied" in text_:
        return (
            f"{text_}: set the database password in the environment variable named by "
            "state.password_env (FEEDLETTER_DB_PASSWORD unless set)"
        )
    if "Connection refused" in text_ or "could not translate host name" in text_:
        return f"{text_}: is the PostgreSQL server running and state.database's host right?"
    return text_


@contextmanager
def transaction(db: Db) -> Iterator[Db]:
    """BEGIN (IMMEDIATE on SQLite) ... COMMIT, or ROLLBACK on any exception.

    A ``transaction`` inside another one joins it.
    """
    if db.depth:
        db.depth += 1
        try:
            yield db
        finally:
            db.depth -= 1
        return
    db.conn.exec_driver_sql("BEGIN IMMEDIATE" if db.dialect == "sqlite" else "BEGIN")
    db.depth = 1
    try:
        yield db
    except BaseException:
        db.depth = 0
        db.conn.exec_driver_sql("ROLLBACK")
        raise
    db.depth = 0
    db.conn.exec_driver_sql("COMMIT")


def run_script(db: Db, statements: Sequence[str]) -> None:
    """Run DDL statements one by one (inside the caller's transaction)."""
    for statement in statements:
        db.conn.exec_driver_sql(statement)
