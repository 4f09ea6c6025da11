"""The digest email rendered in a real browser (headless Chromium) at 600 and 375 px.

`make test` (and so CI) installs Debian's chromium first; these tests skip, saying
why, only when no Chromium binary can be found.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest
from lxml import html as lxml_html
from PIL import Image

from feeds.build import load_project
from newsletter.config import load_config
from newsletter.issue.pipeline import issue_period, make_issue
from newsletter.issue.render import RenderedIssue

from .conftest import ROOT

CHROMIUM = next(
    (p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p),
    None,
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary found (install Debian's 'chromium' package)"
)
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    # the email's images live on the internet; the machine has no network
    "--blink-settings=imagesEnabled=false",
]


def chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    assert CHROMIUM is not None
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            timeout=120,
            check=True,
        )


@pytest.fixture(scope="module")
def issue_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[RenderedIssue, Path]:
    config = load_config(ROOT / "config.yaml")
    issue = make_issue(load_project(config), config, issue_period(config, date(2021, 11, 7)))
    path = tmp_path_factory.mktemp("email") / "email.html"
    path.write_text(issue.html, encoding="utf-8")
    return issue, path


@pytest.mark.parametrize("width", [600, 375])
def test_rendered_dom_holds_every_title(issue_file: tuple[RenderedIssue, Path], width: int) -> None:
    issue, path = issue_file
    result = chromium(f"--window-size={width},3000", "--dump-dom", path.as_uri())
    dom = lxml_html.fromstring(result.stdout)
    text = " ".join(dom.text_content().split())
    assert issue.plan.items
    for item in issue.plan.items:
        assert item.article.title in text
    assert not dom.xpath("//script")


@pytest.mark.parametrize("width", [600, 375])
def test_screenshot_is_not_blank(
    issue_file: tuple[RenderedIssue, Path], width: int, tmp_path: Path
) -> None:
    _, path = issue_file
    shot = tmp_path / f"digest-{width}.png"
    chromium(f"--window-size={width},1600", f"--screenshot={shot}", path.as_uri())
    with Image.open(shot) as image:
        assert image.size == (width, 1600)
        grey = image.convert("L")
        low, high = grey.getextrema()
        assert high - low > 100  # dark text on a light page
        histogram = grey.histogram()
        background = max(histogram)
        # well over a tenth of the pixels differ from the most common colour
        assert sum(histogram) - background > 0.1 * sum(histogram)
        colours = image.convert("RGB").getcolors(maxcolors=1_000_000) or []
        assert len(colours) > 50  # text anti-aliasing, masthead, links
