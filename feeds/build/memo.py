"""Rendered outputs kept between builds: a feed whose inputs are as they were is
not rendered again.

Each feed (its Atom, RSS and JSON documents) and the site pages are rendered
from a few values: the feed's description, its shown entries in full, their
categories, and what the whole build depends on (``uptodate.stamp``: the
settings, topics, templates and code) with the renderers' installed files.
``RenderMemo`` digests those values (``canonical``: every field of every
dataclass, in order, sets sorted, so the digest does not depend on how the
values were made); when the last build stored the same digest and its files in
``output/`` are exactly as written (the stat check of ``uptodate.load_outputs``),
their bytes are read back instead of rendered (``through``): a build whose
changes show in no feed renders nothing and imports no renderer. The digests
live in the parse cache; without one, everything is rendered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import os
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path

from feeds.build import uptodate
from feeds.reading.cache import ParseCache

# the parse cache's meta key of a memo, before the name of what it renders
KEY = "render "
# the libraries the renderers' bytes depend on (their files' stats join the stamp)
RENDERERS = ("feedgen", "lxml", "jinja2", "markupsafe")


def canonical(value: object) -> str:
    """A text that two equal values (dataclasses of strings, numbers, dates, tuples
    and sets) always share and two different ones never do."""
    parts: list[str] = []
    _canonical(value, parts)
    return "".join(parts)


def _canonical(value: object, parts: list[str]) -> None:
    kind = type(value)
    if kind is str or kind is int or kind is bool or kind is float or value is None:
        parts.append(repr(value))
        return
    names = _FIELDS.get(kind)
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELDS[kind] = tuple(item.name for item in dataclasses.fields(value))
    if names is not None:
        parts.append(f"{kind.__qualname__}(")
        for name in names:
            parts.append(f"{name}=")
            _canonical(getattr(value, name), parts)
            parts.append(",")
        parts.append(")")
    elif isinstance(value, tuple | list):
        parts.append("[")
        for item in value:
            _canonical(item, parts)
            parts.append(",")
        parts.append("]")
    elif isinstance(value, frozenset | set):
        parts.append("{" + ",".join(sorted(repr(item) for item in value)) + "}")
    elif isinstance(value, datetime):
        parts.append(f"datetime({value.isoformat()})")
    elif isinstance(value, str | int | float | bytes):  # subclasses (enums) too
        parts.append(f"{kind.__qualname__}:{value!r}")
    else:
        raise TypeError(f"no canonical form for {kind.__name__}")


# each dataclass's field names, in order (every field, whatever its repr says)
_FIELDS: dict[type, tuple[str, ...]] = {}


class RenderMemo:
    """The rendered outputs of the last build, by the digest of their inputs."""

    def __init__(self, cache: ParseCache, output: Path, stamp: str) -> None:
        """``stamp``: ``uptodate.stamp`` of the build's settings."""
        self.cache = cache
        self.output = output
        self.stamp = _with_renderers(stamp)
        # what this build rendered: name -> (digest, files), stored once written
        self.rendered: dict[str, tuple[str, list[str]]] = {}

    def digest(self, inputs: object) -> str | None:
        """The digest of one output's inputs (with the settings, templates and code);
        None when some value has no canonical form (that output is rendered)."""
        try:
            text = canonical(inputs)
        except TypeError:
            return None
        return hashlib.sha256((self.stamp + text).encode()).hexdigest()

    def recall(self, name: str, digest: str) -> dict[str, bytes] | None:
        """The files the last build wrote for ``name`` from the same inputs, as they
        are in ``output/``; None when they were made from others or changed since."""
        value = uptodate.load_outputs(self.cache, KEY + name, digest)
        if value is None:
            return None
        try:
            names = value["outputs"][str(self.output)]
            return {path: (self.output / path).read_bytes() for path in names}
        except (OSError, KeyError, TypeError):
            return None

    def remember(self, name: str, digest: str, files: Iterable[str]) -> None:
        """Note that ``files`` were rendered for ``name`` from inputs of ``digest``."""
        self.rendered[name] = (digest, list(files))

    def save(self) -> None:
        """Store what was rendered (after it was written, so the stats are current)."""
        for name, (digest, files) in self.rendered.items():
            uptodate.save_outputs(self.cache, KEY + name, digest, {self.output: files}, {})


def through(
    memo: RenderMemo | None, name: str, inputs: object, render: Callable[[], dict[str, bytes]]
) -> dict[str, bytes]:
    """The files ``render()`` makes from ``inputs``: read back when the last build
    made them from the same inputs, else rendered (and remembered, with a memo)."""
    digest = memo.digest(inputs) if memo is not None else None
    if memo is None or digest is None:
        return render()
    files = memo.recall(name, digest)
    if files is None:
        files = render()
        memo.remember(name, digest, files)
    return files


def _with_renderers(stamp: str) -> str:
    """``stamp`` (the settings, topics, templates and feedletter's code) with the
    renderers' installed files, found but not imported."""
    digest = hashlib.sha256(stamp.encode())
    for name in RENDERERS:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        if origin:
            stat = os.stat(origin)
            digest.update(f"{name}\0{origin}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
