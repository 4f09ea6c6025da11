"""A build that finds nothing changed since an identical run is answered before the
CLI is imported (``newsletter.replay``), and only then: whatever that run depended
on changing sends the next run through the whole command again."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.config import FeedSettings
from newsletter import replay
from newsletter.config import DEFAULT_CONFIG, load_config
from newsletter.issue.pipeline import current_period, period_ends
from newsletter.runtime.locks import work_lock_path

from .conftest import ROOT, in_fresh_interpreter

# what the CLI loads: a replayed run imports none of it
HEAVY = {
    "click",
    "pydantic",
    "sqlalchemy",
    "feedgen",
    "jinja2",
    "newsletter.cli",
    "newsletter.config",
}
LOADED = in_fresh_interpreter(
    after='import json\nopen(OUT, "w").write(json.dumps([status, sorted(sys.modules)]))\n'
)
ARGS = ["build", "--no-digest"]


def run(project: Path, out: Path, args: list[str]) -> tuple[int, list[str], str, str]:
    """``feedletter ARGS`` in a fresh interpreter: its status, the modules it loaded,
    what it printed on stdout and stderr."""
    code = f"OUT = {str(out)!r}\n" + LOADED
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=project, capture_output=True, text=True, check=False,
    )  # fmt: skip
    status, modules = json.loads(out.read_text())
    return status, modules, done.stdout, done.stderr


def test_an_unchanged_build_is_answered_from_the_last_identical_run(
    fixture_project: Path, tmp_path: Path
) -> None:
    """The first build renders, the second finds nothing changed (and stores what it
    printed), the third prints exactly that without importing the CLI."""
    out = tmp_path / "modules.json"
    status, modules, _, _ = run(fixture_project, out, ARGS)
    assert status == 0 and "feedgen" in modules
    status, modules, printed, warned = run(fixture_project, out, ARGS)
    assert status == 0 and "(nothing changed since the last build)" in printed
    assert "click" in modules  # the whole command decided it
    status, modules, again, warned_again = run(fixture_project, out, ARGS)
    assert status == 0
    assert (again, warned_again) == (printed, warned)
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY) == []


def test_strict_with_rejected_records_replays_its_error_and_status(
    fixture_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fixture_project / "news" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    args = ["build", "--strict", "--no-digest"]
    out = tmp_path / "modules.json"
    run(fixture_project, out, args)
    status, _, printed, warned = run(fixture_project, out, args)
    assert status == 3 and "record(s) rejected" in warned
    monkeypatch.chdir(fixture_project)
    stdout, stderr = _Stream(), _Stream()
    assert replay.replay(args, stdout, stderr) == 3
    assert (stdout.text, stderr.text) == (printed, warned)


class _Stream:
    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)


@contextmanager
def _held(lock: Path) -> Iterator[None]:
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _kept_mtime(path: Path, change: Callable[[], None]) -> Callable[[], None]:
    """``change`` to ``path``, and how to put its bytes and mtime back."""
    before, stat = path.read_bytes(), path.stat()
    change()

    def undo() -> None:
        path.write_bytes(before)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    return undo


def test_anything_the_run_depended_on_changing_runs_the_command_again(
    fixture_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each change makes ``replay`` decline (None: the command runs), and putting it
    back makes it answer again: each witness is what decided."""
    out = tmp_path / "modules.json"
    run(fixture_project, out, ARGS)
    run(fixture_project, out, ARGS)
    monkeypatch.chdir(fixture_project)
    sink = _Stream()
    assert replay.replay(ARGS, sink, sink) == 0
    config = load_config(fixture_project / "config.yaml")
    record = next((fixture_project / "news").glob("*.md"))
    template = next(config.templates.glob("*"))
    feed = config.output / "atom.xml"
    topic = next((fixture_project / "topics").glob("*"))
    changes: dict[str, Callable[[], Callable[[], None]]] = {
        "a record edited": lambda: _kept_mtime(record, lambda: record.write_text("x")),
        "a topic file edited": lambda: _kept_mtime(topic, lambda: topic.write_text("x")),
        "a template touched": lambda: _kept_mtime(template, lambda: os.utime(template)),
        "an output file edited": lambda: _kept_mtime(feed, lambda: feed.write_bytes(b"x")),
        "the config edited": lambda: _kept_mtime(
            fixture_project / "config.yaml",
            lambda: (fixture_project / "config.yaml").open("a").write("# note\n"),
        ),
        "a record added": lambda: _added(fixture_project / "news" / "new.md"),
    }
    for what, change in changes.items():
        undo = change()
        assert replay.replay(ARGS, sink, sink) is None, what
        undo()
        assert replay.replay(ARGS, sink, sink) == 0, f"{what}, put back"

    monkeypatch.setenv("FEEDLETTER_SECRET", "another")  # an environment variable it reads
    assert replay.replay(ARGS, sink, sink) is None
    monkeypatch.delenv("FEEDLETTER_SECRET")
    assert replay.replay(ARGS, sink, sink) == 0

    with _held(work_lock_path(Path(config.database.where))):  # a build is running
        assert replay.replay(ARGS, sink, sink) is None
    assert replay.replay([*ARGS, "-v"], sink, sink) is None  # other arguments
    monkeypatch.chdir(tmp_path)  # another folder: another relative config
    assert (
        replay.replay([*ARGS, "--config", str(fixture_project / "config.yaml")], sink, sink) is None
    )
    monkeypatch.chdir(fixture_project)

    assert config.cache is not None
    with sqlite3.connect(config.cache) as conn:  # the moment the time changes it has come
        (key, value) = conn.execute(
            "SELECT key, value FROM meta WHERE key LIKE 'replay %'"
        ).fetchone()
        stored = json.loads(value)
        stored["until"] = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
        conn.execute("UPDATE meta SET value = ? WHERE key = ?", (json.dumps(stored), key))
    conn.close()
    assert replay.replay(ARGS, sink, sink) is None


def _added(path: Path) -> Callable[[], None]:
    path.write_text("---\ntitle: New\n---\n")
    return path.unlink


def test_the_defaults_it_assumes_are_the_configs_own() -> None:
    """``replay`` finds the parse cache without importing the config models."""
    assert str(DEFAULT_CONFIG) == replay.DEFAULT_CONFIG
    assert str(FeedSettings.model_fields["cache"].default) == replay.DEFAULT_CACHE


def test_the_digest_period_due_changes_exactly_when_period_ends_says() -> None:
    """A replayed run with the digest is valid until the period due changes."""
    base = load_config(ROOT / "config.yaml")
    now = datetime(2026, 12, 2, 15, 30, tzinfo=UTC)
    for digest, zone in (("0 8 * * mon", "Europe/Paris"), (None, "UTC")):
        schedule = base.schedule.model_copy(update={"digest": digest, "timezone": zone})
        config = base.model_copy(update={"schedule": schedule})
        end = period_ends(config, now)
        assert end > now
        assert current_period(config, end - timedelta(seconds=1)) == current_period(config, now)
        assert current_period(config, end) != current_period(config, now)
