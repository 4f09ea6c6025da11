"""Parse one article record (Markdown with YAML front matter) into an ``Article``.

``parse_record`` is pure: text in, ``Article`` out, or ``RecordError`` with the
reason; ``parse_bytes`` decodes first (reading the file is ``reader``'s job).
Unknown keys are tolerated, ``secured`` is ignored, and every string is cleaned
with ``feeds.text``. YAML is only ever loaded safely: yaml-rs where it is known
to agree with PyYAML's safe loader, that loader otherwise
(``feeds.reading.yamlfast``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

import yaml

from feeds.errors import RecordError
from feeds.model import Article, Image, Provider, Related
from feeds.reading.boilerplate import lessons
from feeds.reading.excerpts import clean_excerpt
from feeds.reading.signature import signature, title_key
from feeds.reading.yamlfast import FastYAMLHandler, node_start_indicators
from feeds.text import clean_text, strip_xml_illegal, truncate
from feeds.urls import check_iri, check_url, story_key, to_uri

# Bumped whenever parsing changes what an Article holds (caches key on it).
PARSER_VERSION = 9
# Publication dates outside this range are errors (year 1 or 9999 are typos or
# attacks, and would overflow date arithmetic downstream).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# The top-level keys the parser reads; everything else is ignored.
RECORD_KEYS = frozenset(
    {
        "title",
        "excerpt",
        "publishedDateTime",
        "webUrl",
        "originalUrl",
        "quality",
        "heat",
        "published",
        "type",
        "category",
        "provider",
        "topics",
        "images",
        "related",
    }
)


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what one record may make the build hold in memory."""

    # files larger than this are rejected without being read
    max_record_bytes: int = 1_048_576
    # longer excerpts are cut at a word boundary (with an ellipsis)
    max_excerpt_chars: int = 5_000
    # longer titles are cut likewise
    max_title_chars: int = 500
    # the records' language (``site.language``): how story signatures stem words
    language: str = "en"


DEFAULT_LIMITS = Limits()


