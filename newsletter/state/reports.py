"""The read-only statements behind ``feedletter report``: what the state holds about
the audience, the sends, returned mail and clicks, in the shape the report counts.

Part of the state package (which owns every statement); nothing here writes.
"""

from __future__ import annotations

from newsletter.state.engine import Db, Row


def subscriber_dates(db: Db) -> list[Row]:
    """Every reader's status and the moments that date it (no addresses)."""
    return db.rows(
        "SELECT status, created_at, confirmed_at, status_at FROM subscribers ORDER BY id"
    )


def delivery_counts(db: Db) -> list[Row]:
    """(issue_id, status, n, first_at): the send log counted per issue and outcome."""
    return db.rows(
        "SELECT issue_id, status, COUNT(*) AS n, MIN(at) AS first_at FROM deliveries "
        "GROUP BY issue_id, status ORDER BY issue_id, status"
    )


def bounce_events_by_issue(db: Db) -> list[Row]:
    """(kind, source, issue_id) of every bounce and complaint: an event from a send
    names its issue in its source ("send <issue>"); one from returned mail is
    counted against the last issue sent to that reader before it arrived."""
    return db.rows(
        "SELECT e.kind, e.source, (SELECT d.issue_id FROM deliveries d "
        "WHERE d.subscriber_id = e.subscriber_id AND d.at <= e.at "
        "ORDER BY d.at DESC LIMIT 1) AS issue_id FROM bounce_events e ORDER BY e.id"
    )


def all_clicks(db: Db) -> list[Row]:
    """(issue_id, url, clicks) of every counted link."""
    return db.rows("SELECT issue_id, url, clicks FROM clicks ORDER BY issue_id, clicks DESC, url")
