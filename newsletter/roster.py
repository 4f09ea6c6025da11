"""The subscriber list as CSV files: the operator's import and the data-rights export.

Rows go through the lifecycle (``subscribers.add``), so an import follows the same
rules as ``subscribers add``: addresses validated, topics checked, the suppression
list honoured. Bad rows are reported by line and skipped.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import SubscriberError
from .state import Db
from .subscribers import add, listing, parse_topics

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


def export_csv(conn: Db, path: Path) -> int:
    """Write every subscriber to ``path`` (CSV, header first); returns how many."""
    rows = listing(conn)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(EXPORT_FIELDS)
    for s in rows:
        values = {**{f: getattr(s, f) for f in EXPORT_FIELDS if f != "topics"}}
        values["topics"] = ",".join(s.topics)
        writer.writerow(["" if values[f] is None else values[f] for f in EXPORT_FIELDS])
    path.write_text(buffer.getvalue(), encoding="utf-8")
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
    """A reader over ``email[,name][,topics]`` rows; ``SubscriberError`` if unusable."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriberError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise SubscriberError(f"{path}: the first line must be a header with an 'email' column")
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
    for row in reader:
        line = reader.line_num
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
