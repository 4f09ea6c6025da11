"""What every ``feedletter`` command shares: the group, options, output and errors.

The library raises ``FeedletterError``; the group (``Group.invoke``) is the one
place that turns it into a message and an exit code, whatever command raised it:

0 success · 1 an error stopped the command (message on stderr) · 2 usage error ·
3 ``--strict`` and at least one record was rejected · 4 another feedletter
process held the lock for longer than ``state.lock_wait_seconds`` · 5 ``send``
finished but some recipients failed or were deferred.

Commands live beside this module, one module per group; each is a thin wrapper
over a library call, and none catches a ``FeedletterError`` itself.
"""

from __future__ import annotations

import importlib
import logging
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from feeds import __version__
from feeds.errors import FeedletterError
from newsletter.config import DEFAULT_CONFIG
from newsletter.errors import BusyError
from newsletter.state.database import Database

EXIT_ERROR = 1
EXIT_REJECTED = 3
EXIT_BUSY = 4
EXIT_UNDELIVERED = 5

config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=DEFAULT_CONFIG,
    show_default=True,
    help="Configuration file; relative paths in it are resolved against its folder.",
)


GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-v", "--verbose"})


# each command's module, imported only when the command runs (or --help lists it),
# so `feedletter send` never loads the site build and `build` never loads `serve`
COMMANDS = {
    "bounces": "bounces",
    "build": "build",
    "check": "check",
    "doctor": "doctor",
    "digest": "build",
    "init": "init",
    "issue": "issue",
    "report": "report",
    "schedule": "schedule",
    "send": "send",
    "serve": "serve",
    "subscribers": "subscribers",
}


class Group(click.Group):
    """The ``feedletter`` group: ``-q``/``-v`` work after the command too
    (``feedletter check -v`` as ``feedletter -v check``), and each command's
    module is imported when it is asked for (its decorators register it here)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"newsletter.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if "--" in args:
            end = args.index("--")
            head, tail = args[:end], args[end:]
        else:
            head, tail = args, []
        flags = [a for a in head if a in GLOBAL_FLAGS]
        rest = [a for a in head if a not in GLOBAL_FLAGS]
        return super().parse_args(ctx, [*flags, *rest, *tail])

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a ``FeedletterError`` becomes one line on stderr and exit
        4 (another process holds the lock) or 1."""
        try:
            return super().invoke(ctx)
        except FeedletterError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_BUSY if isinstance(exc, BusyError) else EXIT_ERROR)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedletter")
@click.option("-q", "--quiet", is_flag=True, help="Print only errors (for cron).")
@click.option("-v", "--verbose", is_flag=True, help="Print more detail, and log to stderr.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool, verbose: bool) -> None:
    """Per-topic RSS/Atom feeds and a weekly email digest from a folder of news records."""
    if quiet and verbose:
        raise click.UsageError("-q and -v cannot be used together")
    ctx.meta["verbosity"] = QUIET if quiet else VERBOSE if verbose else NORMAL
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.ERROR if quiet else logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )


date_option = click.option(
    "--date",
    "end_date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Digest: the last day of the period the issue covers (schedule.timezone). "
    "Default: the period due now (see README: the digest period).",
)
force_option = click.option(
    "--force", is_flag=True, help="Digest: produce an issue even when it has no stories."
)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on a terminal (stderr); nothing when output is redirected."""
    if not sys.stderr.isatty() or verbosity() == QUIET:
        yield lambda done, total: None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


QUIET, NORMAL, VERBOSE = 0, 1, 2


def verbosity() -> int:
    """0 with -q, 2 with -v, else 1."""
    ctx = click.get_current_context(silent=True)
    return int(ctx.meta.get("verbosity", NORMAL)) if ctx is not None else NORMAL


def say(text: str, level: int = NORMAL) -> None:
    """Print a summary line on stdout unless the verbosity is below ``level``."""
    if verbosity() >= level:
        click.echo(text)


_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` safe for a terminal: control characters (escape sequences a visitor
    may have typed into a form) and bidirectional overrides shown as ``\\x1b``-style
    escapes instead of being obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


def warn(text: str) -> None:
    """Print a warning on stderr unless -q."""
    if verbosity() >= NORMAL:
        click.echo(f"warning: {text}", err=True)


def log_jobs() -> None:
    """Show feedletter's INFO lines (the scheduler's job lines) unless -q: the group
    logs warnings only, and a second ``logging.basicConfig`` would change nothing."""
    if verbosity() >= NORMAL:
        logging.getLogger("feedletter").setLevel(logging.INFO)


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def shown_database(database: Database) -> str:
    """The state database as messages name it: a file relative to here, or the URL."""
    return shown_path(database.path) if database.path is not None else database.shown


def main() -> None:
    """The CLI as the ``feedletter`` command runs it (``newsletter.__main__``)."""
    cli(prog_name="feedletter")
