"""Stories: which records are copies of one story, and the story's stable identity.

Pure decision logic over parsed articles; no I/O. The same story arrives as
several records with different URLs (syndication, regional editions, reposted
press releases, one page under several ids). Two records are copies of one story
when

- their normalised URLs are equal (``Article.key``), or
- their titles are the same after ``title_key`` (``feeds.reading.signature``:
  case, punctuation and spacing ignored; a trailing " - Publisher" naming the
  record's own provider or domain and a leading "Re-transmission:" tag removed), or
  near-identical (at most ``NEAR_EDITS`` character edits on titles of at least
  ``NEAR_MIN_CHARS`` characters, with the same numbers: "wave 1" is not "wave 2"),
  and they were published within ``window_days`` of each other. Titles of fewer
  than ``MIN_WORDS`` words ("Weekly update", "Power Platform Stories") are too
  generic to match by title at all; or
- they tell one event under different titles, by what they say
  (``similarity.same_event``: different publishers, each title covered by the
  other record's words, shared names and numbers, the site's vocabulary
  discounted), published within ``window_days`` of each other.

The window **chains**: a record joins a story when it is within the window of any
copy already in it, so the grouping depends only on the set of records, never on
the order they arrived in. ``related`` links never merge records: on some sites
they list the same provider's other articles. Whether a ``related`` entry is
the same story as the record listing it is the same rules' decision, pair by
pair (``related_is_same_story``).

A story's identity (``Story.key``, from which feed GUIDs are derived) is the
normalised URL of its earliest copy (then the smallest key): a copy that arrives
later, or a change of which copy represents the story, never changes it. The one
exception: a copy that arrives later but is dated *earlier* than every copy so
far becomes the earliest, and the story's id moves to it.

Candidates are found by exact keys (normalised title, and the title without
spaces) and, for near-identical titles, by the title with one word left out, so
the work stays near-linear in the number of records; edit distances are computed
(rapidfuzz) only for those candidates. The content rule's pairs come from
``content.content_pairs``, which, given the pairs of the last build and the
records' digests, compares again only the records near a change.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from feeds.model import IN_HAND, Article, ContentPairs, Record, RecordSource, Related
from feeds.reading.signature import title_key
from feeds.selection.content import content_pairs, same_publisher
from feeds.selection.similarity import NO_VOCABULARY, Vocabulary, same_event
from feeds.urls import story_key

# titles with fewer words never match by title (too generic)
MIN_WORDS = 4
# near-identical: at most this many character edits between normalised titles
# at least this long
NEAR_EDITS = 2
NEAR_MIN_CHARS = 24
_NUMBER = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class Story:
    """One story and every record that is a copy of it."""

    # the story's identity: the normalised URL of its earliest copy (GUIDs come from it)
    key: str
    # every copy, earliest first (ties: key, then path); as selection saw them
    copies: tuple[Record, ...]


@dataclass(frozen=True)
class StoryIndex:
    """The stories of a set of articles, and each article's story."""

    # article path -> the key of its story
    story_of: Mapping[str, str]
    # stories with more than one copy, in order of their earliest copy
    groups: tuple[Story, ...]
    # the content rule's pairs, to pass to the next build (None without digests)
    content: ContentPairs | None = None


def story_title(article: Record) -> str:
    """``article``'s title key: the parsed one, or computed for a hand-made article."""
    return article.story_title or title_key(article.title, article.provider, article.key)


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


def _near(a: str, b: str) -> bool:
    """At most ``NEAR_EDITS`` edits apart, with the same numbers."""
    if abs(len(a) - len(b)) > NEAR_EDITS:
        return False
    if Levenshtein.distance(a, b, score_cutoff=NEAR_EDITS) > NEAR_EDITS:
        return False
    return _NUMBER.findall(a) == _NUMBER.findall(b)


