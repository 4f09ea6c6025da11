"""A selection into the bytes of every output: feeds, archives, pages, OPML.

Pure but for ``read_archives``, which reads the archive pages earlier builds
wrote (they never change once complete), and what a ``RenderMemo`` reads back of
the last build's outputs. Writing is ``feeds.publishing``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.build.memo import through
from feeds.build.project import Project
from feeds.config import FeedSettings
from feeds.errors import ConfigError
from feeds.model import EMPTY, Article
from feeds.reading.topics import TopicSet
from feeds.rendering import archives
from feeds.rendering.archives import Page
from feeds.rendering.layout import locate
from feeds.rendering.spec import EntryTopic, FeedSpec
from feeds.selection.collector import Selection

if TYPE_CHECKING:
    from feeds.build.memo import RenderMemo
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
    project: Project,
    selection: Selection,
    archived: ArchiveState | None = None,
    memo: RenderMemo | None = None,
) -> dict[str, bytes]:
    """Every feed, page, archive document and the OPML file, as bytes keyed by path.

    ``archived`` holds the archive pages earlier builds wrote (``read_archives``);
    they are returned unchanged, and only new, complete pages are added. With a
    ``memo``, a feed (or the site pages) whose inputs are those of the last build
    is read back from ``output/`` instead of rendered (``feeds.build.memo``).
    """
    settings = project.settings
    everything, pages = feed_pages(project, selection)
    files: dict[str, bytes] = {}
    if settings.site.icon is not None and settings.site.icon_name is not None:
        files[settings.site.icon_name] = icon_bytes(settings.site.icon)
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
    # what is rendered is what the memo digests: the entries without what only
    # choosing stories needs (their signatures), which no renderer reads
    everything, pages = _shown(everything), [_shown(page) for page in pages]
    categories = {
        tid: EntryTopic(topic.name, locate(settings.site.base_url, tid).page_url)
        for tid, topic in project.topics.by_id.items()
    }
    shown = {a.path for page in (everything, *pages) for a in page.articles}
    shown |= {a.path for p in plans.values() for _, items in p.new for a in items}
    topics_of = {path: [categories[tid] for tid in selection.membership[path]] for path in shown}
    for page in (everything, *pages):
        found = plans.get(page.location.archive_folder)
        numbers = [p.number for p in found.pages] if found else []
        spec = _spec(settings, page, numbers)
        files.update(
            through(
                memo if not (found and found.new) else None,  # new archive pages: rendered
                page.location.feed_id,
                (spec, page.articles, [topics_of[a.path] for a in page.articles]),
                partial(_render_feed, spec, page, found, numbers, topics_of),
            )
        )
        if found is not None and found.pages:
            files[page.location.archive_folder + archives.INDEX] = archives.index_bytes(found.pages)
    subscribe = settings.subscribe_form_url()
    render = partial(_render_site, settings, everything, pages, subscribe)
    files.update(through(memo, "site", (everything, pages, subscribe), render))
    return files


def icon_bytes(path: Path) -> bytes:
    """The bytes of ``site.icon``; a ``ConfigError`` naming the key when unreadable
    (the build stops before writing anything, so the published icon stays)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            "site.icon", f"cannot read {path}: {exc.strerror or exc}; fix the path or set null"
        ) from None


def icon_warning(icon: Path | None) -> str | None:
    """What is wrong with ``site.icon`` for feed readers (None: a square image)."""
    if icon is None:
        return "site.icon is not set: feed readers show a letter instead of your icon"
    import imagesize

    try:
        width, height = imagesize.get(icon)
    except OSError as exc:
        return f"site.icon: cannot read {icon}: {exc.strerror or exc}"
    if width <= 0 or height <= 0:
        return f"site.icon: {icon} is not an image this check can measure"
    if width != height:
        return f"site.icon: {icon} is {width}×{height}, not square; readers crop or squash it"
    if width < 64:
        return f"site.icon: {icon} is {width}×{height}; readers want 64×64 or larger"
    return None


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


def _spec(settings: FeedSettings, page: FeedPage, numbers: list[int]) -> FeedSpec:
    """What a feed says about itself."""
    location = page.location
    return FeedSpec(
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
        icon=settings.site.icon_url,
    )


def _render_feed(
    spec: FeedSpec,
    page: FeedPage,
    found: archives.Plan | None,
    numbers: list[int],
    topics_of: Mapping[str, list[EntryTopic]],
) -> dict[str, bytes]:
    """One feed's documents (Atom, RSS, JSON) and its new archive pages."""
    # imported here: a build that renders nothing never needs feedgen or lxml
    from feeds.rendering.feed import render_feed
    from feeds.rendering.jsonfeed import render_json_feed

    location = page.location
    files: dict[str, bytes] = {}
    atom, rss = render_feed(spec, page.articles, topics_of)
    files[location.atom_path] = atom
    files[location.rss_path] = rss
    files[location.json_path] = render_json_feed(spec, location.json_url, page.articles, topics_of)
    if found is None:
        return files
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
    return files


def _render_site(
    settings: FeedSettings, everything: FeedPage, pages: list[FeedPage], subscribe: str | None
) -> dict[str, bytes]:
    """The index page, the topic pages and the OPML file."""
    # imported here: a build that renders nothing never needs Jinja2
    from feeds.rendering.pages import render_site
    from feeds.rendering.templating import environment

    return render_site(environment(settings.templates), settings.site, everything, pages, subscribe)


def _shown(page: FeedPage) -> FeedPage:
    """``page`` with its entries as the renderers see them."""
    return replace(page, articles=tuple(_as_shown(a) for a in page.articles))


def _as_shown(article: Article) -> Article:
    related = tuple(replace(r, signature=EMPTY) for r in article.related)
    return replace(article, signature=EMPTY, lessons=None, related=related)
