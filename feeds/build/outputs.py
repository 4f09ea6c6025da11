"""A selection into the bytes of every output: feeds, archives, pages, OPML.

Pure but for ``read_archives``, which reads the archive pages earlier builds
wrote (they never change once complete). Writing is ``feeds.publishing``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from feeds.build.project import Project
from feeds.config import FeedSettings
from feeds.model import Article
from feeds.reading.topics import TopicSet
from feeds.rendering import archives
from feeds.rendering.archives import Page
from feeds.rendering.layout import locate
from feeds.selection.collector import Selection

if TYPE_CHECKING:
    from feeds.rendering.pages import FeedPage

# The "updated" time of a feed with no entries when the corpus is empty too.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    from feeds.rendering.pages import render_site
    from feeds.rendering.templating import environment

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
    env = environment(settings.templates)
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
