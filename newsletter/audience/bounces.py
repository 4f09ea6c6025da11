"""Returned mail: bounces (delivery status notifications) and complaints (ARF reports).

``feedletter bounces import PATH`` reads a Maildir folder or an mbox file. A
returned message changes a reader only when it **proves** it is about a message
we sent to that reader; anything else is "not ours" and changes nobody, however
it is worded (anyone can mail the bounce address).

1. ``parse`` (pure: bytes in, ``Returned`` out) reads what the message says, each
   thing only where real reports carry it: the addresses it was delivered to
   (``Delivered-To``, ``X-Original-To``, ``Envelope-To``, ``To``: a VERP return
   path lands there); the Message-IDs of the original (its enclosed headers, a
   DSN's ``X-Original-Message-ID``, ``In-Reply-To``/``References``, an Exim-style
   quoted copy); the per-recipient fields of an RFC 3464 ``message/delivery-status``
   part (``Final-Recipient``, ``Original-Recipient``, ``Action``, ``Status``), or
   for non-standard bounces what flufl.bounce's detectors find (Postfix, Exim,
   qmail, Exchange, and more); for an RFC 5965 feedback report its
   ``Original-Rcpt-To``. A ``Status:`` line in free text counts for nothing.
2. ``returnpath`` verifies the references: a VERP tag or a Message-ID is ours only
   if its HMAC (keyed with the secret) is right, so an outsider cannot make one.
3. ``judge`` (pure) decides: no proof, or proofs about different readers: not
   ours. A report that names recipients must name the proven reader's address
   (a bounce of a forwarded copy keeps the Message-ID but names someone else); a
   VERP proof, being one message to one reader, may stand for a report about a
   single recipient. Then the reader's own fields decide: ``failed``/5.x.x hard,
   ``delayed``/4.x.x soft, a feedback report a complaint, anything else (an
   auto-reply, a ``delivered`` notice) nothing.

What a verdict does to the reader is ``audience.status``'s decision, applied by
``lifecycle.record_returned_mail``. A message is acted on once: importing the
same mailbox again changes nothing. Oversized or unreadable messages are
reported and skipped, never fatal.
"""

from __future__ import annotations

import email
import hashlib
import logging
import mailbox
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import Message
from email.utils import getaddresses
from pathlib import Path

from flufl.bounce import all_failures

from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.config import BounceSettings
from newsletter.errors import ReturnedMailError
from newsletter.mail.returnpath import tag_of, verify_message_id, verify_tag
from newsletter.state import Db

# flufl.bounce logs a traceback for every detector that chokes on odd mail; the
# import reports each message itself
logging.getLogger("flufl.bounce").setLevel(logging.CRITICAL)

_MESSAGE_ID = re.compile(r"^message-id:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_ANGLE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")
_SMTP_REPLY = re.compile(r"\b([45]\d\d[ -][245]\.\d{1,3}\.\d{1,3}\b.*)$", re.MULTILINE)
_QUOTED_COPY = re.compile(r"(?im)^-+ *(?:this is a copy of|original message)")
# headers a delivering server writes with the address the message was delivered to
_ENVELOPE_HEADERS = ("delivered-to", "x-original-to", "envelope-to", "x-envelope-to", "to")


@dataclass(frozen=True, slots=True)
class Recipient:
    """What a report says of one recipient of the original message."""

    # the address the report names (Final-Recipient, or the only one it gives), lower case
    address: str
    # the Original-Recipient, when the report gives one, lower case
    original: str
    # "failed", "delayed", "delivered", "relayed", "expanded", "complaint", or ""
    action: str
    # the status code (5.1.1), or ""
    status: str


@dataclass(frozen=True, slots=True)
class Returned:
    """What one returned message says, read only where real reports carry each thing."""

    # "feedback" (RFC 5965), "dsn" (RFC 3464), or "other" (anything else)
    form: str
    # the addresses it was delivered to (where a VERP return path shows)
    delivered_to: tuple[str, ...]
    # Message-IDs of the original it returns
    message_ids: tuple[str, ...]
    # the recipients it reports on, each with its action and status
    recipients: tuple[Recipient, ...]
    # the server's reason, one line (Diagnostic-Code, an SMTP reply, a feedback type)
    detail: str


