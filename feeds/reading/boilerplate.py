"""One publisher's boilerplate, learned from the records being built.

A site glues the same sentence to every excerpt it serves: a tagline, a
share/contact widget, a series introduction, a paywall line. No list of phrases
can know every site's, but the corpus shows them: text that recurs in one
provider's excerpts **of different stories** is that provider's furniture, not
the articles' own text.

``learn`` reads every record's ``lessons`` (worked out once, when it is parsed;
a load teaches them to a ``Learner`` record by record, so they are not kept) and
keeps, per provider (by domain, else name), the opening and the closing
pieces of its excerpts (pieces end at a
sentence end or a " | " / " – " separator) that recur in at least ``MIN_STORIES``
records whose remaining text differs, so copies of one story (syndication, a
record crawled twice) never teach anything. ``scrub`` removes such pieces from
either end of an excerpt, again and again while the next piece is known
boilerplate too, and drops an excerpt that was only that. It removes text, never
adds or changes any, and applying it twice changes nothing more. Pure functions.
"""

from __future__ import annotations

import hashlib
import re
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from feeds.model import Article, Provider
from feeds.reading.excerpts import says_nothing

# a piece is boilerplate when it opens (or closes) this many records of one
# provider whose other text differs
MIN_STORIES = 3
# pieces shorter than this many words are too short to tell (a lone "With")
MIN_WORDS = 2
# pieces longer than this are an article's own text, whatever repeats
MAX_CHARS = 400

# which end of an excerpt a run of pieces is at
OPENING = 0
CLOSING = 1

_PIECES = re.compile(r"(?<=[.!?…])\s+|\s+(?=[|–—]\s)|(?<=\s[|–—])\s+")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Boilerplate:
    """What each provider glues to its excerpts."""

    # provider key -> digests of the words of the runs that open its excerpts
    openings: Mapping[str, frozenset[int]] = field(default_factory=dict)
    # provider key -> the same of the runs that close them
    closings: Mapping[str, frozenset[int]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.openings or self.closings)


def provider_key(provider: Provider | None) -> str:
    """Which publisher a record comes from: its domain, else its name ("" unknown)."""
    if provider is None:
        return ""
    if provider.domain:
        return provider.domain.casefold().removeprefix("www.")
    return " ".join(provider.name.casefold().split())


def spans(excerpt: str) -> list[tuple[int, int]]:
    """Where an excerpt's pieces are: its sentences, and the parts between " | "
    separators (which stay with the piece after them)."""
    found: list[tuple[int, int]] = []
    start = 0
    for gap in _PIECES.finditer(excerpt):
        if excerpt[start : gap.start()].strip():
            found.append((start, gap.start()))
        start = gap.end()
    if excerpt[start:].strip():
        found.append((start, len(excerpt)))
    return found


def pieces(excerpt: str) -> list[str]:
    """An excerpt's pieces (``spans``), as text."""
    return [excerpt[a:b] for a, b in spans(excerpt)]


def _norm(piece: str) -> str:
    return " ".join(_WORD.findall(piece.casefold()))


def _fingerprint(parts: Sequence[str]) -> str:
    """The rest of an excerpt, as words: copies of one story share it."""
    return " ".join(_WORD.findall(" ".join(parts).casefold())[:12])


def lessons(excerpt: str, provider: Provider | None) -> bytes:
    """What one record can teach ``learn``, worked out once when it is parsed.

    For each opening and closing run of one to three pieces that could be
    boilerplate (at least ``MIN_WORDS`` words, at most ``MAX_CHARS``): which end,
    the run itself with its provider, the run's words, and the rest's words (copies
    of one story share them), each as a 64-bit digest, packed.
    """
    key = provider_key(provider)
    parts = pieces(excerpt) if excerpt else []
    if not key or len(parts) < 2:
        return b""
    values = array("Q")
    for size in (1, 2, 3):
        if size >= len(parts):
            break
        for side, piece, rest in (
            (OPENING, " ".join(parts[:size]), parts[size:]),
            (CLOSING, " ".join(parts[-size:]), parts[:-size]),
        ):
            words = _norm(piece)
            if words.count(" ") + 1 < MIN_WORDS or len(piece) > MAX_CHARS:
                continue  # never boilerplate, however often it recurs
            run = _digest(f"{key}\0{side}\0{piece}")
            values.extend((side, run, _digest(words), _digest(_fingerprint(rest))))
    return values.tobytes()


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


