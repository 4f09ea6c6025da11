"""The subscriber status machine and the bounce decisions: pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from newsletter.audience.status import (
    TRANSITIONS,
    Change,
    Counts,
    Status,
    after_delivery,
    after_returned_mail,
    decide,
    target,
)
from newsletter.config import BounceSettings

P, A, Z, B, U = Status.PENDING, Status.ACTIVE, Status.PAUSED, Status.BOUNCED, Status.UNSUBSCRIBED

# The diagram in newsletter/audience/status.py, written out by hand: for each change,
# the status it leads to from each status (None: it does not apply).
EXPECTED = {
    Change.CONFIRM: {P: A, A: None, Z: None, B: A, U: A},
    Change.CONFIRM_PENDING: {P: A, A: None, Z: None, B: None, U: None},
    Change.ADD: {P: A, A: A, Z: A, B: A, U: A},
    Change.PAUSE: {P: None, A: Z, Z: Z, B: None, U: None},
    Change.RESUME: {P: None, A: A, Z: A, B: None, U: None},
    Change.UNSUBSCRIBE: {P: U, A: U, Z: U, B: None, U: None},
    Change.BOUNCE: {P: B, A: B, Z: B, B: None, U: None},
}


def test_the_table_is_the_diagram() -> None:
    assert set(TRANSITIONS) == set(Change)
    for change, row in EXPECTED.items():
        assert {status: decide(change, status) for status in Status} == row, change
        assert target(change) in set(row.values())


@given(st.lists(st.sampled_from(list(Change)), max_size=30))
def test_only_a_new_consent_brings_back_a_reader_who_left(changes: list[Change]) -> None:
    """Whatever happens, a bounced or unsubscribed reader gets issues again only by
    confirming a new sign-up or an operator's add, never by their preferences."""
    status = P
    for change in changes:
        after = decide(change, status) or status
        if status in (B, U) and after == A:
            assert change in (Change.CONFIRM, Change.ADD)
        status = after


LIMITS = BounceSettings(hard_limit=2, soft_issue_limit=3)


def test_soft_bounces_count_once_per_issue_and_end_with_a_delivery() -> None:
    counts = Counts()
    seen = []
    for issue, outcome in [
        ("W01", "deferred"), ("W01", "deferred"), ("W02", "deferred"), ("W03", "sent"),
        ("W04", "deferred"), ("W05", "deferred"), ("W06", "deferred"),
    ]:  # fmt: skip
        decision = after_delivery(counts, outcome, issue, LIMITS)
        counts = decision.counts
        seen.append((decision.event, decision.change, counts.soft_bounce_issues))
    assert seen == [
        ("soft", None, 1), ("", None, 1), ("soft", None, 2), ("", None, 0),
        ("soft", None, 1), ("soft", None, 2), ("soft", Change.BOUNCE, 3),
    ]  # fmt: skip


def test_hard_bounces_from_sends_and_returned_mail_count_together() -> None:
    first = after_delivery(Counts(), "failed", "W01", LIMITS)
    assert (first.event, first.change, first.counts.hard_bounces) == ("hard", None, 1)
    second = after_returned_mail(first.counts, "hard", LIMITS)
    assert (second.event, second.change, second.counts.hard_bounces) == ("hard", Change.BOUNCE, 2)


def test_returned_mail_complaints_unsubscribe_and_soft_bounces_only_count_as_history() -> None:
    complaint = after_returned_mail(Counts(1, 2, "W02"), "complaint", LIMITS)
    assert (complaint.change, complaint.counts) == (Change.UNSUBSCRIBE, Counts(1, 2, "W02"))
    soft = after_returned_mail(Counts(), "soft", LIMITS)
    assert (soft.event, soft.change, soft.counts) == ("soft", None, Counts())


def test_each_refusal_is_its_own_class_and_carries_its_fields() -> None:
    from newsletter import errors

    bad = errors.InvalidAddress("x@@y", "two @ signs")
    assert isinstance(bad, errors.SubscriberError) and bad.value == "x@@y"
    unknown = errors.UnknownTopics(["nope"], ["ai", "cloud"])
    assert unknown.unknown == ("nope",) and "ai" in str(unknown)
    closed = errors.SendWindowClosed("2021-W10", datetime(2021, 3, 8, tzinfo=UTC), 48)
    assert isinstance(closed, errors.DeliveryError) and closed.issue_id == "2021-W10"
    refused = errors.MailServerRefused("login", "535 bad credentials", "check smtp.username")
    assert refused.reply == "535 bad credentials" and "smtp.username" in str(refused)
