"""URL checks and normalisation.

Only absolute http(s) URLs are ever accepted from a record, and every URL that
leaves feedletter (feeds, pages, email) is a URI: ``check_url`` returns the IDNA
(punycode) host and a percent-encoded path, query and fragment, keeping the
escapes that were already there. A story's identity (``story_key``) is taken from
the URL as the record wrote it (``check_iri``), so GUIDs are what they were
before URIs were written. ``story_key`` gives
the normalised form that identifies a story: two records whose URLs differ only in
scheme, ``www.``, a trailing slash, the fragment or ``utm_*`` parameters are the
same story, and feed GUIDs are derived from that key so they survive such edits.
Pure functions; no network access.
"""

from __future__ import annotations

import functools
import re
import uuid
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import idna

ALLOWED_SCHEMES = frozenset({"http", "https"})
# whitespace (any, Unicode included), control characters and the characters
# RFC 3986 never allows unencoded ('"<>\\^`{|}') never belong in a URL
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f\"<>\\^`{|}]")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# A fixed namespace so GUIDs never depend on the site's base_url.
_GUID_NAMESPACE = uuid.UUID("6f1c5a52-5e0a-4b4e-9d55-2f0d8a3c7e11")


# RFC 3986 characters a path, query or fragment may hold as they are ("%" too: an
# escape that is already there stays as it is)
_URI_SAFE = "/?#[]@!$&'()*+,;=:-._~%"
# a "%" that does not start an escape: written as "%25"
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_url(value: object) -> str | None:
    """``value`` as a URI if it is an absolute http(s) URL (or IRI), else None."""
    if not isinstance(value, str):
        return None
    return _check_uri(value)


def check_iri(value: object) -> str | None:
    """``value`` stripped, as written, if it is an absolute http(s) URL (or IRI), else None.

    Use it only for a story's identity (``story_key``); write ``check_url``'s URI.
    """
    if not isinstance(value, str):
        return None
    return _check_iri(value)


@functools.lru_cache(maxsize=8192)  # provider logos and shared images repeat a lot
def _check_uri(value: str) -> str | None:
    iri = _check_iri(value)
    return None if iri is None else to_uri(iri)


def to_uri(iri: str) -> str | None:
    """An absolute http(s) IRI as a URI: IDNA host, percent-encoded UTF-8 elsewhere.

    None when the host is not a valid internationalised domain name.
    """
    if iri.isascii() and "%" not in iri:
        return iri
    parts = urlsplit(iri)
    netloc = parts.netloc
    if not netloc.isascii():
        host = parts.hostname or ""
        try:
            ascii_host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError:
            return None
        netloc = ascii_host if parts.port is None else f"{ascii_host}:{parts.port}"

    def encode(part: str) -> str:
        return quote(_LONE_PERCENT.sub("%25", part), safe=_URI_SAFE)

    return urlunsplit(
        (parts.scheme, netloc, encode(parts.path), encode(parts.query), encode(parts.fragment))
    )


@functools.lru_cache(maxsize=8192)
def _check_iri(value: str) -> str | None:
    url = value.strip()
    if not url or _UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ALLOWED_SCHEMES or not parts.hostname:
        return None
    if parts.username is not None or parts.password is not None:
        return None  # "https://trusted.example@evil.example/" is a phishing classic
    given = url[: len(parts.scheme)]  # urlsplit lower-cases the scheme it reports
    if given != parts.scheme:
        url = parts.scheme + url[len(given) :]  # "HTTPS://" -> "https://"
    if port is not None and not 0 < port < 65536:
        return None
    if not parts.hostname.isascii() and to_uri(url) is None:
        return None  # not a valid internationalised domain name
    return url


@functools.lru_cache(maxsize=65536)  # a related entry's key is asked for once per topic
def story_key(url: str) -> str:
    """The normalised form of an http(s) URL that identifies a story.

    Scheme dropped, host lower-cased without ``www.`` and default port, trailing
    slash and fragment dropped, ``utm_*`` parameters removed, the rest sorted.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    host = host.removeprefix("www.")
    port = parts.port
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme.lower()):
        host = f"{host}:{port}"
    path = parts.path.rstrip("/")
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith("utm_")
    )
    key = host + path
    if query:
        key += "?" + urlencode(query)
    return key


def story_guid(key: str) -> str:
    """A stable GUID (``urn:uuid:``) for a story key: the same in Atom, RSS and JSON."""
    return f"urn:uuid:{uuid.uuid5(_GUID_NAMESPACE, key)}"


def join(base_url: str, path: str) -> str:
    """Join a site-relative path onto ``base_url`` (which ends without a slash)."""
    return base_url.rstrip("/") + "/" + path.lstrip("/")


def with_query(url: str, params: dict[str, str]) -> str:
    """Add or replace query parameters, keeping the existing ones and the fragment."""
    parts = urlsplit(url)
    existing = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params
    ]
    query = urlencode(existing + list(params.items()))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))
