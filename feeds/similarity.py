"""What a record says, reduced to a signature, and whether two records tell one event.

Two outlets report one announcement under different titles ("Intel is using AI to
… coral reef health" / "Using Artificial Intelligence to Save Coral Reefs"). The
story rules (``stories``) match copies by URL and by (nearly) identical titles;
this module adds the content rule. It is built for precision: a false merge
hides a story from readers, a missed one only shows it twice.

A record's ``Signature`` holds the content words of its title and of its text
(the title and the first ``LEDE_WORDS`` words of the excerpt): case-folded,
stemmed (Snowball, via PyStemmer, in the site's language), without function
words and generic news words ("announces", "new", "today"); numbers normalised
("38M", "38 million" and "38 mn" are all 38000000); the words capitalised in the
excerpt's running text (names); and the initials of runs of capitalised words
("Artificial Intelligence" → "ai", "American Civil Liberties Union" → "aclu").

``same_event(a, b, vocabulary)`` says yes only when all of these hold:

- the records come from **different publishers**, both known (one publisher's
  differently titled posts in one week are different posts: release notes,
  follow-ups);
- each title has at least ``MIN_TITLE_WORDS`` content words, two of them outside
  the site's vocabulary (a generic title says too little);
- the titles name the same numbers, when both name any ("wave 1" is not "wave 2");
- no topic that one title names (``Vocabulary.topics``: the site's topics'
  names, word for word, but for those the site's title says) goes unmentioned in
  the other record ("Power Apps" is not "Power Apps Portals");
- each title is **covered** by the other record: at least ``COVERAGE`` of its
  words' weight (names and numbers count 1.5, other words 1) appears in the
  other record's text, a word also counting when the other record spells it as
  initials or the initials of a run of words, or when it names the other
  record's publisher (a company's own post need not name the company);
- they share **evidence**: at least ``TITLE_EVIDENCE`` title words, and words
  of weight ``EVIDENCE`` in all, outside the site's vocabulary
  (``Vocabulary.common``: its title's and its topics' words).

The rule depends on the two records (and the site's vocabulary) only, never on
the rest of the corpus, so it can be cached per record and re-checked locally
when one record changes. Pure functions; the stemmer is made once per language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# words of the excerpt that go into the signature (the lede: a long excerpt
# wanders into other subjects)
LEDE_WORDS = 60
# each title needs this many content words for the content rule to apply
MIN_TITLE_WORDS = 3
# share of a title's weight the other record must cover
COVERAGE = 0.7
# weight of shared words outside the site's vocabulary
EVIDENCE = 3.0
# words outside the site's vocabulary both titles say
TITLE_EVIDENCE = 2
# weights
NAME_WEIGHT = 1.5
WORD_WEIGHT = 1.0

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


@dataclass(frozen=True, slots=True)
class Signature:
    """What one record says, for the content rule (stemmed, case-folded tokens)."""

    # content words of the title
    title: frozenset[str]
    # content words of the title and of the excerpt's lede
    text: frozenset[str]
    # the words of ``text`` that are names (capitalised in running text, acronyms)
    names: frozenset[str]
    # numbers the title names, normalised
    numbers: frozenset[str]
    # initials of runs of capitalised words, each with the words it stands for
    initials: tuple[tuple[str, frozenset[str]], ...]
    # the publisher's name and domain as words (a publisher's own post need not
    # name it: "Microsoft" in another title is covered by Microsoft's blog)
    publisher: frozenset[str] = frozenset()
    # the title's content words in order (to find the topics' names in it)
    sequence: tuple[str, ...] = ()

    def encode(self) -> str:
        """The signature as one line of text (for caches)."""
        runs = ";".join(f"{k}={','.join(sorted(v))}" for k, v in self.initials)
        parts = (self.title, self.text, self.names, self.numbers, self.publisher)
        sets = "|".join(" ".join(sorted(p)) for p in parts)
        return f"{sets}|{' '.join(self.sequence)}|{runs}"

    @classmethod
    def decode(cls, text: str) -> Signature:
        title, body, names, numbers, publisher, sequence, runs = text.split("|")
        initials = tuple(
            (key, frozenset(words.split(",")))
            for key, _, words in (run.partition("=") for run in runs.split(";") if run)
        )
        return cls(
            frozenset(title.split()),
            frozenset(body.split()),
            frozenset(names.split()),
            frozenset(numbers.split()),
            initials,
            frozenset(publisher.split()),
            tuple(sequence.split()),
        )


EMPTY = Signature(frozenset(), frozenset(), frozenset(), frozenset(), ())


@lru_cache(maxsize=8)
def _stemmer(language: str) -> Any:
    import Stemmer

    name = _LANGUAGES.get(language.lower().split("-")[0].split("_")[0])
    return Stemmer.Stemmer(name) if name else None


def words(text: str, language: str = "en") -> list[str]:
    """The content words of ``text``, stemmed (no function words, numbers normalised)."""
    return [word for word, _ in _tokens(text, language)]


def _tokens(text: str, language: str, limit: int | None = None) -> list[tuple[str, str]]:
    """(stemmed content word, the word as written) pairs, numbers normalised."""
    stemmer = _stemmer(language)
    english = stemmer is not None and language.lower().startswith("en")
    raw = [m.group() for m in _WORD.finditer(unicodedata.normalize("NFKC", text))]
    found: list[tuple[str, str]] = []
    skip = False
    for index, word in enumerate(raw):
        if skip:
            skip = False
            continue
        lower = word.casefold().replace("’", "'")
        number = _number(lower, raw[index + 1].casefold() if index + 1 < len(raw) else "")
        if number is not None:
            value, used_next = number
            found.append((value, word))
            skip = used_next
        elif english and lower in _STOP:
            continue
        elif not english and len(lower) <= 3 and not word.isupper():
            continue  # no stop list for this language: short words say little
        else:
            base = lower.removesuffix("'s").strip("'.&-")
            # a compound is its words ("privacy-preserving"), unless a part is a number
            # ("GPT-3", "COVID-19"), which makes it a name of its own
            parts = [base] if any(c.isdigit() for c in base) else base.split("-")
            for part in parts:
                part = part.strip("'.&")
                if part and not (english and part in _STOP):
                    found.append((stemmer.stemWord(part) if stemmer else part, word))
        if limit is not None and len(found) >= limit:
            break
    return found


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
    for match in _WORD.finditer(text):
        word = match.group()
        if word[:1].isupper() and not word.isupper():
            current.append(word)
            continue
        if current and word.casefold() in ("of", "and", "for", "the", "de", "&"):
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
    runs.setdefault(key, frozenset(words(" ".join(named), language)))


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


def _is_name(raw: str, first: bool) -> bool:
    """A name: an acronym or mixed-case word anywhere, a capitalised word inside a sentence."""
    if raw[:1].isdigit():
        return True
    if len(raw) > 1 and (raw.isupper() or any(c.isupper() for c in raw[1:])):
        return True
    return not first and raw[:1].isupper()


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """A site's own words, which say nothing about which event a record tells."""

    # every word of the site's title and its topics' names: no evidence of anything
    common: frozenset[str] = frozenset()
    # the topics' names as word sequences, those the site's title does not say: a
    # title naming one that the other record never mentions is about another thing
    # ("Power Apps Portals" is not "Power Apps" on a Power Apps site)
    topics: tuple[tuple[str, ...], ...] = ()

    def named(self, one: Signature) -> list[tuple[str, ...]]:
        """The topics whose names ``one``'s title says, word for word."""
        found = []
        words_ = one.sequence
        for name in self.topics:
            size = len(name)
            if any(words_[i : i + size] == name for i in range(len(words_) - size + 1)):
                found.append(name)
        return found


