"""SCIM tokens: issued with a secret shown once, stored as a digest, revoked."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import partial

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from orgadmin.actions._rows import _copy_fields
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue
from orgadmin.models import Organization, ScimToken, User


def issue_scim_token(
    organization: Organization,
    *,
    name: str,
    actor: Actor | User,
    expires_at: datetime | None = None,
) -> tuple[ScimToken, str]:
    """Create a token and return it with its secret, which is never stored or shown again."""
    actor = as_actor(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidValue(
            "Give the token a name, such as the IdP it is for.", field="name"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidValue("The expiry must be in the future.", field="expires_at")
    secret = ScimToken.SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken.objects.create(
            organization=organization,
            name=name,
            prefix=secret[: len(ScimToken.SECRET_PREFIX) + 4],
            digest=ScimToken.digest_of(secret),
            created_by=actor.user,
            expires_at=expires_at,
        )
        record_event(
            organization,
            actor=actor,
            action="scim_token.issued",
            target=token,
            changes={
                "name": name,
                "prefix": token.prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def revoke_scim_token(token: ScimToken, *, actor: Actor | User) -> ScimToken:
    actor = as_actor(actor)
    with transaction.atomic():
        locked = ScimToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise InvalidValue(f"{locked.label} is already revoked.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        # The SCIM endpoint keeps the row for a second (scim/token_cache.py): drop it
        # now, and again once committed, so that no request in between caches it
        # still active.
        forget = partial(cache.delete, ScimToken.cache_key(locked.digest))
        forget()
        transaction.on_commit(forget)
        record_event(
            locked.organization,
            actor=actor,
            action="scim_token.revoked",
            target=locked,
            changes={"prefix": locked.prefix},
        )
    _copy_fields(locked, token)
    return token
