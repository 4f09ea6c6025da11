"""What goes into one digest issue: pure planning, no rendering and no I/O.

``plan_issue`` takes the collector's ``Selection`` for the issue's period (the
same function, rules and topics as the feeds — never a second selection) and
decides the lead "top stories", one section per topic in config order, and the
order within each. It does not read files, render templates or send anything.

Ranking score, per article (higher first; ties: newer, then story key)::

    score = quality + heat / 2 + RECENCY_WEIGHT × (1 − age / period)

``quality`` and ``heat`` are the record's scores (negative heat counts as 0),
``age`` is the time from publication to the end of the period, so the newest
article of the week gets the full recency bonus and the oldest almost none.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from feeds.model import Article
from feeds.reading.topics import Topic, TopicSet
from feeds.urls import story_key

if TYPE_CHECKING:
    from feeds.selection.collector import Selection

RECENCY_WEIGHT = 30.0


@dataclass(frozen=True, slots=True)
class Period:
    """The time span one issue covers: [start, end), whole calendar days of ``zone``.

    An article published at the very end (midnight after the last day) belongs to
    the next issue, whose first day it is."""

    # inclusive start: midnight at the start of the first day (aware UTC)
    start: datetime
    # exclusive end: midnight after the last day (aware UTC)
    end: datetime
    # the time zone whose calendar the period follows (issue id, dates shown)
    zone: tzinfo = UTC

    @property
    def issue_id(self) -> str:
        """Stable issue id: the ISO week of the period's last day, e.g. ``2026-W48``."""
        year, week, _ = self.last_day.isocalendar()
        return f"{year}-W{week:02}"

    @property
    def last_day(self) -> date:
        """The last calendar day (in ``zone``) the period covers."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()

    @property
    def first_day(self) -> date:
        """The first calendar day (in ``zone``) the period covers."""
        return self.start.astimezone(self.zone).date()


def period_ending(last_day: date, days: int, zone: tzinfo = UTC) -> Period:
    """The ``days`` whole days of ``zone`` that end with ``last_day``.

    Start and end are local midnights (a DST change inside makes one day 23 or
    25 hours long), stored in UTC.
    """
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
    start = datetime.combine(last_day + timedelta(days=1 - days), time(0), tzinfo=zone)
    return Period(start.astimezone(UTC), end.astimezone(UTC), zone)


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One story in the digest."""

    # the article (as selected by the collector)
    article: Article
    # its ranking score (see the module docstring)
    score: float
    # id of the topic whose section it belongs to (its most specific topic)
    topic_id: str


@dataclass(frozen=True, slots=True)
class DigestSection:
    """A topic's section, or the lead "top stories" section (``topic`` None)."""

    # the topic, or None for top stories
    topic: Topic | None
    # stories, best first
    items: tuple[DigestItem, ...]


@dataclass(frozen=True, slots=True)
class IssuePlan:
    """The content of one issue, before rendering."""

    # the covered period
    period: Period
    # lead section: the best stories overall
    top: DigestSection
    # one section per topic with something new, in config order
    sections: tuple[DigestSection, ...]
    # stories left out because their section was full (``items_per_topic``)
    left_out: int
    # stories removed to keep the email under the size budget
    trimmed: int = 0

    @property
    def items(self) -> tuple[DigestItem, ...]:
        """Every story in the issue, in reading order."""
        return self.top.items + tuple(i for s in self.sections for i in s.items)

    @property
    def is_empty(self) -> bool:
        """Whether the issue has no stories at all."""
        return not self.items


def score(article: Article, period: Period) -> float:
    """The ranking score of ``article`` within ``period`` (documented above)."""
    length = (period.end - period.start).total_seconds()
    age = (period.end - article.published_at).total_seconds()
    recency = min(max(1.0 - age / length, 0.0), 1.0) if length > 0 else 0.0
    return article.quality + max(article.heat, 0) / 2 + RECENCY_WEIGHT * recency


def _rank(item: DigestItem) -> tuple[float, float, str]:
    return (-item.score, -item.article.published_at.timestamp(), item.article.key)


