"""The core data types: one ``Article`` type and the small values it is made of.

Everything here is a frozen dataclass: values are built once by the parser (in
``records``) and then only read. No I/O and no parsing happens in this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

_T = TypeVar("_T")


def _reduce(self: Any) -> tuple[type, tuple[Any, ...]]:
    # Pickle as "call the class with the field values": several times faster than
    # dataclasses' generic __getstate__/__setstate__ (the parse cache pickles a lot).
    return type(self), type(self)._values(self)


def maker(cls: type[_T]) -> Callable[..., _T]:
    """A function that makes an instance of ``cls``, a frozen dataclass with slots,
    from its field values in order, as ``cls(...)`` does (no defaults, no checks).

    A frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``, which looks the slot up by name each time; this sets
    each slot through its descriptor, written out field by field as dataclasses
    write ``__init__``: 100,000 ``Brief``s in 63 ms against 103 ms, the most
    common object a warm build makes (one per unchanged record)."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    scope: dict[str, Any] = {"new": object.__new__, "cls": cls}
    scope.update({f"set_{n}": cls.__dict__[n].__set__ for n in names})
    body = "".join(f"    set_{n}(made, {n})\n" for n in names)
    exec(f"def make({', '.join(names)}):\n    made = new(cls)\n{body}    return made\n", scope)
    made: Callable[..., _T] = scope["make"]
    return made


@dataclass(frozen=True, slots=True)
class Signature:
    """What one record says, for the content rule (stemmed, case-folded tokens)."""

    __reduce__ = _reduce

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


EMPTY = Signature(frozenset(), frozenset(), frozenset(), frozenset(), ())


@dataclass(frozen=True, slots=True)
class Image:
    """A picture attached to an article, a related story or a provider."""

    __reduce__ = _reduce

    # absolute http(s) URL of the image
    url: str
    # width in pixels, when the record states it
    width: int | None = None
    # height in pixels, when the record states it
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Provider:
    """The publication an article comes from (``provider`` in a record)."""

    __reduce__ = _reduce

    # display name, e.g. "Microsoft"; never empty
    name: str
    # the publication's domain, e.g. "microsoft.com", when given
    domain: str | None = None
    # the provider's logo (first of ``provider.images``), when given
    logo: Image | None = None


@dataclass(frozen=True, slots=True)
class Related:
    """An entry of a record's ``related`` list, or another copy of its story.

    A crawler's "related articles" list mixes copies of the same story with other
    stories (on some sites: the same provider's other articles). ``same_story``
    says which this is, as the story rules decide (the collector sets it): only
    those are shown as "Also covered by"; the rest are "Related".
    """

    __reduce__ = _reduce

    # plain-text headline
    title: str
    # absolute http(s) URL of the coverage
    url: str
    # plain-text excerpt, possibly empty
    excerpt: str = ""
    # when it was published (aware, UTC), when known
    published_at: datetime | None = None
    # who published it, when known
    provider: Provider | None = None
    # the crawler's quality score, when known
    quality: int | None = None
    # pictures, lead image first
    images: tuple[Image, ...] = ()
    # what it says, for the story rules (``feeds.reading.signature``)
    signature: Signature = EMPTY
    # whether it is the same story as the article that lists it (the story
    # rules decide, in the collector); every other entry is only "related"
    same_story: bool = False

    @property
    def source(self) -> str:
        """Who published it, for "Also covered by ...": the provider, else the URL's host."""
        if self.provider is not None:
            return self.provider.name
        host = urlsplit(self.url).hostname or self.url
        return host.removeprefix("www.")


@dataclass(frozen=True, slots=True)
class Article:
    """One news-article record, parsed, cleaned and validated."""

    __reduce__ = _reduce

    # path of the record file, as given to the loader (for messages only)
    path: str
    # plain-text headline, one line, never empty
    title: str
    # absolute http(s) URL of the article (``webUrl``, else ``originalUrl``)
    url: str
    # normalised URL: the story's identity, used for duplicates and GUIDs
    key: str
    # publication time, timezone-aware UTC (naive timestamps are read as UTC)
    published_at: datetime
    # plain-text excerpt: entities decoded, whitespace collapsed, XML-safe, junk
    # removed (``excerpts.clean_excerpt``); empty when it said nothing
    excerpt: str = ""
    # the crawler's quality score (0 when absent)
    quality: int = 0
    # the crawler's popularity score (0 when absent; may be negative)
    heat: int = 0
    # the record's ``published`` flag (true when absent)
    published: bool = True
    # record type, e.g. "article" or "video"
    type: str = "article"
    # record category, e.g. "news"
    category: str = "news"
    # who published it
    provider: Provider | None = None
    # topic references exactly as the record spells them (names, short names or ids)
    topics: tuple[str, ...] = ()
    # pictures, lead image first
    images: tuple[Image, ...] = ()
    # the record's ``related`` list (for a story's representative: its other copies
    # first, then its copies' lists), each entry marked whether it is the same story
    related: tuple[Related, ...] = field(default=())
    # what excerpt cleaning did: "" (nothing), "trimmed: ..." or "dropped: ..."
    excerpt_note: str = ""
    # the title as copies of a story are matched (``feeds.reading.signature.title_key``), computed
    # once when the record is parsed
    story_title: str = ""
    # what it says, for the story rules (``feeds.reading.signature``), computed once
    # when the record is parsed
    signature: Signature = EMPTY
    # what its excerpt can teach about its publisher's boilerplate
    # (``feeds.reading.boilerplate.lessons``), packed; None when not parsed
    lessons: bytes | None = None

    @property
    def lead_image(self) -> Image | None:
        """The first image, or None."""
        return self.images[0] if self.images else None

    @property
    def provider_name(self) -> str | None:
        """The provider's display name, or None."""
        return self.provider.name if self.provider else None

    @property
    def coverage(self) -> tuple[Related, ...]:
        """Other publications' copies of this story ("Also covered by"): one link per
        source, never the article's own publisher."""
        seen = {self.provider.name.casefold()} if self.provider else set()
        links = []
        for item in self.related:
            if item.same_story and item.source.casefold() not in seen:
                seen.add(item.source.casefold())
                links.append(item)
        return tuple(links)

    @property
    def see_also(self) -> tuple[Related, ...]:
        """Other stories the record lists as related ("Related"), at most three."""
        return tuple(item for item in self.related if not item.same_story)[:3]


