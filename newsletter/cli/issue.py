"""``issue list | show | review | approve | skip | drop | release``: the editor's seat.

Thin wrappers over ``newsletter.review.workflow``; the same actions as the links
in the review copy (``newsletter.review``). The log names the shell user as who
acted, unless ``--by`` says otherwise.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter.cli.group import cli, config_option, plain, say
from newsletter.config import load_config

if TYPE_CHECKING:
    from newsletter.issue.marks import Review
    from newsletter.review.workflow import Acted, Status


def _shell_user() -> str:
    try:
        return f"{getpass.getuser()} (shell)"
    except (KeyError, OSError):
        return "shell"


by_option = click.option(
    "--by",
    "actor",
    default=None,
    help="Who the review log names as taking the action (default: the shell user).",
)


@cli.group()
def issue() -> None:
    """Review issues before they are sent (newsletter.review)."""


def state_of(review: Review | None, status: str) -> str:
    """How ``issue list`` names where an issue stands."""
    if review is None:
        return "in review" if status == "review" else "not reviewed"
    if review.released_at is not None:
        return "released"
    return {"pending": "in review", "approved": "approved", "skipped": "skipped"}[review.state]


def _when(value: datetime | None) -> str:
    return f"{value:%Y-%m-%d %H:%M} UTC" if value is not None else ""


def _line(found: Status) -> str:
    info, review = found.info, found.review
    parts = [f"{info.id:<9}", f"{state_of(review, info.status):<12}", f"{info.stories:>3} stories"]
    if review is not None:
        if review.copy_sent_at is not None:
            parts.append(f"copy sent {_when(review.copy_sent_at)}")
        if review.released_at is not None:
            parts.append(f"released {_when(review.released_at)}")
        elif review.state == "pending":
            parts.append(f"held until {_when(review.hold_until)}")
    return "  ".join(parts)


@issue.command("list")
@config_option
def list_issues(config_path: Path) -> None:
    """Every issue in the archive, newest first, and where its review stands."""
    from newsletter.review.workflow import statuses

    found = statuses(load_config(config_path))
    if not found:
        say("No issues yet.")
    for status in found:
        say(plain(_line(status)))


@issue.command("show")
@config_option
@click.argument("issue_id")
def show(config_path: Path, issue_id: str) -> None:
    """An issue's stories (numbered, with the names `drop` takes) and its review log."""
    from newsletter.review.workflow import statuses

    found = statuses(load_config(config_path), issue_id)[0]
    info = found.info
    say(plain(f"Issue {info.id}: {info.subject}"))
    say(f"Week ending {info.date}; {state_of(found.review, info.status)}")
    say(f"Web copy: {info.url}")
    section = None
    for number, story in enumerate(info.toc, 1):
        if story.section != section:
            section = story.section
            say(plain(f"{section}:"))
        say(plain(f"  {number:>2}. [{story.ref}] {story.title}"))
    if found.actions:
        say("Review log:")
    for action, key, actor, at in found.actions:
        # a dropped story is named by its key (its URL): it is no longer in the issue
        say(plain(f"  {at}  {actor}: {action} {key}".rstrip()))


@issue.command("review")
@config_option
@click.argument("issue_id", required=False)
@by_option
def review(config_path: Path, issue_id: str | None, actor: str | None) -> None:
    """Put an issue (default: the newest) under review and mail the editors their
    review copy, if it was not mailed yet (what the digest job does)."""
    from newsletter.review.workflow import settings_of, start_review
    from newsletter.sending.delivery import find_issue

    config = load_config(config_path)
    settings_of(config)
    info = find_issue(config.issues_folder, issue_id)
    started = start_review(config, info, datetime.now(UTC), actor or _shell_user())
    if not started.copies:
        say(f"Issue {info.id} is under review; its review copy was sent before.")
    for editor, outcome, reply in started.copies:
        say(plain(f"Review copy of {info.id} to {editor}: {outcome} ({reply})"))


def _done(acted: Acted) -> None:
    if acted.action == "drop":
        assert acted.story is not None
        say(plain(f"Dropped from {acted.issue_id}: {acted.story.title}"))
        say(f"Issue {acted.issue_id} now has {acted.info.stories} stories; its web copy follows.")
    elif acted.action == "approve":
        say(
            f"Issue {acted.issue_id} approved by {plain(acted.actor)}; it goes out at the next "
            "release (schedule.release, or `feedletter issue release`)."
        )
    else:
        say(f"Issue {acted.issue_id} skipped by {plain(acted.actor)}: it will not be sent.")


def _act(config_path: Path, issue_id: str, action: str, actor: str | None, story: str = "") -> None:
    from newsletter.review.workflow import act

    config = load_config(config_path)
    _done(act(config, issue_id, action, actor or _shell_user(), datetime.now(UTC), story))


@issue.command("approve")
@config_option
@click.argument("issue_id")
@by_option
def approve(config_path: Path, issue_id: str, actor: str | None) -> None:
    """Approve an issue: the next release sends it."""
    _act(config_path, issue_id, "approve", actor)


@issue.command("skip")
@config_option
@click.argument("issue_id")
@by_option
def skip(config_path: Path, issue_id: str, actor: str | None) -> None:
    """Skip this week's issue: it is never sent, and the archive says so."""
    _act(config_path, issue_id, "skip", actor)


@issue.command("drop")
@config_option
@click.argument("issue_id")
@click.argument("story")
@by_option
def drop(config_path: Path, issue_id: str, story: str, actor: str | None) -> None:
    """Drop a story (its number or name in `issue show`) and render the issue again."""
    _act(config_path, issue_id, "drop", actor, story)


@issue.command("release")
@config_option
def release(config_path: Path) -> None:
    """Send every reviewed issue that is due (what the release job does; for cron)."""
    from newsletter.review.workflow import release as release_due

    done = release_due(load_config(config_path), datetime.now(UTC))
    if not done:
        say("Nothing to release.")
    for item in done:
        if item.report is None:
            say(f"Issue {item.issue_id} not sent: {item.problem}")
        else:
            sent = item.report
            say(
                f"Issue {item.issue_id} released: sent {len(sent.sent)}, failed "
                f"{len(sent.failed)}, deferred {len(sent.deferred)} (`feedletter send --issue "
                f"{item.issue_id}` retries the deferred)"
            )
