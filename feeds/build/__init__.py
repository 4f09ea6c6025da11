"""The feed build: load → select → render → write, and whether it can be skipped.

``project`` loads a build's inputs (``load_project``) and runs the collector
(``select``); ``outputs`` turns a selection into bytes; ``run`` is ``build_feeds``,
which ties them to ``feeds.publishing`` and skips all of it when ``uptodate`` proves
nothing changed; ``summary`` is the plain-data account a build gives.

Who may import it: anything. The newsletter loads and selects through these
names so the feeds and the digest always show the same selection.
"""

from __future__ import annotations

from feeds.build.run import (
    BuildResult,
    Project,
    build_feeds,
    load_cached_project,
    load_project,
    load_topics,
    open_cache,
    removal_of,
    select,
    site_vocabulary,
)

__all__ = [
    "BuildResult",
    "Project",
    "build_feeds",
    "load_cached_project",
    "load_project",
    "load_topics",
    "open_cache",
    "removal_of",
    "select",
    "site_vocabulary",
]