for _cls in (Signature, Image, Provider, Related, Article):
    # operator.attrgetter with several names returns the tuple of their values
    setattr(_cls, "_values", staticmethod(attrgetter(*_cls.__slots__)))  # noqa: B010


@dataclass(frozen=True)
class StoryChanges:
    """The records a load found changed, come or gone since the parse cache's rows
    it read, each as (SHA-256 of its file, its timestamp)."""

    # record path -> its version the rows held, for each changed or gone record
    then: Mapping[str, tuple[bytes, float]]
    # record path -> its version now, for each changed or new record
    now: Mapping[str, tuple[bytes, float]]


@dataclass(frozen=True)
class StoryPairs:
    """The story rules' matching pairs within the window (same or near titles, one
    event told), kept between builds so that only the records near a change are
    compared again (``feeds.selection.pairs``; the parse cache stores it)."""

    # what the pairs depend on besides the records (``pairs.rules_stamp``)
    stamp: str
    # record path -> (SHA-256 of its file, its timestamp), for every record compared;
    # None when only what changed is given (``changes``)
    records: Mapping[str, tuple[bytes, float]] | None
    # (earlier path, later path) of every matching pair
    pairs: tuple[tuple[str, str], ...]
    # with no ``records``: what changed since the records these pairs were found
    # among (read back, the parse cache vouches that the pairs are theirs)
    changes: StoryChanges | None = None


@dataclass(frozen=True, slots=True)
class Brief:
    """What choosing a feed's stories needs of one record, read from the parse
    cache's columns without unpickling its ``Article``; the few records a feed
    shows are then read in full (``feeds.reading.corpus.Corpus.article``). Each
    field has the value of the ``Article`` field of the same name; the title and
    the lessons are left out (a million records' titles are 100 MB): what shows a
    title reads the record in full, and the load learns from the lessons as it
    goes."""

    # the record's path, as messages show it
    path: str
    # its normalised URL
    key: str
    # its title as stories are matched
    story_title: str
    # its date, in UTC (the same instant as the Article's)
    published_at: datetime
    # ``published: true`` (or no flag)
    published: bool
    # its quality score
    quality: int
    # the topic names it gives
    topics: tuple[str, ...]
    # its provider's name and domain (no logo: selection never shows one)
    provider: Provider | None

    @property
    def provider_name(self) -> str | None:
        """The provider's display name, or None."""
        return self.provider.name if self.provider else None


# a record as selection sees it: in full, or only what choosing needs
Record = Article | Brief
# what a record said before it changed, as the parse cache had it: (SHA-256 of that
# version, its title key, its Signature's words) (``Corpus.previous``)
Previous = tuple[bytes, str, frozenset[str]]


class RecordSource(Protocol):
    """Reads in full what a ``Brief`` leaves out (``feeds.reading.corpus.Corpus``)."""

    def article(self, record: Record) -> Article:
        """``record`` in full."""
        ...

    def in_full(self, records: Sequence[Record]) -> list[Article]:
        """Each of ``records`` in full, read together (cheaper than one at a time)."""
        ...

    def signatures(self, records: Sequence[Record]) -> list[Signature]:
        """The story rules' ``Signature`` of each of ``records``."""
        ...

    def loader(self, records: Sequence[Record]) -> SignatureLoader | None:
        """A ``SignatureLoader`` of ``records`` for another process, or None when only
        this process can read them."""
        ...


# reads some records' signatures in another process (a picklable callable): all of
# them in order, or None when one cannot be read there (this process reads it then)
SignatureLoader = Callable[[], list[Signature] | None]


class InHand:
    """The ``RecordSource`` of records that are all ``Article``s already."""

    def article(self, record: Record) -> Article:
        assert isinstance(record, Article), "a Brief needs the corpus it came from"
        return record

    def in_full(self, records: Sequence[Record]) -> list[Article]:
        return [self.article(r) for r in records]

    def signatures(self, records: Sequence[Record]) -> list[Signature]:
        return [self.article(r).signature for r in records]

    def loader(self, records: Sequence[Record]) -> SignatureLoader | None:
        return None  # they are in this process's memory


IN_HAND = InHand()
