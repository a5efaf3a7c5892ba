"""Who did a write, and the one audit event each action records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models

from orgadmin.models import AuditEvent, Organization, ScimToken, User


@dataclass(frozen=True)
class Actor:
    """The author of a write: a signed-in person, a SCIM token, an operator or the system."""

    type: str
    label: str
    user: User | None = None
    token: ScimToken | None = None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def for_user(
        cls, user: User, *, ip_address: str | None = None, user_agent: str = ""
    ) -> Actor:
        return cls(
            AuditEvent.ActorType.USER,
            user.email,
            user=user,
            ip_address=ip_address,
            user_agent=user_agent,
        )

    @classmethod
    def for_operator(cls, user: User, *, ip_address: str | None = None) -> Actor:
        return cls(
            AuditEvent.ActorType.OPERATOR,
            f"Operator {user.email}",
            user=user,
            ip_address=ip_address,
        )

    @classmethod
    def for_scim_token(
        cls, token: ScimToken, *, ip_address: str | None = None
    ) -> Actor:
        return cls(
            AuditEvent.ActorType.SCIM_TOKEN,
            token.label,
            token=token,
            ip_address=ip_address,
        )

    @classmethod
    def for_command(cls, command: str) -> Actor:
        return cls(AuditEvent.ActorType.OPERATOR, f"Operator (manage.py {command})")

    @classmethod
    def system(cls, label: str = "System") -> Actor:
        return cls(AuditEvent.ActorType.SYSTEM, label)


def as_actor(actor: Actor | User) -> Actor:
    """Accept a bare User where a person acts in the UI."""
    if isinstance(actor, Actor):
        return actor
    if isinstance(actor, User):
        return Actor.for_user(actor)
    raise TypeError(f"Not an actor: {actor!r}")


def describe_target(target: models.Model | None) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    label = getattr(target, "label", None) or str(target)
    return target._meta.model_name, str(target.pk), str(label)[:300]


USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length


def record_event(
    organization: Organization | None,
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    target_type, target_id, target_label = describe_target(target)
    return AuditEvent.objects.create(
        organization=organization,
        organization_slug=organization.slug if organization else "",
        actor_type=actor.type,
        actor_user=actor.user,
        actor_token=actor.token,
        actor_label=actor.label[:300],
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        changes=changes or {},
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:USER_AGENT_LENGTH],
    )
