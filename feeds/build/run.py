"""The feed pipeline: load → select → render → write.

``load_project`` does the reading, ``select`` is the collector (pure),
``render_outputs`` turns a selection into bytes (pure), and ``build_feeds`` runs
them and writes with ``feeds.publishing.output``. The digest reuses ``load_project`` and
``select`` so the feeds and the email always show the same selection.

``build_feeds`` skips all of that when nothing it depends on changed since the
last build (see ``feeds.build.uptodate``), and otherwise parses only changed records
(``feeds.reading.cache``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feeds.build import uptodate as stamp
from feeds.build.summary import BuildSummary, FeedCount
from feeds.config import FeedSettings
from feeds.errors import ConfigError
from feeds.model import Article
from feeds.publishing.output import Removal, WriteReport, removal, write_tree
from feeds.reading.boilerplate import scrub_all
from feeds.reading.cache import ParseCache
from feeds.reading.corpus import Corpus, FileStat, load_corpus, scan
from feeds.reading.topics import TopicSet, load_topic_files, merge_topics
from feeds.rendering import archives
from feeds.rendering.archives import Page
from feeds.rendering.layout import locate
from feeds.selection.collector import Selection, collect, valid_until
from feeds.selection.similarity import Vocabulary, vocabulary

if TYPE_CHECKING:
    from feeds.rendering.pages import FeedPage

# The "updated" time of a feed with no entries when the corpus is empty too.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# whose manifest in output/ lists the files a feed build writes
FEEDS_OWNER = "feeds"


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
    # the fingerprint of every input (``stamp.fingerprint``), checked in this build
    fingerprint: str = ""


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
    corpus = load_corpus(
        settings.content.news,
        cache=cache,
        files=files,
        limits=settings.limits.limits(settings.site.language),
        progress=progress,
        base=settings.source.resolve().parent if settings.source is not None else None,
    )
    # each provider's recurring text, learned from the whole corpus, leaves the excerpts
    corpus = replace(corpus, articles=scrub_all(corpus.articles))
    return Project(settings, corpus, load_topics(settings))


def load_cached_project(settings: FeedSettings) -> Project:
    """``load_project`` through the configured parse cache, closed afterwards."""
    cache = open_cache(settings)
    try:
        return load_project(settings, cache=cache)
    finally:
        if cache is not None:
            cache.close()


def load_topics(settings: FeedSettings) -> TopicSet:
    """The topic files merged with the topics in config.

    A ``content.topics`` that is not a folder is an error (a typo there would take
    every topic feed down); ``null`` means the config defines every topic."""
    folder = settings.content.topics
    if folder is not None and not folder.is_dir():
        raise ConfigError(
            "content.topics",
            f"{folder} is not a folder of topic files: fix the path, or set "
            "content.topics: null when the config's topics are all there is",
            settings.source,
        )
    from_files = load_topic_files(folder) if folder is not None else []
    definitions = [t.definition() for t in settings.topics]
    return merge_topics(from_files, definitions, str(settings.source or "config"))


def select(
    project: Project, now: datetime, since: datetime | None = None, keep_rest: bool = False
) -> Selection:
    """The collector's selection for ``project`` at ``now`` (optionally only from ``since``)."""
    settings = project.settings
    return collect(
        project.corpus.articles,
        project.topics,
        settings.global_rules(),
        now,
        overrides=settings.topic_rules(),
        since=since,
        keep_rest=keep_rest,
        site=site_vocabulary(settings, project.topics),
    )


def site_vocabulary(settings: FeedSettings, topics: TopicSet) -> Vocabulary:
    """The site's own words (its title; its topics' names, short names and ids): every
    record may use them, so the story rules do not count them as evidence."""
    names: list[str] = []
    for topic in topics.topics:
        names += [topic.name, topic.shortname or "", topic.id.replace("-", " ")]
    return vocabulary(settings.site.title, names, settings.site.language)


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
        duplicates=selection.copies_folded,
        stories=len(selection.stories),
        unknown_topics=selection.unknown_topics,
        feeds=tuple(rows),
        written=len(report.written),
        unchanged=len(report.unchanged),
        removed=len(report.removed),
        warnings=corpus.warnings,
    )


ArchiveState = Mapping[str, tuple[list[Page], dict[int, bytes]]]


def read_archives(settings: FeedSettings, topics: TopicSet) -> ArchiveState:
    """The archive pages earlier builds wrote, per archive folder (empty when off)."""
    if not settings.archives.enabled:
        return {}
    base = settings.site.base_url
    folders = [locate(base, None).archive_folder]
    folders += [locate(base, t.id).archive_folder for t in topics.topics]
    return {folder: archives.read_existing(settings.output / folder) for folder in folders}


