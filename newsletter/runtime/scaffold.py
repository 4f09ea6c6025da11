"""`feedletter init`: lay out a new project from the files in ``scaffold/``.

Writes a commented ``config.yaml``, a copy of the templates to customise, two
sample records, two topics and a square icon for the feeds (``site.icon``).
Refuses to write into a folder that is not empty, so it can never overwrite
someone's work.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from feeds.errors import FeedletterError
from feeds.rendering.templating import DEFAULT_TEMPLATES

SCAFFOLD = Path(__file__).resolve().parent / "starter"
TEMPLATES = DEFAULT_TEMPLATES


def create_project(target: Path) -> list[Path]:
    """Create a project in ``target`` (new or empty); returns the files written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise FeedletterError(f"{target} exists and is not an empty folder; choose a new one")
    if not TEMPLATES.is_dir():
        raise FeedletterError(f"the default templates are missing ({TEMPLATES})")
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(SCAFFOLD / "config.yaml", target / "config.yaml")
    shutil.copytree(SCAFFOLD / "news", target / "content" / "news")
    shutil.copytree(SCAFFOLD / "topics", target / "content" / "topics")
    shutil.copy(SCAFFOLD / "icon.png", target / "content" / "icon.png")
    shutil.copytree(TEMPLATES, target / "templates")
    (target / ".gitignore").write_text("/output/\n/var/\n")
    return sorted(p for p in target.rglob("*") if p.is_file())
