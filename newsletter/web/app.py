"""`feedletter serve`: the output folder over HTTP, plus one-click unsubscribe.

A Starlette application (served by uvicorn). Everything is served under the
path of ``site.base_url`` (``/powerapps/…`` for the sample), as it is published,
so a proxy can forward the site's paths unchanged; ``/`` redirects there.

- ``GET``/``HEAD`` of anything under ``output/``, with the right content types
  (Atom, RSS, OPML, HTML), ``ETag`` and ``Last-Modified``, and ``304`` answers to
  conditional requests. Starlette's ``StaticFiles`` resolves paths and refuses
  anything outside the folder.
- the reader endpoints (``readers``): sign-up, confirm, preferences and RFC 8058
  one-click unsubscribe (at the path of the List-Unsubscribe URL), each a GET
  page whose button POSTs.

As a local preview (``preview``, the default of ``feedletter serve``) pages and
feeds link to the address the browser used instead of ``site.base_url``, as
``hugo server`` does: the public base URL is replaced in each text response,
never in ``output/``. A request that came through a proxy (``Forwarded``,
``X-Forwarded-*``, ``X-Real-IP``) always gets the published bytes. With ``serve
--watch`` (``live``) preview pages also carry a script that polls the rebuild
status (``…/__feedletter/status``), reloads after a rebuild and shows a failed
build's error; the published bytes never carry it. This module
translates HTTP only: subscriber state is ``subscribers``'s business.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from newsletter.audience.notices import NoticeSettings
from newsletter.audience.notices import send_notice as default_sender
from newsletter.config import Config
from newsletter.issue.clicks import PATH as CLICK_PATH
from newsletter.review.links import PATH as REVIEW_PATH
from newsletter.state import Db
from newsletter.web.clicks import Clicks
from newsletter.web.endpoints import Readers
from newsletter.web.guard import BoundedPool, quiet_loop_errors
from newsletter.web.ratelimit import DatabaseWindows, MemoryWindows, Windows, networks
from newsletter.web.report import ReportPage, report_password
from newsletter.web.review import ReviewPage

CONTENT_TYPES = {
    "atom.xml": "application/atom+xml; charset=utf-8",
    "rss.xml": "application/rss+xml; charset=utf-8",
    "feed.json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".eml": "message/rfc822",
    ".txt": "text/plain; charset=utf-8",
}


def content_type(path: str) -> str | None:
    """The content type feedletter serves a generated file with, if it knows it."""
    name = os.path.basename(path)
    if name in CONTENT_TYPES:
        return CONTENT_TYPES[name]
    return CONTENT_TYPES.get(os.path.splitext(name)[1].lower())


# a Host header the preview may write into pages and feeds: a name, an IPv4
# address or a bracketed IPv6 address, and a port (nothing that needs escaping)
HOST = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)

# headers a proxy adds: such a request gets the published bytes, never a preview
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


@dataclass(frozen=True)
class ServeSettings:
    """What ``serve`` needs to know."""

    # the whole config: site (base_url, title), newsletter endpoints and limits, SMTP
    config: Config
    # (topic id, display name) of every topic, in order, for the forms
    topics: tuple[tuple[str, str], ...] = ()
    # a local preview: pages and feeds link to the address the browser used
    preview: bool = False
    # with ``serve --watch``: the rebuild status the preview's pages poll
    live: Callable[[], dict[str, Any]] | None = None

    @property
    def output(self) -> Path:
        return self.config.output

    @property
    def base_url(self) -> str:
        return self.config.site.base_url

    @property
    def base_path(self) -> str:
        """The path everything is served under: "/powerapps", or "" for a site at "/"."""
        return urlsplit(self.base_url).path.rstrip("/")

    def path_of(self, url: str | None, name: str) -> str:
        """The path of an endpoint URL (default: ``<base path>/<name>``)."""
        return (urlsplit(url).path if url else "") or f"{self.base_path}/{name}"


class OutputFiles(StaticFiles):
    """StaticFiles with feed content types, no dot-files (manifests), and the preview."""

    def __init__(self, settings: ServeSettings) -> None:
        super().__init__(directory=settings.output, html=True, check_dir=False)
        self.settings = settings

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        kind = content_type(str(full_path))
        local = self.local_base(scope)
        if local is not None and kind is not None and "charset=utf-8" in kind:
            return self.preview_response(Path(full_path), stat_result, scope, kind, local)
        response = super().file_response(full_path, stat_result, scope, status_code)
        if kind and "content-type" in response.headers:
            response.headers["content-type"] = kind
        return response

    def local_base(self, scope: Scope) -> bytes | None:
        """The base URL this request reached the preview at, or None: serve as published."""
        if not self.settings.preview:
            return None
        headers = Headers(scope=scope)
        host = headers.get("host")
        if not host or not HOST.match(host) or any(name in headers for name in PROXY_HEADERS):
            return None  # no usable Host: the published bytes, never a visitor's text
        return f"{scope.get('scheme', 'http')}://{host}{self.settings.base_path}".encode()

    def preview_response(
        self, path: Path, stat_result: os.stat_result, scope: Scope, kind: str, local: bytes
    ) -> Response:
        body = path.read_bytes().replace(self.settings.base_url.encode(), local)
        if self.settings.live is not None and kind.startswith("text/html"):
            body = with_live_reload(body, self.settings)
        headers = {
            "etag": f'"{hashlib.sha256(body).hexdigest()[:32]}"',
            "last-modified": formatdate(stat_result.st_mtime, usegmt=True),
            "cache-control": "no-cache",
        }
        if self.is_not_modified(Headers(headers=headers), Headers(scope=scope)):
            return NotModifiedResponse(Headers(headers=headers))
        return Response(body, headers=headers, media_type=kind.split(";")[0])

    def lookup_path(self, path: str) -> tuple[str, os.stat_result | None]:
        if any(part.startswith(".") for part in path.split("/") if part not in ("", ".")):
            return "", None
        return super().lookup_path(path)


LIVE_STATUS = "/__feedletter/status"
# the preview's live-reload script (serve --watch only; never in output/): it polls
# the status, reloads when a newer build is there, and shows a failed build's error
_LIVE_SCRIPT = """<script id="feedletter-live">/* feedletter serve --watch (preview only) */
(function () {
  var shown = %(build)d, url = %(url)s;
  function overlay(text) {
    var box = document.getElementById("feedletter-build-error");
    if (!text) { if (box) { box.remove(); } return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "feedletter-build-error";
      box.setAttribute("style", "position:fixed;left:0;right:0;bottom:0;max-height:50vh;" +
        "overflow:auto;margin:0;padding:1em;background:#fff0f0;color:#900;" +
        "border-top:3px solid #c00;font:14px/1.4 monospace;white-space:pre-wrap;" +
        "z-index:2147483647");
      document.body.appendChild(box);
    }
    box.textContent = "Build failed; this page is the last good build.\\n\\n" + text;
  }
  function poll() {
    fetch(url, {cache: "no-store"}).then(function (r) { return r.json(); }).then(function (s) {
      if (s.build > shown) { location.reload(); return; }
      overlay(s.error);
      setTimeout(poll, 250);
    }, function () { setTimeout(poll, 1000); });
  }
  setTimeout(poll, 250);
})();
</script>
"""


def with_live_reload(body: bytes, settings: ServeSettings) -> bytes:
    """An HTML page with the live-reload script before ``</body>``."""
    assert settings.live is not None
    script = _LIVE_SCRIPT % {
        "build": int(settings.live()["build"]),
        "url": json.dumps(settings.base_path + LIVE_STATUS),
    }
    end = body.rfind(b"</body>")
    at = end if end >= 0 else len(body)
    return body[:at] + script.encode() + body[at:]


def create_app(
    settings: ServeSettings,
    connect: Callable[[], Db],
    secret: bytes,
    send_notice: Callable[..., None] | None = None,
) -> Starlette:
    """The web application: ``output/`` and the reader endpoints, under base_url's path.

    It owns two thread pools (database work; sign-ups and their mail), made here
    and shut down when the server stops."""
    config = settings.config
    signup = config.newsletter.signup
    limits = config.serve
    if send_notice is None:
        send_notice = default_sender
    window = signup.per_client_window_seconds
    clients: Windows
    links: Windows
    if signup.shared_limits:
        clients = DatabaseWindows(connect, "client", signup.per_client_requests, window)
        links = DatabaseWindows(connect, "reader", signup.per_reader_requests, window)
    else:
        clients = MemoryWindows(signup.per_client_requests, window)
        links = MemoryWindows(signup.per_reader_requests, window)
    database = ThreadPoolExecutor(limits.database_threads, thread_name_prefix="serve-db")
    mail = BoundedPool(limits.mail_threads, limits.mail_queue, "serve-mail")
    readers = Readers(
        config=config,
        connect=connect,
        secret=secret,
        topics=settings.topics,
        clients=clients,
        links=links,
        send_notice=send_notice,
        notices=NoticeSettings.of(config),
        unsubscribe_path=settings.path_of(config.unsubscribe_endpoint(), "unsubscribe"),
        database=database,
        mail=mail,
        trusted=networks(signup.trusted_proxies),
    )
    subscribe = settings.path_of(config.subscribe_form_url(), "subscribe")

    async def to_site(request: Request) -> Response:
        return RedirectResponse(f"{settings.base_path}/", status_code=302)

    routes: list[BaseRoute] = [
        Route(readers.unsubscribe_path, readers.unsubscribe_form, methods=["GET"]),
        Route(readers.unsubscribe_path, readers.unsubscribe, methods=["POST"]),
        Route(subscribe, readers.subscribe_form, methods=["GET"]),
        Route(subscribe, readers.subscribe, methods=["POST"]),
        Route(f"{settings.base_path}/confirm", readers.confirm_form, methods=["GET"]),
        Route(f"{settings.base_path}/confirm", readers.confirm, methods=["POST"]),
        Route(f"{settings.base_path}/preferences", readers.preferences_form, methods=["GET"]),
        Route(f"{settings.base_path}/preferences", readers.preferences, methods=["POST"]),
    ]
    if config.newsletter.count_clicks:
        clicks = Clicks(
            connect=connect,
            secret=secret,
            seen=MemoryWindows(1, config.newsletter.click_window_seconds),
            clients=clients,
            client=readers.client,
            invalid=readers.invalid,
            over=readers.over,
        )
        path = f"{settings.base_path}/{CLICK_PATH}/{{issue}}/{{mac}}"
        routes.append(Route(path, clicks.follow, methods=["GET"]))
    if config.serve.report_path is not None:
        report = ReportPage(
            config=config,
            connect=connect,
            password=report_password(config),
            clients=clients,
            client=readers.client,
            over=readers.over,
            run=readers.run,
        )
        path = settings.base_path + config.serve.report_path
        routes.append(Route(path, report.show, methods=["GET"]))
    if config.newsletter.review is not None:
        review = ReviewPage(
            config=config,
            secret=secret,
            clients=clients,
            client=readers.client,
            over=readers.over,
            invalid=readers.invalid,
            run=readers.run,
        )
        path = f"{settings.base_path}/{REVIEW_PATH}"
        routes.append(Route(path, review.show, methods=["GET"]))
        routes.append(Route(path, review.act, methods=["POST"]))
    live = settings.live
    if live is not None:

        async def status(request: Request) -> Response:
            return JSONResponse(live(), headers={"cache-control": "no-store"})

        routes.append(Route(settings.base_path + LIVE_STATUS, status, methods=["GET"]))
    if settings.base_path:
        routes.append(Route("/", to_site, methods=["GET", "HEAD"]))
    routes.append(Mount(settings.base_path or "/", app=OutputFiles(settings)))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        quiet_loop_errors(asyncio.get_running_loop())
        try:
            yield
        finally:
            mail.shutdown()
            database.shutdown(wait=False, cancel_futures=True)

    app = Starlette(routes=routes, lifespan=lifespan)
    # the sign-up pool, for those who must know when its work is done (the tests)
    app.state.mail_pool = mail
    return app
