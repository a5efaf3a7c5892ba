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

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


@cache
def _public_suffixes() -> PublicSuffixList:
    # The list shipped inside the publicsuffixlist package; nothing is fetched at run
    # time. Private suffixes (github.io, blogspot.com) count: anyone can get a name there.
    return PublicSuffixList()


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
    provider = public_email_provider(value)
    if provider:
        raise _refuse(
            f"{provider} is a public email provider: its addresses belong to "
            "everyone. Claim your company's own domain."
        )
    if _public_suffixes().is_public(value):
        raise _refuse(
            f"{value} is a public suffix, under which anyone can register names. "
            f"Claim your company's own domain, such as yourcompany.{value}."
        )
    return value


def public_email_provider(domain: str) -> str | None:
    """The public email provider that `domain` is or is under, if any."""
    labels = domain.split(".")
    for start in range(len(labels) - 1):
        candidate = ".".join(labels[start:])
        if candidate in PUBLIC_EMAIL_DOMAINS:
            return candidate
    return None


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
