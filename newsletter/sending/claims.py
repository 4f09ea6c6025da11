"""Claims: several senders on one issue, and each recipient gets exactly one copy.

Before a sender (a worker thread of ``send --workers N``, or another ``send``
process, on this host or another one sharing the database) sends an issue to a
subscriber, it claims that pair in the state database, in one transaction: a
pair already in the send log, or claimed by another sender whose claim is alive,
is skipped. A claim lives for ``smtp.claim_lease_seconds``; a sender that
dies leaves its claims behind, and they are taken over when the lease ends, or at
once when the dead sender was a process on this host (its pid is gone). The
delivery is recorded only after the server accepted the message, then the claim
is dropped. The one window no one can close: the server said 250 and the sender
died before recording it; after the lease another sender sends that one again.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Sequence

from newsletter import state
from newsletter.state import Db, transaction

HOST = socket.gethostname()


def owner_id() -> str:
    """This sender: host, process and thread."""
    return f"{HOST}:{os.getpid()}:{threading.get_ident()}"


def _alive(owner: str) -> bool:
    """Whether a claim's owner may still be sending (only this host's pids can be checked)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(
    db: Db,
    issue_id: str,
    subscriber_id: int,
    owner: str,
    now: float,
    lease: float,
) -> bool:
    """Claim one (issue, subscriber) pair for ``owner``; False if it is done or taken
    (``claim_many`` for one pair)."""
    return subscriber_id in claim_many(db, issue_id, [subscriber_id], owner, now, lease)


def claim_many(
    db: Db,
    issue_id: str,
    subscriber_ids: Sequence[int],
    owner: str,
    now: float,
    lease: float,
    logged: Sequence[int] = (),
) -> set[int]:
    """Claim a batch of pairs for ``owner`` in one transaction: the ids claimed;
    ``owner``'s claims on ``logged`` (copies in the send log) are dropped first,
    in the same transaction.

    One statement claims the pairs no one claims; a pair held by a live sender
    whose lease holds is not taken, a lapsed or dead sender's claim is taken over.
    The claims are taken first and the send log read after them, in the same
    transaction: on PostgreSQL (read committed) a sender that recorded a pair and
    dropped its claim just before is then seen, never missed; a pair the log has
    is released again. A claim row is locked while deciding (``FOR UPDATE SKIP
    LOCKED``: a row another sender is deciding on is skipped, not waited for);
    SQLite's write lock serialises the whole. A batch costs one commit.
    """
    if not subscriber_ids:
        release(db, issue_id, logged, owner)
        return set()
    with transaction(db):
        if logged:
            state.drop_claims(db, issue_id, logged, owner)
        taken = state.insert_claims(db, issue_id, subscriber_ids, owner, now + lease)
        for subscriber_id in subscriber_ids:
            if subscriber_id in taken:
                continue
            held = state.claim_holder(db, issue_id, subscriber_id)
            if held is None:
                continue  # another sender is deciding on it right now
            holder, expires_at = held
            if holder != owner and expires_at > now and _alive(holder):
                continue
            state.update_claim(db, issue_id, subscriber_id, owner, now + lease)
            taken.add(subscriber_id)
        done = state.delivered_among(db, issue_id, sorted(taken)) if taken else set()
        if done:
            state.drop_claims(db, issue_id, sorted(done), owner)
    return taken - done


def renew(
    db: Db, issue_id: str, subscriber_ids: Sequence[int], owner: str, now: float, lease: float
) -> set[int]:
    """Extend ``owner``'s claims on these pairs by a lease from ``now``: the ids it
    still held. A sender renews the claims of the copies it has yet to send before
    half their lease has gone, so that a long batch (pacing, a relay's retries)
    never outlives them; one that lapsed anyway and was taken over by another
    sender is not among the ids, and is not sent."""
    if not subscriber_ids:
        return set()
    return state.renew_claims(db, issue_id, subscriber_ids, owner, now + lease)


def release(db: Db, issue_id: str, subscriber_ids: Sequence[int], owner: str) -> None:
    """Drop ``owner``'s claims on these pairs (sent and logged, or not sent after all)."""
    if subscriber_ids:
        with transaction(db):
            state.drop_claims(db, issue_id, subscriber_ids, owner)


def sweep(db: Db, issue_id: str) -> None:
    """Drop the claims left on pairs already in the send log: a sender drops its own
    a batch at a time, so one killed between logging a copy and that drop leaves
    some behind. Run when a send starts and ends."""
    state.drop_logged_claims(db, issue_id)
