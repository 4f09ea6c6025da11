"""WebSub: hub links in every feed, and a ping per changed feed, to a real local hub."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner

from feeds.publishing.websub import FEED_FILES
from newsletter.cli import cli

from .conftest import read_tree
from .hub import Hub
from .test_faults import use_bundled_corpus
from .w3c import w3c_check

BASE = "https://fixture.example.org/news"


def with_hubs(project: Path, *hubs: str, extra: str = "") -> Path:
    path = project / "config.yaml"
    listed = "".join(f"\n    - {hub}" for hub in hubs)
    path.write_text(
        path.read_text() + f"websub:\n  hubs:{listed}\n  timeout_seconds: 2\n  attempts: 2\n{extra}"
    )
    return path


def build(config: Path, *options: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, [*options, "build", "--config", str(config), "--date", "2021-04-02"]
    )
    return result.exit_code, result.stdout, result.stderr


def feed_files(tree: dict[str, bytes]) -> set[str]:
    return {
        path for path in tree if path.rsplit("/", 1)[-1] in FEED_FILES and "/archive/" not in path
    }


def urls(paths: set[str]) -> list[str]:
    return sorted(f"{BASE}/{path}" for path in paths)


def test_every_feed_advertises_the_hubs_and_stays_valid(fixture_project: Path) -> None:
    """On the bundled sample with RFC 5005 archives, so archive documents exist too."""
    use_bundled_corpus(fixture_project)
    hubs = ("https://hub.example.net/", "https://pubsubhubbub.example.com/publish?a=1&b=2")
    config = with_hubs(fixture_project, *hubs, extra="archives:\n  enabled: true\n  page_size: 5\n")
    code, _, stderr = build(config)
    assert code == 0, stderr
    output = fixture_project / "output"
    tree = read_tree(output)
    feeds = feed_files(tree)
    assert {"atom.xml", "rss.xml", "feed.json", "newsletter/atom.xml"} <= feeds
    assert len(feeds) == 3 * 8 + 1  # the site, seven topics, and the newsletter archive
    for path in sorted(feeds):
        if path.endswith(".json"):
            document = json.loads(tree[path])
            assert document["hubs"] == [{"type": "WebSub", "url": hub} for hub in hubs]
            assert document["feed_url"] == f"{BASE}/{path}"
            continue
        parsed = feedparser.parse(tree[path])
        assert not parsed.bozo, (path, parsed.bozo_exception)
        links = [(link["rel"], link["href"]) for link in parsed.feed.links]
        assert [href for rel, href in links if rel == "hub"] == list(hubs), path
        assert ("self", f"{BASE}/{path}") in links
    archive_documents = [p for p in tree if "archive/" in p and p.endswith(".xml")]
    assert len(archive_documents) > 10
    for path in archive_documents:
        assert b'rel="hub"' not in tree[path], path  # archives never change: no hub
    report = w3c_check(output)
    assert report.errors == 0, report.text


def test_a_build_pings_exactly_the_changed_feeds_once_each(fixture_project: Path) -> None:
    with Hub() as hub:
        config = with_hubs(fixture_project, hub.url)
        code, stdout, stderr = build(config)
        assert code == 0, stderr
        tree = read_tree(fixture_project / "output")
        assert sorted(hub.topics()) == urls(feed_files(tree))  # the first build: every feed
        assert all(p["hub.mode"] == ["publish"] for p in hub.pings)
        assert {p["content-type"][0] for p in hub.pings} == {"application/x-www-form-urlencoded"}
        assert (
            f"WebSub: {len(hub.pings)} of {len(hub.pings)} ping(s) to 1 hub(s) answered" in stdout
        )
        # nothing changed: no ping
        hub.clear()
        code, stdout, _ = build(config)
        assert code == 0 and hub.pings == [] and "WebSub" not in stdout
        # one record's title changes: only the feeds whose bytes changed are pinged
        record = next((fixture_project / "news").glob("*community-call*.md"))
        record.write_text(record.read_text().replace("title: ", "title: Renamed: ", 1))
        code, stdout, stderr = build(config, "-v")
        assert code == 0, stderr
        after = read_tree(fixture_project / "output")
        changed = {p for p in feed_files(after) if after[p] != tree.get(p)}
        assert changed and changed != feed_files(after)  # some feeds, not all
        assert sorted(hub.topics()) == urls(changed)  # exactly those, once each
        for topic in hub.topics():
            assert f"  WebSub ping {hub.url} about {topic}: 204 No Content" in stdout


@pytest.mark.parametrize("fault", ["500", "down"])
def test_a_failed_ping_is_retried_on_the_next_build(fixture_project: Path, fault: str) -> None:
    with Hub(status=500 if fault == "500" else 204) as hub:
        config = with_hubs(fixture_project, hub.url)
        if fault == "down":
            hub.down()
        code, stdout, stderr = build(config)
        assert code == 0, stderr  # a failed ping never fails the build
        tree = read_tree(fixture_project / "output")
        every = urls(feed_files(tree))
        assert len(every) == 25 and (fixture_project / "output" / "atom.xml").is_file()
        assert (
            f"warning: {len(every)} WebSub ping(s) failed; they are retried on the next build:"
            in stderr
        )
        if fault == "500":
            # two tries (attempts: 2) of the first; a failing hub is not asked the rest
            assert hub.topics() == [every[0], every[0]]
            assert f"  {hub.url}: 25 feed(s) not notified: 500 Internal Server Error\n" in stderr
        else:
            assert (
                f"  {hub.url}: 25 feed(s) not notified: no answer: Connection refused\n" in stderr
            )
        pending = json.loads((fixture_project / "var" / "websub-pending.json").read_text())
        assert sorted(p["topic"] for p in pending["pending"]) == every
        # the hub is back; the next build changes nothing, and pings what is pending
        hub.status = 204
        if fault == "down":
            hub.up()
        hub.clear()
        code, stdout, stderr = build(config)
        assert code == 0 and "nothing changed since the last build" in stdout
        assert sorted(hub.topics()) == every  # once each
        assert "warning" not in stderr
        assert not (fixture_project / "var" / "websub-pending.json").exists()
        # and then there is nothing left to ping
        hub.clear()
        build(config)
        assert hub.pings == []


def test_hub_urls_are_checked(fixture_project: Path) -> None:
    config = with_hubs(fixture_project, "ftp://hub.example.net/")
    code, _, stderr = build(config)
    assert code == 1
    assert stderr == (
        f"error: {config}: websub.hubs: Value error, 'ftp://hub.example.net/' is not an "
        "absolute http(s) URL\n"
    )


def test_no_hubs_no_links(fixture_project: Path) -> None:
    code, _, stderr = build(fixture_project / "config.yaml")
    assert code == 0, stderr
    tree = read_tree(fixture_project / "output")
    assert not any(b'rel="hub"' in tree[path] or b'"hubs"' in tree[path] for path in tree)


def test_pending_pings_merge_with_new_ones_and_are_dropped_after_twenty_failed_builds(
    tmp_path: Path,
) -> None:
    from feeds.config import WebSubSettings
    from feeds.publishing.websub import GIVE_UP_AFTER, Ping, load_pending, pings_due, publish

    hub, gone = "https://hub.example.net/", "https://old-hub.example.net/"
    pending = [Ping(hub, f"{BASE}/atom.xml", 3), Ping(gone, f"{BASE}/atom.xml", 1)]
    due = pings_due([hub], [f"{BASE}/atom.xml", f"{BASE}/rss.xml"], pending)
    # a hub no longer configured loses its pending pings; a pair is pinged once
    assert due == [Ping(hub, f"{BASE}/atom.xml", 3), Ping(hub, f"{BASE}/rss.xml", 0)]
    settings = WebSubSettings(hubs=[hub], attempts=1, pending=tmp_path / "pending.json")
    tried: list[str] = []

    def refuse(ping: Ping, timeout: float) -> tuple[int, str]:
        tried.append(ping.topic)
        return 410, "Gone"  # a 4xx: this feed only, the next is still tried

    for build in range(GIVE_UP_AFTER):
        report = publish(settings, BASE, ["atom.xml"] if build == 0 else [], post=refuse)
    assert report.given_up == (Ping(hub, f"{BASE}/atom.xml", GIVE_UP_AFTER),)
    assert tried == [f"{BASE}/atom.xml"] * GIVE_UP_AFTER
    assert load_pending(settings.pending) == []
    assert publish(settings, BASE, [], post=refuse).results == ()


def test_a_damaged_pending_file_is_reported_not_silently_dropped(fixture_project: Path) -> None:
    with Hub() as hub:
        config = with_hubs(fixture_project, hub.url)
        pending = fixture_project / "var" / "websub-pending.json"
        pending.parent.mkdir(parents=True, exist_ok=True)
        pending.write_text('{"pending": [{"hub": "x"')  # cut short
        code, _, stderr = build(config)
        assert code == 0, stderr
        assert stderr.startswith(
            f"warning: {pending}: not a file of pending WebSub pings (JSONDecodeError("
        )
        assert "; it is replaced by this build's failed pings\n" in stderr
        assert len(hub.pings) == 25  # this build's pings went out all the same
        assert not pending.exists()  # none failed: nothing pending
