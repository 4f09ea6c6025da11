"""Rendered outputs kept between builds (``feeds.build.memo``): a feed whose inputs
did not change is read back instead of rendered, and the outputs always equal a
cold build's."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import feeds.build.memo
import feeds.rendering.feed
import feeds.rendering.pages
from feeds.build import build_feeds, load_project, open_cache, plan_feeds, uptodate
from feeds.build.memo import RenderMemo, canonical
from feeds.model import EMPTY, Article, Provider, Related, Signature
from newsletter.config import Config

from .conftest import NOW, ROOT, read_tree
from .test_archives import archive_project
from .test_engine import LAYOUT, cold_tree

LOW_QUALITY = "news/2021-04-01-low-quality.md"


def count_renders(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Calls of the real renderers from now on: feeds (one call renders a feed's Atom
    and RSS) and the site pages."""
    calls = {"feed": 0, "site": 0}
    render_feed, render_site = feeds.rendering.feed.render_feed, feeds.rendering.pages.render_site

    def feed(*args: object, **kwargs: object) -> tuple[bytes, bytes]:
        calls["feed"] += 1
        return render_feed(*args, **kwargs)  # type: ignore[arg-type]

    def site(*args: object, **kwargs: object) -> dict[str, bytes]:
        calls["site"] += 1
        return render_site(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(feeds.rendering.feed, "render_feed", feed)
    monkeypatch.setattr(feeds.rendering.pages, "render_site", site)
    return calls


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_a_change_no_feed_shows_renders_nothing(
    fixture_project: Path,
    load_fixture_config: Callable[[], Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_fixture_config()
    calls = count_renders(monkeypatch)
    build_feeds(config, NOW)
    feeds_count = calls["feed"]
    assert feeds_count == 8 and calls["site"] == 1  # all topics and seven topic feeds
    record = fixture_project / LOW_QUALITY
    title = record.read_text().split('title: "', 1)[1].split('"', 1)[0]
    assert all(title.encode() not in data for data in read_tree(config.output).values())
    _edit(record, "excerpt: ", "excerpt: Still not good enough. ")
    again = build_feeds(config, NOW)
    assert again.summary.parsed == 1 and not again.summary.skipped
    assert calls == {"feed": feeds_count, "site": 1}  # nothing rendered again
    assert again.report.written == ()
    assert read_tree(config.output) == cold_tree(config, tmp_path)


def test_a_shown_entry_changed_renders_the_feeds_that_show_it(
    fixture_project: Path,
    load_fixture_config: Callable[[], Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    calls = count_renders(monkeypatch)
    _edit(fixture_project / LAYOUT, "make responsive", "make RESPONSIVE")
    build_feeds(config, NOW)
    tree = read_tree(config.output)
    showing = [
        name for name, data in tree.items() if name.endswith("atom.xml") and b"RESPONSIVE" in data
    ]
    assert 0 < len(showing) < 8
    assert calls == {"feed": len(showing), "site": 1}
    # and back: the feeds are rendered again, to what they were
    _edit(fixture_project / LAYOUT, "make RESPONSIVE", "make responsive")
    build_feeds(config, NOW)
    assert calls == {"feed": 2 * len(showing), "site": 2}
    assert tree == _cold_after_edit(fixture_project, config, tmp_path)
    assert read_tree(config.output) == cold_tree(config, tmp_path)


def _cold_after_edit(project: Path, config: Config, tmp: Path) -> dict[str, bytes]:
    """A cold build's outputs with the LAYOUT record edited as above (then put back)."""
    _edit(project / LAYOUT, "make responsive", "make RESPONSIVE")
    try:
        return cold_tree(config, tmp)
    finally:
        _edit(project / LAYOUT, "make RESPONSIVE", "make responsive")


def test_a_template_or_a_tampered_output_renders_again(
    fixture_project: Path,
    load_fixture_config: Callable[[], Config],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    path = fixture_project / "config.yaml"
    path.write_text(
        path.read_text().replace(f"templates: {ROOT / 'templates'}", f"templates: {templates}")
    )
    config = load_fixture_config()
    build_feeds(config, NOW)
    calls = count_renders(monkeypatch)
    # a tampered feed file: that feed is rendered again (its stat is not as written)
    (config.output / "topics" / "portals" / "rss.xml").write_text("tampered")
    _edit(fixture_project / LOW_QUALITY, "excerpt: ", "excerpt: Again. ")
    result = build_feeds(config, NOW)
    assert calls == {"feed": 1, "site": 0}
    assert result.report.written == ("topics/portals/rss.xml",)
    # a template edited: the pages are rendered from it
    _edit(templates / "_base.html.j2", "<footer>", "<footer><!-- edited -->")
    build_feeds(config, NOW)
    assert calls["site"] == 1
    assert b"<!-- edited -->" in (config.output / "index.html").read_bytes()
    assert read_tree(config.output) == cold_tree(config, tmp_path)


def test_the_canonical_form_tells_values_apart_and_not_their_making() -> None:
    provider = Provider("Example", "example.org")
    signature = Signature(frozenset({"a", "b", "c"}), frozenset(), frozenset(), frozenset(), ())
    article = Article(
        path="a.md",
        title="One",
        url="https://example.org/1",
        key="example.org/1",
        published_at=NOW,
        provider=provider,
        related=(Related("Two", "https://example.org/2", signature=signature),),
    )
    # equal values made apart (other objects, sets built in another order) agree
    rebuilt = Article(
        path="a" + ".md",
        title="One",
        url="https://example.org/1",
        key="example.org/1",
        published_at=NOW,
        provider=Provider("Example", "example.org"),
        related=(
            Related(
                "Two",
                "https://example.org/2",
                signature=Signature(
                    frozenset(["c", "b", "a"]), frozenset(), frozenset(), frozenset(), ()
                ),
            ),
        ),
    )
    assert canonical(article) == canonical(rebuilt)
    # any field differing makes them differ, whatever its place
    from dataclasses import replace

    for changed in (
        replace(article, title="One!"),
        replace(article, quality=1),
        replace(article, published_at=NOW.replace(microsecond=1)),
        replace(article, provider=Provider("Example", None)),
        replace(article, related=(replace(article.related[0], signature=EMPTY),)),
        replace(article, related=()),
    ):
        assert canonical(changed) != canonical(article)
    assert canonical(("a", "b")) != canonical(("ab",))
    with pytest.raises(TypeError):
        canonical(object())


def test_inputs_without_a_canonical_form_are_rendered_not_refused(
    load_fixture_config: Callable[[], Config], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the canonical form does not know (a type a later release adds to an
    entry, say) costs the memo, never the build."""
    config = load_fixture_config()
    build_feeds(config, NOW)

    def unknown(value: object) -> str:
        raise TypeError("no canonical form for Something")

    monkeypatch.setattr(feeds.build.memo, "canonical", unknown)
    calls = count_renders(monkeypatch)
    result = build_feeds(config.model_copy(update={"output": tmp_path / "out"}), NOW)
    assert calls == {"feed": 8, "site": 1}
    assert read_tree(tmp_path / "out") == cold_tree(config, tmp_path)
    assert result.summary.written == len(read_tree(tmp_path / "out"))


def _title(record: Path) -> str:
    return record.read_text().split('title: "', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize("shown", [False, True])
def test_with_archives_what_is_read_back_is_what_would_be_rendered(
    shown: bool,
    fixture_project: Path,
    load_fixture_config: Callable[[], Config],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 5005 archives on (feeds link their archive pages, pending entries ride
    along), over the real sample: after an edit of a record no feed shows, or of
    one some feeds show, the files planned through the memo are byte for byte the
    files rendered without it."""
    archive_project(fixture_project)
    path = fixture_project / "config.yaml"
    path.write_text(path.read_text().replace("cache: null\n", ""))  # the default cache
    config = load_fixture_config()
    assert config.archives.enabled and config.cache is not None
    first = build_feeds(config, NOW)
    assert any("archive" in name for name in first.report.written)
    # the first build wrote the archive pages, which the feeds link from now on: a
    # second build (a touched record makes it run) renders and remembers them so
    some = next((fixture_project / "news").glob("*.md"))
    os.utime(some, ns=(some.stat().st_atime_ns, some.stat().st_mtime_ns + 1_000_000_000))
    second = build_feeds(config, NOW)
    assert not second.summary.skipped and second.report.written == ()
    published = b"".join(read_tree(config.output).values())
    record = next(
        r
        for r in sorted((fixture_project / "news").glob("*.md"), reverse=True)
        if (_title(r).encode() in published) == shown and '"' not in _title(r)
    )
    _edit(record, f'title: "{_title(record)}"', f'title: "Edited {_title(record)}"')
    project = load_project(config)
    cache = open_cache(config)
    assert cache is not None
    try:
        memo = RenderMemo(cache, config.output, uptodate.stamp(config))
        calls = count_renders(monkeypatch)
        through_memo = plan_feeds(project, NOW, memo).files
        recalled = 9 - calls["feed"] - calls["site"]
        rendered = plan_feeds(project, NOW).files
    finally:
        cache.close()
    assert through_memo == rendered
    assert (recalled == 9) if not shown else (0 < recalled < 9), (shown, calls)
    assert (b"Edited " in b"".join(rendered.values())) == shown
