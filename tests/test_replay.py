"""A build that finds nothing changed since an identical run is answered before the
CLI is imported (``newsletter.replay``), and only then: whatever that run depended
on changing sends the next run through the whole command again."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
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
from newsletter.state.locks import work_lock_path

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


def _forget(project: Path) -> int:
    """Delete the replay records from the project's parse cache; how many there were."""
    with sqlite3.connect(project / "var" / "parse-cache.sqlite3") as conn:
        gone = conn.execute("DELETE FROM meta WHERE key LIKE 'replay %'").rowcount
    conn.close()
    return gone


@pytest.mark.parametrize("args", [ARGS, ["build", "-q", "--no-digest"]])
def test_an_unchanged_build_is_answered_as_the_whole_command_answers(
    fixture_project: Path, tmp_path: Path, args: list[str]
) -> None:
    """After a build that wrote, the next identical run is answered with what the
    whole command prints when it finds nothing changed, importing none of the CLI;
    so is the run after that one."""
    out = tmp_path / "modules.json"
    status, modules, _, _ = run(fixture_project, out, args)
    assert status == 0 and "feedgen" in modules
    status, modules, replayed, replayed_err = run(fixture_project, out, args)
    assert status == 0
    assert sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY) == []
    assert _forget(fixture_project) == 1
    status, modules, printed, warned = run(fixture_project, out, args)  # the whole command
    assert status == 0 and "click" in modules
    if "-q" not in args:
        assert "(nothing changed since the last build)" in printed
    assert (replayed, replayed_err) == (printed, warned)
    status, modules, again, warned_again = run(fixture_project, out, args)
    assert status == 0 and "click" not in modules
    assert (again, warned_again) == (printed, warned)


def test_strict_with_rejected_records_replays_its_error_and_status(
    fixture_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fixture_project / "news" / "broken.md").write_text("---\ntitle: [unclosed\n---\n")
    args = ["build", "--strict", "--no-digest"]
    out = tmp_path / "modules.json"
    run(fixture_project, out, args)
    _forget(fixture_project)
    status, _, printed, warned = run(fixture_project, out, args)  # the whole command
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
    shutil.copytree(ROOT / "templates", fixture_project / "templates")  # touched below
    config_file = fixture_project / "config.yaml"
    config_file.write_text(
        re.sub(r"^templates: .*$", "templates: templates", config_file.read_text(), flags=re.M)
    )
    icon = fixture_project / "icon.png"  # copied into output/ by the build
    shutil.copy(ROOT / "content" / "icon.png", icon)
    config_file.write_text(config_file.read_text().replace("site:\n", "site:\n  icon: icon.png\n"))
    out = tmp_path / "modules.json"
    run(fixture_project, out, ARGS)
    monkeypatch.chdir(fixture_project)
    sink = _Stream()
    assert replay.replay(ARGS, sink, sink) == 0
    config = load_config(fixture_project / "config.yaml")
    record = next((fixture_project / "news").glob("*.md"))
    template = next(config.templates.glob("*"))
    assert template.is_relative_to(fixture_project)
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
        "the icon replaced": lambda: _kept_mtime(icon, lambda: icon.write_bytes(b"GIF89a")),
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


def test_a_record_edited_while_the_build_runs_is_not_taken_as_seen(
    fixture_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The inputs are observed before the build reads them: a record edited after
    the scan (while the build renders) makes the next run go through the command,
    which then parses it."""
    record = sorted((fixture_project / "news").glob("*.md"))[0]
    edit = (
        "import feeds.build.run as run_module\n"
        "plan = run_module.plan_feeds\n"
        "def edited(*args, **kwargs):\n"
        f"    path = {str(record)!r}\n"
        "    open(path, 'a').write('\\n')\n"
        "    return plan(*args, **kwargs)\n"
        "run_module.plan_feeds = edited\n"
    )
    out = tmp_path / "modules.json"
    code = f"OUT = {str(out)!r}\n" + in_fresh_interpreter(
        before=edit,
        after='import json\nopen(OUT, "w").write(json.dumps([status, sorted(sys.modules)]))\n',
    )
    subprocess.run([sys.executable, "-c", code, *ARGS], cwd=fixture_project, check=True)
    monkeypatch.chdir(fixture_project)
    assert replay.replay(ARGS, _Stream(), _Stream()) is None
    status, modules, printed, _ = run(fixture_project, out, ARGS)
    assert status == 0 and "click" in modules and "(1 parsed" in printed
    # that run took the scan the declined replay made, and stored what it observed
    assert replay.replay(ARGS, _Stream(), _Stream()) == 0


def test_a_cache_that_cannot_take_the_record_costs_only_the_shortcut(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """``remember`` into a file that is not a parse cache says so at INFO and stores
    nothing; the command itself is unaffected (the next run checks everything)."""
    cache = tmp_path / "not-a-cache.sqlite3"
    cache.write_bytes(b"not a database at all" * 100)
    with caplog.at_level("INFO", logger="feedletter.cache"):
        replay.remember(ARGS, cache, [], None, None, ("out", "", 0))
    assert "could not store the replay record" in caplog.text
    assert cache.read_bytes() == b"not a database at all" * 100
