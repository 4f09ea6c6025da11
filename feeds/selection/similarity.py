"""What a record says, reduced to a signature, and whether two records tell one event.

Two outlets report one announcement under different titles ("Intel is using AI to
… coral reef health" / "Using Artificial Intelligence to Save Coral Reefs"). The
story rules (``stories``) match copies by URL and by (nearly) identical titles;
this module adds the content rule. It is built for precision: a false merge
hides a story from readers, a missed one only shows it twice.

Each record's ``Signature`` (``feeds.reading.signature``) is computed when it is
parsed; this module only compares two of them.

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
when one record changes. Pure functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from feeds.model import Signature
from feeds.reading.signature import words

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
        present = set(words_)
        for name in self.topics:
            if not present.issuperset(name):
                continue  # a word of the name is missing: no need to look for the run
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
    if same_publisher or not (can_match(a, site) and can_match(b, site)):
        return False  # one publisher, one we cannot tell apart, or a title saying too little
    return matches(a, b, site, site.named(a), site.named(b))


def can_match(one: Signature, site: Vocabulary = NO_VOCABULARY) -> bool:
    """What ``same_event`` asks of each record alone: a known publisher, and a title
    that says enough (worked out once per record when many pairs are compared)."""
    return bool(one.publisher) and _enough(one, site.common)


def matches(
    a: Signature,
    b: Signature,
    site: Vocabulary,
    named_a: Sequence[tuple[str, ...]],
    named_b: Sequence[tuple[str, ...]],
) -> bool:
    """The pairwise part of ``same_event``, for two records that ``can_match`` and
    are not one publisher's; ``named_*`` are ``site.named`` of each."""
    common = site.common
    if a.numbers and b.numbers and a.numbers != b.numbers:
        return False
    if any(not set(name) <= b.text for name in named_a):
        return False
    if any(not set(name) <= a.text for name in named_b):
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
