"""`feedletter schedule`: APScheduler running the jobs from config.

Jobs live in the state database (APScheduler's ``apscheduler_jobs`` table), in
an explicit time zone, with stable ids, ``coalesce=True``, ``max_instances=1`` and
``misfire_grace_time`` from config. At start-up the scheduler starts paused, keeps
a stored job whose schedule is unchanged (so a run missed while it was down is
still due, and runs once), replaces one whose schedule changed, removes one no
longer configured, and only then resumes. One scheduler per database: with
SQLite the scheduler lock makes a second one refuse to start; with PostgreSQL a
second one (on any host) stands by until the first one's database session ends,
then takes over the stored jobs, so each due run happens once. SIGINT and SIGTERM stop it
cleanly, letting a running job finish, whichever thread the kernel hands them to.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from zoneinfo import ZoneInfo

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.cron import CronTrigger

from newsletter.config import Config
from newsletter.errors import BusyError
from newsletter.mail.dkim import Signer
from newsletter.runtime.jobs import DIGEST_JOB, FEEDS_JOB, PURGE_JOB, RELEASE_JOB
from newsletter.state import connect, engine_for
from newsletter.state.locks import scheduler_lock

log = logging.getLogger("feedletter.schedule")

# How often the main thread wakes while it waits for a stop. Python runs signal
# handlers only in the main thread, between bytecodes: an untimed wait never
# returns when the kernel delivers SIGTERM to another thread (any thread may take
# a process's signal), and the scheduler would ignore it until killed.
SIGNAL_CHECK_SECONDS = 0.25

JOBS = {
    FEEDS_JOB: "newsletter.runtime.jobs:rebuild",
    DIGEST_JOB: "newsletter.runtime.jobs:digest_and_send",
    PURGE_JOB: "newsletter.runtime.jobs:purge",
    RELEASE_JOB: "newsletter.runtime.jobs:release",
}


class _Scheduler(BackgroundScheduler):  # type: ignore[misc]
    """BackgroundScheduler that does not consume due runs while shutting down.

    APScheduler 3's shutdown marks the scheduler stopped, shuts the executors, then
    wakes the main loop, which processes due jobs once more: the submit fails
    ("cannot schedule new futures after shutdown") and the job's next run time is
    advanced anyway, so a run due at that moment would be lost, not caught up on
    the next start.
    """

    def _process_jobs(self) -> float | None:
        if self.state == STATE_STOPPED:
            return None
        result: float | None = super()._process_jobs()
        return result


def make_scheduler(config: Config) -> BackgroundScheduler:
    """A scheduler over the state database's job store, not yet started."""
    connect(config.database).close()  # create and migrate the database first
    settings = config.schedule
    return _Scheduler(
        jobstores={
            "default": SQLAlchemyJobStore(
                engine=engine_for(config.database), tablename="apscheduler_jobs"
            )
        },
        timezone=ZoneInfo(settings.timezone),
        job_defaults={
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": int(settings.misfire_grace_hours * 3600),
        },
    )


def sync_jobs(scheduler: BackgroundScheduler, config: Config, config_path: Path) -> list[str]:
    """Make the stored jobs match config; returns a line per job for the log."""
    settings = config.schedule
    zone = ZoneInfo(settings.timezone)
    args = [str(config_path.resolve())]
    lines = []
    expressions = {
        FEEDS_JOB: settings.feeds,
        DIGEST_JOB: settings.digest,
        PURGE_JOB: settings.purge,
        # only reviewed issues wait to be released
        RELEASE_JOB: settings.release if config.newsletter.review is not None else None,
    }
    for job_id, expression in expressions.items():
        existing = scheduler.get_job(job_id)
        if expression is None:
            if existing is not None:
                scheduler.remove_job(job_id)
            lines.append(f"{job_id}: off")
            continue
        trigger = CronTrigger.from_crontab(expression, timezone=zone)
        grace = int(settings.misfire_grace_hours * 3600)
        if (
            existing is not None
            and str(existing.trigger) == str(trigger)
            and list(existing.args) == args
            and existing.func_ref == JOBS[job_id]
        ):
            # unchanged: keep its stored next run time, so a missed run still happens
            existing.modify(coalesce=True, max_instances=1, misfire_grace_time=grace)
            job = existing
        else:
            job = scheduler.add_job(
                JOBS[job_id],
                trigger,
                args=args,
                id=job_id,
                name=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=grace,
            )
        lines.append(f"{job_id}: {expression} ({settings.timezone}), next run {job.next_run_time}")
    return lines


def run_scheduler(
    config: Config,
    config_path: Path,
    *,
    stop: threading.Event | None = None,
    on_ready: Callable[[list[str]], None] | None = None,
) -> None:
    """Run until ``stop`` is set (or SIGINT/SIGTERM in the main thread)."""
    Signer.of_config(config)  # a DKIM key that cannot be read stops it now, not at 08:00
    stop = stop or threading.Event()
    lost = threading.Event()
    previous = _install_signal_handlers(stop)
    try:
        with scheduler_lock(config.database, stop, lost) as held:
            if not held:
                return  # stopped while standing by
            scheduler = make_scheduler(config)
            scheduler.start(paused=True)
            try:
                lines = sync_jobs(scheduler, config, config_path)
                if on_ready:
                    on_ready(lines)
                scheduler.resume()
                while not stop.wait(SIGNAL_CHECK_SECONDS):
                    pass  # a timed wait: the main thread runs Python, so signal handlers run
            finally:
                scheduler.shutdown(wait=True)
    finally:
        _restore_signal_handlers(previous)
    if lost.is_set():
        raise BusyError(
            "lost the scheduler lock (the database connection went away); another "
            "scheduler may have taken over. Start this one again to stand by"
        )


def _install_signal_handlers(stop: threading.Event) -> dict[int, object]:
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("received %s, stopping after running jobs finish", signal.Signals(signum).name)
        stop.set()

    return {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]