@dataclass(frozen=True, slots=True)
class Proof:
    """A verified reference: a message we sent to this reader."""

    # the reader it was sent to
    subscriber_id: int
    # the address it was sent to
    email: str
    # "return path" (a VERP tag: one message, one reader) or "message id"
    via: str


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a returned message means for our readers."""

    # "hard", "soft", "complaint", "none" (ours, nothing to act on), or "not ours"
    kind: str
    # the reader it is about (0 when not ours)
    subscriber_id: int = 0
    # why, for the report
    reason: str = ""


def parse(raw: bytes) -> Returned:
    """Read one returned message."""
    message = email.message_from_bytes(raw, policy=policy.compat32)
    delivered = _delivered_to(message)
    ids = _message_ids(message)
    if _is_report(message, "feedback-report"):
        fields = _report_fields(message, "message/feedback-report")
        first = fields[0] if fields else {}
        rcpt = _bare(first.get("original-rcpt-to", ""))
        complainant = (Recipient(rcpt, rcpt, "complaint", ""),) if rcpt else ()
        feedback = first.get("feedback-type", "abuse") or "abuse"
        return Returned("feedback", delivered, ids, complainant, f"complaint ({feedback})")
    if _is_report(message, "delivery-status"):
        blocks = _report_fields(message, "message/delivery-status")
        per_message = blocks[0] if blocks else {}
        ids = tuple(
            dict.fromkeys([*ids, *_ANGLE_ID.findall(per_message.get("x-original-message-id", ""))])
        )
        recipients = []
        detail = ""
        for block in blocks[1:] if len(blocks) > 1 else blocks:
            final = _bare(block.get("final-recipient", ""))
            original = _bare(block.get("original-recipient", ""))
            if not final and not original:
                continue
            status = re.match(r"\s*([245]\.\d{1,3}\.\d{1,3})", block.get("status", ""))
            recipients.append(
                Recipient(
                    final or original,
                    original,
                    block.get("action", "").strip().lower(),
                    status.group(1) if status else "",
                )
            )
            detail = detail or " ".join(block.get("diagnostic-code", "").split())
        detail = re.sub(r"^smtp;\s*", "", detail, flags=re.IGNORECASE)
        return Returned("dsn", delivered, ids, tuple(recipients), detail[:300])
    return _other(message, delivered, ids)


def _other(message: Message, delivered: tuple[str, ...], ids: tuple[str, ...]) -> Returned:
    """A bounce in no standard form: what flufl.bounce's detectors make of it."""
    try:
        temporary, permanent = all_failures(message)
    except Exception:
        temporary = permanent = frozenset()
    recipients = [
        Recipient(a.decode("utf-8", "replace").lower(), "", "failed", "") for a in sorted(permanent)
    ]
    recipients += [
        Recipient(a.decode("utf-8", "replace").lower(), "", "delayed", "")
        for a in sorted(temporary - permanent)
    ]
    for value in message.get_all("x-failed-recipients") or []:
        for _, address in getaddresses([str(value)]):
            if address and address.lower() not in {r.address for r in recipients}:
                recipients.append(Recipient(address.lower(), "", "failed", ""))
    reply = _SMTP_REPLY.search(_body_text(message))
    detail = " ".join(reply.group(1).split())[:300] if reply else ""
    return Returned("other", delivered, ids, tuple(recipients), detail)


def _is_report(message: Message, report_type: str) -> bool:
    return (
        message.get_content_type() == "multipart/report"
        and str(message.get_param("report-type") or "").lower() == report_type
    )


def _report_fields(message: Message, content_type: str) -> list[dict[str, str]]:
    """The field blocks of a report part (the per-message block first), names lower case."""
    for part in message.walk():
        if part.get_content_type() != content_type:
            continue
        payload = part.get_payload()
        texts = [str(b) for b in payload] if isinstance(payload, list) else [str(payload)]
        blocks: list[dict[str, str]] = []
        for text in texts:
            for chunk in re.split(r"\r?\n\s*\r?\n", re.sub(r"\r?\n[ \t]+", " ", text)):
                fields: dict[str, str] = {}
                for line in chunk.splitlines():
                    name, colon, value = line.partition(":")
                    if colon and name.strip():
                        fields.setdefault(name.strip().lower(), value.strip())
                if fields:
                    blocks.append(fields)
        return blocks
    return []


