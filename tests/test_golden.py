"""Golden files: the fixture corpus must produce exactly tests/data/fixture/expected/.

``expected/`` is the output tree: the feeds, the pages, the web copy of the digest
issue for 2021-04-02 (``newsletter/2021-W13/``) with the archive index and feed.
``expected-issues/`` is the issue's private folder in the state (HTML and text
parts, sample.eml with its headers, issue.json).

After an intended change to the output, regenerate with
``FEEDLETTER_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden.py``
and review the diff of the expected files in the commit.
"""

from __future__ import annotations

import difflib
import os
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path

from feeds.build import build_feeds
from newsletter.config import Config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue

from .conftest import FIXTURE, NOW, read_tree

EXPECTED = FIXTURE / "expected"
EXPECTED_ISSUES = FIXTURE / "expected-issues"


def diff_trees(expected: dict[str, bytes], actual: dict[str, bytes]) -> str:
    lines: list[str] = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            lines.append(f"missing: {name}")
        elif name not in expected:
            lines.append(f"unexpected: {name}")
        elif expected[name] != actual[name]:
            lines.extend(
                difflib.unified_diff(
                    expected[name].decode().splitlines(),
                    actual[name].decode().splitlines(),
                    f"expected/{name}",
                    f"actual/{name}",
                    lineterm="",
                )
            )
    return "\n".join(lines)


def test_fixture_output_tree_matches_golden_files(
    load_fixture_config: Callable[[], Config], tmp_path: Path
) -> None:
    config = load_fixture_config().model_copy(update={"output": tmp_path / "out"})
    result = build_feeds(config, NOW)
    period = issue_period(config, date(2021, 4, 2))
    write_issue(config, make_issue(result.project, config, period))
    for expected, actual in ((EXPECTED, config.output), (EXPECTED_ISSUES, config.issues_folder)):
        if os.environ.get("FEEDLETTER_UPDATE_GOLDEN"):
            shutil.rmtree(expected, ignore_errors=True)
            shutil.copytree(actual, expected, ignore=shutil.ignore_patterns(".*"))
        problems = diff_trees(read_tree(expected), read_tree(actual))
        assert not problems, problems
