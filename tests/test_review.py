"""Review before send (``newsletter.review``), end to end: the scheduled digest job
renders the issue and mails the editors a review copy through aiosmtpd; an editor
follows the copy's links over real HTTP to ``serve`` (drop a story, approve); the
release job sends the issue to the readers; and the same through the CLI, with
a skipped issue that is never sent and says so in the archive."""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from PIL import Image

from feeds.errors import ConfigError
from newsletter import state
from newsletter.audience import lifecycle as subs
from newsletter.cli import cli
from newsletter.config import Config, load_config
from newsletter.runtime import jobs
from newsletter.state import reviews

from . import test_signup_browser
from .smtp_server import SmtpServer
from .test_browser import chromium
from .test_signup import configure, post
from .test_web import SECRET, serve

# the Chromium of the sign-up browser test, driven by selenium
browser = test_signup_browser.browser

ISSUE = "2021-W13"
# a Monday 09:00 UTC: the digest job of `0 8 * * mon` has just run for the week before
MONDAY = datetime(2021, 4, 5, 9, 0, tzinfo=UTC)
EDITORS = ("ed@example.org", "chief@example.org")
REVIEW_LINK = re.compile(r"https://fixture\.example\.org(/news/review\?[^\s\"<>]+)")


def review_project(
    project: Path, port: int, database: str, require_approval: bool = True, hold: float = 24
) -> Config:
    """The fixture with two editors; the send window wide open (the records are from
    2021), two readers: ada with the default topics, bob with canvas apps only."""
    path = project / "config.yaml"
    block = (
        "newsletter:\n  send_window_hours: 100000\n  review:\n"
        f"    editors: [{', '.join(EDITORS)}]\n    hold_hours: {hold}\n"
        f"    require_approval: {str(require_approval).lower()}\n"
    )
    path.write_text(path.read_text().replace("newsletter:\n", block, 1))
    config = configure(project, port, database)
    with state.connect(config.database) as conn:
        subs.add(conn, "ada@example.com")
        subs.add(conn, "bob@example.com", topics=["canvas-apps"])
    return config


def in_review(
    project: Path, smtp: SmtpServer, database: str = "var/state.sqlite3", **review: Any
) -> tuple[Config, list[EmailMessage]]:
    """The fixture under review: the digest job run on MONDAY, the editors' two copies."""
    config = review_project(project, smtp.port, database, **review)
    jobs.digest_and_send(str(config.source), now=MONDAY)
    return config, smtp.wait_for(2)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLETTER_SECRET", SECRET.decode())


def issue_json(config: Config) -> dict[str, object]:
    data: dict[str, object] = json.loads(
        (config.issues_folder / ISSUE / "issue.json").read_text(encoding="utf-8")
    )
    return data


def titles(config: Config) -> list[str]:
    toc = issue_json(config)["toc"]
    assert isinstance(toc, list)
    return [str(entry["title"]) for entry in toc]


def archive(config: Config) -> tuple[str, str]:
    """The archive's index page and Atom feed."""
    folder = config.output / "newsletter"
    return (folder / "index.html").read_text(), (folder / "atom.xml").read_text()


def to(messages: list[EmailMessage], address: str) -> EmailMessage:
    (found,) = [m for m in messages if m["To"] == address]
    return found


def text_of(message: EmailMessage) -> str:
    """The text part, its lines joined (long titles wrap)."""
    part = message.get_body(("plain",))
    assert part is not None
    return " ".join(str(part.get_content()).split())


def html_of(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def review_links(message: EmailMessage) -> dict[str, str]:
    """The review copy's links by what they offer: approve, skip, page, drop:<ref>."""
    found = {}
    part = message.get_body(("plain",))
    assert part is not None
    for path in REVIEW_LINK.findall(str(part.get_content())):
        query = parse_qs(urlsplit(path).query)
        offer = query.get("do", ["page"])[0]
        key = f"drop:{query['story'][0]}" if offer == "drop" else offer
        found[key] = path
    return found


def invoke(config: Config, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args[:2], "--config", str(config.source), *args[2:]])
    return result.exit_code, result.stdout, result.stderr


def log_of(config: Config) -> list[tuple[str, str, str]]:
    with state.connect(config.database) as conn:
        return [(r["action"], r["story"], r["actor"]) for r in reviews.review_actions(conn, ISSUE)]


