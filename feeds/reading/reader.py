"""The one record reader: a file on disk into a typed outcome.

``read_file`` opens, hashes and parses one record file and says what came of
it: ``Parsed`` (the ``Article``), ``Rejected`` (why not), or ``Unchanged`` (its
bytes hash to the value the caller already knows, so the cached result stands).
The build (``corpus``, sequentially or in worker processes) and the tests read
records through it; ``read_record`` is the same for a caller who wants the
``Article`` or a ``RecordError``. In a worker process the outcome comes back
``Pickled``, as the parse cache stores it.

A file over ``limits.max_record_bytes`` is rejected without being read: its
size and mtime stand in for the content hash.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from feeds.errors import RecordError
from feeds.model import Article
from feeds.reading.records import DEFAULT_LIMITS, Limits, parse_bytes
from feeds.reading.rows import BriefRow, entry_of


@dataclass(frozen=True, slots=True)
class Parsed:
    """The record is usable."""

    # the parsed record
    article: Article


@dataclass(frozen=True, slots=True)
class Rejected:
    """The record cannot be used; the build reports it and goes on."""

    # why, as the build reports it after the path
    reason: str


@dataclass(frozen=True, slots=True)
class Unchanged:
    """The file's bytes hash to the value the caller knows: its earlier result stands."""


@dataclass(frozen=True, slots=True)
class Pickled:
    """A ``Parsed`` or ``Rejected`` outcome as the parse cache stores it, made where
    it was read (``read_file(pickled=True)``, in a worker process): the build
    stores the bytes as they are and uses the ``Brief`` columns, never unpickling
    the Article unless a feed shows it."""

    # pickle of the Article (None when rejected, or not asked for)
    payload: bytes | None
    # pickle of the Article's Signature (None when rejected)
    signature: bytes | None
    # the Article's ``Brief`` columns (``cache.brief_row``; None when rejected)
    brief: BriefRow | None
    # why it was rejected (None when it is usable)
    reason: str | None = None
    # the worker stored it in the parse cache itself (the bytes stayed there)
    stored: bool = False


Outcome = Parsed | Rejected | Unchanged | Pickled


@dataclass(frozen=True, slots=True)
class FileRead:
    """What reading one record file gave."""

    # the file's absolute path
    path: str
    # its size and mtime (ns) when read; -1 when it could not be opened
    size: int
    mtime_ns: int
    # SHA-256 of its bytes (of "size:mtime" for a file too large to read)
    sha256: bytes
    # what came of it
    outcome: Outcome


def size_problem(size: int, limits: Limits) -> str | None:
    """Why a record of ``size`` bytes is refused, or None if it is not."""
    if size > limits.max_record_bytes:
        return (
            f"the file is {size:,} bytes, more than limits.max_record_bytes "
            f"({limits.max_record_bytes:,})"
        )
    return None


def read_file(
    path: str,
    label: str,
    limits: Limits = DEFAULT_LIMITS,
    known: bytes | None = None,
    *,
    pickled: bool = False,
    body: bool = True,
) -> FileRead:
    """Read, hash and (unless the hash is ``known``) parse the record at ``path``;
    ``label`` is the path messages show. ``pickled``: a parse outcome comes back
    ``Pickled`` (without the pickled Article unless ``body``)."""
    try:
        with open(path, "rb") as handle:
            stat = os.fstat(handle.fileno())
            problem = size_problem(stat.st_size, limits)
            if problem:  # never read
                digest = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).digest()
                return _read(path, stat, digest, Rejected(problem), pickled, body)
            # ask for the file's size (+1 to notice growth), not the limit: a 1 MiB
            # read buffer per file costs more than parsing it
            raw = handle.read(min(stat.st_size, limits.max_record_bytes) + 1)
    except OSError as exc:
        return FileRead(path, -1, -1, b"", Rejected(f"cannot read the file: {exc.strerror or exc}"))
    digest = hashlib.sha256(raw).digest()
    if known is not None and digest == known:
        return FileRead(path, stat.st_size, stat.st_mtime_ns, digest, Unchanged())
    return _read(path, stat, digest, _parse(raw, label, limits), pickled, body)


def _parse(raw: bytes, label: str, limits: Limits) -> Parsed | Rejected:
    grown = size_problem(len(raw), limits)  # it grew between the stat and the read
    if grown:
        return Rejected(grown)
    try:
        return Parsed(parse_bytes(raw, label, limits))
    except RecordError as exc:
        return Rejected(exc.reason)


def _read(
    path: str,
    stat: os.stat_result,
    digest: bytes,
    outcome: Parsed | Rejected,
    pickled: bool,
    body: bool,
) -> FileRead:
    shipped: Outcome = outcome
    if pickled:
        value = outcome.article if isinstance(outcome, Parsed) else outcome.reason
        entry = entry_of(stat.st_size, stat.st_mtime_ns, digest, value, body)
        shipped = Pickled(entry.payload, entry.signature, entry.brief, entry.reason)
    return FileRead(path, stat.st_size, stat.st_mtime_ns, digest, shipped)


def read_record(
    path: Path, *, label: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> Article:
    """The ``Article`` in the record at ``path``, or ``RecordError`` naming ``label``."""
    shown = label or str(path)
    outcome = read_file(str(path), shown, limits).outcome
    if isinstance(outcome, Rejected):
        raise RecordError(shown, outcome.reason)
    assert isinstance(outcome, Parsed)  # nothing was known, so it was parsed
    return outcome.article
