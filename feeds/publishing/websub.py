"""WebSub publishing: tell each hub which feed files a build changed.

Every current feed file (Atom, RSS, JSON Feed; not RFC 5005 archive documents)
is its own WebSub topic, named by its self URL. After the files are written,
``publish`` sends each hub one form-encoded POST per changed feed
(``hub.mode=publish``, ``hub.url=<self URL>``), with a timeout and a few tries.
A ping that still fails is kept in ``websub.pending`` (a small JSON file, replaced
atomically) and tried again by the next build, whether or not that build changed
anything; a build with no changed feed and nothing pending sends nothing.

Pinging never fails a build and never runs before the files are in place: it is
the last step, its outcome is reported, not raised. Hubs are pinged in parallel,
one thread each. A ping answered 4xx is the hub refusing that one feed; no answer
or a 5xx after every try means the hub is down or failing, so its remaining
pings are not tried in this build: they wait, pending, for the next one.

``pings_due`` is the pure decision; ``publish`` does the I/O.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from feeds import __version__
from feeds.config import WebSubSettings

# the file names of current feeds (archive documents live in archive/ folders)
FEED_FILES = frozenset({"atom.xml", "rss.xml", "feed.json"})
# after this many builds in a row without success, a pending ping is dropped
GIVE_UP_AFTER = 20


@dataclass(frozen=True)
class Ping:
    """One notification: this hub, about this feed."""

    # the hub's URL
    hub: str
    # the feed's self URL (the WebSub topic)
    topic: str
    # builds that tried it before without success
    failures: int = 0


@dataclass(frozen=True)
class PingResult:
    """How one ping went."""

    # what was sent
    ping: Ping
    # True when the hub answered 2xx
    ok: bool
    # the hub's answer ("204 No Content") or why there was none
    answer: str
    # tries made in this build (0: not tried, its hub had failed an earlier ping)
    tries: int
    # why it failed: the answer, or for a ping not tried the earlier ping's answer
    cause: str = ""


@dataclass(frozen=True)
class PublishReport:
    """What ``publish`` did."""

    # every ping of this build, in order
    results: tuple[PingResult, ...] = ()
    # pings dropped after GIVE_UP_AFTER failed builds
    given_up: tuple[Ping, ...] = ()
    # problems with the pending file (it is then rewritten from this build's pings)
    warnings: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[PingResult, ...]:
        return tuple(r for r in self.results if not r.ok)


def feed_paths(paths: Iterable[str]) -> list[str]:
    """The output paths among ``paths`` that are current feed files."""
    found = []
    for path in paths:
        parts = PurePosixPath(path).parts
        if parts and parts[-1] in FEED_FILES and "archive" not in parts[:-1]:
            found.append(path)
    return sorted(found)


def topic_url(base_url: str, path: str) -> str:
    """A feed file's self URL: ``site.base_url`` joined with its output path."""
    return f"{base_url.rstrip('/')}/{path}"


def pings_due(hubs: Sequence[str], topics: Iterable[str], pending: Iterable[Ping]) -> list[Ping]:
    """Each hub × each changed topic, plus pending pings to hubs still configured;
    a pair appears once (a pending one keeps its failure count)."""
    due: dict[tuple[str, str], Ping] = {}
    for ping in pending:
        if ping.hub in hubs:
            due[(ping.hub, ping.topic)] = ping
    for hub in hubs:
        for topic in topics:
            due.setdefault((hub, topic), Ping(hub, topic))
    return sorted(due.values(), key=lambda p: (p.hub, p.topic))


# posts one ping; returns the hub's status code and reason; raises OSError when
# there is no answer (refused, timed out, DNS)
Post = Callable[[Ping, float], tuple[int, str]]


def post_ping(ping: Ping, timeout: float) -> tuple[int, str]:
    """POST ``hub.mode=publish&hub.url=<topic>`` to the hub."""
    import urllib.request  # http.client and ssl: only a build that pings loads them

    body = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": ping.topic}).encode()
    request = urllib.request.Request(
        ping.hub,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": f"feedletter/{__version__} (WebSub publisher)",
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), str(response.reason)
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.reason)


