"""Test sends: an issue, every topic, to a few addresses, outside the subscriber lifecycle.

``send --test ADDRESS`` lets an editor see the issue in real inboxes before the
readers do. The subject starts with "[Test] "; the links in the footer are sample
links (they change nobody's subscription); nothing is written to the send log and
no subscriber is read or touched, so a later real send is unaffected. A stale
issue needs no ``--force``: nobody on the list gets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from feeds.urls import join
from newsletter.addresses import normalise_address
from newsletter.errors import NothingToSend
from newsletter.issue.archive import IssueInfo, read_parts
from newsletter.issue.message import PreparedMessage
from newsletter.issue.variants import ProjectInputs, issue_topics, issue_variants
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending.queue import Hooks
from newsletter.sending.settings import SendSettings

if TYPE_CHECKING:
    from feeds.build import Project

TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class _Retitled:
    """The issue's parts under the test subject."""

    issue_id: str
    subject: str
    html: str
    text: str


def send_test(
    project: Project | ProjectInputs,
    settings: SendSettings,
    info: IssueInfo,
    addresses: Sequence[str],
    hooks: Hooks | None = None,
) -> list[tuple[str, str, str]]:
    """Send issue ``info`` (all topics) to ``addresses``: (address, outcome, reply) each."""
    hooks = hooks or Hooks()
    look = settings.look
    recipients = [normalise_address(a) for a in addresses]
    inputs = project if isinstance(project, ProjectInputs) else ProjectInputs.of(project)
    default, _ = issue_topics(look, inputs.topics())
    filed = read_parts(settings.issues_folder, info)
    issue = issue_variants(inputs, look, info, [default], filed)[default]
    if issue is None:
        raise NothingToSend(info.id)
    issue = _Retitled(issue.issue_id, TEST_PREFIX + issue.subject, issue.html, issue.text)
    prepared = PreparedMessage(issue, look.newsletter, look.site, signer=settings.signer)
    transport = hooks.transport or SmtpTransport(settings.smtp)
    sample = join(look.site.base_url, "unsubscribe?token=test")
    preferences = join(look.site.base_url, "preferences?token=test")
    results = []
    try:
        for address in recipients:
            data, _ = prepared.message(address, sample, hooks.clock(), preferences)
            outcome, reply, _ = deliver_one(
                transport, settings.return_path, address, data, settings.smtp, hooks.sleep
            )
            results.append((address, outcome, reply))
    finally:
        transport.close()
    return results
