"""Subscribers: add, remove, list, import, unsubscribe — against the state database.

Addresses are validated and normalised with email-validator (syntax only, no DNS).
Topics are validated against the known topic ids; an empty topic list means all
topics. The library raises ``SubscriberError``; the CLI prints.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from .errors import SubscriberError
from .state import transaction


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One row of the subscribers table."""

    # stable id (never reused)
    id: int
    # normalised address
    email: str
    # display name, possibly empty
    name: str
    # topic ids the subscriber wants, in config order; empty = all topics
    topics: tuple[str, ...]
    # "active" or "unsubscribed"
    status: str


def normalise_address(value: str) -> str:
    """The normalised form of an address; ``SubscriberError`` if it is not one."""
    if any(ch in value for ch in "\r\n\x00") or len(value) > 320:
        raise SubscriberError(f"{value[:80]!r} is not an email address")
    try:
        # no SMTPUTF8: every relay accepts an ASCII address (IDN domains in punycode)
        result = validate_email(value.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        raise SubscriberError(f"{value!r} is not an email address: {exc}") from None
    return str(result.ascii_email or result.normalized)


def parse_topics(value: str | Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    """Topic ids from ``a,b`` (or a list), checked against ``known``, in ``known`` order."""
    items = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    wanted = {item.strip() for item in items if item.strip()}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise SubscriberError(
            f"unknown topic(s) {', '.join(unknown)}; known topics: {', '.join(known)}"
        )
    return tuple(t for t in known if t in wanted)


def _row(row: sqlite3.Row) -> Subscriber:
    topics = tuple(t for t in row["topics"].split(",") if t)
    return Subscriber(row["id"], row["email"], row["name"], topics, row["status"])


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def add(
    conn: sqlite3.Connection,
    email: str,
    *,
    name: str = "",
    topics: Sequence[str] = (),
) -> tuple[Subscriber, bool]:
    """Add or re-activate a subscriber; returns it and whether it is new."""
    address = normalise_address(email)
    clean_name = " ".join(name.split())[:200]
    with transaction(conn):
        row = conn.execute("SELECT * FROM subscribers WHERE email = ?", (address,)).fetchone()
        if row is None:
            conn.execute(
                "INSERT INTO subscribers (email, name, topics, created_at) VALUES (?, ?, ?, ?)",
                (address, clean_name, ",".join(topics), _now()),
            )
            created = True
        else:
            conn.execute(
                "UPDATE subscribers SET name = ?, topics = ?, status = 'active', "
                "unsubscribed_at = NULL WHERE id = ?",
                (clean_name or row["name"], ",".join(topics), row["id"]),
            )
            created = False
    found = get(conn, address)
    assert found is not None
    return found, created


def get(conn: sqlite3.Connection, email: str) -> Subscriber | None:
    """The subscriber with this address, if any."""
    row = conn.execute("SELECT * FROM subscribers WHERE email = ?", (email.strip(),)).fetchone()
    return _row(row) if row else None


def by_id(conn: sqlite3.Connection, subscriber_id: int) -> Subscriber | None:
    """The subscriber with this id, if any."""
    row = conn.execute("SELECT * FROM subscribers WHERE id = ?", (subscriber_id,)).fetchone()
    return _row(row) if row else None


def remove(conn: sqlite3.Connection, email: str) -> Subscriber:
    """Delete a subscriber (the send log keeps its rows); ``SubscriberError`` if unknown."""
    found = get(conn, email)
    if found is None:
        raise SubscriberError(f"{email} is not a subscriber")
    with transaction(conn):
        conn.execute("DELETE FROM subscribers WHERE id = ?", (found.id,))
    return found


def unsubscribe(conn: sqlite3.Connection, subscriber_id: int) -> bool:
    """Mark a subscriber unsubscribed; returns False if they already were (or are gone)."""
    with transaction(conn):
        cursor = conn.execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ? "
            "WHERE id = ? AND status = 'active'",
            (_now(), subscriber_id),
        )
    return cursor.rowcount == 1


def listing(conn: sqlite3.Connection, *, active_only: bool = False) -> list[Subscriber]:
    """Every subscriber (or only active ones), by address."""
    query = "SELECT * FROM subscribers"
    if active_only:
        query += " WHERE status = 'active'"
    return [_row(r) for r in conn.execute(query + " ORDER BY email")]


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What ``import_csv`` did."""

    # addresses added
    added: tuple[str, ...]
    # addresses that were already subscribed (updated)
    updated: tuple[str, ...]
    # (line number, problem) for rows that were skipped
    errors: tuple[tuple[int, str], ...]


def import_csv(conn: sqlite3.Connection, path: Path, known: Sequence[str]) -> ImportReport:
    """Import ``email[,name][,topics]`` rows (header required); bad rows are reported."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise SubscriberError(f"cannot read {path}: {exc}") from None
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "email" not in fields:
        raise SubscriberError(f"{path}: the first line must be a header with an 'email' column")
    reader.fieldnames = fields
    added: list[str] = []
    updated: list[str] = []
    errors: list[tuple[int, str]] = []
    for row in reader:
        line = reader.line_num
        try:
            topics = parse_topics(row.get("topics") or "", known)
            subscriber, created = add(
                conn, row.get("email") or "", name=row.get("name") or "", topics=topics
            )
        except SubscriberError as exc:
            errors.append((line, str(exc)))
            continue
        (added if created else updated).append(subscriber.email)
    return ImportReport(tuple(added), tuple(updated), tuple(errors))
