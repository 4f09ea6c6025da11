"""`feedletter serve`: the output folder over HTTP, plus one-click unsubscribe.

A Starlette application (served by uvicorn):

- ``GET``/``HEAD`` of anything under ``output/``, with the right content types
  (Atom, RSS, OPML, HTML), ``ETag`` and ``Last-Modified``, and ``304`` answers to
  conditional requests. Starlette's ``StaticFiles`` resolves paths and refuses
  anything outside the folder.
- ``POST /unsubscribe?token=…``: RFC 8058 one-click unsubscribe — no cookie, no
  redirect, ``200`` with a short confirmation.
- ``GET /unsubscribe?token=…``: a confirmation page with a button that POSTs.
- A forged or malformed token gets ``400`` and changes nothing.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from markupsafe import escape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
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


class OutputFiles(StaticFiles):
    """StaticFiles with feed content types and no dot-files (manifests)."""

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        kind = content_type(str(full_path))
        if kind and "content-type" in response.headers:
            response.headers["content-type"] = kind
        return response

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
    output: Path,
    connect: Callable[[], sqlite3.Connection],
    secret: bytes,
    site_title: str,
) -> Starlette:
    """The web application for ``output`` and the subscriber database."""

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
            f'<form method="post" action="/unsubscribe?token={token}">'
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

    return Starlette(
        routes=[
            Route("/unsubscribe", unsubscribe_form, methods=["GET"]),
            Route("/unsubscribe", unsubscribe, methods=["POST"]),
            Mount("/", app=OutputFiles(directory=output, html=True, check_dir=False)),
        ]
    )
