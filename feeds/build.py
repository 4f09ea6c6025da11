"""The feed pipeline: load → select → render → write.

``load_project`` does the reading, ``select`` is the collector (pure),
``render_outputs`` turns a selection into bytes (pure), and ``build_feeds`` runs
them and writes with ``feeds.output``. The digest reuses ``load_project`` and
``select`` so the feeds and the email always show the same selection.

``build_feeds`` skips all of that when nothing it depends on changed since the
last build (see ``feeds.stamp``), and otherwise parses only changed records
(``feeds.cache``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from . import stamp
from .cache import ParseCache
from .collector import Selection, collect, valid_until
from .config import FeedSettings
from .corpus import Corpus, FileStat, load_corpus, scan
from .layout import locate
from .model import Article
from .output import WriteReport, write_tree
from .topics import TopicSet, load_topic_files, merge_topics

if TYPE_CHECKING:
    from .site import FeedPage

# The "updated" time of a feed with no entries when the corpus is empty too.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Project:
    """The loaded inputs of a build."""

    # validated settings
    settings: FeedSettings
    # parsed records and rejections
    corpus: Corpus
    # topic definitions, in display order
    topics: TopicSet


@dataclass(frozen=True)
class FeedCount:
    """One feed's line in the build summary."""

    # topic name, or "All topics"
    name: str
    # items in the feed
    shown: int
    # distinct stories that qualified before max_items
    qualified: int


@dataclass(frozen=True)
class BuildSummary:
    """What a feed build read, decided and wrote, as plain data (stored with the stamp)."""

    # record files read
    read: int
    # record files parsed in this build (the rest came from the parse cache)
    parsed: int
    # (path, reason) of every rejected record
    rejected: tuple[tuple[str, str], ...]
    # records dropped as duplicates of a better record of the same story
    duplicates: int
    # topic names used by records that no topic defines
    unknown_topics: tuple[str, ...]
    # the all-topics feed, then every topic's
    feeds: tuple[FeedCount, ...]
    # files written / left unchanged / removed
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    # True when nothing had changed and the build was skipped
    skipped: bool = False
    # cache problems (the build went on without the cache)
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class BuildResult:
    """What a feed build did; ``project`` and ``selection`` are None when it was skipped."""

    # the human summary
    summary: BuildSummary
    # the loaded inputs (None when skipped)
    project: Project | None
    # the collector's decision (None when skipped)
    selection: Selection | None
    # what was written
    report: WriteReport


def open_cache(settings: FeedSettings) -> ParseCache | None:
    """The configured parse cache, or None when ``cache`` is null."""
    if settings.cache is None:
        return None
    return ParseCache(settings.cache, settings.limits.limits())


