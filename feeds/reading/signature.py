"""A record's signature: its title as copies are matched, and what it says.

Both are computed once, when a record is parsed, and kept on the ``Article``
(``story_title``, ``signature``); the story rules in ``feeds.selection`` only
compare them.

``title_key`` is the title as copies of a story are matched: case, punctuation
and spacing ignored; a trailing " - Publisher" / " | Publisher" naming the
record's own provider or domain and a leading "Re-transmission:"-style tag
removed.

``signature`` holds the content words of the title and of the text (the title
and the first ``LEDE_WORDS`` words of the excerpt): case-folded, stemmed
(Snowball, via PyStemmer, in the site's language), without function words and
generic news words ("announces", "new", "today"); numbers normalised ("38M",
"38 million" and "38 mn" are all 38000000); the words capitalised in the
excerpt's running text (names); and the initials of runs of capitalised words
("Artificial Intelligence" → "ai", "American Civil Liberties Union" → "aclu").
Pure functions; the stemmer is made once per language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from feeds.model import Provider, Signature

# words of the excerpt that go into the signature (the lede: a long excerpt
# wanders into other subjects)
LEDE_WORDS = 60
# function words and words every news item uses: they say nothing about which event
_STOP = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves via vs
    new news today week now latest just here how why what
    announce announces announced announcing announcement announcements
    introduce introduces introduced introducing launch launches launched launching
    unveil unveils unveiled release releases released says said say report reports
    reported get gets got add adds added make makes made use using used help helps
    see sees big first one two three update updates updated available availability
    """.split()  # noqa: SIM905 (a word list, kept readable)
)  # fmt: skip
# Snowball languages PyStemmer knows, by language tag prefix
_LANGUAGES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "da": "danish",
    "nl": "dutch", "en": "english", "fi": "finnish", "fr": "french", "de": "german",
    "el": "greek", "hi": "hindi", "hu": "hungarian", "id": "indonesian", "ga": "irish",
    "it": "italian", "lt": "lithuanian", "ne": "nepali", "no": "norwegian", "nb": "norwegian",
    "nn": "norwegian", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish", "yi": "yiddish",
}  # fmt: skip
_WORD = re.compile(r"[^\W_](?:[\w'’.&-]*[^\W_])?")
_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)?)(k|m|mn|bn|b)?$")
_MAGNITUDES = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "millions": 1e6,
    "b": 1e9, "bn": 1e9, "billion": 1e9, "billions": 1e9,
}  # fmt: skip
# Leading tags that mark a repost of a story published elsewhere.
_TAGS = (
    r"re-?transmission|repost(?:ed)?|republished|press release|pr|update[d]?|"
    r"breaking(?: news)?|exclusive|fwd?|re"
)
_TAG = re.compile(
    rf"^\s*(?:\[(?:{_TAGS})\]|\((?:{_TAGS})\)|(?:{_TAGS})\s*[:\-–—|])\s*", re.IGNORECASE
)
# " - Publisher", " | Publisher", " — Publisher" at the end
_TRAILER = re.compile(r"\s+[-–—|]\s+([^-–—|]{1,60})$")
_TAG_HINT = re.compile(r"[:\-–—|\[(]")
_NON_WORD = re.compile(r"[\W_]+")


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    import Stemmer

    name = _LANGUAGES.get(language.lower().split("-")[0].split("_")[0])
    return Stemmer.Stemmer(name) if name else None


def words(text: str, language: str = "en") -> list[str]:
    """The content words of ``text``, stemmed (no function words, numbers normalised)."""
    return [word for word, _ in _tokens(text, language)]