def render_outputs(
    project: Project, selection: Selection, archived: ArchiveState | None = None
) -> dict[str, bytes]:
    """Every feed, page, archive document and the OPML file, as bytes keyed by path.

    ``archived`` holds the archive pages earlier builds wrote (``read_archives``);
    they are returned unchanged, and only new, complete pages are added.
    """
    # imported here: a skipped build never needs feedgen, lxml or Jinja2
    from feeds.rendering.feed import EntryTopic, FeedSpec, render_feed
    from feeds.rendering.jsonfeed import render_json_feed
    from feeds.rendering.pages import render_site, template_env

    settings = project.settings
    everything, pages = feed_pages(project, selection)
    files: dict[str, bytes] = {}
    plans: dict[str, archives.Plan] = {}
    if settings.archives.enabled:
        by_topic = {t.topic_id: t for t in selection.topics}
        by_topic[None] = selection.everything
        extended = []
        for page in (everything, *pages):
            topic_id = page.topic.id if page.topic else None
            folder = page.location.archive_folder
            kept, documents = (archived or {}).get(folder, ([], {}))
            plan = archives.plan(kept, by_topic[topic_id].rest, settings.archives.page_size)
            plans[folder] = plan
            for number, data in documents.items():
                files[page.location.archive_page_path(number)] = data
            extended.append(replace(page, articles=page.articles + plan.pending))
        everything, pages = extended[0], extended[1:]
    categories = {
        tid: EntryTopic(topic.name, locate(settings.site.base_url, tid).page_url)
        for tid, topic in project.topics.by_id.items()
    }
    shown = {a.path for page in (everything, *pages) for a in page.articles}
    shown |= {a.path for p in plans.values() for _, items in p.new for a in items}
    topics_of = {path: [categories[tid] for tid in selection.membership[path]] for path in shown}
    for page in (everything, *pages):
        location = page.location
        found = plans.get(location.archive_folder)
        numbers = [p.number for p in found.pages] if found else []
        spec = FeedSpec(
            feed_id=location.feed_id,
            title=page.title,
            subtitle=page.description,
            page_url=location.page_url,
            atom_url=location.atom_url,
            rss_url=location.rss_url,
            language=settings.site.language,
            updated=page.updated,
            site_title=settings.site.title,
            links=(("prev-archive", location.archive_page_url(numbers[-1])),) if numbers else (),
            hubs=tuple(settings.websub.hubs),
        )
        atom, rss = render_feed(spec, page.articles, topics_of)
        files[location.atom_path] = atom
        files[location.rss_path] = rss
        files[location.json_path] = render_json_feed(
            spec, location.json_url, page.articles, topics_of
        )
        if found is None:
            continue
        for archive_page, items in found.new:
            number = archive_page.number
            links = [("current", location.atom_url)]
            if number > 1:
                links.append(("prev-archive", location.archive_page_url(number - 1)))
            if number + 1 in numbers:
                links.append(("next-archive", location.archive_page_url(number + 1)))
            archive_spec = replace(
                spec,
                title=f"{page.title} (archive {number})",
                atom_url=location.archive_page_url(number),
                updated=items[0].published_at,
                links=tuple(links),
                archive=True,
                hubs=(),  # an archive document never changes: nothing to push
            )
            document, _ = render_feed(archive_spec, items, topics_of)
            files[location.archive_page_path(number)] = document
        if found.pages:
            files[location.archive_folder + archives.INDEX] = archives.index_bytes(found.pages)
    env = template_env(settings.templates)
    files.update(render_site(env, settings.site, everything, pages, settings.subscribe_form_url()))
    return files


def feed_pages(project: Project, selection: Selection) -> tuple[FeedPage, list[FeedPage]]:
    """The all-topics page and one page per topic, with locations and titles."""
    from feeds.rendering.pages import feed_page

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
    allow_removal: bool = False,
) -> BuildResult:
    """Load, select, render and write every feed and page; returns what happened.

    When nothing the outputs depend on changed since the last build, the build is
    skipped and the stored summary returned (``summary.skipped``). A build that
    would remove or empty more than half of the published feed files, or every
    topic's, raises ``RemovalError`` before writing anything, unless
    ``allow_removal`` (``Removal``: a typo in a path must not unpublish a site).
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
                return BuildResult(summary, None, None, report, fingerprint)
        project = load_project(settings, cache=cache, files=files, progress=progress)
        selection = select(project, now, keep_rest=settings.archives.enabled)
        files_out = render_outputs(project, selection, read_archives(settings, project.topics))
        taken = removal(settings.output, files_out, FEEDS_OWNER)
        if taken.drastic and not allow_removal:
            raise taken.error()
        report = write_tree(settings.output, files_out, owner=FEEDS_OWNER)
        summary = summarize(project, selection, report)
        if cache is not None:
            rules = [settings.global_rules(), *settings.topic_rules().values()]
            until = valid_until(project.corpus.articles, rules, now)
            stamp.save(cache, fingerprint, until, settings.output, files_out, summary)
        return BuildResult(summary, project, selection, report, fingerprint)
    finally:
        if cache is not None:
            cache.close()


def removal_of(project: Project, now: datetime) -> Removal:
    """What a build of ``project`` at ``now`` would remove or empty of the published
    feeds (``check`` reports it without writing)."""
    settings = project.settings
    selection = select(project, now, keep_rest=settings.archives.enabled)
    files = render_outputs(project, selection, read_archives(settings, project.topics))
    return removal(settings.output, files, FEEDS_OWNER)
