"""The exception hierarchy of feedletter.

Every error the library raises on purpose is a ``FeedletterError``; subclasses
carry what a person needs to fix the problem (a path, a config key, a topic) and
a default message. The CLI turns them into one-line messages; nothing here prints.
"""

from __future__ import annotations

from pathlib import Path


class FeedletterError(Exception):
    """Base class of every error feedletter raises on purpose."""

    message = "feedletter failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def yaml_problem(exc: BaseException) -> str:
    """A YAML parser error as one line: "line N, column M: what is wrong"."""
    mark = getattr(exc, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    problem = getattr(exc, "problem", None) or (str(exc).splitlines() or [type(exc).__name__])[0]
    return f"{where}{problem}"


class RecordError(FeedletterError):
    """One article record cannot be used; the build skips it and goes on."""

    message = "the record cannot be used"

    def __init__(self, path: Path | str, reason: str | None = None) -> None:
        self.path = Path(path)
        self.reason = reason or type(self).message
        super().__init__(f"{self.path}: {self.reason}")


class ConfigError(FeedletterError):
    """The configuration is invalid; ``key`` names the offending setting."""

    message = "invalid configuration"

    def __init__(self, key: str, problem: str, source: Path | str | None = None) -> None:
        self.key = key
        self.problem = problem
        self.source = Path(source) if source is not None else None
        where = f"{self.source}: " if self.source is not None else ""
        super().__init__(f"{where}{key}: {problem}")


class TopicError(FeedletterError):
    """A topic definition is unusable (bad id, unknown parent, a cycle)."""

    message = "invalid topic definition"

    def __init__(self, topic: str, problem: str, path: Path | str | None = None) -> None:
        self.topic = topic
        self.problem = problem
        self.path = Path(path) if path is not None else None
        where = f"{self.path}: " if self.path is not None else ""
        super().__init__(f"{where}topic {topic!r}: {problem}")


class OutputError(FeedletterError):
    """Writing the outputs failed; the previous outputs are left in place."""

    message = "could not write the outputs"

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason} (previous outputs were left in place)")


class RemovalError(FeedletterError):
    """A build would take down much of what is published; nothing was written."""

    message = "the build would remove published feeds"

    def __init__(self, removed: tuple[str, ...], emptied: tuple[str, ...], published: int) -> None:
        # feed files the build would delete, and feeds it would leave without items
        self.removed = removed
        self.emptied = emptied
        # how many feed files are published now
        self.published = published
        names = [*removed, *(f"{path} (emptied)" for path in emptied)]
        shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
        super().__init__(
            f"this build would remove {len(removed)} and empty {len(emptied)} of the "
            f"{published} published feed files ({shown}); nothing was written. Check "
            "content.news, content.topics and the topics in the config; if the removal "
            "is intended, build again with --allow-removal"
        )
