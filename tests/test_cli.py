"""The command line, through click's CliRunner: exact output and exit codes."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli

from .conftest import ROOT

BUILD_SUMMARY = """\
Records: 19 read ({parsed} parsed, {cached} from cache), 5 rejected, 2 copies folded into 2 stories
  rejected news/bad-date.md: publishedDateTime 'yesterday' is not an ISO 8601 date
  rejected news/bad-url.md: URL 'javascript:alert(document.cookie)' is not an absolute http(s) URL
  rejected news/broken-yaml.md: front matter is not valid YAML at line 5: found unexpected end of stream
  rejected news/no-front-matter.md: no YAML front matter (the file must start with ---)
  rejected news/no-title.md: no title
  topics named by records but not defined: AI, Natural Language Processing, Power Automate
Feeds (items shown / qualified):
  All topics              5 / 7
  Canvas apps             2 / 2
  AI Builder              1 / 1
  Power Apps              5 / 7
  Model-driven apps       0 / 0
  Common Data Service     1 / 1
  Portals                 2 / 2
  Teams integration       1 / 1
Files: {written} written, {unchanged} unchanged, 0 removed in output{note}
{digest}"""
DIGEST = """\
Digest 2021-W13 (2020-04-02 to 2021-04-02): 4 stories, 2 top, 2 topic sections
  HTML 9,370 bytes (budget 90,000); text 2,986 chars
  web copy in output/newsletter/2021-W13/, message and sample in var/issues/2021-W13/
  7 files written, 0 unchanged
"""


@pytest.fixture
def in_project(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(fixture_project)
    return fixture_project


def test_build_prints_the_summary(in_project: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["build", "--date", "2021-04-02"])
    assert first.exit_code == 0, first.output
    assert first.stdout == BUILD_SUMMARY.format(
        parsed=19, cached=0, written=33, unchanged=0, note="", digest=DIGEST
    )
    # nothing changed: neither the feeds nor the digest are rendered again
    second = runner.invoke(cli, ["build", "--config", "config.yaml", "--date", "2021-04-02"])
    assert second.stdout == BUILD_SUMMARY.format(
        parsed=0,
        cached=19,
        written=0,
        unchanged=33,
        note=" (nothing changed since the last build)",
        digest="Digest 2021-W13 (2020-04-02 to 2021-04-02): nothing changed since the last build\n",
    )
    # a changed input renders the digest again (here: to the same bytes)
    record = next((in_project / "news").glob("*.md"))
    record.write_bytes(record.read_bytes())
    os.utime(record, ns=(1, 1))
    third = runner.invoke(cli, ["build", "--date", "2021-04-02"])
    assert third.stdout.endswith(
        DIGEST.replace("7 files written, 0 unchanged", "0 files written, 7 unchanged")
    )
    assert (in_project / "output" / "topics" / "canvas-apps" / "atom.xml").is_file()


def test_strict_exits_3_when_records_are_rejected(in_project: Path) -> None:
    result = CliRunner().invoke(cli, ["build", "--strict", "--date", "2021-04-02"])
    assert result.exit_code == 3
    assert result.stderr == "error: --strict: 5 record(s) rejected\n"
    # the feeds were still written
    assert (in_project / "output" / "atom.xml").is_file()
    feeds_only = CliRunner().invoke(cli, ["build", "--strict", "--no-digest"])
    assert feeds_only.exit_code == 3
    assert feeds_only.stderr == "error: --strict: 5 record(s) rejected\n"


def test_strict_passes_on_a_clean_corpus(in_project: Path) -> None:
    for name in ("bad-date", "bad-url", "broken-yaml", "no-front-matter", "no-title"):
        (in_project / "news" / f"{name}.md").unlink()
    assert CliRunner().invoke(cli, ["build", "--strict", "--date", "2021-04-02"]).exit_code == 0


def test_digest_command_and_empty_issue(in_project: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(cli, ["digest", "--date", "2019-01-01"])
    assert empty.exit_code == 0
    assert empty.stdout == (
        "Digest: not produced: issue 2019-W01: no qualifying articles from "
        "2018-01-01 to 2019-01-01 (UTC); no digest was produced "
        "(use --force to produce an empty one, or --date to pick another week)\n"
    )
    assert not (in_project / "output" / "newsletter").exists()
    forced = runner.invoke(cli, ["digest", "--date", "2019-01-01", "--force"])
    assert forced.exit_code == 0
    assert forced.stdout.startswith("Digest 2019-W01 (2018-01-01 to 2019-01-01): 0 stories")
    text = (in_project / "var" / "issues" / "2019-W01" / "email.txt").read_text()
    assert "No new stories in this period." in text
    assert runner.invoke(cli, ["digest", "--date", "2021-13-01"]).exit_code == 2


def test_config_error_is_one_line_naming_the_key(in_project: Path) -> None:
    config = in_project / "config.yaml"
    config.write_text(config.read_text().replace("max_items: 5", "max_itms: 5"))
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 1
    assert result.stderr == (
        "error: config.yaml: rules.max_itms: unknown key; did you mean 'max_items'?\n"
    )
    assert not (in_project / "output").exists()


def test_check_and_build_reject_a_digest_topic_that_does_not_exist(in_project: Path) -> None:
    """A typo in newsletter.topics used to pass check and fail at digest time, after
    the feeds were written; now check rejects it and build writes nothing."""
    config = in_project / "config.yaml"
    config.write_text(
        config.read_text().replace("newsletter:\n", "newsletter:\n  topics: [portal]\n")
    )
    expected = (
        "error: config.yaml: newsletter.topics: 'portal' is not a topic; known: canvas-apps, "
        "ai-builder, power-apps, model-driven-apps, common-data-service, portals, "
        "teams-integration\n"
    )
    for command in (["check"], ["build", "--date", "2021-04-02"], ["digest"]):
        result = CliRunner().invoke(cli, command)
        assert (result.exit_code, result.stderr) == (1, expected), command
    assert not (in_project / "output").exists()


def test_check_renders_the_digest_templates_as_build_would(in_project: Path) -> None:
    """A broken digest template used to pass check and fail the build's digest."""
    templates = in_project / "templates"
    shutil.copytree(ROOT / "templates", templates)
    config = in_project / "config.yaml"
    config.write_text(re.sub(r"(?m)^templates: .*$", "templates: templates", config.read_text()))
    assert CliRunner().invoke(cli, ["check"]).exit_code == 3  # the rejected records
    digest = templates / "digest.html.j2"
    digest.write_text(digest.read_text().replace("{% endfor %}", "{% endfro %}", 1))
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "Encountered unknown tag 'endfro'" in result.stderr, result.output


def test_a_build_moves_private_files_an_older_version_left_in_output(in_project: Path) -> None:
    old = in_project / "output" / "newsletter" / "2021-W40"
    old.mkdir(parents=True)
    (old / "email.html").write_text("FEEDLETTER-RECIPIENT-ADDRESS")
    assert CliRunner().invoke(cli, ["build", "--no-digest"]).exit_code == 0
    assert not (old / "email.html").exists()
    assert (in_project / "var" / "issues" / "2021-W40" / "email.html").is_file()


def test_missing_config_says_how_to_fix_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["build"])
    assert result.exit_code == 1
    assert result.stderr == "error: --config: config.yaml does not exist; pass --config PATH\n"


def test_every_command_and_option_has_help() -> None:
    import click

    def walk(command: click.Command) -> None:
        assert command.help, f"{command.name} has no help text"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{command.name} {param.opts} has no help"
        if isinstance(command, click.Group):
            for sub in command.commands.values():
                walk(sub)

    walk(cli)
