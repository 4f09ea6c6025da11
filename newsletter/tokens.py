"""Signed tokens for the links in mail: unsubscribe, confirm, preferences.

- Unsubscribe: ``<subscriber id>.<HMAC-SHA256>``, over the id and normalised
  address. It does not expire: a List-Unsubscribe link must keep working for as
  long as the mail it came in is read.
- Confirm and preferences: ``<subscriber id>.<expiry, hex seconds>.<HMAC>``, over
  the purpose, id, address and expiry; a confirmation link lasts
  ``newsletter.confirm_days``, a preferences link ``preferences_days``.

All are keyed with a secret read from the environment (never from config). A
token cannot be forged without the secret, and one subscriber's token is no good
for anyone else: changing the id invalidates the MAC, and the MAC is checked
against the address stored for that id; a token of one purpose is no good for
another. ``address_hash`` is the keyed hash the suppression list keeps instead of
a forgotten address. Pure functions apart from ``secret_from_env``.
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
_EXPIRING = re.compile(r"^([1-9][0-9]{0,18})\.([0-9a-f]{1,12})\.([A-Za-z0-9_-]{43})$")
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
    """The subscriber id a well-formed token (of any kind) names, not yet verified."""
    match = _TOKEN.match(token) or _EXPIRING.match(token)
    return int(match.group(1)) if match else None


def verify_token(secret: bytes, token: str, subscriber_id: int, email: str) -> bool:
    """Whether ``token`` is that subscriber's genuine token (constant-time compare)."""
    match = _TOKEN.match(token)
    if not match or int(match.group(1)) != subscriber_id:
        return False
    return hmac.compare_digest(match.group(2), _mac(secret, subscriber_id, email))


def signed_link(endpoint: str, token: str) -> str:
    """``endpoint`` with ``?token=``: the links in mail (unsubscribe, preferences, confirm)."""
    return with_query(endpoint, {"token": token})


def _signed_mac(secret: bytes, purpose: str, subscriber_id: int, email: str, expires: int) -> str:
    message = f"{purpose}\0{subscriber_id}\0{email.lower()}\0{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def make_expiring_token(
    secret: bytes, purpose: str, subscriber_id: int, email: str, expires: int
) -> str:
    """A token for ``purpose`` ("confirm", "preferences") valid until ``expires`` (epoch s)."""
    mac = _signed_mac(secret, purpose, subscriber_id, email, expires)
    return f"{subscriber_id}.{expires:x}.{mac}"


def verify_expiring_token(
    secret: bytes, purpose: str, token: str, subscriber_id: int, email: str, now: float
) -> bool:
    """Whether ``token`` is that subscriber's genuine, unexpired token for ``purpose``."""
    match = _EXPIRING.match(token)
    if not match or int(match.group(1)) != subscriber_id:
        return False
    expires = int(match.group(2), 16)
    mac = _signed_mac(secret, purpose, subscriber_id, email, expires)
    return hmac.compare_digest(match.group(3), mac) and now < expires


def address_hash(secret: bytes, email: str) -> str:
    """The keyed hash of an address kept on the suppression list (never the address)."""
    message = f"suppress\0{email.strip().lower()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
