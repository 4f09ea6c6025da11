"""What a send run needs from the config, worked out once (``SendSettings.of``).

Shared by the run's planner (``delivery``), its workers (``worker``) and test
sends, so none of them sees the whole ``Config``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from newsletter.config import BounceSettings, Config, ReviewSettings, SmtpSettings
from newsletter.issue.variants import IssueLook
from newsletter.mail.dkim import Signer
from newsletter.mail.headers import return_path
from newsletter.state.database import Database


@dataclass(frozen=True)
class SendSettings:
    """What a send run needs from the config, worked out once."""

    # how issues look (rendered once per topic set)
    look: IssueLook
    # the relay, its retries, pacing and the claim lease
    smtp: SmtpSettings
    # bounce limits and the VERP return path
    bounces: BounceSettings
    # where returned mail goes (newsletter.bounces.return_path or the From address)
    return_path: str
    # the one-click unsubscribe and the preferences endpoints (a token is appended)
    unsubscribe_endpoint: str
    preferences_endpoint: str
    # how long a preferences link in a mail stays valid
    preferences_days: float
    # the environment variable holding the signing secret
    secret_env: str
    # the state database (worker threads open their own connections)
    database: Database
    # newsletter.send_window_hours: how stale an issue may be sent without --force
    send_window_hours: float
    # state.issues: the private issue archive
    issues_folder: Path
    # signs every copy with DKIM (newsletter.dkim; None: not set), its key read once
    signer: Signer | None = None
    # where counted links lead (site.base_url; None: newsletter.count_clicks is off)
    click_base: str | None = None
    # newsletter.review: an issue goes only once its editors released it (None: not set)
    review: ReviewSettings | None = None

    @classmethod
    def of(cls, config: Config) -> SendSettings:
        return cls(
            look=IssueLook.of(config),
            smtp=config.smtp,
            bounces=config.newsletter.bounces,
            return_path=return_path(config.newsletter, config.site),
            unsubscribe_endpoint=config.unsubscribe_endpoint(),
            preferences_endpoint=config.endpoint("preferences"),
            preferences_days=config.newsletter.preferences_days,
            secret_env=config.state.secret_env,
            database=config.database,
            send_window_hours=config.newsletter.send_window_hours,
            issues_folder=config.issues_folder,
            signer=Signer.of_config(config),
            click_base=config.site.base_url if config.newsletter.count_clicks else None,
            review=config.newsletter.review,
        )
