"""The story pairs, kept between builds: stories found again only near a change
equal the stories found from scratch, through every kind of change.

The real sample is copied, then changed at random, round after round (records
deleted, renamed, re-dated, retitled, reposted under another URL, which the title
rules join or not, and syndicated copies arriving under another publisher and a
reworded title, which the content rule joins or not); after each round the
stories found from the last round's pairs equal a cold grouping's.
"""

from __future__ import annotations

import random
import re
import shutil
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import feeds.selection.chunks
import feeds.selection.content
import feeds.selection.pairs
import feeds.selection.titles
from feeds.build.project import load_topics, site_vocabulary
from feeds.model import StoryPairs
from feeds.reading.cache import ParseCache
from feeds.reading.corpus import Corpus, load_corpus
from feeds.selection.stories import group_stories
from newsletter.config import load_config

from .conftest import ROOT

_DATE = re.compile(r"^publishedDateTime: (\S+)$", re.M)
_TITLE = re.compile(r'^title: "(.*)"$', re.M)


def _redate(path: Path, days: float) -> None:
    text = path.read_text()
    match = _DATE.search(text)
    assert match is not None
    when = datetime.fromisoformat(match.group(1).replace("Z", "+00:00")) + timedelta(days=days)
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.write_text(_DATE.sub(f"publishedDateTime: {stamp}", text, count=1))


def _retitle(path: Path, change: str) -> None:
    text = path.read_text()
    path.write_text(_TITLE.sub(lambda m: f'title: "{change} {m.group(1)}"', text, count=1))


def _syndicate(source: Path, target: Path, number: int) -> None:
    """Another publisher's copy: other URL and provider, the title's words reordered
    (no title rule joins it; only what it says can)."""
    text = source.read_text()
    for field in ("webUrl", "originalUrl"):
        text = text.replace(f'{field}: "', f'{field}: "https://syndicate{number}.example/', 1)
    text = re.sub(r"^  name: .*$", f"  name: Syndicate {number}", text, count=1, flags=re.M)
    text = re.sub(
        r"^  domain: .*$", f"  domain: syndicate{number}.example", text, count=1, flags=re.M
    )

    def reorder(match: re.Match[str]) -> str:
        words = match.group(1).split()
        return f'title: "{" ".join(words[1:] + words[:1])}"'

    target.write_text(_TITLE.sub(reorder, text, count=1))


def _repost(source: Path, target: Path, number: int) -> None:
    """The same record again under another URL, some days later: the title rules
    join it (or, past the window, do not)."""
    text = source.read_text()
    for field in ("webUrl", "originalUrl"):
        text = text.replace(f'{field}: "', f'{field}: "https://repost{number}.example/', 1)
    target.write_text(text)
    _redate(target, (number % 4) * 2.5)