def _tokens(text: str, language: str, limit: int | None = None) -> list[tuple[str, str]]:
    """(stemmed content word, the word as written) pairs, numbers normalised; with
    ``limit``, only the first that many (the rest of the text is never looked at)."""
    memo = _parts_memo(language)
    written = _WORD.findall(unicodedata.normalize("NFKC", text))
    found: list[tuple[str, str]] = []
    skip = False
    for position, word in enumerate(written):
        if skip:
            skip = False
            continue
        parts = memo.get(word, _UNSEEN)
        if parts is _UNSEEN:
            if len(memo) > 200_000:
                memo.clear()
            parts = memo[word] = None if word.casefold()[0].isdigit() else _parts(word, language)
        if parts is None:  # it starts with a digit: a number, perhaps with the next word
            following = written[position + 1] if position + 1 < len(written) else ""
            number = _number(word.casefold().replace("’", "'"), following.casefold())
            if number is not None:
                found.append((number[0], word))
                skip = number[1]
                if limit is not None and len(found) >= limit:
                    break
                continue
            parts = _parts(word, language)
        for part in parts:
            found.append((part, word))
        if limit is not None and len(found) >= limit:
            break
    return found


# what ``_parts_memo`` gives for a word not seen yet (told apart by identity)
_UNSEEN: tuple[str, ...] = ("\0",)


@lru_cache(maxsize=8)
def _parts_memo(language: str) -> dict[str, tuple[str, ...] | None]:
    """``_parts`` of each word seen in ``language`` (words repeat a lot); None for a
    word that starts with a digit (a number: what it says depends on the next word)."""
    return {}


def _parts(word: str, language: str) -> tuple[str, ...]:
    """The stemmed content words of one written word that is not a number: none for
    a function word, a compound's parts ("privacy-preserving"), unless a part is a
    number ("GPT-3", "COVID-19"), which makes it a name of its own."""
    stemmer = _stemmer(language)
    stem = _stem_cache(language) if stemmer is not None else None
    english = stemmer is not None and language.lower().startswith("en")
    lower = word.casefold().replace("’", "'")
    if english and lower in _STOP:
        return ()
    if not english and len(lower) <= 3 and not word.isupper():
        return ()  # no stop list for this language: short words say little
    base = lower.removesuffix("'s").strip("'.&-")
    digits = not base.isalpha() and any(c.isdigit() for c in base)
    found = []
    for part in [base] if digits else base.split("-"):
        part = part.strip("'.&")
        if part and not (english and part in _STOP):
            found.append(stem(part) if stem else part)
    return tuple(found)


@lru_cache(maxsize=8)
def _stem_cache(language: str) -> Callable[[str], str]:
    """The stemmer of ``language``, remembering its answers (words repeat a lot)."""
    stemmer = _stemmer(language)
    memo: dict[str, str] = {}

    def stem(word: str) -> str:
        found = memo.get(word)
        if found is None:
            if len(memo) > 200_000:
                memo.clear()
            found = memo[word] = stemmer.stemWord(word)
        return found

    return stem


def _number(word: str, following: str) -> tuple[str, bool] | None:
    """A normalised number and whether it took the next word ("38 million")."""
    match = _NUMBER.match(word)
    if match is None:
        return None
    digits, suffix = match.groups()
    value = float(digits.replace(",", "")) if "," in digits and len(digits) > 4 else None
    if value is None:
        value = float(digits.replace(",", "."))
    used_next = False
    if suffix:
        value *= _MAGNITUDES[suffix]
    elif following in _MAGNITUDES:
        value *= _MAGNITUDES[following]
        used_next = True
    return (f"{value:.0f}" if value.is_integer() else f"{value:g}"), used_next


def _initials(text: str, language: str) -> dict[str, frozenset[str]]:
    """Initials of runs of 2-5 capitalised words (small linking words allowed inside)."""
    runs: dict[str, frozenset[str]] = {}
    current: list[str] = []
    for word in _WORD.findall(text):
        if word[:1].isupper() and not word.isupper():
            current.append(word)
            continue
        if not current:
            continue
        if word.casefold() in ("of", "and", "for", "the", "de", "&"):
            current.append("")  # a linking word inside a name: no initial
            continue
        _add_runs(current, runs, language)
        current = []
    _add_runs(current, runs, language)
    return runs


