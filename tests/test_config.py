"""Config validation: errors name the key and say what is expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.errors import ConfigError
from newsletter.config import load_config

from .conftest import ROOT

GOOD = """\
site:
  title: T
  base_url: https://example.org/
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def test_the_bundled_config_is_valid_and_paths_resolve_against_its_folder() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.content.news == ROOT / "content" / "news"
    assert config.output == ROOT / "output"
    assert config.site.base_url == "https://news.example.org/powerapps"
    assert config.global_rules().min_quality == 70
    assert config.topic_rules()["ai-builder"].match_keywords is True
    assert config.topic_rules()["ai-builder"].min_quality == 70  # inherited


def test_minimal_config_uses_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, GOOD))
    assert config.site.base_url == "https://example.org"  # trailing slash dropped
    rules = config.global_rules()
    assert (rules.published_only, rules.min_quality, rules.max_items) == (True, None, 50)
    assert config.content.news == tmp_path / "content" / "news"


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        (GOOD + "rules:\n  min_qualty: 3\n", "rules.min_qualty", "did you mean 'min_quality'?"),
        (GOOD + "ouptut: out\n", "ouptut", "did you mean 'output'?"),
        (GOOD + "rules:\n  min_quality: high\n", "rules.min_quality", "valid integer"),
        (GOOD + "rules:\n  max_items: 0\n", "rules.max_items", "greater than or equal to 1"),
        ("site:\n  title: T\n", "site.base_url", "is required"),
        (
            "site:\n  title: T\n  base_url: ftp://x\n",
            "site.base_url",
            "absolute http(s) URL",
        ),
        (GOOD + "topics:\n  - id: ../etc\n", "topics.0.id", "lower-case letters"),
        (
            GOOD + "topics:\n  - id: a\n    rules: {max_itmes: 3}\n",
            "topics.0.rules.max_itmes",
            "did you mean 'max_items'?",
        ),
        (
            GOOD + "topics:\n  - id: a\n    rules: {story_window_days: 3}\n",
            "topics.0.rules",
            "story_window_days applies to the whole site: set it under rules",
        ),
        (GOOD + "rules: {story_window_days: -1}\n", "rules.story_window_days", "0"),
        (GOOD + "newsletter:\n  from: Fixture News\n", "newsletter.from", "is not an address"),
        (
            GOOD + "newsletter:\n  from: 'News <digest@exa mple.org>'\n",
            "newsletter.from",
            "is not an address",
        ),
        (GOOD + "newsletter:\n  reply_to: nobody\n", "newsletter.reply_to", "is not an address"),
        (
            GOOD + "newsletter:\n  unsubscribe_mailto: 'Un <u@example.org>'\n",
            "newsletter.unsubscribe_mailto",
            "must be a plain address",
        ),
        (GOOD.replace("title: T", 'title: "T\\nBcc: x@evil.example"'), "site.title", "one line"),
        ("- a list\n", "(file)", "must be a YAML mapping"),
        ("site: [unclosed\n", "(file)", "not valid YAML: line 2, column 1: expected"),
    ],
)
def test_errors_name_the_key_and_the_fix(tmp_path: Path, text: str, key: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    assert caught.value.key == key
    assert problem in caught.value.problem
    assert str(caught.value).startswith(f"{tmp_path / 'config.yaml'}: {key}: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist; pass --config PATH"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_python_tags_are_not_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f"site: !!python/object/apply:os.system ['touch {marker}']\n"
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, text))
    assert not marker.exists()


def test_the_default_sender_is_the_site_title_whatever_it_holds(tmp_path: Path) -> None:
    """Without newsletter.from the digest comes from the site's title at digest@ its
    host; a title with a comma or a colon must not be read as an address list."""
    from newsletter.mail.headers import sender

    for title, shown in [
        ("News, Views", '"News, Views" <digest@example.org>'),
        ("Dr. Who: Weekly", '"Dr. Who: Weekly" <digest@example.org>'),
        ("Plain", "Plain <digest@example.org>"),
    ]:
        config = load_config(write(tmp_path, GOOD.replace("title: T", f"title: '{title}'")))
        assert sender(config.newsletter, config.site) == shown
