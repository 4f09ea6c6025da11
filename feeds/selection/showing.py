"""How a chosen story is shown: the copy that represents it and what it carries.

A story is shown as its best copy (``rank_key``: highest quality, then newest,
then path) with the story's key (so its GUID), the best excerpt among its
copies, and a ``related`` list in which its other copies come first, marked as
the same story, followed by the copies' own ``related`` entries, each marked the
same story only when the story rules say so. Pure functions over Articles; the
collector (``collector.collect``) decides which stories are shown and imports
this module, as ``check`` does for ``rank_key``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

from feeds.model import IN_HAND, Article, Record, RecordSource, Related
from feeds.reading.boilerplate import Boilerplate, scrub
from feeds.selection.similarity import Vocabulary
from feeds.selection.stories import related_is_same_story
from feeds.urls import story_key


def rank_key(article: Record) -> tuple[int, float, str]:
    """Sort key that puts the record that should represent a story first."""
    return (-article.quality, -article.published_at.timestamp(), article.path)


def in_hand(article: Record) -> Article:
    """A record that is an Article already, as it is."""
    return IN_HAND.article(article)


def cleaned(record: Record, source: RecordSource, boilerplate: Boilerplate) -> Article:
    """A record read in full from ``source``, without its publisher's boilerplate."""
    return scrub(source.article(record), boilerplate)


def represent(
    key: str,
    copies: list[Record],
    window_days: float,
    site: Vocabulary,
    show: Callable[[Record], Article],
) -> Article:
    """The story ``key`` as its best copy (``rank_key``) shows it: with the story's
    key, the best excerpt among the copies, and a ``related`` list in which the
    other copies come first, marked as the same story, followed by the copies' own
    ``related`` entries, each marked the same story only when the story rules say
    so (``stories.related_is_same_story``); the rest are only related. ``show``
    reads each copy in full, without its publisher's boilerplate."""
    full = sorted((show(c) for c in copies), key=rank_key)
    best, others = full[0], full[1:]
    excerpt = next((c.excerpt for c in full if c.excerpt), "")
    related = _related(best, others, window_days, site)
    if not others and related == best.related and best.key == key:
        return best
    return replace(best, key=key, excerpt=excerpt, related=related)


def _related(
    best: Article, others: Sequence[Article], window_days: float, site: Vocabulary
) -> tuple[Related, ...]:
    """The other copies (same story), then every copy's ``related`` entries, judged."""
    keys = {story_key(c.url) for c in (best, *others)} | {c.key for c in (best, *others)}
    seen = {story_key(best.url)}
    found: list[Related] = []
    for item in (_as_related(o) for o in others):
        item_key = story_key(item.url)
        if item_key not in seen:
            seen.add(item_key)
            found.append(item)
    for copy in (best, *others):
        for item in copy.related:
            item_key = story_key(item.url)
            if item_key in seen:
                continue
            seen.add(item_key)
            same = item_key in keys or related_is_same_story(copy, item, window_days, site)
            found.append(item if item.same_story == same else replace(item, same_story=same))
    return tuple(found)


def without_see_also(article: Article) -> Article:
    """The article with only the ``related`` entries that are copies of its story."""
    kept = tuple(item for item in article.related if item.same_story)
    return article if kept == article.related else replace(article, related=kept)


def _as_related(copy: Article) -> Related:
    return Related(
        title=copy.title,
        url=copy.url,
        excerpt=copy.excerpt,
        published_at=copy.published_at,
        provider=copy.provider,
        quality=copy.quality,
        images=copy.images,
        signature=copy.signature,
        same_story=True,
    )
