"""Issue variants: one rendering per distinct topic set that readers chose.

A reader who chose no topics gets the default set (``newsletter.topics``, or
every topic); one who chose some gets those, in the issue's section order. Each
distinct set is planned and rendered once (premailer never runs per reader).
The default set is the issue the digest filed (``archive.read_parts``): the mail
is then the issue its web copy shows, and a send whose readers all take the
default needs neither the records nor the renderers. Other sets are rendered
from the records as they are now. Used by ``sending`` (the run and test sends).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from feeds.build.topics import load_topics
from feeds.config import SiteSettings
from feeds.reading.topics import TopicSet
from feeds.rendering.templating import environment
from newsletter.config import Config, NewsletterSettings
from newsletter.issue.archive import ArchivedIssue, IssueInfo
from newsletter.issue.message import MessageParts
from newsletter.issue.plan import Period, plan_issue
from newsletter.issue.render import RenderedIssue, render_issue

if TYPE_CHECKING:
    from feeds.build import Project


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


@dataclass
class ProjectInputs:
    """What a send may read of the project, each loaded once and only when needed:
    the topics (cheap) to know who gets which set, the records only to render a
    set the digest did not file."""

    load_topics: Callable[[], TopicSet]
    load_project: Callable[[], Project]
    _project: Project | None = field(default=None, repr=False)
    _topics: TopicSet | None = field(default=None, repr=False)

    @classmethod
    def of_config(cls, config: Config) -> ProjectInputs:
        """The project of ``config``, through its parse cache, when it is needed."""
        return cls(lambda: load_topics(config), lambda: _cached_project(config))

    @classmethod
    def of(cls, project: Project) -> ProjectInputs:
        """Inputs from a project already loaded."""
        return cls(lambda: project.topics, lambda: project, project, project.topics)

    def topics(self) -> TopicSet:
        if self._topics is None:
            self._topics = self._project.topics if self._project else self.load_topics()
        return self._topics

    def project(self) -> Project:
        if self._project is None:
            self._project = self.load_project()
        return self._project


def _cached_project(config: Config) -> Project:
    # imported only when the records are needed: a send whose readers all take the
    # issue's own parts loads none (nor the build's modules)
    from feeds.build import load_cached_project

    return load_cached_project(config)


def issue_topics(look: IssueLook, topics: TopicSet) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The default topic set (``newsletter.topics``, or all topics) and the order of
    sections: the defaults first, then any other topic a subscriber may choose."""
    known = [t.id for t in topics.topics]
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
    project: Project,
    look: IssueLook,
    period: Period,
    topic_sets: Sequence[tuple[str, ...]],
    dropped: Collection[str] = (),
) -> dict[tuple[str, ...], RenderedIssue | None]:
    """One rendered issue per distinct topic set (None when it has no stories),
    without the stories editors ``dropped``."""
    from feeds.build import select

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
            dropped=dropped,
        )
        variants[topics] = None if plan.is_empty else render_issue(plan, env, look.site, settings)
    return variants


def issue_variants(
    inputs: ProjectInputs,
    look: IssueLook,
    info: IssueInfo,
    topic_sets: Sequence[tuple[str, ...]],
    filed: ArchivedIssue | None,
    dropped: Collection[str] = (),
) -> dict[tuple[str, ...], MessageParts | None]:
    """The message parts for each distinct topic set (None: no stories for it): the
    filed issue for the default set when there is one, the others rendered without
    the ``dropped`` stories (``newsletter.review``; the filed one is already without)."""
    default, _ = issue_topics(look, inputs.topics())
    variants: dict[tuple[str, ...], MessageParts | None] = {}
    rest = []
    for topics in dict.fromkeys(topic_sets):
        if topics == default and filed is not None:
            variants[topics] = filed if info.stories else None
        else:
            rest.append(topics)
    if rest:
        variants.update(render_variants(inputs.project(), look, info.period, rest, dropped))
    return variants
