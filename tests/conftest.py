"""Shared test helpers: the fixture corpus copied into a temporary project."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import settings

from feeds.build import BuildResult, build_feeds
from newsletter.config import Config, load_config

from .postgres import PASSWORD_ENV, PostgresServer, binaries

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
FIXTURE = DATA / "fixture"
# Property tests draw the same examples on every run (derived from each test's code),
# so the suite passes or fails on the code alone, never on the luck of the draw.
# HYPOTHESIS_PROFILE=explore draws new random examples, ten times as many.
settings.register_profile("ci", derandomize=True, database=None)
settings.register_profile("explore", max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def in_fresh_interpreter(before: str = "", after: str = "") -> str:
    """Code for ``python -c CODE ARGS...`` that runs ``feedletter ARGS...`` as the
    console command does, with ``before`` run first (to wrap a function, say) and
    ``after`` once the command has exited (its exit status in ``status``). The
    command ends its process with ``os._exit`` (``newsletter.__main__.leave``):
    here that raises ``SystemExit`` instead, so ``after`` runs (the exit handlers
    have run by then)."""
    return (
        "import os, runpy, sys\n"
        + "def _exit(code):\n    raise SystemExit(code)\n"
        + "os._exit = _exit\n"
        + before
        + "\nstatus = 0\n"
        + 'sys.argv = ["feedletter", *sys.argv[1:]]\n'
        + "try:\n"
        + '    runpy.run_module("newsletter", run_name="__main__", alter_sys=True)\n'
        + "except SystemExit as exc:\n"
        + "    status = exc.code\n"
        + after
    )


# A fixed "now" for every build in the tests: builds must not depend on the clock.
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def sample_build(tmp_path_factory: pytest.TempPathFactory) -> BuildResult:
    """The bundled corpus with the default config.yaml, built (no cache) into a temporary folder."""
    config = load_config(ROOT / "config.yaml")
    out = tmp_path_factory.mktemp("output")
    return build_feeds(config.model_copy(update={"output": out, "cache": None}), NOW)


@pytest.fixture
def fixture_project(tmp_path: Path) -> Path:
    """A writable copy of tests/data/fixture whose config points at the repo's templates."""
    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project, ignore=shutil.ignore_patterns("output", "expected"))
    config = project / "config.yaml"
    text = config.read_text().replace(
        "templates: ../../../templates", f"templates: {ROOT / 'templates'}"
    )
    config.write_text(text)
    return project


@pytest.fixture
def load_fixture_config(fixture_project: Path) -> Callable[[], Config]:
    """Load the copied fixture project's config (after a test has edited files)."""
    return lambda: load_config(fixture_project / "config.yaml")


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (hidden manifests excluded), keyed by relative POSIX path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def in_folder(config: Config, folder: Path) -> Config:
    """``config`` with its output and its state (database, issues) under ``folder``."""
    state = config.state.model_copy(
        update={
            "database": str(folder / "var" / "feedletter.sqlite3"),
            "issues": folder / "var" / "issues",
        }
    )
    return config.model_copy(update={"output": folder / "output", "state": state})


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A real PostgreSQL server for the session; its password is in the environment."""
    if binaries() is None:
        reason = (
            "PostgreSQL is not installed (Debian package postgresql; `make test` installs "
            "it when run as root)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    server = PostgresServer().start()
    os.environ[PASSWORD_ENV] = server.password  # as an operator would; subprocesses inherit it
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """``state.database`` for a fresh, empty PostgreSQL database."""
    return postgres_server.url(postgres_server.new_database())


@pytest.fixture(params=["sqlite", "postgresql"])
def state_database(request: pytest.FixtureRequest) -> str:
    """``state.database`` for a test that runs on both databases."""
    if request.param == "sqlite":
        return "var/state.sqlite3"
    url: str = request.getfixturevalue("postgres_url")
    return url
