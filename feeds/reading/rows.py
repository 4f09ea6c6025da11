"""A record as the parse cache's ``records`` row holds it, and back.

``brief_row`` gives the columns selection needs of a parsed ``Article`` (the
``Brief`` columns), ``entry_of`` the whole ``Entry`` a load stores of it, and
``Briefs`` makes the ``Brief`` of a row read back. Pure functions and values; the
parse cache (``cache``) stores and reads the rows, and a parse worker makes its
entries with this module alone.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from feeds.model import Article, Brief, Provider, maker

# the Brief columns, in the order ``Entry.brief`` holds them
BRIEF = (
    "title, url_key, title_key, published_us, published, quality, topics, "
    "provider_name, provider_domain, lessons"
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# (title, url key, title key, date in µs since 1970, published, quality, topics
# as JSON, provider name, provider domain, lessons)
BriefRow = tuple[str, str, str, int, int, int, str, str | None, str | None, bytes | None]
# a ``records`` row as ``ParseCache.rows`` reads it: (path, size, mtime_ns, sha256,
# reason, then the ``BriefRow`` columns, NULL for a rejected record)
CachedRow = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached record."""

    # size in bytes when parsed
    size: int
    # mtime in nanoseconds when parsed
    mtime_ns: int
    # SHA-256 of the file's bytes
    sha256: bytes
    # what selection needs of it (``brief_row``); None when it was rejected
    brief: BriefRow | None
    # the pickled ``Article``; None when it was rejected, or when ``entries`` left
    # it in the file (``feeds.reading.details`` reads it when it is shown)
    payload: bytes | None = None
    # the pickled ``Signature`` of the Article (as rarely read)
    signature: bytes | None = None
    # why it was rejected; None when it is usable
    reason: str | None = None


def brief_row(article: Article) -> BriefRow:
    """The columns ``Brief`` is read back from."""
    provider = article.provider
    return (
        article.title,
        article.key,
        article.story_title,
        (article.published_at - EPOCH) // MICROSECOND,
        int(article.published),
        article.quality,
        json.dumps(article.topics),
        provider.name if provider else None,
        provider.domain if provider else None,
        article.lessons,
    )


def entry_of(
    size: int, mtime_ns: int, sha256: bytes, value: Article | str, body: bool = True
) -> Entry:
    """The entry that caches ``value`` (parsed from a file of this size, mtime and hash);
    without ``body``, not the pickled Article (``load_corpus(bodies=False)``)."""
    if isinstance(value, str):
        return Entry(size, mtime_ns, sha256, None, reason=value)
    payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if body else None
    signature = pickle.dumps(value.signature, protocol=pickle.HIGHEST_PROTOCOL)
    return Entry(size, mtime_ns, sha256, brief_row(value), payload, signature)


def entry_of_row(row: CachedRow) -> Entry:
    """The ``Entry`` of a ``CachedRow``."""
    reason = row[4]
    brief = None if reason is not None else tuple(row[5:])
    return Entry(row[1], row[2], row[3], brief, reason=reason)


# what stands before the Brief columns in a ``CachedRow``
_NO_STAT = (None,) * 5


class Briefs:
    """Builds ``Brief`` values from rows, sharing the providers and topic lists that
    records repeat."""

    def __init__(self) -> None:
        self.providers: dict[tuple[str | None, str | None], Provider | None] = {}
        self.topics: dict[str, tuple[str, ...]] = {}

    def brief(self, path: str, row: BriefRow) -> Brief:
        """The ``Brief`` of ``path`` from its columns."""
        return self.of_row(path, _NO_STAT + row)

    def of_row(self, path: str, row: CachedRow) -> Brief:
        """``brief`` of the columns of a usable record's ``CachedRow`` (unpacked
        whole: slicing it first cost 20 ms more at 100,000)."""
        (_, _, _, _, _, _, key, story, micros, published, quality, topics, name, domain, _) = row
        provider = self.providers.get((name, domain), _UNSEEN)
        if provider is _UNSEEN:
            provider = Provider(name, domain) if name is not None else None
            self.providers[(name, domain)] = provider
        names = self.topics.get(topics)
        if names is None:
            names = self.topics[topics] = tuple(json.loads(topics))
        when = EPOCH + micros * MICROSECOND
        return _brief(path, key, story, when, bool(published), quality, names, provider)


# a provider not met yet (``Briefs.of_row``); a Brief is made the fast way (``maker``)
_UNSEEN = Provider("", None)
_brief = maker(Brief)
