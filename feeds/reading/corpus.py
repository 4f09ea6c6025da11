"""Load a folder of article records, keeping going past bad ones.

Each file is read by ``feeds.reading.reader`` (the one record reader); a record
that cannot be used is reported (path and reason) in ``Corpus.rejected`` and
skipped. Records are read in sorted path order, so every later stage sees the
same order on every machine.

With a ``ParseCache`` only new or changed files are parsed (see
``feeds.reading.cache``), and the others come back as ``Brief``s, the columns
selection needs; ``Corpus.article`` reads one in full (``feeds.reading.details``).
When many files need parsing, they are parsed in parallel across the machine's
cores (``feeds.reading.parsing``).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from feeds.errors import RecordError
from feeds.model import (
    Article,
    Brief,
    Previous,
    Record,
    Signature,
    SignatureLoader,
    StoryChanges,
)
from feeds.reading.boilerplate import Boilerplate, Learner, lessons
from feeds.reading.cache import ParseCache
from feeds.reading.details import Details
from feeds.reading.parsing import Job, parse_jobs
from feeds.reading.reader import Parsed, Pickled, Rejected, Unchanged
from feeds.reading.records import DEFAULT_LIMITS, Limits
from feeds.reading.rows import (
    EPOCH,
    MICROSECOND,
    Briefs,
    CachedRow,
    Entry,
    entry_of,
    entry_of_row,
)
from feeds.reading.scan import FileStat, scan


@dataclass(frozen=True)
class Corpus:
    """The result of loading a folder of records."""

    # the usable records, in path order: those parsed in this load as ``Article``s,
    # those from the cache as ``Brief``s (``article`` reads one in full)
    records: tuple[Record, ...]
    # the unusable ones, each with its path and reason, in path order
    rejected: tuple[RecordError, ...]
    # how many files were parsed in this load (the others came from the cache)
    parsed: int = 0
    # cache problems worth a warning (the build went on without the cache)
    warnings: tuple[str, ...] = ()
    # each usable record's path -> SHA-256 of its file (what later stages key
    # their own caches by)
    digests: Mapping[str, bytes] = field(default_factory=dict)
    # where what a Brief leaves out is read from (None: every record is an Article)
    details: Details | None = None
    # what records changed or removed in this load said before, where the cache knew
    # (record path -> ``model.Previous``): the story rules compare less with it
    previous: Mapping[str, Previous] = field(default_factory=dict)
    # what each publisher glues to its excerpts, learned from every usable record
    # as it was loaded (``boilerplate.Learner``)
    boilerplate: Boilerplate = field(default_factory=Boilerplate)
    # which records changed, came or went since the parse cache's rows this load
    # read (None without a cache, or when it parsed more than half the records):
    # the story rules' state is updated from it
    changes: StoryChanges | None = None

    @property
    def read(self) -> int:
        """How many record files were read."""
        return len(self.records) + len(self.rejected)

    @functools.cached_property
    def articles(self) -> tuple[Article, ...]:
        """Every usable record in full, in path order (``check`` and tests; a build
        reads in full only what it shows)."""
        return tuple(self.in_full(self.records))

    def article(self, record: Record) -> Article:
        """``record`` in full."""
        if isinstance(record, Article):
            return record
        assert self.details is not None, "a Brief without its details"
        return self.details.article(record)

    def in_full(self, records: Sequence[Record]) -> list[Article]:
        """Each of ``records`` in full, those only the details hold read together."""
        briefs = [r for r in records if not isinstance(r, Article)]
        if briefs:
            assert self.details is not None, "a Brief without its details"
            self.details.in_full(briefs)
        return [self.article(r) for r in records]

    def signatures(self, records: Sequence[Record]) -> list[Signature]:
        """The story rules' ``Signature`` of each of ``records``."""
        if self.details is None or all(isinstance(r, Article) for r in records):
            return [self.article(r).signature for r in records]
        return self.details.signatures(records)

    def loader(self, records: Sequence[Record]) -> SignatureLoader | None:
        """A ``SignatureLoader`` of ``records`` for another process, when the parse
        cache holds them all."""
        return None if self.details is None else self.details.loader(records)


def _label(path: str, base: str) -> str:
    prefix = base + os.sep
    return path[len(prefix) :] if path.startswith(prefix) else path


def _value(outcome: Parsed | Rejected) -> Article | str:
    """What the cache stores of an outcome: the Article, or the rejection reason."""
    return outcome.article if isinstance(outcome, Parsed) else outcome.reason


