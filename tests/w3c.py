"""The offline W3C feed validator (``../shared/tools/w3c_feed_check.py``) as a test helper.

The validator lives beside the repository, in ``shared/``, which CI lays next to
the clone. Where it is absent the calling test skips and says why.
"""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import ROOT

CHECKER = ROOT.parent / "shared" / "tools" / "w3c_feed_check.py"
_LAST_LINE = re.compile(r"^W3C: (\d+) files, (\d+) errors, (\d+) warnings$", re.M)


@dataclass(frozen=True)
class W3CReport:
    """What the validator said about every feed under one folder."""

    # number of feed files checked
    files: int
    # errors and warnings over all files
    errors: int
    warnings: int
    # the validator's whole report (one block per file with problems)
    text: str

    @property
    def last_line(self) -> str:
        return self.text.strip().splitlines()[-1]


def w3c_check(folder: Path) -> W3CReport:
    """Run the validator on every ``*.xml`` feed under ``folder``."""
    if not CHECKER.is_file():
        pytest.skip(f"the W3C feed validator is not at {CHECKER} (shared/ is not beside the repo)")
    for module in ("html5lib", "rdflib"):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"the W3C feed validator needs {module} (pip install -e '.[test]')")
    done = subprocess.run(
        [sys.executable, str(CHECKER), str(folder)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    match = _LAST_LINE.search(done.stdout)
    assert match, f"the validator did not finish:\n{done.stdout}\n{done.stderr}"
    files, errors, warnings = (int(n) for n in match.groups())
    return W3CReport(files, errors, warnings, done.stdout)
