"""The bearer token alone picks the organization of a SCIM request."""

from __future__ import annotations

import ipaddress
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from orgadmin.checks import parse_throttle_rate
from orgadmin.client_ip import client_ip
from orgadmin.models import ScimToken
from scim.errors import TooManyRequests
from scim.request_log import loggable_path, record_request
from scim.token_cache import refresh_cached_token, token_for_digest

logger = logging.getLogger(__name__)


class ScimTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`, looked up by its SHA-256 digest.

    Sets `request.auth` to the ScimToken (with its organization loaded); `request.user`
    stays None: a token is not a person.
    """

    def authenticate(self, request):
        started = time.monotonic()
        try:
            token = self._usable_token(request)
        except TokenNotUsable as refusal:
            # Counted first: past the limit the answer is 429, and only a 401 is
            # logged, so that a leaked old token cannot flood the organization's log.
            count_failed_authentication(request)
            log_refused_token(refusal, request, started=started)
            raise
        except AuthenticationFailed:
            count_failed_authentication(request)
            raise
        note_token_use(token, ip_address=client_ip(request))
        return (None, token)

    def _usable_token(self, request) -> ScimToken:
        header = get_authorization_header(request).split()
        if not header:
            raise AuthenticationFailed(
                "Send the organization's SCIM token as 'Authorization: Bearer <token>'."
            )
        if header[0].lower() != b"bearer" or len(header) != 2:
            raise AuthenticationFailed(
                "The Authorization header must be 'Bearer <token>'."
            )
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("The token is not valid.") from None
        token = token_for_digest(ScimToken.digest_of(secret))
        if token is None:
            raise AuthenticationFailed("The token is not valid.")
        if not token.is_usable:
            raise TokenNotUsable(token)
        return token

    def authenticate_header(self, request):
        return 'Bearer realm="scim"'


class TokenNotUsable(AuthenticationFailed):
    """A token of an organization, but revoked or expired: the request is refused
    (401), and logged for that organization's provisioning health view, which is
    where its admins look when Entra ID reports "invalid credentials"."""

    def __init__(self, token: ScimToken):
        self.token = token
        super().__init__(
            f"The token is {token.status}; issue a new one in Access Security > SCIM."
        )


def log_refused_token(refusal: TokenNotUsable, request, *, started: float) -> None:
    record_request(
        refusal.token,
        method=request.method,
        path=loggable_path(request),
        status=401,
        duration_ms=int((time.monotonic() - started) * 1000),
        error_detail=f"Refused: the token is {refusal.token.status}.",
    )


FAILED_AUTHENTICATION_WINDOW = 60  # seconds


def count_failed_authentication(request) -> None:
    """Count a refused token against the client's address; past the limit, answer 429.

    ORGADMIN_SCIM_BAD_TOKEN_LIMIT failures per address (per /64 for IPv6, which one
    host can fill) in a minute that starts at the address's first failure. Only failures
    are counted and only they are refused, so a valid token from a shared address (Entra
    ID's provisioning service serves many tenants) keeps working.
    """
    limit = settings.ORGADMIN_SCIM_BAD_TOKEN_LIMIT
    if not limit:
        return
    address = client_ip(request)
    key = f"scim-failed-authentication:{_address_key(address)}"
    now = int(time.time())
    started = cache.get_or_set(f"{key}:started", now, FAILED_AUTHENTICATION_WINDOW)
    failures = count_in_window(f"{key}:{started}", seconds=FAILED_AUTHENTICATION_WINDOW)
    if failures <= limit:
        return
    if (failures - limit - 1) % limit == 0:
        # On the first refusal, then once every `limit` more: the address and the count
        # for operators, never the token (not even its prefix).
        logger.warning(
            "SCIM: %d requests with a missing or invalid token from %s within a "
            "minute; answering 429 until the minute ends.",
            failures,
            address or "an unknown address",
        )
    retry_after = max(1, started + FAILED_AUTHENTICATION_WINDOW - now)
    raise TooManyRequests(
        f"Too many requests with an invalid token from this address; retry in "
        f"{retry_after} seconds with the organization's SCIM token.",
        retry_after=retry_after,
    )


def count_in_window(key: str, *, seconds: int) -> int:
    """Add one to the counter `key` (a window of `seconds`) and return its new value."""
    cache.add(key, 0, timeout=seconds + 1)
    try:
        return cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=seconds + 1)
        return 1


def _address_key(address: str | None) -> str:
    if address is None:
        return "unknown"
    parsed = ipaddress.ip_address(address)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False).network_address)
    return address


def note_token_use(token: ScimToken, *, ip_address: str | None) -> None:
    """Record the last use at most once per LAST_USED_RESOLUTION, not on every request.

    The UPDATE is conditional, so parallel requests in the same minute write once.
    """
    now = timezone.now()
    stale_before = now - ScimToken.LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale_before:
        return
    ScimToken.objects.filter(pk=token.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale_before)
    ).update(last_used_at=now, last_used_ip=ip_address)
    token.last_used_at, token.last_used_ip = now, ip_address
    refresh_cached_token(token)


class ScimEnabledForOrganization(BasePermission):
    def has_permission(self, request, view) -> bool:
        if not request.auth.organization.scim_enabled:
            raise PermissionDenied(
                "SCIM provisioning is not enabled for this organization's plan; "
                "contact support to enable it."
            )
        return True


class ScimTokenThrottle(BaseThrottle):
    """A fixed-window request budget per token (ORGADMIN_SCIM_THROTTLE_RATE, "N/period").

    Generous by default: Entra ID does not rate-limit custom apps and treats 429 as a
    failure, so this only stops a runaway client. The counters live in the cache:
    Redis when REDIS_URL is set, shared by every worker; otherwise each process counts
    on its own.
    """

    def allow_request(self, request, view) -> bool:
        rate = parse_throttle_rate(settings.SCIM_THROTTLE_RATE)
        if rate is None or request.auth is None:
            return True
        limit, seconds = rate
        now = int(time.time())
        window_start = now - now % seconds
        self.wait_seconds = window_start + seconds - now
        used = count_in_window(
            f"scim-throttle:{request.auth.pk}:{window_start}", seconds=seconds
        )
        return used <= limit

    def wait(self):
        return getattr(self, "wait_seconds", 1)
