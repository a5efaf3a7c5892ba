"""The bearer token alone picks the organization of a SCIM request."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from orgadmin.models import ScimToken


class ScimTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`, looked up by its SHA-256 digest.

    Sets `request.auth` to the ScimToken (with its organization loaded); `request.user`
    stays None: a token is not a person.
    """

    def authenticate(self, request):
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
        token = (
            ScimToken.objects.select_related("organization")
            .filter(digest=ScimToken.digest_of(secret))
            .first()
        )
        if token is None:
            raise AuthenticationFailed("The token is not valid.")
        if not token.is_usable:
            raise AuthenticationFailed(
                f"The token is {token.status}; issue a new one in Access Security > SCIM."
            )
        note_token_use(token, ip_address=request.META.get("REMOTE_ADDR"))
        return (None, token)

    def authenticate_header(self, request):
        return 'Bearer realm="scim"'


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
    failure, so this only stops a runaway client.
    """

    PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}

    def allow_request(self, request, view) -> bool:
        rate = settings.SCIM_THROTTLE_RATE
        if not rate or request.auth is None:
            return True
        number, _, period = rate.partition("/")
        limit, seconds = int(number), self.PERIODS[period.strip().lower()]
        now = int(time.time())
        window = now // seconds
        self.wait_seconds = seconds - now % seconds
        key = f"scim-throttle:{request.auth.pk}:{window}"
        cache.add(key, 0, timeout=seconds + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=seconds + 1)
            used = 1
        return used <= limit

    def wait(self):
        return getattr(self, "wait_seconds", 1)
