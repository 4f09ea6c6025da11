"""Issue variants: one rendering per distinct topic set that readers chose.

A reader who chose no topics gets the default set (``newsletter.topics``, or
every topic); one who chose some gets those, in the issue's section order. Each
distinct set is planned and rendered once (premailer never runs per reader).
Used by ``sending`` (the run and test sends); pure apart from reading templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from feeds.build import Project, select
from feeds.config import SiteSettings
from feeds.rendering.templating import environment
from newsletter.config import Config, NewsletterSettings
from newsletter.issue.plan import Period, plan_issue
from newsletter.issue.render import RenderedIssue, render_issue


@dataclass(frozen=True)
class IssueLook:
    """What rendering an issue needs from the config, and nothing else."""

    # site.title, base_url, language: the masthead, links and footer
    site: SiteSettings
    # newsletter.*: subject, items per topic, top stories, default topics, footer
    newsletter: NewsletterSettings
    # the project's templates folder (the packaged ones fill in what it lacks)
    templates: Path

    @classmethod
    def of(cls, config: Config) -> IssueLook:
        return cls(config.site, config.newsletter, config.templates)


def issue_topics(look: IssueLook, project: Project) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The default topic set (``newsletter.topics``, or all topics) and the order of
    sections: the defaults first, then any other topic a subscriber may choose."""
    known = [t.id for t in project.topics.topics]
    default = tuple(look.newsletter.topics or known)
    return default, default + tuple(t for t in known if t not in default)


def variant_topics(
    chosen: Sequence[str], default: Sequence[str], order: Sequence[str]
) -> tuple[str, ...]:
    """The topic set of the issue a reader gets: the ones they ``chose`` (in issue
    order), or the default when they chose none."""
    if not chosen:
        return tuple(default)
    return tuple(t for t in order if t in chosen)


def render_variants(
    project: Project, look: IssueLook, period: Period, topic_sets: Sequence[tuple[str, ...]]
) -> dict[tuple[str, ...], RenderedIssue | None]:
    """One rendered issue per distinct topic set (None when it has no stories)."""
    selection = select(project, now=period.end, since=period.start)
    env = environment(look.templates)
    settings = look.newsletter
    variants: dict[tuple[str, ...], RenderedIssue | None] = {}
    for topics in dict.fromkeys(topic_sets):
        plan = plan_issue(
            selection,
            project.topics,
            period,
            topic_ids=topics,
            items_per_topic=settings.items_per_topic,
            top_stories=settings.top_stories,
        )
        variants[topics] = None if plan.is_empty else render_issue(plan, env, look.site, settings)
    return variants
