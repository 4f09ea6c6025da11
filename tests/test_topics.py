"""Topic files as Jekyll sites write them, and topic files that cannot be read.

Jekyll reads the first YAML document of a ``_data`` file: a stray ``---`` at the
end (or the start), extra keys (``taxonomy``, ``hashtags``, ``images``,
``services``) and CRLF line ends are normal there. A file that really cannot be
read stops the build before anything is written, naming the file and the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from feeds.build import build_feeds
from feeds.errors import TopicError
from feeds.reading.topics import first_document, load_topic_files, single_document
from newsletter.cli import cli
from newsletter.config import load_config

from .conftest import NOW, ROOT, read_tree


def jekyll_style(folder: Path) -> None:
    """Rewrite every topic file in ``folder`` the ways Jekyll sites keep them."""
    for n, path in enumerate(sorted(folder.glob("*.yaml"))):
        text = path.read_text()
        extra = 'images:\n  - url: "https://example.org/topic.png"\n    width: 64\n'
        variants = [
            text + "\n---",  # a stray end marker, no newline after it (as seen in the wild)
            "---\n" + text + "\n---\n",  # front-matter style
            (text + "\n" + extra + "---\n").replace("\n", "\r\n"),  # CRLF and more keys
        ]
        path.write_text(variants[n % len(variants)], newline="")


def test_jekyll_topic_files_build_the_same_site(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.yaml").model_copy(
        update={"output": tmp_path / "plain", "cache": None}
    )
    plain = build_feeds(config, NOW)
    topics = tmp_path / "topics"
    topics.mkdir()
    for path in (ROOT / "content" / "topics").glob("*.yaml"):
        (topics / path.name).write_bytes(path.read_bytes())
    jekyll_style(topics)
    assert all(p.read_text().rstrip().endswith("---") for p in topics.glob("*.yaml"))
    jekyll = build_feeds(
        config.model_copy(
            update={
                "output": tmp_path / "jekyll",
                "content": config.content.model_copy(update={"topics": topics}),
            }
        ),
        NOW,
    )
    assert [t.id for t in jekyll.project.topics.topics] == [
        t.id for t in plain.project.topics.topics
    ]
    assert read_tree(tmp_path / "jekyll") == read_tree(tmp_path / "plain")


def test_only_the_first_document_is_read(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("name: First\n---\nname: [never read\n")
    assert [t.name for t in load_topic_files(tmp_path)] == ["First"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("name: [unclosed\n", "is not valid YAML: line 2, column 1: expected ',' or ']'"),
        ("- a list\n- not a topic\n", "the file is not a YAML mapping"),
        ("---\n---\nname: Second\n", "the file is not a YAML mapping"),
        ("description: no name\n", "has no name"),
    ],
)
def test_an_unreadable_topic_file_stops_the_build_before_anything_is_written(
    fixture_project: Path, monkeypatch: pytest.MonkeyPatch, text: str, reason: str
) -> None:
    monkeypatch.chdir(fixture_project)
    runner = CliRunner()
    assert runner.invoke(cli, ["build", "--no-digest"]).exit_code == 0
    before = read_tree(fixture_project / "output")
    bad = fixture_project / "topics" / "99-broken.yaml"
    bad.write_text(text)
    with pytest.raises(TopicError, match="99-broken"):
        load_topic_files(bad.parent)
    built = runner.invoke(cli, ["build", "--no-digest"])
    assert built.exit_code == 1
    assert built.stderr.startswith(f"error: {bad.resolve()}: topic ")
    assert reason in built.stderr
    assert read_tree(fixture_project / "output") == before  # nothing written, nothing removed
    checked = runner.invoke(cli, ["check"])
    assert checked.exit_code == 1
    assert checked.stderr == built.stderr  # check reports it the same way


# topic files the way sites write them, and the YAML corners they reach
_CORNERS = [
    "name: First\n---\nname: [never read\n",  # a broken second document
    "name: First\n---\nname: Second\n",  # two documents (a config must have one)
    "---\nname: Opened\n",
    "\ufeffname: With a BOM\n",
    "name: CRLF\r\ndescription: ends\r\n---\r\n",
    "name: 'quoted: colon'\nhashtags: [a, b]\nkeywords: &k [x]\nalso: *k\n",
    "name: yes\nreview: no\nwhen: 2021-11-07\nmode: 0755\n",  # YAML 1.1 scalars
    "name: Folded\ndescription: >\n  one\n  two\n",
    "name: Tabs\n\tdescription: x\n",  # a tab where YAML forbids one
    "name: [unclosed\n",
    "? complex\n: key\n",
    "name: a\x07b\n",  # a control character
    "name: a\u2028b\n",  # a line separator inside a plain scalar
    'name: "\\x07"\n',  # an escaped one
    "k" * 1100 + ": a key longer than an implicit key may be\n",
    "",
]


def _pure(text: str) -> object:
    """What PyYAML's pure safe loader reads as the first document of ``text``."""
    return next(iter(yaml.safe_load_all(text)), None)


# each reader and PyYAML's pure loader's answer it must give: topic files read
# their first document, a config file its one document
_READERS = [(first_document, _pure), (single_document, yaml.safe_load)]


@pytest.mark.parametrize(("read", "pure"), _READERS, ids=["first", "single"])
@pytest.mark.parametrize("text", _CORNERS)
def test_libyaml_gives_pyyaml_s_own_answer(
    text: str, read: Callable[[str], object], pure: Callable[[str], object]
) -> None:
    """libyaml reads topic files (``first_document``) and the config
    (``single_document``); the answer must be PyYAML's pure loader's, and the
    errors are PyYAML's."""
    try:
        expected = pure(text)
    except yaml.YAMLError as exc:
        with pytest.raises(yaml.YAMLError) as raised:
            read(text)
        assert str(raised.value) == str(exc)
    else:
        assert read(text) == expected


def test_every_real_topic_and_config_file_reads_the_same_with_libyaml() -> None:
    topics = sorted((ROOT / "content" / "topics").glob("*.y*ml"))
    shared = ROOT.parent / "shared" / "corpus"
    topics += sorted(shared.glob("*/topics/*.y*ml")) if shared.is_dir() else []
    configs = [ROOT / "config.yaml", ROOT / "newsletter" / "runtime" / "starter" / "config.yaml"]
    assert topics
    for path in topics:
        text = path.read_text(encoding="utf-8-sig")
        assert first_document(text) == _pure(text), path
    for path in configs:
        text = path.read_text(encoding="utf-8-sig")
        assert single_document(text) == yaml.safe_load(text), path
