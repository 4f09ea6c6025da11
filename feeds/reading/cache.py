"""The parse cache: parsed records kept between builds, so a rebuild parses only
what changed.

One SQLite file (``cache`` in config, default ``var/parse-cache.sqlite3``), apart
from the state database: it can be deleted at any time and is rebuilt on the next
build. A row per record file holds its size, mtime (ns), SHA-256, and either the
reason it was rejected or the columns selection needs (``Brief``); the pickled
``Article`` (``bodies``) and its ``Signature`` (``signatures``, kept in date
order, so that the records near a change lie together on disk; parse workers
append theirs to ``arriving``, and each load moves them there in one sorted
pass) are in tables apart, read only for the records a feed shows and those near
a change. A record's ``Article`` is kept only once it was shown, unless the build
reads many records in full (``load_corpus(bodies=...)``: keywords, archives); a
shown record with none is read from its file. A file whose size and mtime match
is taken from the cache; one whose stat changed but whose content hash matches (a
``touch``, a checkout) is taken too, and its stat refreshed; only the rest is
parsed. A change of ``PARSER_VERSION`` or of feedletter's version empties the
cache. A damaged cache file is reported, moved aside and rebuilt. The pickles are
read only from this file, which feedletter itself writes. The tables and the
meta keys are laid out in ``cacheschema``.

Beside the records it keeps the story rules' pairs of the last build
(``story_records``: each record's digest and date; ``story_pairs``), so the next
build compares again only the records near a change (``feeds.selection.pairs``).
Every write to ``records`` adds the rows it writes to a count in the meta
(``WRITTEN``, in the write's own transaction, parse workers' too). A build that
stores its pairs notes beside them the count it finds (``PAIRS_OF``, with the
folder its records are labelled under) when that is the count its load read
plus the load's own writes: nobody else wrote in between, and the load stored
every record it read. The next load that reads that very count is given the
pairs with only what it found changed since (``StoryChanges``), without reading
every record's version back from ``story_records``; any other count (another
command's load, a load that stopped, a failed write) reads them all.
"""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from feeds import __version__
from feeds.model import Signature, StoryChanges, StoryPairs
from feeds.reading.cacheschema import PAIRS_OF, PAIRS_STAMP, SCHEMA, SCHEMA_VERSION, TABLES, WRITTEN
from feeds.reading.records import DEFAULT_LIMITS, PARSER_VERSION, Limits
from feeds.reading.rows import BRIEF, CachedRow, Entry

log = logging.getLogger("feedletter.cache")


def parser_key(limits: Limits = DEFAULT_LIMITS) -> str:
    """What cached entries depend on besides the file: versions and limits."""
    return (
        f"parser {PARSER_VERSION}; feedletter {__version__}; limits {limits.max_record_bytes}/"
        f"{limits.max_excerpt_chars}/{limits.max_title_chars}"
    )


def _write(conn: sqlite3.Connection, changed: Iterable[tuple[str, Entry]]) -> int:
    """Write entries (in the caller's transaction); how many."""
    rows, bodies, signatures, paths = [], [], [], []
    for path, entry in changed:
        stat = (path, entry.size, entry.mtime_ns, entry.sha256, entry.reason)
        rows.append((*stat, *(entry.brief or (None,) * 10)))
        paths.append((path,))
        if entry.payload is not None and entry.brief:
            bodies.append((path, entry.payload))
        if entry.signature is not None and entry.brief:
            signatures.append((entry.brief[3], path, entry.sha256, entry.signature))
    _forget(conn, paths)
    conn.executemany(f"INSERT OR REPLACE INTO records VALUES ({', '.join('?' * 15)})", rows)
    conn.executemany("INSERT OR REPLACE INTO bodies VALUES (?, ?)", bodies)
    conn.executemany("INSERT INTO arriving VALUES (?, ?, ?, ?)", signatures)
    _count(conn, len(rows))
    return len(rows)