def load_corpus(
    folder: Path,
    cache: ParseCache | None = None,
    workers: int | None = None,
    files: list[FileStat] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    progress: Callable[[int, int], None] | None = None,
    base: Path | None = None,
    bodies: bool = True,
) -> Corpus:
    """Parse every record under ``folder``, reusing ``cache`` for unchanged files.

    Labels in messages are paths relative to ``base`` (the project folder, where the
    config is, so they open from there: ``content/news/x.md``), default ``folder``'s
    parent; a record outside it is labelled with its absolute path.
    ``workers`` caps the worker processes (default: one per core); ``files`` is a
    scan of ``folder`` the caller already made; ``progress(done, total)`` is
    called as files are parsed. Without ``bodies`` the cache keeps of each record
    parsed only what choosing needs (its columns and signature), not the pickled
    ``Article``: a build that reads in full only the records it shows reads those
    from their files and keeps them then (``details``); pickling and storing every
    Article was some 12 % of a cold 100,000-record build. Without a cache they
    are always kept.
    """
    files = scan(folder) if files is None else files
    # with no cache, what the workers send back is all the load keeps of the records
    # they parsed (``Details`` reads it from there): leaving out their Articles would
    # read every record shown (``check``: every record) again from its file
    bodies = bodies or cache is None
    root = str((base or folder.resolve().parent).resolve())
    rows = cache.rows(root) if cache is not None else {}
    # an unchanged record keeps its row, of which its Brief is made below; the rest
    # are parsed into Entries
    results: dict[str, Entry | CachedRow | _Made] = {}
    briefs = Briefs()
    learner = Learner()
    jobs: list[Job] = []
    for item in files:
        row = rows.get(item.path)
        if row is not None and row[1] == item.size and row[2] == item.mtime_ns:
            results[item.path] = row
        else:
            known = row[3] if row else None
            jobs.append((item.path, _label(item.path, root), known, limits))
    present = {f.path for f in files}
    previous = _previous(cache, rows, [j[0] for j in jobs if j[2] is not None], present, root)
    changed: list[tuple[str, Entry]] = []
    touched: list[tuple[str, int, int]] = []
    in_hand: dict[str, Article | str] = {}  # parsed in this process: used as they are
    parsed = 0
    # for the story rules (``StoryChanges``), when at most half the records are to
    # be parsed (a cold build's would be every record, of no use and held twice):
    # the versions the rows held of each record parsed again or gone, and the
    # labels of those parsed again; the rows this load's workers wrote, and whether
    # the rows will be this load's records once it stores them (not if a file went
    # while it was read)
    track = cache is not None and 2 * len(jobs) <= len(files)
    then: dict[str, tuple[bytes, float]] = {}
    fresh: set[str] = set()
    elsewhere, exact = 0, True
    store = str(cache.path) if cache is not None else None
    reads = zip(jobs, parse_jobs(jobs, workers, store, bodies), strict=True)  # in the jobs' order
    for done, (job, read) in enumerate(reads, 1):
        if progress is not None and (done % 200 == 0 or done == len(jobs)):
            progress(done, len(jobs))
        path = job[0]  # the build's own string, not the copy a worker sent back
        assert read.path == path, "results come back in the jobs' order"
        outcome = read.outcome
        stat = (read.size, read.mtime_ns, read.sha256)
        if isinstance(outcome, Unchanged):  # keep the cached result, refresh the stat
            old = entry_of_row(rows[path])
            results[path] = replace(old, size=read.size, mtime_ns=read.mtime_ns)
            touched.append((path, read.size, read.mtime_ns))
            continue
        parsed += 1
        if track:
            before = rows.get(path)
            if before is not None and before[4] is None:
                then[job[1]] = _version(before)
            fresh.add(job[1])
        exact = exact and read.size >= 0
        if isinstance(outcome, Pickled):
            p = outcome
            elsewhere += p.stored
            if p.stored and p.brief is not None:  # the worker wrote it into the cache:
                # its Brief now, so that a cold build never holds every record's row
                brief = briefs.brief(sys.intern(job[1]), p.brief)
                learner.add(brief.provider, p.brief[9])
                results[path] = _Made(brief, read.sha256)
                continue
            entry = Entry(*stat, p.brief, p.payload, p.signature, p.reason)
            if p.stored:
                results[path] = entry
                continue
        else:
            in_hand[path] = _value(outcome)
            entry = entry_of(*stat, in_hand[path], bodies)
            if cache is None:  # nothing will store it: drop the bytes
                entry = replace(entry, payload=None, signature=None)
        results[path] = entry
        if read.size >= 0:
            changed.append((path, entry))
    warnings: list[str] = []
    stored = False
    if cache is not None:
        removed = [p for p in rows if p not in present]
        for gone in removed if track else ():
            if rows[gone][4] is None:
                then[_label(gone, root)] = _version(rows[gone])
        stored = cache.update(changed, removed, touched, elsewhere if exact else None)
        warnings = list(cache.warnings)
    # what is left to hold is the records' columns: each entry goes as its record is
    # made (unless the bytes must stay at hand, below), so the build never holds
    # every entry and every record at once
    del rows, present, changed, jobs
    records: list[Record] = []
    rejected: list[RecordError] = []
    digests: dict[str, bytes] = {}
    sources: dict[str, str] = {}
    for item in files:
        kept = results.pop(item.path) if stored else results[item.path]
        if isinstance(kept, _Made):
            records.append(kept.brief)
            digests[kept.brief.path] = kept.sha256
            sources[kept.brief.path] = item.path
            continue
        # interned: the stored story pairs name records by label (``story_pairs``)
        label = sys.intern(_label(item.path, root))
        if isinstance(kept, tuple):  # unchanged: its row from the cache
            if kept[4] is None:
                brief = briefs.of_row(label, kept)
                learner.add(brief.provider, kept[14])
                records.append(brief)
                digests[label] = kept[3]
                sources[label] = item.path
            else:
                rejected.append(RecordError(label, kept[4]))
            continue
        entry = kept
        value = in_hand.get(item.path)
        if value is None and entry.brief is not None:
            brief = briefs.brief(label, entry.brief)
            learner.add(brief.provider, entry.brief[9])
            records.append(brief)
            digests[label] = entry.sha256
            sources[label] = item.path
        elif isinstance(value, Article):
            taught = value.lessons
            if taught is None:  # made by hand, not parsed
                taught = lessons(value.excerpt, value.provider)
            learner.add(value.provider, taught)
            records.append(value if value.path == label else replace(value, path=label))
            digests[label] = entry.sha256
        else:
            reason = value if isinstance(value, str) else entry.reason
            assert reason is not None, "a cached record is either usable or rejected"
            rejected.append(RecordError(label, reason))
    # bytes parsed in workers stay at hand only when the cache did not take them
    held = {} if stored else {sources[label]: _entry(results[sources[label]]) for label in sources}
    changes = None
    if track:
        now = {
            r.path: (digests[r.path], r.published_at.timestamp())
            for r in records
            if r.path in fresh
        }
        changes = StoryChanges(then, now)
    details = None
    if sources:
        details = Details(cache.path if cache is not None else None, sources, digests, held, limits)
    return Corpus(
        tuple(records),
        tuple(rejected),
        parsed,
        tuple(warnings),
        digests,
        details,
        previous,
        learner.boilerplate(),
        changes,
    )


