"""Scale the bundled real records up to N records for benchmarks.

Each generated record is a real one from ``content/news`` with a unique title,
URL and date (spread over the five years before a fixed anchor date), written
with the same front matter layout, so parsing cost is that of real records.
Deterministic: the same N always gives the same files.

    python -m benchmarks.corpus 10000 benchmarks/.corpus/10k
"""

from __future__ import annotations

import random
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "content"
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)
SPAN = timedelta(days=5 * 365)

_TITLE = re.compile(r'^title: "(.*)"$', re.M)
_DATE = re.compile(r"^publishedDateTime: .*$", re.M)
_URL = re.compile(r'^(webUrl|originalUrl): "([^"]*)"$', re.M)


def variant(text: str, number: int, rng: random.Random) -> str:
    """Record ``text`` made unique as number ``number``."""
    moment = ANCHOR - timedelta(seconds=rng.randrange(int(SPAN.total_seconds())))
    text = _TITLE.sub(lambda m: f'title: "{m.group(1)} (#{number})"', text, count=1)
    text = _DATE.sub(f"publishedDateTime: {moment:%Y-%m-%dT%H:%M:%SZ}", text, count=1)
    return _URL.sub(lambda m: f'{m.group(1)}: "{m.group(2).rstrip("/")}/bench-{number}"', text)


def generate(count: int, target: Path) -> Path:
    """Write ``count`` records to ``target/news`` and the topics to ``target/topics``."""
    sources = sorted((SOURCE / "news").glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in sources]
    rng = random.Random(count)
    if target.exists():
        shutil.rmtree(target)
    news = target / "news"
    for number in range(count):
        index = number % len(texts)
        folder = news / f"{number // 1000:03}"  # 1,000 files per folder
        if number % 1000 == 0:
            folder.mkdir(parents=True)
        name = f"{number:06}-{sources[index].stem[:60]}.md"
        (folder / name).write_text(variant(texts[index], number, rng), encoding="utf-8")
    shutil.copytree(SOURCE / "topics", target / "topics")
    return target


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]))
