"""How well stories are grouped: precision and recall on labelled record pairs.

The labelled set (``tests/data/stories/pairs.tsv``) is every pair of the bundled
sample's records published within the story window of each other whose words
overlap at least a little (``LOW``: the larger of the titles' and the texts' word
overlap, a plain Jaccard independent of the story rules), plus every pair of
records that tell one event. Each event was decided by reading the records
(``tests/data/stories/events.tsv``: event, record, why); a pair is "same" when
both records are in one event, "different" otherwise. Hard negatives are in it
by construction: one vendor's release notes a week apart, "wave 1" and "wave 2",
monthly round-ups, an announcement and a follow-up analysis.

Prints precision and recall of the grouping on those pairs (a pair is predicted
"same" when both records end up in one story), with the title rules alone for
comparison, and each event's records that were left out. On demand only:

    .venv/bin/python -m benchmarks.story_pairs           # the table
    .venv/bin/python -m benchmarks.story_pairs --write   # regenerate pairs.tsv
"""

from __future__ import annotations

import itertools
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from feeds.build import load_project, site_vocabulary
from feeds.model import Article
from feeds.selection.stories import group_stories
from newsletter.config import load_config

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "stories"
EVENTS = DATA / "events.tsv"
PAIRS = DATA / "pairs.tsv"
# pairs whose plain word overlap is at least this are in the labelled set
LOW = 0.2
WINDOW_DAYS = 7
_WORD = re.compile(r"\w+")


def sample() -> list[Article]:
    config = load_config(ROOT / "config.yaml")
    project = load_project(config.model_copy(update={"cache": None}))
    return sorted(project.cleaned(), key=lambda a: (a.published_at, a.path))


def events() -> dict[str, str]:
    """record path (as the sample labels it) -> event id."""
    found = {}
    for line in EVENTS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        event, record, _ = line.split("\t")
        found[f"content/news/{record}"] = event
    return found


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def overlap(a: Article, b: Article) -> float:
    """The larger of the titles' and the title-and-excerpt texts' word Jaccard."""
    ta, tb = _words(a.title), _words(b.title)
    xa, xb = ta | _words(a.excerpt), tb | _words(b.excerpt)
    title = len(ta & tb) / len(ta | tb) if ta | tb else 0.0
    text = len(xa & xb) / len(xa | xb) if xa | xb else 0.0
    return max(title, text)


def labelled_pairs(articles: list[Article]) -> Iterator[tuple[str, str, str, str, float]]:
    """(label, record a, record b, event, overlap) of every pair in the labelled set."""
    known = events()
    for a, b in itertools.combinations(articles, 2):
        if abs((b.published_at - a.published_at).total_seconds()) > WINDOW_DAYS * 86_400:
            continue
        same = a.path in known and known[a.path] == known.get(b.path)
        score = overlap(a, b)
        if same or score >= LOW:
            event = known[a.path] if same else ""
            yield ("same" if same else "different"), a.path, b.path, event, score


def write() -> None:
    rows = sorted(labelled_pairs(sample()), key=lambda r: (-r[4], r[1], r[2]))
    lines = ["# label\trecord a\trecord b\tevent (same)\tword overlap"]
    lines += [f"{label}\t{a}\t{b}\t{event}\t{score:.3f}" for label, a, b, event, score in rows]
    PAIRS.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} pairs to {PAIRS.relative_to(ROOT)}")


def read_pairs() -> list[tuple[str, str, str]]:
    """(label, record a, record b) of every labelled pair."""
    rows = []
    for line in PAIRS.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        label, a, b, _, _ = line.split("\t")
        rows.append((label, a, b))
    return rows


def score(story_of: dict[str, str], pairs: list[tuple[str, str, str]]) -> tuple[float, float, int]:
    """(precision, recall, false merges) of a grouping on the labelled pairs."""
    tp = fp = fn = 0
    for label, a, b in pairs:
        predicted = story_of[a] == story_of[b]
        tp += predicted and label == "same"
        fp += predicted and label != "same"
        fn += not predicted and label == "same"
    return (tp / (tp + fp) if tp + fp else 1.0), (tp / (tp + fn) if tp + fn else 1.0), fp


def groupings(articles: list[Article]) -> dict[str, dict[str, str]]:
    """Each article's story under the story rules, and under the title rules alone."""
    config = load_config(ROOT / "config.yaml")
    project = load_project(config.model_copy(update={"cache": None}))
    site = site_vocabulary(config, project.topics)
    full = group_stories(articles, WINDOW_DAYS, site)
    # the title rules alone: without a publisher nothing is compared by content
    blind = [replace(a, signature=replace(a.signature, publisher=frozenset())) for a in articles]
    titles = group_stories(blind, WINDOW_DAYS, site)
    return {
        "story rules (URL, title, content)": {
            a.path: full.story_of.get(a.path, a.key) for a in articles
        },
        "URL and title rules only": {a.path: titles.story_of.get(a.path, a.key) for a in articles},
    }


def main() -> None:
    if "--write" in sys.argv:
        write()
        return
    articles = sample()
    pairs = read_pairs()
    same = sum(label == "same" for label, _, _ in pairs)
    print(f"{len(pairs)} labelled pairs ({same} same, {len(pairs) - same} different)\n")
    print("| grouping | precision | recall | false merges |")
    print("| --- | ---: | ---: | ---: |")
    results = groupings(articles)
    for name, story_of in results.items():
        precision, recall, false = score(story_of, pairs)
        print(f"| {name} | {precision:.3f} | {recall:.3f} | {false} |")
    story_of = next(iter(results.values()))
    known = events()
    print("\nEvents told by records that are not all in one story:")
    for event in sorted(set(known.values())):
        members = sorted(p for p, e in known.items() if e == event)
        stories = {story_of[p] for p in members}
        if len(stories) > 1:
            print(f"  {event}: {len(members)} records in {len(stories)} stories")


if __name__ == "__main__":
    main()
