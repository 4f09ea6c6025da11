"""A build's inputs: the records and topics of a project, loaded, and their selection.

``load_project`` reads the records (through the parse cache when there is one)
and the topic definitions, and learns each publisher's boilerplate (which the
collector takes out of the excerpts it shows); ``select`` is the collector over
them. The digest loads and selects through these same functions, so the feeds
and the email always agree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.build.topics import load_topics
from feeds.config import FeedSettings
from feeds.model import Article, StoryPairs
from feeds.reading.boilerplate import Boilerplate, scrub
from feeds.reading.cache import ParseCache
from feeds.reading.corpus import Corpus, load_corpus
from feeds.reading.scan import FileStat
from feeds.reading.topics import TopicSet

if TYPE_CHECKING:
    from feeds.selection.collector import Selection
    from feeds.selection.similarity import Vocabulary

# The collector and the story rules (rapidfuzz, stemmers) are imported where they
# are used: a build that finds nothing changed decides so without loading them.


@dataclass(frozen=True)
class Project:
    """The loaded inputs of a build."""

    # validated settings
    settings: FeedSettings
    # parsed records and rejections
    corpus: Corpus
    # topic definitions, in display order
    topics: TopicSet
    # the story rules' pairs the last build stored (None: compare every record)
    known_pairs: StoryPairs | None = None
    # what each publisher glues to its excerpts, learned from the corpus (the
    # corpus's excerpts still have it; the selection takes it out of what it shows)
    boilerplate: Boilerplate = field(default_factory=Boilerplate)

    def cleaned(self) -> tuple[Article, ...]:
        """Every record as a feed would show it: without its publisher's boilerplate."""
        return tuple(scrub(a, self.boilerplate) for a in self.corpus.articles)


def open_cache(settings: FeedSettings) -> ParseCache | None:
    """The configured parse cache, or None when ``cache`` is null."""
    if settings.cache is None:
        return None
    return ParseCache(settings.cache, settings.limits.limits(settings.site.language))


def load_project(
    settings: FeedSettings,
    cache: ParseCache | None = None,
    files: list[FileStat] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Project:
    """Read the records and topic definitions named by ``settings``."""
    from feeds.selection.collector import reads_every_record

    topics = load_topics(settings)
    # a build that reads in full every record (topics matching keywords) or every
    # story that qualifies (archive pages) keeps every record's Article in the
    # cache; the others only those of the records shown, read from their files
    # when first shown (with archives, reading them so cost a 10,000-record cold
    # build 5.2 -> 11.0 s)
    bodies = settings.archives.enabled or reads_every_record(
        topics, settings.global_rules(), settings.topic_rules()
    )
    corpus = load_corpus(
        settings.content.news,
        cache=cache,
        files=files,
        limits=settings.limits.limits(settings.site.language),
        progress=progress,
        base=settings.source.resolve().parent if settings.source is not None else None,
        bodies=bodies,
    )
    known = cache.story_pairs(corpus.digests, corpus.changes) if cache is not None else None
    # each provider's recurring text, learned from the whole corpus as it loaded
    return Project(settings, corpus, topics, known, corpus.boilerplate)


def load_cached_project(settings: FeedSettings) -> Project:
    """``load_project`` through the configured parse cache, closed afterwards."""
    cache = open_cache(settings)
    try:
        return load_project(settings, cache=cache)
    finally:
        if cache is not None:
            cache.close()


def select(
    project: Project, now: datetime, since: datetime | None = None, keep_rest: bool = False
) -> Selection:
    """The collector's selection for ``project`` at ``now`` (optionally only from ``since``)."""
    from feeds.selection.collector import collect

    settings = project.settings
    return collect(
        project.corpus.records,
        project.topics,
        settings.global_rules(),
        now,
        overrides=settings.topic_rules(),
        since=since,
        keep_rest=keep_rest,
        site=site_vocabulary(settings, project.topics),
        digests=project.corpus.digests,
        known=project.known_pairs,
        boilerplate=project.boilerplate,
        source=project.corpus,
        previous=project.corpus.previous,
    )


def site_vocabulary(settings: FeedSettings, topics: TopicSet) -> Vocabulary:
    """The site's own words (its title; its topics' names, short names and ids): every
    record may use them, so the story rules do not count them as evidence."""
    from feeds.selection.similarity import vocabulary

    names: list[str] = []
    for topic in topics.topics:
        names += [topic.name, topic.shortname or "", topic.id.replace("-", " ")]
    return vocabulary(settings.site.title, names, settings.site.language)
