"""SCIM tokens by digest, kept in the cache for a second so that most requests
authenticate without a query.

Revocation still takes effect at once: `revoke_scim_token` deletes the entry, from the
shared cache (Redis, REDIS_URL) that every worker reads; with the local-memory cache
each process has its own copy, which lives at most CACHE_SECONDS. Expiry is checked
on every request from `expires_at`, so an expired token is refused to the second.
Changes to the organization (SCIM turned off, the domain restriction) reach the
endpoint within CACHE_SECONDS.
"""

from __future__ import annotations

from django.core.cache import cache

from orgadmin.models import ScimToken

CACHE_SECONDS = 1


def token_for_digest(digest: str) -> ScimToken | None:
    """The token (with its organization) whose secret has this digest, or None."""
    key = ScimToken.cache_key(digest)
    token = cache.get(key)
    if token is None:
        token = (
            ScimToken.objects.select_related("organization")
            .filter(digest=digest)
            .first()
        )
        if token is not None:
            cache.set(key, token, CACHE_SECONDS)
    return token


def refresh_cached_token(token: ScimToken) -> None:
    """Replace the cached copy after a write to the row (its last use)."""
    cache.set(ScimToken.cache_key(token.digest), token, CACHE_SECONDS)
