"""The subscriber lifecycle: the one place that changes a subscriber.

Every status change is decided by ``status`` (the machine and its table) and
applied here, through ``state``, with the table's sources as the guard of the
UPDATE, so a change that no longer applies (another process got there first)
changes nothing. Readers sign up from the site (``sign_up``: pending, double
opt-in) and confirm (``confirm``); operators add or import readers who are
active at once (consent source "operator"). Only active readers get issues.
Consent — when, how and from where — is recorded. ``forget`` erases a person and
keeps only a keyed hash on the suppression list. Addresses follow the one rule
of ``newsletter.addresses``; topics are checked against the known ids, an empty
list meaning all topics. SQL lives in ``state``; mail in ``sending`` and
``notices``; this module raises ``SubscriberError``'s cases and prints nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from newsletter import state
from newsletter.addresses import normalise_address
from newsletter.audience.status import (
    SUBSCRIBED,
    BounceDecision,
    Change,
    Counts,
    Status,
    after_delivery,
    after_returned_mail,
    sources,
    target,
)
from newsletter.audience.subscriber import (
    Subscriber,
    by_id,
    by_ids,
    clean_name,
    get,
    listing,
    parse_topics,
    timestamp,
)
from newsletter.audience.tokens import address_hash
from newsletter.config import BounceSettings
from newsletter.errors import (
    AskedToBeForgotten,
    InvalidAddress,
    NotASubscriber,
    SuppressionNeedsSecret,
)
from newsletter.state import Db, Row, transaction

__all__ = [
    "Status",
    "Subscriber",
    "by_id",
    "by_ids",
    "get",
    "listing",
    "normalise_address",
    "parse_topics",
    "timestamp",
]


def _check_not_suppressed(conn: Db, address: str, secret: bytes | None, reconsent: bool) -> None:
    """Refuse an address on the suppression list, unless the person consents again."""
    if state.suppression_count(conn) == 0:
        return
    if secret is None:
        raise SuppressionNeedsSecret()
    digest = address_hash(secret, address)
    if not state.is_suppressed(conn, digest):
        return
    if not reconsent:
        raise AskedToBeForgotten(address)
    state.unsuppress(conn, digest)


def _change(
    conn: Db, subscriber_id: int, change: Change, when: str, reason: str, **values: object
) -> bool:
    """Apply ``change`` (with ``values``) if the reader's status still allows it."""
    return state.update_subscriber(
        conn,
        subscriber_id,
        only_status=sources(change),
        status=target(change),
        status_at=when,
        status_reason=reason[:300],
        **values,
    )


# a reader who becomes active anew starts with clean bounce counts
_FRESH_COUNTS = {"hard_bounces": 0, "soft_bounce_issues": 0, "last_soft_bounce_issue": ""}


def _new_reader(
    conn: Db,
    address: str,
    *,
    name: str,
    topics: str,
    status: Status,
    when: str,
    consent_source: str,
    consent_ip: str = "",
) -> int:
    """Insert a reader; one confirmed at once (an operator's) has consent from now."""
    confirmed = {"consent_at": when, "confirmed_at": when} if status == Status.ACTIVE else {}
    return state.insert_subscriber(
        conn,
        email=address,
        name=clean_name(name),
        topics=topics,
        status=status,
        created_at=when,
        status_at=when,
        consent_source=consent_source,
        consent_ip=consent_ip[:64],
        **confirmed,
    )


def add(
    conn: Db,
    email: str,
    *,
    name: str = "",
    topics: Sequence[str] = (),
    source: str = "operator",
    secret: bytes | None = None,
    reconsent: bool = False,
    now: datetime | None = None,
) -> tuple[Subscriber, bool]:
    """Add (or re-activate and update) an active subscriber; returns it and whether it is new.

    An operator action (``Change.ADD``): the reader is active at once, consent
    source ``source``.
    """
    address = normalise_address(email)
    when = timestamp(now)
    with transaction(conn):
        _check_not_suppressed(conn, address, secret, reconsent)
        row = state.subscriber_by_email(conn, address)
        if row is None:
            _new_reader(
                conn, address, name=name, topics=",".join(topics), status=Status.ACTIVE,
                when=when, consent_source=source,
            )  # fmt: skip
        else:
            _change(
                conn, row["id"], Change.ADD, when, "",
                name=clean_name(name) or row["name"], topics=",".join(topics),
                unsubscribed_at=None, consent_source=source, consent_at=when,
                confirmed_at=when, **_FRESH_COUNTS,
            )  # fmt: skip
    found = get(conn, address)
    assert found is not None
    return found, row is None


@dataclass(frozen=True, slots=True)
class SignUp:
    """What a sign-up decided: which mail (if any) goes out. The web reply never says."""

    # "confirm" (a confirmation link), "already" (a manage-your-topics note), or ""
    notice: str
    # the subscriber the notice goes to (None when nothing is sent)
    subscriber: Subscriber | None
    # the sign-up request the confirmation link applies (0 for other notices)
    request_id: int = 0
    # the notice reserved against the mail limits; ``notice_sent`` settles it
    notice_id: int = 0
    # why nothing is sent, for logs only ("limit", "suppressed")
    reason: str = ""


