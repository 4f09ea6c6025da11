"""Write a set of generated files into the output folder, atomically.

``write_tree`` takes every file's bytes up front. It first writes each changed
file to a temporary file beside its target (fsynced); only when all of them are
written does it rename them into place. A failure before that point removes the
temporaries and leaves every previous output untouched; a rename is atomic, so a
reader (or a crash) sees either the old or the new version of each file, never
a torn one. Files whose bytes did not change are not touched, so their mtime
stays. A per-owner manifest lets a later build remove files it no longer makes.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from feeds.errors import OutputError, RemovalError

# the names _stage gives its temporaries (tempfile adds 8 random characters)
_TEMPORARY = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


@dataclass(frozen=True, slots=True)
class WriteReport:
    """What ``write_tree`` did."""

    # relative paths whose bytes changed (or are new), sorted
    written: tuple[str, ...]
    # relative paths left alone because their bytes were already right, sorted
    unchanged: tuple[str, ...]
    # relative paths removed because this owner no longer produces them, sorted
    removed: tuple[str, ...]


def safe_relative(path: str) -> PurePosixPath:
    """Check that ``path`` is a plain relative path that stays inside the output root."""
    rel = PurePosixPath(path)
    if (
        not path
        or rel.is_absolute()
        or any(part in ("", ".", "..") for part in rel.parts)
        or "\\" in path
        or "\x00" in path
    ):
        raise OutputError(path, "refusing to write outside the output folder")
    return rel


def write_tree(root: Path, files: Mapping[str, bytes], owner: str | None = None) -> WriteReport:
    """Write ``files`` (relative path -> bytes) under ``root`` as described above.

    With ``owner``, files listed in that owner's previous manifest but absent from
    ``files`` are removed after the new files are in place.
    """
    targets = {name: root / safe_relative(name) for name in files}
    _remove_stale_temporaries(root)
    changed = sorted(name for name, target in targets.items() if not _same(target, files[name]))
    unchanged = sorted(set(files) - set(changed))
    manifest = root / f".{owner}-manifest.json" if owner else None
    previous = _read_manifest(manifest) if manifest else set()
    staged: list[tuple[str, Path]] = []
    try:
        for name in changed:
            staged.append((_stage(targets[name], files[name]), targets[name]))
        if manifest is not None:
            listing = json.dumps(sorted(files), indent=0).encode() + b"\n"
            if not _same(manifest, listing):
                staged.append((_stage(manifest, listing), manifest))
    except OSError as exc:
        for temp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(temp)
        raise OutputError(exc.filename or root, exc.strerror or str(exc)) from exc
    for temp, target in staged:
        os.replace(temp, target)
    removed = sorted(previous - set(files))
    for name in removed:
        with contextlib.suppress(OSError, OutputError):
            (root / safe_relative(name)).unlink()
    return WriteReport(tuple(changed), tuple(unchanged), tuple(removed))


def _remove_stale_temporaries(root: Path) -> None:
    """Delete temporaries a killed build left behind (``.<name>.<random>.tmp``)."""
    if not root.is_dir():
        return
    for stale in root.rglob(".*.tmp"):
        if _TEMPORARY.fullmatch(stale.name):
            with contextlib.suppress(OSError):
                stale.unlink()


def _same(target: Path, data: bytes) -> bool:
    try:
        if target.stat().st_size != len(data):
            return False
        return target.read_bytes() == data
    except OSError:
        return False


def _stage(target: Path, data: bytes) -> str:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o644)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp


def _read_manifest(path: Path) -> set[str]:
    try:
        names = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    return {n for n in names if isinstance(n, str)} if isinstance(names, list) else set()


# the feed files of a build (archive documents never change, and are not counted)
FEED_NAMES = ("atom.xml", "rss.xml", "feed.json")


def _is_feed(name: str) -> bool:
    return name.rsplit("/", 1)[-1] in FEED_NAMES and "/archive/" not in f"/{name}"


def _has_items(data: bytes) -> bool:
    return b"<entry>" in data or b"<item>" in data or b'"id":' in data.split(b'"items"', 1)[-1]


@dataclass(frozen=True, slots=True)
class Removal:
    """What a build would take down of the published feeds."""

    # published feed files the build would no longer write
    removed: tuple[str, ...]
    # published feed files with items that the build would write with none
    emptied: tuple[str, ...]
    # how many feed files are published now (by this owner)
    published: int
    # whether every published topic feed goes or empties
    every_topic: bool = False

    @property
    def drastic(self) -> bool:
        """More than half of the published feed files go or empty, or every topic's."""
        lost = len(self.removed) + len(self.emptied)
        return self.published > 0 and (2 * lost > self.published or self.every_topic)

    def error(self) -> RemovalError:
        return RemovalError(self.removed, self.emptied, self.published)


def removal(root: Path, files: Mapping[str, bytes], owner: str) -> Removal:
    """What writing ``files`` for ``owner`` would remove or empty of its published feeds."""
    previous = _read_manifest(root / f".{owner}-manifest.json")
    published = sorted(name for name in previous if _is_feed(name))
    removed = tuple(name for name in published if name not in files)
    emptied = []
    for name in published:
        if name in files and not _has_items(files[name]):
            try:
                before = (root / safe_relative(name)).read_bytes()
            except (OSError, OutputError):
                continue
            if _has_items(before):
                emptied.append(name)
    lost = set(removed) | set(emptied)
    topics = [name for name in published if name.startswith("topics/")]
    every_topic = bool(topics) and all(name in lost for name in topics)
    return Removal(removed, tuple(emptied), len(published), every_topic)
