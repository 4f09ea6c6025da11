"""Load a folder of article records, keeping going past bad ones.

Each record is parsed by ``feeds.records``; a record that cannot be used is
reported (path and reason) in ``Corpus.rejected`` and skipped. Records are read in
sorted path order, so every later stage sees the same order on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, RecordError
from .model import Article
from .records import read_record

RECORD_SUFFIXES = (".md", ".markdown")


@dataclass(frozen=True)
class Corpus:
    """The result of loading a folder of records."""

    # the usable records, in path order
    articles: tuple[Article, ...]
    # the unusable ones, each with its path and reason, in path order
    rejected: tuple[RecordError, ...]

    @property
    def read(self) -> int:
        """How many record files were read."""
        return len(self.articles) + len(self.rejected)


def record_paths(folder: Path) -> list[Path]:
    """Record files under ``folder`` (recursively), sorted."""
    if not folder.is_dir():
        raise ConfigError("content.news", f"{folder} is not a folder of records")
    return sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in RECORD_SUFFIXES and p.is_file()
    )


def load_corpus(folder: Path) -> Corpus:
    """Parse every record under ``folder``; labels in messages are relative to its parent."""
    articles: list[Article] = []
    rejected: list[RecordError] = []
    for path in record_paths(folder):
        label = _label(path, folder)
        try:
            articles.append(read_record(path, label=label))
        except RecordError as exc:
            rejected.append(exc)
    return Corpus(tuple(articles), tuple(rejected))


def _label(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder.parent))
    except ValueError:
        return str(path)
