"""Inter-process locks, so cron, the scheduler and a person at a shell never collide.

Two advisory locks (``fcntl.flock``) on files beside the state database:

- ``scheduler.lock``: held for the whole life of ``feedletter schedule``; a second
  scheduler on the same database refuses to start.
- ``work.lock``: held while ``build``, ``digest`` or ``send`` run (from the CLI or
  as a scheduled job); a second one waits up to ``state.lock_wait_seconds`` and
  then exits with a message naming the holder.

The kernel releases a flock when its process dies, so a crash never leaves a
stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from .errors import BusyError


def _lock_path(database: Path, name: str) -> Path:
    return database.parent / f"{database.stem}.{name}.lock"


@contextmanager
def hold(database: Path, name: str, what: str, wait_seconds: float = 0.0) -> Iterator[None]:
    """Hold lock ``name`` (waiting up to ``wait_seconds``); ``BusyError`` if it stays taken."""
    path = _lock_path(database, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
                    raise BusyError(
                        f"another feedletter process is running ({holder or 'unknown'}; "
                        f"lock {path}){waited}; try again when it has finished"
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def scheduler_lock(database: Path) -> AbstractContextManager[None]:
    """The lock a running scheduler holds; never waits."""
    return hold(database, "scheduler", "feedletter schedule")


def work_lock(database: Path, what: str, wait_seconds: float) -> AbstractContextManager[None]:
    """The lock build, digest and send hold while they run."""
    return hold(database, "work", what, wait_seconds)
