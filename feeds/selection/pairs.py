"""The story rules' pairs within the window, found again only where something
changed.

Pure functions; the state they keep between builds (``StoryPairs``) is stored
by the parse cache. ``story_pairs`` returns every pair of records within the
window that the title rules (``titles``) or the content rule
(``similarity.matches``, over slices of the records in date order: ``content``)
join.

Whether a pair is found depends only on the two records and on the records of
the earlier one's window (which title comes next, which words are too common),
so pairs found in an earlier build stay true for every record whose window holds
no changed record. Given the earlier pairs and the files' digests, only the
records whose window [t, t + window] holds a changed record (its old or new
date) are compared again, against the records within a window of a change; the
rest keep their pairs. Which records changed comes from the (digest, date) of
every record then and now, or, when the parse cache vouches that the pairs it
stored are those of the rows a load read, from what that load found changed
(``StoryPairs.changes``), without a map of every record. With no earlier pairs
(a cold build) every record is compared: one code path, and the warm answer is
the cold one by construction (tests compare them through edits, additions,
deletions and renames).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from feeds.model import IN_HAND, Previous, Record, RecordSource, Signature, StoryPairs
from feeds.selection.chunks import chunks
from feeds.selection.content import Shipped, Slice, publisher_key
from feeds.selection.similarity import Vocabulary
from feeds.selection.titles import buckets, story_title, title_pairs

# records whose signatures a build holds at once (and those a window after them),
# at least; a slice grows with the window (``chunks``)
SLICE = 2048
# the rules' own code: a change to it voids the pairs found under the old one
_RULES = [
    Path(__file__).with_name(name)
    for name in ("pairs.py", "content.py", "similarity.py", "titles.py")
]


def rules_stamp(window: float, site: Vocabulary) -> str:
    """What the pairs depend on besides the records: the window, the site's
    vocabulary, and the code of the rule."""
    digest = hashlib.sha256(repr((window, sorted(site.common), site.topics)).encode())
    digest.update(_rules_code())
    return digest.hexdigest()


@functools.cache
def _rules_code() -> bytes:
    """The rules' source, read once per process."""
    return b"".join(path.read_bytes() for path in _RULES)


def story_pairs(
    ranked: Sequence[Record],
    stamps: Sequence[float],
    window: float,
    site: Vocabulary,
    digests: Mapping[str, bytes] | None = None,
    known: StoryPairs | None = None,
    source: RecordSource = IN_HAND,
    previous: Mapping[str, Previous] | None = None,
) -> tuple[list[tuple[int, int]], StoryPairs | None]:
    """Pairs (earlier, later) of indices into ``ranked`` (sorted by date, then key,
    then path; ``stamps`` their timestamps) that the story rules join within
    ``window`` seconds, and the state to pass as ``known`` next time.

    ``digests`` (record path -> SHA-256 of its file) lets the state be kept: without
    it, or without a ``known`` made under the same rules, every record is compared.
    A ``known`` with only ``changes`` (no ``records``) gives back a state of that
    kind: the pairs, and those changes to store.
    ``source`` reads the signatures of the records compared. ``previous`` says what
    changed records said before: a record whose window holds a change is compared
    again only when it shares a title bucket or a word with the change (or when
    what the change said before is not known).
    """
    count = len(ranked)
    stamp = rules_stamp(window, site)
    if known is not None and known.stamp != stamp:
        known = None  # found under other rules: worth nothing now
    position = {a.path: i for i, a in enumerate(ranked)}
    told = _changed(known, ranked, stamps, digests, position) if known is not None else None
    if known is None or told is None:
        every = [True] * count
        found, _ = _compare(ranked, stamps, window, site, every, every, source, [])
        current = _current(ranked, stamps, digests)
        if current is None:
            return found, None
        return found, StoryPairs(stamp, current, _paths(ranked, found))
    found_then, found_now, current = told
    said_before = previous or {}
    dated: list[tuple[float, str, Change]] = []
    for label, value in found_then:
        old = said_before.get(label)
        said = (old[1], old[2]) if old is not None and old[0] == value[0] else None
        dated.append((value[1], label, (value[1], said, None)))
    for label, value in found_now:
        dated.append((value[1], label, (value[1], None, position[label])))
    dated.sort(key=lambda c: (c[0], c[1], c[2][2] is not None))
    changes = [change for _, _, change in dated]
    near, band = _near(stamps, [c[0] for c in changes], window)
    found, affected = _compare(ranked, stamps, window, site, near, band, source, changes)
    found += [
        (position[a], position[b])
        for a, b in known.pairs
        if a in position and b in position and not affected[position[a]]
    ]
    pairs = _paths(ranked, found)
    if current is None:  # only what changed was known: so is the state kept
        return found, StoryPairs(stamp, None, pairs, known.changes)
    return found, StoryPairs(stamp, current, pairs)


