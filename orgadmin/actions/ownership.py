"""Ownership: an owner hands the organization to another member and steps down."""

from __future__ import annotations

from django.db import transaction

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import _copy_fields, _lock, _touch
from orgadmin.actions.members import _lock_owners
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue, NotPermitted
from orgadmin.models import AuditEvent, Member, Organization, User


def transfer_ownership(
    organization: Organization, *, to_member: Member, actor: Actor | User
) -> Member:
    """Make `to_member` an owner and the acting owner an admin, in one transaction.

    Only an active owner, signed in as a person, transfers; the new owner must be an
    active member with an account (a pending invitation cannot sign in to accept the
    role). Each of the two role changes is recorded on its member, so both people's
    timelines show it. Returns the actor's member, now an admin.
    """
    actor = as_actor(actor)
    if actor.type != AuditEvent.ActorType.USER or actor.user is None:
        raise NotPermitted("Only an owner, signed in, can transfer ownership.")
    with transaction.atomic():
        # The same order as every owner change (members._lock_owners): owners first.
        _lock_owners(organization)
        current = (
            Member.objects.select_for_update()
            .filter(organization=organization, user=actor.user, is_active=True)
            .first()
        )
        if current is None or current.role != Member.Role.OWNER:
            raise NotPermitted("Only an owner can transfer ownership.", field="role")
        if to_member.organization_id != organization.pk:
            raise InvalidValue("That person is not a member of this organization.")
        target = _lock(to_member)
        if target.pk == current.pk:
            raise InvalidValue("You are already an owner: choose someone else.")
        if not target.is_active or target.user_id is None:
            raise InvalidValue(
                f"{target.label} cannot become an owner: only an active member who "
                "has signed in (not a pending invitation) can.",
                field="role",
            )
        _set_role(target, Member.Role.OWNER, actor, f"transferred by {actor.label}")
        _set_role(current, Member.Role.ADMIN, actor, f"transferred to {target.label}")
    _copy_fields(target, to_member)
    return current


def _set_role(member: Member, role: str, actor: Actor, reason: str) -> None:
    changes = _assign_changes(member, {"role": role})
    if not changes:
        return
    member.role_granted_by_team = False
    _touch(member)
    member.save(update_fields=["role", "role_granted_by_team", "version", "updated_at"])
    record_event(
        member.organization,
        actor=actor,
        action="member.role_changed",
        target=member,
        changes={**changes, "reason": f"Ownership {reason}"},
    )


def _require_owner_of(
    organization: Organization, actor: Actor, what: str, *, field: str | None = None
) -> None:
    """Refuse a person who is not an active owner; operators and the system may."""
    if actor.type == AuditEvent.ActorType.SCIM_TOKEN or (
        actor.type == AuditEvent.ActorType.USER
        and not Member.objects.filter(
            organization=organization,
            user=actor.user,
            role=Member.Role.OWNER,
            is_active=True,
        ).exists()
    ):
        raise NotPermitted(f"Only an owner can {what}.", field=field)