def test_stories_found_near_changes_equal_stories_found_from_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds.selection.pairs, "SLICE", 40)  # many slices, each way
    monkeypatch.setattr(feeds.selection.titles, "CHUNK", 30)  # and title chunks
    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    news = tmp_path / "news"
    shutil.copytree(ROOT / "content" / "news", news)
    cache = ParseCache(tmp_path / "cache.sqlite3")
    rnd = random.Random(22)
    corpus = load_corpus(news, cache=cache)
    known = group_stories(corpus.records, 7, site, corpus.digests, source=corpus).pairs
    assert known is not None
    last = _versions(corpus)
    formed = split = 0
    for number in range(25):
        files = sorted(news.glob("*.md"))
        paired = sorted({tmp_path / path for pair in known.pairs for path in pair})
        for _ in range(rnd.randint(1, 4)):
            # half the changes hit a record the content rule joined: stories split
            chosen = rnd.choice(paired if paired and rnd.random() < 0.5 else files)
            if not chosen.exists():
                continue
            action = rnd.choice(
                ["syndicate", "syndicate", "repost", "delete", "redate", "retitle", "rename"]
            )
            if action == "syndicate":
                _syndicate(chosen, news / f"zz-{number}-{chosen.name}", number)
            elif action == "repost":  # the same title at another URL, days later
                _repost(chosen, news / f"zz-repost-{number}-{chosen.name}", number)
            elif action == "delete":
                chosen.unlink()
            elif action == "redate":
                _redate(chosen, rnd.choice([-9, -3, -0.5, 2, 6, 12]))
            elif action == "retitle":
                _retitle(chosen, rnd.choice(["Update:", "Breaking", "Watch"]))
            else:
                chosen.rename(news / f"renamed-{number}-{chosen.name}")
        corpus = load_corpus(news, cache=cache)
        records = corpus.records
        # what the load found changed since the rows it read: the last load's records
        versions = _versions(corpus)
        assert corpus.changes is not None
        assert corpus.changes.then == {p: v for p, v in last.items() if versions.get(p) != v}
        assert corpus.changes.now == {p: v for p, v in versions.items() if last.get(p) != v}
        last = versions
        cold = group_stories(records, 7, site, corpus.digests, source=corpus)
        # every record near a change compared again, or (knowing what the changed
        # records said before) only those that share a title bucket or a word with one
        every = group_stories(records, 7, site, corpus.digests, known, corpus)
        warm = group_stories(records, 7, site, corpus.digests, known, corpus, corpus.previous)
        for found in (every, warm):
            assert found.story_of == cold.story_of, f"round {number}"
            assert found.groups == cold.groups, f"round {number}"
            assert found.pairs == cold.pairs, f"round {number}"
        # the same, told only what changed (as the cache gives it when it vouches)
        told = StoryPairs(known.stamp, None, known.pairs, corpus.changes)
        delta = group_stories(records, 7, site, corpus.digests, told, corpus, corpus.previous)
        assert delta.story_of == cold.story_of and delta.groups == cold.groups, f"round {number}"
        assert cold.pairs is not None
        assert delta.pairs == replace(told, pairs=cold.pairs.pairs), f"round {number}"
        assert warm.pairs is not None
        formed += len(set(warm.pairs.pairs) - set(known.pairs))
        split += len(set(known.pairs) - set(warm.pairs.pairs))
        known = warm.pairs
    # the rounds did make and break content pairs, not only leave them alone
    assert formed >= 5
    assert split >= 3
    cache.close()


def _versions(corpus: Corpus) -> dict[str, tuple[bytes, float]]:
    """Each record's (digest, timestamp): what the story pairs are kept against."""
    return {r.path: (corpus.digests[r.path], r.published_at.timestamp()) for r in corpus.records}


def test_pairs_survive_the_cache_and_are_void_under_other_rules(tmp_path: Path) -> None:
    """What a build stores is what the next one reads; another site vocabulary
    (a topic renamed, say) or window makes the stored pairs worthless: all are
    compared again, and the answer is the cold one."""
    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    cache = ParseCache(tmp_path / "cache.sqlite3")
    corpus = load_corpus(ROOT / "content" / "news", cache=cache)
    first = group_stories(corpus.articles, 7, site, corpus.digests).pairs
    assert first is not None and first.pairs
    cache.save_story_pairs(first, None)
    assert cache.story_pairs() == first
    other = site_vocabulary(
        config.model_copy(
            update={"site": config.site.model_copy(update={"title": "Low-code weekly"})}
        ),
        load_topics(config),
    )
    for window, vocabulary in ((7, other), (3, site)):
        warm = group_stories(corpus.articles, window, vocabulary, corpus.digests, first)
        cold = group_stories(corpus.articles, window, vocabulary, corpus.digests)
        assert warm.pairs is not None and warm.pairs.stamp != first.stamp
        assert warm.pairs == cold.pairs and warm.groups == cold.groups
    cache.close()


