"""Digest benchmark: 10,000 subscribers over 20 distinct topic sets.

Measures, on the bundled sample (2021-11-07, a 60-day period so every topic set
has stories):

1. render + personalise: the 20 variants rendered (Jinja2 + premailer, once
   each) and 10,000 messages made, with the functions ``send`` uses
   (``render_variants`` and ``PreparedMessage``);
2. delivery: the real ``send_issue`` path (state database, signed links, one
   SMTP connection, a send-log row per message) to a local aiosmtpd running in
   its own process with the Sink handler, in messages per second.

    .venv/bin/python -m benchmarks.digest
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from .sink import free_port, start_sink

SUBSCRIBERS = 10_000
TOPIC_SETS = 20
RENDER_TARGET_S = 10.0
DELIVERY_TARGET = 300.0


def run() -> None:
    from feeds.build import load_cached_project
    from newsletter import state
    from newsletter.config import load_config
    from newsletter.issue.message import PreparedMessage
    from newsletter.issue.pipeline import issue_period, make_issue, write_issue
    from newsletter.issue.plan import Period
    from newsletter.issue.variants import IssueLook, render_variants
    from newsletter.sending.delivery import SendSettings, find_issue, send_issue

    from .corpus import ROOT

    os.environ.setdefault("FEEDLETTER_SECRET", "benchmark-secret-0123456789")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config_path = work / "config.yaml"
        base = (ROOT / "config.yaml").read_text()
        config_path.write_text(
            base.replace("news: content/news", f"news: {ROOT / 'content' / 'news'}")
            .replace("topics: content/topics", f"topics: {ROOT / 'content' / 'topics'}")
            .replace("templates: templates", f"templates: {ROOT / 'templates'}")
            .replace("output: output", f"output: {work / 'output'}")
            .replace("port: 8025", f"port: {port}")
            .replace("period_days: 7", "period_days: 60")
            .replace("database: var/feedletter.sqlite3", f"database: {work / 'state.sqlite3'}")
        )
        config = load_config(config_path)
        project = load_cached_project(config)
        write_issue(config, make_issue(project, config, issue_period(config, date(2021, 11, 7))))
        info = find_issue(config.issues_folder, None)
        ids = [t.id for t in project.topics.topics]
        # 20 distinct sets, each with Power Apps (the parent topic) so none is empty
        others = [t for t in ids if t != "power-apps"]
        combos = [c for size in (0, 1, 2) for c in itertools.combinations(others, size)]
        sets = [("power-apps", *c) for c in combos][:TOPIC_SETS]
        conn = state.connect(config.database)
        now = datetime.now(UTC).isoformat()
        with state.transaction(conn):
            for n in range(SUBSCRIBERS):
                state.insert_subscriber(
                    conn,
                    email=f"reader{n:05}@example.com",
                    topics=",".join(sets[n % len(sets)]),
                    status="active",
                    created_at=now,
                    status_at=now,
                )

        period = Period(info.start_time, info.end_time)
        start = time.perf_counter()
        variants = render_variants(project, IssueLook.of(config), period, sets)
        rendered = time.perf_counter() - start
        assert all(v is not None for v in variants.values()), "a topic set had no stories"
        prepared = {
            topics: PreparedMessage(issue, config.newsletter, config.site)
            for topics, issue in variants.items()
            if issue is not None
        }
        for n in range(SUBSCRIBERS):
            prepared[sets[n % len(sets)]].message(
                f"reader{n:05}@example.com",
                f"https://x.example/unsubscribe?token={n}",
                datetime.now(UTC),
            )
        total = time.perf_counter() - start
        print(
            f"render {TOPIC_SETS} variants: {rendered:.2f} s; render + personalise "
            f"{SUBSCRIBERS:,} messages: {total:.2f} s (target ≤ {RENDER_TARGET_S:.0f} s: "
            f"{'met' if total <= RENDER_TARGET_S else 'not met'})"
        )

        server = start_sink(port)
        try:
            start = time.perf_counter()
            report = send_issue(conn, project, SendSettings.of(config), info)
            elapsed = time.perf_counter() - start
        finally:
            server.terminate()
            server.wait()
        rate = len(report.sent) / elapsed
        print(
            f"send: {len(report.sent):,} messages in {elapsed:.2f} s = {rate:.0f} msg/s through "
            f"the real send path (target ≥ {DELIVERY_TARGET:.0f}: "
            f"{'met' if rate >= DELIVERY_TARGET else 'not met'}); failed {len(report.failed)}, "
            f"deferred {len(report.deferred)}"
        )
        conn.close()


if __name__ == "__main__":
    run()
