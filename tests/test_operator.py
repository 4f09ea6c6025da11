"""Operator experience: init, check, -q/-v, and the index page in a real browser."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from newsletter.cli import cli

from .conftest import ROOT
from .test_browser import CHROMIUM, chromium


def test_init_makes_a_project_that_builds_checks_and_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    project = tmp_path / "news"
    result = runner.invoke(cli, ["init", str(project)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Created {project} (29 files). Next:\n")
    assert (project / "config.yaml").read_text().startswith("# feedletter configuration")
    assert len(list((project / "content" / "news").glob("*.md"))) == 2
    assert (project / "templates" / "digest.html.j2").is_file()
    assert (project / "templates" / "preferences.html.j2").is_file()  # the reader pages too
    monkeypatch.chdir(project)
    checked = runner.invoke(cli, ["check"])
    assert checked.exit_code == 0
    assert checked.stdout.endswith("OK\n")
    assert "Icon: content/icon.png (square)\n" in checked.stdout  # init ships a square one
    assert not (project / "output").exists() and not (project / "var").exists()  # wrote nothing
    built = runner.invoke(cli, ["build", "--date", "2021-11-07"])
    assert built.exit_code == 0, built.output
    assert (project / "output" / "index.html").is_file()
    shipped = (project / "content" / "icon.png").read_bytes()
    assert (project / "output" / "icon.png").read_bytes() == shipped
    assert (project / "output" / "newsletter" / "2021-W44" / "index.html").is_file()
    assert (project / "var" / "issues" / "2021-W44" / "email.html").is_file()
    again = runner.invoke(cli, ["init", str(project)])
    assert again.exit_code == 1
    assert again.stderr == f"error: {project} exists and is not an empty folder; choose a new one\n"
    # the user names the site and its address: the digest's sender and footer follow
    config = project / "config.yaml"
    text = config.read_text().replace("title: My News", "title: Acme Briefing")
    config.write_text(text.replace("https://news.example.org", "https://briefing.acme.example"))
    assert runner.invoke(cli, ["build", "--date", "2021-11-07"]).exit_code == 0
    sample = (project / "var" / "issues" / "2021-W44" / "sample.eml").read_text()
    assert "From: Acme Briefing <digest@briefing.acme.example>" in sample
    assert "You receive Acme Briefing because you subscribed at briefing.acme.example." in sample
    assert "news.example.org" not in sample


def test_check_reports_every_kind_of_problem_and_exits_3(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_project)
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 3
    assert result.stdout == (
        "Config config.yaml: valid; 7 topics, 19 records\n"
        "Icon: warning: site.icon is not set: feed readers show a letter instead of your icon\n"
        "Rejected records: 5\n"
        "  news/bad-date.md: publishedDateTime 'yesterday' is not an ISO 8601 date\n"
        "  news/bad-url.md: URL 'javascript:alert(document.cookie)' is not an absolute http(s) URL\n"
        "  news/broken-yaml.md: front matter is not valid YAML at line 5: found unexpected end of stream\n"
        "  news/no-front-matter.md: no YAML front matter (the file must start with ---)\n"
        "  news/no-title.md: no title\n"
        "Topics with no qualifying articles: Model-driven apps\n"
        "Topic names used by records but not defined: AI, Natural Language Processing, Power Automate\n"
        "Stories told by several records: 2 (2 extra copies folded into them)\n"
        "  'New Layout containers in canvas apps make responsive apps easier' (2020-11-17):\n"
        "    news/2020-11-17-new-layout-containers-in-canvas-apps-make-responsive-apps-easier.md (Microsoft, quality 104)\n"
        "    news/2020-11-18-layout-containers-syndicated.md (Syndicator Weekly, quality 71)\n"
        "  'Microsoft Makes Power Apps Changes Following ‘Sensitive Data’ Exposure: UpGuard' (2021-08-26):\n"
        "    news/2021-08-26-microsoft-makes-power-apps-changes-following-sensitive-data-exposure-upguard.md (CRN, quality 33)\n"
        "    news/2021-08-27-microsoft-makes-power-apps-changes-following-asensitive-dataa-exposure-upguard.md (CRN, quality 31)\n"
        "Excerpts cleaned: 0 trimmed, 0 dropped\n"
        "Digest due now: none (no stories in its period)\n"
    )
    assert result.stderr == "error: 5 record(s) rejected\n"
    assert not (fixture_project / "output").exists() and not (fixture_project / "var").exists()


def test_quiet_prints_only_errors_and_verbose_adds_detail(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(fixture_project)
    runner = CliRunner()
    quiet = runner.invoke(cli, ["-q", "build", "--date", "2021-04-02"])
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    (fixture_project / "output" / "atom.xml").unlink()
    verbose = runner.invoke(cli, ["-v", "build", "--no-digest"])
    assert "  wrote atom.xml\n" in verbose.stdout
    failing = runner.invoke(cli, ["-q", "build", "--config", "missing.yaml"])
    assert failing.exit_code == 1 and failing.stdout == ""
    assert failing.stderr == "error: --config: missing.yaml does not exist; pass --config PATH\n"
    assert runner.invoke(cli, ["-q", "-v", "build"]).exit_code == 2


@pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium binary found (install Debian's 'chromium')"
)
def test_index_page_looks_like_a_page_in_a_browser(tmp_path: Path) -> None:
    project = tmp_path / "site"
    shutil.copytree(ROOT / "content", project / "content")
    shutil.copy(ROOT / "config.yaml", project / "config.yaml")
    os.symlink(ROOT / "templates", project / "templates")
    result = CliRunner().invoke(
        cli, ["build", "--no-digest", "--config", str(project / "config.yaml")]
    )
    assert result.exit_code == 0, result.output
    index = project / "output" / "index.html"
    dom = chromium("--window-size=1000,1600", "--dump-dom", index.as_uri()).stdout.decode()
    for name in ("Canvas apps", "Model-driven apps", "Teams integration", "JSON Feed", "OPML"):
        assert name in dom
    shot = tmp_path / "index.png"
    chromium("--window-size=1000,1600", f"--screenshot={shot}", index.as_uri())
    with Image.open(shot) as image:
        grey = image.convert("L")
        histogram = grey.histogram()
        assert sum(histogram) - max(histogram) > 0.05 * sum(histogram)  # not blank
        # the cards are laid out: the page is light with darker text, not unstyled
        assert grey.getpixel((20, 20)) > 200
        assert len(image.convert("RGB").getcolors(1_000_000) or []) > 50
