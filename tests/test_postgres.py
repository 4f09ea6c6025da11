"""The state in PostgreSQL: configuration, errors, one schema for both databases.

The delivery fault suite, the killed-senders test, the sign-up endpoints and the
scheduler tests run on both databases (the ``state_database`` fixture); this
file holds what only concerns the choice of database.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect

from newsletter.audience import lifecycle as subs
from newsletter.cli import cli
from newsletter.config import load_config
from newsletter.state import SCHEMA_VERSION, connect, engine_for, migrate
from newsletter.state.database import Database, parse_database

from .postgres import PASSWORD_ENV


def set_database(project: Path, database: str, extra: str = "") -> Path:
    path = project / "config.yaml"
    path.write_text(path.read_text() + f"state:\n  database: '{database}'\n{extra}")
    return path


@pytest.mark.parametrize(
    ("database", "message"),
    [
        (
            "postgresql+psycopg://app:s3cret@db.example.org/news",
            "state.database: Value error, holds a password: remove it and put it in the "
            "environment variable named by state.password_env (FEEDLETTER_DB_PASSWORD unless set) "
            "(got 'postgresql+psycopg://app:***@db.example.org/news')",
        ),
        (
            "mysql://app@db.example.org/news",
            "state.database: Value error, 'mysql' is not supported: use a file path, "
            "sqlite:///path or postgresql+psycopg://user@host:5432/db "
            "(got 'mysql://app@db.example.org/news')",
        ),
        (
            "postgresql+psycopg://app@db.example.org",
            "state.database: Value error, 'postgresql+psycopg://app@db.example.org' names no "
            "database (postgresql+psycopg://user@host/db) "
            "(got 'postgresql+psycopg://app@db.example.org')",
        ),
    ],
)
def test_database_settings_are_checked_when_the_config_is_read(
    fixture_project: Path, database: str, message: str
) -> None:
    path = set_database(fixture_project, database)
    result = CliRunner().invoke(cli, ["subscribers", "list", "--config", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: {message}\n"


def test_the_password_comes_from_the_environment_variable_named_in_config(
    fixture_project: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    password = __import__("os").environ[PASSWORD_ENV]
    path = set_database(fixture_project, postgres_url, "  password_env: NEWS_DB_PASSWORD\n")
    monkeypatch.delenv(PASSWORD_ENV)
    monkeypatch.setenv("NEWS_DB_PASSWORD", "wrong")
    result = CliRunner().invoke(cli, ["subscribers", "list", "--config", str(path)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {postgres_url}: cannot open: ")
    assert "password authentication failed" in result.stderr
    assert result.stderr.endswith(
        ": set the database password in the environment variable named by state.password_env "
        "(FEEDLETTER_DB_PASSWORD unless set)\n"
    )
    monkeypatch.setenv("NEWS_DB_PASSWORD", password)
    added = CliRunner().invoke(
        cli, ["subscribers", "add", "ada@example.com", "--config", str(path)]
    )
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(cli, ["subscribers", "list", "--config", str(path)])
    assert listed.exit_code == 0 and "ada@example.com" in listed.stdout


def test_both_databases_get_the_same_schema(tmp_path: Path, postgres_url: str) -> None:
    sqlite = tmp_path / "state.sqlite3"
    postgres = Database("postgresql", postgres_url)
    shapes = []
    for database in (sqlite, postgres):
        connect(database).close()
        inspector = inspect(engine_for(database))
        shapes.append(
            {
                table: sorted(column["name"] for column in inspector.get_columns(table))
                for table in inspector.get_table_names()
                if table != "feedletter_schema"  # PostgreSQL's stand-in for PRAGMA user_version
            }
        )
    assert shapes[0] == shapes[1]
    assert set(shapes[0]) == {
        "subscribers", "deliveries", "job_runs", "notices", "suppressions", "bounce_events",
        "claims", "signup_requests", "rate_windows", "clicks", "reviews", "review_actions",
    }  # fmt: skip
    with connect(postgres) as db:
        assert db.one("SELECT version FROM feedletter_schema") == {"version": SCHEMA_VERSION}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_an_address_is_one_subscriber_whatever_its_case(
    tmp_path: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    database: Path | Database = tmp_path / "state.sqlite3"
    if kind == "postgresql":
        database = Database("postgresql", request.getfixturevalue("postgres_url"))
    with connect(database) as db:
        assert subs.add(db, "Ada@Example.com")[1]  # new
        again, new = subs.add(db, "ADA@example.com", name="Ada")
        assert not new and again.email == "Ada@example.com" and again.name == "Ada"
        found = subs.get(db, "ada@EXAMPLE.com")
        assert found is not None and found.id == again.id
        assert [s.email for s in subs.listing(db)] == ["Ada@example.com"]


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_processes_opening_a_fresh_database_at_once_migrate_it_once(
    fixture_project: Path, kind: str, request: pytest.FixtureRequest
) -> None:
    database = "var/fresh.sqlite3" if kind == "sqlite" else request.getfixturevalue("postgres_url")
    path = set_database(fixture_project, database)
    command = [sys.executable, "-m", "newsletter", "subscribers", "list", "--config", str(path)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(6)
    ]
    outcomes = [(process.wait(timeout=60), process.stderr.read()) for process in processes]  # type: ignore[union-attr]
    assert outcomes == [(0, "0 subscribers, 0 active\n")] * 6  # no error from a race
    with connect(load_config(path).database) as db:
        assert migrate(db) == SCHEMA_VERSION
        assert db.rows("SELECT * FROM subscribers") == []


def test_pooled_connections_are_closed_at_exit(postgres_url: str) -> None:
    """``dispose_engines`` (an exit handler, which the command's fast exit still
    runs) closes the pool, so the server sees each session end; a later
    ``engine_for`` makes a fresh engine."""
    from newsletter.state.engine import dispose_engines

    database = Database(*parse_database(postgres_url), password_env=PASSWORD_ENV)
    with connect(database) as db:
        db.rows("SELECT 1")
    engine = engine_for(database)
    assert engine.pool.checkedin() >= 1  # type: ignore[attr-defined]
    dispose_engines()
    assert engine.pool.checkedin() == 0  # type: ignore[attr-defined]
    assert engine_for(database) is not engine


def test_as_many_connections_at_once_as_the_busiest_command_holds(postgres_url: str) -> None:
    """``send --workers 64`` holds 65 connections for the whole run (its own and one
    per worker), ``serve`` one per database and mail thread: the pool opens every
    one at once instead of making the 26th wait 30 s and fail (QueuePool's
    default of 5 + 20 overflow)."""
    database = Database(*parse_database(postgres_url), password_env=PASSWORD_ENV)
    held = [connect(database) for _ in range(65)]
    try:
        assert all(db.one("SELECT 1 AS one") == {"one": 1} for db in held)
    finally:
        for db in held:
            db.close()
