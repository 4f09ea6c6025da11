"""Counted links (``newsletter.count_clicks``): an issue's links through ``serve``.

``counted`` rewrites every http(s) link of a mail's HTML part, and the same URLs
in its text part, to ``<base_url>/r/<issue>/<mac>?to=<url>``: the MAC (HMAC-SHA256
with the link-signing secret over the issue id and the URL) makes it no open
redirect, and the link names no reader. ``verify`` is what ``serve`` checks
before it redirects. Pure functions; the web copy is never rewritten.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

from feeds.urls import check_url
from newsletter.issue.message import MessageParts
from newsletter.issue.render import PREFERENCES_URL, UNSUBSCRIBE_URL

# the path under base_url that answers counted links
PATH = "r"
_HREF = re.compile(r'href="(https?://[^"]+)"')
# the per-reader links, filled in per copy: never counted (they name the reader)
OWN_LINKS = (UNSUBSCRIBE_URL, PREFERENCES_URL)


@dataclass(frozen=True)
class CountedParts:
    """An issue's message parts with their links counted."""

    issue_id: str
    subject: str
    html: str
    text: str


def mac(secret: bytes, issue_id: str, url: str) -> str:
    """The signature of a counted link: 16 bytes of HMAC-SHA256, base64url."""
    digest = hmac.new(secret, f"click\0{issue_id}\0{url}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


def verify(secret: bytes, issue_id: str, url: str, signature: str) -> bool:
    """Whether ``signature`` is this link's (compared in constant time) and ``url`` is
    one a counted link may lead to."""
    if check_url(url) != url:
        return False
    return hmac.compare_digest(mac(secret, issue_id, url), signature)


def link(base_url: str, secret: bytes, issue_id: str, url: str) -> str:
    """The counted link that leads to ``url``."""
    signature = mac(secret, issue_id, url)
    return f"{base_url}/{PATH}/{quote(issue_id, safe='')}/{signature}?to={quote(url, safe='')}"


def counted(parts: MessageParts, base_url: str, secret: bytes) -> CountedParts:
    """``parts`` with every http(s) link of the HTML part (and the same URLs where the
    text part shows them) leading through ``serve``'s counter, except the reader's
    own links (unsubscribe, preferences: placeholders filled per recipient)."""
    found = {html.unescape(m.group(1)) for m in _HREF.finditer(parts.html)}
    urls = {url for url in found if not any(mark in url for mark in OWN_LINKS)}
    if not urls:
        return CountedParts(parts.issue_id, parts.subject, parts.html, parts.text)
    new = {url: link(base_url, secret, parts.issue_id, url) for url in urls}

    def in_html(match: re.Match[str]) -> str:
        target = new.get(html.unescape(match.group(1)))
        return match.group(0) if target is None else f'href="{html.escape(target)}"'

    # one pass over the text, longest URL first, each ending where the URL does: a
    # link that another link's URL starts with is not rewritten inside it
    pattern = "|".join(re.escape(url) for url in sorted(urls, key=len, reverse=True))
    in_text = re.compile(f"(?:{pattern})(?![^\\s<>\"')\\]])")
    text = in_text.sub(lambda m: new[m.group(0)], parts.text)
    return CountedParts(parts.issue_id, parts.subject, _HREF.sub(in_html, parts.html), text)
