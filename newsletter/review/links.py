"""The editors' signed links: one per editor and issue, good until the issue's send
window closes (``newsletter.send_window_hours``), after which it cannot be sent.

A link names the issue, the editor and its expiry, with an HMAC-SHA256 over the
three under the link-signing secret; ``do`` and ``story`` only say which action
the page should offer first, so they are not signed: the action itself is a POST
from the page, never a GET, because mail scanners follow every link in a message.
A link stops working when its editor is no longer in ``newsletter.review.editors``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

# the review page, under the site's base path
PATH = "review"
_FIELDS = ("issue", "by", "until", "sig")


@dataclass(frozen=True, slots=True)
class Pass:
    """An editor's right to act on one issue, as a verified link carries it."""

    # the issue's id
    issue_id: str
    # the editor's address (who the action log names)
    editor: str
    # epoch seconds after which the link no longer works
    expires: int

    def query(self, secret: bytes) -> dict[str, str]:
        """The signed query fields of this pass."""
        return {
            "issue": self.issue_id,
            "by": self.editor,
            "until": f"{self.expires:x}",
            "sig": _mac(secret, self.issue_id, self.editor, self.expires),
        }


def _mac(secret: bytes, issue_id: str, editor: str, expires: int) -> str:
    message = f"review\0{issue_id}\0{editor}\0{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def expiry(end: datetime, window_hours: float) -> int:
    """When links for an issue whose period ended at ``end`` stop working."""
    return int((end + timedelta(hours=window_hours)).timestamp())


def link(endpoint: str, secret: bytes, grant: Pass, do: str = "", story: str = "") -> str:
    """The review page's URL for ``grant``, offering ``do`` (on ``story``) first."""
    query = grant.query(secret)
    if do:
        query["do"] = do
    if story:
        query["story"] = story
    return f"{endpoint}?{urlencode(query)}"


def verify(
    secret: bytes, fields: Mapping[str, str], editors: Sequence[str], now: datetime
) -> Pass | None:
    """The pass that ``fields`` (a link's query, or the page's form) carry, when the
    signature is genuine, unexpired and its editor still an editor; else None."""
    if not all(fields.get(name) for name in _FIELDS):
        return None
    issue_id, editor, until, sig = (fields[name] for name in _FIELDS)
    try:
        expires = int(until, 16)
    except ValueError:
        return None
    if len(until) > 12 or editor not in editors:
        return None
    if not hmac.compare_digest(sig, _mac(secret, issue_id, editor, expires)):
        return None
    if now.timestamp() >= expires:
        return None
    return Pass(issue_id, editor, expires)
