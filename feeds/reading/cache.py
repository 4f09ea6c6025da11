"""The parse cache: parsed records kept between builds, so a rebuild parses only
what changed.

One SQLite file (``cache`` in config, default ``var/parse-cache.sqlite3``), apart
from the state database: it can be deleted at any time and is rebuilt on the next
build. A row per record file holds its size, mtime (ns), SHA-256 and the parsed
result (the ``Article``, or the rejection reason), pickled. A file whose size and
mtime match is taken from the cache; one whose stat changed but whose content
hash matches (a ``touch``, a checkout) is taken too, and its stat refreshed; only
the rest is parsed. A change of ``PARSER_VERSION`` or of feedletter's version
empties the cache. A damaged cache file is reported, moved aside and rebuilt.
The pickles are read only from this file, which feedletter itself writes.

Beside the records it keeps the content rule's story pairs of the last build
(``story_records``: each record's digest and date; ``story_pairs``), so the next
build compares again only the records near a change (``feeds.selection.content``).
"""

from __future__ import annotations

import logging
import os
import pickle
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from feeds import __version__
from feeds.model import Article, ContentPairs
from feeds.reading.records import DEFAULT_LIMITS, PARSER_VERSION, Limits

log = logging.getLogger("feedletter.cache")

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS story_records (
    path TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL,
    stamp REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS story_pairs (
    earlier TEXT NOT NULL,
    later TEXT NOT NULL,
    PRIMARY KEY (earlier, later)
);
"""
# the meta key of the stamp the stored story pairs were found under
PAIRS_STAMP = "story-pairs-stamp"


@dataclass(frozen=True, slots=True)
class Entry:
    """One cached record."""

    # size in bytes when parsed
    size: int
    # mtime in nanoseconds when parsed
    mtime_ns: int
    # SHA-256 of the file's bytes
    sha256: bytes
    # pickled ``Article`` or rejection reason (``str``)
    payload: bytes

    def value(self) -> Article | str:
        """The cached parse result: an Article, or the reason it was rejected."""
        result: Article | str = pickle.loads(self.payload)
        return result


def parser_key(limits: Limits = DEFAULT_LIMITS) -> str:
    """What cached entries depend on besides the file: versions and limits."""
    return (
        f"parser {PARSER_VERSION}; feedletter {__version__}; limits {limits.max_record_bytes}/"
        f"{limits.max_excerpt_chars}/{limits.max_title_chars}"
    )


class ParseCache:
    """The cache file; use ``entries`` to read it and ``update`` to write changes."""

    def __init__(self, path: Path, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = path
        # the parser that wrote the entries (``parser_key``); another empties the cache
        self.made_by = parser_key(limits)
        self.warnings: list[str] = []
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
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("DELETE FROM records")
                conn.execute("DELETE FROM story_records")
                conn.execute("DELETE FROM story_pairs")
                conn.execute("DELETE FROM meta WHERE key = ?", (PAIRS_STAMP,))
                conn.execute("INSERT OR REPLACE INTO meta VALUES ('stamp', ?)", (self.made_by,))
                conn.execute("COMMIT")
            conn.execute("SELECT count(*) FROM records").fetchone()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def entries(self) -> dict[str, Entry]:
        """Every cached record, keyed by absolute path."""
        try:
            return {
                path: Entry(size, mtime, sha, payload)
                for path, size, mtime, sha, payload in self.conn.execute(
                    "SELECT path, size, mtime_ns, sha256, payload FROM records"
                )
            }
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be read ({exc}); reparsing")
            return {}

    def update(self, changed: Iterable[tuple[str, Entry]], removed: Iterable[str]) -> None:
        """Store new or changed entries and forget removed paths, in one transaction."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?, ?, ?)",
                ((p, e.size, e.mtime_ns, e.sha256, e.payload) for p, e in changed),
            )
            self.conn.executemany("DELETE FROM records WHERE path = ?", ((p,) for p in removed))
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            # the cache is an optimisation: a write that fails costs speed, not output
            self.warnings.append(f"parse cache {self.path} could not be written ({exc})")
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")

    def content_pairs(self) -> ContentPairs | None:
        """The content rule's pairs the last build stored, or None."""
        try:
            stamp = self.get_meta(PAIRS_STAMP)
            if stamp is None:
                return None
            records = {
                path: (sha, when)
                for path, sha, when in self.conn.execute(
                    "SELECT path, sha256, stamp FROM story_records"
                )
            }
            pairs = tuple(self.conn.execute("SELECT earlier, later FROM story_pairs ORDER BY 1, 2"))
        except sqlite3.DatabaseError as exc:
            self.warnings.append(f"parse cache {self.path} could not be read ({exc})")
            return None
        return ContentPairs(stamp, records, pairs)

    def save_content_pairs(self, new: ContentPairs, old: ContentPairs | None) -> None:
        """Store ``new`` in place of ``old`` (what ``content_pairs`` returned), writing
        only the rows that differ; failures only cost speed."""
        if old is not None and old.stamp != new.stamp:
            old = None
        before = old.records if old is not None else {}
        gone = [(p,) for p in before if p not in new.records]
        rows = [(p, *value) for p, value in new.records.items() if before.get(p) != value]
        pairs_before = set(old.pairs) if old is not None else set()
        pairs_now = set(new.pairs)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            if old is None:
                self.conn.execute("DELETE FROM story_records")
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
