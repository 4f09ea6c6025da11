"""``<base>/review``: the editors' page behind the links of a review copy
(``newsletter.review``).

GET shows the issue's stories, where its review stands and the action the link
offered, as a form; only POST acts (``review.workflow.act``), because mail
scanners fetch every link in a message. Both need the link's signed pass
(``review.links``): a forged, expired or former editor's link gets 400 and counts
against the client's window for bad links. The handler only translates HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from feeds.errors import FeedletterError
from newsletter.config import Config
from newsletter.errors import ReviewError
from newsletter.issue.marks import ACTIONS, APPROVED, SKIPPED
from newsletter.review import links
from newsletter.review.copy import when_sent
from newsletter.review.workflow import Status, act, find_story, statuses
from newsletter.web.endpoints import page
from newsletter.web.ratelimit import Windows


def standing(found: Status, require_approval: bool) -> tuple[str, bool]:
    """Where the review stands, as a sentence, and whether actions still apply."""
    review = found.review
    if review is not None and review.released_at is not None:
        return f"This issue went out at {review.released_at:%Y-%m-%d %H:%M} UTC.", False
    if review is not None and review.state == SKIPPED:
        return "This issue was skipped: it will not be sent.", False
    if review is not None and review.state == APPROVED:
        return "This issue is approved and goes out at the next release.", True
    if review is None:
        return "This issue waits for an editor's approval.", True
    return "This issue waits for the editors. " + when_sent(review, require_approval), True


@dataclass(frozen=True)
class ReviewPage:
    """The review page, bound to one config and secret."""

    config: Config
    # the link-signing secret
    secret: bytes
    # requests with bad links, per client (shared with the reader endpoints)
    clients: Windows
    # the client's address (X-Forwarded-For from trusted proxies)
    client: Callable[[Request], str]
    # the 429 check, and the page for a link that is not valid
    over: Callable[[Windows, str], Awaitable[Response | None]]
    invalid: Callable[[str], Response]
    # runs blocking work on the database threads
    run: Callable[..., Awaitable[Any]]

    def _grant(self, request: Request) -> links.Pass | None:
        review = self.config.newsletter.review
        editors = review.editors if review is not None else []
        return links.verify(self.secret, request.query_params, editors, datetime.now(UTC))

    async def show(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return await self.over(self.clients, self.client(request)) or self.invalid("review")
        offer = request.query_params.get("do", "")
        return await self._page(grant, offer if offer in ACTIONS else "", request)

    async def act(self, request: Request) -> Response:
        grant = self._grant(request)
        if grant is None:
            return await self.over(self.clients, self.client(request)) or self.invalid("review")
        form = await request.form()
        action, story = str(form.get("do", "")), str(form.get("story", ""))
        if action not in ACTIONS:
            return self.invalid("review")
        now = datetime.now(UTC)
        issue_id, editor = grant.issue_id, grant.editor
        try:
            done = await self.run(act, self.config, issue_id, action, editor, now, story)
        except FeedletterError as exc:  # no longer applies, or a build holds the work lock
            return await self._page(grant, "", request, str(exc), 409)
        note = {
            "approve": f"Approved by {grant.editor}.",
            "skip": f"Skipped by {grant.editor}: the issue will not be sent.",
            "drop": f"Dropped “{done.story.title if done.story else story}”.",
        }[action]
        return await self._page(grant, "", request, note)

    async def _page(
        self, grant: links.Pass, offer: str, request: Request, note: str = "", status: int = 200
    ) -> Response:
        try:
            found = (await self.run(statuses, self.config, grant.issue_id))[0]
        except FeedletterError as exc:  # the issue's files are gone (UnknownIssue)
            return page(self.config, "Review", [str(exc)], 404)
        review = self.config.newsletter.review
        sentence, still_open = standing(found, review.require_approval if review else True)
        offered = None
        if offer == "drop":
            try:
                offered = find_story(found.info, request.query_params.get("story", ""))
            except ReviewError:
                offered = None
        return page(
            self.config,
            f"Review of issue {found.info.id}",
            status=status,
            template="review.html.j2",
            issue=found.info,
            standing=sentence,
            open=still_open,
            offer=offer,
            offered=offered,
            note=note,
            editor=grant.editor,
            actions=found.actions,
        )
