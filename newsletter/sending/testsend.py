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
from newsletter.issue.message import MessageParts, PreparedMessage
from newsletter.issue.variants import ProjectInputs, issue_topics, issue_variants
from newsletter.mail.smtp import SmtpTransport, deliver_one
from newsletter.sending.queue import Hooks
from newsletter.sending.settings import SendSettings

if TYPE_CHECKING:
    from feeds.build import Project

TEST_PREFIX = "[Test] "


@dataclass(frozen=True)
class Retitled:
    """An issue's parts under another subject (a test or review copy)."""

    issue_id: str
    subject: str
    html: str
    text: str


def filed_issue(
    inputs: ProjectInputs, settings: SendSettings, info: IssueInfo, dropped: Sequence[str] = ()
) -> MessageParts:
    """The issue ``info`` as readers of the default topics get it (``NothingToSend``
    when that copy has no stories)."""
    default, _ = issue_topics(settings.look, inputs.topics())
    filed = read_parts(settings.issues_folder, info)
    issue = issue_variants(inputs, settings.look, info, [default], filed, dropped)[default]
    if issue is None:
        raise NothingToSend(info.id)
    return issue


def send_test(
    project: Project | ProjectInputs,
    settings: SendSettings,
    info: IssueInfo,
    addresses: Sequence[str],
    hooks: Hooks | None = None,
    dropped: Sequence[str] = (),
) -> list[tuple[str, str, str]]:
    """Send issue ``info`` (all topics) to ``addresses``: (address, outcome, reply) each."""
    recipients = [normalise_address(a) for a in addresses]
    inputs = project if isinstance(project, ProjectInputs) else ProjectInputs.of(project)
    issue = filed_issue(inputs, settings, info, dropped)
    test = Retitled(issue.issue_id, TEST_PREFIX + issue.subject, issue.html, issue.text)
    return send_copies(settings, [(address, test) for address in recipients], hooks)


def send_copies(
    settings: SendSettings,
    copies: Sequence[tuple[str, MessageParts]],
    hooks: Hooks | None = None,
) -> list[tuple[str, str, str]]:
    """Mail each (address, parts) over one connection, outside the send log, with
    sample footer links: (address, outcome, reply) each."""
    hooks = hooks or Hooks()
    look = settings.look
    transport = hooks.transport or SmtpTransport(settings.smtp)
    sample = join(look.site.base_url, "unsubscribe?token=test")
    preferences = join(look.site.base_url, "preferences?token=test")
    results = []
    try:
        for address, parts in copies:
            prepared = PreparedMessage(parts, look.newsletter, look.site, signer=settings.signer)
            data, _ = prepared.message(address, sample, hooks.clock(), preferences)
            outcome, reply, _ = deliver_one(
                transport, settings.return_path, address, data, settings.smtp, hooks.sleep
            )
            results.append((address, outcome, reply))
    finally:
        transport.close()
    return results
