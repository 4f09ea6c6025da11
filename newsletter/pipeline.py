"""The digest pipeline: select (the collector) → plan → render → write.

``make_issue`` asks the feeds' own ``select`` for the period's articles, so the
digest and the feeds always agree, then plans and renders the issue.
``write_issue`` writes the issue's folder and refreshes the archive index and
feed, atomically. This module ties stages together; it holds no logic of its own
beyond that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from feeds.build import Project, select
from feeds.errors import ConfigError, EmptyIssueError
from feeds.output import WriteReport, write_tree
from feeds.site import template_env

from .archive import archive_files, issue_files, issue_info, read_issues
from .config import Config
from .digest import Period, period_ending, plan_issue
from .render import RenderedIssue, render_issue


@dataclass(frozen=True)
class DigestResult:
    """A rendered and written issue."""

    # the rendered issue
    issue: RenderedIssue
    # what was written
    report: WriteReport

    @property
    def html_bytes(self) -> int:
        """Size of the inlined HTML part (placeholders in place)."""
        return len(self.issue.html.encode())


def issue_period(config: Config, end: datetime | date) -> Period:
    """The period of the issue ending at ``end`` (a date means the end of that day, UTC)."""
    return period_ending(end, config.newsletter.period_days)


def make_issue(
    project: Project, config: Config, period: Period, *, force: bool = False
) -> RenderedIssue:
    """Select, plan and render the issue for ``period``.

    Raises ``EmptyIssueError`` when nothing qualifies, unless ``force``.
    """
    settings = config.newsletter
    known = project.topics.by_id
    for tid in settings.topics or []:
        if tid not in known:
            raise ConfigError(
                "newsletter.topics", f"{tid!r} is not a topic; known: {', '.join(known)}"
            )
    selection = select(project, now=period.end, since=period.start)
    plan = plan_issue(
        selection,
        project.topics,
        period,
        topic_ids=settings.topics,
        items_per_topic=settings.items_per_topic,
        top_stories=settings.top_stories,
    )
    if plan.is_empty and not force:
        raise EmptyIssueError(
            period.issue_id, f"{period.start:%Y-%m-%d %H:%M}", f"{period.end:%Y-%m-%d %H:%M} UTC"
        )
    return render_issue(plan, template_env(config.templates), config.site, settings)


def write_issue(config: Config, issue: RenderedIssue) -> DigestResult:
    """Write the issue folder and the refreshed archive index and feed."""
    files = issue_files(issue, config.newsletter, config.site)
    issues = [i for i in read_issues(config.output) if i.id != issue.issue_id]
    issues.append(issue_info(issue))
    files.update(archive_files(issues, template_env(config.templates), config.site))
    return DigestResult(issue, write_tree(config.output, files))