def test_review_copy_drop_approve_then_the_release_sends_it(
    fixture_project: Path, smtp: SmtpServer, state_database: str, secret: None
) -> None:
    config, copies = in_review(fixture_project, smtp, state_database)
    assert sorted(m["To"] for m in copies) == sorted(EDITORS)  # nobody else
    before = titles(config)
    assert len(before) == 4 and issue_json(config)["status"] == "review"
    copy = to(copies, "ed@example.org")
    assert copy["Subject"].startswith("[Review] Fixture News digest")
    assert "REVIEW COPY of issue 2021-W13: not sent to readers yet." in text_of(copy)
    assert "It goes out only when an editor approves it. It goes to 2 readers." in text_of(copy)
    html = html_of(copy)
    assert html.index("Review copy of issue 2021-W13") < html.index(before[0])  # the box on top
    assert copy["List-Unsubscribe"] and copy["Message-ID"]  # the real message's headers
    index, atom = archive(config)
    assert ISSUE not in index and ISSUE not in atom  # not published while in review
    # no reader gets it, by `send` or the release, until it is approved
    code, _, err = invoke(config, "send")
    assert code == 1 and "it waits for an editor to approve it" in err
    jobs.release(str(config.source), now=MONDAY + timedelta(days=1))
    assert len(smtp.messages) == 2

    links = review_links(copy)
    first = next(key for key in links if key.startswith("drop:"))  # story 1, a top story
    for served in serve(config, preview=False):
        status, _, page = served.request(links[first])  # a GET asks, never acts
        assert status == 200 and "Drop “" in page.decode() and titles(config) == before
        status, _, page = post(served, links[first], [("do", "drop"), ("story", first[5:])])
        assert status == 200 and f"Dropped “{before[0]}”." in page
        # a forged link acts on nothing
        forged = links["approve"].replace("sig=", "sig=x")
        assert post(served, forged, [("do", "approve")])[0] == 400
        assert served.request(forged)[0] == 400
        chief = review_links(to(copies, "chief@example.org"))
        status, _, page = post(served, chief["approve"], [("do", "approve")])
        assert status == 200 and "Approved by chief@example.org." in page
        # once approved, the story list is settled
        status, _, page = post(served, links[first], [("do", "drop"), ("story", first[5:])])
        assert status == 409 and "already approved" in page
    after = titles(config)
    assert after[0] == before[1]  # the next story moved up
    assert sorted(after) == sorted(before[1:])  # (the fixture has no fifth story to come in)
    web = (config.output / "newsletter" / ISSUE / "index.html").read_text()
    assert before[0] not in web and before[1] in web  # the web copy followed
    index, atom = archive(config)
    assert ISSUE in index and ISSUE in atom  # approved: published

    jobs.release(str(config.source), now=MONDAY + timedelta(minutes=10))
    sent = smtp.wait_for(4)[2:]
    assert sorted(m["To"] for m in sent) == ["ada@example.com", "bob@example.com"]
    for message in sent:
        assert not message["Subject"].startswith("[Review]")
        assert before[0] not in text_of(message)  # bob's topics are rendered apart: dropped too
        assert "REVIEW COPY" not in text_of(message)
    assert after[0] in text_of(to(sent, "ada@example.com"))
    jobs.release(str(config.source), now=MONDAY + timedelta(minutes=20))
    jobs.digest_and_send(str(config.source), now=MONDAY + timedelta(hours=1))
    assert len(smtp.messages) == 4  # released once; the copy went once
    (dropped,) = [entry for entry in log_of(config) if entry[0] == "drop"]
    assert log_of(config) == [
        ("review", "", "schedule"),
        dropped,
        ("approve", "", "chief@example.org"),
    ]
    assert dropped[2] == "ed@example.org" and dropped[1].endswith("responsive-apps-easier")


