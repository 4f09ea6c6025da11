"""Signed unsubscribe tokens: ``<subscriber id>.<HMAC-SHA256>``.

The MAC covers the subscriber's id and normalised address, keyed with a secret
read from the environment (never from config). A token cannot be forged without
the secret, and one subscriber's token cannot unsubscribe anyone else: changing
the id invalidates the MAC, and the MAC is checked against the address stored for
that id. Pure functions apart from reading the environment in ``secret_from_env``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

from feeds.urls import with_query

from .errors import DeliveryError

_TOKEN = re.compile(r"^([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})$")
MIN_SECRET_LENGTH = 16


def secret_from_env(name: str) -> bytes:
    """The signing secret from environment variable ``name``; ``DeliveryError`` if unusable."""
    value = os.environ.get(name, "")
    if len(value) < MIN_SECRET_LENGTH:
        raise DeliveryError(
            f"environment variable {name} must hold the unsubscribe-link secret "
            f"(at least {MIN_SECRET_LENGTH} characters, e.g. from `openssl rand -hex 32`)"
        )
    return value.encode()


def _mac(secret: bytes, subscriber_id: int, email: str) -> str:
    message = f"unsubscribe\0{subscriber_id}\0{email.lower()}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_token(secret: bytes, subscriber_id: int, email: str) -> str:
    """The unsubscribe token of one subscriber."""
    return f"{subscriber_id}.{_mac(secret, subscriber_id, email)}"


def token_subscriber(token: str) -> int | None:
    """The subscriber id a well-formed token names (not yet verified), else None."""
    match = _TOKEN.match(token)
    return int(match.group(1)) if match else None


def verify_token(secret: bytes, token: str, subscriber_id: int, email: str) -> bool:
    """Whether ``token`` is that subscriber's genuine token (constant-time compare)."""
    match = _TOKEN.match(token)
    if not match or int(match.group(1)) != subscriber_id:
        return False
    return hmac.compare_digest(match.group(2), _mac(secret, subscriber_id, email))


def unsubscribe_link(endpoint: str, token: str) -> str:
    """A recipient's unsubscribe URL (List-Unsubscribe and the footer link)."""
    return with_query(endpoint, {"token": token})
