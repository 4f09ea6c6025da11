"""A subscriber's status and every change to it, as pure decisions.

::

    pending ──confirm──▶ active ◀──resume── paused
       │                   │ ▲                  ▲
       │ (expires)         │ └────── pause ─────┘
       ▼                   ├──unsubscribe / complaint──▶ unsubscribed
    (purged)               └──hard bounces / soft-bounce issues──▶ bounced

``TRANSITIONS`` is the whole machine: for each ``Change``, the statuses it may
start from and the status it leads to. ``lifecycle`` asks ``decide`` (or the
table's ``sources``, as the guard of its UPDATE, so two processes can never both
apply a change) and applies the answer through ``state``; nothing here touches
the database.

Bounces are decided the same way: ``after_delivery`` and ``after_returned_mail``
turn one outcome and the reader's ``Counts``, under ``newsletter.bounces``, into a
``BounceDecision`` (the new counts, the event to record, the status change).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from newsletter.config import BounceSettings


class Status(StrEnum):
    """Where a subscriber stands; only ``ACTIVE`` readers get issues."""

    # signed up on the form, not confirmed yet
    PENDING = "pending"
    # gets the issues
    ACTIVE = "active"
    # chose to get none for now (preferences), and may resume
    PAUSED = "paused"
    # mail to them failed for good (newsletter.bounces)
    BOUNCED = "bounced"
    # left (a link, one-click, a complaint)
    UNSUBSCRIBED = "unsubscribed"


class Change(StrEnum):
    """Something that changes a subscriber's status."""

    # the confirmation link of a sign-up request
    CONFIRM = "confirm"
    # a confirmation link mailed before sign-up requests existed (pending readers only)
    CONFIRM_PENDING = "confirm-pending"
    # an operator adds or imports the reader (consent source "operator"/"import")
    ADD = "add"
    # the preferences page: no issues for now
    PAUSE = "pause"
    # the preferences page: issues again (or topics changed while active)
    RESUME = "resume"
    # an unsubscribe link, one-click (RFC 8058) or a complaint
    UNSUBSCRIBE = "unsubscribe"
    # enough hard bounces, or soft-bounce issues in a row
    BOUNCE = "bounce"


# the readers who may manage their subscription (preferences page, "already
# subscribed" notices)
SUBSCRIBED = frozenset({Status.ACTIVE, Status.PAUSED})
# the readers who are on the list in any way (unsubscribe and bounce apply)
ON_THE_LIST = frozenset({Status.PENDING, Status.ACTIVE, Status.PAUSED})

TRANSITIONS: dict[Change, dict[Status, Status]] = {
    Change.CONFIRM: {
        Status.PENDING: Status.ACTIVE,
        Status.UNSUBSCRIBED: Status.ACTIVE,
        Status.BOUNCED: Status.ACTIVE,
    },
    Change.CONFIRM_PENDING: {Status.PENDING: Status.ACTIVE},
    Change.ADD: {status: Status.ACTIVE for status in Status},
    Change.PAUSE: {status: Status.PAUSED for status in SUBSCRIBED},
    Change.RESUME: {status: Status.ACTIVE for status in SUBSCRIBED},
    Change.UNSUBSCRIBE: {status: Status.UNSUBSCRIBED for status in ON_THE_LIST},
    Change.BOUNCE: {status: Status.BOUNCED for status in ON_THE_LIST},
}


def decide(change: Change, current: Status) -> Status | None:
    """The status ``change`` leads to from ``current``, or None when it does not apply."""
    return TRANSITIONS[change].get(current)


def target(change: Change) -> Status:
    """The status ``change`` leads to (every change leads to one, whatever it starts from)."""
    (status,) = set(TRANSITIONS[change].values())
    return status


def sources(change: Change) -> tuple[Status, ...]:
    """The statuses ``change`` may start from (the guard of the UPDATE that applies it)."""
    return tuple(TRANSITIONS[change])


@dataclass(frozen=True, slots=True)
class Counts:
    """A reader's bounce counts."""

    # permanent failures so far
    hard_bounces: int = 0
    # consecutive issues with a temporary failure that outlasted the retries
    soft_bounce_issues: int = 0
    # the issue of the last counted soft bounce (one per issue, however many runs)
    last_soft_bounce_issue: str = ""


@dataclass(frozen=True, slots=True)
class BounceDecision:
    """What one delivery outcome or returned message does to a reader."""

    # the counts after it (equal to before: nothing to store)
    counts: Counts
    # the bounce-history event to record: "hard", "soft", "complaint", or ""
    event: str = ""
    # the status change it makes (BOUNCE, UNSUBSCRIBE), or None
    change: Change | None = None


def after_delivery(
    counts: Counts, outcome: str, issue_id: str, limits: BounceSettings
) -> BounceDecision:
    """A send's outcome: "sent" ends a run of soft bounces; "failed" (a 5xx) is a hard
    bounce; "deferred" (retries outlasted) is a soft bounce for that issue, counted
    once per issue."""
    if outcome == "sent":
        return BounceDecision(Counts(counts.hard_bounces))
    if outcome == "failed":
        return _hard(counts, limits)
    if counts.last_soft_bounce_issue == issue_id:
        return BounceDecision(counts)  # one soft bounce per issue, however many runs
    soft = counts.soft_bounce_issues + 1
    after = Counts(counts.hard_bounces, soft, issue_id)
    over = soft >= limits.soft_issue_limit
    return BounceDecision(after, "soft", Change.BOUNCE if over else None)


def after_returned_mail(counts: Counts, kind: str, limits: BounceSettings) -> BounceDecision:
    """Returned mail that proved it is about a reader: "complaint" unsubscribes at once,
    "hard" counts like a 5xx; "soft" is only recorded (the send-time retries decide
    soft bounces)."""
    if kind == "complaint":
        return BounceDecision(counts, "complaint", Change.UNSUBSCRIBE)
    if kind == "hard":
        return _hard(counts, limits)
    return BounceDecision(counts, kind)


def _hard(counts: Counts, limits: BounceSettings) -> BounceDecision:
    hard = counts.hard_bounces + 1
    after = Counts(hard, counts.soft_bounce_issues, counts.last_soft_bounce_issue)
    return BounceDecision(after, "hard", Change.BOUNCE if hard >= limits.hard_limit else None)
