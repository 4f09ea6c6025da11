"""Excerpts worth reading: crawled junk removed where records are parsed.

Pure text functions, applied to the already cleaned plain text (``text.clean_text``).
Crawlers glue site furniture to excerpts, or take it for the excerpt. Two kinds
of junk are removed, and never anything else (a word is never added or changed):

- **Notices of a known kind**, recognised by how such notices are worded on any
  site, at the start or the end of an excerpt, or as the whole of it:

  =================  ==========================================================
  navigation         a run of three or more short "|"-separated items before the
                     text ("Disclaimer | Accessibility Statement | …")
  furniture          "Skip to main content", "Advertisement", "Stock quotes by
                     finanzen.net", "Listen to this article", …
  share widgets      two or more of Share, Tweet, Email, Print, Contact,
                     Facebook, LinkedIn, WhatsApp, Copy link, … before the text
  read-more link     "Read full article:", "Continue reading", "Read more at …"
  cookie notice      "We use cookies …", "Please accept cookies …"
  sign-up notice     "Sign up for our newsletter …", "… delivered to your inbox"
  paywall notice     "Subscribe to read", "This article is for subscribers",
                     "You have reached your limit of free articles", …
  disclosure         an author's funding or shareholding statement, affiliate
                     links, "originally published on The Conversation"
  tagline            " | Network World": the publisher's own name after a bar
                     or dash at the end
  =================  ==========================================================

- **Boilerplate of one publisher**, learned from the corpus being built
  (``boilerplate``): an opening or closing sentence that recurs in at least three
  of one provider's records telling different stories.

An excerpt that says nothing is dropped: a bare language name ("English"), a
placeholder ("na"), only words of the title, or only a notice. ``clean_excerpt``
returns what it did, so ``check`` can report it.
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
# Two or more share/contact widget labels before the text ("Share. Contact. …").
_WIDGETS = re.compile(
    r"^(?:(?:share(?: this)?|tweet|e-?mail|print|contact|facebook|twitter|x|linkedin|"
    r"whatsapp|pinterest|reddit|telegram|messenger|copy(?: the)? link|save|bookmark|"
    r"comments?|follow|listen)\s*[.:,·•|/\-–—]?\s+){2,}",
    re.IGNORECASE,
)
# "Read full article:", "Full story:", "Continue reading …:" before the text.
_READ_LEAD = re.compile(
    r"^(?:read (?:the )?full (?:article|story|report|post)|full (?:story|article)|"
    r"continue reading|click here to read(?: more)?)(?: (?:at|on|here)\b[^:.]{0,40})?"
    r"\s*[:.\-–—]\s*",
    re.IGNORECASE,
)
# Notices that end an excerpt (everything from them on is cut; a notice is short),
# and their kinds for the report.
_TRAILING = {
    "cookie notice": (
        r"(?:please )?accept (?:all )?cookies|we use cookies|this (?:web)?site uses cookies|"
        r"by continuing to (?:use|browse) (?:this|our) (?:site|website)"
    ),
    "sign-up notice": (
        r"(?:subscribe|sign up|register) (?:now |today )?(?:to|for) (?:our|the|my) "
        r"(?:[\w-]+ ){0,3}(?:newsletters?|mailing list|digest)|"
        r"get (?:our|the) (?:[\w-]+ ){0,3}newsletter|join (?:our|the) mailing list|"
        r"(?:delivered|sent) (?:straight |directly )?to your inbox"
    ),
    "paywall notice": (
        r"(?:click here|register|log in|sign in|subscribe) to (?:read|continue reading) "
        r"(?:the )?(?:full |rest of (?:the |this )?)?(?:article|story)|"
        r"(?:this|the) (?:article|story|content|post) is (?:only )?"
        r"(?:(?:available|reserved|exclusive) )?(?:to|for) (?:paying )?(?:subscribers|members)|"
        r"you(?: have|'ve) reached (?:your|the) (?:[\w-]+ ){0,3}limit|"
        r"already an? (?:subscriber|member)\?|"
        r"subscribe (?:now |today )?(?:to|for) (?:get |gain )?(?:full |unlimited )?access|"
        r"to continue reading,? (?:please )?(?:subscribe|log in|sign in|register)|"
        r"become an? (?:paying )?(?:member|subscriber) to"
    ),
    # a person's funding statement (The Conversation's form), and the standard ones
    "disclosure": (
        r"(?-i:[A-Z][a-z'’-]+(?: [A-Z][a-z.'’-]*){1,3}) (?:receives|has received) "
        r"(?:research )?(?:funding|grants?) from|"
        r"does not work for, consult, own shares in or receive funding from|"
        r"(?:the )?authors? (?:has|have) (?:disclosed )?no (?:relevant )?"
        r"(?:affiliations|conflicts of interest)|disclosure:|"
        r"this (?:post|article|page) (?:contains|may contain) affiliate links|"
        r"this article (?:is republished|was originally published) (?:from|on|by|at) "
        r"the conversation"
    ),
    "read-more link": (
        r"read (?:the )?full (?:article|story|report|post)(?: (?:at|on|here)\b[^.]{0,40})?\W*$|"
        r"(?:continue reading|read more)(?: (?:at|on|here)\b[^.]{0,40})?\W*$"
    ),
}
_TRAILING_RE = {
    kind: re.compile(rf"(?:^|\s+)(?:{pattern})\b.{{0,300}}$" if kind != "read-more link"
                     else rf"(?:^|\s+)(?:{pattern})", re.IGNORECASE | re.DOTALL)
    for kind, pattern in _TRAILING.items()
}  # fmt: skip
# One of these is in every trailing notice: a cheap test before the patterns.
_TRAILING_WORDS = (
    "cookie", "newsletter", "mailing list", "inbox", "to read", "to continue", "read more",
    "reading", "subscri", "member", "limit", "funding", "grant", "shares in", "affiliat",
    "disclos", "the conversation", "full article", "full story", "full report", "full post",
    "by continuing",
)  # fmt: skip
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
# a person's name before "does not work for, consult, …" (the disclosure is all there is)
_NAME = re.compile(r"(?:[A-Z][\w.'’-]*\s*){1,4}")


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


def _tagline(text: str, publisher: str) -> re.Match[str] | None:
    """A trailing " | Publisher" (or " - Publisher") naming the record's publisher."""
    if not publisher:
        return None
    names = {" ".join(_words(p)) for p in publisher.split("\0") if p.strip()}
    match = re.search(r"\s+[|–—-]\s+([^|–—]{1,60})$", text)
    if match and " ".join(_words(match.group(1))) in names:
        return match
    return None


