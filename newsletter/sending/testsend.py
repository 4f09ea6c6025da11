"""Test sends: an issue, every topic, to a few addresses, outside the subscriber lifecycle.

``send --test ADDRESS`` lets an editor see the issue in real inboxes before the
readers do. The subject starts with "[Test] "; the links in the footer are sample
links (they change nobody's subscription); nothing is written to the send log and
no subscriber is read or touched, so a later real send is unaffected. A stale
issue needs no ``--force``: nobody on the list gets it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from feeds.build import Project
from feeds.urls import join
from newsletter.audience.lifecycle import normalise_address
from newsletter.config import Config
from newsletter.errors import NothingToSend
from newsletter.issue.archive import IssueInfo
from newsletter.issue.message import PreparedMessage, return_path
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending.delivery import issue_topics, render_variants

TEST_PREFIX = "[Test] "


def send_test(
    project: Project,
    config: Config,
    info: IssueInfo,
    addresses: Sequence[str],
    *,
    transport: SmtpTransport | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] | None = None,
) -> list[tuple[str, str, str]]:
    """Send issue ``info`` (all topics) to ``addresses``: (address, outcome, reply) each."""
    import time

    recipients = [normalise_address(a) for a in addresses]
    default, _ = issue_topics(config, project)
    issue = render_variants(project, config, info.period, [default])[default]
    if issue is None:
        raise NothingToSend(info.id)
    issue = replace(issue, subject=TEST_PREFIX + issue.subject)
    prepared = PreparedMessage(issue, config.newsletter, config.site)
    envelope_from = return_path(config.newsletter, config.site)
    transport = transport or SmtpTransport(config.smtp)
    sample = join(config.site.base_url, "unsubscribe?token=test")
    preferences = join(config.site.base_url, "preferences?token=test")
    results = []
    try:
        for address in recipients:
            data, _ = prepared.message(address, sample, clock(), preferences)
            outcome, reply, _ = deliver_one(
                transport, envelope_from, address, data, config.smtp, sleep or time.sleep
            )
            results.append((address, outcome, reply))
    finally:
        transport.close()
    return results
