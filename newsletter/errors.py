"""The newsletter's errors, on the same base as the feeds' (``FeedletterError``).

They live here, not in ``feeds``: the feeds know nothing of the newsletter. One
class per condition, each carrying its fields and saying how to fix it; they
group under ``SubscriberError`` (the audience refused something) and
``DeliveryError`` (sending stopped), so a caller catches a group or one case.
Nothing here prints: the CLI's group turns them into one line and an exit code.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from feeds.errors import FeedletterError


class EmptyIssueError(FeedletterError):
    """A digest period has no qualifying articles; nothing is produced."""

    message = "no articles to send"

    def __init__(self, issue_id: str, start: str, end: str) -> None:
        self.issue_id = issue_id
        super().__init__(
            f"issue {issue_id}: no qualifying articles from {start} to {end}; "
            "no digest was produced (use --force to produce an empty one, "
            "or --date to pick another week)"
        )


class StateError(FeedletterError):
    """The state database cannot be used (corrupt, locked, unwritable)."""

    message = "the state database cannot be used"

    def __init__(self, where: Path | str, reason: str) -> None:
        # the SQLite file or the server's URL (never with a password)
        self.where = str(where)
        self.reason = reason
        super().__init__(f"{self.where}: {reason}")


class SubscriberError(FeedletterError):
    """A subscriber operation was refused (the cases below)."""

    message = "subscriber operation refused"


class InvalidAddress(SubscriberError):
    """What was given as a mail address is not one we can send to."""

    def __init__(self, value: str, reason: str = "") -> None:
        # what was given (cut to 80 characters in the message)
        self.value = value
        # why not, or "" when it is not an address at all
        self.reason = reason
        super().__init__(
            f"{value[:80]!r} is not an email address" + (f": {reason}" if reason else "")
        )


class UnknownTopics(SubscriberError):
    """Topic ids that no topic has."""

    def __init__(self, unknown: Sequence[str], known: Sequence[str]) -> None:
        self.unknown = tuple(unknown)
        self.known = tuple(known)
        super().__init__(f"unknown topic(s) {', '.join(unknown)}; known topics: {', '.join(known)}")


class NotASubscriber(SubscriberError):
    """No subscriber has this address."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(f"{address} is not a subscriber")


class AskedToBeForgotten(SubscriberError):
    """The address is on the suppression list: its owner asked to be forgotten."""

    def __init__(self, address: str) -> None:
        self.address = address
        super().__init__(
            f"{address} asked to be forgotten; add it again only with their new consent "
            "(--reconsent)"
        )


class SuppressionNeedsSecret(SubscriberError):
    """The suppression list holds keyed hashes: checking an address needs the secret."""

    def __init__(self) -> None:
        super().__init__(
            "the suppression list can only be checked with the secret: set the environment "
            "variable named by state.secret_env"
        )


class UnreadableList(SubscriberError):
    """A CSV file to import cannot be read as a subscriber list."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DeliveryError(FeedletterError):
    """Sending stopped (the cases below)."""

    message = "sending stopped"


class MissingSecret(DeliveryError):
    """The link-signing secret is not in the environment, or is too weak to sign with."""

    def __init__(self, variable: str, reason: str) -> None:
        self.variable = variable
        self.reason = reason
        super().__init__(reason)


class NoIssue(DeliveryError):
    """The issues folder holds no issue to send."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        super().__init__(f"no digest issue in {self.folder}; run `feedletter digest` first")


class UnknownIssue(DeliveryError):
    """No issue has this id."""

    def __init__(self, issue_id: str, known: Sequence[str]) -> None:
        self.issue_id = issue_id
        self.known = tuple(known)
        super().__init__(f"no issue {issue_id!r} in the archive; issues: {', '.join(known)}")


