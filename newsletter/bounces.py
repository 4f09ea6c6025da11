"""Returned mail: bounces (delivery status notifications) and complaints (ARF reports).

``feedletter bounces import PATH`` reads a Maildir folder or an mbox file. Each
message is classified here (pure: bytes in, ``Returned`` out):

- a complaint: an RFC 5965 feedback report (``multipart/report;
  report-type=feedback-report``);
- a hard or soft bounce: RFC 3464 delivery status notifications and the
  non-standard formats big providers send, read by flufl.bounce (its detectors
  know Postfix, Exim, Exchange, Gmail, Amazon SES, qmail, and more), with the
  ``Action``/``Status`` fields of a DSN deciding permanent or temporary.

A report is mapped to the subscriber it concerns by the **Message-ID** of the
issue it returns (stable per issue and recipient, and kept in the send log),
found in the returned headers; failing that, by the failed recipient address.
We do not use VERP: the return path stays the plain sender address. Anything
unreadable is reported and skipped, never fatal. What to do with a reader is the
lifecycle's decision (``subscribers.record_returned_mail``).
"""

from __future__ import annotations

import email
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from pathlib import Path

from flufl.bounce import all_failures

from . import state
from . import subscribers as subs
from .errors import ReturnedMailError
from .state import Db

# flufl.bounce logs a traceback for every detector that chokes on odd mail; the
# import reports each message itself
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_STATUS = re.compile(r"^status:\s*([245])\.\d{1,3}\.\d{1,3}", re.IGNORECASE | re.MULTILINE)
_ACTION = re.compile(r"^action:\s*(\w+)", re.IGNORECASE | re.MULTILINE)
_DIAGNOSTIC = re.compile(r"^diagnostic-code:\s*(?:smtp;\s*)?(.+)$", re.IGNORECASE | re.MULTILINE)
_RECIPIENT = re.compile(
    r"^(?:final|original)-recipient:\s*rfc822;\s*<?([^>\s]+)>?", re.IGNORECASE | re.MULTILINE
)
_SMTP_REPLY = re.compile(r"\b([45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*)$", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Returned:
    """What one returned message says."""

    # "complaint", "hard", "soft", or "unknown" (not a bounce we can read)
    kind: str
    # Message-IDs of our messages it returns (from the enclosed headers)
    message_ids: tuple[str, ...]
    # the addresses it names as failed or complaining
    addresses: tuple[str, ...]
    # the server's reason, one line (Diagnostic-Code, an SMTP reply, a feedback type)
    detail: str


def classify(raw: bytes) -> Returned:
    """Read one returned message."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    text = _all_text(message)
    message_ids = tuple(dict.fromkeys(m for m in _MESSAGE_ID.findall(_enclosed(message, text))))
    if _is_feedback_report(message):
        feedback = re.search(r"^feedback-type:\s*(\S+)", text, re.IGNORECASE | re.MULTILINE)
        addresses = re.findall(
            r"^original-rcpt-to:\s*<?([^>\s]+)>?", text, re.IGNORECASE | re.MULTILINE
        )
        detail = f"complaint ({feedback.group(1) if feedback else 'abuse'})"
        return Returned("complaint", message_ids, tuple(addresses), detail)
    try:
        temporary, permanent = all_failures(message)
    except Exception:
        temporary = permanent = frozenset()
    addresses = [a.decode("utf-8", "replace") for a in sorted(permanent | temporary)]
    addresses += [a for a in _RECIPIENT.findall(text) if a not in addresses]
    statuses = set(_STATUS.findall(text))
    actions = {a.lower() for a in _ACTION.findall(text)}
    if permanent or "5" in statuses or "failed" in actions:
        kind = "hard"
    elif temporary or "4" in statuses or "delayed" in actions:
        kind = "soft"
    else:
        kind = "unknown"
    diagnostic = _DIAGNOSTIC.search(text) or _SMTP_REPLY.search(text)
    detail = " ".join(diagnostic.group(1).split())[:300] if diagnostic else ""
    return Returned(kind, message_ids, tuple(addresses), detail)


def _is_feedback_report(message: Message) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type") or "").lower() == "feedback-report"
    )


def _all_text(message: Message) -> str:
    """Every text-like part, decoded, one after the other (attachments included).

    DSN fields are unfolded (a continuation line joins the line before it).
    """
    chunks: list[str] = []
    for part in message.walk():
        if part.get_content_type() in ("message/delivery-status", "message/feedback-report"):
            blocks = part.get_payload()
            if isinstance(blocks, list):  # the parser gives its header blocks as messages
                chunks.extend(_unfold(str(block)) for block in blocks)
            continue
        if part.is_multipart():
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            chunks.append(payload.decode(charset if _known(charset) else "utf-8", "replace"))
        elif isinstance(part.get_payload(), str):
            chunks.append(str(part.get_payload()))
    return "\n".join(chunks)


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", text)


def _known(charset: str) -> bool:
    try:
        "".encode(charset)
    except LookupError:
        return False
    return True


def _enclosed(message: Message, text: str) -> str:
    """The returned original's headers: enclosed message parts, or the text after a marker."""
    headers: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            payload = part.get_payload()
            if isinstance(payload, list):
                headers.extend(str(p) for p in payload)
            else:
                raw = part.get_payload(decode=True)
                headers.append(raw.decode("utf-8", "replace") if isinstance(raw, bytes) else "")
    if headers:
        return "\n".join(headers)
    # non-DSN bounces (Exim and others) quote the original after the report text
    marker = re.search(r"(?im)^-+ *(?:this is a copy of|original message)", text)
    return text[marker.start() :] if marker else text


def read_mail(path: Path) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every message in a Maildir folder or an mbox file."""
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new")):
            raise ReturnedMailError(
                path, "is a folder but not a Maildir (it has no cur/ and new/ folders)"
            )
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
    else:
        with open(path, "rb") as handle:
            start = handle.read(5)
        if start and start != b"From ":
            raise ReturnedMailError(
                path, "is not an mbox file (it does not start with a 'From ' line)"
            )
        box = mailbox.mbox(path, create=False)
    for key in sorted(box.keys()):
        try:
            yield str(key), box.get_bytes(key)
        except (OSError, KeyError, ValueError) as exc:
            yield str(key), f"unreadable: {exc}".encode()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What importing one returned message did."""

    # the message's key in the mailbox
    name: str
    # what it was: "complaint", "hard", "soft", "unknown", or "unreadable"
    kind: str
    # the subscriber it concerned (address), or "" when none matched
    subscriber: str
    # the subscriber's new status, or "" when nothing changed
    status: str
    # the server's reason or what went wrong
    detail: str


def import_returned(conn: Db, path: Path, *, hard_limit: int, now: datetime) -> list[Outcome]:
    """Classify every message at ``path`` and act on the subscribers they concern."""
    outcomes = []
    for name, raw in read_mail(path):
        try:
            returned = classify(raw)
        except Exception as exc:
            outcomes.append(Outcome(name, "unreadable", "", "", f"{type(exc).__name__}: {exc}"))
            continue
        found = _subscriber(conn, returned)
        if found is None or returned.kind == "unknown":
            outcomes.append(Outcome(name, returned.kind, "", "", returned.detail))
            continue
        status = subs.record_returned_mail(
            conn, found.id, returned.kind, returned.detail, hard_limit=hard_limit, now=now
        )
        outcomes.append(Outcome(name, returned.kind, found.email, status, returned.detail))
    return outcomes


def _subscriber(conn: Db, returned: Returned) -> subs.Subscriber | None:
    for message_id in returned.message_ids:
        subscriber_id = state.subscriber_for_message(conn, message_id)
        if subscriber_id is not None:
            found = subs.by_id(conn, subscriber_id)
            if found is not None:
                return found
    for address in returned.addresses:
        found = subs.get(conn, address)
        if found is not None:
            return found
    return None