def _paths(
    ranked: Sequence[Record], found: Iterable[tuple[int, int]]
) -> tuple[tuple[str, str], ...]:
    """The pairs as (earlier path, later path), sorted."""
    return tuple(sorted({(ranked[a].path, ranked[b].path) for a, b in found}))


# the records that changed, came or went since the known pairs: (their old versions
# and the gone, their new versions and the new, this build's (digest, date) of every
# record or None when only the changes were known)
Told = tuple[
    list[tuple[str, tuple[bytes, float]]],
    list[tuple[str, tuple[bytes, float]]],
    dict[str, tuple[bytes, float]] | None,
]


def _changed(
    known: StoryPairs,
    ranked: Sequence[Record],
    stamps: Sequence[float],
    digests: Mapping[str, bytes] | None,
    position: Mapping[str, int],
) -> Told | None:
    """What changed since the records ``known`` was found among, from the (digest,
    date) of each record then and now, or from ``known.changes``; None when that
    cannot be told (every record is compared)."""
    if known.records is not None:
        current = _current(ranked, stamps, digests)
        if current is None:
            return None
        # each build's (digest, date) per record looked up in the other's (at 100,000
        # records half the time of the dict views' set differences, which hash every item)
        before = known.records
        now_of, then_of = current.get, before.get
        found_then = [item for item in before.items() if now_of(item[0]) != item[1]]
        found_now = [item for item in current.items() if then_of(item[0]) != item[1]]
        return found_then, found_now, current
    told = known.changes
    if told is None or digests is None or len(position) != len(ranked):
        return None  # nothing to go by, or a path twice
    if not all(path in digests for path in position):
        return None  # a record we cannot tell changed or not
    for label, (sha, when) in told.now.items():
        index = position.get(label)
        if index is None or digests[label] != sha or stamps[index] != when:
            return None  # not the records these changes lead to
    if any(label in position for label in told.then.keys() - told.now.keys()):
        return None  # a record said gone is here
    return list(told.then.items()), list(told.now.items()), None


# a changed record: (its date, what its old version said or None when unknown,
# the index of its new version in ``ranked`` or None)
Change = tuple[float, tuple[str, frozenset[str]] | None, int | None]


def _current(
    ranked: Sequence[Record], stamps: Sequence[float], digests: Mapping[str, bytes] | None
) -> dict[str, tuple[bytes, float]] | None:
    if digests is None:
        return None
    current = {}
    for article, when in zip(ranked, stamps, strict=True):
        digest = digests.get(article.path)
        if digest is None or article.path in current:
            return None  # a record we cannot tell changed or not: compare everything
        current[article.path] = (digest, when)
    return current


def _near(
    stamps: Sequence[float], times: Sequence[float], window: float
) -> tuple[list[bool], list[bool]]:
    """Which records (``stamps``, in date order) have a change (``times``) in their
    window [t, t + window], and which within a window either side: the records of
    a range of dates per change, found by bisection (the comparisons written as
    ``_within`` writes them, so a date on a boundary falls the same way)."""
    near = [False] * len(stamps)
    band = [False] * len(stamps)
    for when in times:
        low = bisect.bisect_left(stamps, when, key=lambda t: t + window)  # when <= t + w
        high = bisect.bisect_right(stamps, when)  # t <= when
        near[low:high] = [True] * (high - low)
        high = bisect.bisect_right(stamps, when, key=lambda t: t - window)  # t - w <= when
        band[low:high] = [True] * (high - low)
    return near, band


def _within(changes: Sequence[float], low: float, high: float) -> bool:
    """Whether a changed record's date lies in [low, high]."""
    index = bisect.bisect_left(changes, low)
    return index < len(changes) and changes[index] <= high