class Learner:
    """Learns the boilerplate (``learn``) a record at a time, from each record's
    ``lessons`` as it is loaded: nothing of them is held but the runs' counts."""

    def __init__(self) -> None:
        self.rests: dict[int, set[int]] = {}
        self.what: dict[int, tuple[str, int, int]] = {}  # run -> (provider, end, its words)

    def add(self, provider: Provider | None, taught: bytes | None) -> None:
        """What one record of ``provider`` teaches (its ``lessons``)."""
        if not taught:
            return
        values = array("Q")
        values.frombytes(taught)
        rests, what = self.rests, self.what
        key = None
        for at in range(0, len(values), 4):
            run = values[at + 1]
            seen = rests.get(run)
            if seen is not None:  # the run's provider, end and words are in its digest
                seen.add(values[at + 3])
                continue
            if key is None:
                key = provider_key(provider)
            rests[run] = {values[at + 3]}
            what[run] = (key, values[at], values[at + 2])

    def boilerplate(self) -> Boilerplate:
        """The runs that recurred with ``MIN_STORIES`` different rests."""
        found: tuple[dict[str, set[int]], dict[str, set[int]]] = ({}, {})
        for run, seen in self.rests.items():
            if len(seen) >= MIN_STORIES:
                key, side, words = self.what[run]
                found[side].setdefault(key, set()).add(words)
        openings, closings = ({k: frozenset(v) for k, v in f.items()} for f in found)
        return Boilerplate(openings, closings)


def learn(articles: Iterable[Article]) -> Boilerplate:
    """The boilerplate every provider in ``articles`` repeats (module docstring):
    the runs that recur with ``MIN_STORIES`` different rests."""
    learner = Learner()
    for article in articles:
        taught = article.lessons
        if taught is None:  # made by hand, not parsed
            taught = lessons(article.excerpt, article.provider)
        learner.add(article.provider, taught)
    return learner.boilerplate()


def scrub(article: Article, boilerplate: Boilerplate) -> Article:
    """``article`` without its provider's boilerplate (its note says what went)."""
    key = provider_key(article.provider)
    openings = boilerplate.openings.get(key, frozenset())
    closings = boilerplate.closings.get(key, frozenset())
    if not article.excerpt or not (openings or closings):
        return article
    excerpt = article.excerpt
    parts = spans(excerpt)
    removed: list[str] = []

    def text(chosen: Sequence[tuple[int, int]]) -> str:
        return excerpt[chosen[0][0] : chosen[-1][1]] if chosen else ""

    changed = True
    while parts and changed:
        changed = False
        for size in (3, 2, 1):
            if size <= len(parts) and _digest(_norm(text(parts[:size]))) in openings:
                removed.append(text(parts[:size]))
                parts = parts[size:]
                changed = True
                break
        for size in (3, 2, 1):
            if size <= len(parts) and _digest(_norm(text(parts[-size:]))) in closings:
                removed.append(text(parts[-size:]))
                parts = parts[:-size]
                changed = True
                break
    if not removed:
        return article
    kept = text(parts).strip(" |–—")
    what = f"{article.provider_name}'s recurring text " + " … ".join(repr(r) for r in removed)
    earlier = article.excerpt_note
    if not kept or says_nothing(kept, article.title):
        note = f"dropped: only {what}"
        return replace(article, excerpt="", excerpt_note=_joined(earlier, note))
    return replace(article, excerpt=kept, excerpt_note=_joined(earlier, f"trimmed: {what}"))


def _joined(earlier: str, note: str) -> str:
    if not earlier:
        return note
    if earlier.startswith("trimmed: ") and note.startswith("trimmed: "):
        return earlier + " … " + note.removeprefix("trimmed: ")
    return note if note.startswith("dropped") else earlier


def scrub_all(articles: Sequence[Article]) -> tuple[Article, ...]:
    """Every article without its provider's boilerplate, learned from ``articles``."""
    boilerplate = learn(articles)
    if not boilerplate:
        return tuple(articles)
    return tuple(scrub(a, boilerplate) for a in articles)
