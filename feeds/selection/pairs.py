"""The story rules' pairs within the window, found again only where something
changed.

Pure functions; the state they keep between builds (``StoryPairs``) is stored
by the parse cache. ``story_pairs`` returns every pair of records within the
window that the title rules (``titles``) or the content rule
(``similarity.matches``) join. Content candidates are the later records of a
record's window that say one of its own title words (postings by word, in date
order; a word in more than ``CONTENT_POSTINGS`` of them is skipped as too common
to find anything).

Whether a pair is found depends only on the two records and on the records of
the earlier one's window (which title comes next, which words are too common),
so pairs found in an earlier build stay true for every record whose window holds
no changed record. Given the earlier pairs and the files' digests, only the
records whose window [t, t + window] holds a changed record (its old or new
date) are compared again, against the records within a window of a change; the
rest keep their pairs. With no earlier pairs (a cold build) every record is
compared: one code path, and the warm answer is the cold one by construction
(tests compare them through edits, additions, deletions and renames).
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import itertools
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from feeds.model import (
    IN_HAND,
    Previous,
    Provider,
    Record,
    RecordSource,
    Signature,
    StoryPairs,
)
from feeds.reading.signature import fold
from feeds.selection.similarity import TITLE_EVIDENCE, Vocabulary, can_match, matches
from feeds.selection.titles import buckets, story_title, title_pairs

# a title word in more records than this within one window is not used to find
# content candidates (the pair still needs its other words)
CONTENT_POSTINGS = 200
# records whose signatures a build holds at once (and those a window after them)
SLICE = 2048
_NONE: frozenset[str] = frozenset()
_EMPTY: list[int] = []
# the rules' own code: a change to it voids the pairs found under the old one
_RULES = [Path(__file__).with_name(name) for name in ("pairs.py", "similarity.py", "titles.py")]


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
    ``source`` reads the signatures of the records compared. ``previous`` says what
    changed records said before: a record whose window holds a change is compared
    again only when it shares a title bucket or a word with the change (or when
    what the change said before is not known).
    """
    count = len(ranked)
    stamp = rules_stamp(window, site)
    current = _current(ranked, stamps, digests)
    if current is None or known is None or known.stamp != stamp:
        every = [True] * count
        found, _ = _compare(ranked, stamps, window, site, every, every, source, [])
    else:
        before = known.records
        changes: list[Change] = []
        for label, value in before.items():
            if current.get(label) != value:
                old = (previous or {}).get(label)
                said = (old[1], old[2]) if old is not None and old[0] == value[0] else None
                changes.append((value[1], said, None))
        for index, article in enumerate(ranked):
            value = current[article.path]
            if before.get(article.path) != value:
                changes.append((value[1], None, index))
        changes.sort(key=lambda c: c[0])
        times = [c[0] for c in changes]
        near = [_within(times, t, t + window) for t in stamps]
        band = [_within(times, t - window, t + window) for t in stamps]
        found, affected = _compare(ranked, stamps, window, site, near, band, source, changes)
        position = {a.path: i for i, a in enumerate(ranked)}
        found += [
            (position[a], position[b])
            for a, b in known.pairs
            if a in position and b in position and not affected[position[a]]
        ]
    if current is None:
        return found, None
    pairs = tuple(sorted({(ranked[a].path, ranked[b].path) for a, b in found}))
    return found, StoryPairs(stamp, current, pairs)


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
    chosen = [i for i in range(len(ranked)) if band[i]]
    affected = [False] * len(ranked)
    if not chosen:
        return [], affected
    at = {index: position for position, index in enumerate(chosen)}
    times = [stamps[i] for i in chosen]
    keys = [story_title(ranked[i]) for i in chosen]
    records = [ranked[i] for i in chosen]
    # near a change, what each record says decides whether it is compared again;
    # with no changes given (a cold build), signatures are read a slice at a time
    signatures = source.signatures(records) if changes else None
    if signatures is None:
        mine = [near[i] for i in chosen]
    else:
        mine = _affected(chosen, times, keys, signatures, near, window, changes, at, site.common)
    for position, yes in enumerate(mine):
        affected[chosen[position]] = yes
    found = [(chosen[a], chosen[b]) for a, b in title_pairs(keys, times, window, mine)]
    low = 0
    # the signatures last read, of the records from ``held_from`` on: the window
    # past one slice is the start of the next, read once
    held_from, held = 0, list[Signature]()
    while low < len(chosen):
        # the records of a slice and every record within a window after them: the
        # content rule looks no further, so the slices together find what one pass
        # over everything would, holding only a slice's signatures at a time
        high = min(len(chosen), low + SLICE)
        end = bisect.bisect_right(times, times[high - 1] + window, lo=high)
        if any(mine[low:high]):
            some = signatures[low:end] if signatures is not None else None
            if some is None:
                kept = held[low - held_from : end - held_from] if low >= held_from else []
                some = kept + source.signatures(records[low + len(kept) : end])
                held_from, held = low, some
            slice_ = _Slice(records[low:end], times[low:end], some, mine[low:high])
            found += [(chosen[low + a], chosen[low + b]) for a, b in slice_.pairs(window, site)]
        low = high
    return found, affected


