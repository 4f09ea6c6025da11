"""The review copy: the real issue, as readers of the default topics will get it,
with a box on top that says it is a review copy and carries the editor's links.

The box is rendered from ``templates/review_banner.{html,txt}.j2`` (customisable
like every template) and put right after the ``<body>`` tag of the issue's HTML
part, and above its text part; the subject starts with "[Review] ". Nothing else
of the issue changes, so the editor sees what readers will see. Pure: the
sending is ``workflow``'s.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from feeds.rendering.templating import environment, render
from newsletter.config import Config
from newsletter.issue.archive import IssueInfo
from newsletter.issue.marks import Review
from newsletter.issue.message import MessageParts
from newsletter.review import links
from newsletter.sending.testsend import Retitled

REVIEW_PREFIX = "[Review] "
_BODY = re.compile(r"<body\b[^>]*>", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class StoryLink:
    """One story in the box, with the link that drops it."""

    number: int
    ref: str
    title: str
    section: str
    drop_url: str


def when_sent(review: Review, require_approval: bool) -> str:
    """When the issue goes out, as the box says it."""
    if require_approval:
        return "It goes out only when an editor approves it."
    return (
        f"It goes out at {review.hold_until:%Y-%m-%d %H:%M} UTC unless an editor skips it "
        "(approving sends it sooner)."
    )


def review_copy(
    config: Config,
    issue: MessageParts,
    info: IssueInfo,
    review: Review,
    grant: links.Pass,
    secret: bytes,
    readers: int | None,
) -> Retitled:
    """``issue`` as ``grant``'s editor gets it for review."""
    endpoint = config.endpoint(links.PATH)
    settings = config.newsletter.review
    assert settings is not None
    stories = [
        StoryLink(n, s.ref, s.title, s.section, links.link(endpoint, secret, grant, "drop", s.ref))
        for n, s in enumerate(info.toc, 1)
    ]
    context = {
        "issue_id": info.id,
        "when": when_sent(review, settings.require_approval),
        "readers": readers,
        "approve_url": links.link(endpoint, secret, grant, "approve"),
        "skip_url": links.link(endpoint, secret, grant, "skip"),
        "page_url": links.link(endpoint, secret, grant),
        "stories": stories,
    }
    env = environment(config.templates)
    box = render(env, "review_banner.html.j2", **context).decode()
    lines = render(env, "review_banner.txt.j2", **context).decode()
    found = _BODY.search(issue.html)
    at = found.end() if found else 0
    html = issue.html[:at] + box + issue.html[at:]
    return Retitled(issue.issue_id, REVIEW_PREFIX + issue.subject, html, lines + "\n" + issue.text)


def expires(info: IssueInfo, config: Config) -> int:
    """When the editors' links for ``info`` stop working."""
    return links.expiry(info.end_time, config.newsletter.send_window_hours)
