"""Chunks of records in date order, each with the window after it.

The story rules pair a record only with records of its own window, so they take
the records in date order a chunk at a time, each chunk held with the records of
a window past its last one. Those are held twice (once as the next chunk), so a
chunk grows until the window past it is at most ``share`` of it: where the
records lie denser (a million records over the same three years as 100,000), the
chunks grow with them and the records held twice stay a bounded share instead of
growing with the density (a million generated records: 4.1 million signatures
read for the content rule with slices of 2,048, 1.2 million with slices grown
this way). Pure functions.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator, Sequence

# the share of a chunk the window after it may hold before the chunk grows
OVERLAP = 0.25


def chunks(
    stamps: Sequence[float], window: float, size: int, share: float | None = None
) -> Iterator[tuple[int, int, int]]:
    """Consecutive ranges of positions (``stamps``: ascending timestamps) as
    (low, high, end): the chunk [low, high), of at least ``size`` positions (but
    the last), doubled until the positions of the window after it, [high, end),
    are at most ``share`` (default ``OVERLAP``) of its own; [low, end) holds every
    position within ``window`` seconds after one of the chunk's."""
    share = OVERLAP if share is None else share
    count, low = len(stamps), 0
    while low < count:
        high = min(count, low + size)
        end = bisect.bisect_right(stamps, stamps[high - 1] + window, lo=high)
        while end - high > share * (high - low):
            high = min(count, low + 2 * (high - low))
            end = bisect.bisect_right(stamps, stamps[high - 1] + window, lo=high)
        yield low, high, end
        low = high