class _Slice:
    """Consecutive records in date order, compared by the content rule: the first
    ``len(mine)`` where ``mine`` says, against every later one here (the slice runs
    a window past them)."""

    def __init__(
        self,
        records: Sequence[Record],
        times: Sequence[float],
        signatures: Sequence[Signature],
        mine: Sequence[bool],
    ) -> None:
        self.records = records
        self.times = times
        self.signatures = signatures
        self.mine = mine

    def pairs(self, window: float, site: Vocabulary) -> list[tuple[int, int]]:
        """The content rule's pairs (positions in the slice, earlier first)."""
        times, signatures, common = self.times, self.signatures, site.common
        mine = list(self.mine) + [False] * (len(signatures) - len(self.mine))
        able = [can_match(signature, site) for signature in signatures]
        postings: dict[str, list[int]] = defaultdict(list)  # word -> positions, by date
        # the same, apart by the numbers the titles name: two records that both name
        # numbers must name the same ones (similarity.matches), so a record naming
        # some need only look among records naming those or none. Only numbers that
        # more than one record here names are posted: a record whose numbers no
        # other names can only meet records naming none (most titles with a number
        # have their own, and posting each of their words cost half of this pass)
        numbered: dict[tuple[str, frozenset[str]], list[int]] = defaultdict(list)
        shared = Counter(s.numbers for s in signatures)
        # only title words are looked up: the rest of what records say need no postings
        asked = set().union(*(s.title for s, ok in zip(signatures, mine, strict=True) if ok))
        asked -= common
        for position, signature in enumerate(signatures):
            numbers = signature.numbers
            posted_too = not numbers or shared[numbers] > 1
            for word in signature.text & asked:
                postings[word].append(position)
                if posted_too:
                    numbered[(word, numbers)].append(position)
        named = [site.named(s) if ok else [] for s, ok in zip(signatures, able, strict=True)]
        # each record's publisher, folded once (not once per candidate pair)
        publishers = [_publisher_key(r.provider) for r in self.records]
        found = []
        for position, signature in enumerate(signatures):
            if not mine[position] or not able[position]:
                continue
            title = signature.title - common
            if len(title) < 2:
                continue  # too little of its own to say (similarity.MIN_TITLE_WORDS)
            end = bisect.bisect_right(times, times[position] + window, lo=position)
            runs = []
            skipped = 0
            numbers = signature.numbers
            # the numbers its candidates may name: its own (when another record here
            # names them) or none
            allowed = ((numbers, _NONE) if shared[numbers] > 1 else (_NONE,)) if numbers else ()
            for word in title:
                posted = postings[word]
                start = bisect.bisect_right(posted, position)
                stop = bisect.bisect_right(posted, end - 1, lo=start)
                if stop - start > CONTENT_POSTINGS:
                    skipped += 1
                    continue
                if not numbers:
                    runs.append(posted[start:stop])
                    continue
                for theirs in allowed:
                    posted = numbered.get((word, theirs), _EMPTY)
                    start = bisect.bisect_right(posted, position)
                    runs.append(posted[start : bisect.bisect_right(posted, end - 1, lo=start)])
            need = TITLE_EVIDENCE - skipped
            hits = Counter(itertools.chain.from_iterable(runs))
            for other in sorted(o for o, seen in hits.items() if seen >= need):
                if not able[other] or same_key(publishers[position], publishers[other]):
                    continue
                if matches(signature, signatures[other], site, named[position], named[other]):
                    found.append((position, other))
        return found


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


def same_publisher(a: Provider | None, b: Provider | None) -> bool:
    """Whether two providers are one publisher (by name or domain); unknown is not."""
    return same_key(_publisher_key(a), _publisher_key(b))


def _publisher_key(provider: Provider | None) -> tuple[str, str] | None:
    """(folded name, domain without www.) of a provider; None when unknown."""
    if provider is None:
        return None
    return _folded(provider.name), _domain(provider.domain) if provider.domain else ""


@functools.lru_cache(maxsize=4096)  # a few hundred publishers write most records
def _folded(name: str) -> str:
    return fold(name)


def same_key(a: tuple[str, str] | None, b: tuple[str, str] | None) -> bool:
    """Whether two ``_publisher_key`` values are one publisher."""
    if a is None or b is None:
        return False
    return a[0] == b[0] or bool(a[1] and a[1] == b[1])


def _domain(domain: str) -> str:
    return domain.casefold().removeprefix("www.")
