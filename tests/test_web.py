"""`feedletter serve` over real HTTP: static files, conditional GET, unsubscribe."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import date
from email.utils import formatdate
from pathlib import Path

import pytest
import uvicorn

from feeds.build import build_feeds, load_project
from newsletter import subscribers as subs
from newsletter.config import Config, load_config
from newsletter.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect
from newsletter.tokens import make_token
from newsletter.web import create_app

from .conftest import NOW
from .smtp_server import free_port

SECRET = b"web-test-secret-0123456789"


class Served:
    def __init__(self, config: Config, base: str) -> None:
        self.config = config
        self.base = base

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


@pytest.fixture
def served(fixture_project: Path) -> Iterator[Served]:
    config = load_config(fixture_project / "config.yaml")
    build_feeds(config, NOW)
    write_issue(
        config, make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
    )
    conn = connect(config.database)
    subs.add(conn, "ada@example.com")
    subs.add(conn, "bob@example.com")
    conn.close()
    app = create_app(config.output, lambda: connect(config.database), SECRET, config.site.title)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield Served(config, f"http://127.0.0.1:{port}")
    server.should_exit = True
    thread.join(timeout=10)


def subscriber(config: Config, email: str) -> subs.Subscriber:
    conn = connect(config.database)
    try:
        found = subs.get(conn, email)
        assert found is not None
        return found
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/topics/portals/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/topics/portals/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/topics/portals/feed.json", "application/feed+json; charset=utf-8"),
        ("/topics/portals/", "text/html; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
        ("/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/newsletter/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/newsletter/2021-W13/", "text/html; charset=utf-8"),
    ],
)
def test_content_types(served: Served, path: str, kind: str) -> None:
    status, headers, body = served.request(path)
    assert status == 200 and headers["content-type"] == kind and body


def test_conditional_get(served: Served) -> None:
    status, headers, body = served.request("/topics/portals/atom.xml")
    assert status == 200
    etag, modified = headers["etag"], headers["last-modified"]
    assert body == (served.config.output / "topics" / "portals" / "atom.xml").read_bytes()
    assert served.request("/topics/portals/atom.xml", headers={"If-None-Match": etag})[0] == 304
    assert (
        served.request("/topics/portals/atom.xml", headers={"If-Modified-Since": modified})[0]
        == 304
    )
    old = formatdate(0, usegmt=True)
    assert served.request("/topics/portals/atom.xml", headers={"If-Modified-Since": old})[0] == 200
    assert (
        served.request("/topics/portals/atom.xml", headers={"If-None-Match": '"other"'})[0] == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/../config.yaml",
        "/%2e%2e/config.yaml",
        "/topics/../../config.yaml",
        "/.feeds-manifest.json",
    ],
)
def test_nothing_outside_output_is_served(served: Served, path: str) -> None:
    assert served.request(path)[0] == 404


def test_one_click_unsubscribe(served: Served) -> None:
    ada = subscriber(served.config, "ada@example.com")
    token = make_token(SECRET, ada.id, ada.email)
    status, headers, body = served.request(f"/unsubscribe?token={token}", method="POST")
    assert status == 200
    assert "set-cookie" not in {k.lower() for k in headers} and "location" not in {
        k.lower() for k in headers
    }
    assert b"will receive no further issues" in body
    assert subscriber(served.config, "ada@example.com").status == "unsubscribed"
    assert subscriber(served.config, "bob@example.com").status == "active"
    # repeating it is harmless
    assert served.request(f"/unsubscribe?token={token}", method="POST")[0] == 200


def test_get_shows_a_confirmation_button_and_changes_nothing(served: Served) -> None:
    bob = subscriber(served.config, "bob@example.com")
    token = make_token(SECRET, bob.id, bob.email)
    status, _, body = served.request(f"/unsubscribe?token={token}")
    assert status == 200
    assert b'<form method="post" action="/unsubscribe?token=' + token.encode() + b'">' in body
    assert b"<button" in body and b"bob@example.com" in body
    assert subscriber(served.config, "bob@example.com").status == "active"


def test_forged_and_malformed_tokens_get_400(served: Served) -> None:
    ada = subscriber(served.config, "ada@example.com")
    bob = subscriber(served.config, "bob@example.com")
    genuine = make_token(SECRET, ada.id, ada.email)
    forged = [
        "",
        "garbage",
        f"{ada.id}.{'A' * 43}",  # wrong MAC
        make_token(b"another-secret-0123456789", ada.id, ada.email),
        f"{bob.id}.{genuine.split('.')[1]}",  # ada's MAC replayed for bob
        f"999.{genuine.split('.')[1]}",  # no such subscriber
        genuine + "x",
    ]
    for token in forged:
        for method in ("GET", "POST"):
            status, _, _ = served.request(
                f"/unsubscribe?token={urllib.request.quote(token)}", method=method
            )
            assert status == 400, (token, method)
    assert subscriber(served.config, "ada@example.com").status == "active"
    assert subscriber(served.config, "bob@example.com").status == "active"