def test_a_title_of_the_sites_own_words_still_marks_its_copies_near_a_change() -> None:
    """Two copies paired by a title made only of the site's own words share no word
    the content rule counts; when one is retitled, the other is compared again
    because they shared a title bucket, so the pair goes, as a cold grouping says."""
    from dataclasses import replace

    from feeds.selection.similarity import vocabulary
    from feeds.selection.titles import story_title

    from .test_stories import copy

    site = vocabulary("Power Apps", ["Portals", "Model-driven apps", "Canvas apps"])
    title = "Power Apps Portals Model Driven Canvas"
    first, second = copy(1, title), copy(2, title, days=1, provider="Other")
    digests = {first.path: b"1", second.path: b"2"}
    before = group_stories([first, second], 7, site, digests)
    assert [len(s.copies) for s in before.groups] == [2]
    retitled = replace(second, title="A different story told on another day", story_title="")
    previous = {second.path: (b"2", story_title(second), second.signature.text)}
    now = {first.path: b"1", second.path: b"2 retitled"}
    records = [first, retitled]
    warm = group_stories(records, 7, site, now, before.pairs, previous=previous)
    assert warm.groups == group_stories(records, 7, site, now).groups == ()


@pytest.mark.parametrize("size", [1, 7, 100])
@pytest.mark.parametrize("overlap", [0.25, 10.0**9])
def test_slices_of_signatures_find_what_one_pass_finds(
    size: int, overlap: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The content rule reads signatures a slice at a time (and a window past it):
    any slice size, grown with the window or not, finds the very pairs one pass
    over every record finds."""
    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    corpus = load_corpus(ROOT / "content" / "news")
    monkeypatch.setattr(feeds.selection.pairs, "SLICE", 10**9)
    whole = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert whole.pairs is not None and len(whole.pairs.pairs) > 100
    monkeypatch.setattr(feeds.selection.pairs, "SLICE", size)
    monkeypatch.setattr(feeds.selection.chunks, "OVERLAP", overlap)
    sliced = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert sliced.pairs == whole.pairs
    assert sliced.groups == whole.groups


@pytest.mark.parametrize("size", [1, 7, 100])
@pytest.mark.parametrize("days", [7, 400])
@pytest.mark.parametrize("overlap", [0.25, 10.0**9])
def test_title_chunks_find_what_one_pass_finds(
    size: int, days: int, overlap: float, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The title rules file a chunk of records (and the window after it) in their
    buckets at a time: any chunk size, and a window wider than a chunk (which grows
    the chunk, unless told not to), finds the very pairs one pass over every record
    finds."""
    monkeypatch.setattr(feeds.selection.chunks, "OVERLAP", overlap)
    corpus = load_corpus(ROOT / "content" / "news")
    ranked = sorted(corpus.records, key=lambda a: (a.published_at, a.key, a.path))
    keys = [feeds.selection.titles.story_title(a) for a in ranked]
    stamps = [a.published_at.timestamp() for a in ranked]
    window = days * 86_400.0
    rnd = random.Random(size)
    for affected in ([True] * len(keys), [rnd.random() < 0.3 for _ in keys]):
        monkeypatch.setattr(feeds.selection.titles, "CHUNK", 10**9)
        whole = feeds.selection.titles.title_pairs(keys, stamps, window, affected)
        assert len(whole) > (20 if all(affected) else 0)
        monkeypatch.setattr(feeds.selection.titles, "CHUNK", size)
        chunked = feeds.selection.titles.title_pairs(keys, stamps, window, affected)
        assert sorted(chunked) == sorted(whole)  # each as often: none twice from two chunks


def _number_title(path: Path, number: str) -> None:
    text = path.read_text()
    path.write_text(_TITLE.sub(lambda m: f'title: "{m.group(1)} in {number}"', text, count=1))


def test_titles_naming_numbers_pair_as_the_exhaustive_rule_says(tmp_path: Path) -> None:
    """Two records that both name numbers must name the same ones: the content rule
    looks for such candidates among records naming the same numbers (posted only
    when more than one record names them) or none. Copies naming a shared number,
    one naming its own number beside one naming none, and two naming different
    numbers: every pair that ``same_event``, tried on each pair, joins ends in one
    story, and the pairs that name different numbers in none."""
    from feeds.selection.similarity import same_event
    from feeds.selection.stories import same_publisher

    news = tmp_path / "news"
    shutil.copytree(ROOT / "content" / "news", news)
    rng = random.Random(22)
    chosen = rng.sample(sorted(news.glob("*.md")), 36)
    for number, source in enumerate(chosen):
        copy = news / f"zz-{number}-{source.name}"
        _syndicate(source, copy, number)
        kind = number % 3
        if kind == 0:  # both name one number, which no other record names
            _number_title(source, f"{7000 + number}")
            _number_title(copy, f"{7000 + number}")
        elif kind == 1:  # the original names its own number, the copy none
            _number_title(source, f"{8000 + number}")
        else:  # different numbers: never one event
            _number_title(source, f"{9000 + number}")
            _number_title(copy, f"{9500 + number}")
    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    corpus = load_corpus(news)
    index = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    articles = sorted(corpus.articles, key=lambda a: a.published_at)
    joined = {kind: 0 for kind in ("same numbers", "one names none", "different numbers")}
    for i, a in enumerate(articles):
        for b in articles[i + 1 :]:
            if b.published_at - a.published_at > timedelta(days=7):
                break
            one = same_publisher(a.provider, b.provider)
            if not same_event(a.signature, b.signature, site, same_publisher=one):
                continue
            assert index.story_of.get(a.path) == index.story_of.get(b.path) is not None
            numbers = a.signature.numbers, b.signature.numbers
            if all(numbers):
                joined["same numbers" if numbers[0] == numbers[1] else "different numbers"] += 1
            elif any(numbers):
                joined["one names none"] += 1
    assert joined["same numbers"] >= 3 and joined["one names none"] >= 3
    assert joined["different numbers"] == 0


def test_slices_compared_in_worker_processes_find_what_the_build_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold build reading signatures from the parse cache has worker processes
    compare its slices (they read the signatures from the cache file themselves);
    a slice whose signatures a worker cannot read there (gone from the cache) is
    compared by the build. Either way the pairs are those of one pass here."""
    import sqlite3

    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    cache = ParseCache(tmp_path / "cache.sqlite3")
    load_corpus(ROOT / "content" / "news", cache=cache)
    corpus = load_corpus(ROOT / "content" / "news", cache=cache)  # Briefs, from the cache
    monkeypatch.setattr(feeds.selection.pairs, "SLICE", 10**9)
    whole = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert whole.pairs is not None and len(whole.pairs.pairs) > 100

    started: list[object] = []
    start = feeds.selection.content.Shipped.start

    def watched(*args: object) -> object:
        shipped = start(*args)  # type: ignore[arg-type]
        started.append(shipped)
        return shipped

    monkeypatch.setattr(feeds.selection.content.Shipped, "start", watched)
    monkeypatch.setattr(feeds.selection.pairs, "SLICE", 60)
    shipped = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert started and started[-1] is not None  # the workers compared them
    assert shipped.pairs == whole.pairs and shipped.groups == whole.groups

    count = "SELECT count(*) FROM signatures"
    with sqlite3.connect(tmp_path / "cache.sqlite3") as conn:  # some signatures gone
        (stored,) = conn.execute(count).fetchone()
        gone = "DELETE FROM signatures WHERE hex(substr(sha256, 1, 1)) < '55'"
        assert conn.execute(gone).rowcount > 100
    fallen = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert started[-1] is not None
    assert fallen.pairs == whole.pairs and fallen.groups == whole.groups
    with sqlite3.connect(tmp_path / "cache.sqlite3") as conn:  # the build read them again
        assert conn.execute(count).fetchone() == (stored,)
    cache.close()


def test_records_near_a_change_are_found_by_ranges_as_one_by_one() -> None:
    """The records whose window holds a change, and those within a window either
    side, found a range of dates per change, are those found record by record,
    dates exactly on a window's edge included."""
    rng = random.Random(22)
    window = 7 * 86_400.0
    for _ in range(200):
        base = [rng.choice([0.0, 0.5, 1.0, 3.5]) * 86_400 * rng.randint(0, 60) for _ in range(60)]
        times = sorted([*rng.sample(base, 3), rng.uniform(0, 60 * 86_400)])
        # some records exactly a window before or after a change
        stamps = sorted([*base, times[0] - window, times[-1] + window, times[1] - 2 * window])
        near, band = feeds.selection.pairs._near(stamps, times, window)
        within = feeds.selection.pairs._within
        assert near == [within(times, t, t + window) for t in stamps]
        assert band == [within(times, t - window, t + window) for t in stamps]


def test_the_cache_gives_only_what_changed_while_nobody_else_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a build stored its pairs, the next load's come with only what changed
    (no map of every record) while the rows are the ones the pairs were found
    among: nobody else wrote since, that build's load stored everything, and its
    records were labelled under the same folder. Otherwise every record's version
    is read back, and either way the stories are a cold grouping's."""
    import sqlite3

    import feeds.reading.cache
    from feeds.reading.cache import write_entries
    from feeds.reading.rows import Entry

    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    news = tmp_path / "news"
    shutil.copytree(ROOT / "content" / "news", news)
    files = sorted(news.glob("*.md"))
    cache = ParseCache(tmp_path / "cache.sqlite3")

    def build(base: Path | None = None) -> str:
        corpus = load_corpus(news, cache=cache, base=base)
        known = cache.story_pairs(corpus.digests, corpus.changes)
        found = group_stories(
            corpus.records, 7, site, corpus.digests, known, corpus, corpus.previous
        )
        cold = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
        assert found.story_of == cold.story_of and found.groups == cold.groups
        assert found.pairs is not None and cold.pairs is not None
        assert found.pairs.pairs == cold.pairs.pairs
        cache.save_story_pairs(found.pairs, known)
        return "none" if known is None else "changes" if known.records is None else "every"

    assert build() == "none"
    _retitle(files[0], "Update:")
    assert build() == "changes"
    assert build() == "changes"  # nothing changed at all
    # another process wrote a row (another load's parse worker, say)
    rejected = Entry(1, 1, b"\0" * 32, None, reason="not a record")
    assert write_entries(cache.path, [(str(tmp_path / "elsewhere.md"), rejected)])
    _redate(files[1], 2)
    assert build() == "every"
    assert build() == "changes"
    # a load that wrote rows but stored no pairs (another command's)
    _retitle(files[2], "Watch")
    load_corpus(news, cache=cache)
    _retitle(files[3], "Breaking")
    assert build() == "every"
    # the records labelled under another folder, then under this one again
    assert build(base=news) == "every"
    assert build() == "every"
    assert build() == "changes"

    # a load whose rows could not be stored
    def broken(*args: object) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patched:
        patched.setattr(feeds.reading.cache, "_write", broken)
        files[4].unlink()
        assert build() == "changes"
    _retitle(files[5], "Watch")
    assert build() == "every"
    assert build() == "changes"
    cache.close()


def test_changes_that_do_not_lead_to_these_records_are_not_taken() -> None:
    """Pairs given with only what changed are taken only when those changes lead to
    the records at hand: a record said gone that is still here, or a new version
    that is not the one here, makes every record's version count again (the state
    kept then holds every record, as a cold build's)."""
    from feeds.model import StoryChanges

    config = load_config(ROOT / "config.yaml")
    site = site_vocabulary(config, load_topics(config))
    corpus = load_corpus(ROOT / "content" / "news")
    cold = group_stories(corpus.records, 7, site, corpus.digests, source=corpus)
    assert cold.pairs is not None and cold.pairs.records is not None
    record = corpus.records[0]
    version = cold.pairs.records[record.path]

    def kept(changes: StoryChanges) -> StoryPairs | None:
        assert cold.pairs is not None
        known = StoryPairs(cold.pairs.stamp, None, cold.pairs.pairs, changes)
        found = group_stories(corpus.records, 7, site, corpus.digests, known, corpus)
        assert found.story_of == cold.story_of and found.groups == cold.groups
        return found.pairs

    nothing = kept(StoryChanges({}, {}))
    assert nothing is not None and nothing.records is None  # taken: nothing changed
    edited = kept(StoryChanges({record.path: (b"old", version[1])}, {record.path: version}))
    assert edited is not None and edited.records is None  # taken: leads to this version
    gone = kept(StoryChanges({record.path: version}, {}))
    assert gone is not None and gone.records is not None  # said gone, but here
    other = kept(StoryChanges({}, {record.path: (b"other", version[1])}))
    assert other is not None and other.records is not None  # not the version here
