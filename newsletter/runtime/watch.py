"""`feedletter serve --watch`: rebuild when an input changes, and tell open previews.

A ``Watcher`` watches the records folder, the topics folder, the templates and the
config file (watchfiles: native change notification, debounced), and on each
batch of changes runs the site build ``feedletter build`` runs
(``runtime.sitebuild``: feeds and pages, then the due digest), incrementally:
the parse cache re-reads only the changed records and only files whose bytes
changed are rewritten. A failed build changes nothing in
``output/`` (writes are atomic), so the previous good preview stays; its error is
kept in the ``Status`` that the preview's script polls, and printed.

The live-reload script lives only in the preview's responses (``web``); nothing
here writes to ``output/`` but the build itself, and WebSub hubs are not pinged
from a preview. This module decides when to build; the HTTP side only reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from feeds.errors import FeedletterError
from newsletter.config import Config, load_config
from newsletter.runtime.sitebuild import Options, build_site

log = logging.getLogger("feedletter.watch")
# records, topic files, templates, config
_INPUT_SUFFIXES = frozenset({".md", ".markdown", ".yaml", ".yml", ".j2", ".html", ".txt", ".css"})


@dataclass
class Status:
    """What the preview's script asks for: the build it shows, and the last error."""

    # counts the builds that changed output/; a page loaded at an older number reloads
    build: int = 0
    # the last build's error, or "" when it succeeded
    error: str = ""
    # records the last build rejected: "path: reason"
    rejected: tuple[str, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def snapshot(self) -> dict[str, object]:
        with self.lock:
            return {"build": self.build, "error": self.error, "rejected": list(self.rejected)}


class Watcher:
    """Rebuilds the site of ``config_path`` when its inputs change."""

    def __init__(
        self,
        config_path: Path,
        config: Config,
        report: Callable[[str], None] = print,
    ) -> None:
        # the config file, re-read when it changes
        self.config_path = config_path.resolve()
        # the config in force (the last one that loaded)
        self.config = config
        # what the preview polls
        self.status = Status()
        # where progress lines go (the terminal)
        self.report = report

    def inputs(self) -> list[Path]:
        """The folders and the file whose changes trigger a build."""
        config = self.config
        paths = [config.content.news, config.templates, self.config_path]
        if config.content.topics is not None:
            paths.append(config.content.topics)
        return [p.resolve() for p in paths]

    def watched(self) -> list[Path]:
        """What to ask watchfiles for: the config's folder (an editor may replace the
        file) and every input folder outside it."""
        roots = [self.config_path.parent]
        for path in self.inputs():
            if path.is_dir() and not path.is_relative_to(roots[0]):
                roots.append(path)
        return roots

    def relevant(self, change: object, path: str) -> bool:
        """Whether a change is to an input (not to output/, var/ or an editor's file)."""
        from watchfiles import DefaultFilter

        if not DefaultFilter()(change, path):  # type: ignore[arg-type]
            return False
        changed = Path(path)
        return any(
            changed == item or (item != self.config_path and changed.is_relative_to(item))
            for item in self.inputs()
        )

    def rebuild(self, changed: Iterable[str] = (), config_changed: bool = False) -> bool:
        """One build as ``feedletter build`` does it (re-reading the config first when
        ``config_changed``); True if it succeeded."""
        started = time.perf_counter()
        # name the inputs that changed (an editor's or sed's temporary files are gone)
        names = sorted(
            {Path(p).name for p in changed if Path(p).exists() or Path(p).suffix in _INPUT_SUFFIXES}
        )
        because = f" ({', '.join(names[:3])}{', …' if len(names) > 3 else ''} changed)"
        try:
            written, rejected = self._build(config_changed)
        except FeedletterError as exc:
            self._failed(str(exc))
            return False
        except Exception as exc:  # a template or anything else: show it, keep serving
            log.debug("build failed", exc_info=True)
            self._failed(f"{type(exc).__name__}: {exc}")
            return False
        with self.status.lock:
            first = self.status.build == 0
            if written or first:  # nothing written: the open pages are still right
                self.status.build += 1
            self.status.error = ""
            before, self.status.rejected = self.status.rejected, rejected
        if not (written or names or first):
            return True  # a check after (re)starting the watch that found nothing to do
        took = time.perf_counter() - started
        self.report(
            f"Rebuilt in {took:.2f} s{because if names else ''}: {written} file(s) written"
            + (f", {len(rejected)} record(s) rejected" if rejected else "")
        )
        for line in rejected if rejected != before else ():  # listed when they change
            self.report(f"  rejected {line}")
        return True

    def _build(self, config_changed: bool) -> tuple[int, tuple[str, ...]]:
        if config_changed:
            config = load_config(self.config_path)
            if (config.output, config.site.base_url) != (
                self.config.output,
                self.config.site.base_url,
            ):
                self.report(
                    "warning: output or site.base_url changed: restart `feedletter serve` "
                    "to serve the new site"
                )
            self.config = config
        # a preview pings no hub: nothing is published
        options = Options("feedletter serve --watch", ping=False)
        site = build_site(self.config, datetime.now(UTC), options)
        assert site.feeds is not None
        rejected = tuple(f"{path}: {reason}" for path, reason in site.feeds.summary.rejected)
        return len(site.written), rejected

    def _failed(self, message: str) -> None:
        with self.status.lock:
            self.status.error = message
        self.report(f"error: {message} (the preview keeps the last good build)")

    def run(self, stop: threading.Event) -> None:
        """Build, then again after every batch of changes, until ``stop`` is set.

        The build runs once the watch is in place (watchfiles yields an empty batch
        after ``rust_timeout``), so a change made during or right after it is seen;
        the same after the watch restarts because the config changed.
        """
        from watchfiles import watch

        while not stop.is_set():
            check = True
            try:
                for changes in watch(
                    *self.watched(),
                    watch_filter=self.relevant,
                    stop_event=stop,
                    debounce=100,
                    step=25,
                    rust_timeout=200,
                    yield_on_timeout=True,
                ):
                    if not changes and not check:
                        continue
                    check = False
                    changed = [path for _, path in changes]
                    config_changed = self.config_path in {Path(p) for p in changed}
                    if self.rebuild(changed, config_changed) and config_changed:
                        break  # the folders to watch may have changed with the config
            except FileNotFoundError as exc:  # a watched folder went away
                self._failed(f"{exc}")
                stop.wait(1.0)
