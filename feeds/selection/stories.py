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

The title rules are ``titles``, the content rule ``similarity``; the pairs they
find within the window come from ``pairs.story_pairs``, which, given the pairs of
the last build and the records' digests, compares again only the records near a
change. Records of one URL are joined here, over the whole corpus.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from feeds.model import (
    IN_HAND,
    Article,
    Previous,
    Record,
    RecordSource,
    Related,
    StoryPairs,
)
from feeds.reading.signature import title_key
from feeds.selection.content import same_publisher
from feeds.selection.pairs import story_pairs
from feeds.selection.similarity import NO_VOCABULARY, Vocabulary, same_event
from feeds.selection.titles import same_title, story_title
from feeds.urls import story_key


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
    # the pairs within the window, to pass to the next build (None without digests)
    pairs: StoryPairs | None = None


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


def group_stories(
    articles: Sequence[Record],
    window_days: float,
    site: Vocabulary = NO_VOCABULARY,
    digests: Mapping[str, bytes] | None = None,
    known: StoryPairs | None = None,
    source: RecordSource = IN_HAND,
    previous: Mapping[str, Previous] | None = None,
) -> StoryIndex:
    """Group ``articles`` into stories (see the module docstring); ``site`` is the
    site's vocabulary (``similarity.vocabulary``). With ``digests`` (record path ->
    SHA-256 of its file) and the last build's ``StoryIndex.pairs`` as ``known``,
    only the records near a change are compared again (``previous``: what changed
    records said before, ``pairs.story_pairs``); ``source`` reads the signatures
    the content rule compares."""
    ranked = sorted(articles, key=lambda a: (a.published_at, a.key, a.path))
    stamps = [a.published_at.timestamp() for a in ranked]
    parts = _Components(len(ranked))
    first: dict[str, int] = {}
    for index, article in enumerate(ranked):
        earliest = first.setdefault(article.key, index)
        if earliest != index:
            parts.union(earliest, index)  # one URL is one story, whatever the dates
    del first  # not held while the story rules run (a record's worth of memory each)
    window = window_days * 86_400
    found, pairs = story_pairs(ranked, stamps, window, site, digests, known, source, previous)
    for before, after in found:
        parts.union(before, after)
    return _index(ranked, parts, pairs)


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
    if same_title(story_title(article), title_key(item.title, item.provider, key)):
        return True
    if when is None:
        return False  # what it says is compared only within the window
    return same_event(
        article.signature,
        item.signature,
        site,
        same_publisher=same_publisher(article.provider, item.provider),
    )


def _index(ranked: Sequence[Record], parts: _Components, pairs: StoryPairs | None) -> StoryIndex:
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
    return StoryIndex(story_of, tuple(groups), pairs)
