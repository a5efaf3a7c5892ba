"""Security events: sign-ins, refused sign-ins and changes to how a person signs in.

Each is recorded once in the audit log of every organization the account belongs to
(active or deactivated), with that organization's member as the target, so that its
owners and admins see their people's sign-ins next to every other change. An account
in no organization, and a failed sign-in with an address no account has, give one
event without an organization, which only operators see (the Django admin).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from orgadmin.audit import Actor, record_event
from orgadmin.models import AuditEvent, Member, User

SECURITY_ACTIONS = frozenset(
    {
        "account.signed_in",
        "account.sign_in_failed",
        "account.password_changed",
        "account.password_reset",
        "account.second_factor_added",
        "account.second_factor_removed",
        "account.recovery_codes_regenerated",
        "account.recovery_code_used",
    }
)


def record_security_event(
    user: User | None,
    *,
    action: str,
    ip_address: str | None,
    user_agent: str = "",
    email: str = "",
    changes: dict[str, Any] | None = None,
) -> list[AuditEvent]:
    """Record `action` for the account, or for the address `email` that no account has.

    A failed sign-in is not the account holder's doing: its actor is the address that
    was typed, with no account attached. Returns the events written.
    """
    if action not in SECURITY_ACTIONS:
        raise ValueError(f"Not a security event: {action}.")
    if user is None or action == "account.sign_in_failed":
        actor = Actor(
            AuditEvent.ActorType.USER,
            (email or (user.email if user else "")).strip() or "An unknown address",
            ip_address=ip_address,
            user_agent=user_agent,
        )
    else:
        actor = Actor.for_user(user, ip_address=ip_address, user_agent=user_agent)
    memberships = (
        list(
            Member.objects.filter(user=user)
            .select_related("organization")
            .order_by("organization_id")
        )
        if user is not None
        else []
    )
    with transaction.atomic():
        if not memberships:
            return [
                record_event(
                    None, actor=actor, action=action, target=user, changes=changes
                )
            ]
        return [
            record_event(
                member.organization,
                actor=actor,
                action=action,
                target=member,
                changes=changes,
            )
            for member in memberships
        ]
