"""A faster YAML loader for front matter, with PyYAML's safe loader as the reference.

yaml-rs (Rust) parses our records about five times faster than PyYAML's
CSafeLoader and gives identical results on the whole real corpus (a test checks
this). It implements YAML 1.2, though, and PyYAML YAML 1.1, so the two disagree
on a few constructs: ``yes``/``no``/``on``/``off`` booleans, ``012`` octals,
``1e3`` and ``.inf`` floats, ``1:30`` sexagesimals, quoted date-like strings,
``<<`` merge keys, and tags (yaml-rs ignores ``!!python/...``; PyYAML's safe
loader refuses it), odd uses of anchors and aliases, and the edges of block
scalars (``a: |`` with nothing after it). yaml-rs's result is used only when it
cannot have hit one of those — checked on the source (tags, anchors, aliases,
block scalars, octals) and on the result (every other
case shows in the values it returns) — and when yaml-rs accepted the document
and returned a mapping. Everything else is parsed by PyYAML, so the result is
always what PyYAML's safe loader gives.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from frontmatter.default_handlers import YAMLHandler

try:
    import yaml_rs
except ImportError:  # pragma: no cover - yaml-rs is a dependency; stay correct without it
    yaml_rs = None  # type: ignore[assignment]

# characters with a meaning of their own at the start of a node: tag "!", anchor
# "&", alias "*", reserved "@" and "`", block scalars "|" and ">" (the two loaders
# differ on odd uses of all of them)
_NODE_CHARS = re.compile(r"[!&*@`|>]")
# what may stand before a node (after skipping blanks): a line start, a mapping
# value or complex key indicator, a sequence dash, a flow collection indicator
_BEFORE_NODE = frozenset("\n:?-[,{")


def node_start_indicators(text: str) -> set[str]:
    """The indicator characters that start a node somewhere in ``text``.

    Finds the few candidate characters with one C-speed scan, then looks back
    over blanks at what precedes each. Conservative: it may report an
    indicator inside a quoted string, never miss a real one.
    """
    found: set[str] = set()
    for match in _NODE_CHARS.finditer(text):
        char, start = match.group(), match.start()
        before = start - 1
        while before >= 0 and text[before] in " \t":
            before -= 1
        if before >= 0 and text[before] not in _BEFORE_NODE:
            continue
        if char in "&*":  # an anchor or alias needs a name right after it
            after = text[start + 1 : start + 2]
            if not after or after in " \t\r\n,[]{}":
                continue
        found.add(char)
    return found


# a number with a leading zero and more after it (YAML 1.1 octal "012", YAML 1.2
# octal "0o12", binary "0b1", hex "0x1"), or digits after a leading underscore
# ("_0", "-_1": strings to PyYAML, integers to yaml-rs), after a blank or a flow
# indicator (values and list items; it also matches some text inside strings:
# that costs a fallback)
_OCTAL = re.compile(r"[ \t,\[{][-+]?(?:0[0-9_a-zA-Z]|_[0-9_])")
# plain scalars YAML 1.1 resolves specially: booleans, the merge key, the value key
_SPECIAL_WORDS = frozenset({"y", "yes", "n", "no", "on", "off", "true", "false", "<<", "="})
_SEXAGESIMAL = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")
# keys whose values both loaders may give as dates (PyYAML as an ISO string
# when quoted): the record parser reads both the same way
DATE_KEYS = frozenset({"publishedDateTime"})


def _agrees(root: Any) -> bool:
    """Whether a yaml-rs result shows no sign of a YAML 1.1/1.2 difference."""
    stack: list[tuple[Any, object]] = [(root, None)]
    while stack:
        value, key = stack.pop()
        kind = type(value)
        if kind is str:
            if len(value) <= 5 and value.lower() in _SPECIAL_WORDS:
                return False
            if ":" in value and value[:1] in "+-0123456789" and _SEXAGESIMAL.fullmatch(value):
                return False
        elif kind is dict:
            if "<<" in value:
                return False
            stack.extend((item, name) for name, item in value.items())
        elif kind is list:
            stack.extend((item, key) for item in value)
        elif kind is float or ((kind is date or kind is datetime) and key not in DATE_KEYS):
            return False
    return True


def fast_load(text: str, keys: frozenset[str] | None = None) -> dict[str, Any] | None:
    """yaml-rs's mapping for ``text`` when it is sure to equal PyYAML's, else None.

    With ``keys``, only the values of those top-level keys are checked: a caller
    that reads nothing else cannot see a difference elsewhere. (The source checks
    cover the whole document, and duplicate keys make yaml-rs fail, so a
    document PyYAML would refuse is never accepted.)
    """
    if yaml_rs is None or _OCTAL.search(text):
        return None
    if node_start_indicators(text):
        return None
    try:
        data = yaml_rs.loads(text)
    except Exception:  # yaml-rs raises its own error types; PyYAML will decide
        return None
    if not isinstance(data, dict) or "<<" in data:
        return None
    checked = data if keys is None else {k: v for k, v in data.items() if k in keys}
    return data if _agrees(checked) else None


class FastYAMLHandler(YAMLHandler):
    """python-frontmatter's YAML handler, loading with yaml-rs where that is safe."""

    def __init__(self, keys: frozenset[str] | None = None) -> None:
        super().__init__()
        self.keys = keys

    def load(self, fm: str, **kwargs: object) -> Any:
        data = fast_load(fm, self.keys)
        return data if data is not None else super().load(fm, **kwargs)
