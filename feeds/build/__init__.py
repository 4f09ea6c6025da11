"""The feed build: load → select → render → write, and whether it can be skipped.

``project`` loads a build's inputs (``load_project``) and runs the collector
(``select``); ``topics`` loads the topics alone; ``outputs`` turns a selection
into bytes; ``run`` decides what a build would write (``plan_feeds``) and applies
it (``build_feeds``), skipping all of it when ``uptodate`` proves nothing
changed; ``summary`` is the plain-data account a build gives.

Who may import it: anything. The newsletter loads and selects through these
names so the feeds and the digest always show the same selection. The names load
their module on first use, not on import: a send that needs only the topics
loads none of the record reading.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from feeds.build.project import Project as Project
    from feeds.build.project import load_cached_project as load_cached_project
    from feeds.build.project import load_project as load_project
    from feeds.build.project import open_cache as open_cache
    from feeds.build.project import select as select
    from feeds.build.project import site_vocabulary as site_vocabulary
    from feeds.build.run import BuildResult as BuildResult
    from feeds.build.run import FeedPlan as FeedPlan
    from feeds.build.run import build_feeds as build_feeds
    from feeds.build.run import plan_feeds as plan_feeds
    from feeds.build.topics import load_topics as load_topics

# each name → the module that defines it
_HOMES = {
    "Project": "project",
    "load_cached_project": "project",
    "load_project": "project",
    "open_cache": "project",
    "select": "project",
    "site_vocabulary": "project",
    "BuildResult": "run",
    "FeedPlan": "run",
    "build_feeds": "run",
    "plan_feeds": "run",
    "load_topics": "topics",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:  # a submodule (``from feeds.build import uptodate``) or nothing
        raise AttributeError(f"module 'feeds.build' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"feeds.build.{home}"), name)
    globals()[name] = value
    return value
