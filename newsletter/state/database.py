"""Where the state lives: ``state.database`` parsed into a ``Database``.

Owned by ``state``; the config validates ``state.database`` with
``parse_database`` and builds the ``Database`` that ``state`` opens. Imports
nothing of the newsletter.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def parse_database(value: str) -> tuple[str, str]:
    """("sqlite", path) or ("postgresql", URL without password) for ``state.database``."""
    if "://" not in value:
        if not value.strip():
            raise ValueError("is empty: give a file path or a postgresql+psycopg:// URL")
        return "sqlite", value
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        url = make_url(value)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(f"{value!r} is not a database URL: {exc}") from None
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        if not url.database:
            raise ValueError("sqlite:/// needs a file path (sqlite:///var/feedletter.sqlite3)")
        return "sqlite", str(url.database)
    if url.drivername in ("postgresql", "postgres", "postgresql+psycopg"):
        if url.password is not None:
            raise ValueError(
                "holds a password: remove it and put it in the environment variable "
                "named by state.password_env (FEEDLETTER_DB_PASSWORD unless set)"
            )
        if not url.host and not url.query.get("host"):
            raise ValueError(f"{value!r} names no host (postgresql+psycopg://user@host/db)")
        if not url.database:
            raise ValueError(f"{value!r} names no database (postgresql+psycopg://user@host/db)")
        url = url.set(drivername="postgresql+psycopg")
        return "postgresql", url.render_as_string(hide_password=False)
    raise ValueError(
        f"{url.drivername!r} is not supported: use a file path, sqlite:///path or "
        "postgresql+psycopg://user@host:5432/db"
    )


@dataclass(frozen=True)
class Database:
    """Where the state lives: an SQLite file or a PostgreSQL database."""

    # "sqlite" or "postgresql"
    kind: str
    # the SQLite file (resolved), or the server's SQLAlchemy URL without a password
    where: str
    # environment variable holding the server's password (unused for SQLite)
    password_env: str = "FEEDLETTER_DB_PASSWORD"

    @classmethod
    def of(cls, database: Database | Path) -> Database:
        """``database`` itself, or the SQLite file at a path."""
        return cls("sqlite", str(database)) if isinstance(database, Path) else database

    @property
    def path(self) -> Path | None:
        """The SQLite file, or None for a server."""
        return Path(self.where) if self.kind == "sqlite" else None

    @property
    def shown(self) -> str:
        """How messages name it: the file, or the URL (never a password)."""
        return self.where