def test_skip_on_the_command_line_is_never_sent_and_the_archive_says_so(
    fixture_project: Path, smtp: SmtpServer, state_database: str, secret: None
) -> None:
    config, _ = in_review(fixture_project, smtp, state_database)
    code, out, _ = invoke(config, "issue", "list")
    assert code == 0 and re.fullmatch(
        r"2021-W13   in review       4 stories  copy sent \S+ \S+ UTC  held until \S+ \S+ UTC\n",
        out,
    )
    code, out, _ = invoke(config, "issue", "skip", ISSUE, "--by", "Grace")
    assert (code, out) == (0, "Issue 2021-W13 skipped by Grace: it will not be sent.\n")
    code, _, err = invoke(config, "issue", "approve", ISSUE)
    assert (code, err) == (
        1,
        "error: issue 2021-W13 is already skipped: it cannot be approved now\n",
    )
    code, out, _ = invoke(config, "issue", "release")
    assert (code, out) == (0, "Nothing to release.\n")
    code, _, err = invoke(config, "send", "--force")
    assert (code, err) == (
        1,
        "error: issue 2021-W13 was skipped by Grace: it is not sent to anyone\n",
    )
    assert len(smtp.messages) == 2  # the two review copies only
    index, atom = archive(config)
    assert "not sent: the editors skipped this issue" in index and ISSUE not in atom
    web = (config.output / "newsletter" / ISSUE / "index.html").read_text()
    assert "Issue 2021-W13 was not sent" in web and titles(config)[0] not in web
    # the digest job again, an hour later: it builds, leaves the skipped issue as it
    # is, mails no second copy and sends nothing
    jobs.digest_and_send(str(config.source), now=MONDAY + timedelta(hours=1))
    assert issue_json(config)["status"] == "skipped" and len(smtp.messages) == 2
    assert "was not sent" in (config.output / "newsletter" / ISSUE / "index.html").read_text()
    # a process that recorded the skip and died before writing the files: the next
    # build files the issue as the database says
    info = config.issues_folder / ISSUE / "issue.json"
    info.write_text(info.read_text().replace('"status": "skipped"', '"status": "review"'))
    jobs.digest_and_send(str(config.source), now=MONDAY + timedelta(hours=2))
    assert issue_json(config)["status"] == "skipped" and len(smtp.messages) == 2
    code, out, _ = invoke(config, "issue", "show", ISSUE)
    lines = out.splitlines()
    assert lines[:3] == [
        "Issue 2021-W13: Fixture News digest — 4 April 2021",
        "Week ending 2021-04-04; skipped",
        "Web copy: https://fixture.example.org/news/newsletter/2021-W13/",
    ]
    assert lines[3] == "Top stories:" and re.fullmatch(r"   1\. \[[0-9a-f]{10}\] .+", lines[4])
    assert lines[-2:][1].endswith("Grace: skip") and "schedule: review" in lines[-2]


def test_drop_and_approve_on_the_command_line(
    fixture_project: Path, smtp: SmtpServer, state_database: str, secret: None
) -> None:
    config, _ = in_review(fixture_project, smtp, state_database)
    before = titles(config)
    code, out, _ = invoke(config, "issue", "drop", ISSUE, "2", "--by", "Ed")
    assert (code, out) == (
        0,
        f"Dropped from 2021-W13: {before[1]}\n"
        "Issue 2021-W13 now has 3 stories; its web copy follows.\n",
    )
    code, _, err = invoke(config, "issue", "drop", ISSUE, "nosuchstory")
    assert code == 1 and "has no story 'nosuchstory'" in err
    code, out, _ = invoke(config, "issue", "approve", ISSUE, "--by", "Ed")
    assert code == 0 and out.startswith("Issue 2021-W13 approved by Ed;")
    code, out, _ = invoke(config, "issue", "release")
    assert (code, out) == (
        0,
        "Issue 2021-W13 released: sent 2, failed 0, deferred 0 (`feedletter send --issue "
        "2021-W13` retries the deferred)\n",
    )
    sent = smtp.wait_for(4)[2:]
    assert all(before[1] not in text_of(m) for m in sent)
    assert all(before[0] in text_of(m) for m in sent)


def test_without_required_approval_the_issue_goes_after_the_hold(
    fixture_project: Path, smtp: SmtpServer, secret: None
) -> None:
    config = review_project(
        fixture_project, smtp.port, "var/state.sqlite3", require_approval=False, hold=2
    )
    _, out, _ = invoke(config, "check")  # (the fixture has rejected records: exit 3)
    assert (
        "\nReview: 2 editor(s), ed@example.org, chief@example.org; an issue goes out 2 h "
        "after its review copy unless skipped\n" in out
    )
    jobs.digest_and_send(str(config.source), now=MONDAY)
    copy = smtp.wait_for(2)[0]
    assert "It goes out at 2021-04-05 11:00 UTC unless an editor skips it" in text_of(copy)
    jobs.release(str(config.source), now=MONDAY + timedelta(hours=1, minutes=59))
    assert len(smtp.messages) == 2
    jobs.release(str(config.source), now=MONDAY + timedelta(hours=2))
    assert sorted(m["To"] for m in smtp.wait_for(4)[2:]) == ["ada@example.com", "bob@example.com"]
    index, _ = archive(config)
    assert ISSUE in index and issue_json(config)["status"] == ""


