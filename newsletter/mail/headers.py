"""Who a message is from and where it returns: the From, the return path, the
host for Message-IDs, and the policies every message is written with.

Shared by issues (``issue.message``) and notices (``audience.notices``), so
neither imports the other. Pure functions over the settings.
"""

from __future__ import annotations

from email.headerregistry import Address
from email.policy import SMTP
from email.utils import parseaddr
from urllib.parse import urlsplit

from feeds.config import SiteSettings
from feeds.urls import join
from newsletter.config import NewsletterSettings

# Header lines may be up to 998 characters (RFC 5322); folding earlier would turn
# a long List-Unsubscribe URL into an encoded-word, which mail clients ignore.
POLICY = SMTP.clone(max_line_length=998)
# Quoted-printable body lines are at most 76 characters (RFC 2045 §6.7).
BODY_POLICY = SMTP.clone(max_line_length=76)


def site_domain(site: SiteSettings) -> str:
    """The host name of ``site.base_url`` (for Message-ID and default addresses)."""
    return urlsplit(site.base_url).hostname or "localhost"


def sender(settings: NewsletterSettings, site: SiteSettings) -> str:
    """The From address: ``newsletter.from`` (checked when the config was loaded), or
    the site's title at digest@ its domain."""
    if settings.sender:
        name, address = parseaddr(settings.sender)
        return str(Address(display_name=name, addr_spec=address))
    return str(Address(display_name=site.title, addr_spec=f"digest@{site_domain(site)}"))


def return_path(settings: NewsletterSettings, site: SiteSettings) -> str:
    """Where servers return mail: ``newsletter.bounces.return_path``, or the From address.

    Issues go out from a VERP form of it (``returnpath.envelope_sender``)."""
    return settings.bounces.return_path or parseaddr(sender(settings, site))[1]


def feedback_id(settings: NewsletterSettings, site: SiteSettings, campaign: str) -> str:
    """The Feedback-ID: ``campaign:list:sender``, the colon-separated form Gmail's
    feedback loop reports complaints by (``campaign`` is the issue id or a notice's
    kind; no field may hold a colon)."""
    from_domain = parseaddr(sender(settings, site))[1].rpartition("@")[2].lower()
    fields = (campaign, f"digest.{site_domain(site)}", from_domain)
    return ":".join(f.replace(":", "-") for f in fields)


def list_headers(
    settings: NewsletterSettings, site: SiteSettings, campaign: str
) -> list[tuple[str, str]]:
    """The headers a mailbox provider reads to tell one list and its mailings apart:
    List-Id (RFC 2919), List-Archive (the issue archive on the site, RFC 2369) and
    Feedback-ID."""
    return [
        ("List-Id", f"<digest.{site_domain(site)}>"),
        ("List-Archive", f"<{join(site.base_url, 'newsletter/')}>"),
        ("Feedback-ID", feedback_id(settings, site, campaign)),
    ]