NO_VOCABULARY = Vocabulary()


def vocabulary(site: str, topics: Iterable[str], language: str = "en") -> Vocabulary:
    """The ``Vocabulary`` of a site titled ``site`` with these topic names."""
    own = frozenset(words(site, language))
    common: set[str] = set(own)
    names: set[tuple[str, ...]] = set()
    for text in topics:
        name = tuple(words(text, language))
        common.update(name)
        if name and not set(name) <= own:
            names.add(name)
    return Vocabulary(frozenset(common), tuple(sorted(names)))


def same_event(
    a: Signature,
    b: Signature,
    site: Vocabulary = NO_VOCABULARY,
    *,
    same_publisher: bool = False,
) -> bool:
    """Whether two records of different publishers tell one event (module docstring)."""
    common = site.common
    if same_publisher or not (a.publisher and b.publisher):
        return False  # one publisher, or one we cannot tell apart from the other
    if not (_enough(a, common) and _enough(b, common)):
        return False
    if a.numbers and b.numbers and a.numbers != b.numbers:
        return False
    for one, other in ((a, b), (b, a)):
        if any(not set(name) <= other.text for name in site.named(one)):
            return False
    if len((a.title & b.title) - common) < TITLE_EVIDENCE:
        return False
    if _coverage(a, b) < COVERAGE or _coverage(b, a) < COVERAGE:
        return False
    shared = (a.text & b.text) - common
    return sum(_weight(w, a, b) for w in shared) >= EVIDENCE


def _enough(one: Signature, common: frozenset[str]) -> bool:
    """A title says enough: ``MIN_TITLE_WORDS`` content words, two outside the vocabulary."""
    return len(one.title) >= MIN_TITLE_WORDS and len(one.title - common) >= 2


def _weight(word: str, a: Signature, b: Signature) -> float:
    return NAME_WEIGHT if word in a.names or word in b.names else WORD_WEIGHT


def _coverage(one: Signature, other: Signature) -> float:
    """Share of ``one``'s title weight that ``other`` says too (its text, its initials,
    or its publisher's name)."""
    spelled = {key for key, _ in other.initials}
    expanded: set[str] = set()
    for key, run in one.initials:
        if key in other.text:
            expanded |= run  # "Artificial Intelligence" here, "AI" there
    total = covered = 0.0
    for word in one.title:
        weight = _weight(word, one, other)
        total += weight
        if word in other.text or word in spelled or word in expanded or word in other.publisher:
            covered += weight
    return covered / total if total else 0.0
