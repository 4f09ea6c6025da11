"""The statements behind review before send (``newsletter.review``): one row per
issue under review in ``reviews``, and every action on it in ``review_actions``.

Part of the state package (which owns every statement). Each change that more
than one process may race for is one conditional ``UPDATE`` whose row count
says who won: the review copy is mailed once, an issue is released once.
"""

from __future__ import annotations

from newsletter.state.engine import Db, Row


def review_of(db: Db, issue_id: str) -> Row | None:
    """The review of ``issue_id`` (state, created_at, hold_until, copy_sent_at,
    released_at), or None when it was never put under review."""
    return db.one("SELECT * FROM reviews WHERE issue_id = :issue", {"issue": issue_id})


def all_reviews(db: Db) -> list[Row]:
    """Every review, oldest issue first."""
    return db.rows("SELECT * FROM reviews ORDER BY issue_id")


def open_review(db: Db, issue_id: str, now: str, hold_until: str) -> bool:
    """Put ``issue_id`` under review (pending) unless it already is; True if it was new."""
    result = db.execute(
        "INSERT INTO reviews (issue_id, state, created_at, hold_until) "
        "VALUES (:issue, 'pending', :now, :hold) ON CONFLICT (issue_id) DO NOTHING",
        {"issue": issue_id, "now": now, "hold": hold_until},
    )
    return bool(result.rowcount)


def claim_review_copy(db: Db, issue_id: str, now: str) -> bool:
    """Take the right to mail the review copy of ``issue_id`` (once per issue)."""
    result = db.execute(
        "UPDATE reviews SET copy_sent_at = :now WHERE issue_id = :issue AND copy_sent_at IS NULL",
        {"issue": issue_id, "now": now},
    )
    return bool(result.rowcount)


def give_back_review_copy(db: Db, issue_id: str) -> None:
    """The review copy was not sent after all: the next run may send it."""
    db.execute(
        "UPDATE reviews SET copy_sent_at = NULL WHERE issue_id = :issue", {"issue": issue_id}
    )


def decide_review(db: Db, issue_id: str, to_state: str, from_states: tuple[str, ...]) -> bool:
    """Move the review of ``issue_id`` to ``to_state`` if it is in one of ``from_states``
    and not released; True if it moved."""
    names = {f"s{n}": s for n, s in enumerate(from_states)}
    result = db.execute(
        f"UPDATE reviews SET state = :to WHERE issue_id = :issue AND released_at IS NULL "
        f"AND state IN ({', '.join(':' + n for n in names)})",
        {"issue": issue_id, "to": to_state, **names},
    )
    return bool(result.rowcount)


def claim_release(db: Db, issue_id: str, now: str) -> bool:
    """Mark ``issue_id`` released (its send begins); True for the one caller that did."""
    result = db.execute(
        "UPDATE reviews SET released_at = :now WHERE issue_id = :issue "
        "AND released_at IS NULL AND state <> 'skipped'",
        {"issue": issue_id, "now": now},
    )
    return bool(result.rowcount)


def unreleased_reviews(db: Db) -> list[Row]:
    """The reviews not yet released nor skipped: the candidates for release."""
    return db.rows(
        "SELECT * FROM reviews WHERE released_at IS NULL AND state <> 'skipped' ORDER BY issue_id"
    )


def log_review_action(db: Db, issue_id: str, action: str, story: str, actor: str, at: str) -> None:
    """Record that ``actor`` took ``action`` (on ``story``, for a drop) at ``at``."""
    db.execute(
        "INSERT INTO review_actions (issue_id, action, story, actor, at) "
        "VALUES (:issue, :action, :story, :actor, :at)",
        {"issue": issue_id, "action": action, "story": story, "actor": actor, "at": at},
    )


def review_actions(db: Db, issue_id: str) -> list[Row]:
    """Every action on ``issue_id``'s review, in the order taken."""
    return db.rows(
        "SELECT action, story, actor, at FROM review_actions WHERE issue_id = :issue ORDER BY id",
        {"issue": issue_id},
    )


def dropped_stories(db: Db, issue_id: str) -> list[str]:
    """The story keys the editors dropped from ``issue_id``, in the order dropped."""
    rows = db.rows(
        "SELECT story FROM review_actions WHERE issue_id = :issue AND action = 'drop' ORDER BY id",
        {"issue": issue_id},
    )
    return list(dict.fromkeys(str(row["story"]) for row in rows))