def _count(conn: sqlite3.Connection, rows: int) -> None:
    """Add ``rows`` to the rows ever written (in the caller's transaction)."""
    if rows:
        conn.execute(
            "INSERT OR REPLACE INTO meta VALUES (?1, "
            "COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?1), 0) + ?2)",
            (WRITTEN, rows),
        )


def _settle(conn: sqlite3.Connection) -> None:
    """Move the signatures that arrived into their table, in date order (in the
    caller's transaction). Only those made from the file their record row now
    names move: one left by a load that stopped before this point, for a version
    since replaced, is dropped."""
    conn.execute(
        "INSERT OR REPLACE INTO signatures "
        "SELECT a.published_us, a.path, a.sha256, a.signature "
        "FROM arriving AS a CROSS JOIN records AS r "
        "ON r.path = a.path AND r.sha256 = a.sha256 AND r.published_us = a.published_us "
        "ORDER BY a.published_us, a.path"
    )
    conn.execute("DELETE FROM arriving")


def _forget(conn: sqlite3.Connection, paths: Iterable[tuple[str]]) -> None:
    """Remove what is stored of these paths but their ``records`` row (in the caller's
    transaction): a signature is found by the date its record row gives."""
    paths = list(paths)
    conn.executemany(
        "DELETE FROM signatures WHERE path = ?1 AND published_us = "
        "(SELECT published_us FROM records WHERE path = ?1)",
        paths,
    )
    conn.executemany("DELETE FROM bodies WHERE path = ?", paths)


def write_entries(path: Path, changed: Iterable[tuple[str, Entry]]) -> bool:
    """Store entries from another process (a parse worker, so that its records never
    travel to the build's own): a connection of its own, one transaction; whether
    they were stored (if not, the caller hands them on)."""
    try:
        conn = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("BEGIN IMMEDIATE")
            _write(conn, changed)
            conn.execute("COMMIT")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False
    return True


