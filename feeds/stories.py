"""Stories: which records are copies of one story, and the story's stable identity.

Pure decision logic over parsed articles; no I/O. The same story arrives as
several records with different URLs (syndication, regional editions, reposted
press releases, one page under several ids). Two records are copies of one story
when

- their normalised URLs are equal (``Article.key``), or
- their titles are the same after ``title_key`` (case, punctuation and spacing
  ignored; a trailing " - Publisher" / " | Publisher" naming the record's own
  provider or domain and a leading "Re-transmission:"-style tag removed), or
  near-identical (at most ``NEAR_EDITS`` character edits on titles of at least
  ``NEAR_MIN_CHARS`` characters, with the same numbers: "wave 1" is not "wave 2"),
  and they were published within ``window_days`` of each other. Titles of fewer
  than ``MIN_WORDS`` words ("Weekly update", "Power Platform Stories") are too
  generic to match by title at all.

The window **chains**: a record joins a story when it is within the window of any
copy already in it, so the grouping depends only on the set of records, never on
the order they arrived in. ``related`` links never merge records: on some sites
they list the same provider's other articles.

A story's identity (``Story.key``, from which feed GUIDs are derived) is the
normalised URL of its earliest copy (then the smallest key): a copy that arrives
later, or a change of which copy represents the story, never changes it. The one
exception: a copy that arrives later but is dated *earlier* than every copy so
far becomes the earliest, and the story's id moves to it.

Candidates are found by exact keys (normalised title, and the title without
spaces) and, for near-identical titles, by the title with one word left out, so
the work stays near-linear in the number of records; edit distances are computed
(rapidfuzz) only for those candidates.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from rapidfuzz.distance import Levenshtein

from .model import Article

# titles with fewer words never match by title (too generic)
MIN_WORDS = 4
# near-identical: at most this many character edits between normalised titles
# at least this long
NEAR_EDITS = 2
NEAR_MIN_CHARS = 24

# Leading tags that mark a repost of a story published elsewhere.
_TAG = re.compile(
    r"^\s*[\[(]?(?:re-?transmission|repost(?:ed)?|republished|press release|pr|update[d]?|"
    r"breaking(?: news)?|exclusive|fwd?|re)\s*[\])]?\s*[:\-–—|]\s*",
    re.IGNORECASE,
)
# " - Publisher", " | Publisher", " — Publisher" at the end
_TRAILER = re.compile(r"\s+[-–—|]\s+([^-–—|]{1,60})$")
_NON_WORD = re.compile(r"[\W_]+")
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Story:
    """One story and every record that is a copy of it."""

    # the story's identity: the normalised URL of its earliest copy (GUIDs come from it)
    key: str
    # every copy, earliest first (ties: key, then path)
    copies: tuple[Article, ...]


@dataclass(frozen=True)
class StoryIndex:
    """The stories of a set of articles, and each article's story."""

    # article path -> the key of its story
    story_of: Mapping[str, str]
    # stories with more than one copy, in order of their earliest copy
    groups: tuple[Story, ...]

    def key_of(self, article: Article) -> str:
        """The story key of ``article`` (its own key when it is alone)."""
        return self.story_of.get(article.path, article.key)


def _fold(text: str) -> str:
    """Case-folded words joined by single spaces (accents kept, punctuation dropped)."""
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFKC", text).casefold()).split())


def _publisher_names(article: Article) -> set[str]:
    names: set[str] = set()
    if article.provider is not None:
        names.add(_fold(article.provider.name))
        if article.provider.domain:
            domain = article.provider.domain.casefold().removeprefix("www.")
            names.add(_fold(domain))
            names.add(_fold(domain.rsplit(".", 1)[0]))
    host = article.key.split("/", 1)[0].split(":")[0]
    names.add(_fold(host))
    names.add(_fold(host.rsplit(".", 1)[0]))
    names.discard("")
    return names


