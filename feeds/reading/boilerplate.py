"""One publisher's boilerplate, learned from the records being built.

A site glues the same sentence to every excerpt it serves: a tagline, a
share/contact widget, a series introduction, a paywall line. No list of phrases
can know every site's, but the corpus shows them: text that recurs in one
provider's excerpts **of different stories** is that provider's furniture, not
the articles' own text.

``learn`` reads every record once and keeps, per provider (by domain, else
name), the opening and the closing pieces of its excerpts (pieces end at a
sentence end or a " | " / " – " separator) that recur in at least ``MIN_STORIES``
records whose remaining text differs, so copies of one story (syndication, a
record crawled twice) never teach anything. ``scrub`` removes such pieces from
either end of an excerpt, again and again while the next piece is known
boilerplate too, and drops an excerpt that was only that. It removes text, never
adds or changes any, and applying it twice changes nothing more. Pure functions.
"""

from __future__ import annotations

import re
from collections import defaultdict
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

_PIECES = re.compile(r"(?<=[.!?…])\s+|\s+(?=[|–—]\s)|(?<=\s[|–—])\s+")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Boilerplate:
    """What each provider glues to its excerpts."""

    # provider key -> pieces that open its excerpts
    openings: Mapping[str, frozenset[str]] = field(default_factory=dict)
    # provider key -> pieces that close them
    closings: Mapping[str, frozenset[str]] = field(default_factory=dict)

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


def learn(articles: Iterable[Article]) -> Boilerplate:
    """The boilerplate every provider in ``articles`` repeats (module docstring)."""
    heads: dict[tuple[str, str], set[str]] = defaultdict(set)
    tails: dict[tuple[str, str], set[str]] = defaultdict(set)
    for article in articles:
        key = provider_key(article.provider)
        parts = pieces(article.excerpt) if article.excerpt else []
        if not key or len(parts) < 2:
            continue
        for size in (1, 2, 3):
            if size >= len(parts):
                break
            head = " ".join(parts[:size])
            tail = " ".join(parts[-size:])
            heads[(key, head)].add(_fingerprint(parts[size:]))
            tails[(key, tail)].add(_fingerprint(parts[:-size]))
    return Boilerplate(_known(heads), _known(tails))


def _known(seen: Mapping[tuple[str, str], set[str]]) -> dict[str, frozenset[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for (key, piece), rests in seen.items():
        words = _norm(piece)
        if (
            len(rests) >= MIN_STORIES
            and words.count(" ") + 1 >= MIN_WORDS
            and len(piece) <= MAX_CHARS
        ):
            found[key].add(words)
    return {key: frozenset(values) for key, values in found.items()}


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
            if size <= len(parts) and _norm(text(parts[:size])) in openings:
                removed.append(text(parts[:size]))
                parts = parts[size:]
                changed = True
                break
        for size in (3, 2, 1):
            if size <= len(parts) and _norm(text(parts[-size:])) in closings:
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
