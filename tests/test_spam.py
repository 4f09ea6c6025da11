"""Inbox placement: SpamAssassin's local rules score the sample issue at 0 or less.

The message is the one ``send`` would send (``sample.eml`` is made by the same
``PreparedMessage``). `make test` (and so CI) installs Debian's spamassassin;
this test skips, saying why, only when the ``spamassassin`` command is missing.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from feeds.build import load_project
from newsletter.config import load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue

from .conftest import ROOT, in_folder

SPAMASSASSIN = shutil.which("spamassassin")
pytestmark = pytest.mark.skipif(
    SPAMASSASSIN is None,
    reason="no spamassassin command (install Debian's 'spamassassin' package; make test does)",
)
SCORE = re.compile(r"Content analysis details:\s+\((-?[0-9.]+) points")


def spam_report(message: bytes) -> tuple[float, str]:
    """SpamAssassin's score and report for ``message``, local rules only (no network)."""
    assert SPAMASSASSIN is not None
    done = subprocess.run(
        [SPAMASSASSIN, "-L", "-t"],
        input=message,
        capture_output=True,
        timeout=120,
        check=False,
    )
    report = done.stdout.decode("utf-8", "replace")
    match = SCORE.search(report)
    assert match, f"no score in SpamAssassin's output:\n{report[-3000:]}\n{done.stderr!r}"
    details = report[match.start() :]
    return float(match.group(1)), details


@pytest.mark.parametrize("last_day", [date(2021, 11, 7), date(2021, 10, 31)])
def test_the_sample_issue_scores_zero_or_less(tmp_path: Path, last_day: date) -> None:
    config = in_folder(load_config(ROOT / "config.yaml"), tmp_path)
    issue = make_issue(load_project(config), config, issue_period(config, last_day))
    write_issue(config, issue)
    message = (config.issues_folder / issue.issue_id / "sample.eml").read_bytes()
    score, report = spam_report(message)
    print(report)  # shown with -s, and in the closing note
    assert score <= 0, report
    assert "HTML_FONT_LOW_CONTRAST" not in report
