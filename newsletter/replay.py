"""A ``feedletter build`` that finds nothing changed, answered before the rest of
feedletter is imported.

A build that finds nothing changed (``feeds.build.uptodate``) still pays for
starting feedletter: importing click, pydantic and the config models and
validating the config cost more than the stat scan it then makes (0.5 s of a
0.75 s no-change build of 10,000 records on the benchmark machine). So a
``build`` run stores in the parse cache what the same command would print run
again with nothing changed, and its exit code (``remember``): what it printed
itself when it found nothing changed (the feeds skipped, the digest unchanged,
nothing pinged), or after it wrote, its summary as a skipped build reports it
(``runtime.sitebuild.as_run_again``); with *witnesses*: digests of everything
the run depended on, observed with the standard library alone (what it reads
before it reads it, what it writes after) —

- the config file's bytes; the environment variables feedletter reads
  (``FEEDLETTER_*``, ``TZ``, and every variable the config names); the Python
  interpreter; the files of the ``feeds`` and ``newsletter`` packages;
- the stat scan of the records (``feeds.reading.scan``), and the size and mtime
  of every file under the topics, templates, output and issues folders and of
  the state database;
- the moment the time alone would change something (the feeds' ``valid_until``,
  the end of the digest period that is due).

The next run with the same arguments in the same folder looks for that record
first (``replay``), reading only the config's ``cache`` key to find the parse
cache. If every witness is as it was, the moment has not come, and no build
holds the work lock, it prints the same lines and exits with the same code;
when it does not, the build takes the records' scan it made (``handed``).
Anything else (other arguments, ``-v``, no cache, a state database on a server,
a witness that differs) runs the command, which checks everything itself;
deleting the parse cache deletes the records too.

Importable from anywhere; imports nothing of feedletter but the scan.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import sys
from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote

from feeds.reading.scan import FileStat, scan

log = logging.getLogger("feedletter.cache")

# ``newsletter.config.DEFAULT_CONFIG`` and ``feeds.config``'s default ``cache``
# (importing those modules is what this one is here to avoid; a test holds them equal)
DEFAULT_CONFIG = "config.yaml"
DEFAULT_CACHE = "var/parse-cache.sqlite3"
# what may follow ``build`` in a run that is replayed (``--config`` takes a value)
FLAGS = frozenset({"--no-digest", "--strict", "-q", "--quiet"})
# environment variables read wherever they are named
PREFIX = "FEEDLETTER_"
ALWAYS = ("TZ",)
# the parse cache's meta key of a replay record, before the digest of its arguments
KEY = "replay "
# one witness: [kind, argument]; its digest is ``observe(witness)``
Witness = list[Any]


def config_of(argv: Sequence[str]) -> Path | None:
    """The config file of a ``build`` run with these arguments, or None when the run
    is not one that is replayed."""
    if not argv or argv[0] != "build":
        return None
    config = DEFAULT_CONFIG
    rest = list(argv[1:])
    while rest:
        arg = rest.pop(0)
        if arg in FLAGS:
            continue
        if arg == "--config" and rest:
            config = rest.pop(0)
        elif arg.startswith("--config="):
            config = arg.removeprefix("--config=")
        else:
            return None
    return Path(config)


def replay(argv: Sequence[str], out: TextIO | None = None, err: TextIO | None = None) -> int | None:
    """Print what the last identical no-change run printed and return its exit code,
    when nothing it depended on changed; else None (run the command)."""
    config = config_of(argv)
    if config is None:
        return None
    record = _recall(config, _key(argv))
    if record is None or not holds(record):
        return None
    (out or sys.stdout).write(record["stdout"])
    (err or sys.stderr).write(record["stderr"])
    return int(record["code"])


def holds(record: dict[str, Any]) -> bool:
    """Whether a replay record still tells what its run would print now."""
    try:
        if record["python"] != _python():
            return False
        until = record["until"]
        if until is not None and datetime.now(UTC) >= datetime.fromisoformat(until):
            return False
        # the cheap ones first: the records' scan only when all else is as it was
        witnesses = sorted(record["witnesses"], key=lambda pair: pair[0][0] == "records")
        if any(observe(witness) != seen for witness, seen in witnesses):
            return False
        return not _locked(record["lock"])
    except (KeyError, TypeError, ValueError):
        return False  # a record of another version


def remember(
    argv: Sequence[str],
    cache: Path,
    observed: Iterable[tuple[Witness, str]],
    until: datetime | None,
    lock: Path | None,
    printed: tuple[str, str, int],
) -> None:
    """Store in the parse cache at ``cache`` what a no-change run with ``argv``
    prints (stdout, stderr, exit code) and its witnesses with what was ``observed``
    of each (``observe``, ``records_witness``): the inputs before the build read
    them, what it wrote after."""
    if config_of(argv) is None:
        return
    stdout, stderr, code = printed
    record = {
        "python": _python(),
        "until": until.isoformat() if until is not None else None,
        "witnesses": [[witness, seen] for witness, seen in observed],
        "lock": str(lock) if lock is not None else None,
        "stdout": stdout,
        "stderr": stderr,
        "code": code,
    }
    try:
        with sqlite3.connect(cache, timeout=10) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", (_key(argv), json.dumps(record))
            )
        conn.close()
    except sqlite3.DatabaseError as exc:
        # only a shortcut: without the record the next run checks everything itself
        log.info("parse cache %s: could not store the replay record (%s)", cache, exc)


def observe(witness: Witness) -> str:
    """The digest of what ``witness`` names, as it is now."""
    kind, argument = witness
    digest = hashlib.sha256(kind.encode())
    if kind == "bytes":
        try:
            digest.update(Path(argument).read_bytes())
        except OSError:
            digest.update(b"\0unreadable")
    elif kind == "file":
        digest.update(_stat(argument))
    elif kind == "tree":
        for path in _files_under(Path(argument)):
            digest.update(path.encode() + b"\0" + _stat(path))
    elif kind == "records":
        try:
            files = scan(Path(argument))
        except Exception:  # not a folder now: the command will say so
            return "unreadable"
        observed = records_witness(Path(argument), files)
        _HANDED[argument] = (files, observed)
        return observed[1]
    elif kind == "env":
        names = sorted({*argument, *ALWAYS, *(k for k in os.environ if k.startswith(PREFIX))})
        for name in names:
            digest.update(f"{name}={os.environ.get(name)!r}\0".encode())
    else:
        raise ValueError(f"unknown witness {kind!r}")
    return digest.hexdigest()


# the last scan of each records folder ``observe`` made, and its witness, for the
# build to take (``handed``) when the run is not answered: one scan either way
_HANDED: dict[str, tuple[list[FileStat], tuple[Witness, str]]] = {}


def records_witness(folder: Path, files: list[FileStat]) -> tuple[Witness, str]:
    """The witness of the records under ``folder`` and its digest, from their scan."""
    digest = hashlib.sha256(b"records")
    digest.update("\0".join([f.path for f in files]).encode())
    digest.update(array("q", [f.size for f in files]).tobytes())
    digest.update(array("q", [f.mtime_ns for f in files]).tobytes())
    return ["records", str(folder)], digest.hexdigest()


def handed(folder: Path) -> tuple[list[FileStat], tuple[Witness, str]] | None:
    """The scan of ``folder`` this process made while deciding not to answer, and
    its witness with what was observed of it (``records_witness``), once."""
    return _HANDED.pop(str(folder), None)


def _key(argv: Sequence[str]) -> str:
    return KEY + hashlib.sha256(json.dumps([list(argv), os.getcwd()]).encode()).hexdigest()


def _python() -> list[str]:
    return [sys.version, sys.executable]


def _stat(path: str) -> bytes:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return b"absent"
    except OSError:
        return b"unreadable"
    return f"{stat.st_size}:{stat.st_mtime_ns}".encode()


def _files_under(folder: Path) -> list[str]:
    """Every file under ``folder`` but compiled bytecode, sorted."""
    found = []
    for top, folders, names in os.walk(folder):
        folders[:] = [name for name in folders if name != "__pycache__"]
        found += [os.path.join(top, name) for name in names if not name.endswith(".pyc")]
    return sorted(found)


def _recall(config: Path, key: str) -> dict[str, Any] | None:
    """The replay record under ``key`` in the parse cache that ``config`` names."""
    import yaml

    try:
        data = yaml.load(config.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError):
        return None
    cache = data.get("cache", DEFAULT_CACHE) if isinstance(data, dict) else None
    if not isinstance(cache, str):
        return None  # no parse cache (or not one this can tell)
    path = config.resolve().parent / cache
    try:
        conn = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        finally:
            conn.close()
        record = json.loads(row[0]) if row else None
    except (sqlite3.DatabaseError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _locked(lock: str | None) -> bool:
    """Whether a build holds the work lock now (``state.locks``)."""
    if lock is None or not os.path.exists(lock):
        return False
    import fcntl

    try:
        with open(lock, "rb") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError:
        return True
    return False
