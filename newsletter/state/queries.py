"""The statements: every read and write of the state, portable between SQLite and PostgreSQL.

Each function runs one or a few statements on a ``Db`` and returns plain values or
rows (columns by name). They decide nothing: the lifecycle, delivery and claims
modules call them inside their own transactions. Only syntax both databases
share is used (``ON CONFLICT … DO UPDATE``, ``RETURNING``, ``lower()``); where
they differ (row locks), the function asks ``db.dialect``.
"""

from __future__ import annotations

from collections.abc import Sequence

from newsletter.state.engine import Db, Row

__all__ = [
    "claim_holder",
    "claim_welcome",
    "clicks_of",
    "count_click",
    "delete_subscriber",
    "delivered_among",
    "delivery_for_message",
    "delivery_statuses",
    "drop_claims",
    "drop_logged_claims",
    "drop_welcome",
    "finish_job_run",
    "finish_notice",
    "forget_subscriber_traces",
    "insert_claims",
    "insert_signup_request",
    "insert_subscriber",
    "is_suppressed",
    "job_runs",
    "notices_since",
    "purge_pending",
    "purge_rate_windows",
    "purge_signup_requests",
    "rate_window_hit",
    "rate_window_hits",
    "record_bounce_event",
    "record_delivery",
    "renew_claims",
    "reserve_notice",
    "returned_mail_seen",
    "signup_request",
    "start_job_run",
    "subscriber_by_email",
    "subscriber_by_id",
    "subscribers",
    "subscribers_by_ids",
    "suppress",
    "suppression_count",
    "unsuppress",
    "update_claim",
    "update_subscriber",
]

# --- subscribers -------------------------------------------------------------------

SUBSCRIBER_COLUMNS = (
    "id, email, name, topics, status, created_at, confirmed_at, consent_source, consent_at, "
    "consent_ip, hard_bounces, soft_bounce_issues, last_soft_bounce_issue, status_reason, "
    "status_at"
)


def subscriber_by_email(db: Db, email: str) -> Row | None:
    """The subscriber with this address, whatever its case."""
    return db.one(
        f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE lower(email) = lower(:email)",
        {"email": email},
    )


def subscriber_by_id(db: Db, subscriber_id: int) -> Row | None:
    return db.one(
        f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id = :id", {"id": subscriber_id}
    )


def _ids(ids: Sequence[int]) -> tuple[str, dict[str, int]]:
    """``:i0, :i1, …`` and their values, for ``IN (…)`` (one statement per batch size)."""
    return ", ".join(f":i{n}" for n in range(len(ids))), {f"i{n}": i for n, i in enumerate(ids)}


