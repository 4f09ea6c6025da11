"""How story grouping scales: ``group_stories`` on 10k and 100k articles, in memory.

The bundled records are parsed once and replicated with unique titles, URLs and
dates over three years; every tenth gets a syndicated copy (same title, another
provider and URL, a day later) and every twentieth a near-identical retitling,
so the exact and the near-identical paths both do real work. Prints the time per
record at each size and the ratio between them (1.0 = linear). On demand only:

    .venv/bin/python -m benchmarks.stories
"""

from __future__ import annotations

import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.model import Article, Provider
from feeds.reading.corpus import load_corpus
from feeds.reading.signature import title_key
from feeds.selection.stories import group_stories
from feeds.urls import story_key

ROOT = Path(__file__).resolve().parent.parent
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
WORDS = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima".split()  # noqa: SIM905


def articles(count: int, base: list[Article]) -> list[Article]:
    rng = random.Random(count)
    made: list[Article] = []
    number = 0
    while len(made) < count:
        source = base[number % len(base)]
        words = " ".join(rng.choice(WORDS) for _ in range(3))
        title = f"{source.title} {words} {number}"
        url = f"https://bench.example/{number}"
        when = ANCHOR - timedelta(seconds=rng.randrange(3 * 365 * 86400))
        article = replace(
            source, path=f"news/{number}.md", title=title, url=url, key=story_key(url),
            published_at=when, story_title=title_key(title, source.provider, story_key(url)),
        )  # fmt: skip
        made.append(article)
        if number % 10 == 0:
            copy_url = f"https://syndicate.example/{number}"
            made.append(
                replace(
                    article, path=f"news/{number}-copy.md", url=copy_url,
                    key=story_key(copy_url), published_at=when + timedelta(days=1),
                    provider=Provider("Syndicate", "syndicate.example"),
                )
            )  # fmt: skip
        if number % 20 == 5:
            near_url = f"https://near.example/{number}"
            made.append(
                replace(
                    article, path=f"news/{number}-near.md", title=title + "s",
                    url=near_url, key=story_key(near_url), story_title="",
                    published_at=when + timedelta(hours=5),
                )
            )  # fmt: skip
        number += 1
    return made[:count]


def main() -> None:
    base = list(load_corpus(ROOT / "content" / "news").articles)
    rows = []
    for count in (10_000, 100_000):
        items = articles(count, base)
        start = time.perf_counter()
        index = group_stories(items, 7)
        seconds = time.perf_counter() - start
        rows.append((count, seconds, len(index.groups)))
        print(f"{count:>7,} articles: {seconds:6.2f} s, {seconds / count * 1e6:5.1f} µs/article, "
              f"{len(index.groups):,} stories with copies")  # fmt: skip
    (small, t_small, _), (large, t_large, _) = rows
    ratio = (t_large / large) / (t_small / small)
    print(f"per-article cost at 100k / at 10k: {ratio:.2f} (1.0 = linear)")


if __name__ == "__main__":
    main()
