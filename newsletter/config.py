"""The whole feedletter configuration: the feed settings plus the newsletter's.

``load_config`` is called once at start-up; everything downstream receives the
typed, frozen ``Config``.
"""

from __future__ import annotations

from pathlib import Path

from feeds.config import FeedSettings, load_settings

DEFAULT_CONFIG = Path("config.yaml")


class Config(FeedSettings):
    """Every section of ``config.yaml``."""


def load_config(path: Path = DEFAULT_CONFIG) -> Config:
    """Read and validate ``path``; raises ``ConfigError`` naming the key on any problem."""
    return load_settings(path, Config)
