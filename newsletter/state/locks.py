"""Inter-process locks, so cron, the scheduler and a person at a shell never collide.

Two locks, ``work`` and ``scheduler``, kept where the state is:

- with SQLite, advisory file locks (``fcntl.flock``) on files beside the database
  (every process sharing an SQLite file is on the same host);
- with PostgreSQL, database advisory locks (``state.advisory``), so processes on
  every host sharing the database see the same locks.

``work`` is held while ``build`` and ``digest`` run (from the CLI or as scheduled
jobs); a second one waits up to ``state.lock_wait_seconds`` and then fails with a
message naming the holder. ``send`` does not take it: senders run side by side,
kept apart by their claims. ``scheduler`` is held for the life of ``feedletter
schedule``: on SQLite a second scheduler refuses to start; on PostgreSQL it waits
as a standby and takes over when the first one's session ends. The file or the
session goes with its process, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from pathlib import Path

from newsletter.errors import BusyError
from newsletter.state.database import Database

log = logging.getLogger("feedletter.locks")


def _lock_path(database: Path, name: str) -> Path:
    return database.parent / f"{database.stem}.{name}.lock"


def _label(what: str) -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}: {what}"


@contextmanager
def hold(
    database: Database | Path, name: str, what: str, wait_seconds: float = 0.0
) -> Iterator[None]:
    """Hold lock ``name`` (waiting up to ``wait_seconds``); ``BusyError`` if it stays taken."""
    database = Database.of(database)
    if database.path is None:
        with _hold_advisory(database, name, what, wait_seconds, None):
            yield
        return
    path = _lock_path(database.path, name)
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
                    raise _busy(holder, f"lock {path}", wait_seconds) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: {what}".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _busy(holder: str, where: str, wait_seconds: float | None) -> BusyError:
    waited = f" after waiting {wait_seconds:g} s" if wait_seconds else ""
    return BusyError(
        f"another feedletter process is running ({holder or 'unknown'}; "
        f"{where}){waited}; try again when it has finished"
    )


@contextmanager
def _hold_advisory(
    database: Database,
    name: str,
    what: str,
    wait_seconds: float | None,
    stop: threading.Event | None,
) -> Iterator[None]:
    """A PostgreSQL advisory lock; ``wait_seconds=None`` waits until ``stop`` is set."""
    from newsletter.state import advisory as sql

    with sql.open_lock_session(database, _label(what)) as conn:
        deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
        said = False
        while not sql.try_lock(conn, name):
            if deadline is not None and time.monotonic() >= deadline:
                raise _busy(sql.holder(conn, name), f"advisory lock '{name}'", wait_seconds)
            if deadline is None and not said:
                log.warning(
                    "another scheduler holds the lock (%s); waiting to take over",
                    sql.holder(conn, name),
                )
                said = True
            if stop is not None and stop.wait(1.0):
                raise _Stopped
            if stop is None:
                time.sleep(0.5)
        try:
            yield
        finally:
            with suppress(Exception):  # the session is gone: so is the lock
                sql.unlock(conn, name)


class _Stopped(Exception):
    """Asked to stop while waiting for a lock."""


@contextmanager
def scheduler_lock(
    database: Database | Path,
    stop: threading.Event | None = None,
    on_lost: threading.Event | None = None,
) -> Iterator[bool]:
    """The lock a running scheduler holds; yields False if ``stop`` came first.

    SQLite: never waits (``BusyError``). PostgreSQL: waits as a standby until the
    holder's session ends or ``stop`` is set; while held, a watchdog sets
    ``on_lost`` if the session (and with it the lock) is lost.
    """
    database = Database.of(database)
    if database.path is not None:
        with hold(database, "scheduler", "feedletter schedule"):
            yield True
        return
    try:
        with (
            _hold_advisory(database, "scheduler", "feedletter schedule", None, stop),
            _watch(database, on_lost, stop),
        ):
            yield True
    except _Stopped:
        yield False


@contextmanager
def _watch(
    database: Database, on_lost: threading.Event | None, stop: threading.Event | None
) -> Iterator[None]:
    """Check every few seconds, from a second session, that a scheduler still holds
    the lock in the first; if not, set ``on_lost`` (the scheduler must then stop:
    a standby may have taken over)."""
    from newsletter.state import advisory as sql

    if on_lost is None:
        yield
        return
    done = threading.Event()
    me = os.getpid()

    def watch() -> None:
        while not done.wait(5.0):
            try:
                with sql.open_lock_session(database, "feedletter schedule watchdog") as conn:
                    label = sql.holder(conn, "scheduler")
            except Exception as exc:
                log.warning("cannot check the scheduler lock: %s", exc)
                continue
            if f"pid {me} on {socket.gethostname()}:" not in label:
                log.error("the scheduler lock was lost (holder now: %s); stopping", label)
                on_lost.set()
                if stop is not None:
                    stop.set()
                return

    thread = threading.Thread(target=watch, name="scheduler-lock-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def work_lock_path(database: Path) -> Path:
    """The file of the work lock beside an SQLite state database."""
    return _lock_path(database, "work")


def work_lock(
    database: Database | Path, what: str, wait_seconds: float
) -> AbstractContextManager[None]:
    """The lock build and digest hold while they run."""
    return hold(database, "work", what, wait_seconds)
