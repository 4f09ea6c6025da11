"""``GET <base>/r/<issue>/<mac>?to=<url>``: a counted link (``newsletter.count_clicks``).

It answers 302 to ``url`` at once when the MAC is the link's (``issue.clicks``),
and then adds one to that issue's count for that link: the database knows an
issue, a URL and a number, nothing about who clicked. A second click on the same
link from the same client within ``newsletter.click_window_seconds`` (a mail
scanner fetching every link, a double tap) is not counted again; that memory
holds a hash of client and link and lives only in this process. A forged link
gets 400 and counts against the client's window for bad links.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from newsletter import state
from newsletter.issue.clicks import verify
from newsletter.state import Db
from newsletter.web.ratelimit import Windows

log = logging.getLogger("feedletter.clicks")


@dataclass(frozen=True)
class Clicks:
    """The counted-link handler, bound to one database and secret."""

    # opens a connection to the state database
    connect: Callable[[], Db]
    # the link-signing secret
    secret: bytes
    # one count per client and link in each window (limit 1), in memory
    seen: Windows
    # requests with bad links, per client (shared with the reader endpoints)
    clients: Windows
    # the client's address (X-Forwarded-For from trusted proxies)
    client: Callable[[Request], str]
    # the page and status for a link that is not valid, and the 429 check
    invalid: Callable[[str], Response]
    over: Callable[[Windows, str], Awaitable[Response | None]]

    async def follow(self, request: Request) -> Response:
        issue = request.path_params["issue"]
        signature = request.path_params["mac"]
        url = request.query_params.get("to", "")
        client = self.client(request)
        if not verify(self.secret, issue, url, signature):
            return await self.over(self.clients, client) or self.invalid("counted")
        digest = hashlib.sha256(f"{client}\0{issue}\0{url}".encode()).hexdigest()
        fresh = self.seen.hit(digest) is None
        task = BackgroundTask(self._count, issue, url) if fresh else None
        headers = {"cache-control": "no-store", "referrer-policy": "no-referrer"}
        return RedirectResponse(url, status_code=302, headers=headers, background=task)

    def _count(self, issue: str, url: str) -> None:
        """After the reply (in a worker thread): one more click on ``url``."""
        try:
            with self.connect() as conn, state.transaction(conn):
                state.count_click(conn, issue, url)
        except Exception:
            log.exception("a click on %s in %s was not counted", url, issue)
