"""Signed tokens for the links in mail: unsubscribe, confirm, preferences.

- Unsubscribe: ``<subscriber id>.<HMAC-SHA256>``, over the id and normalised
  address. It does not expire: a List-Unsubscribe link must keep working for as
  long as the mail it came in is read.
- Preferences: ``<subscriber id>.<expiry, hex seconds>.<HMAC>``, over the
  purpose, id, address and expiry; it lasts ``newsletter.preferences_days``.
- Confirm: ``<subscriber id>.<sign-up request id>.<expiry>.<HMAC>``, over the
  same and the request, whose choices the confirmation applies; it lasts
  ``newsletter.confirm_days``.

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
from collections.abc import Callable
from urllib.parse import quote_plus

from feeds.urls import with_query
from newsletter.errors import MissingSecret

_ID = r"([1-9][0-9]{0,18})"
_TOKEN = re.compile(rf"^{_ID}\.([A-Za-z0-9_-]{{43}})$")
_EXPIRING = re.compile(rf"^{_ID}\.([0-9a-f]{{1,12}})\.([A-Za-z0-9_-]{{43}})$")
_CONFIRM = re.compile(rf"^{_ID}\.{_ID}\.([0-9a-f]{{1,12}})\.([A-Za-z0-9_-]{{43}})$")
# ids are SQL BIGINTs: a larger number in a token names nobody
MAX_ID = 2**63 - 1
MIN_SECRET_LENGTH = 16
# a secret with fewer distinct characters than this is no secret (sixteen spaces)
MIN_SECRET_VARIETY = 8


def secret_from_env(name: str) -> bytes:
    """The signing secret from environment variable ``name``; ``MissingSecret`` if unusable."""
    value = os.environ.get(name, "")
    advice = (
        f"environment variable {name} must hold the link-signing secret: at least "
        f"{MIN_SECRET_LENGTH} characters, no spaces, e.g. from `openssl rand -hex 32`"
    )
    if len(value) < MIN_SECRET_LENGTH or value != value.strip() or not value.isprintable():
        raise MissingSecret(name, advice)
    if len(set(value)) < MIN_SECRET_VARIETY or any(ch.isspace() for ch in value):
        raise MissingSecret(name, f"{advice} (it holds too few different characters to be secret)")
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
    match = _TOKEN.match(token) or _EXPIRING.match(token) or _CONFIRM.match(token)
    if not match:
        return None
    subscriber_id = int(match.group(1))
    return subscriber_id if subscriber_id <= MAX_ID else None


def verify_token(secret: bytes, token: str, subscriber_id: int, email: str) -> bool:
    """Whether ``token`` is that subscriber's genuine token (constant-time compare)."""
    match = _TOKEN.match(token)
    if not match or int(match.group(1)) != subscriber_id:
        return False
    return hmac.compare_digest(match.group(2), _mac(secret, subscriber_id, email))


def signed_link(endpoint: str, token: str) -> str:
    """``endpoint`` with ``?token=``: the links in mail (unsubscribe, preferences, confirm)."""
    return with_query(endpoint, {"token": token})


def link_maker(endpoint: str) -> Callable[[str], str]:
    """``signed_link`` for one endpoint, made once for a run of many links: plain
    concatenation when that gives the same link (an endpoint without a query or
    fragment, as the defaults are), else ``signed_link`` itself."""
    probe = "1.0a"
    if "?" not in endpoint and "#" not in endpoint:
        prefix = endpoint + "?token="
        if signed_link(endpoint, probe) == prefix + probe:
            return lambda token: prefix + quote_plus(token)
    return lambda token: signed_link(endpoint, token)


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


def make_confirm_token(
    secret: bytes, subscriber_id: int, email: str, request_id: int, expires: int
) -> str:
    """The confirmation token for one sign-up request, valid until ``expires``."""
    mac = _signed_mac(secret, f"confirm:{request_id}", subscriber_id, email, expires)
    return f"{subscriber_id}.{request_id}.{expires:x}.{mac}"


def verify_confirm_token(
    secret: bytes, token: str, subscriber_id: int, email: str, now: float
) -> int | None:
    """The sign-up request a genuine, unexpired confirmation token confirms, else None.

    0 for a token of the earlier form (no request: it confirms a pending reader).
    """
    match = _CONFIRM.match(token)
    if match is None:
        ok = verify_expiring_token(secret, "confirm", token, subscriber_id, email, now)
        return 0 if ok else None
    if int(match.group(1)) != subscriber_id:
        return None
    request_id, expires = int(match.group(2)), int(match.group(3), 16)
    if request_id > MAX_ID:
        return None
    mac = _signed_mac(secret, f"confirm:{request_id}", subscriber_id, email, expires)
    if hmac.compare_digest(match.group(4), mac) and now < expires:
        return request_id
    return None


def address_hash(secret: bytes, email: str) -> str:
    """The keyed hash of an address kept on the suppression list (never the address)."""
    message = f"suppress\0{email.strip().lower()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()