# a reserved notice counts against the mail limits for this long even if its
# sender died before settling it (then it is as if it had not been sent)
RESERVATION_SECONDS = 15 * 60


def sign_up(
    conn: Db,
    email: str,
    *,
    topics: Sequence[str],
    name: str,
    client: str,
    now: datetime,
    secret: bytes,
    per_address_minutes: float,
    per_address_per_day: int,
) -> SignUp:
    """A sign-up from the form: decide which mail goes out, changing no reader.

    A new address becomes a pending reader with a confirmation link. For every
    other address nothing about the reader changes here (an outsider can sign up
    anyone): pending, unsubscribed or bounced readers get a confirmation link
    whose sign-up request (topics, name) applies only when it is confirmed; active
    or paused readers get a "you are already subscribed" note. Either mail at most
    once per ``per_address_minutes`` and ``per_address_per_day`` times a day,
    counting only mail that went out (``notice_sent``). ``InvalidAddress`` only
    for an address that is not one (the form says so, as it would for any typo).
    """
    address = normalise_address(email)
    when = timestamp(now)
    wanted = ",".join(topics)
    with transaction(conn):
        if state.suppression_count(conn) and state.is_suppressed(
            conn, address_hash(secret, address)
        ):
            # forgotten on request: a form submission is no new consent we can verify
            return SignUp("", None, reason="suppressed")
        row = state.subscriber_by_email(conn, address)
        if row is None:
            subscriber_id = _new_reader(
                conn, address, name=name, topics=wanted, status=Status.PENDING, when=when,
                consent_source="form", consent_ip=client,
            )  # fmt: skip
        else:
            subscriber_id = row["id"]
        subscribed = row is not None and row["status"] in SUBSCRIBED
        notice = "already" if subscribed else "confirm"
        day_ago = timestamp(now - timedelta(days=1))
        reserved = timestamp(now - timedelta(seconds=RESERVATION_SECONDS))
        sent = state.notices_since(conn, subscriber_id, day_ago, reserved)
        recent = timestamp(now - timedelta(minutes=per_address_minutes))
        if len(sent) >= per_address_per_day or (sent and sent[0] > recent):
            return SignUp("", None, reason="limit")
        request_id = 0
        if notice == "confirm":
            request_id = state.insert_signup_request(
                conn, subscriber_id, wanted, clean_name(name), client[:64], when
            )
        notice_id = state.reserve_notice(conn, subscriber_id, notice, when)
    found = by_id(conn, subscriber_id)
    assert found is not None
    return SignUp(notice, found, request_id, notice_id)


def notice_sent(conn: Db, decision: SignUp, sent: bool) -> None:
    """Settle a sign-up's reserved notice: it went out (and counts) or it did not."""
    if decision.notice_id:
        with transaction(conn):
            state.finish_notice(conn, decision.notice_id, sent)


def confirm(
    conn: Db, subscriber_id: int, *, request_id: int = 0, client: str, now: datetime
) -> bool:
    """Make a reader active by their confirmation link, recording consent.

    The link's sign-up request (``request_id``) decides the topics and name
    (``Change.CONFIRM``); a link without one (mailed before requests existed)
    confirms a pending reader as they are (``Change.CONFIRM_PENDING``). False if
    the request is gone (expired, or confirmed already) or the reader is no longer
    waiting for it.
    """
    when = timestamp(now)
    with transaction(conn):
        row = state.subscriber_by_id(conn, subscriber_id)
        if row is None:
            return False
        values: dict[str, object] = {}
        change = Change.CONFIRM_PENDING
        if request_id:
            request = state.signup_request(conn, request_id, subscriber_id)
            if request is None:
                return False
            values = {"topics": request["topics"], "name": request["name"] or row["name"]}
            change = Change.CONFIRM
        changed = _change(
            conn, subscriber_id, change, when, "confirmed", confirmed_at=when,
            consent_source="form", consent_at=when, consent_ip=client[:64],
            unsubscribed_at=None, **_FRESH_COUNTS, **values,
        )  # fmt: skip
        if changed:
            state.purge_signup_requests(conn, "9999", subscriber_id)  # all of them: done
        return changed


def claim_welcome(conn: Db, subscriber_id: int, now: datetime) -> str | None:
    """Take the one welcome mail of a reader who just confirmed: the moment it was
    taken (give it to ``welcome_not_sent`` if the mail does not go), or None when
    they were welcomed before (a second confirmation) or are not active."""
    when = timestamp(now)
    with transaction(conn):
        return when if state.claim_welcome(conn, subscriber_id, when) else None


def welcome_not_sent(conn: Db, subscriber_id: int, taken: str) -> None:
    """The welcome mail taken at ``taken`` did not go out: the next confirmation may
    send it."""
    with transaction(conn):
        state.drop_welcome(conn, subscriber_id, taken)


