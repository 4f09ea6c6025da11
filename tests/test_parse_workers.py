"""Parse workers that stop part-way: the records they did not read are read by the
build itself, none twice and none lost."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import pytest

import feeds.reading.parsing
from feeds.reading.cache import ParseCache
from feeds.reading.corpus import load_corpus

from .conftest import ROOT


class _BreaksAfter:
    """A pool whose workers read ``chunks`` chunks (in this process, with the real
    chunk reader) and then die, as a killed worker breaks a real pool."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    def __enter__(self) -> _BreaksAfter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, function: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        for number, item in enumerate(items):
            if number == self.chunks:
                raise BrokenProcessPool("a worker died")
            yield function(item)


@pytest.mark.parametrize("chunks", [0, 1, 3])
def test_a_pool_that_breaks_part_way_loses_and_repeats_no_record(
    chunks: int, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    folder = ROOT / "content" / "news"
    serial = load_corpus(folder, workers=1)
    monkeypatch.setattr(feeds.reading.parsing, "PARALLEL_THRESHOLD", 10)
    monkeypatch.setattr(feeds.reading.parsing, "worker_pool", lambda cores: _BreaksAfter(chunks))
    cache = ParseCache(tmp_path / "cache.sqlite3")
    broken = load_corpus(folder, workers=2, cache=cache)
    assert broken.parsed == serial.parsed == 674
    assert [r.path for r in broken.records] == [r.path for r in serial.records]
    assert broken.articles == serial.articles
    (rows,) = cache.conn.execute("SELECT count(*) FROM records").fetchone()
    assert rows == 674
    again = load_corpus(folder, workers=1, cache=cache)
    assert again.parsed == 0 and again.articles == serial.articles
    cache.close()
