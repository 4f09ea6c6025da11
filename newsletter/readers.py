"""The reader-facing endpoints of ``feedletter serve``: sign-up, confirm, preferences, unsubscribe.

These handlers only translate HTTP: they read forms and tokens, ask
``subscribers`` (the lifecycle) what to do, have ``notices`` send the mail, and
answer with small, escaped pages. Rules they keep:

- A sign-up gets the same answer whether the address is new, pending, active,
  unsubscribed, suppressed or over its mail limit (no address enumeration).
- A ``GET`` never changes anything (mail scanners fetch links): confirming,
  saving preferences and unsubscribing take a ``POST`` from the page's button.
- Bad, forged, expired or another reader's tokens get ``400`` and change nothing.
- Every client address (``X-Forwarded-For`` is believed only from
  ``newsletter.signup.trusted_proxies``) has a sliding window of requests; past
  it, ``429`` with ``Retry-After``.
- Pages send a strict Content-Security-Policy, set no cookie and never redirect
  off-site.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from markupsafe import Markup, escape
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import subscribers as subs
from .config import Config
from .errors import DeliveryError, SubscriberError
from .ratelimit import SlidingWindow, client_address
from .state import Db
from .tokens import make_token, token_subscriber, verify_expiring_token, verify_token

log = logging.getLogger("feedletter.readers")

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

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title} · {site}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:34rem;margin:4rem auto;padding:0 1rem}}
button{{font:inherit;padding:.5rem 1.25rem;border-radius:6px;border:1px solid #0f3d91;
background:#0f3d91;color:#fff;cursor:pointer}} button.quiet{{background:#fff;color:#0f3d91}}
input[type=email],input[type=text]{{font:inherit;padding:.3rem .5rem;width:100%}}
fieldset{{border:1px solid #ccd;border-radius:6px}} .hp{{position:absolute;left:-10000px}}
.meta{{color:#5b6573;font-size:.9rem}}</style></head>
<body><p class="meta"><a href="{home}">{site}</a></p><h1>{title}</h1>{body}</body></html>
"""


