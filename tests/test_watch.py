"""`feedletter serve --watch` in a real browser: edit a record, the open page updates.

A real `feedletter serve --watch` process on a copy of the fixture project and
Debian's Chromium (selenium): the page reloads itself after the rebuild, a
broken topic file shows its error over the last good page, and nothing of the
preview's script reaches output/. Skips, saying why, without chromium.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import ROOT, read_tree
from .smtp_server import free_port
from .test_signup_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401
from .test_web import SECRET

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs Debian's 'chromium' and 'chromium-driver' (make test installs them)",
)

RECORD = (
    "2020-09-14-september-16th-power-apps-community-call-canvas-app-design-components-"
    "themes-and-connecting-power-virtual-agents-to-ms-graph.md"
)
OLD_TITLE = "September 16th Power Apps community call"


def page_text(driver: object) -> str:
    """The open page's text, read in one script (a reload mid-read gives "", not an error)."""
    text = driver.execute_script(  # type: ignore[attr-defined]
        "return document.body ? document.body.innerText : ''"
    )
    return str(text or "")


def error_box(driver: object) -> str | None:
    """The build-error overlay's text, or None when the page shows none."""
    text = driver.execute_script(  # type: ignore[attr-defined]
        "var b = document.getElementById('feedletter-build-error'); return b ? b.innerText : null"
    )
    return None if text is None else str(text)


def wait(driver: object, condition: Callable[[object], object]) -> None:
    """Wait up to 15 s for ``condition``; a page reloading mid-check is checked again."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, 15, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
        condition
    )


def status(base: str, base_path: str = "news") -> dict[str, object]:
    url = f"{base}/{base_path}/__feedletter/status"
    with urllib.request.urlopen(url, timeout=5) as response:
        data: dict[str, object] = json.loads(response.read())
        return data


@pytest.fixture
def watching(fixture_project: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """`feedletter serve --watch` on the fixture project, after its first build."""
    with start_watch(fixture_project, "news") as running:
        yield running


@contextmanager
def start_watch(project: Path, base_path: str) -> Iterator[tuple[str, Path, list[str]]]:
    """`feedletter serve --watch` in ``project``, after its first build: (base URL,
    project, the lines it printed, filled in when it stops)."""
    port = free_port()
    log = project / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "serve", "--watch", "--port", str(port)],
        cwd=project,
        env={**os.environ, "FEEDLETTER_SECRET": SECRET.decode()},
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if status(base, base_path)["build"] == 1:
                    break
            except OSError:
                pass
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        lines: list[str] = []
        yield base, project, lines
    finally:
        process.terminate()
        process.wait(timeout=30)
        lines.extend(log.read_text().splitlines())


def test_an_edited_record_shows_in_the_open_page_without_a_reload(
    watching: tuple[str, Path, list[str]],
    browser: object,  # noqa: F811
) -> None:
    base, project, _ = watching
    driver = browser
    driver.get(f"{base}/news/topics/canvas-apps/")  # type: ignore[attr-defined]
    assert OLD_TITLE in page_text(driver)
    driver.execute_script("window.feedletterMarker = 'before';")  # type: ignore[attr-defined]
    record = project / "news" / RECORD
    record.write_text(
        record.read_text().replace(f'title: "{OLD_TITLE}', 'title: "Watched: community call', 1)
    )
    edited = time.monotonic()
    wait(driver, lambda d: "Watched: community call" in page_text(d))
    print(f"edit to new title in the browser: {time.monotonic() - edited:.2f} s")
    # the page reloaded itself: the script state set before the edit is gone
    assert driver.execute_script("return window.feedletterMarker") is None  # type: ignore[attr-defined]
    assert OLD_TITLE not in page_text(driver)

    # a broken topic file: the error shows over the last good page, which stays
    topic = project / "topics" / "01-canvas-apps.yaml"
    good = topic.read_text()
    topic.write_text(good + "keywords: [unclosed\n")
    wait(driver, error_box)
    error = error_box(driver) or ""
    assert "Build failed; this page is the last good build." in error
    assert "01-canvas-apps.yaml" in error and "is not valid YAML" in error
    assert "Watched: community call" in page_text(driver)
    # fixed: the next build succeeds and the error goes (the outputs are those the
    # page shows already, so it needs no reload)
    topic.write_text(good)
    wait(driver, lambda d: error_box(d) is None and page_text(d))
    assert status(base)["error"] == ""
    assert "Watched: community call" in page_text(driver)
    # the preview's script never reaches output/
    tree = read_tree(project / "output")
    assert not [path for path, data in tree.items() if b"feedletter-live" in data]
    assert b"Watched: community call" in tree["topics/canvas-apps/index.html"]


def test_the_terminal_says_what_was_rebuilt_and_what_failed(
    watching: tuple[str, Path, list[str]],
) -> None:
    base, project, _ = watching
    topic = project / "topics" / "01-canvas-apps.yaml"
    good = topic.read_text()
    topic.write_text(good + "keywords: [unclosed\n")
    deadline = time.monotonic() + 15
    while not status(base)["error"] and time.monotonic() < deadline:
        time.sleep(0.05)
    topic.write_text(good)
    while status(base)["error"] and time.monotonic() < deadline:
        time.sleep(0.05)
    # the files are as they were before the error: no new build for the pages to load
    assert status(base)["build"] == 1
    # the published bytes (a proxied request) carry no script
    request = urllib.request.Request(f"{base}/news/", headers={"X-Forwarded-For": "10.0.0.1"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert b"feedletter-live" not in response.read()
    with urllib.request.urlopen(f"{base}/news/", timeout=5) as response:
        assert b'<script id="feedletter-live">' in response.read()

    def log_lines() -> list[str]:
        return [
            line
            for line in (project / "serve.log").read_text().splitlines()
            if not line.startswith("  rejected ")  # the fixture's five bad records, listed once
        ]

    # the terminal line of the repaired build (printed as its status is published)
    while "changed)" not in (log_lines() or [""])[-1] and time.monotonic() < deadline:
        time.sleep(0.05)
    log = log_lines()
    assert log[1] == "Watching records, topics, templates and the config for changes"
    assert re.fullmatch(
        r"Rebuilt in \d\.\d\d s: \d+ file\(s\) written, 5 record\(s\) rejected", log[2]
    )
    assert log[3].startswith(f"error: {topic}: topic '01-canvas-apps': is not valid YAML")
    assert log[3].endswith("(the preview keeps the last good build)")
    assert re.fullmatch(
        r"Rebuilt in \d\.\d\d s \(01-canvas-apps\.yaml changed\): \d+ file\(s\) written, "
        r"5 record\(s\) rejected",
        log[4],
    )
    assert len(log) == 5, log


def test_an_edit_to_the_bundled_sample_shows_in_the_browser(
    tmp_path: Path,
    browser: object,  # noqa: F811
) -> None:
    """The issue's case: the bundled sample (674 records), one record edited."""
    project = tmp_path / "sample"
    project.mkdir()
    shutil.copytree(ROOT / "content", project / "content")
    shutil.copytree(ROOT / "templates", project / "templates")
    shutil.copy(ROOT / "config.yaml", project / "config.yaml")
    with start_watch(project, "powerapps") as (base, _, _):
        driver = browser
        driver.get(f"{base}/powerapps/")  # type: ignore[attr-defined]
        # the newest story on the front page, and its record
        newest = sorted((project / "content" / "news").glob("*.md"))[-1]
        text = newest.read_text()
        title = next(line for line in text.splitlines() if line.startswith("title:"))
        newest.write_text(text.replace(title, 'title: "Edited while watching"', 1))
        edited = time.monotonic()
        wait(driver, lambda d: "Edited while watching" in page_text(d))
        print(
            f"bundled sample: edit to new title in the browser: {time.monotonic() - edited:.2f} s"
        )


