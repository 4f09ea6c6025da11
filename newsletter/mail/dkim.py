"""DKIM signatures as the operator's own domain (RFC 6376), with dkimpy.

``Signer.load`` reads the private key named by ``newsletter.dkim`` (a file, or an
environment variable) once, at start, and refuses one it cannot read or parse
with a ``ConfigError`` naming the key and the file; ``Signer.sign`` puts a
``DKIM-Signature`` on a message's bytes (relaxed/relaxed, over the headers a
mailbox provider reads, those absent too, so nobody can add them later).
``public_key`` and ``dns_record`` give what the selector's TXT record must hold,
for ``feedletter doctor`` and for the operator setting it up.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from feeds.errors import ConfigError
from newsletter.config import Config, DkimSettings

# the header fields signed (RFC 6376 5.4.1's recommendations, the one-click
# unsubscribe pair that RFC 8058 3 requires to be signed, and the list headers);
# a name listed but absent is signed as absent, so it cannot be added in transit
SIGNED = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"reply-to",
    b"mime-version",
    b"content-type",
    b"content-transfer-encoding",
    b"list-id",
    b"list-archive",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"feedback-id",
)
CANONICALIZATION = (b"relaxed", b"relaxed")


@dataclass(frozen=True)
class Signer:
    """Signs messages as ``domain`` with one private key."""

    # the signing domain (d=) and selector (s=)
    domain: str
    selector: str
    # rsa-sha256 or ed25519-sha256
    algorithm: str
    # the private key as dkimpy takes it (PEM, or the base64 ed25519 seed)
    key: bytes

    @classmethod
    def of_config(cls, config: Config) -> Signer | None:
        """The signer ``newsletter.dkim`` configures (None when it is not set)."""
        settings = config.newsletter.dkim
        if settings is None:
            return None
        return cls.load(settings, config.source.resolve().parent if config.source else None)

    @classmethod
    def load(cls, settings: DkimSettings, base: Path | None = None) -> Signer:
        """The signer ``settings`` describe; ``base`` is the config file's folder
        (``key_file`` is relative to it). Raises ``ConfigError`` for a key that
        cannot be read or is not a key of ``settings.algorithm``."""
        if settings.key_env is not None:
            key_name, where = "newsletter.dkim.key_env", f"environment variable {settings.key_env}"
            value = os.environ.get(settings.key_env, "")
            if not value.strip():
                raise ConfigError(key_name, f"{where} is not set; set it to the private key")
            # a PEM key in a variable often arrives with its line breaks escaped
            key = value.replace("\\n", "\n").encode()
        else:
            assert settings.key_file is not None
            path = settings.key_file
            if base is not None and not path.is_absolute():
                path = base / path
            key_name, where = "newsletter.dkim.key_file", str(path)
            try:
                key = path.read_bytes()
            except OSError as exc:
                raise ConfigError(
                    key_name, f"cannot read the private key {path}: {exc.strerror or exc}"
                ) from None
        signer = cls(settings.domain, settings.selector, settings.algorithm, key.strip() + b"\n")
        try:
            signer.public_key()
        except ValueError as exc:
            raise ConfigError(
                key_name, f"{where} does not hold a {settings.algorithm} private key: {exc}"
            ) from None
        return signer

    def sign(self, message: bytes) -> bytes:
        """``message`` (CRLF line ends) with its DKIM-Signature header first."""
        import dkim

        header = dkim.sign(
            message,
            self.selector.encode(),
            self.domain.encode(),
            self.key,
            canonicalize=CANONICALIZATION,
            signature_algorithm=self.algorithm.encode(),
            include_headers=list(SIGNED),
        )
        return bytes(header) + message

    def public_key(self) -> bytes:
        """The public key as the selector's ``p=`` tag carries it, decoded: a DER
        SubjectPublicKeyInfo for RSA, the 32 raw bytes for ed25519. ``ValueError``
        when the private key cannot be parsed."""
        if self.algorithm == "ed25519-sha256":
            import nacl.exceptions
            import nacl.signing

            try:
                seed = base64.b64decode(self.key, validate=False)
                return bytes(nacl.signing.SigningKey(seed).verify_key)
            except (ValueError, TypeError, nacl.exceptions.CryptoError) as exc:
                raise ValueError(f"not a base64 ed25519 seed ({exc})") from None
        from dkim.crypto import UnparsableKeyError, parse_pem_private_key

        try:
            parsed = parse_pem_private_key(self.key)
        except (UnparsableKeyError, ValueError, IndexError) as exc:
            raise ValueError(f"not a PEM RSA key ({str(exc).splitlines()[0]})") from None
        return rsa_spki(parsed["modulus"], parsed["publicExponent"])

    def dns_record(self) -> tuple[str, str]:
        """The TXT record to publish: its name and its value."""
        kind = "ed25519" if self.algorithm == "ed25519-sha256" else "rsa"
        value = f"v=DKIM1; k={kind}; p={base64.b64encode(self.public_key()).decode()}"
        return f"{self.selector}._domainkey.{self.domain}", value


def rsa_spki(modulus: int, exponent: int) -> bytes:
    """An RSA public key as a DER SubjectPublicKeyInfo (RFC 5280 4.1, RFC 8017 A.1.1),
    the form of a DKIM record's ``p=`` for k=rsa."""
    rsa_public = _der(0x30, _der_int(modulus) + _der_int(exponent))
    algorithm = _der(0x30, _der(0x06, bytes.fromhex("2a864886f70d010101")) + _der(0x05, b""))
    return _der(0x30, algorithm + _der(0x03, b"\x00" + rsa_public))


def _der_int(value: int) -> bytes:
    body = value.to_bytes(value.bit_length() // 8 + 1, "big")  # room for the sign bit
    return _der(0x02, body)


def _der(tag: int, body: bytes) -> bytes:
    n = len(body)
    if n < 0x80:
        return bytes((tag, n)) + body
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(size))) + size + body
