"""The collector: which stories each topic's feed (and the digest) shows.

Pure decision logic: it takes articles, topics, rules and "now" and returns a
``Selection``. It does not read files, write files or look at the clock, so the
feeds and the digest get the very same answer for the same inputs.

Records are first grouped into stories (``stories.group_stories``). A story
belongs to every topic any of its copies names; in each topic, the best copy
that passes the topic's rules represents it (highest quality, then newest, then
path), carrying the story's key (so its GUID) and, as its ``related`` coverage,
the other copies that pass the rules followed by its own ``related`` links,
without repeats. Its excerpt is the best such copy's that says something.
Each feed's stories are chosen from the records' columns first; then the copies
of every story any feed shows are read in full together (``RecordSource.in_full``)
and the stories built that way (``showing``), their copies' excerpts without
their publishers' boilerplate; the others are only counted.
"""

from __future__ import annotations

import functools
import heapq
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from feeds.model import (
    IN_HAND,
    Article,
    Previous,
    Record,
    RecordSource,
    StoryPairs,
)
from feeds.reading.boilerplate import Boilerplate, scrub
from feeds.reading.topics import TopicSet
from feeds.selection.showing import cleaned, in_hand, rank_key, represent, without_see_also
from feeds.selection.similarity import NO_VOCABULARY, Vocabulary
from feeds.selection.stories import Story, StoryIndex, group_stories


@dataclass(frozen=True, slots=True)
class Rules:
    """What qualifies an article for a topic; global, with per-topic overrides."""

    # only records with ``published: true`` (or no flag) qualify
    published_only: bool = True
    # records with a lower quality score are left out; None = no minimum
    min_quality: int | None = None
    # records older than this many days before "now" are left out; None = no limit
    max_age_days: float | None = None
    # at most this many articles per topic, newest first
    max_items: int = 50
    # also assign an article to the topic when a keyword appears as a whole word
    # in its title or excerpt
    match_keywords: bool = False
    # copies with the same (or a near-identical) title published this many days
    # apart (chaining) are one story; only the global value is used
    story_window_days: float = 7
    # show the entries of a record's ``related`` list that are other stories, as
    # "Related" (copies of the same story are always shown, as "Also covered by")
    show_related: bool = True

    def admits(self, article: Record, now: datetime) -> bool:
        """Whether ``article`` passes these rules at time ``now``.

        An article dated after ``now`` never qualifies: it appears once its time comes.
        """
        if article.published_at > now:
            return False
        if self.published_only and not article.published:
            return False
        if self.min_quality is not None and article.quality < self.min_quality:
            return False
        return not (
            self.max_age_days is not None
            and article.published_at < now - timedelta(days=self.max_age_days)
        )


@dataclass(frozen=True, slots=True)
class TopicSelection:
    """The articles one feed shows."""

    # the topic's id, or None for the all-topics feed
    topic_id: str | None
    # the selected articles, newest first, at most ``max_items``
    articles: tuple[Article, ...]
    # how many distinct stories qualified before ``max_items`` cut the list
    qualified: int
    # the qualified stories ``max_items`` cut, newest first (only with keep_rest)
    rest: tuple[Article, ...] = ()


@dataclass(frozen=True)
class Selection:
    """Everything the collector decided, for the feeds, the digest and ``check``."""

    # the time the rules were evaluated against
    now: datetime
    # one selection per topic, in topic order
    topics: tuple[TopicSelection, ...]
    # the all-topics feed: articles that belong to at least one topic
    everything: TopicSelection
    # article path -> ids of the topics its story belongs to, in topic order
    membership: Mapping[str, tuple[str, ...]]
    # stories told by more than one record, in order of their earliest copy
    stories: tuple[Story, ...]
    # topic references used by records that no topic defines, sorted
    unknown_topics: tuple[str, ...]
    # the story rules' pairs within the window, for the next build (``StoryIndex.pairs``)
    pairs: StoryPairs | None = None

    @property
    def copies_folded(self) -> int:
        """Records that are extra copies of a story told by another record."""
        return sum(len(story.copies) - 1 for story in self.stories)

    def for_topic(self, topic_id: str) -> TopicSelection:
        """The selection of one topic by id."""
        for item in self.topics:
            if item.topic_id == topic_id:
                return item
        raise KeyError(topic_id)


# a story as a feed orders it: (newest first, then story key, then path), its key,
# and its one record when no other copy of it was admitted
Ordered = tuple[tuple[float, str, str], str, Record | None]


