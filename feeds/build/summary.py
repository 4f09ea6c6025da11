"""What a feed build reports: plain data, kept with the record of the build.

Apart from ``run`` so that ``uptodate`` can store and restore it without
importing the build (which imports ``uptodate``). Nothing here computes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class FeedCount:
    """One feed's line in the build summary."""

    # topic name, or "All topics"
    name: str
    # items in the feed
    shown: int
    # distinct stories that qualified before max_items
    qualified: int


@dataclass(frozen=True)
class BuildSummary:
    """What a feed build read, decided and wrote, as plain data (kept with its record)."""

    # record files read
    read: int
    # record files parsed in this build (the rest came from the parse cache)
    parsed: int
    # (path, reason) of every rejected record
    rejected: tuple[tuple[str, str], ...]
    # records that are extra copies of a story another record tells
    duplicates: int
    # topic names used by records that no topic defines
    unknown_topics: tuple[str, ...]
    # the all-topics feed, then every topic's
    feeds: tuple[FeedCount, ...]
    # files written / left unchanged / removed
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    # True when nothing had changed and the build was skipped
    skipped: bool = False
    # stories told by more than one record
    stories: int = 0
    # cache problems (the build went on without the cache)
    warnings: tuple[str, ...] = field(default=())


def skipped(summary: BuildSummary, outputs: int, warnings: tuple[str, ...] = ()) -> BuildSummary:
    """``summary`` of a build as a later one that found nothing changed reports it:
    nothing parsed, written or removed, its ``outputs`` files unchanged."""
    return replace(
        summary,
        parsed=0,
        written=0,
        unchanged=outputs,
        removed=0,
        skipped=True,
        warnings=warnings,
    )
