"""What the editors decided about an issue (``newsletter.review``): the pure
decisions, and the marks rendering and the archive need.

``Review`` is one row of ``state.reviews``; ``refusal`` decides whether an issue
may be sent now, ``release_due`` whether the schedule should send it,
``action_refusal`` whether an editor's action still applies. They read nothing
and change nothing. ``marks_of`` reads the marks (dropped stories, status) from
the state database; without ``newsletter.review`` there are none and nothing is
read. The workflow that applies the decisions (mailing the review copy, the
actions, the release) is ``newsletter.review``'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from newsletter.config import Config, ReviewSettings
from newsletter.errors import IssueSkipped, NotApproved, ReviewError, ReviewSettled

# IssueInfo.status: waiting for the editors / skipped by them ("" for every other issue);
# "skipped" is also the review's state
IN_REVIEW = "review"
SKIPPED = "skipped"
# the other states of a review
PENDING, APPROVED = "pending", "approved"
# what editors do (review_actions also records "review": the copy went out)
ACTIONS = ("approve", "skip", "drop")


@dataclass(frozen=True, slots=True)
class Marks:
    """The editors' marks on one issue."""

    # IssueInfo.status: IN_REVIEW, SKIPPED, or "" (approved, released)
    status: str = ""
    # the story keys dropped, in the order dropped
    dropped: tuple[str, ...] = ()
    # approved, skipped or released: the filed issue is what goes (or went), and a
    # build does not render it again
    settled: bool = False


def marks_for(review: Review | None, dropped: tuple[str, ...]) -> Marks:
    """The marks of ``review`` (None: not put under review yet)."""
    if review is not None and review.state == SKIPPED:
        return Marks(SKIPPED, dropped, True)
    if review is not None and (review.state == APPROVED or review.released_at is not None):
        return Marks("", dropped, True)
    return Marks(IN_REVIEW, dropped, False)


def marks_of(config: Config, issue_id: str) -> Marks | None:
    """The marks on ``issue_id`` in the state database; None without ``newsletter.review``."""
    if config.newsletter.review is None:
        return None
    from newsletter import state
    from newsletter.state import reviews

    with state.connect(config.database) as conn:
        row = reviews.review_of(conn, issue_id)
        dropped = tuple(reviews.dropped_stories(conn, issue_id))
    return marks_for(Review.of_row(row) if row is not None else None, dropped)


def skipped_by(actions: Sequence[Mapping[Any, Any]]) -> str:
    """Who skipped the issue, from its review's actions ("" when nobody did)."""
    return next((str(a["actor"]) for a in reversed(actions) if a["action"] == "skip"), "")


@dataclass(frozen=True, slots=True)
class Review:
    """An issue under review (one row of ``reviews``)."""

    issue_id: str
    # "pending", "approved" or "skipped"
    state: str
    # when it was put under review, and until when it waits for the editors
    created_at: datetime
    hold_until: datetime
    # when the review copy went to the editors (None: not yet)
    copy_sent_at: datetime | None
    # when its send began (None: not yet)
    released_at: datetime | None

    @classmethod
    def of_row(cls, row: Mapping[Any, Any]) -> Review:
        def moment(value: object) -> datetime | None:
            return datetime.fromisoformat(str(value)) if value else None

        return cls(
            issue_id=str(row["issue_id"]),
            state=str(row["state"]),
            created_at=datetime.fromisoformat(str(row["created_at"])),
            hold_until=datetime.fromisoformat(str(row["hold_until"])),
            copy_sent_at=moment(row["copy_sent_at"]),
            released_at=moment(row["released_at"]),
        )


def refusal(
    issue_id: str, review: Review | None, settings: ReviewSettings, now: datetime, by: str = ""
) -> ReviewError | None:
    """Why issue ``issue_id`` may not be sent to the readers now (None: it may).

    It may once released, approved, or (approval not required) held for
    ``hold_hours`` unskipped; ``by`` names who skipped it."""
    if review is None:
        return NotApproved(
            issue_id,
            "the editors have not seen it (`feedletter issue review` mails them the review "
            f"copy; `feedletter issue approve {issue_id}` approves it)",
        )
    if review.released_at is not None:
        return None
    if review.state == SKIPPED:
        return IssueSkipped(issue_id, by or "an editor")
    if review.state == APPROVED:
        return None
    if settings.require_approval:
        return NotApproved(
            issue_id,
            f"it waits for an editor to approve it (`feedletter issue approve {issue_id}`)",
        )
    if now < review.hold_until:
        return NotApproved(
            issue_id,
            f"it is held for the editors until {review.hold_until:%Y-%m-%d %H:%M} UTC "
            f"(newsletter.review.hold_hours); approving it sends it sooner",
        )
    return None


def release_due(review: Review, settings: ReviewSettings, now: datetime) -> bool:
    """Whether the schedule should send ``review``'s issue now."""
    return review.released_at is None and refusal(review.issue_id, review, settings, now) is None


def action_refusal(issue_id: str, review: Review | None, action: str) -> ReviewSettled | None:
    """Why ``action`` no longer applies to the issue (None: it does). Nothing can be
    done once the send began; a skipped issue stays skipped; an approved one may
    still be skipped before it goes, but not changed."""
    done = {"approve": "approved", "skip": "skipped", "drop": "changed"}[action]
    if review is None:
        return None
    if review.released_at is not None:
        return ReviewSettled(issue_id, done, "being sent or sent")
    if review.state == SKIPPED:
        return ReviewSettled(issue_id, done, "skipped")
    if review.state == APPROVED and action != "skip":
        return ReviewSettled(issue_id, done, "approved")
    return None
