"""Plain-text cleaning for strings that come from records.

Record strings are messy: HTML entities, CRLF line ends, runs of spaces and
non-breaking spaces, and now and then characters that XML 1.0 forbids. This module
turns them into plain, single-spaced, XML-safe text. It does not escape anything:
escaping belongs to whoever writes the string into XML, HTML or a mail header.
"""

from __future__ import annotations

import html
import re

# Characters XML 1.0 does not allow anywhere (C0 controls other than tab, LF and CR,
# lone surrogates, U+FFFE and U+FFFF), and the discouraged C1 controls, which
# render as garbage in every reader (U+0085, NEL, is kept).
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\ud800-\udfff\ufffe\uffff]")


def strip_xml_illegal(value: str) -> str:
    """Remove the characters that may not appear in an XML 1.0 document."""
    return _XML_ILLEGAL.sub("", value)


def clean_text(value: str) -> str:
    """Decode HTML entities, drop XML-illegal characters, collapse all whitespace.

    The result is a single line: CR, LF, tabs and non-breaking spaces all become
    one ordinary space, and leading/trailing whitespace is removed.
    """
    # Entities are decoded first, so "&#1;" cannot smuggle a control character in.
    decoded = html.unescape(value) if "&" in value else value
    return " ".join(strip_xml_illegal(decoded).split())


def truncate(value: str, limit: int, ellipsis: str = "…") -> str:
    """Shorten ``value`` to at most ``limit`` characters, at a word boundary if possible."""
    if len(value) <= limit:
        return value
    cut = value[: max(limit - len(ellipsis), 0)]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + ellipsis
