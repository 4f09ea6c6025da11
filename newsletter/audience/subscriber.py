"""A subscriber as a value, and the parsing every entry point shares.

``Subscriber`` is what the lifecycle (``subscribers``) hands out; addresses are
validated and normalised with email-validator (syntax only, no DNS); topic lists
are checked against the known ids, an empty list meaning all topics. Lookups
read through ``state``; nothing here changes a subscriber.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from newsletter import state
from newsletter.audience.status import Status
from newsletter.errors import UnknownTopics
from newsletter.state import Db, Row


@dataclass(frozen=True, slots=True)
class Subscriber:
    """One subscriber."""

    # stable id (never reused)
    id: int
    # normalised address
    email: str
    # display name, possibly empty
    name: str
    # topic ids the subscriber wants, in config order; empty = all topics
    topics: tuple[str, ...]
    # where they stand (``status.Status``)
    status: Status
    # when the row was made (ISO 8601, UTC)
    created_at: str = ""
    # when the address was confirmed (double opt-in or operator), if it was
    confirmed_at: str | None = None
    # how consent was given: "form", "operator", "import"
    consent_source: str = "operator"
    # when consent was given
    consent_at: str | None = None
    # the client address consent came from (forms only)
    consent_ip: str = ""
    # permanent delivery failures so far
    hard_bounces: int = 0
    # consecutive issues with a temporary failure that outlasted the retries
    soft_bounce_issues: int = 0
    # why the status last changed (e.g. the bounce reply)
    status_reason: str = ""


def _row(row: Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        topics=tuple(t for t in row["topics"].split(",") if t),
        status=Status(row["status"]),
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
        consent_source=row["consent_source"],
        consent_at=row["consent_at"],
        consent_ip=row["consent_ip"],
        hard_bounces=row["hard_bounces"],
        soft_bounce_issues=row["soft_bounce_issues"],
        status_reason=row["status_reason"],
    )


def timestamp(moment: datetime | None = None) -> str:
    """A moment as stored: ISO 8601 UTC, seconds."""
    return (moment or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")


def parse_topics(value: str | Iterable[str], known: Sequence[str]) -> tuple[str, ...]:
    """Topic ids from ``a,b`` (or a list), checked against ``known``, in ``known`` order."""
    items = value.replace(";", ",").split(",") if isinstance(value, str) else list(value)
    wanted = {item.strip() for item in items if item.strip()}
    unknown = sorted(wanted - set(known))
    if unknown:
        raise UnknownTopics(unknown, known)
    return tuple(t for t in known if t in wanted)


# control characters (terminal escape sequences among them) and bidirectional
# overrides have no place in a display name
_NOT_IN_NAMES = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean_name(name: str) -> str:
    """A display name: no control characters, single-spaced, at most 200 characters."""
    return " ".join(_NOT_IN_NAMES.sub(" ", name).split())[:200]


def get(conn: Db, email: str) -> Subscriber | None:
    """The subscriber with this address, if any."""
    row = state.subscriber_by_email(conn, email.strip())
    return _row(row) if row else None


def by_id(conn: Db, subscriber_id: int) -> Subscriber | None:
    """The subscriber with this id, if any."""
    row = state.subscriber_by_id(conn, subscriber_id)
    return _row(row) if row else None


def by_ids(conn: Db, subscriber_ids: Sequence[int]) -> list[Subscriber]:
    """The subscribers with these ids that exist (a send batch), in one query."""
    if not subscriber_ids:
        return []
    return [_row(row) for row in state.subscribers_by_ids(conn, subscriber_ids)]


def listing(
    conn: Db, *, active_only: bool = False, status: Status | None = None
) -> list[Subscriber]:
    """Every subscriber (or those with ``status``; ``active_only``: active), by address."""
    wanted = Status.ACTIVE if active_only else status
    return [_row(r) for r in state.subscribers(conn, wanted.value if wanted else None)]