def parse_bytes(raw: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> Article:
    """Decode (UTF-8, BOM allowed) and parse the bytes of one record."""
    if not raw.strip():
        raise RecordError(path, "the file is empty")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(path, f"not UTF-8 text (bad byte at offset {exc.start})") from exc
    return parse_record(text, path, limits)


def parse_record(text: str, path: str, limits: Limits = DEFAULT_LIMITS) -> Article:
    """Parse the text of one record; raise ``RecordError`` naming ``path`` if unusable.

    Characters that XML 1.0 forbids (stray control characters, lone surrogates)
    are removed before the YAML is read: YAML rejects them too, and they could
    never reach a feed anyway.
    """
    meta = _front_matter(strip_xml_illegal(text), path)

    title = truncate(clean_text(_string(meta.get("title"))), limits.max_title_chars)
    if not title:
        raise RecordError(path, "no title")

    published_at = parse_datetime(meta.get("publishedDateTime"))
    if published_at is None:
        if meta.get("publishedDateTime") in (None, ""):
            raise RecordError(path, "no publishedDateTime")
        raise RecordError(
            path,
            f"publishedDateTime {str(meta.get('publishedDateTime'))[:60]!r} "
            "is not an ISO 8601 date",
        )
    if not EARLIEST <= published_at < LATEST:
        raise RecordError(
            path,
            f"publishedDateTime {published_at.date().isoformat()} "
            f"is outside {EARLIEST:%Y}-{LATEST:%Y}",
        )

    # the story's identity comes from the URL as written; feeds get its URI form
    iri = check_iri(meta.get("webUrl")) or check_iri(meta.get("originalUrl"))
    url = None if iri is None else to_uri(iri)
    if iri is None or url is None:
        given = meta.get("webUrl") or meta.get("originalUrl")
        if given in (None, ""):
            raise RecordError(path, "no webUrl or originalUrl")
        raise RecordError(path, f"URL {str(given)[:200]!r} is not an absolute http(s) URL")

    provider = _provider(meta.get("provider"))
    excerpt, excerpt_note = clean_excerpt(
        truncate(clean_text(_string(meta.get("excerpt"))), limits.max_excerpt_chars),
        title,
        _names(provider),
    )
    key = story_key(iri)
    return Article(
        path=path,
        title=title,
        story_title=title_key(title, provider, key),
        url=url,
        key=key,
        published_at=published_at,
        excerpt=excerpt,
        excerpt_note=excerpt_note,
        quality=_integer(meta.get("quality"), path, "quality"),
        heat=_integer(meta.get("heat"), path, "heat"),
        published=_boolean(meta.get("published"), path),
        type=clean_text(_string(meta.get("type"))) or "article",
        category=clean_text(_string(meta.get("category"))) or "news",
        provider=provider,
        topics=_topics(meta.get("topics"), path),
        images=_images(meta.get("images")),
        related=_related(meta.get("related"), limits.language),
        signature=signature(title, excerpt, limits.language, _publisher(provider)),
        lessons=lessons(excerpt, provider),
    )


def _front_matter(text: str, path: str) -> Mapping[str, Any]:
    handler = FastYAMLHandler(RECORD_KEYS)
    if not handler.detect(text):
        raise RecordError(path, "no YAML front matter (the file must start with ---)")
    if len(handler.FM_BOUNDARY.findall(text, 0, len(text))) < 2:
        raise RecordError(
            path, "the front matter is not closed: add a line '---' after its last key"
        )
    try:
        front, _body = handler.split(text)
        if {"&", "*"} & node_start_indicators(front) and _uses_aliases(front):
            raise RecordError(path, "YAML anchors and aliases are not allowed in records")
        meta = handler.load(front)
    except RecursionError as exc:
        raise RecordError(path, "front matter is nested too deeply") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        # the front matter text starts on the opening "---" line, so line 0 is line 1
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise RecordError(path, f"front matter is not valid YAML{where}: {problem}") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise RecordError(path, "front matter is not a YAML mapping") from exc
    if not isinstance(meta, Mapping) or not meta:
        raise RecordError(path, "front matter is empty or not a YAML mapping")
    return meta


def _uses_aliases(front: str) -> bool:
    """Whether the YAML really has anchors or aliases (scanned with the C scanner)."""
    try:
        return any(
            isinstance(token, yaml.AnchorToken | yaml.AliasToken)
            for token in yaml.scan(front, Loader=yaml.CSafeLoader)
        )
    except yaml.YAMLError:
        return False  # not valid YAML: loading it will say why


def parse_datetime(value: object) -> datetime | None:
    """Read a YAML timestamp, date or ISO 8601 string as an aware UTC datetime.

    A naive timestamp is taken to be UTC. Returns None for anything else.
    """
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0, 0))
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is None or moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def _string(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return ""


def _integer(value: object, path: str, key: str) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise RecordError(path, f"{key} must be a number, not {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise RecordError(path, f"{key} must be a whole number, not {str(value)[:40]!r}")


def _boolean(value: object, path: str) -> bool:
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    raise RecordError(path, f"published must be true or false, not {str(value)[:40]!r}")


def _topics(value: object, path: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: list[object] = [value]
    elif isinstance(value, list):
        items = value
    else:
        raise RecordError(path, "topics must be a list of topic names")
    names = (clean_text(_string(item)) for item in items)
    return tuple(dict.fromkeys(name for name in names if name))


def _image(value: object) -> Image | None:
    if not isinstance(value, Mapping):
        return None
    url = check_url(value.get("url"))
    if url is None:
        return None
    return Image(
        url=url, width=_dimension(value.get("width")), height=_dimension(value.get("height"))
    )


def _dimension(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000:
        return value
    return None


def _images(value: object) -> tuple[Image, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(image for image in map(_image, value) if image is not None)


def _provider(value: object) -> Provider | None:
    if not isinstance(value, Mapping):
        return None
    name = clean_text(_string(value.get("name")))
    if not name:
        return None
    domain = clean_text(_string(value.get("domain"))) or None
    logos = _images(value.get("images"))
    return Provider(name=name, domain=domain, logo=logos[0] if logos else None)


def _names(provider: Provider | None) -> str:
    """A provider's name and its domain's name, "\\0"-separated (for taglines)."""
    if provider is None:
        return ""
    domain = (provider.domain or "").casefold().removeprefix("www.").rsplit(".", 1)[0]
    return f"{provider.name}\0{domain}"


def _publisher(provider: Provider | None) -> str:
    """A provider's name and domain as text, for the story signature."""
    if provider is None:
        return ""
    return f"{provider.name} {(provider.domain or '').rsplit('.', 1)[0]}"


def _related(value: object, language: str) -> tuple[Related, ...]:
    if not isinstance(value, list):
        return ()
    found: list[Related] = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        title = clean_text(_string(item.get("title")))
        url = check_url(item.get("webUrl")) or check_url(item.get("originalUrl"))
        if not title or url is None:
            continue
        quality = item.get("quality")
        provider = _provider(item.get("provider"))
        excerpt = clean_excerpt(clean_text(_string(item.get("excerpt"))), title, _names(provider))[
            0
        ]
        found.append(
            Related(
                title=title,
                url=url,
                excerpt=excerpt,
                published_at=parse_datetime(item.get("publishedDateTime")),
                provider=provider,
                quality=quality
                if isinstance(quality, int) and not isinstance(quality, bool)
                else None,
                images=_images(item.get("images")),
                signature=signature(title, excerpt, language, _publisher(provider)),
            )
        )
    return tuple(found)
