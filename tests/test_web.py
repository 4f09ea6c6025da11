"""`feedletter serve` over real HTTP: static files under base_url's path, conditional GET,
unsubscribe at the List-Unsubscribe URL's path, and the local preview."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date
from email.utils import formatdate
from pathlib import Path

import pytest
import uvicorn

from feeds.build import build_feeds, load_project, load_topics
from newsletter.audience import lifecycle as subs
from newsletter.audience.tokens import make_token
from newsletter.config import Config, load_config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect
from newsletter.web.app import ServeSettings, create_app
from newsletter.web.guard import BoundedPool, server_config

from .conftest import NOW
from .smtp_server import free_port

SECRET = b"web-test-secret-0123456789"


class Served:
    def __init__(self, config: Config, base: str, pool: BoundedPool | None = None) -> None:
        self.config = config
        self.base = base
        self.pool = pool

    def settle(self) -> None:
        """Wait until every sign-up handed to the server's mail pool has been decided
        and its mail (if any) accepted by the SMTP server: after this, a mail that
        was not sent will not be."""
        assert self.pool is not None and self.pool.wait_idle(30), "sign-ups still running"

    def request(
        self, path: str, method: str = "GET", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        req = urllib.request.Request(self.base + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()


def serve(
    config: Config, preview: bool, send_notice: Callable[..., None] | None = None
) -> Iterator[Served]:
    topics = tuple((t.id, t.name) for t in load_topics(config).topics)
    settings = ServeSettings(config, topics, preview=preview)
    app = create_app(settings, lambda: connect(config.database), SECRET, send_notice)
    port = free_port()
    server = uvicorn.Server(server_config(app, config.serve, "127.0.0.1", port))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield Served(config, f"http://127.0.0.1:{port}", app.state.mail_pool)
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def project_config(fixture_project: Path) -> Config:
    config = load_config(fixture_project / "config.yaml")
    build_feeds(config, NOW)
    write_issue(
        config, make_issue(load_project(config), config, issue_period(config, date(2021, 4, 2)))
    )
    conn = connect(config.database)
    subs.add(conn, "ada@example.com")
    subs.add(conn, "bob@example.com")
    conn.close()
    return config


@pytest.fixture
def served(project_config: Config) -> Iterator[Served]:
    """`feedletter serve --production`: the published bytes."""
    yield from serve(project_config, preview=False)


@pytest.fixture
def preview(project_config: Config) -> Iterator[Served]:
    """`feedletter serve`: the local preview."""
    yield from serve(project_config, preview=True)


def subscriber(config: Config, email: str) -> subs.Subscriber:
    with connect(config.database) as conn:
        found = subs.get(conn, email)
        assert found is not None
        return found


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/news/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/news/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/news/topics/portals/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/news/topics/portals/rss.xml", "application/rss+xml; charset=utf-8"),
        ("/news/topics/portals/feed.json", "application/feed+json; charset=utf-8"),
        ("/news/topics/portals/", "text/html; charset=utf-8"),
        ("/news/", "text/html; charset=utf-8"),
        ("/news/feeds.opml", "text/x-opml; charset=utf-8"),
        ("/news/newsletter/atom.xml", "application/atom+xml; charset=utf-8"),
        ("/news/newsletter/2021-W13/", "text/html; charset=utf-8"),
    ],
)
def test_content_types(served: Served, path: str, kind: str) -> None:
    status, headers, body = served.request(path)
    assert status == 200 and headers["content-type"] == kind and body


def test_conditional_get(served: Served) -> None:
    status, headers, body = served.request("/news/topics/portals/atom.xml")
    assert status == 200
    etag, modified = headers["etag"], headers["last-modified"]
    assert body == (served.config.output / "topics" / "portals" / "atom.xml").read_bytes()
    assert (
        served.request("/news/topics/portals/atom.xml", headers={"If-None-Match": etag})[0] == 304
    )
    assert (
        served.request("/news/topics/portals/atom.xml", headers={"If-Modified-Since": modified})[0]
        == 304
    )
    old = formatdate(0, usegmt=True)
    assert (
        served.request("/news/topics/portals/atom.xml", headers={"If-Modified-Since": old})[0]
        == 200
    )
    assert (
        served.request("/news/topics/portals/atom.xml", headers={"If-None-Match": '"other"'})[0]
        == 200
    )


@pytest.mark.parametrize(
    "path",
    [
        "/news/../config.yaml",
        "/news/%2e%2e/config.yaml",
        "/news/topics/../../config.yaml",
        "/news/.feeds-manifest.json",
        "/config.yaml",
    ],
)
def test_nothing_outside_output_is_served(served: Served, path: str) -> None:
    assert served.request(path)[0] == 404


def test_one_click_unsubscribe(served: Served) -> None:
    ada = subscriber(served.config, "ada@example.com")
    token = make_token(SECRET, ada.id, ada.email)
    status, headers, body = served.request(f"/news/unsubscribe?token={token}", method="POST")
    assert status == 200
    assert "set-cookie" not in {k.lower() for k in headers} and "location" not in {
        k.lower() for k in headers
    }
    assert b"will receive no further issues" in body
    assert subscriber(served.config, "ada@example.com").status == "unsubscribed"
    assert subscriber(served.config, "bob@example.com").status == "active"
    # repeating it is harmless
    assert served.request(f"/news/unsubscribe?token={token}", method="POST")[0] == 200


def test_get_shows_a_confirmation_button_and_changes_nothing(served: Served) -> None:
    bob = subscriber(served.config, "bob@example.com")
    token = make_token(SECRET, bob.id, bob.email)
    status, _, body = served.request(f"/news/unsubscribe?token={token}")
    assert status == 200
    assert b'<form method="post" action="/news/unsubscribe?token=' + token.encode() + b'">' in body
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
    statuses = [
        served.request(f"/news/unsubscribe?token={urllib.request.quote(token)}", method=method)[0]
        for token in forged
        for method in ("GET", "POST")
    ]
    # each is refused; bad links count against the client (per_client_requests: 10),
    # so the ones past its window get 429 instead of 400
    assert statuses == [400] * 10 + [429] * 4, statuses
    # a reader's genuine link still works from the same client: it counts against
    # that reader, not against the client
    assert served.request(f"/news/unsubscribe?token={genuine}")[0] == 200
    assert subscriber(served.config, "ada@example.com").status == "active"
    assert subscriber(served.config, "bob@example.com").status == "active"


def test_the_site_root_redirects_under_base_url(served: Served) -> None:
    req = urllib.request.Request(served.base + "/", method="GET")
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(req, timeout=10)
    assert caught.value.code == 302 and caught.value.headers["location"] == "/news/"
    assert served.request("/news")[0] == 200  # followed: /news -> /news/
    assert served.request("/unsubscribe", method="POST")[0] == 404  # only under base_url


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def test_the_list_unsubscribe_url_of_a_real_message_works(served: Served) -> None:
    """A mailbox provider POSTs to the message's own List-Unsubscribe URL (RFC 8058)."""
    from newsletter.audience.tokens import signed_link
    from newsletter.issue.archive import read_issues
    from newsletter.issue.message import PreparedMessage

    config = served.config
    ada = subscriber(config, "ada@example.com")
    info = read_issues(config.issues_folder)[0]
    project = load_project(config)
    issue = make_issue(project, config, info.period)
    link = signed_link(config.unsubscribe_endpoint(), make_token(SECRET, ada.id, ada.email))
    raw, _ = PreparedMessage(issue, config.newsletter, config.site).message(
        ada.email, link, info.end_time
    )
    import email
    from email.policy import default

    header = email.message_from_bytes(raw, policy=default)["List-Unsubscribe"]
    https = next(part.strip("<> ") for part in header.split(",") if "https://" in part)
    assert https.startswith("https://fixture.example.org/news/unsubscribe?")
    path = https.removeprefix("https://fixture.example.org")
    req = urllib.request.Request(
        served.base + path, data=b"List-Unsubscribe=One-Click", method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as response:
        assert response.status == 200
    assert subscriber(config, "ada@example.com").status == "unsubscribed"


def test_the_preview_links_to_the_local_server(preview: Served) -> None:
    local = preview.base + "/news"
    public = "https://fixture.example.org/news"
    on_disk = {
        name: (preview.config.output / name).read_bytes()
        for name in ("index.html", "atom.xml", "rss.xml", "feed.json", "topics/portals/index.html")
    }
    for name, published in on_disk.items():
        status, headers, body = preview.request(f"/news/{name}")
        assert status == 200, name
        assert public.encode() in published  # the published file links to production
        assert public.encode() not in body, name  # the preview links here instead
        assert f"{local}/".encode() in body, name
        assert (preview.config.output / name).read_bytes() == published  # output/ untouched
    # the preview's own links resolve on the preview
    status, _, body = preview.request("/news/topics/portals/atom.xml")
    assert f'href="{local}/topics/portals/atom.xml" rel="self"'.encode() in body
    # conditional requests still work on rewritten files
    status, headers, _ = preview.request("/news/atom.xml")
    assert preview.request("/news/atom.xml", headers={"If-None-Match": headers["etag"]})[0] == 304
    # a proxied request gets the published bytes, whatever the mode
    status, _, body = preview.request("/news/atom.xml", headers={"X-Forwarded-For": "192.0.2.1"})
    assert body == on_disk["atom.xml"]
