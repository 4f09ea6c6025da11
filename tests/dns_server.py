"""A real DNS server for the tests: dnslib on 127.0.0.1 answering from a dict of records.

``with DnsServer({"example.org": {"TXT": ["v=spf1 -all"]}}) as dns:`` listens on
UDP and TCP at ``dns.port`` (bound before it starts, so it answers at once); a
name it does not hold gets NXDOMAIN, a name it holds without the asked type an
empty answer, as a real authoritative server would. TXT values longer than 255
characters go out as several strings of one record (RFC 7208 3.3, RFC 6376 3.6.2.2).
"""

from __future__ import annotations

import threading
from typing import Any

from dnslib import QTYPE, RCODE, RR, TXT
from dnslib.server import BaseResolver, DNSLogger, DNSServer

Zone = dict[str, dict[str, list[str]]]


class _Resolver(BaseResolver):  # type: ignore[misc]
    def __init__(self, zone: Zone) -> None:
        self.zone = {name.lower().rstrip("."): kinds for name, kinds in zone.items()}
        # every question asked, as (name, type): what the client looked up
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).lower().rstrip(".")
        kind = QTYPE[request.q.qtype]
        self.asked.append((name, kind))
        kinds = self.zone.get(name)
        if kinds is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for value in kinds.get(kind, []):
            chunks = [value[at : at + 255] for at in range(0, len(value), 255)] or [""]
            reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=60))
        return reply


class DnsServer:
    """dnslib serving ``zone`` on 127.0.0.1 (UDP and TCP, one port)."""

    def __init__(self, zone: Zone) -> None:
        self.resolver = _Resolver(zone)
        quiet = DNSLogger(log="-recv,-send,-request,-reply,-truncated,-error,-data", prefix=False)
        for _ in range(50):  # the UDP port's number may be taken for TCP: take another
            self.udp = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=quiet)
            self.port = int(self.udp.server.server_address[1])
            try:
                self.tcp = DNSServer(
                    self.resolver, address="127.0.0.1", port=self.port, tcp=True, logger=quiet
                )
                break
            except OSError:
                self.udp.server.server_close()
        else:
            raise RuntimeError("no port free for both UDP and TCP")

    @property
    def nameserver(self) -> str:
        """The ``--nameserver`` value that reaches this server."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> DnsServer:
        for server in (self.udp, self.tcp):  # polled often: stopping takes no half second
            serve = server.server.serve_forever
            threading.Thread(target=serve, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in (self.udp, self.tcp):
            server.server.shutdown()  # returns once serve_forever has ended
            server.server.server_close()
