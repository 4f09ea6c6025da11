"""The reader-facing endpoints of ``feedletter serve``: sign-up, confirm, preferences, unsubscribe.

These handlers only translate HTTP: they read forms and tokens, ask
``subscribers`` (the lifecycle) what to do, have ``notices`` send the mail, and
answer with the reader pages of ``templates/`` (``reader.html.j2`` and the pages
that extend it: the site's layout, restyled with it, autoescaped). Rules they keep:

- A sign-up is answered before anything about the address is looked up: the
  same page, in the same time, whether the address is new, pending, active,
  unsubscribed, suppressed or over its mail limit (no address enumeration). The
  decision and its mail happen afterwards on the sign-up pool (``serve.mail_*``:
  a few threads and a bounded queue, so a hung relay stalls nothing else).
- A ``GET`` never changes anything (mail scanners fetch links): confirming,
  saving preferences and unsubscribing take a ``POST`` from the page's button.
- Bad, forged, expired or another reader's tokens get ``400`` and change nothing.
- Limits count what an attacker gains from: sign-ups and requests with bad links
  count against the client (``X-Forwarded-For`` believed only from
  ``newsletter.signup.trusted_proxies``; IPv6 by /64); a valid link counts
  against its reader only, so readers behind one NAT never share a limit. Past
  either, ``429`` with ``Retry-After``.
- Database work runs on its own threads (``serve.database_threads``), never on
  the event loop: a locked database delays only the requests that need it.
- Pages send a strict Content-Security-Policy, set no cookie and never redirect
  off-site.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from feeds.errors import FeedletterError
from feeds.rendering.layout import opml_url
from feeds.rendering.templating import environment, render
from newsletter.addresses import normalise_address
from newsletter.audience import lifecycle as subs
from newsletter.audience.notices import NoticeSettings, sign_up_and_notify, welcome
from newsletter.audience.status import ON_THE_LIST, SUBSCRIBED, Status
from newsletter.audience.tokens import (
    make_token,
    token_subscriber,
    verify_confirm_token,
    verify_expiring_token,
    verify_token,
)
from newsletter.config import Config
from newsletter.errors import InvalidAddress, UnknownTopics
from newsletter.state import Db
from newsletter.web.guard import BoundedPool
from newsletter.web.ratelimit import Network, Windows, client_address, client_key

log = logging.getLogger("feedletter.readers")

T = TypeVar("T")

SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def page(
    config: Config,
    title: str,
    message: Sequence[str] = (),
    status: int = 200,
    template: str = "reader.html.j2",
    headers: Mapping[str, str] | None = None,
    **context: object,
) -> Response:
    """A reader page from ``templates/`` (the site's layout; autoescaped, so every
    value here is text), with the security headers. ``message``: its lines of text."""
    html = render(
        environment(config.templates),
        template,
        site=config.site,
        title=title,
        message=message,
        opml_url=opml_url(config.site.base_url),
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **(headers or {})})


@dataclass(frozen=True)
class Readers:
    """The handlers, bound to one config, database and secret."""

    # the whole config (site, newsletter limits, SMTP for the notices)
    config: Config
    # opens a connection to the state database
    connect: Callable[[], Db]
    # the signing secret
    secret: bytes
    # (topic id, display name) of every topic, in order, for the forms
    topics: tuple[tuple[str, str], ...]
    # sign-ups and requests with bad links, per client
    clients: Windows
    # requests with a reader's valid link, per reader
    links: Windows
    # sends a sign-up notice (notices.send_notice, or a stand-in in tests)
    send_notice: Callable[..., None]
    # what the notices need (worked out once from the config)
    notices: NoticeSettings
    # the path of the unsubscribe endpoint (where its form posts)
    unsubscribe_path: str
    # threads for database work
    database: ThreadPoolExecutor
    # threads (and a bounded queue) for sign-ups and their mail
    mail: BoundedPool
    # proxies whose X-Forwarded-For is believed
    trusted: tuple[Network, ...]

    # --- plumbing ------------------------------------------------------------------

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the database threads, off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.database, functools.partial(fn, *args))

    def client(self, request: Request) -> str:
        return client_address(request, self.trusted)

    async def over(self, windows: Windows, bucket: str) -> Response | None:
        """Count one request in ``bucket``; the 429 page when it is past the limit."""
        retry = await self.run(windows.hit, bucket) if windows.blocking else windows.hit(bucket)
        if retry is None:
            return None
        return page(
            self.config,
            "Too many requests",
            ["Please wait a little and try again."],
            429,
            headers={"retry-after": str(int(retry + 0.999))},
        )

    async def form(self, request: Request) -> FormData | Response:
        """The posted form (its body is at most ``serve.max_body_bytes``; no files)."""
        try:
            return await request.form(
                max_files=0,
                max_fields=len(self.topics) + 16,
                max_part_size=self.config.serve.max_body_bytes,
            )
        except HTTPException as exc:
            return page(self.config, "Bad request", [exc.detail], 400)

    def invalid(self, what: str) -> Response:
        what = {"confirm": "confirmation"}.get(what, what)
        return page(self.config, "Invalid link", [f"This {what} link is not valid."], 400)

    # --- sign-up -------------------------------------------------------------------

    async def subscribe_form(self, request: Request) -> Response:
        return self._signup_form()

    def _signup_form(self, problem: str = "", status: int = 200) -> Response:
        return page(
            self.config,
            "Subscribe",
            status=status,
            template="subscribe.html.j2",
            topics=self.topics,
            problem=problem,
        )

    async def subscribe(self, request: Request) -> Response:
        client = self.client(request)
        if (limited := await self.over(self.clients, client_key(client))) is not None:
            return limited
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        email = str(form.get("email") or "")
        try:
            address = normalise_address(email)
            topics = subs.parse_topics([str(t) for t in form.getlist("topics")], self.known)
        except InvalidAddress:
            return self._signup_form("That is not an email address.", 400)
        except UnknownTopics as exc:
            return self._signup_form(str(exc), 400)
        done = page(
            self.config,
            "Check your inbox",
            [
                f"If {address} can receive the digest, a message is on its way to it. "
                "Follow the link in it to confirm."
            ],
        )
        if form.get("website"):
            return done  # a bot filled the hidden field: the same answer, nothing else
        name = str(form.get("name") or "")
        if not self.mail.submit(self._sign_up, address, topics, name, client, datetime.now(UTC)):
            log.warning(
                "the sign-up queue is full (serve.mail_queue): a sign-up was answered "
                "but not processed"
            )
        return done

    @property
    def known(self) -> list[str]:
        return [tid for tid, _ in self.topics]

    def _sign_up(
        self, address: str, topics: tuple[str, ...], name: str, client: str, now: datetime
    ) -> None:
        """On the sign-up pool, after the reply: the lifecycle's decision and its mail."""
        try:
            with self.connect() as conn:
                sign_up_and_notify(
                    conn,
                    self.notices,
                    self.secret,
                    address,
                    topics=topics,
                    name=name,
                    client=client,
                    now=now,
                    topic_names=self._names,
                    send=self.send_notice,
                )
        except FeedletterError as exc:
            log.error("sign-up: %s", exc)  # the reader saw the same page; the operator sees this
        except Exception:
            log.exception("sign-up failed")

    def _welcome(self, subscriber_id: int, now: datetime) -> None:
        """On the sign-up pool, after the reply: the reader's one welcome mail."""
        try:
            with self.connect() as conn:
                reader = subs.by_id(conn, subscriber_id)
                if reader is not None:
                    names = self._names(reader.topics or [tid for tid, _ in self.topics])
                    welcome(conn, self.notices, self.secret, reader, now, names)
        except FeedletterError as exc:
            log.error("welcome mail: %s", exc)
        except Exception:
            log.exception("welcome mail failed")

    def _names(self, topics: Sequence[str]) -> tuple[str, ...]:
        return tuple(name for tid, name in self.topics if tid in topics)

    # --- links -----------------------------------------------------------------------

    def _by_token(self, token: str, purpose: str) -> tuple[subs.Subscriber | None, int]:
        """(the reader a genuine token names, its sign-up request), or (None, 0)."""
        subscriber_id = token_subscriber(token)
        if subscriber_id is None:
            return None, 0
        with self.connect() as conn:
            found = subs.by_id(conn, subscriber_id)
        if found is None:
            return None, 0
        if purpose == "unsubscribe":
            return (found if verify_token(self.secret, token, found.id, found.email) else None), 0
        if purpose == "confirm":
            request_id = verify_confirm_token(
                self.secret, token, found.id, found.email, time.time()
            )
            return (found, request_id) if request_id is not None else (None, 0)
        ok = verify_expiring_token(self.secret, purpose, token, found.id, found.email, time.time())
        return (found if ok else None), 0

    async def _reader(
        self, request: Request, purpose: str
    ) -> tuple[subs.Subscriber, int] | Response:
        """The reader a link's token names and its sign-up request, or the response
        that ends the request: 400 for a bad, forged or expired token (counted
        against the client: 429 past its window), 429 past the reader's window."""
        token = request.query_params.get("token", "")
        found, request_id = await self.run(self._by_token, token, purpose)
        if found is None:
            limited = await self.over(self.clients, client_key(self.client(request)))
            return limited or self.invalid(purpose)
        if (limited := await self.over(self.links, str(found.id))) is not None:
            return limited
        return found, request_id

    # --- confirm ---------------------------------------------------------------------

    async def confirm_form(self, request: Request) -> Response:
        found = await self._reader(request, "confirm")
        if isinstance(found, Response):
            return found
        reader, request_id = found
        if reader.status in SUBSCRIBED:
            return page(self.config, "Already confirmed", ["This address is already confirmed."])
        if not await self.run(self._request_open, reader.id, request_id):
            return self.invalid("confirm")
        return page(
            self.config,
            "Confirm your subscription",
            template="confirm.html.j2",
            email=reader.email,
        )

    def _request_open(self, subscriber_id: int, request_id: int) -> bool:
        if not request_id:
            return True  # a link of the earlier form: the pending reader as they are
        with self.connect() as conn:
            return subs.request_open(conn, subscriber_id, request_id)

    async def confirm(self, request: Request) -> Response:
        found = await self._reader(request, "confirm")
        if isinstance(found, Response):
            return found
        reader, request_id = found
        now = datetime.now(UTC)
        confirmed = await self.run(self._confirm, reader.id, request_id, self.client(request), now)
        if not confirmed and reader.status not in SUBSCRIBED:
            return self.invalid("confirm")
        welcoming = confirmed and self.notices.newsletter.welcome
        if welcoming and not self.mail.submit(self._welcome, reader.id, now):
            log.error("the sign-up queue is full (serve.mail_queue): no welcome mail was sent")
        return page(
            self.config,
            "You are subscribed",
            [
                f"{reader.email} will receive the next issue. Every issue has a link "
                "to change your topics, pause or unsubscribe."
            ],
        )

    def _confirm(self, subscriber_id: int, request_id: int, client: str, now: datetime) -> bool:
        with self.connect() as conn:
            return subs.confirm(conn, subscriber_id, request_id=request_id, client=client, now=now)

    # --- preferences -----------------------------------------------------------------

    async def preferences_form(self, request: Request) -> Response:
        found = await self._reader(request, "preferences")
        if isinstance(found, Response):
            return found
        return self._preferences(found[0])

    def _preferences(self, found: subs.Subscriber, note: str = "", status: int = 200) -> Response:
        title = "Your subscription"
        if found.status not in SUBSCRIBED:
            return page(self.config, title, [f"{found.email} is not subscribed ({found.status})."])
        chosen = set(found.topics) or {tid for tid, _ in self.topics}
        token = make_token(self.secret, found.id, found.email)
        return page(
            self.config,
            title,
            status=status,
            template="preferences.html.j2",
            email=found.email,
            topics=[(tid, name, tid in chosen) for tid, name in self.topics],
            paused=found.status == Status.PAUSED,
            note=note,
            unsubscribe_action=f"{self.unsubscribe_path}?token={quote(token)}",
        )

    async def preferences(self, request: Request) -> Response:
        found = await self._reader(request, "preferences")
        if isinstance(found, Response):
            return found
        reader = found[0]
        form = await self.form(request)
        if isinstance(form, Response):
            return form
        known = self.known
        try:
            topics = subs.parse_topics([str(t) for t in form.getlist("topics")], known)
        except UnknownTopics as exc:
            return page(self.config, "Your subscription", [str(exc)], 400)
        if not topics:  # an empty list would mean "every topic": ask instead
            return self._preferences(
                reader, "Tick at least one topic, or pause, or unsubscribe.", 400
            )
        if set(topics) == set(known):
            topics = ()  # every topic, including ones added later
        current = await self.run(
            self._set_preferences, reader.id, topics, bool(form.get("paused")), datetime.now(UTC)
        )
        return self._preferences(current, "Saved.")

    def _set_preferences(
        self, subscriber_id: int, topics: tuple[str, ...], paused: bool, now: datetime
    ) -> subs.Subscriber:
        with self.connect() as conn:
            subs.set_preferences(conn, subscriber_id, topics=topics, paused=paused, now=now)
            current = subs.by_id(conn, subscriber_id)
        assert current is not None
        return current

    # --- one-click unsubscribe (RFC 8058) ---------------------------------------------

    async def unsubscribe_form(self, request: Request) -> Response:
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, Response):
            return found
        reader = found[0]
        if reader.status not in ON_THE_LIST:
            return page(self.config, "Unsubscribed", [f"{reader.email} is already unsubscribed."])
        token = request.query_params.get("token", "")
        return page(
            self.config,
            "Unsubscribe",
            template="unsubscribe.html.j2",
            email=reader.email,
            action=f"{self.unsubscribe_path}?token={quote(token)}",
        )

    async def unsubscribe(self, request: Request) -> Response:
        found = await self._reader(request, "unsubscribe")
        if isinstance(found, Response):
            return found
        reader = found[0]
        await self.run(self._unsubscribe, reader.id)
        return page(
            self.config,
            "Unsubscribed",
            [f"{reader.email} will receive no further issues of {self.config.site.title}."],
        )

    def _unsubscribe(self, subscriber_id: int) -> None:
        with self.connect() as conn:
            subs.unsubscribe(conn, subscriber_id)
