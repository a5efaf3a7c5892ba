"""Look up a claimed domain's verification TXT record with dnspython.

The nameservers and the time budget come from settings, read at call time, so that tests
point the lookup at a responder on 127.0.0.1 through the `settings` fixture.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from orgadmin.models import CheckOutcome

# Values longer than this are cut when shown back to the admin.
SHOWN_VALUE_LENGTH = 120


@dataclass(frozen=True)
class TxtCheck:
    """The outcome of one lookup, with the values worth showing to the admin."""

    outcome: CheckOutcome
    detail: str = ""
    found: tuple[str, ...] = ()


def check_txt_record(host: str, expected: str, *, prefix: str) -> TxtCheck:
    """Look for a TXT record on `host` whose value is `expected`.

    TXT records that do not start with `prefix` (SPF, other services' tokens) are
    ignored; one that does but holds another value is a mismatch. NXDOMAIN and an empty
    answer are "not found"; a timeout, SERVFAIL or no answering nameserver is "try later".
    """
    try:
        resolver = make_resolver()
    except OSError as error:
        return TxtCheck(CheckOutcome.TRY_LATER, f"nameserver unknown: {error}")
    qname = dns.name.from_text(host)
    try:
        answer = resolver.resolve(qname, dns.rdatatype.TXT, search=False)
    except dns.resolver.NXDOMAIN:
        return TxtCheck(CheckOutcome.NOT_FOUND, f"{host} does not exist in DNS")
    except dns.resolver.NoAnswer:
        return TxtCheck(CheckOutcome.NOT_FOUND, f"{host} has no TXT records")
    except dns.exception.Timeout:
        return TxtCheck(
            CheckOutcome.TRY_LATER,
            f"no answer within {resolver.lifetime:g} seconds",
        )
    except dns.resolver.NoNameservers:
        return TxtCheck(CheckOutcome.TRY_LATER, "every nameserver failed (SERVFAIL)")
    except dns.exception.DNSException as error:
        return TxtCheck(CheckOutcome.TRY_LATER, f"DNS error: {error}")

    alias = _alias_target(answer, qname)
    if alias is not None:
        return TxtCheck(
            CheckOutcome.NOT_FOUND,
            f"it is a CNAME to {alias}: records reached through a CNAME do not count",
        )
    values = [_txt_value(rdata.strings) for rdata in answer]
    if expected in values:
        return TxtCheck(CheckOutcome.VERIFIED, found=(expected,))
    ours = [value for value in values if value.lower().startswith(prefix.lower())]
    if not ours:
        return TxtCheck(
            CheckOutcome.NOT_FOUND,
            f"{len(values)} other TXT record{'s' if len(values) != 1 else ''}, "
            f"none starting with {prefix}",
        )
    shown = tuple(_shorten(value) for value in ours)
    return TxtCheck(CheckOutcome.MISMATCH, ", ".join(shown), found=shown)


def make_resolver() -> dns.resolver.Resolver:
    """A resolver on ORGADMIN_DNS_NAMESERVERS (else the system's), without a cache."""
    configured = settings.ORGADMIN_DNS_NAMESERVERS
    if isinstance(configured, str):
        configured = [item for item in configured.split(",") if item.strip()]
    if configured:
        # configure=False: never read /etc/resolv.conf when nameservers are given.
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [_nameserver(item) for item in configured]
    else:
        resolver = dns.resolver.Resolver()
    lifetime = float(settings.ORGADMIN_DNS_TIMEOUT)
    # The setting bounds the whole lookup; half of it per try leaves room for one retry
    # when a UDP packet is lost.
    resolver.lifetime = lifetime
    resolver.timeout = lifetime / 2
    # Every "Check now" must ask DNS again, not replay an answer from minutes ago.
    resolver.cache = None
    return resolver


def parse_nameserver(text: str) -> tuple[str, int]:
    """Read `host`, `host:port`, an IPv6 address or `[ipv6]:port` as (host, port)."""
    text = text.strip()
    host, port = text, 53
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        if rest.startswith(":"):
            port = _port(rest[1:], text)
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
        port = _port(port_text, text)
    if not host:
        raise ImproperlyConfigured(
            f"ORGADMIN_DNS_NAMESERVERS: {text!r} is not host or host:port."
        )
    return host, port


def _nameserver(text: str) -> dns.nameserver.Do53Nameserver:
    host, port = parse_nameserver(text)
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        # A name: resolved once here by the system, since dnspython wants addresses.
        address = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][4][0]
    return dns.nameserver.Do53Nameserver(address, port=port)


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ImproperlyConfigured(
            f"ORGADMIN_DNS_NAMESERVERS: {whole!r} is not host or host:port."
        )
    return int(text)


def _alias_target(answer: dns.resolver.Answer, qname: dns.name.Name) -> str | None:
    """Where a CNAME (or DNAME) on the queried name led the answer, if it did.

    dnspython follows the chain and returns the last name's TXT records, but those
    belong to whoever controls that name (a vendor, a SaaS host), not to the claimant.
    """
    has_alias = any(
        rrset.rdtype in (dns.rdatatype.CNAME, dns.rdatatype.DNAME)
        for rrset in answer.response.answer
    )
    if answer.rrset.name == qname and not has_alias:
        return None
    return answer.canonical_name.to_text(omit_final_dot=True)


def _txt_value(strings: tuple[bytes, ...]) -> str:
    """Join a TXT record's character-strings, as values over 255 bytes are split.

    Surrounding quotes are dropped because some DNS hosting panels store the quotes an
    admin pasted as part of the value.
    """
    value = b"".join(strings).decode("utf-8", "replace").strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].strip()
    return value


def _shorten(value: str) -> str:
    if len(value) <= SHOWN_VALUE_LENGTH:
        return value
    return value[: SHOWN_VALUE_LENGTH - 1] + "…"
