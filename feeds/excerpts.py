"""Excerpts worth reading: crawled junk removed where records are parsed.

Pure text functions, applied to the already cleaned plain text (``text.clean_text``).
Crawlers glue site furniture to excerpts, or take it for the excerpt:

- a navigation or legal run before the text ("Disclaimer | Accessibility
  Statement | Commerce Policy | Made In NYC | Stock quotes by finanzen.net
  Microsoft has introduced ...") or a known credit line ("Stock quotes by
  finanzen.net", "Skip to main content", "Advertisement");
- a cookie or subscription notice after it ("... Please accept cookies or get
  more infor");
- an excerpt that says nothing: a bare language name ("English"), a placeholder
  ("na", "Placeholder."), or only words of the title.

``clean_excerpt`` strips such runs at either end and drops an excerpt that says
nothing; it never adds or rewrites a word. It returns what it did, so ``check``
can report it.
"""

from __future__ import annotations

import re

# A leading run of at least three short "|"-separated items without sentence
# punctuation: site navigation or legal links.
_NAV_RUN = re.compile(r"^(?:[^|.!?:;]{1,40}?\s*\|\s*){3,}")
# Credit and furniture lines that open an excerpt.
_LEADING = re.compile(
    r"^(?:stock quotes by finanzen\.net|skip to (?:main )?content|advertisement|"
    r"sponsored(?: content)?|listen to this article|share this article|"
    r"this article is more than \d+ years? old)\s*[:.\-–—|]?\s+",
    re.IGNORECASE,
)
# Notices that end an excerpt: everything from them on is cut (a notice is short).
_TRAILING = re.compile(
    r"\s*(?:(?:please )?accept (?:all )?cookies|we use cookies|this (?:web)?site uses cookies|"
    r"subscribe to (?:our|the) newsletter|sign up for (?:our|the) newsletter|"
    r"(?:click here|register|log in|sign in|subscribe) to (?:read|continue reading) "
    r"(?:the )?(?:full |rest of (?:the |this )?)?(?:article|story))\b.{0,200}$"
    # "read more" only as the very last words
    r"|\s*(?:continue reading|read more)(?: (?:at|on|here)\b[^.]{0,40})?\W*$",
    re.IGNORECASE,
)
# One of these words is in every notice _TRAILING finds: a cheap test before it.
_TRAILING_WORDS = ("cookie", "newsletter", "to read", "to continue", "read more", "reading")
# Excerpts that are only the page's language or a placeholder.
_NOTHING = frozenset(
    {
        "english", "english us", "english uk", "deutsch", "français", "francais", "español",
        "espanol", "italiano", "português", "portugues", "nederlands", "polski", "svenska",
        "dansk", "norsk", "suomi", "türkçe", "русский", "日本語", "中文", "한국어",
        "na", "n a", "none", "null", "nil", "tbd", "todo", "placeholder", "untitled",
        "no description", "description", "excerpt", "summary", "undefined",
    }
)  # fmt: skip
_WORDS = re.compile(r"\w+")


def _words(text: str) -> list[str]:
    return _WORDS.findall(text.casefold())


def says_nothing(excerpt: str, title: str) -> str | None:
    """Why ``excerpt`` says nothing (a reason to drop it), or None if it says something."""
    words = _words(excerpt)
    if len("".join(words)) < 2:
        return "no words"
    if " ".join(words) in _NOTHING:
        return f"only {excerpt!r}"
    if set(words) <= set(_words(title)):
        return "only repeats the title"
    return None


def clean_excerpt(excerpt: str, title: str) -> tuple[str, str]:
    """The excerpt without junk, and a note of what was done ("" when nothing).

    The note is "trimmed: <what was removed>" or "dropped: <why>".
    """
    if not excerpt:
        return "", ""
    text = excerpt
    removed: list[str] = []
    for pattern in (_NAV_RUN, _LEADING):
        match = pattern.match(text)
        if match and match.end() < len(text):
            removed.append(text[: match.end()].strip())
            text = text[match.end() :]
    lowered = text.casefold()
    match = _TRAILING.search(text) if any(w in lowered for w in _TRAILING_WORDS) else None
    if match and match.start() > 0:
        removed.append(text[match.start() :].strip())
        text = text[: match.start()]
    text = text.strip()
    why = says_nothing(text, title)
    if why is not None:
        return "", f"dropped: {why}"
    if removed:
        return text, "trimmed: " + " … ".join(repr(r) for r in removed)
    return text, ""
