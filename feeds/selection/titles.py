"""The title rules of stories: same or near-identical titles within the window.

Pure functions over title keys (``feeds.reading.signature.title_key``, computed
when a record is parsed). Titles of fewer than ``MIN_WORDS`` words are too
generic to match by title at all. Two titles match when their keys are equal,
equal without spaces, or near-identical: at most ``NEAR_EDITS`` character edits
on keys of at least ``NEAR_MIN_CHARS`` characters, with the same numbers ("wave
1" is not "wave 2"). Candidates are found by exact keys and, for near-identical
titles, by blocking keys (``near_keys``), so the work stays near-linear in the
number of records; edit distances are computed (rapidfuzz) only for those.
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Sequence

from rapidfuzz.distance import Levenshtein

from feeds.model import Brief, Record
from feeds.reading.signature import title_key
from feeds.selection.chunks import chunks

# titles with fewer words never match by title (too generic)
MIN_WORDS = 4
# near-identical: at most this many character edits between normalised titles
# at least this long
NEAR_EDITS = 2
NEAR_MIN_CHARS = 24
_NUMBER = re.compile(r"\d+")
# positions whose title buckets are held at once (with the window after them), at
# least; a chunk grows with the window (``chunks``)
CHUNK = 8192


def story_title(article: Record) -> str:
    """``article``'s title key: the parsed one, or computed for a hand-made article."""
    if article.story_title or isinstance(article, Brief):  # a Brief's was parsed
        return article.story_title
    return title_key(article.title, article.provider, article.key)


def same_title(mine: str, theirs: str) -> bool:
    """Whether two title keys match by the title rules (module docstring)."""
    if mine.count(" ") + 1 < MIN_WORDS or theirs.count(" ") + 1 < MIN_WORDS:
        return False
    if mine == theirs or mine.replace(" ", "") == theirs.replace(" ", ""):
        return True
    return min(len(mine), len(theirs)) >= NEAR_MIN_CHARS and near(mine, theirs)


def near(a: str, b: str) -> bool:
    """At most ``NEAR_EDITS`` edits apart, with the same numbers."""
    if abs(len(a) - len(b)) > NEAR_EDITS:
        return False
    if Levenshtein.distance(a, b, score_cutoff=NEAR_EDITS) > NEAR_EDITS:
        return False
    return _NUMBER.findall(a) == _NUMBER.findall(b)


def title_pairs(
    keys: Sequence[str], stamps: Sequence[float], window: float, affected: Sequence[bool]
) -> list[tuple[int, int]]:
    """Pairs (earlier, later) of positions (sorted by date) whose titles match
    within ``window`` seconds, for every earlier position that is ``affected``.

    Equal keys pair each record with the next one of the same key in the window
    (the window chains, so that is enough); near-identical ones pair every two in
    a blocking bucket. Either way a record's pairs depend only on the records of
    its own window, so the positions are taken ``CHUNK`` at a time, each chunk's
    buckets holding it and the window after it: the same pairs as one pass over
    everything, with a chunk's buckets in memory instead of every record's
    (those took some 800 bytes a record, measured at 10,000 records)."""
    found: list[tuple[int, int]] = []
    # where the window holds many records, the chunks grow with it (``chunks``), so
    # that the records filed twice stay a bounded share of them
    for low, high, end in chunks(stamps, window, CHUNK):
        if any(affected[low:high]):
            found += _chunk_pairs(keys, stamps, window, affected, low, high, end)
    return found


def _chunk_pairs(
    keys: Sequence[str],
    stamps: Sequence[float],
    window: float,
    affected: Sequence[bool],
    low: int,
    high: int,
    end: int,
) -> list[tuple[int, int]]:
    """``title_pairs`` of the earlier positions in [low, high), from the buckets of
    the positions in [low, end): every position within a window after them."""
    by_title: dict[str, list[int]] = defaultdict(list)
    by_compact: dict[str, list[int]] = defaultdict(list)
    by_part: dict[str, list[int]] = defaultdict(list)
    for index in range(low, end):
        key = keys[index]
        if key.count(" ") + 1 < MIN_WORDS:
            continue
        by_title[key].append(index)
        by_compact[key.replace(" ", "")].append(index)
        if len(key) >= NEAR_MIN_CHARS:
            for part in near_keys(key):
                by_part[part].append(index)
    found = []
    for buckets in (by_title, by_compact):
        for members in buckets.values():
            for before, after in itertools.pairwise(members):  # sorted by date
                if before >= high:
                    break  # the next chunk's
                if affected[before] and stamps[after] - stamps[before] <= window:
                    found.append((before, after))
    for members in by_part.values():
        if len(members) < 2:
            continue
        for position, index in enumerate(members):
            if index >= high:
                break
            if not affected[index]:
                continue
            limit = stamps[index] + window
            key = keys[index]
            for other in members[position + 1 :]:
                if stamps[other] > limit:
                    break
                if near(key, keys[other]):
                    found.append((index, other))
    return found


def buckets(key: str) -> set[str]:
    """Every candidate bucket ``title_pairs`` files a title key under: a record can
    only pair by title with records that share one."""
    if key.count(" ") + 1 < MIN_WORDS:
        return set()
    found = {f"={key}", f"~{key.replace(' ', '')}"}
    if len(key) >= NEAR_MIN_CHARS:
        found.update(near_keys(key))
    return found


def near_keys(key: str) -> list[str]:
    """Blocking keys: two titles within ``NEAR_EDITS`` edits share at least one.

    Up to two edits change at most two of three parts (the first three words,
    the last three, the words between), so one part is shared; a title too short
    to have a middle gets one key per left-out word instead. Near titles must
    have the same numbers, so every key carries them: "wave 1" and "wave 2"
    never even meet.
    """
    numbers = "\0".join(_NUMBER.findall(key))
    words = key.split(" ")
    if len(words) <= 6:
        return [
            " ".join([numbers, "\0gap", *words[:gap], *words[gap + 1 :]])
            for gap in range(len(words))
        ]
    head = key.find(" ", key.find(" ", key.find(" ") + 1) + 1)
    tail = key.rfind(" ", 0, key.rfind(" ", 0, key.rfind(" ")))
    return [
        f"{numbers}\0head {key[:head]}",
        f"{numbers}\0tail {key[tail + 1 :]}",
        f"{numbers}\0body {key[head + 1 : tail]}",
    ]