def set_preferences(
    conn: Db,
    subscriber_id: int,
    *,
    topics: Sequence[str],
    paused: bool,
    now: datetime,
) -> bool:
    """Change an active or paused reader's topics and pause; False if they are neither."""
    change = Change.PAUSE if paused else Change.RESUME
    with transaction(conn):
        return _change(
            conn, subscriber_id, change, timestamp(now), "preferences", topics=",".join(topics)
        )


def unsubscribe(
    conn: Db,
    subscriber_id: int,
    *,
    reason: str = "unsubscribed",
    now: datetime | None = None,
) -> bool:
    """Mark a subscriber unsubscribed; returns False if they already were (or are gone)."""
    when = timestamp(now)
    with transaction(conn):
        return _change(conn, subscriber_id, Change.UNSUBSCRIBE, when, reason, unsubscribed_at=when)


def record_delivery_outcome(
    conn: Db,
    subscriber_id: int,
    issue_id: str,
    outcome: str,
    reply: str,
    *,
    limits: BounceSettings,
    now: datetime,
) -> bool:
    """Count a send's outcome ("sent", "failed" = 5xx, "deferred"); True if now bounced
    (``status.after_delivery`` decides)."""
    with transaction(conn):
        row = state.subscriber_by_id(conn, subscriber_id)
        if row is None:
            return False
        decision = after_delivery(_counts(row), outcome, issue_id, limits)
        status = _apply(conn, subscriber_id, decision, f"send {issue_id}", reply, now)
    return status == Status.BOUNCED


def record_returned_mail(
    conn: Db,
    subscriber_id: int,
    kind: str,
    detail: str,
    *,
    source: str = "returned mail",
    limits: BounceSettings,
    now: datetime,
) -> str:
    """Act on returned mail for one reader: "hard", "soft" or "complaint"
    (``status.after_returned_mail`` decides).

    ``source`` names the returned message in the bounce history (so it is acted on
    once). Returns the new status, or "" when nothing changed.
    """
    with transaction(conn):
        row = state.subscriber_by_id(conn, subscriber_id)
        if row is None:
            return ""
        decision = after_returned_mail(_counts(row), kind, limits)
        return _apply(conn, subscriber_id, decision, source, detail, now)


def _counts(row: Row) -> Counts:
    return Counts(row["hard_bounces"], row["soft_bounce_issues"], row["last_soft_bounce_issue"])


def _apply(
    conn: Db, subscriber_id: int, decision: BounceDecision, source: str, detail: str, now: datetime
) -> str:
    """Store a bounce decision: counts, the history event, the status change; returns
    the new status, or "" when the status did not change."""
    counts = decision.counts
    when = timestamp(now)
    state.update_subscriber(
        conn, subscriber_id, hard_bounces=counts.hard_bounces,
        soft_bounce_issues=counts.soft_bounce_issues,
        last_soft_bounce_issue=counts.last_soft_bounce_issue,
    )  # fmt: skip
    if decision.event:
        state.record_bounce_event(conn, subscriber_id, decision.event, source, detail, when)
    if decision.change is None:
        return ""
    extra = {"unsubscribed_at": when} if decision.change == Change.UNSUBSCRIBE else {}
    prefix = "complaint" if decision.event == "complaint" else f"{decision.event} bounce"
    if _change(conn, subscriber_id, decision.change, when, f"{prefix}: {detail}", **extra):
        return target(decision.change)
    return ""


def purge_pending(conn: Db, now: datetime, confirm_days: float) -> int:
    """Delete sign-ups never confirmed after ``confirm_days`` and sign-up requests
    that old (their links have expired); returns how many sign-ups went."""
    cutoff = timestamp(now - timedelta(days=confirm_days))
    with transaction(conn):
        state.purge_signup_requests(conn, cutoff)
        return state.purge_pending(conn, cutoff)


def remove(conn: Db, email: str) -> Subscriber:
    """Delete a subscriber (the send log keeps its rows); ``NotASubscriber`` if unknown."""
    found = get(conn, email)
    if found is None:
        raise NotASubscriber(email)
    with transaction(conn):
        state.delete_subscriber(conn, found.id)
    return found


def forget(conn: Db, email: str, secret: bytes, now: datetime) -> Subscriber:
    """Erase a person: their row, their requests and bounce history, and their address
    and Message-IDs in the send log (whose rows stay, so nothing is sent twice); keep
    only a keyed hash.

    The hash on the suppression list makes ``add``/``import`` refuse the address
    again unless the person consents anew (``reconsent``).
    """
    address = email.strip()
    found = get(conn, address)
    if found is None:
        try:
            found = get(conn, normalise_address(address))
        except InvalidAddress:
            found = None
    if found is None:
        raise NotASubscriber(email)
    digest = address_hash(secret, found.email)
    with transaction(conn):
        state.forget_subscriber_traces(conn, found.id)
        state.delete_subscriber(conn, found.id)
        state.suppress(conn, digest, "forgotten on request", timestamp(now))
    return found


def request_open(conn: Db, subscriber_id: int, request_id: int) -> bool:
    """Whether this reader's sign-up request still waits for its confirmation."""
    return state.signup_request(conn, request_id, subscriber_id) is not None