def subscribers_by_ids(db: Db, ids: Sequence[int]) -> list[Row]:
    """The subscribers with these ids that exist (a send batch, read at once)."""
    marks, values = _ids(ids)
    return db.rows(f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE id IN ({marks})", values)


def subscribers(db: Db, status: str | None = None) -> list[Row]:
    """Every subscriber (or those with ``status``), by address."""
    if status is None:
        return db.rows(f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers ORDER BY lower(email), id")
    return db.rows(
        f"SELECT {SUBSCRIBER_COLUMNS} FROM subscribers WHERE status = :status "
        "ORDER BY lower(email), id",
        {"status": status},
    )


_INSERTABLE = frozenset(
    {
        "email", "name", "topics", "status", "created_at", "unsubscribed_at", "confirmed_at",
        "consent_source", "consent_at", "consent_ip", "status_reason", "status_at",
    }
)  # fmt: skip


def insert_subscriber(db: Db, **values: object) -> int:
    """Add a subscriber; returns its id."""
    assert values and set(values) <= _INSERTABLE, values
    names = ", ".join(values)
    marks = ", ".join(f":{name}" for name in values)
    result = db.execute(f"INSERT INTO subscribers ({names}) VALUES ({marks}) RETURNING id", values)
    return int(result.scalar_one())


_UPDATABLE = frozenset(
    {
        "name", "topics", "status", "unsubscribed_at", "confirmed_at", "consent_source",
        "consent_at", "consent_ip", "hard_bounces", "soft_bounce_issues",
        "last_soft_bounce_issue", "status_reason", "status_at",
    }
)  # fmt: skip


def update_subscriber(
    db: Db,
    subscriber_id: int,
    *,
    only_status: tuple[str, ...] = (),
    **values: object,
) -> bool:
    """Set ``values`` on one subscriber (only while its status is one of ``only_status``)."""
    assert values and set(values) <= _UPDATABLE, values
    sets = ", ".join(f"{name} = :{name}" for name in values)
    query = f"UPDATE subscribers SET {sets} WHERE id = :_id"
    params: dict[str, object] = {**values, "_id": subscriber_id}
    if only_status:
        marks = ", ".join(f":_status{n}" for n in range(len(only_status)))
        query += f" AND status IN ({marks})"
        params.update({f"_status{n}": status for n, status in enumerate(only_status)})
    return db.execute(query, params).rowcount == 1


def claim_welcome(db: Db, subscriber_id: int, at: str) -> bool:
    """Mark an active reader as welcomed at ``at``; False if they were already (or
    are not active): whoever marks them sends the one welcome mail."""
    result = db.execute(
        "UPDATE subscribers SET welcomed_at = :at "
        "WHERE id = :id AND welcomed_at IS NULL AND status = 'active'",
        {"id": subscriber_id, "at": at},
    )
    return result.rowcount == 1


def drop_welcome(db: Db, subscriber_id: int, at: str) -> None:
    """Undo ``claim_welcome`` of ``at``: the welcome mail did not go out."""
    db.execute(
        "UPDATE subscribers SET welcomed_at = NULL WHERE id = :id AND welcomed_at = :at",
        {"id": subscriber_id, "at": at},
    )


def count_click(db: Db, issue_id: str, url: str) -> None:
    """One more click on ``url`` in issue ``issue_id``."""
    db.execute(
        "INSERT INTO clicks AS c (issue_id, url, clicks) VALUES (:issue, :url, 1) "
        "ON CONFLICT (issue_id, url) DO UPDATE SET clicks = c.clicks + 1",
        {"issue": issue_id, "url": url},
    )


def clicks_of(db: Db, issue_id: str) -> dict[str, int]:
    """URL -> clicks counted for issue ``issue_id``."""
    rows = db.rows(
        "SELECT url, clicks FROM clicks WHERE issue_id = :issue ORDER BY url", {"issue": issue_id}
    )
    return {row["url"]: int(row["clicks"]) for row in rows}


def delete_subscriber(db: Db, subscriber_id: int) -> None:
    """Delete a subscriber with their notices and open sign-up requests."""
    db.execute("DELETE FROM subscribers WHERE id = :id", {"id": subscriber_id})
    db.execute("DELETE FROM notices WHERE subscriber_id = :id", {"id": subscriber_id})
    db.execute("DELETE FROM signup_requests WHERE subscriber_id = :id", {"id": subscriber_id})


def purge_pending(db: Db, created_before: str) -> int:
    """Delete sign-ups that were never confirmed and are older than ``created_before``;
    returns how many. A reader who was ever confirmed is never pending again (a
    returning reader's sign-up is a request, not a status), so no history is purged."""
    stale = [
        row["id"]
        for row in db.rows(
            "SELECT id FROM subscribers WHERE status = 'pending' AND confirmed_at IS NULL "
            "AND created_at < :before",
            {"before": created_before},
        )
    ]
    for subscriber_id in stale:
        delete_subscriber(db, subscriber_id)
    return len(stale)


# --- sign-up requests: each sign-up's choices, applied by its confirmation -----------


def insert_signup_request(
    db: Db, subscriber_id: int, topics: str, name: str, client: str, at: str
) -> int:
    result = db.execute(
        "INSERT INTO signup_requests (subscriber_id, topics, name, client, created_at) "
        "VALUES (:id, :topics, :name, :client, :at) RETURNING id",
        {"id": subscriber_id, "topics": topics, "name": name, "client": client, "at": at},
    )
    return int(result.scalar_one())


def signup_request(db: Db, request_id: int, subscriber_id: int) -> Row | None:
    """One open sign-up request of this subscriber (topics, name, client, created_at)."""
    return db.one(
        "SELECT id, topics, name, client, created_at FROM signup_requests "
        "WHERE id = :rid AND subscriber_id = :id",
        {"rid": request_id, "id": subscriber_id},
    )


def purge_signup_requests(db: Db, created_before: str, subscriber_id: int | None = None) -> int:
    """Delete sign-up requests made before ``created_before`` (of one subscriber, or all)."""
    if subscriber_id is None:
        result = db.execute(
            "DELETE FROM signup_requests WHERE created_at < :before", {"before": created_before}
        )
    else:
        result = db.execute(
            "DELETE FROM signup_requests WHERE subscriber_id = :id AND created_at < :before",
            {"id": subscriber_id, "before": created_before},
        )
    return int(result.rowcount)


# --- notices (confirmation mails), for the per-address limits -------------------------


def reserve_notice(db: Db, subscriber_id: int, kind: str, at: str) -> int:
    """Reserve one notice (state "sending"); ``finish_notice`` settles it."""
    result = db.execute(
        "INSERT INTO notices (subscriber_id, kind, at, state) "
        "VALUES (:id, :kind, :at, 'sending') RETURNING id",
        {"id": subscriber_id, "kind": kind, "at": at},
    )
    return int(result.scalar_one())


def finish_notice(db: Db, notice_id: int, sent: bool) -> None:
    """A reserved notice went out (it counts from now on) or did not (it never counts)."""
    if sent:
        db.execute("UPDATE notices SET state = 'sent' WHERE id = :id", {"id": notice_id})
    else:
        db.execute("DELETE FROM notices WHERE id = :id", {"id": notice_id})


def notices_since(db: Db, subscriber_id: int, since: str, reserved_since: str) -> list[str]:
    """When notices went to this subscriber after ``since`` (and reservations made
    after ``reserved_since``, which may still go out), newest first."""
    return [
        row["at"]
        for row in db.rows(
            "SELECT at FROM notices WHERE subscriber_id = :id AND at > :since "
            "AND (state = 'sent' OR at > :reserved) ORDER BY at DESC",
            {"id": subscriber_id, "since": since, "reserved": reserved_since},
        )
    ]


# --- suppression list (keyed hashes of forgotten addresses) ---------------------------


def is_suppressed(db: Db, address_hash: str) -> bool:
    row = db.one("SELECT 1 FROM suppressions WHERE address_hash = :h", {"h": address_hash})
    return row is not None


def suppress(db: Db, address_hash: str, reason: str, at: str) -> None:
    db.execute(
        "INSERT INTO suppressions (address_hash, reason, at) VALUES (:h, :reason, :at) "
        "ON CONFLICT (address_hash) DO UPDATE SET reason = excluded.reason, at = excluded.at",
        {"h": address_hash, "reason": reason, "at": at},
    )


def unsuppress(db: Db, address_hash: str) -> None:
    db.execute("DELETE FROM suppressions WHERE address_hash = :h", {"h": address_hash})


def suppression_count(db: Db) -> int:
    return int(db.execute("SELECT COUNT(*) FROM suppressions").scalar_one())


# --- the send log --------------------------------------------------------------------


def delivery_statuses(db: Db, issue_id: str) -> dict[int, str]:
    """subscriber id -> "sent" | "failed" for one issue."""
    return {
        row["subscriber_id"]: row["status"]
        for row in db.rows(
            "SELECT subscriber_id, status FROM deliveries WHERE issue_id = :issue",
            {"issue": issue_id},
        )
    }


def record_delivery(
    db: Db,
    *,
    issue_id: str,
    subscriber_id: int,
    email: str,
    status: str,
    message_id: str,
    reply: str,
    attempts: int,
    at: str,
) -> None:
    db.execute(
        "INSERT INTO deliveries "
        "(issue_id, subscriber_id, email, status, message_id, reply, attempts, at) "
        "VALUES (:issue_id, :subscriber_id, :email, :status, :message_id, :reply, :attempts, :at) "
        "ON CONFLICT (issue_id, subscriber_id) DO UPDATE SET email = excluded.email, "
        "status = excluded.status, message_id = excluded.message_id, reply = excluded.reply, "
        "attempts = excluded.attempts, at = excluded.at",
        {
            "issue_id": issue_id,
            "subscriber_id": subscriber_id,
            "email": email,
            "status": status,
            "message_id": message_id,
            "reply": reply,
            "attempts": attempts,
            "at": at,
        },
    )


def delivered_among(db: Db, issue_id: str, ids: Sequence[int]) -> set[int]:
    """Which of these subscribers the send log already has for this issue."""
    marks, values = _ids(ids)
    rows = db.rows(
        f"SELECT subscriber_id FROM deliveries WHERE issue_id = :issue "
        f"AND subscriber_id IN ({marks})",
        {"issue": issue_id, **values},
    )
    return {int(r["subscriber_id"]) for r in rows}


# --- claims ---------------------------------------------------------------------------


def insert_claims(
    db: Db, issue_id: str, ids: Sequence[int], owner: str, expires_at: float
) -> set[int]:
    """Claim every pair of these no one claims, in one statement; the ids claimed."""
    rows = ", ".join(f"(:issue, :i{n}, :owner, :expires)" for n in range(len(ids)))
    _, values = _ids(ids)
    result = db.rows(
        f"INSERT INTO claims (issue_id, subscriber_id, owner, expires_at) VALUES {rows} "
        "ON CONFLICT (issue_id, subscriber_id) DO NOTHING RETURNING subscriber_id",
        {"issue": issue_id, "owner": owner, "expires": expires_at, **values},
    )
    return {int(r["subscriber_id"]) for r in result}


def claim_holder(db: Db, issue_id: str, subscriber_id: int) -> tuple[str, float] | None:
    """(owner, expires_at) of the claim on this pair, locking its row until the
    transaction ends; None if there is none or (PostgreSQL) another sender holds
    the row locked right now (``SKIP LOCKED``: it is deciding on the pair)."""
    lock = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgresql" else ""
    row = db.one(
        "SELECT owner, expires_at FROM claims WHERE issue_id = :issue AND subscriber_id = :id"
        + lock,
        {"issue": issue_id, "id": subscriber_id},
    )
    return (str(row["owner"]), float(row["expires_at"])) if row else None


def update_claim(db: Db, issue_id: str, subscriber_id: int, owner: str, expires_at: float) -> None:
    """Hand an existing claim to ``owner`` (its row is locked by ``claim_holder``)."""
    db.execute(
        "UPDATE claims SET owner = :owner, expires_at = :expires "
        "WHERE issue_id = :issue AND subscriber_id = :id",
        {"issue": issue_id, "id": subscriber_id, "owner": owner, "expires": expires_at},
    )


def renew_claims(
    db: Db, issue_id: str, ids: Sequence[int], owner: str, expires_at: float
) -> set[int]:
    """Extend ``owner``'s claims on these pairs; the ids it still held (a lapsed
    claim another sender took over is not among them)."""
    marks, values = _ids(ids)
    rows = db.rows(
        f"UPDATE claims SET expires_at = :expires WHERE issue_id = :issue "
        f"AND owner = :owner AND subscriber_id IN ({marks}) RETURNING subscriber_id",
        {"issue": issue_id, "owner": owner, "expires": expires_at, **values},
    )
    return {int(r["subscriber_id"]) for r in rows}


def drop_claims(db: Db, issue_id: str, ids: Sequence[int], owner: str) -> None:
    marks, values = _ids(ids)
    db.execute(
        f"DELETE FROM claims WHERE issue_id = :issue AND owner = :owner "
        f"AND subscriber_id IN ({marks})",
        {"issue": issue_id, "owner": owner, **values},
    )


def drop_logged_claims(db: Db, issue_id: str) -> int:
    """Drop every claim on a pair the send log already has, whoever holds it (such a
    claim decides nothing: the log wins); how many went."""
    result = db.execute(
        "DELETE FROM claims WHERE issue_id = :issue AND subscriber_id IN "
        "(SELECT subscriber_id FROM deliveries WHERE issue_id = :issue)",
        {"issue": issue_id},
    )
    return int(result.rowcount or 0)


def delivery_for_message(db: Db, message_id: str) -> Row | None:
    """The send-log row (issue_id, subscriber_id, email) of a sent Message-ID, if any."""
    return db.one(
        "SELECT issue_id, subscriber_id, email FROM deliveries WHERE message_id = :m",
        {"m": message_id},
    )


def forget_subscriber_traces(db: Db, subscriber_id: int) -> None:
    """Remove what identifies a person from the send log and the bounce history.

    The send-log rows stay (they keep the issue from being sent again) but hold
    neither the address nor the Message-ID, which is derived from it."""
    db.execute(
        "UPDATE deliveries SET email = 'forgotten', message_id = 'forgotten', reply = '' "
        "WHERE subscriber_id = :id",
        {"id": subscriber_id},
    )
    db.execute("DELETE FROM bounce_events WHERE subscriber_id = :id", {"id": subscriber_id})
    db.execute("DELETE FROM claims WHERE subscriber_id = :id", {"id": subscriber_id})


def returned_mail_seen(db: Db, source: str) -> bool:
    """Whether a returned message (by its ``source`` fingerprint) was acted on before."""
    return db.one("SELECT 1 FROM bounce_events WHERE source = :s", {"s": source}) is not None


def record_bounce_event(
    db: Db,
    subscriber_id: int | None,
    kind: str,
    source: str,
    detail: str,
    at: str,
) -> None:
    db.execute(
        "INSERT INTO bounce_events (subscriber_id, kind, source, detail, at) "
        "VALUES (:id, :kind, :source, :detail, :at)",
        {"id": subscriber_id, "kind": kind, "source": source, "detail": detail[:500], "at": at},
    )


# --- scheduled job runs --------------------------------------------------------------


def start_job_run(db: Db, job_id: str, at: str) -> int:
    result = db.execute(
        "INSERT INTO job_runs (job_id, started_at) VALUES (:job, :at) RETURNING id",
        {"job": job_id, "at": at},
    )
    return int(result.scalar_one())


def finish_job_run(db: Db, run_id: int, at: str, outcome: str) -> None:
    db.execute(
        "UPDATE job_runs SET finished_at = :at, outcome = :outcome WHERE id = :id",
        {"at": at, "outcome": outcome[:500], "id": run_id},
    )


def job_runs(db: Db) -> list[tuple[str, str]]:
    """(job id, outcome) of every recorded run, oldest first."""
    return [
        (row["job_id"], row["outcome"])
        for row in db.rows("SELECT job_id, outcome FROM job_runs ORDER BY id")
    ]


# --- per-client request windows shared by serve processes ------------------------------


def rate_window_hit(db: Db, bucket: str, window_start: int) -> int:
    """Count one request in (bucket, window); returns the window's count after it."""
    result = db.execute(
        "INSERT INTO rate_windows (bucket, window_start, hits) VALUES (:b, :w, 1) "
        "ON CONFLICT (bucket, window_start) DO UPDATE SET hits = rate_windows.hits + 1 "
        "RETURNING hits",
        {"b": bucket, "w": window_start},
    )
    return int(result.scalar_one())


def rate_window_hits(db: Db, bucket: str, window_start: int) -> int:
    row = db.one(
        "SELECT hits FROM rate_windows WHERE bucket = :b AND window_start = :w",
        {"b": bucket, "w": window_start},
    )
    return int(row["hits"]) if row else 0


def purge_rate_windows(db: Db, before: int) -> None:
    db.execute("DELETE FROM rate_windows WHERE window_start < :w", {"w": before})