class ParseCache:
    """The cache file; use ``entries`` to read it and ``update`` to write changes."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = path
        # the parser that wrote the entries (``parser_key``) and the tables' version;
        # another empties the cache
        self.made_by = f"{parser_key(limits)}; tables {SCHEMA_VERSION}"
        self.warnings: list[str] = []
        # of the last ``rows``: the rows ever written then, and the root its records
        # are labelled under; what the stored story pairs said they are of
        self._read: tuple[int, str | None] | None = None
        self._pairs_of: str | None = None
        # the rows ever written once this load's own writes are in (None: unknown)
        self._expected: int | None = None
        try:
            self.conn = self._open()
        except sqlite3.DatabaseError as exc:
            damaged = path.with_name(path.name + ".damaged")
            self.warnings.append(
                f"parse cache {path} is damaged ({exc}); moved to {damaged.name} and rebuilt"
            )
            for suffix in ("", "-wal", "-shm"):
                source = Path(str(path) + suffix)
                if source.exists():
                    os.replace(source, Path(str(damaged) + suffix))
            self.conn = self._open()

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(SCHEMA)
            row = conn.execute("SELECT value FROM meta WHERE key = 'stamp'").fetchone()
            if row is None or row[0] != self.made_by:
                if row is not None:
                    self.warnings.append(
                        f"parse cache was made with {row[0]}; now {self.made_by}: "
                        "reparsing everything"
                    )
                # the stamp goes first and comes back last: a crash between leaves
                # a cache that is emptied again
                conn.execute("DELETE FROM meta")
                for table in TABLES:
                    conn.execute(f"DROP TABLE IF EXISTS {table}")
                conn.executescript(SCHEMA)
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (self.made_by,))
            conn.execute("SELECT count(*) FROM records").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def rows(self, root: str | None = None) -> dict[str, CachedRow]:
        """Every cached record, keyed by absolute path, as the row the file holds
        (``CachedRow``: its stat and hash, and its ``Brief`` columns or the reason it
        was rejected; never its pickles): a load compares every record's stat and
        makes a ``Brief`` of each unchanged one straight from its row (an ``Entry``
        each first cost 0.3 s more at 100,000). ``root`` is the folder the load
        labels its records under (``story_pairs``). The rows and what the meta
        says of them are read in one transaction: one moment's."""
        self._read = self._pairs_of = self._expected = None
        try:
            self.conn.execute("BEGIN")
            try:
                meta = dict(
                    self.conn.execute(
                        "SELECT key, value FROM meta WHERE key IN (?, ?)", (WRITTEN, PAIRS_OF)
                    )
                )
                rows = {
                    row[0]: row
                    for row in self.conn.execute(
                        f"SELECT path, size, mtime_ns, sha256, reason, {BRIEF} FROM records"
                    )
                }
            finally:
                self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be read ({exc}); reparsing")
            return {}
        self._read = (int(meta.get(WRITTEN, 0)), root)
        self._pairs_of = meta.get(PAIRS_OF)
        return rows

    def update(
        self,
        changed: Iterable[tuple[str, Entry]],
        removed: Iterable[str],
        touched: Iterable[tuple[str, int, int]] = (),
        elsewhere: int | None = 0,
    ) -> bool:
        """Store new or changed entries, refresh the stat of ``touched`` ones (path,
        size, mtime: their hash matched), forget removed paths and settle the
        signatures parse workers stored (``_settle``), in one transaction; whether
        it was stored. ``elsewhere``: how many rows this load's parse workers wrote
        since ``rows`` (``write_entries``); None when the rows will not be the
        load's records (a file went while it was read)."""
        removed = list(removed)
        self._expected = None
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            written = _write(self.conn, changed)
            self.conn.executemany(
                "UPDATE records SET size = ?, mtime_ns = ? WHERE path = ?",
                ((size, mtime, path) for path, size, mtime in touched),
            )
            _forget(self.conn, ((p,) for p in removed))
            self.conn.executemany("DELETE FROM records WHERE path = ?", ((p,) for p in removed))
            _count(self.conn, len(removed))
            _settle(self.conn)
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            # the cache is an optimisation: a write that fails costs speed, not output
            self.warnings.append(f"parse cache {self.path} could not be written ({exc})")
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            return False
        if self._read is not None and elsewhere is not None:
            self._expected = self._read[0] + elsewhere + written + len(removed)
        return True

    def signatures(self, paths: Iterable[str]) -> dict[str, tuple[bytes, Signature]]:
        """The stored (SHA-256, Signature) of these paths, where there is one that can
        be read (what records said before they changed: read before they are parsed)."""
        found: dict[str, tuple[bytes, Signature]] = {}
        wanted = list(paths)
        try:
            for start in range(0, len(wanted), 500):
                batch = wanted[start : start + 500]
                query = (
                    "SELECT path, s.sha256, signature FROM records JOIN signatures AS s "
                    "USING (published_us, path) "
                    f"WHERE path IN ({', '.join('?' * len(batch))})"
                )
                for path, sha, blob in self.conn.execute(query, batch):
                    try:
                        value = pickle.loads(blob)
                    except Exception:  # another version's pickle: not known, then
                        continue
                    if isinstance(value, Signature):
                        found[path] = (sha, value)
        except sqlite3.DatabaseError:
            return found
        return found

    def story_pairs(
        self, digests: Mapping[str, bytes] | None = None, changes: StoryChanges | None = None
    ) -> StoryPairs | None:
        """The story rules' pairs the last build stored, or None.

        With ``changes`` (what the load found changed since the ``rows`` it read),
        when the pairs stored are those of the rows it read (``PAIRS_OF``: nothing
        but the build that stored them wrote since), only the pairs are read, with
        those changes; else the (digest, date) of every record they were found
        among too. Their paths are interned and a digest equal to the record's in
        ``digests`` is that very object: the load's labels are interned too, so a
        warm build holds each path and digest once (at 100,000 records these
        copies were 33 MB).
        """
        shared = digests or {}
        try:
            stamp = self.get_meta(PAIRS_STAMP)
            if stamp is None:
                return None
            records: dict[str, tuple[bytes, float]] | None = None
            if changes is None or self._pairs_of is None or self._pairs_of != self._of_read():
                records = {}
                for path, sha, when in self.conn.execute(
                    "SELECT path, sha256, stamp FROM story_records"
                ):
                    path = sys.intern(path)
                    same = shared.get(path)
                    records[path] = (same if same is not None and same == sha else sha, when)
            pairs = tuple(
                (sys.intern(earlier), sys.intern(later))
                for earlier, later in self.conn.execute(
                    "SELECT earlier, later FROM story_pairs ORDER BY 1, 2"
                )
            )
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be read ({exc})")
            return None
        return StoryPairs(stamp, records, pairs, changes if records is None else None)

    def _of_read(self) -> str | None:
        """``PAIRS_OF`` of the rows the last ``rows`` read, labelled under its root."""
        if self._read is None or self._read[1] is None:
            return None
        return f"{self._read[0]} {self._read[1]}"

    def save_story_pairs(self, new: StoryPairs, old: StoryPairs | None) -> None:
        """Store ``new`` in place of ``old`` (what ``story_pairs`` returned), writing
        only the rows that differ; failures only cost speed. ``new`` is of the
        records the last load gave (every one). The pairs are said to be those of
        the rows (``PAIRS_OF``) when the rows ever written are what the last
        ``rows`` read and this load's own writes make them: nobody else wrote
        since, and the load stored everything."""
        if old is not None and old.stamp != new.stamp:
            old = None
        # written in path order, the tables' own: rows in the records' date order
        # each landed on a page of their own (a cold million into a new file: 9.0 s;
        # sorted, into tables without a rowid, 4.5 s)
        if new.records is None:  # only what changed: what the stored rows become
            if old is None or new.changes is None:
                return  # nothing to write them onto: the next build compares all
            told = new.changes
            gone = [(p,) for p in sorted(told.then.keys() - told.now.keys())]
            rows = [(p, *told.now[p]) for p in sorted(told.now)]
            every = False
        else:
            every = old is None or old.records is None
            before = old.records if old is not None and old.records is not None else {}
            gone = [(p,) for p in sorted(before.keys() - new.records.keys())]
            rows = [
                (p, *new.records[p])
                for p in sorted(p for p, value in new.records.items() if before.get(p) != value)
            ]
        pairs_before = set(old.pairs) if old is not None else set()
        pairs_now = set(new.pairs)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if every:
                self.conn.execute("DELETE FROM story_records")
            if old is None:
                self.conn.execute("DELETE FROM story_pairs")
            self.conn.executemany("DELETE FROM story_records WHERE path = ?", gone)
            self.conn.executemany("INSERT OR REPLACE INTO story_records VALUES (?, ?, ?)", rows)
            self.conn.executemany(
                "DELETE FROM story_pairs WHERE earlier = ? AND later = ?",
                sorted(pairs_before - pairs_now),
            )
            self.conn.executemany(
                "INSERT OR REPLACE INTO story_pairs VALUES (?, ?)", sorted(pairs_now - pairs_before)
            )
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (PAIRS_STAMP, new.stamp))
            (now,) = self.conn.execute(
                "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM meta WHERE key = ?), 0)",
                (WRITTEN,),
            ).fetchone()
            root = self._read[1] if self._read is not None else None
            if self._expected is not None and now == self._expected and root is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta VALUES (?, ?)", (PAIRS_OF, f"{now} {root}")
                )
            else:
                self.conn.execute("DELETE FROM meta WHERE key = ?", (PAIRS_OF,))
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be written ({exc})")
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def get_meta(self, key: str) -> str | None:
        """A value stored beside the records (e.g. the last build's record)."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError:
            return None
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a value beside the records; failures only cost speed."""
        try:
            self.conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be written ({exc})")

    def close(self) -> None:
        self.conn.close()
