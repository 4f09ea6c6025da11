"""Scale the bundled real records up to N records for benchmarks.

The bundled records are written again and again, one round after another: in
round R every record is a real one from ``content/news`` with " (#R)" after its
title, "/bench-R" after its URLs, and its date moved by the round's offset
(rounds lie at random over the three years up to the end of last week, wrapping
around). Within a round the records keep what the sample's copies of one story
share (the same title, the same URL, dates days apart), so each round forms the
sample's story groups (the sample has 20 groups of 72 records; one round, where
its 4.7 years wrap into three, has 23 of 82) and no two rounds share a story, as
on a real site; written with the same front matter layout, so parsing cost
is that of real records. Two
layouts: ``flat`` (one folder, as Jekyll's ``_news/`` keeps them) and ``nested``
(1,000 records per folder). Deterministic: the same N and layout give the same
files all week. ``ensure`` makes a corpus once and reuses it while its stamp
(size, layout, week, this generator's code) matches: a 1,000,000-record corpus
takes minutes to write.

    python -m benchmarks.corpus 10000 benchmarks/.corpus/10k [flat|nested]
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "content"
# the Monday of the week the corpus is made: records reach last week, so the
# digest due now has stories (the same files all week)
_TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
ANCHOR = _TODAY - timedelta(days=_TODAY.weekday())
SPAN = timedelta(days=3 * 365)

_TITLE = re.compile(r'^title: "(.*)"$', re.M)
_DATE = re.compile(r"^publishedDateTime: .*$", re.M)
_URL = re.compile(r'^(webUrl|originalUrl): "([^"]*)"$', re.M)


def published(text: str) -> datetime:
    """A bundled record's own date (each in the form 2021-11-07T09:30:00Z)."""
    found = _DATE.search(text)
    if found is None:
        raise ValueError("a bundled record without publishedDateTime")
    value = found.group(0).split(": ", 1)[1].strip()
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def variant(text: str, round_: int, back: timedelta) -> str:
    """Record ``text`` as round ``round_`` writes it, dated ``back`` before ``ANCHOR``."""
    moment = ANCHOR - timedelta(seconds=1) - back
    text = _TITLE.sub(lambda m: f'title: "{m.group(1)} (#{round_})"', text, count=1)
    text = _DATE.sub(f"publishedDateTime: {moment:%Y-%m-%dT%H:%M:%SZ}", text, count=1)
    return _URL.sub(lambda m: f'{m.group(1)}: "{m.group(2).rstrip("/")}/bench-{round_}"', text)


def generate(count: int, target: Path, layout: str = "nested") -> Path:
    """Write ``count`` records to ``target/news`` and the topics to ``target/topics``."""
    sources = sorted((SOURCE / "news").glob("*.md"))
    texts = [p.read_text(encoding="utf-8") for p in sources]
    dates = [published(t) for t in texts]
    newest = max(dates)
    span = int(SPAN.total_seconds())
    rng = random.Random(count)
    if target.exists():
        shutil.rmtree(target)
    news = target / "news"
    offset = 0  # round 0 ends where the corpus does: last week has stories
    for number in range(count):
        round_, index = divmod(number, len(texts))
        if index == 0 and round_:
            offset = rng.randrange(span)
        back = timedelta(seconds=(offset + int((newest - dates[index]).total_seconds())) % span)
        folder = news / f"{number // 1000:03}" if layout == "nested" else news
        if number % 1000 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        name = f"{number:06}-{sources[index].stem[:60]}.md"
        (folder / name).write_text(variant(texts[index], round_, back), encoding="utf-8")
    shutil.copytree(SOURCE / "topics", target / "topics")
    return target


def _stamp(count: int, layout: str) -> str:
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return f"{count} {layout} {ANCHOR:%Y-%m-%d} {code}\n"


def ensure(count: int, target: Path, layout: str = "nested") -> Path:
    """``generate``, unless ``target`` already holds that very corpus untouched."""
    stamp = target / ".stamp"
    if stamp.is_file() and stamp.read_text() == _stamp(count, layout):
        return target
    generate(count, target, layout)
    stamp.write_text(_stamp(count, layout))
    return target


def touching(target: Path) -> None:
    """Mark ``target`` as changed (its files are about to be edited): until
    ``untouched`` says otherwise, ``ensure`` writes it anew."""
    (target / ".stamp").unlink(missing_ok=True)


def untouched(target: Path, count: int, layout: str) -> None:
    """Mark ``target`` as the pristine corpus again (its edits were undone)."""
    (target / ".stamp").write_text(_stamp(count, layout))


if __name__ == "__main__":
    generate(int(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:4])
