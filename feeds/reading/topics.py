"""Topic definitions: loading them, and deciding which topics an article names.

Topics come from YAML files (the ``topics/`` format: ``_id``, ``name``,
``shortname``, ``parent``, ``keywords``, ``description``) and from config. Loading
is the only I/O here; ``TopicSet`` is a plain value with pure look-ups. A topic's
``id`` becomes a path segment and a URL segment, so it is restricted to
``[a-z0-9-]``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

from feeds.errors import TopicError, yaml_problem
from feeds.text import clean_text

TOPIC_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
TOPIC_FIELDS = ("id", "name", "shortname", "parent", "keywords", "description")


@dataclass(frozen=True, slots=True)
class Topic:
    """One topic: a feed of its own and a section of the digest."""

    # slug used in paths and URLs: lower-case letters, digits and hyphens
    id: str
    # display name, e.g. "Canvas apps"; records name topics by it
    name: str
    # optional short display name (records may use it too)
    shortname: str | None = None
    # id of the parent topic, which also collects this topic's articles
    parent: str | None = None
    # phrases that assign an article to the topic when keyword matching is on
    keywords: tuple[str, ...] = ()
    # one-line description, used as the feed subtitle
    description: str = ""
    # file the definition came from, or "config.yaml"
    source: str = ""


def slugify(value: str) -> str:
    """Turn a display name into a topic id: ASCII lower-case words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:64].strip("-")


def topic_from_mapping(data: Mapping[str, Any], source: str) -> Topic:
    """Build a ``Topic`` from a topic file's mapping (``_id`` or ``id`` accepted)."""
    name = clean_text(str(data.get("name") or ""))
    raw_id = data.get("_id", data.get("id"))
    if not name:
        raise TopicError(str(raw_id or "?"), "has no name", source)
    topic_id = str(raw_id).strip() if raw_id not in (None, "") else slugify(name)
    if not TOPIC_ID.match(topic_id):
        raise TopicError(
            name,
            f"id {topic_id[:80]!r} is not a slug: use 1-64 lower-case letters, digits and hyphens",
            source,
        )
    keywords = data.get("keywords") or []
    if isinstance(keywords, str):
        keywords = [keywords]
    if not isinstance(keywords, list):
        raise TopicError(name, "keywords must be a list of phrases", source)
    parent = data.get("parent")
    return Topic(
        id=topic_id,
        name=name,
        shortname=clean_text(str(data["shortname"])) or None if data.get("shortname") else None,
        parent=clean_text(str(parent)) or None if parent else None,
        keywords=tuple(dict.fromkeys(k for k in (clean_text(str(x)) for x in keywords) if k)),
        description=clean_text(str(data.get("description") or "")),
        source=source,
    )


def load_topic_files(folder: Path) -> list[Topic]:
    """Read every ``*.yaml``/``*.yml`` file in ``folder``, in file-name order.

    Any file that cannot be read raises ``TopicError`` naming it: a topic that
    silently vanished would delete its published feed.
    """
    topics = []
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        try:
            data = first_document(path.read_text(encoding="utf-8-sig"))
        except yaml.YAMLError as exc:
            raise TopicError(path.stem, f"is not valid YAML: {yaml_problem(exc)}", path) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise TopicError(path.stem, f"cannot be read: {exc}", path) from exc
        if not isinstance(data, Mapping):
            raise TopicError(path.stem, "the file is not a YAML mapping", path)
        topics.append(topic_from_mapping(data, str(path)))
    return topics


def first_document(text: str) -> object:
    """The first YAML document of ``text``, as Jekyll reads a ``_data`` file.

    Jekyll sites often end topic files with a stray ``---`` (a second, empty
    document) or open them with one; Jekyll (Psych) reads the first document and
    ignores the rest, and so does this. Only the first document is parsed, with
    the safe loader (``libyaml_first``).
    """
    return libyaml_first(
        lambda loader: next(iter(yaml.load_all(text, Loader=loader)), None),
        lambda: next(iter(yaml.safe_load_all(text)), None),
    )