def _bare(value: str) -> str:
    """The address of a report field (``rfc822; <a@b>``), lower case."""
    value = value.split(";", 1)[1] if ";" in value else value
    return value.strip().strip("<>").strip().lower()


def _delivered_to(message: Message) -> tuple[str, ...]:
    found: list[str] = []
    for name in _ENVELOPE_HEADERS:
        for value in message.get_all(name) or []:
            found += [a for _, a in getaddresses([str(value)]) if a]
    return tuple(dict.fromkeys(found))


def _message_ids(message: Message) -> tuple[str, ...]:
    """Message-IDs of the returned original: its enclosed headers, the bounce's
    In-Reply-To and References, or a quoted copy of the original in a plain bounce."""
    found: list[str] = []
    enclosed = False
    for part in message.walk():
        kind = part.get_content_type()
        if kind in ("message/rfc822", "text/rfc822-headers", "message/rfc822-headers"):
            enclosed = True
            payload = part.get_payload()
            if isinstance(payload, list):
                texts = [str(p) for p in payload]
            else:
                raw = part.get_payload(decode=True)
                texts = [raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""]
            for text in texts:
                head = re.split(r"\r?\n\r?\n", text, maxsplit=1)[0]
                found += _MESSAGE_ID.findall(head)
    for name in ("in-reply-to", "references"):
        for value in message.get_all(name) or []:
            found += _ANGLE_ID.findall(str(value))
    if not enclosed and not message.is_multipart():
        text = _body_text(message)
        marker = _QUOTED_COPY.search(text)
        if marker:
            found += _MESSAGE_ID.findall(text[marker.start() :])
    return tuple(dict.fromkeys(found))


def _body_text(message: Message) -> str:
    chunks: list[str] = []
    for part in message.walk():
        if part.is_multipart() or part.get_content_maintype() != "text":
            continue
        payload = part.get_payload(decode=True)
        if isinstance(payload, bytes):
            charset = part.get_content_charset() or "utf-8"
            try:
                chunks.append(payload.decode(charset, "replace"))
            except LookupError:
                chunks.append(payload.decode("utf-8", "replace"))
    return "\n".join(chunks)


def judge(returned: Returned, proofs: list[Proof]) -> Verdict:
    """What a returned message means, given the references it verifiably carries."""
    readers = {p.subscriber_id for p in proofs}
    if not readers:
        return Verdict("not ours", reason="no keyed reference to a message we sent")
    if len(readers) > 1:
        return Verdict("not ours", reason="references to messages for different readers")
    # a VERP proof says most (one message to one reader): prefer it
    proof = min(proofs, key=lambda p: p.via != "return path")
    address = proof.email.lower()
    named = [r for r in returned.recipients if address in (r.address, r.original)]
    if not named and returned.recipients:
        if proof.via == "return path" and len(returned.recipients) == 1:
            named = list(returned.recipients)  # one message to one reader: it is theirs
        else:
            return Verdict("not ours", reason=f"it reports on other addresses than {address}")
    if returned.form == "feedback":
        return Verdict("complaint", proof.subscriber_id, returned.detail)
    for recipient in named:
        if recipient.action == "failed" or recipient.status.startswith("5"):
            return Verdict("hard", proof.subscriber_id, returned.detail)
    for recipient in named:
        if recipient.action == "delayed" or recipient.status.startswith("4"):
            return Verdict("soft", proof.subscriber_id, returned.detail)
    return Verdict("none", proof.subscriber_id, "no failure reported for our reader")