def clean_excerpt(excerpt: str, title: str, publisher: str = "") -> tuple[str, str]:
    """The excerpt without junk, and a note of what was done ("" when nothing).

    ``publisher`` is the provider's name and domain, "\\0"-separated (for taglines).
    The note is "trimmed: <what was removed>" or "dropped: <why>".
    """
    if not excerpt:
        return "", ""
    text = excerpt
    removed: list[str] = []
    notice = ""
    for pattern in (_NAV_RUN, _LEADING, _WIDGETS, _READ_LEAD):
        match = pattern.match(text)
        if match and match.end() < len(text):
            removed.append(text[: match.end()].strip())
            text = text[match.end() :]
    lowered = text.casefold()
    if any(w in lowered for w in _TRAILING_WORDS):
        for kind, pattern in _TRAILING_RE.items():
            match = pattern.search(text)
            if match is None:
                continue
            if match.start() == 0 or (
                kind == "disclosure" and _NAME.fullmatch(text[: match.start()])
            ):
                notice = kind
                removed.append(text.strip())
                text = ""
                break
            removed.append(text[match.start() :].strip())
            text = text[: match.start()]
    tagline = _tagline(text, publisher)
    if tagline is not None:
        removed.append(text[tagline.start() :].strip())
        text = text[: tagline.start()]
    text = text.strip()
    if notice and not text:
        return "", f"dropped: only a {notice}"
    why = says_nothing(text, title)
    if why is not None:
        return "", f"dropped: {why}"
    if removed:
        return text, "trimmed: " + " … ".join(repr(r) for r in removed)
    return text, ""
