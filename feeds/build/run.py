"""The feed pipeline: load → select → render → write.

``load_project`` does the reading and ``select`` is the collector (pure; both in
``project``); ``render_outputs`` turns a selection into bytes (pure; ``outputs``);
``plan_feeds`` decides everything a build would write, and ``build_feeds`` applies
that plan with ``feeds.publishing.output``. The digest reuses ``load_project`` and
``select`` so the feeds and the email always show the same selection.

``build_feeds`` skips all of that when nothing it depends on changed since the
last build (see ``feeds.build.uptodate``), and otherwise parses only changed records
(``feeds.reading.cache``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from feeds.build import uptodate
from feeds.build.memo import RenderMemo
from feeds.build.project import Project, load_project, open_cache, select
from feeds.build.summary import BuildSummary, FeedCount, skipped
from feeds.config import FeedSettings
from feeds.publishing.output import Removal, WriteReport, removal, write_tree
from feeds.reading.scan import FileStat, Handoff, scan

if TYPE_CHECKING:
    from feeds.selection.collector import Selection

# Rendering (feedgen, lxml, Jinja2) and the collector are imported where they are
# used: a build that finds nothing changed decides so without loading them.

# whose manifest in output/ lists the files a feed build writes
FEEDS_OWNER = "feeds"


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
    # the fingerprint of every input (``uptodate.fingerprint``), checked in this build
    fingerprint: str = ""
    # when the passage of time alone changes what it wrote (None: never, or no cache)
    valid_until: datetime | None = None


@dataclass(frozen=True)
class FeedPlan:
    """Everything a feed build would write, decided before anything is."""

    # the collector's decision
    selection: Selection
    # every output file's bytes, keyed by its path under output/
    files: dict[str, bytes]
    # what writing them would remove or empty of the published feeds
    removal: Removal


def plan_feeds(project: Project, now: datetime, memo: RenderMemo | None = None) -> FeedPlan:
    """What a build of ``project`` at ``now`` would write (``check`` shows it);
    with a ``memo``, feeds whose inputs did not change are read back, not rendered."""
    from feeds.build.outputs import read_archives, render_outputs

    settings = project.settings
    selection = select(project, now, keep_rest=settings.archives.enabled)
    files = render_outputs(project, selection, read_archives(settings, project.topics), memo)
    return FeedPlan(selection, files, removal(settings.output, files, FEEDS_OWNER))


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


def build_feeds(
    settings: FeedSettings,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
    allow_removal: bool = False,
    files: list[FileStat] | Handoff | None = None,
) -> BuildResult:
    """Load, select, render and write every feed and page; returns what happened.

    When nothing the outputs depend on changed since the last build, the build is
    skipped and the stored summary returned (``summary.skipped``). A build that
    would remove or empty more than half of the published feed files, or every
    topic's, raises ``RemovalError`` before writing anything, unless
    ``allow_removal`` (``Removal``: a typo in a path must not unpublish a site).
    ``files`` is a scan of the records folder the caller already made (handed
    over: the build lets go of it once the records are loaded).
    """
    cache = open_cache(settings)
    try:
        if isinstance(files, Handoff):
            files = files.take()
        files = scan(settings.content.news) if files is None else files
        stamp = uptodate.stamp(settings)
        fingerprint = uptodate.fingerprint(stamp, files)
        if cache is not None:
            previous = uptodate.load(cache, fingerprint, now, settings.output)
            if previous is not None:
                report = WriteReport((), tuple(sorted(previous.outputs)), ())
                summary = skipped(previous.summary, len(previous.outputs), tuple(cache.warnings))
                return BuildResult(summary, None, None, report, fingerprint, previous.until)
        project = load_project(settings, cache=cache, files=files, progress=progress)
        del files  # a handed scan is freed here (its paths live on in the records')
        memo = RenderMemo(cache, settings.output, stamp) if cache is not None else None
        plan = plan_feeds(project, now, memo)
        if plan.removal.drastic and not allow_removal:
            raise plan.removal.error()
        report = write_tree(settings.output, plan.files, owner=FEEDS_OWNER)
        if memo is not None:
            memo.save()
        summary = summarize(project, plan.selection, report)
        until = None
        if cache is not None:
            from feeds.selection.collector import valid_until

            rules = [settings.global_rules(), *settings.topic_rules().values()]
            until = valid_until(project.corpus.records, rules, now)
            uptodate.save(cache, fingerprint, until, settings.output, plan.files, summary)
            if plan.selection.pairs is not None:
                cache.save_story_pairs(plan.selection.pairs, project.known_pairs)
        return BuildResult(summary, project, plan.selection, report, fingerprint, until)
    finally:
        if cache is not None:
            cache.close()