def proofs_of(conn: Db, returned: Returned, secret: bytes, return_path: str,
              delimiter: str) -> list[Proof]:  # fmt: skip
    """The references in ``returned`` that verify: VERP tags and keyed Message-IDs."""
    proofs: list[Proof] = []
    for address in returned.delivered_to:
        tag = tag_of(address, return_path, delimiter)
        if tag is None:
            continue
        subscriber_id, issue_id, mac = tag
        row = state.subscriber_by_id(conn, subscriber_id)
        if row is not None and verify_tag(secret, subscriber_id, issue_id, row["email"], mac):
            proofs.append(Proof(subscriber_id, row["email"], "return path"))
    for value in returned.message_ids:
        sent = state.delivery_for_message(conn, value)
        if sent is None:
            continue
        if verify_message_id(secret, value, sent["issue_id"], sent["email"]):
            proofs.append(Proof(int(sent["subscriber_id"]), sent["email"], "message id"))
    return proofs


def read_mail(path: Path, max_bytes: int) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes) of every message in a Maildir folder or an mbox file; ``None``
    for a message larger than ``max_bytes`` (it is not read)."""
    if path.is_dir():
        if not all((path / sub).is_dir() for sub in ("cur", "new")):
            raise ReturnedMailError(
                path, "is a folder but not a Maildir (it has no cur/ and new/ folders)"
            )
        box: mailbox.Mailbox[mailbox.Message] = mailbox.Maildir(path, create=False)
    else:
        try:
            with open(path, "rb") as handle:
                start = handle.read(5)
        except OSError as exc:
            raise ReturnedMailError(path, f"cannot be read: {exc.strerror or exc}") from exc
        if start and start != b"From ":
            raise ReturnedMailError(
                path, "is not an mbox file (it does not start with a 'From ' line)"
            )
        box = mailbox.mbox(path, create=False)
    try:
        keys = sorted(box.keys())
    except OSError as exc:
        raise ReturnedMailError(path, f"cannot be read: {exc.strerror or exc}") from exc
    for key in keys:
        try:
            with box.get_file(key) as handle:
                data = handle.read(max_bytes + 1)
        except (OSError, KeyError, ValueError) as exc:
            yield str(key), f"unreadable: {exc}".encode()
            continue
        yield str(key), (data if len(data) <= max_bytes else None)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What importing one returned message did."""

    # the message's key in the mailbox
    name: str
    # "complaint", "hard", "soft", "none", "not ours", "already imported",
    # "too large" or "unreadable"
    kind: str
    # the subscriber it concerned (address), or "" when none
    subscriber: str
    # the subscriber's new status, or "" when nothing changed
    status: str
    # the server's reason or what went wrong
    detail: str


def import_returned(
    conn: Db,
    path: Path,
    *,
    secret: bytes,
    return_path: str,
    delimiter: str = "+",
    limits: BounceSettings,
    max_bytes: int,
    now: datetime,
) -> list[Outcome]:
    """Read every message at ``path`` and act on the readers it proves are concerned."""
    outcomes = []
    for name, raw in read_mail(path, max_bytes):
        if raw is None:
            outcomes.append(Outcome(name, "too large", "", "", f"larger than {max_bytes} bytes"))
            continue
        try:
            returned = parse(raw)
        except Exception as exc:
            outcomes.append(Outcome(name, "unreadable", "", "", f"{type(exc).__name__}: {exc}"))
            continue
        verdict = judge(returned, proofs_of(conn, returned, secret, return_path, delimiter))
        found = subs.by_id(conn, verdict.subscriber_id) if verdict.subscriber_id else None
        if found is None or verdict.kind in ("none", "not ours"):
            who = found.email if found else ""
            outcomes.append(Outcome(name, verdict.kind, who, "", verdict.reason))
            continue
        source = f"returned mail {hashlib.sha256(raw).hexdigest()[:32]}"
        if state.returned_mail_seen(conn, source):
            outcomes.append(Outcome(name, "already imported", found.email, "", verdict.reason))
            continue
        status = subs.record_returned_mail(
            conn, found.id, verdict.kind, verdict.reason, source=source,
            limits=limits, now=now,
        )  # fmt: skip
        outcomes.append(Outcome(name, verdict.kind, found.email, status, verdict.reason))
    return outcomes
