"""The send path against the wire: `feedletter send` beside raw smtplib, in one run.

    .venv/bin/python -m benchmarks.sendpath [--subscribers 2000] [--rounds 2] [--postgresql]

The bundled sample's 2021-W44 issue goes to N subscribers (every topic) over one
connection to a local aiosmtpd Sink running in its own process. Timed, side by
side, each as a whole process:

- ``feedletter send --force`` (claims, signed links, a send-log row per message);
- raw smtplib: the issue's own ``sample.eml`` sent N times over one connection,
  the floor of what the wire costs.

The ratio is feedletter's messages per second over raw smtplib's (1.0:
feedletter adds nothing). Each round also times both sending one message, to
split the whole into what a run costs once (start-up, exit) and what each
further message costs: the "per message" ratio is raw smtplib's time for the
N - 1 further messages over feedletter's. Each round times both, one after the other, so a
change in the machine's load hits both; the machine's speed moves by ±30%
between rounds, so report every round. Both run with Python's bytecode cache,
as an installed copy does.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .corpus import ROOT
from .sink import free_port, start_sink

RAW = """
import smtplib, sys, time
data = open(sys.argv[1], "rb").read()
port, count = int(sys.argv[2]), int(sys.argv[3])
with smtplib.SMTP("127.0.0.1", port) as smtp:
    for n in range(count):
        smtp.sendmail("digest@news.example.org", [f"reader{n:05}@example.com"], data)
"""


def _project(work: Path, port: int, database: str) -> Path:
    for name in ("content", "templates"):
        shutil.copytree(ROOT / name, work / name)
    text = (ROOT / "config.yaml").read_text()
    text = text.replace("port: 8025", f"port: {port}")
    text = text.replace("database: var/feedletter.sqlite3", f"database: {database}")
    (work / "config.yaml").write_text(text)
    return work / "config.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--postgresql", action="store_true", help="state in PostgreSQL")
    args = parser.parse_args()
    env = dict(os.environ, FEEDLETTER_SECRET="benchmark-secret-0123456789")
    # as an installed copy runs: with its bytecode cache (this machine's shell sets
    # PYTHONDONTWRITEBYTECODE, which makes every process compile feedletter anew)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "feeds"), str(ROOT / "newsletter")],
        check=True, env=env,
    )  # fmt: skip
    pg = None
    if args.postgresql:
        from tests.postgres import PASSWORD_ENV, PostgresServer

        pg = PostgresServer().start()
        env[PASSWORD_ENV] = pg.password
    port = free_port()
    sink = start_sink(port)
    rows = []
    try:
        for round_ in range(args.rounds):
            ours, raw = _time_both(args.subscribers, port, env, pg)
            ours_one, raw_one = _time_both(1, port, env, pg)
            rows.append((round_ + 1, ours, raw, ours_one, raw_one))
            n = args.subscribers
            print(
                f"round {round_ + 1}: feedletter send {ours:.2f} s ({n / ours:.0f} msg/s), "
                f"raw smtplib {raw:.2f} s ({n / raw:.0f} msg/s), ratio {raw / ours:.2f}; "
                f"one message: {ours_one:.2f} s against {raw_one:.2f} s",
                flush=True,
            )
    finally:
        sink.terminate()
        sink.wait()
        if pg is not None:
            pg.stop()
    kind = "PostgreSQL" if args.postgresql else "SQLite"
    n = args.subscribers
    print(f"\n{n:,} messages, one connection, state in {kind}:\n")
    print(
        "| round | feedletter send | msg/s | raw smtplib | msg/s | ratio (target ≥ 0.9) "
        "| one message: feedletter | raw | per further message: ratio |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for round_, ours, raw, ours_one, raw_one in rows:
        further = (raw - raw_one) / (ours - ours_one) if ours > ours_one else float("nan")
        print(
            f"| {round_} | {ours:.2f} s | {n / ours:.0f} | {raw:.2f} s | {n / raw:.0f} | "
            f"{raw / ours:.2f} | {ours_one:.3f} s | {raw_one:.3f} s | {further:.2f} |"
        )


def _time_both(count: int, port: int, env: dict[str, str], pg: Any) -> tuple[float, float]:
    """feedletter ``send`` of the sample issue to ``count`` new subscribers, then raw
    smtplib sending its ``sample.eml`` ``count`` times: each whole process's time."""
    feedletter = [sys.executable, "-m", "newsletter"]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        database = pg.url(pg.new_database()) if pg else "var/state.sqlite3"
        config = _project(work, port, database)
        run: dict[str, Any] = dict(cwd=work, env=env, check=True, capture_output=True)
        subprocess.run([*feedletter, "digest", "--date", "2021-11-07"], **run)
        _add_subscribers(config, count, env)
        sample = next((work / "var" / "issues").glob("*/sample.eml"))
        start = time.perf_counter()
        subprocess.run([*feedletter, "-q", "send", "--force"], **run)
        ours = time.perf_counter() - start
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", RAW, str(sample), str(port), str(count)], check=True)
        raw = time.perf_counter() - start
    return ours, raw


def _add_subscribers(config: Path, count: int, env: dict[str, str]) -> None:
    """Active subscribers straight into the state (an import of N rows, without
    the import's per-row checks, which are not what is measured)."""
    os.environ.update(env)
    from newsletter import state
    from newsletter.config import load_config

    settings = load_config(config)
    now = datetime.now(UTC).isoformat()
    with state.connect(settings.database) as conn, state.transaction(conn):
        for n in range(count):
            state.insert_subscriber(
                conn, email=f"reader{n:05}@example.com", status="active",
                created_at=now, status_at=now,
            )  # fmt: skip


if __name__ == "__main__":
    main()
