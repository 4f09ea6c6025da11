"""The statements: every read and write of the state, portable between SQLite and PostgreSQL.

Each function runs one or a few statements on a ``Db`` and returns plain values or
rows (columns by name). They decide nothing: the lifecycle, delivery and claims
modules call them inside their own transactions. Only syntax both databases
share is used (``ON CONFLICT … DO UPDATE``, ``RETURNING``, ``lower()``); where
they differ (row locks), the function asks ``db.dialect``.
"""

from __future__ import annotations

from .engine import Db, Row

__all__ = [
    "claim_holder",
    "delete_subscriber",
    "delivered",
    "delivery_statuses",
    "drop_claim",
    "finish_job_run",
    "forget_deliveries",
    "insert_claim",
    "insert_subscriber",
    "is_suppressed",
    "job_runs",
    "notices_since",
    "purge_pending",
    "record_bounce_event",
    "record_delivery",
    "record_notice",
    "start_job_run",
    "subscriber_by_email",
    "subscriber_by_id",
    "subscriber_for_message",
    "subscribers",
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


def delete_subscriber(db: Db, subscriber_id: int) -> None:
    db.execute("DELETE FROM subscribers WHERE id = :id", {"id": subscriber_id})
    db.execute("DELETE FROM notices WHERE subscriber_id = :id", {"id": subscriber_id})


def purge_pending(db: Db, created_before: str) -> int:
    """Delete pending sign-ups created before ``created_before``; returns how many."""
    stale = [
        row["id"]
        for row in db.rows(
            "SELECT id FROM subscribers WHERE status = 'pending' AND created_at < :before",
            {"before": created_before},
        )
    ]
    for subscriber_id in stale:
        delete_subscriber(db, subscriber_id)
    return len(stale)


# --- notices (confirmation mails), for the per-address limits -------------------------


def record_notice(db: Db, subscriber_id: int, kind: str, at: str) -> None:
    db.execute(
        "INSERT INTO notices (subscriber_id, kind, at) VALUES (:id, :kind, :at)",
        {"id": subscriber_id, "kind": kind, "at": at},
    )


def notices_since(db: Db, subscriber_id: int, since: str) -> list[str]:
    """When notices went to this subscriber after ``since``, newest first."""
    return [
        row["at"]
        for row in db.rows(
            "SELECT at FROM notices WHERE subscriber_id = :id AND at > :since ORDER BY at DESC",
            {"id": subscriber_id, "since": since},
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


def delivered(db: Db, issue_id: str, subscriber_id: int) -> bool:
    """Whether the send log has a row (sent or failed) for this issue and subscriber."""
    row = db.one(
        "SELECT 1 FROM deliveries WHERE issue_id = :issue AND subscriber_id = :id",
        {"issue": issue_id, "id": subscriber_id},
    )
    return row is not None


# --- claims ---------------------------------------------------------------------------


def insert_claim(db: Db, issue_id: str, subscriber_id: int, owner: str, expires_at: float) -> bool:
    """Claim a pair no one claims; False if a claim row exists (taken or lapsed)."""
    result = db.execute(
        "INSERT INTO claims (issue_id, subscriber_id, owner, expires_at) "
        "VALUES (:issue, :id, :owner, :expires) ON CONFLICT (issue_id, subscriber_id) DO NOTHING",
        {"issue": issue_id, "id": subscriber_id, "owner": owner, "expires": expires_at},
    )
    return result.rowcount == 1


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


def drop_claim(db: Db, issue_id: str, subscriber_id: int, owner: str) -> None:
    db.execute(
        "DELETE FROM claims WHERE issue_id = :issue AND subscriber_id = :id AND owner = :owner",
        {"issue": issue_id, "id": subscriber_id, "owner": owner},
    )


def subscriber_for_message(db: Db, message_id: str) -> int | None:
    """The subscriber a sent message (by Message-ID) went to, if it is in the log."""
    row = db.one("SELECT subscriber_id FROM deliveries WHERE message_id = :m", {"m": message_id})
    return int(row["subscriber_id"]) if row else None


def forget_deliveries(db: Db, subscriber_id: int, replacement: str) -> None:
    """Replace a person's address in the send log (the rows stay: they prevent resends)."""
    db.execute(
        "UPDATE deliveries SET email = :email WHERE subscriber_id = :id",
        {"email": replacement, "id": subscriber_id},
    )


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
