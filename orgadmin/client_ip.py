"""The address of the client behind this deployment's proxies, for audit and limits."""

from __future__ import annotations

from allauth.core.internal.httpkit import clean_client_ip, get_client_ip
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's address, or None when it is not a valid IP address.

    ORGADMIN_TRUSTED_PROXY_COUNT (as ALLAUTH_TRUSTED_PROXY_COUNT) says how many entries
    at the end of X-Forwarded-For this deployment's proxies wrote; the entry before them
    is the client's, and anything a client put in front is ignored. With 0 the header
    is ignored and REMOTE_ADDR is the client. allauth's sign-in rate limits read the
    same function, so limits and audit rows agree on who the client is.
    """
    try:
        return get_client_ip(request)
    except ImproperlyConfigured:
        # Fewer X-Forwarded-For entries than trusted proxies: the request skipped one of
        # them, so the connecting peer is the only address not written by the client.
        return clean_client_ip(request.META.get("REMOTE_ADDR", ""))