def single_document(text: str) -> object:
    """The one YAML document of ``text`` (a config file), as ``yaml.safe_load``
    reads it, with the safe loader (``libyaml_first``)."""
    return libyaml_first(
        lambda loader: yaml.load(text, Loader=loader), lambda: yaml.safe_load(text)
    )


def libyaml_first(fast: Callable[[Any], object], pure: Callable[[], object]) -> object:
    """``fast`` with libyaml's safe loader (``CSafeLoader``: seven times faster here,
    0.5 ms for the sample's seven topic files against 3.8 ms, 0.6 ms for its
    config against 5.4 ms) when PyYAML has it; what libyaml refuses goes to
    ``pure``, PyYAML's own loader, whose error quotes the line and whose answer
    stands."""
    if _LIBYAML is not None:
        try:
            return fast(_LIBYAML)
        except yaml.YAMLError:
            pass
    return pure()


# PyYAML's libyaml-backed safe loader, when it was built with it
_LIBYAML = getattr(yaml, "CSafeLoader", None)


def merge_topics(
    from_files: Sequence[Topic], from_config: Sequence[Mapping[str, Any]], source: str
) -> TopicSet:
    """Combine file topics with config topics (config fields win) and check the result.

    Order: topics listed in config come first, in config order; the other file
    topics follow in file-name order.
    """
    by_id = {t.id: t for t in from_files}
    ordered: list[Topic] = []
    for entry in from_config:
        wanted = entry.get("id") or entry.get("_id")
        base = by_id.pop(str(wanted), None) if wanted else None
        if base is None:
            ordered.append(topic_from_mapping(entry, source))
            continue
        changes = {k: v for k, v in entry.items() if k in TOPIC_FIELDS and k != "id"}
        merged = topic_from_mapping(
            {
                "id": base.id,
                "name": base.name,
                "shortname": base.shortname,
                "parent": base.parent,
                "keywords": list(base.keywords),
                "description": base.description,
                **changes,
            },
            source,
        )
        ordered.append(merged)
    ordered.extend(t for t in from_files if t.id in by_id)
    return TopicSet.build(ordered)


@dataclass(frozen=True)
class TopicSet:
    """An ordered, validated set of topics with parents resolved to ids."""

    # topics in display order
    topics: tuple[Topic, ...]
    # lower-cased name, short name and id -> topic id
    lookup: Mapping[str, str] = field(repr=False)

    @classmethod
    def build(cls, topics: Iterable[Topic]) -> TopicSet:
        """Check ids are unique, resolve parents to ids and reject cycles."""
        topics = list(topics)
        lookup: dict[str, str] = {}
        seen: set[str] = set()
        for topic in topics:
            if topic.id in seen:
                raise TopicError(topic.id, "is defined twice", topic.source)
            seen.add(topic.id)
        for topic in topics:
            for ref in (topic.id, topic.name, topic.shortname):
                if ref and ref.casefold() not in lookup:
                    lookup[ref.casefold()] = topic.id
        resolved = []
        for topic in topics:
            if topic.parent is None:
                resolved.append(topic)
                continue
            parent_id = lookup.get(topic.parent.casefold())
            if parent_id is None:
                raise TopicError(
                    topic.id, f"parent {topic.parent!r} is not a known topic", topic.source
                )
            resolved.append(replace(topic, parent=parent_id))
        result = cls(tuple(resolved), lookup)
        for topic in result.topics:
            result.ancestors(topic.id)  # raises on a cycle
        return result

    @cached_property
    def by_id(self) -> Mapping[str, Topic]:
        return {t.id: t for t in self.topics}

    def resolve(self, ref: str) -> str | None:
        """The id of the topic a record's reference names (name, short name or id)."""
        return self.lookup.get(ref.casefold())

    def ancestors(self, topic_id: str) -> tuple[str, ...]:
        """Parent, grandparent, ... of a topic, nearest first."""
        chain: list[str] = []
        current = self.by_id[topic_id].parent
        while current is not None:
            if current == topic_id or current in chain:
                raise TopicError(topic_id, "its parents form a cycle")
            chain.append(current)
            current = self.by_id[current].parent
        return tuple(chain)

    def depth(self, topic_id: str) -> int:
        """0 for a root topic, 1 for its children, and so on."""
        return len(self.ancestors(topic_id))