def title_key(article: Article) -> str:
    """The title as stories are matched: see the module docstring."""
    title = article.title
    for _ in range(2):  # "Re-transmission: [Press release] ..." has two
        stripped = _TAG.sub("", title, count=1)
        if stripped == title or not stripped.strip():
            break
        title = stripped
    trailer = _TRAILER.search(title)
    if trailer and _fold(trailer.group(1)) in _publisher_names(article):
        title = title[: trailer.start()]
    return _fold(title)


class _Components:
    """Union-find over article indices."""

    def __init__(self, size: int) -> None:
        self.parent = list(range(size))

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _chain(
    bucket: Sequence[int], articles: Sequence[Article], window: timedelta, parts: _Components
) -> None:
    """Join bucket members (sorted by date) whose dates are within ``window`` of a neighbour."""
    for before, after in itertools.pairwise(bucket):
        if articles[after].published_at - articles[before].published_at <= window:
            parts.union(before, after)


def _near(a: str, b: str) -> bool:
    if a == b:
        return True
    if _NUMBER.findall(a) != _NUMBER.findall(b):
        return False
    return bool(Levenshtein.distance(a, b, score_cutoff=NEAR_EDITS) <= NEAR_EDITS)


def group_stories(articles: Sequence[Article], window_days: float) -> StoryIndex:
    """Group ``articles`` into stories (see the module docstring)."""
    order = sorted(
        range(len(articles)),
        key=lambda i: (articles[i].published_at, articles[i].key, articles[i].path),
    )
    ranked = [articles[i] for i in order]
    parts = _Components(len(ranked))
    window = timedelta(days=window_days)
    by_url: dict[str, list[int]] = defaultdict(list)
    by_title: dict[str, list[int]] = defaultdict(list)
    by_compact: dict[str, list[int]] = defaultdict(list)
    by_gap: dict[str, list[int]] = defaultdict(list)
    keys: list[str] = []
    for index, article in enumerate(ranked):
        by_url[article.key].append(index)
        key = title_key(article)
        keys.append(key)
        words = key.split(" ")
        if len(words) < MIN_WORDS:
            continue
        by_title[key].append(index)
        by_compact[key.replace(" ", "")].append(index)
        if len(key) >= NEAR_MIN_CHARS:
            for gap in range(len(words)):
                by_gap[" ".join([*words[:gap], "\x00", *words[gap + 1 :]])].append(index)
    for members in by_url.values():
        for other in members[1:]:
            parts.union(members[0], other)  # one URL is one story, whatever the dates
    for buckets in (by_title, by_compact):
        for members in buckets.values():
            if len(members) > 1:
                _chain(members, ranked, window, parts)
    for members in by_gap.values():
        if len(members) > 1:
            _join_near(members, ranked, keys, window, parts)
    return _index(ranked, parts)


def _join_near(
    members: Sequence[int],
    articles: Sequence[Article],
    keys: Sequence[str],
    window: timedelta,
    parts: _Components,
) -> None:
    """Join near-identical titles in one candidate bucket (sorted by date) within the window."""
    for position, index in enumerate(members):
        when = articles[index].published_at
        for other in members[position + 1 :]:
            if articles[other].published_at - when > window:
                break
            if parts.find(index) != parts.find(other) and _near(keys[index], keys[other]):
                parts.union(index, other)


def _index(ranked: Sequence[Article], parts: _Components) -> StoryIndex:
    members: dict[int, list[Article]] = defaultdict(list)
    for index, article in enumerate(ranked):
        members[parts.find(index)].append(article)  # ranked: earliest first
    story_of: dict[str, str] = {}
    groups: list[Story] = []
    for copies in members.values():
        key = copies[0].key
        if len(copies) > 1:
            groups.append(Story(key, tuple(copies)))
            for copy in copies:
                story_of[copy.path] = key
    groups.sort(key=lambda s: (s.copies[0].published_at, s.key))
    return StoryIndex(story_of, tuple(groups))
