"""The scheduler and the locks: catch-up exactly once, one scheduler, clean stop."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.config import Config, load_config
from newsletter.errors import BusyError
from newsletter.runtime.jobs import FEEDS_JOB
from newsletter.runtime.scheduler import make_scheduler, run_scheduler, sync_jobs
from newsletter.state import connect, job_runs
from newsletter.state.locks import scheduler_lock, work_lock

from .postgres import PostgresServer


def configure(
    project: Path, feeds: str, grace_hours: float = 6, database: str = "var/state.sqlite3"
) -> Config:
    path = project / "config.yaml"
    path.write_text(
        path.read_text()
        + f"state:\n  database: {database}\n  lock_wait_seconds: 0\n"
        + f"schedule:\n  timezone: Europe/Berlin\n  feeds: '{feeds}'\n  digest: null\n"
        + f"  misfire_grace_hours: {grace_hours}\n"
    )
    return load_config(path)


def far_daily_cron() -> str:
    """A daily schedule whose next regular run is about 12 hours away."""
    hour = (datetime.now(UTC).astimezone().hour + 12) % 24
    return f"0 {hour} * * *"


def runs(config: Config) -> list[tuple[str, str]]:
    with connect(config.database) as db:
        return job_runs(db)


def stored_next_run(config: Config) -> datetime:
    scheduler = make_scheduler(config)
    scheduler.start(paused=True)
    try:
        job = scheduler.get_job(FEEDS_JOB)
        assert job is not None
        return job.next_run_time
    finally:
        scheduler.shutdown()


def set_stored_next_run(config: Config, when: datetime) -> None:
    """What the job store holds after the scheduler was down while runs fell due."""
    scheduler = make_scheduler(config)
    scheduler.start(paused=True)
    try:
        scheduler.modify_job(FEEDS_JOB, next_run_time=when)
    finally:
        scheduler.shutdown()


def start_in_thread(
    config: Config, path: Path
) -> tuple[threading.Event, threading.Thread, list[str]]:
    stop = threading.Event()
    ready: list[str] = []
    thread = threading.Thread(
        target=run_scheduler, args=(config, path), kwargs={"stop": stop, "on_ready": ready.extend}
    )
    thread.start()
    deadline = time.monotonic() + 15
    while not ready and time.monotonic() < deadline:
        time.sleep(0.05)
    assert ready, "scheduler did not start"
    return stop, thread, ready


def finished(config: Config) -> bool:
    """A job has run and its run has ended (recorded as ok or failed)."""
    done = runs(config)
    return bool(done) and done[-1][1] != "running"


def hours_ahead(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


def wait_for(condition: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.1)


def test_restart_after_missed_runs_catches_up_exactly_once(
    fixture_project: Path, state_database: str
) -> None:
    config = configure(fixture_project, far_daily_cron(), 48, state_database)
    path = fixture_project / "config.yaml"
    stop, thread, _ = start_in_thread(config, path)  # stores the job
    stop.set()
    thread.join(timeout=30)
    assert runs(config) == []
    # the scheduler was down for three days: three daily runs fell due meanwhile
    set_stored_next_run(config, datetime.now(UTC) - timedelta(days=3))
    stop, thread, _ = start_in_thread(config, path)
    wait_for(lambda: finished(config) and stored_next_run(config) > hours_ahead(1))
    stop.set()
    thread.join(timeout=30)  # shutdown(wait=True): every run it handed over has finished
    assert [job for job, _ in runs(config)] == [FEEDS_JOB]  # once: not zero, not three
    assert runs(config)[0][1].startswith("ok: ")
    assert (fixture_project / "output" / "atom.xml").is_file()
    # and a restart with nothing missed runs nothing: the next run stays where it was
    # (in the future), so there is nothing the scheduler could run before it stops
    before = stored_next_run(config)
    stop, thread, _ = start_in_thread(config, path)
    assert stored_next_run(config) == before
    stop.set()
    thread.join(timeout=30)
    assert len(runs(config)) == 1 and stored_next_run(config) == before


def test_unchanged_jobs_keep_their_schedule_changed_ones_are_replaced(
    fixture_project: Path,
) -> None:
    config = configure(fixture_project, far_daily_cron())
    scheduler = make_scheduler(config)
    scheduler.start(paused=True)
    sync_jobs(scheduler, config, fixture_project / "config.yaml")
    scheduler.modify_job(FEEDS_JOB, next_run_time=datetime(2030, 1, 1, tzinfo=UTC))
    sync_jobs(scheduler, config, fixture_project / "config.yaml")  # same config: kept
    job = scheduler.get_job(FEEDS_JOB)
    assert job is not None and job.next_run_time == datetime(2030, 1, 1, tzinfo=UTC)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, 6 * 3600)
    changed = config.model_copy(
        update={"schedule": config.schedule.model_copy(update={"feeds": "*/5 * * * *"})}
    )
    sync_jobs(scheduler, changed, fixture_project / "config.yaml")
    job = scheduler.get_job(FEEDS_JOB)
    assert job is not None and job.next_run_time < datetime.now(UTC) + timedelta(minutes=6)
    assert str(job.trigger.timezone) == "Europe/Berlin"
    scheduler.shutdown()


def test_runs_missed_beyond_the_grace_time_are_skipped(fixture_project: Path) -> None:
    config = configure(fixture_project, far_daily_cron(), grace_hours=1)
    path = fixture_project / "config.yaml"
    stop, thread, _ = start_in_thread(config, path)
    stop.set()
    thread.join(timeout=30)
    set_stored_next_run(config, datetime.now(UTC) - timedelta(hours=5))
    stop, thread, _ = start_in_thread(config, path)
    # the scheduler moves the next run past now only after deciding about the missed
    # one (run it or skip it); a run it handed over finishes before shutdown returns
    wait_for(lambda: stored_next_run(config) > datetime.now(UTC))
    stop.set()
    thread.join(timeout=30)
    assert stored_next_run(config) > datetime.now(UTC)
    assert runs(config) == []


def test_a_second_scheduler_on_the_same_database_refuses(fixture_project: Path) -> None:
    config = configure(fixture_project, far_daily_cron())
    path = fixture_project / "config.yaml"
    stop, thread, _ = start_in_thread(config, path)
    try:
        with pytest.raises(BusyError, match="feedletter schedule"):
            run_scheduler(config, path, stop=threading.Event())
        result = CliRunner().invoke(cli, ["schedule", "--config", str(path)])
        assert result.exit_code == 4
        assert "another feedletter process is running" in result.stderr
    finally:
        stop.set()
        thread.join(timeout=30)


def test_commands_wait_for_a_running_job_or_exit_4(
    fixture_project: Path, state_database: str
) -> None:
    config = configure(fixture_project, far_daily_cron(), database=state_database)
    holder = {
        "sqlite": f"pid {os.getpid()}: scheduled feeds-rebuild; lock ",
        "postgresql": (
            f"pid {os.getpid()} on {socket.gethostname()}: scheduled feeds-rebuild "
            "(from 127.0.0.1); advisory lock 'work')"
        ),
    }[config.database.kind]
    with work_lock(config.database, "scheduled feeds-rebuild", 0):
        result = CliRunner().invoke(
            cli, ["build", "--config", str(fixture_project / "config.yaml")]
        )
        assert result.exit_code == 4
        assert result.stderr.startswith(f"error: another feedletter process is running ({holder}")
        assert not (fixture_project / "output").exists()
    with scheduler_lock(config.database):  # the scheduler lock does not block commands
        result = CliRunner().invoke(
            cli, ["build", "--config", str(fixture_project / "config.yaml"), "--date", "2021-04-02"]
        )
        assert result.exit_code == 0, result.output


def start_scheduler(project: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`feedletter schedule` in ``project``, once it printed its jobs; and those lines."""
    process = subprocess.Popen(
        [sys.executable, "-m", "newsletter", "schedule"],
        cwd=project,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:
        lines.append(line)
        if line.startswith("  feeds-rebuild:"):
            break
    return process, lines


def test_sigterm_stops_the_scheduler_cleanly(fixture_project: Path) -> None:
    configure(fixture_project, far_daily_cron())
    process, lines = start_scheduler(fixture_project)
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == 0
    assert "Scheduler stopped." in rest
    assert any(line.startswith("Scheduler running on var/state.sqlite3") for line in lines)


def test_the_purge_job_deletes_sign_ups_whose_links_expired(fixture_project: Path) -> None:
    from newsletter.audience import lifecycle
    from newsletter.runtime.jobs import PURGE_JOB, purge

    config = configure(fixture_project, far_daily_cron())
    long_ago = datetime.now(UTC) - timedelta(days=30)
    with connect(config.database) as conn:
        for address, when in (("old@example.com", long_ago), ("new@example.com", None)):
            lifecycle.sign_up(
                conn, address, topics=(), name="", client="127.0.0.1",
                now=when or datetime.now(UTC), secret=b"s" * 32,
                per_address_minutes=0, per_address_per_day=3,
            )  # fmt: skip
    purge(str(fixture_project / "config.yaml"))
    assert runs(config) == [(PURGE_JOB, "ok: 1 deleted")]
    with connect(config.database) as conn:
        assert [s.email for s in lifecycle.listing(conn)] == ["new@example.com"]


def test_job_lines_show_without_verbose(fixture_project: Path) -> None:
    """`schedule` logs each job's outcome on stderr with no -v (its own basicConfig
    used to be a no-op after the group's, hiding them)."""
    config = configure(fixture_project, far_daily_cron(), 48)
    stop, thread, _ = start_in_thread(config, fixture_project / "config.yaml")  # stores it
    stop.set()
    thread.join(timeout=30)
    set_stored_next_run(config, datetime.now(UTC) - timedelta(hours=1))  # due now
    process, lines = start_scheduler(fixture_project)
    rest: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        rest.extend(process.stderr)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_for(lambda: any("feedletter.jobs INFO: feeds-rebuild: " in line for line in rest))
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        reader.join(timeout=30)
    assert any("feedletter.jobs INFO: feeds-rebuild: " in line for line in rest), lines + rest


# tgkill(2): a signal to one thread of a process (Python has pthread_kill for its own
# threads only); the numbers of the system call per machine
TGKILL = {"x86_64": 234, "aarch64": 131, "i686": 270, "armv7l": 268}


@pytest.mark.skipif(
    sys.platform != "linux" or os.uname().machine not in TGKILL, reason="needs Linux tgkill(2)"
)
def test_sigterm_to_another_thread_still_stops_the_scheduler(fixture_project: Path) -> None:
    """The kernel may hand a process's SIGTERM to any of its threads; Python runs the
    handler only in the main thread. Delivered to a worker thread on purpose, the
    signal must still stop the scheduler (an untimed wait in the main thread never
    woke, and the process waited until it was killed)."""
    import ctypes

    configure(fixture_project, far_daily_cron())
    process, _ = start_scheduler(fixture_project)
    try:
        others = sorted(
            int(tid) for tid in os.listdir(f"/proc/{process.pid}/task") if int(tid) != process.pid
        )
        assert others, "the scheduler runs threads besides the main one"
        libc = ctypes.CDLL(None, use_errno=True)
        sent = libc.syscall(TGKILL[os.uname().machine], process.pid, others[-1], signal.SIGTERM)
        assert sent == 0, os.strerror(ctypes.get_errno())
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Scheduler stopped." in rest


def test_two_schedulers_on_postgresql_one_runs_the_other_takes_over(
    fixture_project: Path, postgres_url: str
) -> None:
    """Two `feedletter schedule` processes on one PostgreSQL database (two hosts): the
    second stands by, runs nothing while the first lives, takes over when it is
    SIGKILLed, and the run that fell due meanwhile happens once."""
    config = configure(fixture_project, far_daily_cron(), 48, postgres_url)
    command = [sys.executable, "-m", "newsletter", "schedule"]

    def start() -> tuple[subprocess.Popen[str], list[str]]:
        process = subprocess.Popen(command, cwd=fixture_project, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []

        def read() -> None:
            assert process.stderr is not None
            lines.extend(process.stderr)

        threading.Thread(target=read, daemon=True).start()
        return process, lines

    first, first_lines = start()
    wait_for(lambda: any(line.startswith("  feeds-rebuild:") for line in first_lines))
    assert any(line.startswith("  feeds-rebuild:") for line in first_lines), first_lines
    second, second_lines = start()
    try:
        wait_for(lambda: any("waiting to take over" in line for line in second_lines))
        assert any(
            "another scheduler holds the lock (pid " in line and "feedletter schedule" in line
            for line in second_lines
        ), second_lines
        # a run falls due; the standby has no scheduler while the first holds the lock
        set_stored_next_run(config, datetime.now(UTC) - timedelta(hours=2))
        assert runs(config) == []
        assert not any(line.startswith("Scheduler running") for line in second_lines)
        first.kill()  # the first host dies: its database session ends, and the lock with it
        first.wait(timeout=30)
        wait_for(lambda: finished(config) and stored_next_run(config) > hours_ahead(1))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)  # a run it handed over has finished when it exits
        first.kill()
    assert second.returncode == 0, second_lines
    assert [job for job, _ in runs(config)] == [FEEDS_JOB], runs(config)  # exactly once
    assert runs(config)[0][1].startswith("ok: ")
    assert any(
        line.startswith("Scheduler running on postgresql+psycopg://") for line in second_lines
    )


def test_a_scheduler_that_loses_its_database_lock_stops(
    fixture_project: Path, postgres_url: str, postgres_server: PostgresServer
) -> None:
    """If the lock's session goes (server restart, network), a standby may take over:
    the scheduler notices within seconds and stops, rather than run jobs twice."""
    configure(fixture_project, far_daily_cron(), database=postgres_url)
    process, _ = start_scheduler(fixture_project)
    with postgres_server.admin() as admin:  # type: ignore[attr-defined]
        ended = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE %s",
            (f"pid {process.pid} on %: feedletter schedule",),
        ).fetchall()
    assert ended == [(True,)]
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 4, rest
    assert "error: lost the scheduler lock" in rest
