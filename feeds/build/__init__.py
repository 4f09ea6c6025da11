"""The feed build: load → select → render → write, and whether it can be skipped.

``project`` loads a build's inputs (``load_project``) and runs the collector
(``select``); ``outputs`` turns a selection into bytes; ``run`` decides what a
build would write (``plan_feeds``) and applies it (``build_feeds``), skipping all
of it when ``uptodate`` proves nothing changed; ``summary`` is the plain-data
account a build gives.

Who may import it: anything. The newsletter loads and selects through these
names so the feeds and the digest always show the same selection.
"""

from __future__ import annotations

from feeds.build.project import (
    Project,
    load_cached_project,
    load_project,
    load_topics,
    open_cache,
    select,
    site_vocabulary,
)
from feeds.build.run import BuildResult, FeedPlan, build_feeds, plan_feeds

__all__ = [
    "BuildResult",
    "FeedPlan",
    "Project",
    "build_feeds",
    "load_cached_project",
    "load_project",
    "load_topics",
    "open_cache",
    "plan_feeds",
    "select",
    "site_vocabulary",
]