def story_ref(key: str) -> str:
    """A story's short, stable name for editors (``feedletter issue drop ID STORY``):
    10 hex digits of the hash of its story key, the same in every run."""
    return hashlib.sha256(key.encode()).hexdigest()[:10]


def is_dropped(article: Article, dropped: Collection[str]) -> bool:
    """Whether ``article`` is a story an editor dropped: its key, or the key of any
    other copy of its story, is in ``dropped`` (so a dropped story stays out when
    another copy of it becomes the one shown)."""
    if article.key in dropped:
        return True
    return any(story_key(r.url) in dropped for r in article.coverage)


def most_specific(topic_ids: Sequence[str], topics: TopicSet, allowed: Sequence[str]) -> str | None:
    """The deepest of ``topic_ids`` that is ``allowed``; ties go to the earlier topic."""
    candidates = [t for t in topic_ids if t in allowed]
    if not candidates:
        return None
    order = {t: i for i, t in enumerate(allowed)}
    return min(candidates, key=lambda t: (-topics.depth(t), order[t]))


def plan_issue(
    selection: Selection,
    topics: TopicSet,
    period: Period,
    *,
    topic_ids: Sequence[str] | None = None,
    items_per_topic: int = 5,
    top_stories: int = 3,
    dropped: Collection[str] = (),
) -> IssuePlan:
    """Decide the issue's sections from the collector's selection for ``period``.

    ``topic_ids`` restricts (and orders) the topics; default: every topic in
    topic order. Each story appears once: in top stories, or else in the section
    of its most specific topic. Stories whose key is in ``dropped`` (an editor
    dropped them) are left out before ranking, so the next one moves up.
    """
    allowed = list(topic_ids) if topic_ids is not None else [t.id for t in topics.topics]
    by_path: dict[str, DigestItem] = {}
    for topic_selection in selection.topics:
        if topic_selection.topic_id not in allowed:
            continue
        for article in topic_selection.articles:
            if article.path in by_path or (dropped and is_dropped(article, dropped)):
                continue
            home = most_specific(selection.membership.get(article.path, ()), topics, allowed)
            if home is not None:
                by_path[article.path] = DigestItem(article, score(article, period), home)
    # the same story may reach us through two records only if topics disagree on
    # which record wins; keep the best-ranked one per story key
    by_story: dict[str, DigestItem] = {}
    for item in sorted(by_path.values(), key=_rank):
        by_story.setdefault(item.article.key, item)
    ranked = sorted(by_story.values(), key=_rank)
    lead = tuple(ranked[:top_stories])
    rest = ranked[top_stories:]
    sections = []
    left_out = 0
    for tid in allowed:
        mine = [item for item in rest if item.topic_id == tid]
        if mine:
            sections.append(DigestSection(topics.by_id[tid], tuple(mine[:items_per_topic])))
            left_out += max(len(mine) - items_per_topic, 0)
    return IssuePlan(period, DigestSection(None, lead), tuple(sections), left_out)


def trim(plan: IssuePlan) -> IssuePlan | None:
    """The plan with its lowest-ranked section story removed (None if nothing can go).

    Used to fit the size budget: top stories are kept as long as any section
    story can be dropped instead.
    """
    candidates = [(s_i, i_i) for s_i, s in enumerate(plan.sections) for i_i in range(len(s.items))]
    if candidates:
        s_i, i_i = max(candidates, key=lambda c: _rank(plan.sections[c[0]].items[c[1]]))
        section = plan.sections[s_i]
        items = section.items[:i_i] + section.items[i_i + 1 :]
        sections = list(plan.sections)
        if items:
            sections[s_i] = DigestSection(section.topic, items)
        else:
            del sections[s_i]
        return IssuePlan(plan.period, plan.top, tuple(sections), plan.left_out, plan.trimmed + 1)
    if plan.top.items:
        top = DigestSection(None, plan.top.items[:-1])
        return IssuePlan(plan.period, top, plan.sections, plan.left_out, plan.trimmed + 1)
    return None