def _compare(
    ranked: Sequence[Record],
    stamps: Sequence[float],
    window: float,
    site: Vocabulary,
    near: Sequence[bool],
    band: Sequence[bool],
    source: RecordSource,
    changes: Sequence[Change],
) -> tuple[list[tuple[int, int]], list[bool]]:
    """The matching pairs whose earlier record is affected, and which records are.

    A record is affected when it ``near``s a change (one lies in its window) and
    shares a title bucket or one of its title words with what the change says, now
    or before (``changes``; with none given, every record near one is); candidates
    come from the ``band`` (which holds every affected record's whole window).
    The content rule needs ``TITLE_EVIDENCE`` title words in common, so a
    candidate's title must have that many of the record's own title words, less
    the skipped ones, which might be among them; what the rule asks of each record
    alone is worked out once per record."""
    # every record in a cold build: then the lists as they are, not copies
    every = all(band)
    chosen: Sequence[int] = range(len(ranked)) if every else [i for i, b in enumerate(band) if b]
    affected = [False] * len(ranked)
    if not chosen:
        return [], affected
    times = stamps if every else [stamps[i] for i in chosen]
    keys = [story_title(ranked[i]) for i in chosen]
    records = ranked if every else [ranked[i] for i in chosen]
    # near a change, what each record says decides whether it is compared again;
    # with no changes given (a cold build), signatures are read a slice at a time
    signatures = source.signatures(records) if changes else None
    if signatures is None:
        mine = [near[i] for i in chosen]
    else:
        at = {index: position for position, index in enumerate(chosen)}
        mine = _affected(chosen, times, keys, signatures, near, window, changes, at, site.common)
    for position, yes in enumerate(mine):
        affected[chosen[position]] = yes
    # the slices: the records of each and every record within a window after them;
    # the content rule looks no further, so the slices together find what one pass
    # over everything would, holding only a slice's signatures at a time
    # (where the window holds many records, the slices grow with it: ``chunks``)
    bounds = [
        (low, high, end) for low, high, end in chunks(times, window, SLICE) if any(mine[low:high])
    ]
    # each record's publisher, folded once (not once per candidate pair)
    publishers = [publisher_key(r.provider) for r in records]
    shipped = None
    if signatures is None:  # worker processes compare the slices, if they can read them
        shipped = Shipped.start(bounds, records, times, mine, publishers, window, site, source)
    found = [(chosen[a], chosen[b]) for a, b in title_pairs(keys, times, window, mine)]
    # the signatures last read here, of the records from ``held_from`` on: the window
    # past one slice is the start of the next, read once
    held_from, held = 0, list[Signature]()
    results: Iterable[list[tuple[int, int]] | None] = [None] * len(bounds)
    if shipped is not None:
        results = shipped.results()
    for (low, high, end), result in zip(bounds, results, strict=True):
        if result is None:
            some = signatures[low:end] if signatures is not None else None
            if some is None:
                kept = held[low - held_from : end - held_from] if low >= held_from else []
                some = kept + source.signatures(records[low + len(kept) : end])
                held_from, held = low, some
            slice_ = Slice(publishers[low:end], times[low:end], some, mine[low:high])
            result = slice_.pairs(window, site)
        found += [(chosen[low + a], chosen[low + b]) for a, b in result]
    return found, affected


def _affected(
    chosen: Sequence[int],
    times: Sequence[float],
    keys: Sequence[str],
    signatures: Sequence[Signature],
    near: Sequence[bool],
    window: float,
    changes: Sequence[Change],
    at: Mapping[int, int],
    common: frozenset[str],
) -> list[bool]:
    """Which of the ``chosen`` records must be compared again (``_compare``)."""
    if not changes:
        return [near[i] for i in chosen]
    # what each change says, as (its date, its title buckets, its words); None: unknown
    said: list[tuple[float, set[str], frozenset[str]] | None] = []
    renewed = set()
    for when, old, index in changes:
        if index is not None:
            renewed.add(index)
            position = at[index]
            said.append((when, buckets(keys[position]), signatures[position].text))
        elif old is not None:
            said.append((when, buckets(old[0]), old[1]))
        else:
            said.append(None)
    unknown = sorted(when for (when, _, _), item in zip(changes, said, strict=True) if item is None)
    known = sorted((item for item in said if item is not None), key=lambda item: item[0])
    moments = [item[0] for item in known]
    mine = []
    for position, index in enumerate(chosen):
        if index in renewed:
            mine.append(True)
            continue
        if not near[index]:
            mine.append(False)
            continue
        start = times[position]
        if _within(unknown, start, start + window):
            mine.append(True)
            continue
        mine_buckets = buckets(keys[position])
        title = signatures[position].title - common
        low = bisect.bisect_left(moments, start)
        high = bisect.bisect_right(moments, start + window)
        mine.append(
            any(
                (mine_buckets & item[1]) or not title.isdisjoint(item[2])
                for item in known[low:high]
            )
        )
    return mine
