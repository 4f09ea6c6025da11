"""The content rule over a slice of records, in this process or in worker processes.

``story_pairs`` (``pairs``) cuts the records, in date order, into slices that each
run a window past their own records, and hands each to a ``Slice``: its content
candidates are the later records of a record's window that say one of its own
title words (postings by word, in date order; a word in more than
``CONTENT_POSTINGS`` of them is skipped as too common to find anything), and
``similarity.matches`` decides. In a cold build whose signatures are in the parse
cache, worker processes compare the slices (``Shipped``), reading the signatures
from the cache file themselves, while the build finds the title pairs.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import os
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from feeds import worker_pool
from feeds.model import Provider, Record, RecordSource, Signature, SignatureLoader
from feeds.reading.signature import fold
from feeds.selection.similarity import TITLE_EVIDENCE, Vocabulary, can_match, matches

# a title word in more records than this within one window is not used to find
# content candidates (the pair still needs its other words)
CONTENT_POSTINGS = 200
# from this many slices on, a cold build compares them in worker processes
SHIPPED_SLICES = 3
# a provider as the content rule tells publishers apart (``publisher_key``)
PublisherKey = tuple[str, str] | None
_NONE: frozenset[str] = frozenset()
_EMPTY: list[int] = []


# what a worker process compares: (its signatures' loader, the slice's dates, which
# of its records to compare, their publishers, the window, the site's vocabulary)
SliceJob = tuple[
    SignatureLoader, Sequence[float], Sequence[bool], Sequence[PublisherKey], float, Vocabulary
]


def compare_shipped(job: SliceJob) -> list[tuple[int, int]] | None:
    """A slice's content pairs, in a worker process; None when it cannot read the
    signatures (the build compares that slice itself)."""
    loader, times, mine, publishers, window, site = job
    signatures = loader()
    if signatures is None:
        return None
    return Slice(publishers, times, signatures, mine).pairs(window, site)


class Shipped:
    """Slices being compared in worker processes, while the build finds the title
    pairs: a cold build's story rules on every core, not one (100,000 records:
    most of the time after parsing)."""

    def __init__(self, pool: ProcessPoolExecutor, futures: list[Future[Any]]) -> None:
        self.pool = pool
        self.futures = futures

    @classmethod
    def start(
        cls,
        bounds: Sequence[tuple[int, int, int]],
        records: Sequence[Record],
        times: Sequence[float],
        mine: Sequence[bool],
        publishers: Sequence[PublisherKey],
        window: float,
        site: Vocabulary,
        source: RecordSource,
    ) -> Shipped | None:
        """The slices started in workers; None when they are few, only one core is
        there, or some signatures can be read only here."""
        cores = os.cpu_count() or 1
        if len(bounds) < SHIPPED_SLICES or cores < 2:
            return None
        loaders = [source.loader(records[low:end]) for low, _, end in bounds]
        if any(loader is None for loader in loaders):
            return None
        try:
            pool = worker_pool(cores)
        except OSError:
            return None
        jobs: list[SliceJob] = [
            (loader, times[low:end], mine[low:high], publishers[low:end], window, site)
            for loader, (low, high, end) in zip(loaders, bounds, strict=True)
            if loader is not None
        ]
        try:
            futures = [pool.submit(compare_shipped, job) for job in jobs]
        except (BrokenProcessPool, OSError):
            pool.shutdown(cancel_futures=True)
            return None
        return cls(pool, futures)

    def results(self) -> Iterator[list[tuple[int, int]] | None]:
        """Each slice's pairs, in order; None for a slice the build must compare
        itself (its worker could not read it, or no worker could start)."""
        try:
            for future in self.futures:
                try:
                    yield future.result()
                except (BrokenProcessPool, OSError):
                    yield None
        finally:
            self.pool.shutdown(cancel_futures=True)


class Slice:
    """Consecutive records in date order, compared by the content rule: the first
    ``len(mine)`` where ``mine`` says, against every later one here (the slice runs
    a window past them)."""

    def __init__(
        self,
        publishers: Sequence[PublisherKey],
        times: Sequence[float],
        signatures: Sequence[Signature],
        mine: Sequence[bool],
    ) -> None:
        self.publishers = publishers
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
        publishers = self.publishers
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


def same_publisher(a: Provider | None, b: Provider | None) -> bool:
    """Whether two providers are one publisher (by name or domain); unknown is not."""
    return same_key(publisher_key(a), publisher_key(b))


def publisher_key(provider: Provider | None) -> PublisherKey:
    """(folded name, domain without www.) of a provider; None when unknown."""
    if provider is None:
        return None
    return _key(provider.name, provider.domain)


@functools.lru_cache(maxsize=4096)  # a few hundred publishers write most records
def _key(name: str, domain: str | None) -> PublisherKey:
    # one tuple per publisher, shared by its records (a build holds one per record)
    return fold(name), _domain(domain) if domain else ""


def same_key(a: PublisherKey, b: PublisherKey) -> bool:
    """Whether two ``publisher_key`` values are one publisher."""
    if a is None or b is None:
        return False
    return a[0] == b[0] or bool(a[1] and a[1] == b[1])


def _domain(domain: str) -> str:
    return domain.casefold().removeprefix("www.")
