"""Whether a feed build can be skipped because nothing changed.

After a build, its record holds a fingerprint of everything the outputs depend
on — the settings, the stat (path, size, mtime) of every record file, topic
file, template and feedletter source file, and feedletter's version — together
with the stat of every file written, the summary, and ``valid_until`` (when the
passage of time alone would change the selection; see
``collector.valid_until``). A later build with the same fingerprint, before
``valid_until``, whose outputs are still exactly as written, has nothing to do.
The record lives in the parse cache; deleting the cache forces a full build.
``save_outputs`` and ``load_outputs`` are the same mechanism for any other
stage whose outputs are a pure function of a fingerprint (the digest uses them).
"""

from __future__ import annotations

import hashlib
import json
import os
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from feeds.build.summary import BuildSummary, FeedCount
from feeds.config import FeedSettings
from feeds.reading.cache import ParseCache, parser_key
from feeds.reading.scan import FileStat
from feeds.rendering.templating import DEFAULT_TEMPLATES

KEY = "build-stamp"
# the feeds package: a change to its code changes the outputs
PACKAGE = Path(__file__).resolve().parent.parent


def _files_under(folder: Path | None, suffixes: tuple[str, ...] = ()) -> Iterable[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and (not suffixes or p.suffix in suffixes)
    )


def stamp(settings: FeedSettings) -> str:
    """A digest of what a feed build's outputs depend on besides the records and
    the time: the settings, the topic files, the templates and feedletter's code
    (the render memo's digests start from it too)."""
    digest = hashlib.sha256()
    digest.update(parser_key().encode())
    digest.update(settings.model_dump_json().encode())
    folders = [settings.content.topics, settings.templates, DEFAULT_TEMPLATES]
    digest.update(source_stats(folders).encode())
    digest.update(source_stats([PACKAGE], (".py",)).encode())
    icon = settings.site.icon
    if icon is not None:  # its bytes are copied into output/
        try:
            digest.update(f"{icon}\0{icon.stat().st_size}\0{icon.stat().st_mtime_ns}".encode())
        except OSError:
            digest.update(b"\0no icon")
    return digest.hexdigest()


def fingerprint(stamp_value: str, records: Iterable[FileStat]) -> str:
    """A digest of everything a feed build's outputs depend on, except the time:
    its ``stamp`` and the stat of every record file."""
    digest = hashlib.sha256(stamp_value.encode())
    # paths joined once, sizes and mtimes as machine integers: a fifth of the time
    # of formatting 100k lines in Python
    files = list(records)
    digest.update("\0".join([f.path for f in files]).encode())
    digest.update(array("q", [f.size for f in files]).tobytes())
    digest.update(array("q", [f.mtime_ns for f in files]).tobytes())
    return digest.hexdigest()


class BuildRecord:
    """The record of the last build, when it still matches."""

    def __init__(
        self, summary: BuildSummary, outputs: Mapping[str, Any], until: datetime | None = None
    ) -> None:
        self.summary = summary
        self.outputs = outputs
        # when the passage of time alone changes the selection (None: never)
        self.until = until


def save(
    cache: ParseCache,
    fingerprint_value: str,
    until: datetime | None,
    output: Path,
    written: Iterable[str],
    summary: BuildSummary,
) -> None:
    """Record a finished build."""
    extra = {"valid_until": until.isoformat() if until else None, "summary": asdict(summary)}
    save_outputs(cache, KEY, fingerprint_value, {output: written}, extra)


def load(
    cache: ParseCache, fingerprint_value: str, now: datetime, output: Path
) -> BuildRecord | None:
    """The last build's record if that build is still exactly right, else None."""
    value = load_outputs(cache, KEY, fingerprint_value)
    if value is None:
        return None
    try:
        until = value["valid_until"] and datetime.fromisoformat(value["valid_until"])
        if until is not None and now >= until:
            return None
        data = value["summary"]
        summary = BuildSummary(
            **{
                **data,
                "rejected": tuple(tuple(r) for r in data["rejected"]),
                "unknown_topics": tuple(data["unknown_topics"]),
                "feeds": tuple(FeedCount(**f) for f in data["feeds"]),
                "warnings": tuple(data["warnings"]),
            }
        )
    except (ValueError, KeyError, TypeError):
        return None
    return BuildRecord(summary, value["outputs"][str(output)], until)


def save_outputs(
    cache: ParseCache,
    key: str,
    fingerprint_value: str,
    outputs: Mapping[Path, Iterable[str]],
    extra: Mapping[str, Any],
) -> None:
    """Store ``fingerprint_value`` under ``key`` with the stat of every file written.

    ``outputs`` maps a root folder to the relative names written under it.
    """
    stats: dict[str, dict[str, list[int]]] = {}
    for root, names in outputs.items():
        files = stats.setdefault(str(root), {})
        for name in names:
            stat = (root / name).stat()
            files[name] = [stat.st_size, stat.st_mtime_ns]
    value = {**extra, "fingerprint": fingerprint_value, "outputs": stats}
    cache.set_meta(key, json.dumps(value))


def load_outputs(cache: ParseCache, key: str, fingerprint_value: str) -> dict[str, Any] | None:
    """What ``save_outputs`` stored, if the fingerprint matches and every file is as written."""
    raw = cache.get_meta(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        if value["fingerprint"] != fingerprint_value:
            return None
        for root, files in value["outputs"].items():
            for name, (size, mtime_ns) in files.items():
                stat = os.stat(Path(root) / name)
                if stat.st_size != size or stat.st_mtime_ns != mtime_ns:
                    return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # an older layout, or a file changed or gone
    return value if isinstance(value, dict) else None


def source_stats(folders: Iterable[Path | None], suffixes: tuple[str, ...] = ()) -> str:
    """The (path, size, mtime) of every file under ``folders``, one line each."""
    lines = []
    for folder in folders:
        for path in _files_under(folder, suffixes):
            stat = path.stat()
            lines.append(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n")
    return "".join(lines)
