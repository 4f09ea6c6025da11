"""`feedletter serve`: the output folder over HTTP, plus one-click unsubscribe.

A Starlette application (served by uvicorn). Everything is served under the
path of ``site.base_url`` (``/powerapps/…`` for the sample), as it is published,
so a proxy can forward the site's paths unchanged; ``/`` redirects there.

- ``GET``/``HEAD`` of anything under ``output/``, with the right content types
  (Atom, RSS, OPML, HTML), ``ETag`` and ``Last-Modified``, and ``304`` answers to
  conditional requests. Starlette's ``StaticFiles`` resolves paths and refuses
  anything outside the folder.
- ``POST <unsubscribe path>?token=…`` (default ``<base path>/unsubscribe``, the
  path of the List-Unsubscribe URL): RFC 8058 one-click unsubscribe — no
  cookie, no redirect, ``200`` with a short confirmation.
- ``GET`` on the same path: a confirmation page with a button that POSTs.
- A forged or malformed token gets ``400`` and changes nothing.

As a local preview (``preview``, the default of ``feedletter serve``) pages and
feeds link to the address the browser used instead of ``site.base_url``, as
``hugo server`` does: the public base URL is replaced in each text response,
never in ``output/``. A request that came through a proxy (``Forwarded``,
``X-Forwarded-*``, ``X-Real-IP``) always gets the published bytes. This module
translates HTTP only: subscriber state is ``subscribers``'s business.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from markupsafe import escape
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import NotModifiedResponse, StaticFiles
from starlette.types import Scope

from . import subscribers as subs
from .tokens import token_subscriber, verify_token

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


# headers a proxy adds: such a request gets the published bytes, never a preview
PROXY_HEADERS = ("forwarded", "x-forwarded-for", "x-forwarded-host", "x-real-ip")


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """What ``serve`` needs to know about the site."""

    # the folder to serve (``output``)
    output: Path
    # the public address of ``output/`` (``site.base_url``); its path is served
    base_url: str
    # the public one-click unsubscribe URL; its path is the endpoint
    unsubscribe_url: str
    # the site's title, shown on the endpoint pages
    site_title: str
    # a local preview: pages and feeds link to the address the browser used
    preview: bool = False

    @property
    def base_path(self) -> str:
        """The path everything is served under: "/powerapps", or "" for a site at "/"."""
        return urlsplit(self.base_url).path.rstrip("/")

    @property
    def unsubscribe_path(self) -> str:
        return urlsplit(self.unsubscribe_url).path or f"{self.base_path}/unsubscribe"


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
        if not host or any(name in headers for name in PROXY_HEADERS):
            return None
        return f"{scope.get('scheme', 'http')}://{host}{self.settings.base_path}".encode()

    def preview_response(
        self, path: Path, stat_result: os.stat_result, scope: Scope, kind: str, local: bytes
    ) -> Response:
        body = path.read_bytes().replace(self.settings.base_url.encode(), local)
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


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}}
button{{font:inherit;padding:.5rem 1.25rem;border-radius:6px;border:1px solid #0f3d91;
background:#0f3d91;color:#fff;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=status)


def create_app(
    settings: ServeSettings,
    connect: Callable[[], sqlite3.Connection],
    secret: bytes,
) -> Starlette:
    """The web application for ``settings.output`` and the subscriber database."""
    site_title = settings.site_title
    endpoint = settings.unsubscribe_path

    def check(request: Request) -> tuple[sqlite3.Connection, subs.Subscriber] | Response:
        token = request.query_params.get("token", "")
        subscriber_id = token_subscriber(token)
        if subscriber_id is None:
            return page("Invalid link", "<p>This unsubscribe link is malformed.</p>", 400)
        conn = connect()
        found = subs.by_id(conn, subscriber_id)
        if found is None or not verify_token(secret, token, found.id, found.email):
            conn.close()
            return page("Invalid link", "<p>This unsubscribe link is not valid.</p>", 400)
        return conn, found

    async def unsubscribe_form(request: Request) -> Response:
        checked = check(request)
        if isinstance(checked, Response):
            return checked
        conn, found = checked
        conn.close()
        token = escape(request.query_params["token"])
        if found.status != "active":
            return page("Unsubscribed", f"<p>{escape(found.email)} is already unsubscribed.</p>")
        body = (
            f"<p>Stop sending the {escape(site_title)} digest to "
            f"<strong>{escape(found.email)}</strong>?</p>"
            f'<form method="post" action="{escape(endpoint)}?token={token}">'
            '<button type="submit">Unsubscribe</button></form>'
        )
        return page("Unsubscribe", body)

    async def unsubscribe(request: Request) -> Response:
        checked = check(request)
        if isinstance(checked, Response):
            return checked
        conn, found = checked
        try:
            subs.unsubscribe(conn, found.id)
        finally:
            conn.close()
        return page(
            "Unsubscribed",
            f"<p>{escape(found.email)} will receive no further issues of {escape(site_title)}.</p>",
        )

    async def to_site(request: Request) -> Response:
        return RedirectResponse(f"{settings.base_path}/", status_code=302)

    routes: list[BaseRoute] = [
        Route(endpoint, unsubscribe_form, methods=["GET"]),
        Route(endpoint, unsubscribe, methods=["POST"]),
    ]
    if settings.base_path:
        routes.append(Route("/", to_site, methods=["GET", "HEAD"]))
    routes.append(Mount(settings.base_path or "/", app=OutputFiles(settings)))
    return Starlette(routes=routes)
