"""The newsletter's errors, on the same base as the feeds' (``FeedletterError``).

They live here, not in ``feeds``: the feeds know nothing of the newsletter.
Subclasses carry what a person needs to fix the problem; nothing here prints.
"""

from __future__ import annotations

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
    """A subscriber operation was refused (bad address, unknown topic, not found)."""

    message = "subscriber operation refused"


class DeliveryError(FeedletterError):
    """Sending stopped (authentication refused, no usable issue, missing secret)."""

    message = "sending stopped"


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