class SendWindowClosed(DeliveryError):
    """The issue's period ended longer ago than ``newsletter.send_window_hours``."""

    def __init__(self, issue_id: str, ended: datetime, hours: float) -> None:
        self.issue_id = issue_id
        self.ended = ended
        self.hours = hours
        super().__init__(
            f"issue {issue_id} ended {ended:%Y-%m-%d %H:%M} UTC, more than {hours:g} "
            "hours ago (newsletter.send_window_hours); pass --force to send it anyway"
        )


class NothingToSend(DeliveryError):
    """The issue has no stories for the topics asked for (a test send)."""

    def __init__(self, issue_id: str) -> None:
        self.issue_id = issue_id
        super().__init__(f"issue {issue_id} has no stories for the default topics")


class MailServerRefused(DeliveryError):
    """The mail server refused the whole run: the login, or the sender."""

    def __init__(self, what: str, reply: str, advice: str) -> None:
        # "login" or "sender"
        self.what = what
        # the server's code and text, or what is missing
        self.reply = reply
        super().__init__(f"{reply}; {advice}")


class NoticeNotSent(DeliveryError):
    """A sign-up notice could not be handed to the mail server."""

    def __init__(self, kind: str, address: str, reason: str) -> None:
        self.kind = kind
        self.address = address
        self.reason = reason
        super().__init__(f"the {kind} notice to {address} was not sent: {reason}")


class BusyError(FeedletterError):
    """Another feedletter process holds the lock this command needs."""

    message = "another feedletter process is running"


class ReturnedMailError(FeedletterError):
    """A path given to ``bounces import`` is neither a Maildir folder nor an mbox file."""

    message = "cannot read the returned mail"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        super().__init__(f"{self.path}: {reason}")


class ExportError(FeedletterError):
    """The subscriber export could not be written; no partial file is left."""

    message = "cannot write the export"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot write {self.path}: {reason}")


class ReviewError(FeedletterError):
    """Review before send (``newsletter.review``) refused something (the cases below)."""

    message = "review refused"


class ReviewOff(ReviewError):
    """An editor's action was asked for, but ``newsletter.review`` is not set."""

    def __init__(self) -> None:
        super().__init__(
            "newsletter.review is not set: issues go out as rendered; add newsletter.review "
            "with editors: [...] to review them first"
        )


class NotApproved(ReviewError):
    """The issue may not be sent yet: it waits for an editor (or for its hold)."""

    def __init__(self, issue_id: str, reason: str) -> None:
        self.issue_id = issue_id
        self.reason = reason
        super().__init__(f"issue {issue_id} is not released for sending: {reason}")


class IssueSkipped(ReviewError):
    """The editors skipped the issue: it is never sent."""

    def __init__(self, issue_id: str, by: str) -> None:
        self.issue_id = issue_id
        self.by = by
        super().__init__(f"issue {issue_id} was skipped by {by}: it is not sent to anyone")


class ReviewSettled(ReviewError):
    """The action no longer applies: the issue was already approved, skipped or sent."""

    def __init__(self, issue_id: str, action: str, state: str) -> None:
        self.issue_id = issue_id
        self.action = action
        self.state = state
        super().__init__(f"issue {issue_id} is already {state}: it cannot be {action} now")


class UnknownStory(ReviewError):
    """No story of the issue has this name."""

    def __init__(self, issue_id: str, story: str, known: Sequence[str]) -> None:
        self.issue_id = issue_id
        self.story = story
        self.known = tuple(known)
        super().__init__(
            f"issue {issue_id} has no story {story!r}; `feedletter issue show {issue_id}` "
            f"lists them (by number or name: {', '.join(known) or 'none'})"
        )


class LastStory(ReviewError):
    """Dropping the story would leave the issue empty."""

    def __init__(self, issue_id: str) -> None:
        self.issue_id = issue_id
        super().__init__(
            f"dropping that story would leave issue {issue_id} empty; "
            f"skip the issue instead (`feedletter issue skip {issue_id}`)"
        )
