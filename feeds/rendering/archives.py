"""RFC 5005 archived feeds: older items in immutable Atom archive documents.

With ``archives.enabled``, each feed's subscription document keeps its newest
``max_items``; the qualified items older than that go, oldest first, into
archive pages of ``archives.page_size``. A page, once written, never changes:
the items already on a page are not planned again, and only complete pages are
written — items that do not yet fill a page stay in the subscription document,
so every item is always reachable. Pages link ``current`` (the subscription
document), ``prev-archive`` (the older page) and, when it existed when the page
was written, ``next-archive``; the subscription document links ``prev-archive``
to the newest page. Readers walk the history from the subscription document
backwards, as RFC 5005 §4 describes.

``plan`` is pure; ``read_index`` reads the pages a previous build wrote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from feeds.model import Article
from feeds.urls import story_guid

INDEX = "pages.json"


@dataclass(frozen=True, slots=True)
class Page:
    """An archive page: its number (1 is the oldest) and the GUIDs of its items."""

    # 1 for the oldest page
    number: int
    # item GUIDs, oldest first
    ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one feed's archive looks like after this build."""

    # pages written by earlier builds, kept byte for byte
    kept: tuple[Page, ...]
    # new pages to write, each with its articles (newest first, as feeds list them)
    new: tuple[tuple[Page, tuple[Article, ...]], ...]
    # qualified older items not on any page yet: they stay in the subscription document
    pending: tuple[Article, ...]

    @property
    def pages(self) -> tuple[Page, ...]:
        return self.kept + tuple(page for page, _ in self.new)


def plan(existing: Sequence[Page], rest: Sequence[Article], page_size: int) -> Plan:
    """Place the items ``max_items`` cut (``rest``, newest first) onto archive pages."""
    archived = {guid for page in existing for guid in page.ids}
    waiting = [a for a in reversed(rest) if story_guid(a.key) not in archived]  # oldest first
    number = max((page.number for page in existing), default=0)
    new: list[tuple[Page, tuple[Article, ...]]] = []
    while len(waiting) >= page_size:
        chunk, waiting = waiting[:page_size], waiting[page_size:]
        number += 1
        page = Page(number, tuple(story_guid(a.key) for a in chunk))
        new.append((page, tuple(reversed(chunk))))
    return Plan(tuple(existing), tuple(new), tuple(reversed(waiting)))


def read_index(folder: Path) -> list[Page]:
    """The pages listed in ``folder/pages.json`` whose documents still exist."""
    try:
        data = json.loads((folder / INDEX).read_text(encoding="utf-8"))
        pages = [Page(int(p["number"]), tuple(str(i) for i in p["ids"])) for p in data["pages"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    pages.sort(key=lambda p: p.number)
    # a missing document ends the chain: pages after it are planned again
    kept = []
    for expected, page in enumerate(pages, 1):
        if page.number != expected or not (folder / f"{page.number}.xml").is_file():
            break
        kept.append(page)
    return kept


def read_existing(folder: Path) -> tuple[list[Page], dict[int, bytes]]:
    """The kept pages of one archive folder and their documents' bytes."""
    pages = read_index(folder)
    return pages, {p.number: (folder / f"{p.number}.xml").read_bytes() for p in pages}


def index_bytes(pages: Sequence[Page]) -> bytes:
    """The ``pages.json`` listing."""
    listing = {"pages": [{"number": p.number, "ids": list(p.ids)} for p in pages]}
    return (json.dumps(listing, indent=1) + "\n").encode()
