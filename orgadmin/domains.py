"""What counts as a claimable domain, and how a typed domain is normalized."""

from __future__ import annotations

import ipaddress
import re
from functools import cache

import idna
from publicsuffixlist import PublicSuffixList

from orgadmin.errors import DomainNotAllowed

# Public email providers: a company cannot claim the addresses of everyone on them.
# The one list of them; subdomains of these are refused too.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "126.com",
        "163.com",
        "aol.com",
        "fastmail.com",
        "gmail.com",
        "gmx.at",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "googlemail.com",
        "hey.com",
        "hotmail.co.uk",
        "hotmail.com",
        "hotmail.fr",
        "icloud.com",
        "live.com",
        "mac.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "naver.com",
        "outlook.com",
        "pm.me",
        "proton.me",
        "protonmail.ch",
        "protonmail.com",
        "qq.com",
        "t-online.de",
        "tuta.io",
        "tutanota.com",
        "web.de",
        "yahoo.co.uk",
        "yahoo.com",
        "yahoo.fr",
        "yandex.com",
        "yandex.ru",
        "ymail.com",
        "zoho.com",
    }
)

# Names under these never resolve on the public internet (RFC 6761, RFC 6762, RFC 7686,
# RFC 8375, RFC 9476 and ICANN's .internal): nobody can prove they own one, and looking
# one up would ask the server's own resolver about its internal network (mDNS,
# svc.cluster.local, metadata.google.internal, host.docker.internal). .arpa is DNS
# infrastructure (reverse lookups, home.arpa), nobody's company.
SPECIAL_USE_SUFFIXES = (
    "alt",
    "arpa",
    "internal",
    "invalid",
    "local",
    "localhost",
    "onion",
    "test",
)

# RFC 2606 reserves .example for documentation. It never resolves publicly either, but
# it is allowed: the docs, the demo and the tests claim acme.example, and a claim there
# can only be verified through a nameserver the operator points ORGADMIN_DNS_NAMESERVERS
# at, which is the point of a demo or test.
DOCUMENTATION_SUFFIX = "example"

# Pending claims an organization may have at once: each is looked up by the cron job
# every run, so junk claims would keep the job and the resolver busy.
PENDING_CLAIMS_LIMIT = 20

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list shipped inside the publicsuffixlist package; nothing is fetched at run
    # time. Private suffixes (github.io, blogspot.com) count: anyone can get a name there.
    # accept_unknown=False: a TLD missing from the list (.corp, .lan) has no public
    # suffix, instead of the list's default "*" rule that makes any TLD one.
    return PublicSuffixList(accept_unknown=False)


def normalize_domain(text: str) -> str:
    """Return the domain as stored (lowercase, punycode, no trailing dot) or refuse it."""
    value = (text or "").strip()
    if not value:
        raise _refuse("Enter a domain, such as example.com.")
    if "://" in value or any(char in value for char in "/?#"):
        raise _refuse(
            "Enter the domain alone, without http:// or a path (example.com)."
        )
    if "@" in value:
        raise _refuse(
            "Enter the part after the @ of an email address (example.com), "
            "not the whole address."
        )
    if "*" in value:
        raise _refuse(
            "Enter the domain without a wildcard: verifying example.com "
            "covers every address @example.com."
        )
    if _is_ip_address(value):
        raise _refuse(
            "An IP address cannot be claimed; enter a domain such as example.com."
        )
    if _SCHEME.match(value) and not value.split(":", 1)[1].isdigit():
        raise _refuse("Enter the domain alone, without mailto: or http:.")
    if ":" in value:
        raise _refuse("Enter the domain without a port (example.com).")
    value = value.rstrip(".")
    try:
        value = idna.encode(value, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError as error:
        raise _refuse(f"{text.strip()} is not a valid domain name.") from error
    labels = value.split(".")
    if len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _refuse(f"{text.strip()} is not a valid domain name.")
    if len(labels) < 2:
        raise _refuse(
            f"{value} is a single label, not a full domain; enter one with a dot, "
            "such as example.com."
        )
    if labels[-1].isdigit():
        raise _refuse(f"{text.strip()} is not a valid domain name.")
    if labels[-1] in SPECIAL_USE_SUFFIXES:
        raise _refuse(
            f"{value} is under .{labels[-1]}, a special-use name that never resolves on "
            "the public internet. Claim your company's registered domain, such as "
            "yourcompany.com."
        )
    if (
        labels[-1] != DOCUMENTATION_SUFFIX
        and _public_suffixes().publicsuffix(value) is None
    ):
        raise _refuse(
            f"{value} ends in .{labels[-1]}, which is not a top-level domain on the "
            "public internet. Claim your company's registered domain, such as "
            "yourcompany.com."
        )
    provider = public_email_provider(value)
    if provider:
        raise _refuse(
            f"{provider} is a public email provider: its addresses belong to "
            "everyone. Claim your company's own domain."
        )
    if is_public_suffix(value):
        raise _refuse(
            f"{value} is a public suffix, under which anyone can register names. "
            f"Claim your company's own domain, such as yourcompany.{value}."
        )
    return value


def unicode_domain(domain: str) -> str:
    """The stored (punycode) domain in Unicode, as its owners write it; unchanged when
    it has no international label or cannot be decoded."""
    if "xn--" not in domain:
        return domain
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def public_email_provider(domain: str) -> str | None:
    """The public email provider that `domain` is or is under, if any."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        if candidate in PUBLIC_EMAIL_DOMAINS:
            return candidate
    return None


def parent_domains(domain: str) -> list[str]:
    """The domains `domain` is under, nearest first, without the top-level domain."""
    labels = domain.split(".")
    return [".".join(labels[start:]) for start in range(1, len(labels) - 1)]


def is_public_suffix(domain: str) -> bool:
    """Whether anyone can register names under `domain` (co.uk, github.io): such a
    name is never claimed itself (normalize_domain refuses it)."""
    return _public_suffixes().is_public(domain)


def _is_ip_address(value: str) -> bool:
    candidate = value.strip("[]")
    # An address with a port (192.0.2.1:80) is still an address.
    if candidate.count(":") == 1:
        candidate = candidate.split(":", 1)[0]
    elif "]:" in value:
        candidate = value[1 : value.index("]:")]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return False
    return True


def _refuse(message: str) -> DomainNotAllowed:
    return DomainNotAllowed(message, field="domain")
