"""feedletter's feed half: read article records, select per topic, write feeds.

One subpackage per stage of the build, each importing only the stages before it
(``tests/test_architecture.py`` holds them to it):

- ``reading``: records, topics and the parse cache into ``Article`` values.
- ``selection``: stories and the collector's per-topic selection (pure).
- ``rendering``: the selection as Atom, RSS, JSON Feed, archives, pages, OPML.
- ``publishing``: writing ``output/`` atomically, and telling WebSub hubs.
- ``build``: the pipeline that runs the stages, and skips them when nothing changed.

Beside them, the vocabulary every stage shares: ``model`` (the data types),
``config`` (the settings, validated once), ``errors`` (one exception per
condition), ``text`` and ``urls``.

This package must never import ``newsletter``: the digest depends on the feeds,
not the other way round.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

__version__ = "0.1.0"


def tune_gc() -> None:
    """Collect cyclic garbage less often in a process that owns itself (the
    ``feedletter`` command, a parse worker).

    A build allocates hundreds of thousands of long-lived, acyclic values (records,
    their images and links); with the default thresholds (700, 10, 10) the
    collector keeps re-walking them, which cost 30% of a 10,000-record warm build.
    Raising the thresholds (measured: 1.90 s -> 1.52 s on that build) keeps every
    collection; it only happens less often. Only code that owns a process calls
    it: the CLI's entry point (its one-shot ``build`` and the parse workers pause
    it altogether: ``gc_paused``, ``pause_gc``); a build run on a thread of
    someone else's process leaves their settings alone.
    """
    import gc

    gc.set_threshold(10_000, 20, 20)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No automatic cyclic garbage collection while a one-shot batch runs (the
    ``feedletter build`` command, a parse worker process).

    A build's values are acyclic and freed by reference counting, while each
    automatic collection re-walks the hundreds of thousands it keeps (100,000
    records, 10 edited: 11.1 s with ``tune_gc`` alone, 9.4 s paused). Only code
    that owns a short-lived process pauses it; the scheduler and ``serve``, which
    build again and again, do not.
    """
    import gc

    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def pause_gc() -> None:
    """``gc_paused`` for the rest of a worker process's life (a pool initializer)."""
    import gc

    gc.disable()


def worker_pool(cores: int) -> ProcessPoolExecutor:
    """Worker processes for a build's CPU-bound stages (parsing records, comparing
    story signatures), their garbage collector paused.

    forkserver, not fork: the scheduler runs builds from a thread, and forking a
    threaded process can deadlock the child. Callers fall back to doing the work
    themselves on ``BrokenProcessPool`` or ``OSError`` (a sandbox without
    processes)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("forkserver")
    return ProcessPoolExecutor(max_workers=cores, mp_context=context, initializer=pause_gc)
