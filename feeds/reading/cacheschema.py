"""The parse cache's tables, and what the keys of its meta say.

``cache`` owns the file and every statement on it; this is the shape it has,
apart so that the tables can be read in one place: a row per record file
(``records``: stat, hash, and the ``Brief`` columns or why it was rejected), the
pickles read for a few records (``bodies``, ``signatures`` and ``arriving``), and
the story rules' pairs of the last build (``story_records``, ``story_pairs``).
``SCHEMA_VERSION`` changes whenever any of it does, and a cache of another
version is emptied (``cache.ParseCache``).
"""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    -- why the record was rejected; NULL for a usable one
    reason TEXT,
    -- what selection needs (Brief); NULL for a rejected record
    title TEXT,
    url_key TEXT,
    title_key TEXT,
    published_us INTEGER,
    published INTEGER,
    quality INTEGER,
    topics TEXT,
    provider_name TEXT,
    provider_domain TEXT,
    lessons BLOB
);
-- apart, so that reading every record's columns stays small
CREATE TABLE IF NOT EXISTS bodies (
    path TEXT PRIMARY KEY,
    -- the whole Article, pickled (read for the records shown)
    payload BLOB NOT NULL
);
-- the story rules' Signature, pickled, read for the records near a change: stored
-- in date order, so a build reads the few pages its changes' windows lie on and
-- not one page per record scattered over the whole file (12,000 signatures read
-- from an uncached file: 1.5 s by path, 0.13 s by date)
CREATE TABLE IF NOT EXISTS signatures (
    published_us INTEGER NOT NULL,
    path TEXT NOT NULL,
    -- the SHA-256 of the file it was made from
    sha256 BLOB NOT NULL,
    signature BLOB NOT NULL,
    PRIMARY KEY (published_us, path)
) WITHOUT ROWID;
-- signatures as parse workers write them, in the order they come, moved into
-- ``signatures`` in one sorted pass when the load stores its changes: inserted
-- one by one at their dates, each dirtied a page of its own (a million of them:
-- 75 s; appended here and moved in date order: 19 s)
CREATE TABLE IF NOT EXISTS arriving (
    published_us INTEGER NOT NULL,
    path TEXT NOT NULL,
    sha256 BLOB NOT NULL,
    signature BLOB NOT NULL
);
-- (without a rowid: a row is written once, in its key's B-tree, not twice)
CREATE TABLE IF NOT EXISTS story_records (
    path TEXT PRIMARY KEY,
    sha256 BLOB NOT NULL,
    stamp REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS story_pairs (
    earlier TEXT NOT NULL,
    later TEXT NOT NULL,
    PRIMARY KEY (earlier, later)
) WITHOUT ROWID;
"""
# bumped whenever the tables above change, or what the meta says of them (7: the
# rows ever written, and which rows the stored story pairs are of)
SCHEMA_VERSION = 7
TABLES = ("records", "bodies", "signatures", "arriving", "story_records", "story_pairs")
# the meta key of the stamp the stored story pairs were found under
PAIRS_STAMP = "story-pairs-stamp"
# the meta key of how many ``records`` rows were ever written or deleted: every
# write adds its rows, in its own transaction (``_write``, ``ParseCache.update``;
# a stat refreshed is not counted: nothing the story pairs depend on changes)
WRITTEN = "records-written"
# the meta key saying of which rows the stored story pairs are: "<WRITTEN> <root>",
# stored with the pairs when nothing but the build that found them wrote since the
# rows it read (``ParseCache.save_story_pairs``)
PAIRS_OF = "story-pairs-of"
