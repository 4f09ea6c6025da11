"""``send``: deliver an issue to every subscriber who has not received it."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from newsletter import state
from newsletter.cli.group import EXIT_UNDELIVERED, cli, config_option, progress_bar, say
from newsletter.config import Config, load_config
from newsletter.issue.variants import ProjectInputs
from newsletter.runtime.migrate import migrate

if TYPE_CHECKING:
    from newsletter.sending.delivery import SendReport


@cli.command()
@config_option
@click.option(
    "--issue", "issue_id", default=None, help="Issue id (e.g. 2021-W44); default: the newest."
)
@click.option(
    "--dry-run", is_flag=True, help="Render and count, but connect to no server and send nothing."
)
@click.option(
    "--limit", type=click.IntRange(min=1), default=None, help="Send at most N messages in this run."
)
@click.option("--force", is_flag=True, help="Send even if the issue's period ended long ago.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Send over N SMTP connections at once (recipients are claimed: one copy each).",
)
@click.option(
    "--test",
    "test_addresses",
    multiple=True,
    metavar="ADDRESS",
    help="Send the issue (every topic, '[Test]' subject) only to ADDRESS; repeatable. "
    "Nothing is logged and no subscriber is touched.",
)
def send(
    config_path: Path,
    issue_id: str | None,
    dry_run: bool,
    limit: int | None,
    force: bool,
    workers: int,
    test_addresses: tuple[str, ...],
) -> None:
    """Send a digest issue to every active subscriber who has not received it yet."""
    from newsletter.sending import delivery
    from newsletter.sending.queue import Hooks

    config = load_config(config_path)
    migrate(config)
    if test_addresses:
        send_tests(config, issue_id, test_addresses)
        return
    # no work lock: several senders (here or on other hosts) run side by side,
    # kept apart by their claims on recipients (newsletter/sending/claims.py)
    settings = delivery.SendSettings.of(config)
    with state.connect(settings.database) as conn:
        info = delivery.find_issue(settings.issues_folder, issue_id)
        now = datetime.now(UTC)
        delivery.check_window(info, settings.send_window_hours, now, force or dry_run)
        if config.newsletter.review is not None and not dry_run:
            from newsletter.review.workflow import begin_send

            begin_send(config, info, now)  # the editors' say, and the archive lists it
        project = ProjectInputs.of_config(config)
        options = delivery.SendOptions(dry_run=dry_run, limit=limit, workers=workers)
        with progress_bar(f"Sending {info.id}") as advance:
            report = delivery.send_issue(
                conn, project, settings, info, options, Hooks(on_progress=advance)
            )
    print_send_summary(report)
    if report.failed or report.deferred:
        sys.exit(EXIT_UNDELIVERED)


def send_tests(config: Config, issue_id: str | None, addresses: tuple[str, ...]) -> None:
    """``send --test``: the issue to a few addresses, outside the send log."""
    from newsletter.sending import delivery
    from newsletter.sending.testsend import send_test

    settings = delivery.SendSettings.of(config)
    info = delivery.find_issue(settings.issues_folder, issue_id)
    results = send_test(ProjectInputs.of_config(config), settings, info, addresses)
    for address, outcome, reply in results:
        say(f"Test of {info.id} to {address}: {outcome} ({reply})")
    if any(outcome != "sent" for _, outcome, _ in results):
        sys.exit(EXIT_UNDELIVERED)


def print_send_summary(report: SendReport) -> None:
    """The final summary of a send run."""
    mode = " (dry run: nothing sent)" if report.dry_run else ""
    say(
        f"Issue {report.issue_id}{mode}: {report.planned} subscribers to send to, "
        f"{report.variants} rendered variant(s)"
    )
    say(
        f"Sent {len(report.sent)}, already sent {report.already_sent}, "
        f"failed {len(report.failed)}, deferred {len(report.deferred)}, "
        f"nothing new {report.nothing_new}, failed in earlier runs {report.failed_before}"
    )
    for address, reply in report.failed:
        say(f"  failed {address}: {reply}")
    for address, reply in report.deferred:
        say(f"  deferred {address} (retried on the next run): {reply}")
    for address in report.bounced:
        say(f"  bounced {address}: no further issues (newsletter.bounces)")
    if report.claimed_elsewhere:
        say(f"  {report.claimed_elsewhere} being sent by another sender right now (claimed)")
    if report.limited:
        say("  stopped at --limit; run send again to continue")