def _version(row: CachedRow) -> tuple[bytes, float]:
    """A usable record's (SHA-256, timestamp) as its cache row holds it."""
    return row[3], (EPOCH + row[8] * MICROSECOND).timestamp()


@dataclass(frozen=True, slots=True)
class _Made:
    """A record a worker parsed and stored, made into its Brief as it came back."""

    # the record's Brief
    brief: Brief
    # SHA-256 of its file
    sha256: bytes


def _entry(value: Entry | CachedRow | _Made) -> Entry:
    if isinstance(value, _Made):  # its bytes are in the cache file, not here
        return Entry(-1, -1, value.sha256, None)
    return entry_of_row(value) if isinstance(value, tuple) else value


def _previous(
    cache: ParseCache | None,
    rows: Mapping[str, CachedRow],
    changing: list[str],
    present: set[str],
    root: str,
) -> dict[str, Previous]:
    """What the records about to be parsed again (``changing``) or gone said in the
    cache, before this load replaces them."""
    if cache is None:
        return {}
    paths = [p for p in changing if rows[p][4] is None]
    paths += [p for p, row in rows.items() if p not in present and row[4] is None]
    if not paths:
        return {}
    found = {}
    for path, (sha, said) in cache.signatures(paths).items():
        found[_label(path, root)] = (sha, rows[path][7], said.text)
    return found
