"""Delivery rate with 1, 2, 4 and 8 workers (`send --workers N`) to a relay that
answers each message after 20 ms, through the real ``send_issue`` path (claims,
signed links, a send-log row per message). On demand only:

    .venv/bin/python -m benchmarks.senders [--subscribers 1000] [--postgresql]

``--postgresql`` keeps the state in a throw-away PostgreSQL cluster (Debian's
binaries, as the tests start it; a fresh database per run) instead of SQLite.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from .sink import free_port, start_sink


def main() -> None:
    from feeds.build import load_cached_project
    from newsletter import state
    from newsletter.config import load_config
    from newsletter.issue.pipeline import issue_period, make_issue, write_issue
    from newsletter.sending.delivery import SendOptions, SendSettings, find_issue, send_issue

    from .corpus import ROOT

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--delay", type=float, default=0.02)
    parser.add_argument("--postgresql", action="store_true", help="state in PostgreSQL")
    args = parser.parse_args()
    server = None
    if args.postgresql:
        from tests.postgres import PASSWORD_ENV, PostgresServer

        server = PostgresServer().start()
        os.environ[PASSWORD_ENV] = server.password
    os.environ.setdefault("FEEDLETTER_SECRET", "benchmark-secret-0123456789")
    port = free_port()
    relay = start_sink(port, args.delay)
    rows = []
    try:
        for workers in (1, 2, 4, 8):
            with tempfile.TemporaryDirectory() as tmp:
                work = Path(tmp)
                config_path = work / "config.yaml"
                config_path.write_text(
                    (ROOT / "config.yaml")
                    .read_text()
                    .replace("news: content/news", f"news: {ROOT / 'content' / 'news'}")
                    .replace("topics: content/topics", f"topics: {ROOT / 'content' / 'topics'}")
                    .replace("templates: templates", f"templates: {ROOT / 'templates'}")
                    .replace("output: output", f"output: {work / 'output'}")
                    .replace("port: 8025", f"port: {port}")
                    .replace(
                        "database: var/feedletter.sqlite3",
                        "database: "
                        + (
                            server.url(server.new_database()) if server else str(work / "s.sqlite3")
                        ),
                    )
                    .replace("issues: var/issues", f"issues: {work / 'issues'}")
                )
                config = load_config(config_path)
                config = config.model_copy(update={"cache": work / "cache.sqlite3"})
                project = load_cached_project(config)
                period = issue_period(config, date(2021, 11, 7))
                write_issue(config, make_issue(project, config, period))
                conn = state.connect(config.database)
                now = datetime.now(UTC).isoformat()
                with state.transaction(conn):
                    for n in range(args.subscribers):
                        state.insert_subscriber(
                            conn, email=f"reader{n:05}@example.com", status="active",
                            created_at=now, status_at=now,
                        )  # fmt: skip
                info = find_issue(config.issues_folder, None)
                start = time.perf_counter()
                settings, options = SendSettings.of(config), SendOptions(workers=workers)
                report = send_issue(conn, project, settings, info, options)
                elapsed = time.perf_counter() - start
                conn.close()
                rate = len(report.sent) / elapsed
                rows.append((workers, len(report.sent), elapsed, rate))
                print(
                    f"{workers} worker(s): {len(report.sent)} sent in {elapsed:.2f} s "
                    f"= {rate:.0f} msg/s",
                    flush=True,
                )
    finally:
        relay.terminate()
        relay.wait()
        if server is not None:
            server.stop()
    print(f"state in {'PostgreSQL' if server else 'SQLite'}, relay delay {args.delay * 1000:g} ms")
    print("| workers | messages | seconds | messages/s | vs 1 worker |")
    print("| ---: | ---: | ---: | ---: | ---: |")
    for workers, sent, elapsed, rate in rows:
        print(f"| {workers} | {sent:,} | {elapsed:.2f} | {rate:.0f} | {rate / rows[0][3]:.2f}× |")


if __name__ == "__main__":
    main()
