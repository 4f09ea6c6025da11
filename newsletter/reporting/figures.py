"""``feedletter report``: what the newsletter is doing, for its operator.

``gather`` reads the state database, the issue archive and the published feeds
into a ``Report`` (plain values, ``as_json`` for ``--json``); ``render`` makes one
self-contained HTML page of it with static SVG charts (``page``): no script,
no external file, opens from disk. Subscribers over time are reconstructed from
each reader's dates (created, confirmed, last status change), as the state keeps
no full history of every reader.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from newsletter.config import Config
from newsletter.issue.archive import read_issues
from newsletter.state import Db
from newsletter.state import reports as queries

# Gmail's bulk sender rules: complaints (and, as a guide, bounces) under 0.3%
COMPLAINT_LINE = 0.003
STATUSES = ("active", "pending", "paused", "unsubscribed", "bounced")


@dataclass(frozen=True)
class IssueRow:
    """One issue's sending and what came back."""

    issue_id: str
    # when its first copy was logged (ISO 8601)
    sent_at: str
    delivered: int
    failed: int
    # copies whose temporary failures outlasted the retries (soft bounces of the send)
    deferred: int
    hard: int
    soft: int
    complaints: int

    @property
    def bounce_rate(self) -> float:
        return (self.hard + self.soft) / self.delivered if self.delivered else 0.0

    @property
    def complaint_rate(self) -> float:
        return self.complaints / self.delivered if self.delivered else 0.0


@dataclass(frozen=True)
class Report:
    """Everything the page shows, as plain values."""

    generated_at: str
    site: str
    # ISO week starts (Monday), oldest first
    weeks: list[str]
    # status -> readers in that status at the end of each week
    by_status: dict[str, list[int]]
    # sign-ups (readers created) and confirmations per week
    signups: list[int]
    confirmations: list[int]
    issues: list[IssueRow]
    # issue id -> (story title, URL, clicks), most clicked first
    clicks: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    # (feed title, items it shows)
    feeds: list[tuple[str, int]] = field(default_factory=list)


def gather(conn: Db, config: Config, now: datetime) -> Report:
    """The report of the state behind ``conn`` and the project of ``config``."""
    readers = queries.subscriber_dates(conn)
    weeks = _weeks([_moment(r["created_at"]) for r in readers], now)
    by_status = {s: [0] * len(weeks) for s in STATUSES}
    signups, confirmations = [0] * len(weeks), [0] * len(weeks)
    ends = [datetime.combine(w, datetime.min.time(), UTC) + timedelta(days=7) for w in weeks]
    for row in readers:
        created = _moment(row["created_at"])
        confirmed = _moment(row["confirmed_at"]) if row["confirmed_at"] else None
        changed = _moment(row["status_at"]) if row["status_at"] else None
        for at, end in enumerate(ends):
            status = _status_at(end, row["status"], created, confirmed, changed)
            if status in by_status:
                by_status[status][at] += 1
        signups[_week_index(weeks, created)] += 1
        if confirmed is not None:
            confirmations[_week_index(weeks, confirmed)] += 1
    return Report(
        generated_at=now.isoformat(timespec="seconds"),
        site=config.site.title,
        weeks=[w.isoformat() for w in weeks],
        by_status=by_status,
        signups=signups,
        confirmations=confirmations,
        issues=_issues(conn),
        clicks=_clicks(conn, config),
        feeds=_feeds(config.output),
    )


def as_json(report: Report) -> str:
    """The report as JSON (``--json``): every value, rates included."""
    data: dict[str, Any] = asdict(report)
    data["issues"] = [
        {**asdict(i), "bounce_rate": i.bounce_rate, "complaint_rate": i.complaint_rate}
        for i in report.issues
    ]
    data["clicks"] = {
        issue: [{"title": t, "url": u, "clicks": n} for t, u, n in rows]
        for issue, rows in report.clicks.items()
    }
    data["feeds"] = [{"title": t, "items": n} for t, n in report.feeds]
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def save(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a reader of the old page never sees half
    of the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def _status_at(
    end: datetime, status: str, created: datetime, confirmed: datetime | None,
    changed: datetime | None,
) -> str | None:  # fmt: skip
    """A reader's status at ``end``, from their dates."""
    if end <= created:
        return None
    if status not in ("active", "pending") and changed is not None and changed < end:
        return status
    if confirmed is not None:
        return "active" if confirmed < end else "pending"
    return "pending" if status == "pending" else "active"


def _issues(conn: Db) -> list[IssueRow]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    first: dict[str, str] = {}
    for row in queries.delivery_counts(conn):
        counts[row["issue_id"]][row["status"]] += int(row["n"])
        first[row["issue_id"]] = min(first.get(row["issue_id"], row["first_at"]), row["first_at"])
    for row in queries.bounce_events_by_issue(conn):
        source = row["source"] or ""
        issue = source.removeprefix("send ") if source.startswith("send ") else row["issue_id"]
        if issue in counts:
            kind = row["kind"]
            if source.startswith("send ") and kind == "soft":
                counts[issue]["deferred"] += 1
            counts[issue][kind] += 1
    return [
        IssueRow(
            issue,
            first[issue],
            c["sent"],
            c["failed"],
            c["deferred"],
            c["hard"],
            c["soft"],
            c["complaint"],
        )
        for issue, c in sorted(counts.items(), key=lambda item: first[item[0]])
    ]


_ANCHOR = re.compile(r'<a\b[^>]*href="([^"]+)"[^>]*>(.*?)</a>', re.S)


def _clicks(conn: Db, config: Config) -> dict[str, list[tuple[str, str, int]]]:
    """Counted clicks, each URL named by the story title the issue linked it with."""
    rows = queries.all_clicks(conn)
    clicked = {row["issue_id"] for row in rows}
    titles: dict[str, dict[str, str]] = {}
    for info in read_issues(config.issues_folder):
        if info.id not in clicked:
            continue
        path = config.issues_folder / info.id / "email.html"
        found: dict[str, str] = {}
        if path.is_file():
            for href, inner in _ANCHOR.findall(path.read_text(encoding="utf-8")):
                text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", inner)).split())
                if text:  # the first link with words (an image link has none)
                    found.setdefault(html.unescape(href), text)
        titles[info.id] = found
    result: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for row in rows:
        issue, url = row["issue_id"], row["url"]
        title = titles.get(issue, {}).get(url) or url
        result[issue].append((title, url, int(row["clicks"])))
    return dict(result)


def _feeds(output: Path) -> list[tuple[str, int]]:
    """(title, items) of every published JSON Feed, the all-topics feed first."""
    found = []
    for path in sorted(output.glob("**/feed.json"), key=lambda p: (len(p.parts), str(p))):
        if "archive" in path.parts:
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.append((str(document.get("title", path.parent.name)), len(document.get("items", []))))
    return found


def _moment(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _weeks(moments: list[datetime], now: datetime) -> list[date]:
    """The Monday of every week from the first moment's to now's."""
    today = now.astimezone(UTC).date()
    first = min([m.astimezone(UTC).date() for m in moments] + [today])
    start = first - timedelta(days=first.weekday())
    count = (today - start).days // 7 + 1
    return [start + timedelta(weeks=n) for n in range(count)]


def _week_index(weeks: list[date], moment: datetime) -> int:
    day = moment.astimezone(UTC).date()
    return max(0, min(len(weeks) - 1, (day - weeks[0]).days // 7))
