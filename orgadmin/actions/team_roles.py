"""Teams that grant a role (IdP groups mapped to roles), and who a team event changed.

A SCIM-managed team an owner marks with `Team.grants_role` makes its members admins
while they are on it (as WorkOS maps directory groups to roles). Owners keep their
role, a role given by hand is never taken back, and a member on two such teams keeps
the role until they leave both. The membership actions of `teams.py` call
`_record_team_changes` in their own transaction; it costs no query for a team that
grants no role and whose members did not change.
"""

from __future__ import annotations

from collections.abc import Collection

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import _copy_fields, _lock, _touch
from orgadmin.actions.ownership import _require_owner_of
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue
from orgadmin.models import (
    AuditEvent,
    AuditEventSubject,
    Member,
    Team,
    TeamMembership,
    User,
)

GRANTABLE_ROLES = frozenset({Member.Role.ADMIN})


def set_team_grants_role(team: Team, *, grants_role: str, actor: Actor | User) -> Team:
    """Mark a SCIM-managed team as granting `grants_role` ("" for none), and give or
    take back the role of its current members at once."""
    actor = as_actor(actor)
    if grants_role and grants_role not in GRANTABLE_ROLES:
        raise InvalidValue(
            f'A team cannot grant the role "{grants_role}".', field="grants_role"
        )
    with transaction.atomic():
        locked = _lock(team)
        organization = locked.organization
        _require_owner_of(
            organization, actor, "map a team to a role", field="grants_role"
        )
        if not locked.is_scim_managed:
            raise InvalidValue(
                "Only a team managed by SCIM (an IdP group) can grant a role.",
                field="grants_role",
            )
        changed = _assign_changes(locked, {"grants_role": grants_role})
        if changed:
            _touch(locked)
            locked.save(update_fields=["grants_role", "version", "updated_at"])
            record_event(
                organization,
                actor=actor,
                action="team.updated",
                target=locked,
                changes=changed,
            )
            members = set(
                TeamMembership.objects.filter(team=locked).values_list(
                    "member_id", flat=True
                )
            )
            if grants_role:
                _grant_role(locked, members, actor=actor)
            else:
                _take_back_role(locked, members, actor=actor)
    _copy_fields(locked, team)
    return team


def _record_team_changes(
    team: Team,
    event: AuditEvent | None,
    *,
    joined: Collection[int],
    left: Collection[int],
    actor: Actor,
) -> None:
    """Name each member `event` added to or removed from the team (their timelines
    find it), then give or take back the role the team grants."""
    if event is not None and (joined or left):
        AuditEventSubject.objects.bulk_create(
            [
                AuditEventSubject(
                    event=event,
                    organization_id=team.organization_id,
                    member_id=pk,
                    change=change,
                    created_at=event.created_at,
                )
                for change, ids in (
                    (AuditEventSubject.Change.JOINED, joined),
                    (AuditEventSubject.Change.LEFT, left),
                )
                for pk in sorted(ids)
            ]
        )
    if not team.grants_role:
        return
    if joined:
        _grant_role(team, joined, actor=actor)
    if left:
        _take_back_role(team, left, actor=actor)


def _grant_role(team: Team, member_ids: Collection[int], *, actor: Actor) -> None:
    """Promote the plain members among `member_ids`; owners and admins stay."""
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=member_ids, role=Member.Role.MEMBER)
        .order_by("pk")
    )
    _change_roles(
        team, members, role=team.grants_role, granted_by_team=True, actor=actor
    )


def _take_back_role(team: Team, member_ids: Collection[int], *, actor: Actor) -> None:
    """Demote the members among `member_ids` whose role a team gave and whom no other
    team granting a role keeps it for."""
    still_granted = (
        TeamMembership.objects.filter(team__organization_id=team.organization_id)
        .exclude(team__grants_role="")
        .exclude(team=team)
    )
    members = list(
        Member.objects.select_for_update()
        .filter(pk__in=member_ids, role=Member.Role.ADMIN, role_granted_by_team=True)
        .exclude(pk__in=still_granted.values("member_id"))
        .order_by("pk")
    )
    _change_roles(
        team, members, role=Member.Role.MEMBER, granted_by_team=False, actor=actor
    )


def _change_roles(
    team: Team,
    members: list[Member],
    *,
    role: str,
    granted_by_team: bool,
    actor: Actor,
) -> None:
    if not members:
        return
    Member.objects.filter(pk__in=[m.pk for m in members]).update(
        role=role,
        role_granted_by_team=granted_by_team,
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    for member in members:
        record_event(
            team.organization,
            actor=actor,
            action="member.role_changed",
            target=member,
            changes={
                "role": {"from": member.role, "to": role},
                "team": team.display_name,
            },
        )
