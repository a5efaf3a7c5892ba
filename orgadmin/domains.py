"""What counts as a claimable domain, and how a typed domain is normalized."""

from __future__ import annotations

import ipaddress
import re

from orgadmin.errors import DomainNotAllowed

# Public email providers: a company cannot claim the addresses of everyone on them.
PUBLIC_EMAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "gmail.com",
        "googlemail.com",
        "gmx.com",
        "gmx.de",
        "gmx.net",
        "hotmail.com",
        "icloud.com",
        "live.com",
        "mail.com",
        "mail.ru",
        "me.com",
        "msn.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "qq.com",
        "web.de",
        "yahoo.com",
        "yandex.com",
        "yandex.ru",
        "zoho.com",
    }
)

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def normalize_domain(text: str) -> str:
    """Return the domain as stored (lowercase, punycode, no trailing dot) or refuse it."""
    value = (text or "").strip()
    if not value:
        raise DomainNotAllowed("Enter a domain, such as example.com.", field="domain")
    if "://" in value or "/" in value:
        raise DomainNotAllowed(
            "Enter the domain alone, without http:// or a path (example.com).",
            field="domain",
        )
    if "@" in value:
        raise DomainNotAllowed(
            "Enter the domain after the @ of an email address, not the address.",
            field="domain",
        )
    if "*" in value:
        raise DomainNotAllowed(
            "Wildcards are not needed: a verified domain covers its addresses.",
            field="domain",
        )
    value = value.rstrip(".").lower()
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        pass
    else:
        raise DomainNotAllowed("An IP address is not a domain.", field="domain")
    try:
        value = value.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise DomainNotAllowed(
            f"{text} is not a valid domain name.", field="domain"
        ) from error
    labels = value.split(".")
    if len(labels) < 2:
        raise DomainNotAllowed(
            "Enter a full domain with a dot, such as example.com.", field="domain"
        )
    if len(value) > 253 or not all(_LABEL.match(label) for label in labels):
        raise DomainNotAllowed(f"{text} is not a valid domain name.", field="domain")
    if labels[-1].isdigit():
        raise DomainNotAllowed(f"{text} is not a valid domain name.", field="domain")
    if value in PUBLIC_EMAIL_DOMAINS:
        raise DomainNotAllowed(
            f"{value} is a public email provider; claim your company's own domain.",
            field="domain",
        )
    return value