def publish(
    settings: WebSubSettings,
    base_url: str,
    changed: Iterable[str],
    *,
    post: Post = post_ping,
    sleep: Callable[[float], None] = time.sleep,
) -> PublishReport:
    """Ping the hubs about the changed feed files (output paths) and any pending pings."""
    hubs = list(settings.hubs)
    pending_file = settings.pending
    warnings: tuple[str, ...] = ()
    try:
        pending = load_pending(pending_file)
    except ValueError as exc:
        # what it held is lost either way; say so, and start it again from this build
        warnings, pending = (f"{exc}; it is replaced by this build's failed pings",), []
    topics = [topic_url(base_url, path) for path in feed_paths(changed)]
    due = pings_due(hubs, topics, pending)
    if not due:
        if pending or warnings:  # hubs removed from config: their pending pings go too
            save_pending(pending_file, [])
        return PublishReport(warnings=warnings)
    results: list[PingResult] = []
    lock = threading.Lock()

    def run(hub: str) -> None:
        broken: PingResult | None = None
        for ping in (p for p in due if p.hub == hub):
            if broken is not None:
                answer = f"not tried: the hub failed on {broken.ping.topic} ({broken.answer})"
                result = PingResult(ping, False, answer, 0, broken.answer)
            else:
                result = _ping(ping, settings, post, sleep)
                if not result.ok and not result.answer.startswith("4"):
                    # no answer or a server error after every try: the hub is down or
                    # failing, and the rest would only wait for the same
                    broken = result
            with lock:
                results.append(result)

    threads = [threading.Thread(target=run, args=(hub,), name=f"websub-{n}") for n, hub in
               enumerate(dict.fromkeys(p.hub for p in due))]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    order = {(p.hub, p.topic): n for n, p in enumerate(due)}
    results.sort(key=lambda r: order[(r.ping.hub, r.ping.topic)])
    still: list[Ping] = []
    given_up: list[Ping] = []
    for result in results:
        if result.ok:
            continue
        failed = Ping(result.ping.hub, result.ping.topic, result.ping.failures + 1)
        (given_up if failed.failures >= GIVE_UP_AFTER else still).append(failed)
    save_pending(pending_file, still)
    return PublishReport(tuple(results), tuple(given_up), warnings)


def _ping(
    ping: Ping, settings: WebSubSettings, post: Post, sleep: Callable[[float], None]
) -> PingResult:
    answer = ""
    for attempt in range(1, settings.attempts + 1):
        try:
            status, reason = post(ping, settings.timeout_seconds)
        except OSError as exc:
            answer = f"no answer: {_reason(exc)}"
        else:
            answer = f"{status} {reason}".strip()
            if 200 <= status < 300:
                return PingResult(ping, True, answer, attempt)
            if 400 <= status < 500 and status not in (408, 429):
                return PingResult(ping, False, answer, attempt, answer)  # asking again won't help
        if attempt < settings.attempts:
            sleep(float(2 ** (attempt - 1)))
    return PingResult(ping, False, answer, settings.attempts, answer)


def _reason(exc: OSError) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc.reason, str):
        return _reason(exc.reason) if isinstance(exc.reason, OSError) else str(exc.reason)
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return exc.strerror or str(exc) or type(exc).__name__


def load_pending(path: Path) -> list[Ping]:
    """The pings a previous build could not deliver (none if there is no file).

    Raises ``ValueError`` naming the file when it cannot be read as one.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the pending WebSub pings: {exc}") from None
    try:
        data = json.loads(text)
        return [Ping(str(p["hub"]), str(p["topic"]), int(p["failures"])) for p in data["pending"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a file of pending WebSub pings ({exc!r})") from None


def save_pending(path: Path, pending: Sequence[Ping]) -> None:
    """Replace the pending file atomically (removed when nothing is pending)."""
    if not pending:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "saved": datetime.now(UTC).isoformat(timespec="seconds"),
        "pending": [{"hub": p.hub, "topic": p.topic, "failures": p.failures} for p in pending],
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
