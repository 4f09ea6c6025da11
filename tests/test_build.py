"""Whole builds of the fixture project: GUID stability, atomic writes, stale files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest

from feeds.build import build_feeds
from feeds.errors import OutputError
from feeds.publishing.output import write_tree
from newsletter.config import Config

from .conftest import NOW, in_fresh_interpreter, read_tree

LAYOUT = "2020-11-17-new-layout-containers-in-canvas-apps-make-responsive-apps-easier.md"


def guids(path: Path) -> dict[str, str]:
    return {e.title: e.id for e in feedparser.parse(path.read_bytes()).entries}


def test_guids_survive_rename_https_switch_and_base_url_change(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    before = guids(config.output / "atom.xml")
    record = fixture_project / "news" / LAYOUT
    text = record.read_text().replace(
        "https://powerapps.microsoft.com/en-us/blog/new-layout-containers-in-canvas-apps-make-responsive-apps-easier/",
        "http://www.powerapps.microsoft.com/en-us/blog/new-layout-containers-in-canvas-apps-make-responsive-apps-easier",
    )
    record.unlink()
    (fixture_project / "news" / "renamed.md").write_text(text)
    (fixture_project / "config.yaml").write_text(
        (fixture_project / "config.yaml")
        .read_text()
        .replace("https://fixture.example.org/news", "http://feeds.other.example")
    )
    moved = load_fixture_config()
    build_feeds(moved, NOW)
    after = guids(moved.output / "atom.xml")
    title = "New Layout containers in canvas apps make responsive apps easier"
    assert title in before
    assert after == before


def test_failed_write_leaves_previous_outputs_intact(
    load_fixture_config: Callable[[], Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    before = read_tree(config.output)
    # Change an input so that several files would be rewritten...
    (config.content.news / LAYOUT).write_text(
        (config.content.news / LAYOUT).read_text().replace("make responsive", "make RESPONSIVE")
    )
    # ...and make the disk fail on the third staged file.
    real_fsync = os.fsync
    calls = {"n": 0}

    def failing_fsync(fd: int) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OutputError, match="No space left on device"):
        build_feeds(config, NOW)
    monkeypatch.undo()
    assert read_tree(config.output) == before
    leftovers = [p for p in config.output.rglob("*.tmp")]
    assert leftovers == []
    # and the next good build goes through
    assert build_feeds(config, NOW).report.written


def test_files_a_build_no_longer_makes_are_removed(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    assert (config.output / "topics" / "portals" / "atom.xml").exists()
    (fixture_project / "topics" / "05-portals.yaml").unlink()
    report = build_feeds(load_fixture_config(), NOW).report
    assert "topics/portals/atom.xml" in report.removed
    assert not (config.output / "topics" / "portals" / "atom.xml").exists()


def test_unrelated_files_in_output_are_left_alone(
    load_fixture_config: Callable[[], Config],
) -> None:
    config = load_fixture_config()
    config.output.mkdir(parents=True)
    (config.output / "robots.txt").write_text("User-agent: *\n")
    build_feeds(config, NOW)
    assert (config.output / "robots.txt").read_text() == "User-agent: *\n"


@pytest.mark.parametrize("name", ["../escape.xml", "/abs.xml", "a/../../b.xml", "a\\b.xml", ""])
def test_write_tree_refuses_paths_outside_the_root(tmp_path: Path, name: str) -> None:
    with pytest.raises(OutputError, match="outside the output folder"):
        write_tree(tmp_path / "out", {name: b"x"})
    assert not (tmp_path / "escape.xml").exists()


def test_rejected_records_do_not_stop_the_build(load_fixture_config: Callable[[], Config]) -> None:
    result = build_feeds(load_fixture_config(), NOW)
    reasons = {str(e.path): e.reason for e in result.project.corpus.rejected}
    assert reasons == {
        "news/bad-date.md": "publishedDateTime 'yesterday' is not an ISO 8601 date",
        "news/bad-url.md": "URL 'javascript:alert(document.cookie)' is not an absolute http(s) URL",
        "news/broken-yaml.md": "front matter is not valid YAML at line 5: found unexpected end of stream",
        "news/no-front-matter.md": "no YAML front matter (the file must start with ---)",
        "news/no-title.md": "no title",
    }
    assert len(result.project.corpus.articles) == 14


def test_a_handed_scan_is_let_go_once_the_records_are_loaded(
    load_fixture_config: Callable[[], Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build handed the scan (as the CLI does) takes it and keeps no other
    reference: the scan is freed while the stories are chosen and written, and the
    build is the one it would have been."""
    import gc
    import weakref

    from feeds.reading.scan import FileStat, Handoff, scan

    class Scan(list[FileStat]):
        """A list that can be weakly referenced, to see when it is freed."""

    import feeds.build.run

    config = load_fixture_config()
    files = Scan(scan(config.content.news))
    gone = weakref.ref(files)
    handoff = Handoff(files)
    del files
    alive_while_choosing = []
    plan = feeds.build.run.plan_feeds

    def planned(*args: Any, **kwargs: Any) -> Any:
        gc.collect()
        alive_while_choosing.append(gone() is not None)
        return plan(*args, **kwargs)

    monkeypatch.setattr(feeds.build.run, "plan_feeds", planned)
    result = build_feeds(config, NOW, files=handoff)
    assert alive_while_choosing == [False]
    with pytest.raises(AssertionError, match="taken once"):
        handoff.take()
    assert result.summary.read == 19


# what only a build with work to do needs: rendering, the collector and story rules,
# the state database's engine, HTTP for the hub pings
HEAVY = ("feedgen", "lxml", "jinja2", "premailer", "rapidfuzz", "Stemmer", "sqlalchemy",
         "feeds.selection.collector", "feeds.rendering.feed", "urllib.request")  # fmt: skip
# the real command in a fresh interpreter; then what it imported, into the file OUT
LOADED = in_fresh_interpreter(
    after='import json\nopen(OUT, "w").write(json.dumps([status, sorted(sys.modules)]))\n'
)


@pytest.mark.parametrize("digest", [[], ["--no-digest"]])
def test_a_build_that_finds_nothing_changed_loads_no_renderer(
    fixture_project: Path, tmp_path: Path, digest: list[str]
) -> None:
    """The no-change path decides from a stat scan and the stored fingerprint alone."""

    def build() -> tuple[int, list[str], str]:
        out = tmp_path / "modules.json"
        code = f"OUT = {str(out)!r}\n" + LOADED
        args = ["build", "--date", "2021-04-02", *digest]
        run = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=fixture_project, capture_output=True, text=True, check=False,
        )  # fmt: skip
        status, modules = json.loads(out.read_text())
        return status, modules, run.stdout

    status, modules, _ = build()  # the first build renders everything
    assert status == 0
    assert {"feedgen", "jinja2", "feeds.selection.collector"} <= set(modules)
    status, modules, stdout = build()
    assert status == 0
    assert "(nothing changed since the last build)" in stdout
    loaded = sorted(m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY)
    assert loaded == []