def _ordered(
    admitted: Iterable[Record], index: StoryIndex, shared: dict[str, list[Record]]
) -> Iterator[Ordered]:
    """Each admitted story once, with its place in the feed: a story's place is its
    best copy's. Records told by no other record are stories of their own (their
    key is no other story's: one URL is one story) and pass through one at a
    time; the copies of stories several records tell are gathered in ``shared``
    and come last."""
    story_of = index.story_of
    for article in admitted:
        key = story_of.get(article.path)
        if key is None:
            yield (
                (-article.published_at.timestamp(), article.key, article.path),
                article.key,
                article,
            )
        else:
            shared.setdefault(key, []).append(article)
    for key, copies in shared.items():
        best = copies[0] if len(copies) == 1 else min(copies, key=rank_key)
        yield (-best.published_at.timestamp(), key, best.path), key, None


def _keyword_patterns(topics: TopicSet) -> dict[str, re.Pattern[str]]:
    patterns = {}
    for topic in topics.topics:
        if topic.keywords:
            words = "|".join(re.escape(k) for k in sorted(topic.keywords, key=len, reverse=True))
            patterns[topic.id] = re.compile(rf"(?<!\w)(?:{words})(?!\w)", re.IGNORECASE)
    return patterns


def memberships(
    articles: Sequence[Record], topics: TopicSet, rules: Mapping[str, Rules]
) -> tuple[dict[str, tuple[str, ...]], tuple[str, ...]]:
    """Topic ids each article belongs to, and the topic references nobody defines.

    An article belongs to the topics its record names, to topics whose keywords
    match (where that topic's rules say so), and to every ancestor of those.
    """
    order = {t.id: i for i, t in enumerate(topics.topics)}
    patterns = {tid: p for tid, p in _keyword_patterns(topics).items() if rules[tid].match_keywords}
    unknown: set[str] = set()
    # records name the same few topic lists over and over: resolve each list once
    resolved: dict[tuple[str, ...], frozenset[str]] = {}
    closures: dict[frozenset[str], tuple[str, ...]] = {}
    result: dict[str, tuple[str, ...]] = {}
    for article in articles:
        direct = resolved.get(article.topics)
        if direct is None:
            ids = set()
            for ref in article.topics:
                tid = topics.resolve(ref)
                if tid is None:
                    unknown.add(ref)
                else:
                    ids.add(tid)
            direct = resolved[article.topics] = frozenset(ids)
        if patterns:
            assert isinstance(article, Article)  # collect reads them in full for keywords
            matched = {
                tid
                for tid, pattern in patterns.items()
                if tid not in direct
                and (pattern.search(article.title) or pattern.search(article.excerpt))
            }
            if matched:
                direct = direct | matched
        every = closures.get(direct)
        if every is None:
            members = set(direct)
            for tid in direct:
                members.update(topics.ancestors(tid))
            every = closures[direct] = tuple(sorted(members, key=order.__getitem__))
        result[article.path] = every
    return result, tuple(sorted(unknown, key=str.casefold))


@dataclass(frozen=True, slots=True)
class _Chosen:
    """One feed's stories, chosen from records' columns, before any is read in full."""

    # the topic's id (None: the all-topics feed)
    topic_id: str | None
    # its rules
    rules: Rules
    # the stories it shows (and, with keep_rest, the rest), in feed order: each
    # story's key and its admitted copies
    stories: list[tuple[str, list[Record]]]
    # how many stories qualified
    count: int


def _choose(
    topic_id: str | None,
    candidates: Iterable[Record],
    rules: Rules,
    now: datetime,
    since: datetime | None,
    index: StoryIndex,
    keep_rest: bool,
) -> _Chosen:
    # a period is [since, now): an article at its very end belongs to the next one
    admitted = (
        a
        for a in candidates
        if rules.admits(a, now) and (since is None or since <= a.published_at < now)
    )
    # feeds are newest first (ties: story key, then path); only the stories shown
    # (and, with keep_rest, the rest) are kept, and only the newest max_items while
    # the others stream past (a bounded heap, not a sort of everything)
    shared: dict[str, list[Record]] = {}
    counted = _Counted(_ordered(admitted, index, shared))
    chosen = sorted(counted) if keep_rest else heapq.nsmallest(rules.max_items, counted)
    stories = [(key, shared[key] if one is None else [one]) for _, key, one in chosen]
    return _Chosen(topic_id, rules, stories, counted.count)


def _shown(
    chosen: _Chosen, window_days: float, site: Vocabulary, show: Callable[[Record], Article]
) -> TopicSelection:
    """The chosen stories as the feed shows them (``showing.represent``)."""
    rules = chosen.rules
    stories = [represent(key, copies, window_days, site, show) for key, copies in chosen.stories]
    if not rules.show_related:
        stories = [without_see_also(a) for a in stories]
    shown, rest = stories[: rules.max_items], stories[rules.max_items :]
    return TopicSelection(chosen.topic_id, tuple(shown), chosen.count, tuple(rest))


class _Counted:
    """An iterable of stories that counts them as they pass."""

    def __init__(self, stories: Iterator[Ordered]) -> None:
        self.stories = stories
        self.count = 0

    def __iter__(self) -> Iterator[Ordered]:
        for story in self.stories:
            self.count += 1
            yield story