def _add_runs(run: list[str], runs: dict[str, frozenset[str]], language: str) -> None:
    while run and not run[-1]:
        run.pop()
    named = [w for w in run if w]
    if not 2 <= len(named) <= 5:
        return
    key = "".join(w[0] for w in named).casefold()
    if key not in runs:
        runs[key] = _name_words(named, language)


def _name_words(named: list[str], language: str) -> frozenset[str]:
    """``words`` of the capitalised words ``named``, joined: in ASCII (which
    NFKC leaves alone) each is one word that is not a number, so their parts are
    looked up word by word."""
    if not all(word.isascii() for word in named):
        return frozenset(words(" ".join(named), language))
    memo = _parts_memo(language)
    found: set[str] = set()
    for word in named:
        parts = memo.get(word, _UNSEEN)
        if parts is _UNSEEN or parts is None:
            parts = _parts(word, language)
        found.update(parts)
    return frozenset(found)


def signature(title: str, excerpt: str, language: str = "en", publisher: str = "") -> Signature:
    """The signature of a record with this title and excerpt (plain text), published by
    ``publisher`` (its name and domain, as text)."""
    title_tokens = _tokens(title, language)
    lede = _tokens(excerpt, language, LEDE_WORDS)
    numbers = frozenset(w for w, _ in title_tokens if w[0].isdigit())
    names = {w for w, raw in title_tokens if _is_name(raw, True)}
    for position, (word, raw) in enumerate(lede):
        if _is_name(raw, position == 0):
            names.add(word)
    initials = {**_initials(excerpt, language), **_initials(title, language)}
    return Signature(
        title=frozenset(w for w, _ in title_tokens),
        text=frozenset(w for w, _ in (*title_tokens, *lede)),
        names=frozenset(names),
        numbers=numbers,
        initials=tuple(sorted(initials.items())),
        publisher=frozenset(words(publisher.replace(".", " "), language)),
        sequence=tuple(w for w, _ in title_tokens),
    )


@lru_cache(maxsize=65_536)
def _is_name(raw: str, first: bool) -> bool:
    """A name: an acronym or mixed-case word anywhere, a capitalised word inside a sentence."""
    if raw[:1].isdigit():
        return True
    rest = raw[1:]
    if rest and (raw.isupper() or (not rest.islower() and any(c.isupper() for c in rest))):
        return True
    return not first and raw[:1].isupper()


def fold(text: str) -> str:
    """Case-folded words joined by single spaces (accents kept, punctuation dropped)."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return " ".join(_NON_WORD.sub(" ", text.casefold()).split())


def _publisher_names(provider: Provider | None, url_key: str) -> set[str]:
    names: set[str] = set()
    if provider is not None:
        names.add(fold(provider.name))
        if provider.domain:
            domain = provider.domain.casefold().removeprefix("www.")
            names.add(fold(domain))
            names.add(fold(domain.rsplit(".", 1)[0]))
    host = url_key.split("/", 1)[0].split(":")[0]
    names.add(fold(host))
    names.add(fold(host.rsplit(".", 1)[0]))
    names.discard("")
    return names


def title_key(title: str, provider: Provider | None, url_key: str) -> str:
    """A record's title as stories are matched (see the module docstring).

    Computed once, when the record is parsed (``Article.story_title``).
    """
    tags = 2 if _TAG_HINT.search(title, 0, 40) else 0  # a tag needs one of these
    for _ in range(tags):  # "Re-transmission: [Press release] ..." has two
        stripped = _TAG.sub("", title, count=1)
        if stripped == title or not stripped.strip():
            break
        title = stripped
    trailer = _TRAILER.search(title)
    if trailer and fold(trailer.group(1)) in _publisher_names(provider, url_key):
        title = title[: trailer.start()]
    return fold(title)