def test_a_template_or_config_change_rebuilds(fixture_project: Path) -> None:
    """Templates (a copy of the repository's) and the config file are watched too."""
    shutil.copytree(ROOT / "templates", fixture_project / "templates")
    config = fixture_project / "config.yaml"
    config.write_text(
        config.read_text().replace(f"templates: {ROOT / 'templates'}", "templates: templates")
    )
    with start_watch(fixture_project, "news") as (base, project, _):

        def page() -> str:
            with urllib.request.urlopen(f"{base}/news/", timeout=5) as response:
                return response.read().decode()

        def rebuilt_after(build: object) -> None:
            deadline = time.monotonic() + 15
            while status(base)["build"] == build and time.monotonic() < deadline:
                time.sleep(0.05)
            assert status(base)["build"] != build and status(base)["error"] == ""

        template = project / "templates" / "index.html.j2"
        template.write_text(
            template.read_text().replace("<h1>{{ site.title }}</h1>", "<h1>{{ site.title }}!</h1>")
        )
        rebuilt_after(1)
        assert "<h1>Fixture News!</h1>" in page()
        build = status(base)["build"]
        config.write_text(config.read_text().replace("title: Fixture News", "title: Watched News"))
        rebuilt_after(build)
        assert "<h1>Watched News!</h1>" in page()
        assert b"<h1>Watched News!</h1>" in (project / "output" / "index.html").read_bytes()


def test_watch_is_for_the_preview_only(fixture_project: Path) -> None:
    from click.testing import CliRunner

    from newsletter.cli import cli

    config = str(fixture_project / "config.yaml")
    result = CliRunner().invoke(cli, ["serve", "--watch", "--production", "--config", config])
    assert result.exit_code == 2
    assert "--watch is for the local preview: drop --production" in result.stderr