def collect(
    articles: Sequence[Record],
    topics: TopicSet,
    rules: Rules,
    now: datetime,
    overrides: Mapping[str, Rules] | None = None,
    since: datetime | None = None,
    keep_rest: bool = False,
    site: Vocabulary = NO_VOCABULARY,
    digests: Mapping[str, bytes] | None = None,
    known: StoryPairs | None = None,
    boilerplate: Boilerplate | None = None,
    source: RecordSource = IN_HAND,
    previous: Mapping[str, Previous] | None = None,
) -> Selection:
    """Select the stories of every topic and of the all-topics feed.

    ``rules`` apply everywhere unless ``overrides`` gives a topic its own
    (``story_window_days`` is always the global one). With ``since``, only
    articles published in [``since``, ``now``) qualify: that is how the digest
    asks for one period's articles under the same rules. With ``keep_rest``, each
    selection also keeps the stories ``max_items`` cut (for archive documents).
    ``site`` is the site's vocabulary (``similarity.vocabulary``), which the
    content rule of the stories discounts; ``digests`` and ``known`` let it compare
    only the records near a change (``stories.group_stories``). ``boilerplate`` is
    taken out of the excerpts of the stories shown (of every record, when a topic
    matches keywords, which read the excerpts). ``articles`` may be ``Brief``s:
    ``source`` reads in full the records shown (and the signatures the story rules
    compare); ``previous`` says what changed records said before.
    """
    per_topic = {t.id: (overrides or {}).get(t.id, rules) for t in topics.topics}
    window = rules.story_window_days
    show: Callable[[Record], Article] = source.article
    if reads_every_record(topics, rules, overrides):
        # keywords are looked for in the excerpts: every record in full, cleaned
        full = source.in_full(articles)
        articles = [scrub(a, boilerplate) for a in full] if boilerplate else full
        show = in_hand
    elif boilerplate:
        show = functools.partial(cleaned, source=source, boilerplate=boilerplate)
    index = group_stories(articles, window, site, digests, known, source, previous)
    own, unknown = memberships(articles, topics, per_topic)
    membership = _story_memberships(articles, own, index, topics)
    by_topic: dict[str, list[Record]] = defaultdict(list)
    for article in articles:
        for tid in membership[article.path]:
            by_topic[tid].append(article)
    chosen = [
        _choose(t.id, by_topic.get(t.id, ()), per_topic[t.id], now, since, index, keep_rest)
        for t in topics.topics
    ]
    in_any = [a for a in articles if membership[a.path]]
    chosen.append(_choose(None, in_any, rules, now, since, index, keep_rest))
    # every copy of every story shown, read in full together before any is shown
    source.in_full([c for feed in chosen for _, copies in feed.stories for c in copies])
    *selections, everything = (_shown(feed, window, site, show) for feed in chosen)
    return Selection(
        now=now,
        topics=tuple(selections),
        everything=everything,
        membership=membership,
        stories=index.groups,
        unknown_topics=unknown,
        pairs=index.pairs,
    )


def reads_every_record(
    topics: TopicSet, rules: Rules, overrides: Mapping[str, Rules] | None = None
) -> bool:
    """Whether ``collect`` reads every record in full, not only those it shows: a
    topic that matches its keywords looks for them in every excerpt."""
    return any(
        t.keywords and (overrides or {}).get(t.id, rules).match_keywords for t in topics.topics
    )


def _story_memberships(
    articles: Sequence[Record],
    own: Mapping[str, tuple[str, ...]],
    index: StoryIndex,
    topics: TopicSet,
) -> dict[str, tuple[str, ...]]:
    """Every copy of a story belongs to the topics of all its copies."""
    if not index.groups:
        return dict(own)
    order = {t.id: i for i, t in enumerate(topics.topics)}
    union: dict[str, set[str]] = defaultdict(set)
    for story in index.groups:
        for copy in story.copies:
            union[story.key].update(own[copy.path])
    result = dict(own)
    for story in index.groups:
        ids = tuple(sorted(union[story.key], key=order.__getitem__))
        for copy in story.copies:
            result[copy.path] = ids
    return result


def valid_until(
    articles: Iterable[Record], rules: Iterable[Rules], now: datetime
) -> datetime | None:
    """Until when ``collect`` gives the same answer for these inputs as at ``now``.

    Only the passage of time can change it: an article dated in the future comes
    due, or one ages past a ``max_age_days`` limit. None means never.
    """
    ages = {timedelta(days=r.max_age_days) for r in rules if r.max_age_days is not None}
    moments: list[datetime] = []
    for article in articles:
        if article.published_at > now:
            moments.append(article.published_at)
            continue
        for age in ages:
            if article.published_at + age > now:
                moments.append(article.published_at + age)
    return min(moments, default=None)
