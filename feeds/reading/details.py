"""What a ``Brief`` leaves out, read when it is needed.

A build chooses its stories from ``Brief``s (the parse cache's columns) and reads
in full only the records it shows, and the story rules' ``Signature`` only of the
records near a change. ``Details`` reads them: from the bytes a worker process
made in this build when the cache did not take them, else from the parse cache
file (through a connection of its own, opened on first use: the build's may be
closed by then, when the digest renders), checking the file's hash is still the
one the record was chosen by; failing both (the cache deleted, an entry another
version wrote), it reads the record file again, and mends the cache entry.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import threading
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

from feeds.errors import RecordError
from feeds.model import Article, Brief, Record, Signature
from feeds.reading.reader import Parsed, Rejected, read_file
from feeds.reading.records import Limits
from feeds.reading.rows import EPOCH, MICROSECOND, Entry, entry_of

log = logging.getLogger("feedletter.cache")

# paths per query when reading many rows
_BATCH = 500
# the signatures of the records of some dates, as (path, SHA-256, pickled Signature)
_SIGNATURES = "SELECT path, sha256, signature FROM signatures WHERE published_us"
# a record's Signature stored, if its row still has the SHA-256 it was made from
_MEND_SIGNATURE = (
    "INSERT OR REPLACE INTO signatures SELECT published_us, path, sha256, ? "
    "FROM records WHERE path = ? AND sha256 = ? AND published_us IS NOT NULL"
)


class Details:
    """Reads records in full, and their signatures (module docstring)."""

    def __init__(
        self,
        cache: Path | None,
        sources: Mapping[str, str],
        digests: Mapping[str, bytes],
        held: Mapping[str, Entry],
        limits: Limits,
    ) -> None:
        # the parse cache file, if any
        self.cache = cache
        # record label -> absolute path of its file, and back
        self.sources = sources
        self.labels = {source: label for label, source in sources.items()}
        # record label -> SHA-256 of the file it was chosen by
        self.digests = digests
        # absolute path -> an entry whose bytes no cache holds
        self.held = held
        self.limits = limits
        # record label -> the Article read in full (each is read once)
        self.read: dict[str, Article] = {}
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def article(self, record: Brief) -> Article:
        """``record`` in full (each is read once: ``in_full``)."""
        article = self.read.get(record.path)
        return article if article is not None else self.in_full([record])[0]

    def in_full(self, records: Sequence[Brief]) -> list[Article]:
        """Each of ``records`` in full, read together: the cache rows in a few queries,
        and the records it could not give read from their files, their entries
        mended in one transaction (one commit each cost a cold 10,000-record build
        0.28 s for its 309 shown records)."""
        wanted = list({r.path: r for r in records if r.path not in self.read}.values())
        sources = [self.sources[r.path] for r in wanted]
        rows = self._rows([s for s in sources if self._held(s, "payload") is None])
        mends: list[tuple[str, Entry]] = []
        for record, source in zip(wanted, sources, strict=True):
            article = self._unpickled(record, self._held(source, "payload") or rows.get(source))
            if article is None:
                article, entry = self._read_file(record)
                if entry is not None:
                    mends.append((source, entry))
            self.read[record.path] = article
        if mends:
            self._mend(mends)
        return [self.read[r.path] for r in records]

    @staticmethod
    def _unpickled(record: Brief, payload: bytes | None) -> Article | None:
        value = _loads(payload)
        if not isinstance(value, Article):
            return None
        return value if value.path == record.path else replace(value, path=record.path)

    def signatures(self, records: Sequence[Record]) -> list[Signature]:
        """Each record's ``Signature``, read in batches."""
        wanted = [r for r in records if isinstance(r, Brief) and self._wanted(r)]
        rows = self._signature_rows(wanted) if wanted else {}
        found = []
        for record in records:
            if isinstance(record, Article):
                found.append(record.signature)
                continue
            source = self.sources[record.path]
            value = _loads(self._held(source, "signature") or rows.get(source))
            if not isinstance(value, Signature):  # gone or stale: from the Article, mended
                value = self.article(record).signature
                if source not in self.held:
                    blob = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
                    self._mend_signature(source, self.digests[record.path], blob)
            found.append(value)
        return found

    def loader(self, records: Sequence[Record]) -> SignatureRows | None:
        """What reads ``records``' signatures from the cache file in another process;
        None when some of them are not there to read (no cache, bytes held here)."""
        if self.cache is None:
            return None
        stamps, paths, digests = array("q"), [], []
        for record in records:
            if not isinstance(record, Brief):
                return None
            source = self.sources[record.path]
            if source in self.held:
                return None
            stamps.append((record.published_at - EPOCH) // MICROSECOND)
            paths.append(source)
            digests.append(self.digests[record.path])
        return SignatureRows(str(self.cache), stamps, tuple(paths), tuple(digests))

    def _wanted(self, record: Brief) -> bool:
        return self._held(self.sources[record.path], "signature") is None

    def _held(self, source: str, column: str) -> bytes | None:
        entry = self.held.get(source)
        if entry is None:
            return None
        return entry.payload if column == "payload" else entry.signature

    def _rows(self, sources: Sequence[str]) -> dict[str, bytes]:
        """The pickled Articles of the cache rows of ``sources`` whose hash is still the
        chosen one."""
        select = "SELECT path, sha256, payload FROM records JOIN bodies USING (path) WHERE path"
        return dict(self._query(select, sources))

    def _signature_rows(self, records: Sequence[Brief]) -> dict[str, bytes]:
        """The pickled Signatures of ``records`` made from the files they were chosen by,
        looked up by date: the table keeps them in date order."""
        wanted = {self.sources[r.path] for r in records}
        stamps = sorted({(r.published_at - EPOCH) // MICROSECOND for r in records})
        return {p: v for p, v in self._query(_SIGNATURES, stamps) if p in wanted}

    def _query(self, select: str, values: Sequence[object]) -> list[tuple[str, bytes]]:
        """(path, value) of each row that ``select`` (path, SHA-256, value; its WHERE
        ends with the column that ``values`` hold) gives for ``values``, a batch at a
        time, whose hash is the one its record was chosen by; none when the cache
        cannot be read."""
        found: list[tuple[str, bytes]] = []
        try:
            with self._lock:
                conn = self._connect()
                if conn is None:
                    return []
                found += [
                    (path, value)
                    for path, sha, value in _batched(conn, select, values)
                    if value is not None
                    and path in self.labels
                    and sha == self.digests[self.labels[path]]
                ]
        except sqlite3.DatabaseError:
            return found
        return found

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is None and self.cache is not None and self.cache.exists():
            self._conn = sqlite3.connect(self.cache, timeout=10, check_same_thread=False)
        return self._conn

    def _read_file(self, record: Brief) -> tuple[Article, Entry | None]:
        """The record read from its file (its cache entry could not be used), and the
        entry to mend the cache with when the file is still the one it was chosen by."""
        source = self.sources[record.path]
        read = read_file(source, record.path, self.limits)
        outcome = read.outcome
        if isinstance(outcome, Rejected):
            raise RecordError(
                record.path, f"it changed while the build ran ({outcome.reason}); build again"
            )
        assert isinstance(outcome, Parsed)  # nothing was known, so it was parsed
        article = outcome.article
        if read.sha256 != self.digests[record.path]:
            return article, None
        return article, entry_of(read.size, read.mtime_ns, read.sha256, article)

    def _mend(self, entries: Sequence[tuple[str, Entry]]) -> None:
        """Store the Articles and Signatures of ``entries`` (absolute path, entry) in
        the cache, in one transaction."""
        bodies, signatures = [], []
        for source, entry in entries:
            assert entry.payload is not None and entry.signature is not None
            bodies.append((entry.payload, source, entry.sha256))
            signatures.append((entry.signature, source, entry.sha256))
        self._store(
            [
                (
                    "INSERT OR REPLACE INTO bodies SELECT path, ? FROM records "
                    "WHERE path = ? AND sha256 = ?",
                    bodies,
                ),
                (_MEND_SIGNATURE, signatures),
            ]
        )

    def _mend_signature(self, source: str, sha256: bytes, signature: bytes) -> None:
        self._store([(_MEND_SIGNATURE, [(signature, source, sha256)])])

    def _store(self, statements: Sequence[tuple[str, Sequence[tuple[object, ...]]]]) -> None:
        """Run mending statements, each over its rows, and commit them together, if
        the cache can take them."""
        try:
            with self._lock:
                conn = self._connect()
                if conn is not None:
                    with conn:  # one transaction: committed, or rolled back
                        for statement, rows in statements:
                            conn.executemany(statement, rows)
        except sqlite3.DatabaseError as exc:
            # the cache is an optimisation: an entry left unmended costs a re-read
            first = next((rows[0][1] for _, rows in statements if rows), "?")
            log.info("parse cache %s: could not mend %s (%s)", self.cache, first, exc)


@dataclass(frozen=True)
class SignatureRows:
    """Reads some records' signatures from the parse cache file, in another process
    (a ``model.SignatureLoader``): each as made from the file its record was chosen
    by, or None when one is not there so (its process reads it then)."""

    # the parse cache file
    cache: str
    # of each record, in the order the signatures are wanted: its date in
    # microseconds since the epoch, its file's path and the SHA-256 it was chosen
    # by (columns, not a tuple per record: a cold build's loaders name every record)
    stamps: array[int]
    paths: tuple[str, ...]
    digests: tuple[bytes, ...]

    def __call__(self) -> list[Signature] | None:
        stamps = sorted(set(self.stamps))
        try:
            uri = f"file:{quote(self.cache)}?mode=ro"
            conn = sqlite3.connect(uri, uri=True, timeout=10)
            try:
                rows = {
                    path: (sha, value) for path, sha, value in _batched(conn, _SIGNATURES, stamps)
                }
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            return None
        found = []
        for path, sha in zip(self.paths, self.digests, strict=True):
            sha_read, blob = rows.get(path, (None, None))
            value = _loads(blob) if sha_read == sha else None
            if not isinstance(value, Signature):
                return None
            found.append(value)
        return found


def _batched(
    conn: sqlite3.Connection, select: str, values: Sequence[object]
) -> Iterator[tuple[str, bytes, bytes | None]]:
    """The rows ``select`` (whose WHERE ends with a column) gives for ``values`` of
    that column, a batch of values per query."""
    for start in range(0, len(values), _BATCH):
        batch = values[start : start + _BATCH]
        yield from conn.execute(f"{select} IN ({', '.join('?' * len(batch))})", batch)


def _loads(payload: bytes | None) -> object:
    if payload is None:
        return None
    try:
        return pickle.loads(payload)
    except Exception:  # another version's pickle: the caller reads the file again
        return None
