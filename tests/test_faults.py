"""Faults: killed builds, write errors, damaged state, bad configuration."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds
from newsletter.cli import cli
from newsletter.config import Config

from .conftest import NOW, ROOT, in_fresh_interpreter, read_tree

# before ``feedletter ARGS...``: kill it with SIGKILL as it is about to replace its
# ``after``-th file (counting from 0); argv is ``after ARGS...``
KILL_AT_REPLACE = in_fresh_interpreter(
    before="""
import os, signal
after = int(sys.argv.pop(1))
real, done = os.replace, [0]
def replace(source, target, *args, **kwargs):
    if done[0] == after:
        os.kill(os.getpid(), signal.SIGKILL)
    real(source, target, *args, **kwargs)
    done[0] += 1
os.replace = replace
"""
)


def use_bundled_corpus(project: Path) -> None:
    """Point the fixture project at the 674-record sample (a build that takes a while)."""
    config = project / "config.yaml"
    config.write_text(
        config.read_text()
        .replace("news: news", f"news: {ROOT / 'content' / 'news'}")
        .replace("topics: topics", f"topics: {ROOT / 'content' / 'topics'}")
        + "cache: null\n"
    )


def test_sigkill_mid_build_leaves_each_file_old_or_new(
    fixture_project: Path, load_fixture_config: Callable[[], Config], tmp_path: Path
) -> None:
    use_bundled_corpus(fixture_project)
    old_config = load_fixture_config()
    build_feeds(old_config, NOW)
    old = read_tree(old_config.output)
    config_file = fixture_project / "config.yaml"
    config_file.write_text(
        config_file.read_text().replace("title: Fixture News", "title: Renamed News")
    )
    new_config = load_fixture_config()
    reference = tmp_path / "reference"
    build_feeds(new_config.model_copy(update={"output": reference}), NOW)
    new = read_tree(reference)
    assert all(old[name] != new[name] for name in new)  # every file changes
    command = [sys.executable, "-m", "newsletter", "build", "--no-digest", "--config"]
    command.append(str(config_file))
    rng = random.Random(4)
    kills = 0
    for attempt in range(12):
        build_feeds(old_config, NOW)  # start from the old outputs
        # a real SIGKILL at a known point of the write: as the build is about to
        # put its k-th file in place (no sleeps: the kill is an event of the build)
        after = rng.randrange(len(new))
        killer = [sys.executable, "-c", KILL_AT_REPLACE, str(after), *command[3:]]
        process = subprocess.run(killer, capture_output=True, check=False)
        kills += process.returncode == -signal.SIGKILL
        current = read_tree(old_config.output)
        assert set(current) == set(old), attempt
        for name, data in current.items():
            assert data in (old[name], new[name]), (attempt, name)
        changed = sum(current[name] == new[name] for name in current)
        assert changed == after, (attempt, after)  # it died exactly there
    assert kills == 12
    # the next build completes the job and leaves no temporary files behind
    subprocess.run(command, check=True, capture_output=True)
    assert read_tree(old_config.output) == new
    assert not list(old_config.output.rglob("*.tmp"))


@pytest.mark.parametrize(
    ("errno", "message"),
    [(30, "Read-only file system"), (28, "No space left on device")],
)
def test_write_errors_keep_old_outputs_and_exit_1(
    fixture_project: Path,
    load_fixture_config: Callable[[], Config],
    monkeypatch: pytest.MonkeyPatch,
    errno: int,
    message: str,
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    before = read_tree(config.output)
    config_file = fixture_project / "config.yaml"
    config_file.write_text(config_file.read_text().replace("title: Fixture News", "title: Changed"))

    def refuse(*args: object, **kwargs: object) -> tuple[int, str]:
        raise OSError(errno, message, str(config.output / "atom.xml"))

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    result = CliRunner().invoke(cli, ["build", "--no-digest", "--config", str(config_file)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"error: {config.output / 'atom.xml'}: {message} (previous outputs were left in place)\n"
    )
    assert read_tree(config.output) == before


def test_a_damaged_state_database_stops_send_with_recovery_advice(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_project)
    monkeypatch.setenv("FEEDLETTER_SECRET", "x" * 32)
    runner = CliRunner()
    assert runner.invoke(cli, ["subscribers", "add", "ada@example.com"]).exit_code == 0
    assert runner.invoke(cli, ["digest", "--date", "2021-04-02"]).exit_code == 0
    database = fixture_project / "var" / "feedletter.sqlite3"
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    database.write_bytes(b"garbage" * 1000)
    for command in (["send", "--force"], ["subscribers", "list"]):
        result = runner.invoke(cli, command)
        assert result.exit_code == 1, command
        assert "is damaged. Move it aside and restore a backup" in result.stderr
        assert "send log inside is what prevents repeated sends" in result.stderr


def test_a_locked_state_database_is_waited_for(fixture_project: Path) -> None:
    import threading

    from newsletter.audience import lifecycle as subs
    from newsletter.state import connect

    database = fixture_project / "var" / "state.sqlite3"
    connect(database).close()
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    result: list[object] = []

    def add() -> None:
        with connect(database) as conn:
            result.append(subs.add(conn, "ada@example.com"))

    adder = threading.Thread(target=add, name="adder")
    adder.start()
    # the observable event: the adder is inside a statement while the lock is held,
    # that is, SQLite is making it wait (it cannot finish until the COMMIT below)
    assert adder.ident is not None
    deadline = time.monotonic() + 60
    while not _inside_a_statement(adder.ident):
        assert adder.is_alive(), f"the adder finished while the lock was held: {result}"
        assert time.monotonic() < deadline, "the adder never reached the database"
        threading.Event().wait(0.002)
    assert result == []  # still waiting
    holder.execute("COMMIT")
    holder.close()
    adder.join(60)
    assert not adder.is_alive()
    (added,) = result
    assert isinstance(added, tuple) and added[1] is True  # created once the lock was free


def _inside_a_statement(thread_id: int) -> bool:
    """True when the thread is executing an SQL statement (in SQLAlchemy's execute)."""
    frame = sys._current_frames().get(thread_id)
    while frame is not None:
        if frame.f_code.co_name in ("do_execute", "do_execute_no_params"):
            return True
        frame = frame.f_back
    return False


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            ("news: news", "news: missing-folder"),
            "error: content.news: {root}/missing-folder is not a folder of records\n",
        ),
        (
            (f"templates: {ROOT / 'templates'}", "templates: no-templates"),
            "error: templates: {root}/no-templates is not a folder of Jinja2 templates\n",
        ),
        (
            ("max_items: 5", "max_items: lots"),
            "error: {root}/config.yaml: rules.max_items: Input should be a valid integer, unable to parse string as an integer (got 'lots')\n",
        ),
        (
            ("language: en", "langauge: en"),
            "error: {root}/config.yaml: site.langauge: unknown key; did you mean 'language'?\n",
        ),
    ],
)
def test_configuration_errors_name_the_key(
    fixture_project: Path, edit: tuple[str, str], message: str
) -> None:
    config_file = fixture_project / "config.yaml"
    config_file.write_text(config_file.read_text().replace(*edit))
    result = CliRunner().invoke(cli, ["build", "--no-digest", "--config", str(config_file)])
    assert result.exit_code == 1
    assert result.stderr == message.format(root=fixture_project)
