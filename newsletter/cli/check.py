"""``check``: everything a build would do, validated and shown, nothing written."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from feeds.build.outputs import icon_warning
from feeds.selection.showing import rank_key
from feeds.text import truncate
from newsletter.cli.group import (
    EXIT_REJECTED,
    VERBOSE,
    cli,
    config_option,
    say,
    shown_path,
    verbosity,
)
from newsletter.config import load_config
from newsletter.mail.dkim import Signer
from newsletter.runtime.sitebuild import check_site


@cli.command()
@config_option
def check(config_path: Path) -> None:
    """Check the config, templates and every record without writing anything; exit 3 on
    problems."""
    config = load_config(config_path)
    found = check_site(config, datetime.now(UTC))
    topics, corpus, selection = found.project.topics, found.project.corpus, found.feeds.selection
    say(
        f"Config {shown_path(config_path)}: valid; {len(topics.topics)} topics, "
        f"{corpus.read} records"
    )
    icon = config.site.icon
    problem = icon_warning(icon)
    if problem or icon is None:
        say(f"Icon: warning: {problem}")
    else:
        say(f"Icon: {shown_path(icon)} (square)")
    signer = Signer.of_config(config)  # a key send could not read stops check too
    if signer is not None:
        say(f"DKIM: signing as {signer.domain} (selector {signer.selector}, {signer.algorithm})")
    review = config.newsletter.review
    if review is not None:
        when = (
            "nothing goes out until one approves"
            if review.require_approval
            else f"an issue goes out {review.hold_hours:g} h after its review copy unless skipped"
        )
        say(f"Review: {len(review.editors)} editor(s), {', '.join(review.editors)}; {when}")
    say(f"Rejected records: {len(corpus.rejected)}")
    for error in corpus.rejected:
        say(f"  {error.path}: {error.reason}")
    empty = [
        topics.by_id[t.topic_id].name for t in selection.topics if t.topic_id and not t.articles
    ]
    say(f"Topics with no qualifying articles: {', '.join(empty) or 'none'}")
    unknown = [truncate(name, 60) for name in selection.unknown_topics]
    say(f"Topic names used by records but not defined: {', '.join(unknown) or 'none'}")
    say(
        f"Stories told by several records: {len(selection.stories)} "
        f"({selection.copies_folded} extra copies folded into them)"
    )
    for story in selection.stories:
        first = corpus.article(story.copies[0])
        say(f"  {truncate(first.title, 80)!r} ({first.published_at:%Y-%m-%d}):")
        for copy in sorted(story.copies, key=rank_key):
            provider = copy.provider_name or "no provider"
            say(f"    {copy.path} ({provider}, quality {copy.quality})")
    taken = found.feeds.removal
    if taken.removed or taken.emptied:
        say(
            f"A build would remove {len(taken.removed)} and empty {len(taken.emptied)} of the "
            f"{taken.published} published feed files"
            + (
                " (it stops: more than half, or every topic; --allow-removal)"
                if taken.drastic
                else ""
            )
        )
        for name in taken.removed:
            say(f"  removed: {name}", VERBOSE)
        for name in taken.emptied:
            say(f"  emptied: {name}", VERBOSE)
    notes = [(a.path, a.excerpt_note) for a in found.project.cleaned() if a.excerpt_note]
    trimmed = sum(note.startswith("trimmed") for _, note in notes)
    say(
        f"Excerpts cleaned: {trimmed} trimmed, {len(notes) - trimmed} dropped"
        + (" (-v lists them)" if notes and verbosity() < VERBOSE else "")
    )
    for path, note in notes:
        say(f"  {path}: {truncate(note, 160)}", VERBOSE)
    if found.issue is not None:
        stories = len(found.issue.plan.items)
        say(f"Digest due now: {stories} stories, rendered without errors")
    else:
        say("Digest due now: none (no stories in its period)")
    if corpus.rejected:
        click.echo(f"error: {len(corpus.rejected)} record(s) rejected", err=True)
        sys.exit(EXIT_REJECTED)
    if taken.drastic:
        click.echo(f"error: {taken.error()}", err=True)
        sys.exit(EXIT_REJECTED)
    say("OK")