def group_stories(
    articles: Sequence[Record],
    window_days: float,
    site: Vocabulary = NO_VOCABULARY,
    digests: Mapping[str, bytes] | None = None,
    known: ContentPairs | None = None,
    source: RecordSource = IN_HAND,
) -> StoryIndex:
    """Group ``articles`` into stories (see the module docstring); ``site`` is the
    site's vocabulary (``similarity.vocabulary``). With ``digests`` (record path ->
    SHA-256 of its file) and the last build's ``StoryIndex.content`` as ``known``,
    the content rule compares only the records near a change; ``source`` reads
    their signatures."""
    ranked = sorted(articles, key=lambda a: (a.published_at, a.key, a.path))
    stamps = [a.published_at.timestamp() for a in ranked]
    window = window_days * 86_400
    parts = _Components(len(ranked))
    by_url: dict[str, list[int]] = defaultdict(list)
    by_title: dict[str, list[int]] = defaultdict(list)
    by_compact: dict[str, list[int]] = defaultdict(list)
    by_part: dict[str, list[int]] = defaultdict(list)
    keys: list[str] = []
    for index, article in enumerate(ranked):
        by_url[article.key].append(index)
        key = story_title(article)
        keys.append(key)
        if key.count(" ") + 1 < MIN_WORDS:
            continue
        by_title[key].append(index)
        by_compact[key.replace(" ", "")].append(index)
        if len(key) >= NEAR_MIN_CHARS:
            for part in _near_keys(key):
                by_part[part].append(index)
    for members in by_url.values():
        for other in members[1:]:
            parts.union(members[0], other)  # one URL is one story, whatever the dates
    for buckets in (by_title, by_compact):
        for members in buckets.values():
            for before, after in itertools.pairwise(members):  # sorted by date
                if stamps[after] - stamps[before] <= window:
                    parts.union(before, after)
    for members in by_part.values():
        if len(members) > 1:
            _join_near(members, stamps, keys, window, parts)
    pairs, content = content_pairs(ranked, stamps, window, site, digests, known, source)
    for before, after in pairs:
        parts.union(before, after)
    return _index(ranked, parts, content)


def related_is_same_story(
    article: Article, item: Related, window_days: float, site: Vocabulary = NO_VOCABULARY
) -> bool:
    """Whether an entry of ``article``'s ``related`` list tells the same story, by the
    rules that group records (its URL, its title, or what it says, within the window)."""
    key = story_key(item.url)
    if key == article.key:
        return True
    when = item.published_at
    if when is not None and abs((when - article.published_at).total_seconds()) > (
        window_days * 86_400
    ):
        return False
    mine = story_title(article)
    theirs = title_key(item.title, item.provider, key)
    if mine.count(" ") + 1 >= MIN_WORDS and theirs.count(" ") + 1 >= MIN_WORDS:
        if mine == theirs or mine.replace(" ", "") == theirs.replace(" ", ""):
            return True
        if min(len(mine), len(theirs)) >= NEAR_MIN_CHARS and _near(mine, theirs):
            return True
    if when is None:
        return False  # what it says is compared only within the window
    return same_event(
        article.signature,
        item.signature,
        site,
        same_publisher=same_publisher(article.provider, item.provider),
    )


def _near_keys(key: str) -> list[str]:
    """Blocking keys: two titles within ``NEAR_EDITS`` edits share at least one.

    Up to two edits change at most two of three parts (the first three words,
    the last three, the words between), so one part is shared; a title too short
    to have a middle gets one key per left-out word instead. Near titles must
    have the same numbers, so every key carries them: "wave 1" and "wave 2"
    never even meet.
    """
    numbers = "\0".join(_NUMBER.findall(key))
    words = key.split(" ")
    if len(words) <= 6:
        return [
            " ".join([numbers, "\0gap", *words[:gap], *words[gap + 1 :]])
            for gap in range(len(words))
        ]
    head = key.find(" ", key.find(" ", key.find(" ") + 1) + 1)
    tail = key.rfind(" ", 0, key.rfind(" ", 0, key.rfind(" ")))
    return [
        f"{numbers}\0head {key[:head]}",
        f"{numbers}\0tail {key[tail + 1 :]}",
        f"{numbers}\0body {key[head + 1 : tail]}",
    ]


def _join_near(
    members: Sequence[int],
    stamps: Sequence[float],
    keys: Sequence[str],
    window: float,
    parts: _Components,
) -> None:
    """Join near-identical titles in one candidate bucket (sorted by date) within the window."""
    for position, index in enumerate(members):
        limit = stamps[index] + window
        key = keys[index]
        for other in members[position + 1 :]:
            if stamps[other] > limit:
                break
            if _near(key, keys[other]):
                parts.union(index, other)


def _index(
    ranked: Sequence[Record], parts: _Components, content: ContentPairs | None
) -> StoryIndex:
    members: dict[int, list[Record]] = defaultdict(list)
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
    return StoryIndex(story_of, tuple(groups), content)
