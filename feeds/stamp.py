"""The build stamp: whether a feed build can be skipped because nothing changed.

After a build, the stamp records a fingerprint of everything the outputs depend
on — the settings, the stat (path, size, mtime) of every record file, topic
file, template and feedletter source file, and feedletter's version — together
with the stat of every file written, the summary, and ``valid_until`` (when the
passage of time alone would change the selection; see
``collector.valid_until``). A later build with the same fingerprint, before
``valid_until``, whose outputs are still exactly as written, has nothing to do.
The stamp lives in the parse cache; deleting the cache forces a full build.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cache import ParseCache
from .cache import stamp as cache_stamp
from .config import FeedSettings
from .corpus import FileStat

if TYPE_CHECKING:
    from .build import BuildSummary

KEY = "build-stamp"
PACKAGE = Path(__file__).resolve().parent


def _files_under(folder: Path | None, suffixes: tuple[str, ...] = ()) -> Iterable[Path]:
    if folder is None or not folder.is_dir():
        return []
    return sorted(
        p for p in folder.rglob("*") if p.is_file() and (not suffixes or p.suffix in suffixes)
    )


def fingerprint(settings: FeedSettings, records: Iterable[FileStat]) -> str:
    """A digest of everything a feed build's outputs depend on, except the time."""
    digest = hashlib.sha256()
    digest.update(cache_stamp().encode())
    digest.update(settings.model_dump_json().encode())
    digest.update(
        "".join(f"{item.path}\0{item.size}\0{item.mtime_ns}\n" for item in records).encode()
    )
    dependencies = [
        *_files_under(settings.content.topics),
        *_files_under(settings.templates),
        *_files_under(PACKAGE, (".py",)),
    ]
    for path in dependencies:
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


class Stamp:
    """A loaded stamp that matched."""

    def __init__(self, summary: BuildSummary, outputs: Mapping[str, Any]) -> None:
        self.summary = summary
        self.outputs = outputs


def save(
    cache: ParseCache,
    fingerprint_value: str,
    until: datetime | None,
    output: Path,
    written: Iterable[str],
    summary: BuildSummary,
) -> None:
    """Record a finished build."""
    outputs = {}
    for name in written:
        stat = (output / name).stat()
        outputs[name] = [stat.st_size, stat.st_mtime_ns]
    value = {
        "fingerprint": fingerprint_value,
        "valid_until": until.isoformat() if until else None,
        "outputs": outputs,
        "summary": asdict(summary),
    }
    cache.set_meta(KEY, json.dumps(value))


def load(cache: ParseCache, fingerprint_value: str, now: datetime, output: Path) -> Stamp | None:
    """The stored stamp if the last build is still exactly right, else None."""
    from .build import BuildSummary, FeedCount

    raw = cache.get_meta(KEY)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
        if value["fingerprint"] != fingerprint_value:
            return None
        until = value["valid_until"]
        if until is not None and now >= datetime.fromisoformat(until):
            return None
        for name, (size, mtime_ns) in value["outputs"].items():
            stat = os.stat(output / name)
            if stat.st_size != size or stat.st_mtime_ns != mtime_ns:
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
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Stamp(summary, value["outputs"])
