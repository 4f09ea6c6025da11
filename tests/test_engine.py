"""The incremental engine: parse cache, skipped builds, parallel parsing, fast YAML."""

from __future__ import annotations

import os
import pickle
import re
import shutil
import sys
import time
import types
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.reading.cache
import feeds.reading.parsing
from feeds.build import build_feeds
from feeds.errors import RecordError
from feeds.reading.corpus import Corpus, load_corpus
from feeds.reading.records import parse_record
from feeds.reading.yamlfast import fast_load
from newsletter.config import Config

from .conftest import NOW, ROOT, read_tree

LAYOUT = "news/2020-11-17-new-layout-containers-in-canvas-apps-make-responsive-apps-easier.md"


def cold_tree(config: Config, tmp: Path) -> dict[str, bytes]:
    """What a cold build (no cache, empty output) makes from the same files."""
    out = tmp / f"cold-{time.monotonic_ns()}"
    build_feeds(config.model_copy(update={"output": out, "cache": None}), NOW)
    return read_tree(out)


def test_warm_builds_equal_cold_builds_after_edits_additions_deletions_renames(
    fixture_project: Path, load_fixture_config: Callable[[], Config], tmp_path: Path
) -> None:
    config = load_fixture_config()
    first = build_feeds(config, NOW)
    assert first.summary.parsed == 19
    news = fixture_project / "news"
    # edit, add, delete, rename
    record = fixture_project / LAYOUT
    record.write_text(record.read_text().replace("make responsive", "make RESPONSIVE"))
    shutil.copy(news / "2021-04-02-unknown-topic.md", news / "2021-04-03-added.md")
    (news / "2021-04-03-added.md").write_text(
        (news / "2021-04-03-added.md")
        .read_text()
        .replace("Power Automate gets", "Portals get")
        .replace("designer", "designer too")
        .replace("https://automate.example.org/designer", "https://automate.example.org/new")
        .replace("  - Power Automate", "  - Portals")
    )
    (news / "2019-10-29-ai-builder-2019-release-wave-2-overview.md").unlink()
    os.rename(news / "bad-url.md", news / "renamed-bad-url.md")
    (news / "sub").mkdir()
    os.rename(
        news
        / "2020-09-22-now-in-preview-customize-teams-with-built-in-power-platform-capabilities.md",
        news / "sub" / "teams.md",
    )
    warm = build_feeds(config, NOW)
    assert warm.summary.parsed == 4  # edited, added, and the two renamed files
    assert not warm.summary.skipped
    assert read_tree(config.output) == cold_tree(config, tmp_path)
    assert (
        "news/renamed-bad-url.md",
        "URL 'javascript:alert(document.cookie)' is not an absolute http(s) URL",
    ) in warm.summary.rejected
    assert "RESPONSIVE" in (config.output / "topics" / "canvas-apps" / "atom.xml").read_text()


def test_nothing_changed_skips_the_build(load_fixture_config: Callable[[], Config]) -> None:
    config = load_fixture_config()
    first = build_feeds(config, NOW)
    second = build_feeds(config, NOW)
    assert second.summary.skipped and second.project is None
    assert second.report.written == () and len(second.report.unchanged) == 33
    assert second.summary.feeds == first.summary.feeds
    assert second.summary.rejected == first.summary.rejected


