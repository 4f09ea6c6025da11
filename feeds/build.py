"""The feed pipeline: load → select → render → write.

``load_project`` does the reading, ``select`` is the collector (pure),
``render_outputs`` turns a selection into bytes (pure), and ``build_feeds`` runs
them and writes with ``feeds.output``. The digest reuses ``load_project`` and
``select`` so the feeds and the email always show the same selection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from .collector import Selection, collect
from .config import FeedSettings
from .corpus import Corpus, load_corpus
from .feedwriter import EntryTopic, FeedSpec, render_feed
from .layout import locate
from .model import Article
from .output import WriteReport, write_tree
from .site import FeedPage, feed_page, render_site, template_env
from .topics import TopicSet, load_topic_files, merge_topics

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
class BuildResult:
    """What a feed build read, decided and wrote."""

    # the loaded inputs
    project: Project
    # the collector's decision
    selection: Selection
    # what was written
    report: WriteReport


def load_project(settings: FeedSettings) -> Project:
    """Read the records and topic definitions named by ``settings``."""
    corpus = load_corpus(settings.content.news)
    folder = settings.content.topics
    from_files = load_topic_files(folder) if folder is not None and folder.is_dir() else []
    definitions = [t.definition() for t in settings.topics]
    topics = merge_topics(from_files, definitions, str(settings.source or "config"))
    return Project(settings, corpus, topics)


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


def feed_pages(project: Project, selection: Selection) -> tuple[FeedPage, list[FeedPage]]:
    """The all-topics page and one page per topic, with locations and titles."""
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


def render_outputs(project: Project, selection: Selection) -> dict[str, bytes]:
    """Every feed, page and the OPML file, as bytes keyed by output path."""
    settings = project.settings
    everything, pages = feed_pages(project, selection)
    categories = {
        tid: EntryTopic(topic.name, locate(settings.site.base_url, tid).page_url)
        for tid, topic in project.topics.by_id.items()
    }
    topics_of = {
        path: [categories[tid] for tid in tids] for path, tids in selection.membership.items()
    }
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
    env = template_env(settings.templates)
    files.update(render_site(env, settings.site, everything, pages))
    return files


def build_feeds(settings: FeedSettings, now: datetime) -> BuildResult:
    """Load, select, render and write every feed and page; returns what happened."""
    project = load_project(settings)
    selection = select(project, now)
    files = render_outputs(project, selection)
    report = write_tree(settings.output, files, owner="feeds")
    return BuildResult(project, selection, report)
