"""What a user's mistake must never do: unpublish the site, or put a story in the
wrong week (issue 20).

A topics folder that does not exist is a config error naming the key; a build
that would remove or empty more than half of the published feed files, or every
topic's, writes nothing unless --allow-removal; ``check`` reports it too. An
article at the very end of a period is the next issue's.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds, load_project, plan_feeds
from feeds.publishing.output import removal
from newsletter.cli import cli
from newsletter.config import load_config
from newsletter.issue.pipeline import issue_period, make_issue

from .conftest import NOW, read_tree


@pytest.fixture
def built(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fixture project, built once (its feeds are published)."""
    monkeypatch.chdir(fixture_project)
    assert CliRunner().invoke(cli, ["build", "--no-digest"]).exit_code == 0
    return fixture_project


def edit_config(project: Path, old: str, new: str) -> None:
    path = project / "config.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_topics_folder_that_is_not_there_is_a_config_error(built: Path) -> None:
    edit_config(built, "topics: topics", "topics: topix")
    before = read_tree(built / "output")
    for command in (["check"], ["build", "--no-digest"]):
        result = CliRunner().invoke(cli, command)
        assert result.exit_code == 1, command
        assert result.stderr == (
            f"error: config.yaml: content.topics: {built / 'topix'} is not a folder of topic "
            "files: fix the path, or set content.topics: null when the config's topics are all "
            "there is\n"
        )
    assert read_tree(built / "output") == before  # nothing removed


def test_a_build_that_would_empty_the_site_writes_nothing(built: Path) -> None:
    (built / "empty").mkdir()
    edit_config(built, "news: news", "news: empty")
    before = read_tree(built / "output")
    checked = CliRunner().invoke(cli, ["check"])
    assert checked.exit_code == 3
    assert (
        "A build would remove 0 and empty 21 of the 24 published feed files (it stops: more than "
        "half, or every topic; --allow-removal)\n"
    ) in checked.stdout
    result = CliRunner().invoke(cli, ["build", "--no-digest"])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "error: this build would remove 0 and empty 21 of the 24 published feed files "
        "(atom.xml (emptied), feed.json (emptied), rss.xml (emptied), "
    )
    assert "build again with --allow-removal\n" in result.stderr
    assert read_tree(built / "output") == before
    allowed = CliRunner().invoke(cli, ["build", "--no-digest", "--allow-removal"])
    assert allowed.exit_code == 0, allowed.output
    assert read_tree(built / "output") != before


def test_half_the_feeds_is_a_change_more_is_not(built: Path) -> None:
    """Four of the seven topic files go: 12 of the 24 feed files, not more than half,
    so the build goes ahead; a fifth topic's feeds too would stop it."""
    config = load_config(built / "config.yaml")
    gone = ["02-model-driven-apps", "03-common-data-service", "05-portals", "06-teams-integration"]
    for name in gone:
        (built / "topics" / f"{name}.yaml").unlink()
    taken = plan_feeds(load_project(config), NOW).removal
    assert (len(taken.removed), taken.published, taken.drastic) == (12, 24, False)
    result = build_feeds(config, NOW)
    assert len([n for n in result.report.removed if n.endswith((".xml", ".json"))]) == 12
    # now only the all-topics feeds and two topics are published: remove a topic's
    # feeds and empty the others, and it is every topic
    root = built / "output"
    files = read_tree(root)
    files = {n: b for n, b in files.items() if not n.startswith("topics/ai-builder/")}
    for name in [n for n in files if n.startswith("topics/") and n.endswith((".xml", ".json"))]:
        files[name] = b"<feed></feed>"  # written, with no entries
    taken = removal(root, files, "feeds")
    assert taken.every_topic and taken.drastic


def test_an_article_at_the_end_of_a_period_is_the_next_issues(fixture_project: Path) -> None:
    """A record dated Monday 00:00:00 in the digest's zone leads the week it starts,
    and is not in the week before (whose last day is Sunday)."""
    london = ZoneInfo("Europe/London")
    monday = datetime(2021, 3, 8, 0, 0, tzinfo=london)
    (fixture_project / "news" / "monday-midnight.md").write_text(
        '---\ntitle: "Monday at midnight: the big canvas apps release"\n'
        f"publishedDateTime: {monday.astimezone(UTC).isoformat()}\n"
        'webUrl: "https://edge.example/monday"\nquality: 189\nheat: 900\n'
        "provider:\n  name: Edge Daily\ntopics:\n  - Canvas apps\n---\n"
    )
    config = load_config(fixture_project / "config.yaml")
    config = config.model_copy(
        update={
            "schedule": config.schedule.model_copy(update={"timezone": "Europe/London"}),
            "newsletter": config.newsletter.model_copy(update={"period_days": 7}),
        }
    )
    project = load_project(config)
    week_before = issue_period(config, date(2021, 3, 7))  # 1-7 March
    week_of = issue_period(config, date(2021, 3, 14))  # 8-14 March
    assert week_before.end == week_of.start == monday.astimezone(UTC)

    def titles(period: object) -> list[str]:
        try:
            issue = make_issue(project, config, period)  # type: ignore[arg-type]
        except Exception:
            return []
        return [item.article.title for item in issue.plan.items]

    assert "Monday at midnight: the big canvas apps release" not in titles(week_before)
    assert titles(week_of)[0] == "Monday at midnight: the big canvas apps release"
    issue = make_issue(project, config, week_of)
    assert f"{week_of.first_day:%-d %b %Y}" == "8 Mar 2021"
    assert "8 Mar 2021" in issue.text  # the shown date is the issue's own first day