def page(config: Config, title: str, body: str, status: int = 200, **headers: str) -> Response:
    """An endpoint page: escaped title, ``body`` already safe HTML, security headers."""
    html = PAGE.format(
        title=escape(title),
        site=escape(config.site.title),
        home=escape(f"{config.site.base_url}/"),
        body=body,
    )
    return HTMLResponse(html, status_code=status, headers={**SECURITY_HEADERS, **headers})


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
    # the per-client request window
    limiter: SlidingWindow
    # sends a sign-up notice (notices.send_notice, or a stand-in in tests)
    send_notice: Callable[..., None]
    # the path of the unsubscribe endpoint (where its form posts)
    unsubscribe_path: str

    def limited(self, request: Request) -> Response | None:
        retry = self.limiter.hit(
            client_address(request, self.config.newsletter.signup.trusted_proxies)
        )
        if retry is None:
            return None
        return page(
            self.config,
            "Too many requests",
            "<p>Please wait a little and try again.</p>",
            429,
            **{"retry-after": str(int(retry + 0.999))},
        )

    def invalid(self, what: str) -> Response:
        return page(
            self.config, "Invalid link", f"<p>This {escape(what)} link is not valid.</p>", 400
        )

    # --- sign-up -------------------------------------------------------------------

    def subscribe_form(self, request: Request) -> Response:
        return page(self.config, "Subscribe", self._signup_form())

    def _signup_form(self, problem: str = "") -> str:
        boxes = "".join(
            f'<label><input type="checkbox" name="topics" value="{escape(tid)}"> '
            f"{escape(name)}</label><br>"
            for tid, name in self.topics
        )
        note = f'<p role="alert">{escape(problem)}</p>' if problem else ""
        return (
            f'{note}<form method="post">'
            '<p><label>Email address<br><input type="email" name="email" required></label></p>'
            '<p><label>Name (optional)<br><input type="text" name="name"></label></p>'
            f"<fieldset><legend>Topics (none ticked: every topic)</legend>{boxes}</fieldset>"
            '<p class="hp" aria-hidden="true"><label>Leave empty '
            '<input type="text" name="website" tabindex="-1" autocomplete="off"></label></p>'
            '<p><button type="submit">Subscribe</button></p></form>'
        )

    async def subscribe(self, request: Request) -> Response:
        if (limited := self.limited(request)) is not None:
            return limited
        form = await request.form()
        email = str(form.get("email") or "")
        name = str(form.get("name") or "")
        wanted = [str(t) for t in form.getlist("topics")]
        honeypot = str(form.get("website") or "")
        client = client_address(request, self.config.newsletter.signup.trusted_proxies)
        return await run_in_threadpool(self._subscribe, email, name, wanted, honeypot, client)

    def _subscribe(
        self, email: str, name: str, wanted: list[str], honeypot: str, client: str
    ) -> Response:
        known = [tid for tid, _ in self.topics]
        try:
            address = subs.normalise_address(email)
            topics = subs.parse_topics(wanted, known)
        except SubscriberError as exc:
            message = "That is not an email address." if "topic" not in str(exc) else str(exc)
            return page(self.config, "Subscribe", self._signup_form(message), 400)
        done = page(
            self.config,
            "Check your inbox",
            f"<p>If {escape(address)} can receive the digest, a message is on its way to it. "
            "Follow the link in it to confirm.</p>",
        )
        if honeypot:
            return done  # a bot filled the hidden field: the same answer, nothing else
        now = datetime.now(UTC)
        settings = self.config.newsletter
        conn = self.connect()
        try:
            subs.purge_pending(conn, now, settings.confirm_days)
            decision = subs.sign_up(
                conn,
                address,
                topics=topics,
                name=name,
                client=client,
                now=now,
                secret=self.secret,
                per_address_minutes=settings.signup.per_address_minutes,
                per_address_per_day=settings.signup.per_address_per_day,
            )
        finally:
            conn.close()
        if decision.subscriber is not None:
            # mailed after the reply is sent: the answer takes the same time whether
            # or not a mail goes out (no enumeration by timing), and a slow relay
            # never keeps the reader waiting
            done.background = BackgroundTask(
                self._notify, decision.subscriber, decision.notice, now
            )
        return done

    def _notify(self, subscriber: subs.Subscriber, notice: str, now: datetime) -> None:
        names = tuple(n for tid, n in self.topics if tid in subscriber.topics)
        try:
            self.send_notice(self.config, notice, subscriber, self.secret, now, names)
        except DeliveryError as exc:
            log.error("%s", exc)  # the reader saw the same page; the operator sees the log

    # --- confirm ---------------------------------------------------------------------

    def _by_token(self, request: Request, purpose: str) -> subs.Subscriber | None:
        token = request.query_params.get("token", "")
        subscriber_id = token_subscriber(token)
        if subscriber_id is None:
            return None
        conn = self.connect()
        try:
            found = subs.by_id(conn, subscriber_id)
        finally:
            conn.close()
        if found is None:
            return None
        if purpose == "unsubscribe":
            ok = verify_token(self.secret, token, found.id, found.email)
        else:
            ok = verify_expiring_token(
                self.secret, purpose, token, found.id, found.email, time.time()
            )
        return found if ok else None

    def _reader(
        self, request: Request, purpose: str, *, limit: bool = True
    ) -> subs.Subscriber | Response:
        """The reader a link's token names, or the response that ends the request:
        429 past the client's window (``limit``), 400 for a bad, forged or expired token."""
        if limit and (limited := self.limited(request)) is not None:
            return limited
        found = self._by_token(request, purpose)
        if found is None:
            return self.invalid({"confirm": "confirmation"}.get(purpose, purpose))
        return found

    def _token_field(self, request: Request) -> Markup:
        return escape(request.query_params.get("token", ""))

    def confirm_form(self, request: Request) -> Response:
        found = self._reader(request, "confirm")
        if isinstance(found, Response):
            return found
        if found.status != "pending":
            return page(
                self.config, "Already confirmed", "<p>This address is already confirmed.</p>"
            )
        body = (
            f"<p>Receive the {escape(self.config.site.title)} weekly digest at "
            f"<strong>{escape(found.email)}</strong>?</p>"
            '<form method="post"><button type="submit">Confirm my subscription</button></form>'
        )
        return page(self.config, "Confirm your subscription", body)

    def confirm(self, request: Request) -> Response:
        found = self._reader(request, "confirm")
        if isinstance(found, Response):
            return found
        client = client_address(request, self.config.newsletter.signup.trusted_proxies)
        conn = self.connect()
        try:
            confirmed = subs.confirm(conn, found.id, client=client, now=datetime.now(UTC))
        finally:
            conn.close()
        if not confirmed and found.status != "active":
            return self.invalid("confirmation")
        return page(
            self.config,
            "You are subscribed",
            f"<p>{escape(found.email)} will receive the next issue. Every issue has a link "
            "to change your topics, pause or unsubscribe.</p>",
        )

    # --- preferences -----------------------------------------------------------------

    def preferences_form(self, request: Request) -> Response:
        found = self._reader(request, "preferences")
        if isinstance(found, Response):
            return found
        return page(self.config, "Your subscription", self._preferences_body(request, found))

    def _preferences_body(self, request: Request, found: subs.Subscriber, note: str = "") -> str:
        if found.status not in ("active", "paused"):
            return f"<p>{escape(found.email)} is not subscribed ({escape(found.status)}).</p>"
        chosen = set(found.topics) or {tid for tid, _ in self.topics}
        boxes = "".join(
            f'<label><input type="checkbox" name="topics" value="{escape(tid)}"'
            f"{' checked' if tid in chosen else ''}> {escape(name)}</label><br>"
            for tid, name in self.topics
        )
        paused = " checked" if found.status == "paused" else ""
        unsubscribe_token = escape(make_token(self.secret, found.id, found.email))
        saved = f'<p role="status">{escape(note)}</p>' if note else ""
        return (
            f"{saved}<p>Settings for <strong>{escape(found.email)}</strong>.</p>"
            '<form method="post">'
            f"<fieldset><legend>Topics</legend>{boxes}</fieldset>"
            f'<p><label><input type="checkbox" name="paused" value="1"{paused}> '
            "Pause: send nothing until I untick this</label></p>"
            '<p><button type="submit">Save</button></p></form>'
            f'<form method="post" action="{escape(self.unsubscribe_path)}'
            f'?token={unsubscribe_token}">'
            '<p><button class="quiet" type="submit">Unsubscribe</button></p></form>'
        )

    async def preferences(self, request: Request) -> Response:
        found = self._reader(request, "preferences")
        if isinstance(found, Response):
            return found
        form = await request.form()
        known = [tid for tid, _ in self.topics]
        wanted = [str(t) for t in form.getlist("topics")]
        try:
            topics = subs.parse_topics(wanted, known)
        except SubscriberError as exc:
            return page(self.config, "Your subscription", f"<p>{escape(str(exc))}</p>", 400)
        if not topics:  # an empty list would mean "every topic": ask instead
            body = self._preferences_body(
                request, found, "Tick at least one topic, or pause, or unsubscribe."
            )
            return page(self.config, "Your subscription", body, 400)
        if set(topics) == set(known):
            topics = ()  # every topic, including ones added later
        conn = self.connect()
        try:
            subs.set_preferences(
                conn,
                found.id,
                topics=topics,
                paused=bool(form.get("paused")),
                now=datetime.now(UTC),
            )
            current = subs.by_id(conn, found.id)
        finally:
            conn.close()
        assert current is not None
        return page(
            self.config, "Your subscription", self._preferences_body(request, current, "Saved.")
        )

    # --- one-click unsubscribe (RFC 8058) ---------------------------------------------

    def unsubscribe_form(self, request: Request) -> Response:
        found = self._reader(request, "unsubscribe", limit=False)  # mailbox providers
        if isinstance(found, Response):
            return found
        if found.status not in ("active", "paused", "pending"):
            return page(
                self.config,
                "Unsubscribed",
                f"<p>{escape(found.email)} is already unsubscribed.</p>",
            )
        body = (
            f"<p>Stop sending the {escape(self.config.site.title)} digest to "
            f"<strong>{escape(found.email)}</strong>?</p>"
            f'<form method="post" action="{escape(self.unsubscribe_path)}'
            f'?token={self._token_field(request)}">'
            '<button type="submit">Unsubscribe</button></form>'
        )
        return page(self.config, "Unsubscribe", body)

    def unsubscribe(self, request: Request) -> Response:
        found = self._reader(request, "unsubscribe", limit=False)  # mailbox providers
        if isinstance(found, Response):
            return found
        conn = self.connect()
        try:
            subs.unsubscribe(conn, found.id)
        finally:
            conn.close()
        return page(
            self.config,
            "Unsubscribed",
            f"<p>{escape(found.email)} will receive no further issues of "
            f"{escape(self.config.site.title)}.</p>",
        )
