"""The subscriber list as CSV files: the operator's import and the data-rights export.

Rows go through the lifecycle (``subscribers.add``), so an import follows the same
rules as ``subscribers add``: addresses validated, topics checked, the suppression
list honoured. Bad rows are reported by line and skipped.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from feeds.errors import FeedletterError
from newsletter.audience.lifecycle import add, listing, parse_topics
from newsletter.audience.notices import NoticeSettings, sign_up_and_notify
from newsletter.errors import ExportError, SubscriberError, UnreadableList
from newsletter.state import Db

EXPORT_FIELDS = (
    "email",
    "name",
    "status",
    "topics",
    "created_at",
    "confirmed_at",
    "consent_source",
    "consent_at",
    "consent_ip",
    "status_reason",
)


# a spreadsheet runs a cell that starts with one of these as a formula (CSV
# injection): such a value is written with a leading apostrophe, which
# spreadsheets show as text and hide
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def cell(value: object) -> str:
    """One exported value, safe to open in a spreadsheet."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv(conn: Db, path: Path) -> int:
    """Write every subscriber to ``path`` (CSV, header first); returns how many.

    The file holds personal data: it is created readable by its owner only (0600)
    and replaced whole. Values a visitor typed (names) or that came from outside
    (bounce replies, client addresses) cannot run as spreadsheet formulas."""
    rows = listing(conn)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for s in rows:
        values = {**{f: getattr(s, f) for f in EXPORT_FIELDS if f != "topics"}}
        values["topics"] = ",".join(s.topics)
        writer.writerow([cell(values[f]) for f in EXPORT_FIELDS])
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(buffer.getvalue())
            os.chmod(temporary, 0o600)  # whatever the umask or an earlier file said
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ExportError(path, exc.strerror or str(exc)) from exc
    return len(rows)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``import_csv`` did."""

    # addresses added
    added: tuple[str, ...]
    # addresses that were already subscribed (updated)
    updated: tuple[str, ...]
    # (line number, problem) for rows that were skipped
    errors: tuple[tuple[int, str], ...]


def read_csv(path: Path) -> csv.DictReader[str]:
    """A reader over ``email[,name][,topics]`` rows; ``UnreadableList`` if unusable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableList(path, f"cannot be read: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise UnreadableList(path, "the first line must be a header with an 'email' column")
    reader.fieldnames = fields
    return reader


def import_csv(
    conn: Db,
    path: Path,
    known: Sequence[str],
    *,
    secret: bytes | None = None,
    reconsent: bool = False,
) -> ImportReport:
    """Import ``email[,name][,topics]`` rows as active readers; bad rows are reported."""
    reader = read_csv(path)
    added: list[str] = []
    updated: list[str] = []
    errors: list[tuple[int, str]] = []
    for line, row in rows_of(reader, errors):
        try:
            topics = parse_topics(row.get("topics") or "", known)
            subscriber, created = add(
                conn,
                row.get("email") or "",
                name=row.get("name") or "",
                topics=topics,
                source="operator",
                secret=secret,
                reconsent=reconsent,
            )
        except SubscriberError as exc:
            errors.append((line, str(exc)))
            continue
        (added if created else updated).append(subscriber.email)
    return ImportReport(tuple(added), tuple(updated), tuple(errors))


# no field of a subscriber row is anywhere near this long (an address is at most
# 320 characters); a longer one is a bad row, not a reason to stop the import
MAX_FIELD = 10_000


def rows_of(
    reader: csv.DictReader[str], errors: list[tuple[int, str]]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line, row) of every readable row; a row the CSV reader cannot read, or with
    an oversized field, is added to ``errors`` and skipped."""
    while True:
        line = reader.line_num + 1  # the reader's count lags on a row it cannot read
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            errors.append((line, f"cannot be read as CSV ({exc})"))
            continue
        if any(len(v or "") > MAX_FIELD for v in row.values() if isinstance(v, str)):
            errors.append((reader.line_num, f"a field is longer than {MAX_FIELD} characters"))
            continue
        yield reader.line_num, row


@dataclass(frozen=True, slots=True)
class ConfirmReport:
    """What ``import_with_confirmation`` did."""

    # rows whose reader was mailed a confirmation link (or an "already subscribed" note)
    mailed: int
    # rows that were mailed nothing (limits, a forgotten address)
    skipped: int
    # (line number, problem) for rows that were refused or whose mail failed
    errors: tuple[tuple[int, str], ...]


def import_with_confirmation(
    conn: Db, config: NoticeSettings, path: Path, known: Sequence[str], secret: bytes
) -> ConfirmReport:
    """``import --confirm``: every row signs up as the form does, and its mail goes out."""
    reader = read_csv(path)
    errors: list[tuple[int, str]] = []
    mailed = skipped = 0
    for line, row in rows_of(reader, errors):
        try:
            decision = sign_up_and_notify(
                conn,
                config,
                secret,
                row.get("email") or "",
                topics=parse_topics(row.get("topics") or "", known),
                name=row.get("name") or "",
                client="import",
                now=datetime.now(UTC),
            )
        except FeedletterError as exc:
            errors.append((line, str(exc)))
            continue
        if decision.subscriber is None:
            skipped += 1
        else:
            mailed += 1
    return ConfirmReport(mailed, skipped, tuple(errors))
