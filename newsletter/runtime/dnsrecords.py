"""TXT records from DNS through dnspython: DKIM keys, SPF and DMARC records.

``Lookup`` asks the system's resolvers, or the ``--nameserver`` ones given
(``HOST`` or ``HOST:PORT``), falling back to TCP for a truncated answer. A name
that does not exist or has no TXT record gives ``[]``; a resolver that cannot be
reached or answers with an error is a ``DnsUnavailable`` naming the name, so a
check says "could not be looked up" rather than "missing".
"""

from __future__ import annotations

from collections.abc import Sequence

from feeds.errors import ConfigError, FeedletterError

# what to do when a lookup got no usable answer
RETRY = "check the nameserver (--nameserver) and run doctor again"


class DnsUnavailable(FeedletterError):
    """A DNS question got no usable answer (timeout, SERVFAIL, no resolver)."""

    message = "DNS lookup failed"

    def __init__(self, name: str, reason: str) -> None:
        # the name asked about, and what went wrong
        self.name = name
        self.reason = reason
        super().__init__(f"{name}: {reason}")


class Lookup:
    """TXT lookups through one dnspython resolver."""

    def __init__(self, nameservers: Sequence[str] = (), timeout: float = 5.0) -> None:
        import dns.resolver

        self.resolver = dns.resolver.Resolver(configure=not nameservers)
        self.timeout = timeout
        if nameservers:
            hosts, ports = [], set()
            for item in nameservers:
                host, port = _host_port(item)
                hosts.append(host)
                ports.add(port)
            if len(ports) > 1:
                raise ConfigError("--nameserver", "all nameservers must use one port")
            self.resolver.nameservers = hosts
            self.resolver.port = ports.pop()

    def txt(self, name: str) -> list[str]:
        """The TXT records at ``name``, each one string (its strings joined)."""
        import dns.exception
        import dns.resolver

        try:
            answer = self.resolver.resolve(name, "TXT", lifetime=self.timeout, tcp=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except dns.resolver.NoNameservers as exc:
            raise DnsUnavailable(name, f"no nameserver answered usefully ({exc})") from None
        except dns.exception.Timeout:
            raise DnsUnavailable(name, f"no answer within {self.timeout:g} s") from None
        except dns.exception.DNSException as exc:
            raise DnsUnavailable(name, str(exc)) from None
        return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]

    def dkim_record(self, name: bytes, timeout: int = 5) -> bytes | None:
        """dkimpy's ``dnsfunc``: the first TXT record at ``name``, as bytes."""
        found = self.txt(name.decode().rstrip("."))
        return found[0].encode() if found else None


def _host_port(value: str) -> tuple[str, int]:
    """``HOST`` or ``HOST:PORT`` (``[v6]:PORT`` for IPv6) as (host, port)."""
    import ipaddress

    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.removeprefix(":") or "53"
    elif value.count(":") == 1:
        host, port = value.split(":")
    try:
        ipaddress.ip_address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError(port)
    except ValueError:
        raise ConfigError(
            "--nameserver", f"{value!r} is not an IP address with an optional :port (1.1.1.1:53)"
        ) from None
    return host, number