def test_a_touched_file_is_confirmed_by_hash_not_reparsed(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    record = fixture_project / LAYOUT
    os.utime(record, ns=(time.time_ns(), time.time_ns() + 10**9))
    again = build_feeds(config, NOW)
    assert not again.summary.skipped  # the stat changed ...
    assert again.summary.parsed == 0  # ... but the content did not
    assert again.report.written == ()


def test_damaged_or_deleted_outputs_are_rebuilt(load_fixture_config: Callable[[], Config]) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    before = read_tree(config.output)
    (config.output / "topics" / "portals" / "rss.xml").unlink()
    (config.output / "atom.xml").write_text("tampered")
    again = build_feeds(config, NOW)
    assert not again.summary.skipped
    assert sorted(again.report.written) == ["atom.xml", "topics/portals/rss.xml"]
    assert read_tree(config.output) == before


def test_time_passing_rebuilds_when_a_future_article_comes_due(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    record = fixture_project / LAYOUT
    record.write_text(
        record.read_text().replace(
            "publishedDateTime: 2020-11-17T08:00:58Z", "publishedDateTime: 2026-11-27T12:00:00Z"
        )
    )
    config = load_fixture_config()
    build_feeds(config, NOW)
    assert build_feeds(config, NOW + timedelta(hours=23)).summary.skipped
    due = build_feeds(config, NOW + timedelta(days=1, minutes=1))
    assert not due.summary.skipped
    assert (
        "New Layout containers"
        in (config.output / "topics" / "canvas-apps" / "atom.xml").read_text()
    )


def test_a_config_or_template_change_rebuilds(
    fixture_project: Path, load_fixture_config: Callable[[], Config]
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    path = fixture_project / "config.yaml"
    path.write_text(path.read_text().replace("max_items: 5", "max_items: 4"))
    changed = load_fixture_config()
    result = build_feeds(changed, NOW)
    assert not result.summary.skipped and result.summary.parsed == 0


def test_parser_version_change_invalidates_the_cache(
    load_fixture_config: Callable[[], Config], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    monkeypatch.setattr(feeds.reading.cache, "PARSER_VERSION", 999)
    result = build_feeds(config, NOW)
    assert result.summary.parsed == 19
    assert any("reparsing everything" in w for w in result.summary.warnings)


def test_a_corrupted_cache_is_set_aside_and_rebuilt_with_a_warning(
    load_fixture_config: Callable[[], Config], tmp_path: Path
) -> None:
    config = load_fixture_config()
    build_feeds(config, NOW)
    assert config.cache is not None
    for suffix in ("-wal", "-shm"):
        Path(str(config.cache) + suffix).unlink(missing_ok=True)
    config.cache.write_bytes(b"this is not a database" * 100)
    result = build_feeds(config, NOW)
    assert result.summary.parsed == 19
    assert any("is damaged" in w for w in result.summary.warnings)
    assert Path(str(config.cache) + ".damaged").exists()
    assert read_tree(config.output) == cold_tree(config, tmp_path)
    assert build_feeds(config, NOW).summary.skipped  # and the new cache works


def test_cache_entries_another_version_wrote_are_read_again(tmp_path: Path) -> None:
    """A cached pickle that names classes this version does not have (a module moved
    between versions) costs a re-read of that record when it is read in full, never
    the build, and its entry is mended."""
    folder = ROOT / "tests" / "data" / "fixture" / "news"
    cache = feeds.reading.cache.ParseCache(tmp_path / "cache.sqlite3")
    cold = load_corpus(folder, cache=cache)
    gone = types.ModuleType("feedletter_gone")
    exec("class Article:\n    pass", gone.__dict__)
    sys.modules["feedletter_gone"] = gone
    gone.Article.__module__ = "feedletter_gone"
    stale = pickle.dumps(gone.Article())
    del sys.modules["feedletter_gone"]
    article = next(p for p, row in sorted(cache.rows().items()) if row[4] is None)  # usable
    cache.conn.execute("UPDATE bodies SET payload = ? WHERE path = ?", (stale, article))
    warm = load_corpus(folder, cache=cache)
    assert [str(e) for e in warm.rejected] == [str(e) for e in cold.rejected]
    assert warm.parsed == 0  # the columns selection needs are intact
    assert warm.articles == cold.articles  # the stale Article is read from its file
    (payload,) = cache.conn.execute(
        "SELECT payload FROM bodies WHERE path = ?", (article,)
    ).fetchone()
    assert pickle.loads(payload) in cold.articles  # and its entry mended
    # the same for a Signature, read for the records near a change
    cache.conn.execute("UPDATE signatures SET signature = ? WHERE path = ?", (stale, article))
    warm = load_corpus(folder, cache=cache)
    brief = next(r for r in warm.records if r.path.endswith(Path(article).name))
    (signature,) = warm.signatures([brief])
    assert signature == next(a.signature for a in cold.articles if a.path == brief.path)
    (blob,) = cache.conn.execute(
        "SELECT signature FROM signatures WHERE path = ?", (article,)
    ).fetchone()
    assert pickle.loads(blob) == signature
    cache.close()


def test_signatures_are_stored_under_their_records_dates(tmp_path: Path) -> None:
    """The signatures table is keyed by each record's date: a re-dated, rewritten,
    rejected or deleted record leaves no signature behind under its old key."""
    folder = tmp_path / "news"
    shutil.copytree(ROOT / "tests" / "data" / "fixture" / "news", folder)
    cache = feeds.reading.cache.ParseCache(tmp_path / "cache.sqlite3")

    def keys(table: str) -> set[tuple[int, str]]:
        where = " WHERE reason IS NULL" if table == "records" else ""
        query = f"SELECT published_us, path FROM {table}{where}"
        return set(cache.conn.execute(query).fetchall())

    load_corpus(folder, cache=cache)
    assert keys("signatures") == keys("records") and len(keys("records")) > 10
    files = sorted(p for p in folder.glob("*.md") if "bad" not in p.name)
    redated, rewritten, broken, deleted = files[:4]
    text = redated.read_text()
    when = re.search(r"^publishedDateTime: (.*)$", text, re.M)
    assert when is not None
    redated.write_text(text.replace(when.group(1), "2021-03-30T08:00:00Z"))
    rewritten.write_text(rewritten.read_text().replace('title: "', 'title: "Now ', 1))
    broken.write_text("no front matter at all\n")
    deleted.unlink()
    corpus = load_corpus(folder, cache=cache)
    assert corpus.parsed == 3
    assert keys("signatures") == keys("records")
    assert len(keys("records")) == len(corpus.records)
    assert keys("arriving") == set()  # parse workers' signatures: all settled
    # one left by a load that stopped before settling, for a version since replaced,
    # is dropped; one for the current version is settled by the next load
    (when, path, sha, blob) = cache.conn.execute(
        "SELECT published_us, path, sha256, signature FROM signatures WHERE path = ?",
        (str(rewritten),),
    ).fetchone()
    cache.conn.execute("DELETE FROM signatures WHERE path = ?", (path,))
    cache.conn.execute("INSERT INTO arriving VALUES (?, ?, ?, ?)", (when, path, sha, blob))
    cache.conn.execute("INSERT INTO arriving VALUES (?, ?, ?, ?)", (when - 1, path, b"old", blob))
    load_corpus(folder, cache=cache)
    assert keys("signatures") == keys("records")
    assert keys("arriving") == set()
    cache.close()


def test_parallel_parsing_gives_the_same_corpus(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Workers give the same records, with a cache (they store them there
    themselves) or without (their bytes travel back)."""
    folder = ROOT / "content" / "news"
    serial = load_corpus(folder, workers=1)
    monkeypatch.setattr(feeds.reading.parsing, "PARALLEL_THRESHOLD", 10)
    parallel = load_corpus(folder, workers=2)
    assert parallel.articles == serial.articles
    assert parallel.parsed == serial.parsed == 674
    cache = feeds.reading.cache.ParseCache(tmp_path / "cache.sqlite3")
    written: list[int] = []
    update = cache.update
    monkeypatch.setattr(
        cache, "update", lambda c, *a: written.append(len(list(c))) or update(c, *a)
    )
    stored = load_corpus(folder, workers=2, cache=cache)
    assert written == [0]  # the workers stored every record: none came back to store
    assert stored.articles == serial.articles
    (bodies,) = cache.conn.execute("SELECT count(*) FROM bodies").fetchone()
    assert bodies == 674
    # the workers' signatures arrived apart and were settled in date order
    counts = [
        cache.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        for table in ("signatures", "arriving")
    ]
    assert counts == [674, 0]
    again = load_corpus(folder, workers=2, cache=cache)
    assert again.parsed == 0 and again.articles == serial.articles
    cache.close()


# how many Articles and Signatures the parse cache holds
COUNT_BODIES = "SELECT (SELECT count(*) FROM bodies), (SELECT count(*) FROM signatures)"


def _bodiless(
    folder: Path, cache_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Corpus, Corpus, feeds.reading.cache.ParseCache]:
    """The records of ``folder`` parsed serially, and loaded by two workers into a
    new parse cache without their Articles (``bodies=False``), and that cache."""
    serial = load_corpus(folder, workers=1)
    monkeypatch.setattr(feeds.reading.parsing, "PARALLEL_THRESHOLD", 10)
    cache = feeds.reading.cache.ParseCache(cache_path)
    stored = load_corpus(folder, workers=2, cache=cache, bodies=False)
    assert cache.conn.execute(COUNT_BODIES).fetchone() == (0, 674)
    return serial, stored, cache


def test_without_bodies_workers_store_columns_and_signatures_and_shown_records_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``bodies=False``: the workers store no record's pickled Article, only its columns
    and signature; a record read in full comes from its file, the same Article, and
    its entry keeps it from then on."""
    folder = ROOT / "content" / "news"
    serial, stored, cache = _bodiless(folder, tmp_path / "cache.sqlite3", monkeypatch)
    count = COUNT_BODIES
    assert stored.articles == serial.articles  # each read again from its file
    assert cache.conn.execute(count).fetchone() == (674, 674)  # and kept
    again = load_corpus(folder, workers=2, cache=cache, bodies=False)
    assert again.parsed == 0 and again.articles == serial.articles
    # with no cache the workers' Articles are all there is: they are kept
    held = load_corpus(folder, workers=2, bodies=False).details
    assert held is not None and len(held.held) == 674
    assert all(entry.payload is not None for entry in held.held.values())


def test_records_read_in_full_together_equal_their_parse_and_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``in_full`` (how a build reads the copies of the stories it shows): the same
    Articles as a parse of each file, kept in the cache for the next build; a file
    changed since its record was chosen is read as it is now and not kept, and one
    that is no longer a record is named."""
    folder = tmp_path / "news"
    shutil.copytree(ROOT / "content" / "news", folder)
    serial, stored, cache = _bodiless(folder, tmp_path / "cache.sqlite3", monkeypatch)
    count = COUNT_BODIES
    half = stored.records[::2]
    assert stored.in_full(half) == list(serial.articles[::2])
    assert cache.conn.execute(count).fetchone() == (337, 674)  # kept
    assert stored.in_full(stored.records) == list(serial.articles)
    again = load_corpus(folder, workers=2, cache=cache, bodies=False)
    assert again.parsed == 0 and again.in_full(again.records) == list(serial.articles)
    other = feeds.reading.cache.ParseCache(tmp_path / "other.sqlite3")
    fresh = load_corpus(folder, workers=2, cache=other, bodies=False)
    changed, gone = (folder / Path(r.path).name for r in fresh.records[3:5])
    changed.write_text(changed.read_text().replace('title: "', 'title: "Changed ', 1))
    read = fresh.in_full(fresh.records[:4])
    assert read[:3] == list(serial.articles[:3]) and read[3].title.startswith("Changed ")
    assert other.conn.execute(count).fetchone() == (3, 674)  # the changed one not kept
    gone.write_text("no front matter at all")
    with pytest.raises(RecordError, match=r"changed while the build ran \(no YAML") as raised:
        fresh.in_full(fresh.records[:6])
    assert str(raised.value.path) == fresh.records[4].path
    other.close()
    cache.close()


def test_a_build_keeps_the_articles_it_shows_and_all_once_keywords_are_matched(
    tmp_path: Path,
) -> None:
    """With no topic matching keywords a build keeps in the cache only the Articles
    of the stories it showed (each of their copies: a story shows its copies'
    excerpts and related lists); a topic that starts matching them reads every
    record in full (from its file, where the cache has no Article), and its
    outputs equal a cold build's."""
    from benchmarks.corpus import generate
    from benchmarks.run import feedletter_config
    from newsletter.config import load_config

    corpus = generate(300, tmp_path / "corpus", "flat")
    path = feedletter_config(tmp_path, corpus)
    config = load_config(path)
    assert config.cache is not None
    build_feeds(config, NOW)  # cold: the records parsed here are in hand, none kept
    edited = sorted((corpus / "news").glob("*.md"))[7]
    edited.write_text(edited.read_text().replace('title: "', 'title: "Edited ', 1))
    result = build_feeds(config, NOW)  # warm: what it shows is read from the files
    assert result.selection is not None
    selection = result.selection
    shown = [a for s in (*selection.topics, selection.everything) for a in s.articles]
    keys = {a.key for a in shown}
    copies = {a.path for a in shown} | {
        c.path for story in selection.stories if story.key in keys for c in story.copies
    }
    assert len(copies) > len({a.path for a in shown})  # the corpus has stories of several
    cache = feeds.reading.cache.ParseCache(config.cache)
    ((bodies,),) = cache.conn.execute("SELECT count(*) FROM bodies").fetchall()
    cache.close()
    assert 0 < bodies <= len(copies) < 300
    # the sample's AI Builder topic, as the bundled config.yaml has it
    path.write_text(
        path.read_text() + "topics: [{id: ai-builder, rules: {match_keywords: true}}]\n"
    )
    keywords = load_config(path)
    assert keywords.topic_rules()["ai-builder"].match_keywords
    build_feeds(keywords, NOW)
    assert read_tree(keywords.output) == cold_tree(keywords, tmp_path)
    cache = feeds.reading.cache.ParseCache(config.cache)
    ((bodies,),) = cache.conn.execute("SELECT count(*) FROM bodies").fetchall()
    cache.close()
    assert bodies == 300


def test_a_build_with_archives_keeps_every_article(tmp_path: Path) -> None:
    """Archive pages show every story that qualifies, not only the newest: such a
    build keeps every record's Article in the cache, as one matching keywords does,
    instead of reading each again from its file."""
    from benchmarks.corpus import generate
    from benchmarks.run import feedletter_config
    from newsletter.config import load_config

    corpus = generate(300, tmp_path / "corpus", "flat")
    path = feedletter_config(tmp_path, corpus)
    path.write_text(path.read_text() + "archives: {enabled: true}\n")
    config = load_config(path)
    assert config.archives.enabled and config.cache is not None
    build_feeds(config, NOW)
    cache = feeds.reading.cache.ParseCache(config.cache)
    counts = (
        "SELECT (SELECT count(*) FROM bodies), (SELECT count(*) FROM records WHERE reason IS NULL)"
    )
    ((bodies, usable),) = cache.conn.execute(counts).fetchall()
    cache.close()
    assert bodies == usable > 250


def test_prefetching_is_only_advice(tmp_path: Path) -> None:
    """Asking the kernel to read ahead never fails a load: a file gone or unreadable
    is left to the read that reports it."""
    present = tmp_path / "a.md"
    present.write_text("---\ntitle: x\n---\n")
    feeds.reading.parsing._prefetch([str(tmp_path / "gone.md"), str(tmp_path), str(present)])


def records_texts() -> list[tuple[str, str]]:
    paths = [
        *sorted((ROOT / "content" / "news").glob("*.md")),
        *sorted((ROOT / "tests" / "data" / "fixture" / "news").glob("*.md")),
    ]
    return [(str(p), p.read_text(encoding="utf-8", errors="replace")) for p in paths]


def test_fast_yaml_gives_identical_records_on_the_whole_real_corpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = records_texts()
    fast = [_parsed(text, path) for path, text in texts]
    used = sum(fast_load(text.split("---")[1]) is not None for _, text in texts[:674])
    assert used > 600  # yaml-rs really is doing the work
    monkeypatch.setattr("feeds.reading.yamlfast.yaml_rs", None)
    reference = [_parsed(text, path) for path, text in texts]
    assert fast == reference


def _parsed(text: str, path: str) -> object:
    from feeds.errors import RecordError

    try:
        return parse_record(text, path)
    except RecordError as exc:
        return exc.reason


scalars = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20),
    st.integers(-(10**6), 10**6),
    st.booleans(),
    st.sampled_from(
        [
            "yes",
            "No",
            "on",
            "OFF",
            "012",
            "1e3",
            ".inf",
            "1:30",
            "2021-01-01",
            "'2021-01-01'",
            "!!python/name:os.system",
            "~",
            "null",
            "0x1F",
            "<<",
            "&a x",
            "*a",
            "&:",
            "@x",
            "`x",
            "? x",
            "- x",
            "[1, 2]",
            "{a: 1}",
            "|",
            ">-",
            "=",
            "%",
            "#",
            ": x",
            "-",
            "0o17",
            "+1",
            "-.5",
            "1_0",
            "0b11",
            "Null",
            "NULL",
            "True",
            "TRUE",
            "2001-12-14t21:59:43.10-05:00",
            "1.0",
            "-0",
            "00",
            "_0",
            "+_1",
            "-_1",
            "._5",
            "1_",
            "1__0",
            "0_1",
            "1_000.5",
            "foo *bar",
            "x &y z",
            "a | b",
            "a > b",
            "- *x",
            "[&a 1, *a]",
            "{a: &b c}",
            "'&quoted'",
        ]
    ),
)
documents = st.dictionaries(
    st.text("abcdefgh", min_size=1, max_size=6),
    st.one_of(
        scalars,
        st.lists(scalars, max_size=3),
        st.dictionaries(st.text("xyz", min_size=1, max_size=3), scalars, max_size=3),
    ),
    max_size=6,
)


@settings(max_examples=1000, deadline=None)
@given(documents, st.booleans())
def test_fast_yaml_never_disagrees_with_pyyaml(document: dict[str, object], raw: bool) -> None:
    """Whenever yaml-rs's result is used, it equals PyYAML's safe loader's."""
    text = yaml.safe_dump(document, allow_unicode=True)
    if raw:  # unquoted scalars, as hand-written YAML has them
        text = (
            "\n".join(f"{k}: {v}" for k, v in document.items() if not isinstance(v, list | dict))
            + "\n"
        )
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        expected = None
    fast = fast_load(text)
    if fast is not None:
        assert fast == expected


def test_warm_equals_cold_on_a_generated_corpus_through_story_changes(tmp_path: Path) -> None:
    """Edits, additions, deletions, renames, a syndicated copy arriving and a
    representative deleted: after each, the warm build's outputs equal a cold build's.

    (With ``archives.enabled`` they may not, by design: an RFC 5005 archive page,
    once written, never changes, while a cold build writes the pages anew.)"""
    from benchmarks.corpus import generate
    from benchmarks.run import feedletter_config
    from newsletter.config import load_config

    # the corpus and config the benchmark measures, at a test's size
    corpus = generate(600, tmp_path / "corpus", "flat")
    config = load_config(feedletter_config(tmp_path, corpus))
    news = corpus / "news"
    files = sorted(news.glob("*.md"))
    shown = {a.path for a in build_feeds(config, NOW).selection.everything.articles}  # type: ignore[union-attr]
    best = next(f for f in files if f.name in {Path(p).name for p in shown})

    def syndicated_copy(source: Path, name: str, quality: int) -> None:
        text = source.read_text().replace('webUrl: "', 'webUrl: "https://syndicate.example/', 1)
        text = text.replace('originalUrl: "', 'originalUrl: "https://syndicate.example/', 1)
        text = re.sub(r"^quality: .*$", f"quality: {quality}", text, count=1, flags=re.M)
        (news / name).write_text(text)

    steps: list[Callable[[], None]] = [
        lambda: files[10].write_text(
            files[10].read_text().replace('title: "', 'title: "Edited ', 1)
        ),
        lambda: shutil.copy(files[20], news / "zz-added.md"),  # the same URL: one story
        lambda: files[30].unlink(),
        lambda: os.rename(files[40], news / "zz-renamed.md"),
        lambda: syndicated_copy(best, "zz-syndicated.md", 500),  # a better copy arrives
        lambda: best.unlink(),  # the story's first representative goes
    ]
    for number, step in enumerate(steps):
        step()
        build_feeds(config, NOW)
        assert read_tree(config.output) == cold_tree(config, tmp_path), f"step {number}"


def test_a_warm_build_reads_in_full_only_the_records_it_shows(tmp_path: Path) -> None:
    """After one edit, the other records are chosen from their Brief columns; only
    the shown stories' copies are read in full, each once."""
    from benchmarks.corpus import generate
    from benchmarks.run import feedletter_config
    from feeds.model import Brief
    from newsletter.config import load_config

    corpus = generate(600, tmp_path / "corpus", "flat")
    config = load_config(feedletter_config(tmp_path, corpus))
    build_feeds(config, NOW)
    edited = sorted((corpus / "news").glob("*.md"))[7]
    edited.write_text(edited.read_text().replace('title: "', 'title: "Edited ', 1))
    result = build_feeds(config, NOW)
    assert result.project is not None and result.selection is not None
    records = result.project.corpus.records
    assert sum(isinstance(r, Brief) for r in records) == len(records) - 1
    details = result.project.corpus.details
    assert details is not None
    selection = result.selection
    shown = {a.path for s in (*selection.topics, selection.everything) for a in s.articles}
    copies = {c.path for story in selection.stories for c in story.copies}
    assert set(details.read) <= shown | copies
    assert shown - {r.path for r in records if not isinstance(r, Brief)} <= set(details.read)
    assert len(details.read) < len(records) / 2


def test_a_record_changed_while_the_build_ran_is_read_again_or_named(tmp_path: Path) -> None:
    """A shown record whose cache entry cannot be used is read from its file: if the
    file changed since it was chosen, its entry is not mended with the new text;
    if it is no longer a record at all, the error names it and says what to do."""
    from feeds.errors import RecordError
    from feeds.model import Brief

    news = tmp_path / "news"
    shutil.copytree(ROOT / "tests" / "data" / "fixture" / "news", news)
    cache = feeds.reading.cache.ParseCache(tmp_path / "cache.sqlite3")
    load_corpus(news, cache=cache)
    corpus = load_corpus(news, cache=cache)
    brief = next(r for r in corpus.records if isinstance(r, Brief))
    path = tmp_path / brief.path
    cache.conn.execute("UPDATE bodies SET payload = x'00'")  # no entry can be used
    path.write_text(path.read_text().replace('title: "', 'title: "Changed ', 1))
    assert corpus.article(brief).title.startswith("Changed ")
    (payload,) = cache.conn.execute(
        "SELECT payload FROM bodies WHERE path = ?", (str(path.resolve()),)
    ).fetchone()
    assert payload == b"\x00"  # the chosen version's entry is not mended with another text
    other = next(r for r in corpus.records if isinstance(r, Brief) and r.path != brief.path)
    (tmp_path / other.path).write_text("no front matter at all")
    with pytest.raises(RecordError, match=r"changed while the build ran \(no YAML") as caught:
        corpus.article(other)
    assert str(caught.value.path) == other.path
    cache.close()


def test_a_warm_load_makes_from_the_cache_what_a_cold_one_parses(tmp_path: Path) -> None:
    """Each unchanged record comes back from its cache row as a ``Brief`` with the
    parsed Article's values, made as the class makes it; what the load learns of
    each publisher's boilerplate from the rows' lessons is what the excerpts teach."""
    import dataclasses

    from feeds.model import Brief, maker
    from feeds.reading.boilerplate import learn

    news = tmp_path / "news"
    shutil.copytree(ROOT / "content" / "news", news)
    cache = feeds.reading.cache.ParseCache(tmp_path / "cache.sqlite3")
    cold = load_corpus(news, cache=cache)
    warm = load_corpus(news, cache=cache)
    cache.close()
    assert warm.parsed == 0 and all(isinstance(r, Brief) for r in warm.records)
    assert len(warm.records) == len(cold.records) > 30
    names = [f.name for f in dataclasses.fields(Brief)]
    for brief, article in zip(warm.records, cold.articles, strict=True):
        values = [getattr(article, name) for name in names]
        if article.provider is not None:  # a Brief's provider has no logo: none is shown
            values[names.index("provider")] = dataclasses.replace(article.provider, logo=None)
        assert [getattr(brief, name) for name in names] == values, article.path
        assert brief == Brief(*values) and hash(brief) == hash(Brief(*values))
        assert maker(Brief)(*values) == brief
    with pytest.raises(dataclasses.FrozenInstanceError):
        maker(Brief)(*values).quality = 1  # type: ignore[misc]
    assert warm.boilerplate == cold.boilerplate == learn(cold.articles)
    assert warm.boilerplate.openings  # the sample's publishers repeat themselves
