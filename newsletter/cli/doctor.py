"""``doctor``: check the sending domain's DNS and the settings mailbox providers judge."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from newsletter.cli.group import EXIT_REJECTED, cli, config_option, plain
from newsletter.config import load_config
from newsletter.runtime.dnsrecords import Lookup
from newsletter.runtime.doctor import diagnose

MARKS = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


@cli.command()
@config_option
@click.option(
    "--nameserver",
    "nameservers",
    multiple=True,
    metavar="IP[:PORT]",
    help="Ask this DNS server instead of the system's resolvers (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def doctor(config_path: Path, nameservers: tuple[str, ...], as_json: bool) -> None:
    """Check SPF, DKIM, DMARC, the unsubscribe link, the issue's size and the secret
    as Gmail, Yahoo and Microsoft will; exit 3 when a check fails."""
    config = load_config(config_path)
    findings = diagnose(config, Lookup(nameservers))
    if as_json:
        click.echo(json.dumps([asdict(f) for f in findings], indent=2, ensure_ascii=False))
    else:
        for found in findings:
            click.echo(f"{MARKS[found.status]}  {found.check:<12} {plain(found.detail)}")
            if found.fix:
                click.echo(f"{'':18}fix: {plain(found.fix)}")
        failed = sum(f.status == "fail" for f in findings)
        warned = sum(f.status == "warn" for f in findings)
        click.echo(f"{len(findings)} checks: {failed} failed, {warned} to look at")
    if any(f.status == "fail" for f in findings):
        sys.exit(EXIT_REJECTED)