def test_review_settings_are_checked(fixture_project: Path) -> None:
    path = fixture_project / "config.yaml"
    text = path.read_text()
    block = "newsletter:\n  review:\n    hold_hours: 60\n    editors: [ed@example.org]\n"
    path.write_text(text.replace("newsletter:\n", block, 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "review.hold_hours (60) must be shorter than send_window_hours (48)" in str(caught.value)
    path.write_text(text.replace("newsletter:\n", "newsletter:\n  review:\n    editors: []\n", 1))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "newsletter.review.editors" in str(caught.value)
    path.write_text(text)  # without review, the editor's commands say how to turn it on
    code, _, err = invoke(load_config(path), "issue", "approve", ISSUE)
    assert (code, err.splitlines()[0][:40]) == (1, "error: newsletter.review is not set: iss")


def test_an_editor_drops_a_story_and_approves_in_a_real_browser(
    fixture_project: Path, smtp: SmtpServer, secret: None, browser: object, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    config, copies = in_review(fixture_project, smtp)
    copy = to(copies, "ed@example.org")
    before = titles(config)
    # the review copy as a mail client shows it: the box above the issue
    shown = tmp_path / "copy.html"
    shown.write_text(html_of(copy), encoding="utf-8")
    copy_shot = tmp_path / "review-copy.png"
    chromium("--window-size=700,1400", f"--screenshot={copy_shot}", shown.as_uri())
    driver: Any = browser
    for served in serve(config, preview=False):
        drop = next(path for key, path in review_links(copy).items() if key.startswith("drop:"))
        driver.get(served.base + drop)
        assert titles(config) == before  # opening the link changed nothing
        form = driver.find_element(By.XPATH, "//form[.//button[text()='Drop it']]")
        assert before[0] in form.text
        form.find_element(By.TAG_NAME, "button").click()
        wait_for_text(driver, f"Dropped “{before[0]}”.")
        assert titles(config)[0] == before[1]
        items = driver.find_elements(By.CSS_SELECTOR, "ol li")
        assert [i.text.split(" (")[0] for i in items] == titles(config)
        page_shot = tmp_path / "review.png"
        driver.set_window_size(1000, 1100)
        driver.save_screenshot(str(page_shot))
        driver.find_element(By.XPATH, "//button[text()='Approve']").click()
        wait_for_text(driver, "Approved by ed@example.org.")
    assert log_of(config)[-1] == ("approve", "", "ed@example.org")
    for shot in (copy_shot, page_shot):
        assert Image.open(shot).size[0] >= 700
    if os.environ.get("FEEDLETTER_UPDATE_SCREENSHOTS") == "1":
        shots = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
        shutil.copy(copy_shot, shots / "review-copy.png")
        shutil.copy(page_shot, shots / "review-page.png")


def wait_for_text(driver: Any, text: str) -> None:
    """Until the page the click led to holds ``text`` (at most 15 s)."""
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.support.ui import WebDriverWait

    def found(driver: Any) -> bool:
        return text in str(driver.execute_script("return document.body.innerText"))

    WebDriverWait(driver, 15, poll_frequency=0.05, ignored_exceptions=(WebDriverException,)).until(
        found
    )


def test_two_releases_at_once_send_the_issue_once(
    fixture_project: Path, smtp: SmtpServer, state_database: str, secret: None
) -> None:
    import threading

    from newsletter.review import workflow

    config, _ = in_review(fixture_project, smtp, state_database)
    assert invoke(config, "issue", "approve", ISSUE)[0] == 0
    start = threading.Barrier(2)
    results: list[list[workflow.Released]] = []

    def release() -> None:
        start.wait()
        results.append(workflow.release(load_config(config.source), MONDAY + timedelta(hours=1)))

    threads = [threading.Thread(target=release) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    released = [item for found in results for item in found]
    assert len(results) == 2 and [item.issue_id for item in released] == [ISSUE]
    assert released[0].report is not None and len(released[0].report.sent) == 2
    assert sorted(m["To"] for m in smtp.messages[2:]) == ["ada@example.com", "bob@example.com"]


def test_a_send_from_the_shell_after_the_hold_lists_the_issue_at_once(
    fixture_project: Path, smtp: SmtpServer, secret: None
) -> None:
    config, _ = in_review(fixture_project, smtp, require_approval=False, hold=2)
    index, _ = archive(config)
    assert ISSUE not in index
    code, out, _ = invoke(config, "send")  # now is years past the hold
    assert code == 0 and "Sent 2, already sent 0" in out
    assert sorted(m["To"] for m in smtp.wait_for(4)[2:]) == ["ada@example.com", "bob@example.com"]
    index, atom = archive(config)
    assert ISSUE in index and ISSUE in atom and issue_json(config)["status"] == ""
    code, out, _ = invoke(config, "issue", "release")
    assert (code, out) == (0, "Nothing to release.\n")
