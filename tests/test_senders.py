"""Several senders on one issue: every recipient gets exactly one copy, and none is missed.

`send --workers N` in one process, and several `send` processes at once on one
state database, some of them SIGKILLed by the SMTP server while a message is in
flight (before the server answers, so never in the one window nobody can close:
the server said 250 and the sender died before recording it). Against aiosmtpd
on 127.0.0.1, which answers each message after a short delay as a relay does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.build import build_feeds, load_project
from newsletter.audience import lifecycle as subs
from newsletter.cli import cli
from newsletter.config import Config
from newsletter.issue.pipeline import issue_period, make_issue, write_issue
from newsletter.state import connect

from .conftest import NOW
from .smtp_server import Faults, SmtpServer
from .test_signup import configure
from .test_web import SECRET


def readers(config: Config, count: int) -> list[str]:
    """``count`` subscribers (every topic) and the W13 issue written."""
    addresses = [f"reader{n:04}@example.com" for n in range(count)]
    with connect(config.database) as conn:
        for address in addresses:
            subs.add(conn, address)
    build_feeds(config, NOW)
    project = load_project(config)
    write_issue(config, make_issue(project, config, issue_period(config, date(2021, 4, 2))))
    return addresses


def sent_log(config: Config) -> Counter[str]:
    with connect(config.database) as db:
        rows = db.rows("SELECT email FROM deliveries WHERE status = 'sent'")
    return Counter(row["email"] for row in rows)


@pytest.fixture
def env(fixture_project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())
    monkeypatch.chdir(fixture_project)
    return fixture_project


def test_workers_in_one_process_send_one_copy_each(env: Path, state_database: str) -> None:
    with SmtpServer(Faults(delay=0.005)) as smtp:
        config = configure(env, smtp.port, state_database)
        addresses = readers(config, 120)
        result = CliRunner().invoke(cli, ["send", "--force", "--workers", "4"])
        assert result.exit_code == 0, result.output
        assert "Sent 120, already sent 0, failed 0" in result.stdout
        received = Counter(str(m["To"]) for m in smtp.messages)
    assert received == Counter(addresses)  # exactly one copy each
    assert sent_log(config) == Counter(addresses)


def test_sender_processes_killed_mid_send_leave_no_one_twice_or_missing(
    env: Path, state_database: str
) -> None:
    """Four `send` processes at once on 2,000 subscribers; three are SIGKILLed
    mid-message; restarts finish the job."""
    count = 2000
    faults = Faults(delay=0.003, kill_client_at={150, 700, 1400})
    with SmtpServer(faults) as smtp:
        config = configure(env, smtp.port, state_database)
        addresses = readers(config, count)
        command = [sys.executable, "-m", "newsletter", "send", "--force"]
        environment = {**os.environ, "FEEDLETTER_SECRET": SECRET.decode()}

        def start() -> subprocess.Popen[bytes]:
            return subprocess.Popen(
                command, cwd=env, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )

        running = [start() for _ in range(4)]
        first = list(running)
        outcomes: list[int] = []
        rounds = 0
        deadline = time.monotonic() + 240
        while running and time.monotonic() < deadline:
            time.sleep(0.05)
            for process in list(running):
                code = process.poll()
                if code is None:
                    continue
                running.remove(process)
                outcomes.append(code)
                # a killed sender is restarted, as cron or an operator would
                if code == -9 and rounds < 10:
                    rounds += 1
                    running.append(start())
        for process in running:
            process.kill()
        assert not running, "senders did not finish in time"
        # the four first senders ran side by side: each that lived sent its share
        shares = [
            int(process.stdout.read().decode().split("Sent ", 1)[1].split(",")[0])
            for process in first
            if process.returncode == 0 and process.stdout is not None
        ]
        assert shares and all(share > 0 for share in shares), shares
        received = Counter(str(m["To"]) for m in smtp.messages)
        killed = list(smtp.handler.killed)
    assert len(killed) == 3 and outcomes.count(-9) == 3, (killed, outcomes)
    # the killed senders' messages were never accepted; their claims were taken over
    assert received == Counter(addresses), {a: n for a, n in received.items() if n != 1}
    assert sent_log(config) == Counter(addresses)
    with connect(config.database) as db:
        assert db.rows("SELECT * FROM claims") == []


def test_a_claim_held_elsewhere_is_skipped_until_its_lease_ends(
    env: Path, state_database: str
) -> None:
    from newsletter.sending import claims

    with SmtpServer() as smtp:
        config = configure(env, smtp.port, state_database)
        addresses = readers(config, 3)
        conn = connect(config.database)
        first = subs.get(conn, addresses[0])
        assert first is not None
        # another host's sender is sending to the first reader right now
        assert claims.claim(conn, "2021-W13", first.id, "elsewhere:1:1", time.time(), 300)
        conn.close()
        result = CliRunner().invoke(cli, ["send", "--force"])
        assert "Sent 2," in result.stdout
        assert "1 being sent by another sender right now (claimed)" in result.stdout
        conn = connect(config.database)
        # its lease ends (the other host died): the next run takes it over
        assert claims.claim(conn, "2021-W13", first.id, "elsewhere:1:1", time.time() - 400, 300)
        conn.close()
        again = CliRunner().invoke(cli, ["send", "--force"])
        assert "Sent 1, already sent 2," in again.stdout
        received = Counter(str(m["To"]) for m in smtp.messages)
    assert received == Counter(addresses)