def load_project(
    settings: FeedSettings,
    cache: ParseCache | None = None,
    files: list[FileStat] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Project:
    """Read the records and topic definitions named by ``settings``."""
    corpus = load_corpus(
        settings.content.news,
        cache=cache,
        files=files,
        limits=settings.limits.limits(),
        progress=progress,
    )
    return Project(settings, corpus, load_topics(settings))


def load_topics(settings: FeedSettings) -> TopicSet:
    """The topic files merged with the topics in config."""
    folder = settings.content.topics
    from_files = load_topic_files(folder) if folder is not None and folder.is_dir() else []
    definitions = [t.definition() for t in settings.topics]
    return merge_topics(from_files, definitions, str(settings.source or "config"))


def select(project: Project, now: datetime, since: datetime | None = None) -> Selection:
    """The collector's selection for ``project`` at ``now`` (optionally only after ``since``)."""
    settings = project.settings
    return collect(
        project.corpus.articles,
        project.topics,
        settings.global_rules(),
        now,
        overrides=settings.topic_rules(),
        since=since,
    )


def summarize(project: Project, selection: Selection, report: WriteReport) -> BuildSummary:
    """The plain-data summary of a full build."""
    corpus = project.corpus
    rows = [
        FeedCount("All topics", len(selection.everything.articles), selection.everything.qualified)
    ]
    rows += [
        FeedCount(project.topics.by_id[t.topic_id].name, len(t.articles), t.qualified)
        for t in selection.topics
        if t.topic_id is not None
    ]
    return BuildSummary(
        read=corpus.read,
        parsed=corpus.parsed,
        rejected=tuple((str(e.path), e.reason) for e in corpus.rejected),
        duplicates=len(selection.duplicates),
        unknown_topics=selection.unknown_topics,
        feeds=tuple(rows),
        written=len(report.written),
        unchanged=len(report.unchanged),
        removed=len(report.removed),
        warnings=corpus.warnings,
    )


def render_outputs(project: Project, selection: Selection) -> dict[str, bytes]:
    """Every feed, page and the OPML file, as bytes keyed by output path."""
    # imported here: a skipped build never needs feedgen, lxml or Jinja2
    from .feedwriter import EntryTopic, FeedSpec, render_feed
    from .jsonfeed import render_json_feed
    from .site import render_site, template_env

    settings = project.settings
    everything, pages = feed_pages(project, selection)
    categories = {
        tid: EntryTopic(topic.name, locate(settings.site.base_url, tid).page_url)
        for tid, topic in project.topics.by_id.items()
    }
    shown = {a.path for page in (everything, *pages) for a in page.articles}
    topics_of = {path: [categories[tid] for tid in selection.membership[path]] for path in shown}
    files: dict[str, bytes] = {}
    for page in (everything, *pages):
        spec = FeedSpec(
            feed_id=page.location.feed_id,
            title=page.title,
            subtitle=page.description,
            page_url=page.location.page_url,
            atom_url=page.location.atom_url,
            rss_url=page.location.rss_url,
            language=settings.site.language,
            updated=page.updated,
            site_title=settings.site.title,
        )
        atom, rss = render_feed(spec, page.articles, topics_of)
        files[page.location.atom_path] = atom
        files[page.location.rss_path] = rss
        files[page.location.json_path] = render_json_feed(
            spec, page.location.json_url, page.articles, topics_of
        )
    env = template_env(settings.templates)
    files.update(render_site(env, settings.site, everything, pages))
    return files


def feed_pages(project: Project, selection: Selection) -> tuple[FeedPage, list[FeedPage]]:
    """The all-topics page and one page per topic, with locations and titles."""
    from .site import feed_page

    site = project.settings.site
    # An empty feed's "updated" is the newest selected article anywhere: stable
    # across rebuilds, unlike the build time.
    newest = selection.everything.articles
    fallback = newest[0].published_at if newest else EPOCH

    def updated(articles: tuple[Article, ...]) -> datetime:
        return articles[0].published_at if articles else fallback  # newest first

    everything = feed_page(
        None,
        site,
        selection.everything,
        locate(site.base_url, None),
        updated(selection.everything.articles),
    )
    pages = [
        feed_page(
            project.topics.by_id[item.topic_id],
            site,
            item,
            locate(site.base_url, item.topic_id),
            updated(item.articles),
        )
        for item in selection.topics
        if item.topic_id is not None
    ]
    return everything, pages


def build_feeds(
    settings: FeedSettings,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Load, select, render and write every feed and page; returns what happened.

    When nothing the outputs depend on changed since the last build, the build is
    skipped and the stored summary returned (``summary.skipped``).
    """
    cache = open_cache(settings)
    try:
        files = scan(settings.content.news)
        fingerprint = stamp.fingerprint(settings, files)
        if cache is not None:
            previous = stamp.load(cache, fingerprint, now, settings.output)
            if previous is not None:
                report = WriteReport((), tuple(sorted(previous.outputs)), ())
                summary = replace(
                    previous.summary,
                    parsed=0,
                    written=0,
                    unchanged=len(previous.outputs),
                    removed=0,
                    skipped=True,
                    warnings=tuple(cache.warnings),
                )
                return BuildResult(summary, None, None, report)
        project = load_project(settings, cache=cache, files=files, progress=progress)
        selection = select(project, now)
        files_out = render_outputs(project, selection)
        report = write_tree(settings.output, files_out, owner="feeds")
        summary = summarize(project, selection, report)
        if cache is not None:
            rules = [settings.global_rules(), *settings.topic_rules().values()]
            until = valid_until(project.corpus.articles, rules, now)
            stamp.save(cache, fingerprint, until, settings.output, files_out, summary)
        return BuildResult(summary, project, selection, report)
    finally:
        if cache is not None:
            cache.close()
