"""Teams (what a SCIM group becomes) and their memberships as set operations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import _copy_fields, _save_unique, _touch
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import InvalidValue
from orgadmin.models import Member, Organization, Team, TeamMembership, User


def create_team(
    organization: Organization,
    *,
    display_name: str,
    actor: Actor | User,
    external_id: str | None = None,
    member_ids: Iterable[int] = (),
    scim_managed: bool = False,
) -> Team:
    """Create a team, with its first members given by Member pk (of this organization)."""
    actor = as_actor(actor)
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidValue("A team needs a name.", field="display_name")
    with transaction.atomic():
        member_ids = _organization_member_ids(organization, member_ids)
        team = Team(
            organization=organization,
            display_name=display_name,
            external_id=external_id or None,
            is_scim_managed=scim_managed,
        )
        _save_unique(
            team, f'A team named "{display_name}" or with this externalId exists.'
        )
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=team, member_id=pk) for pk in member_ids]
        )
        record_event(
            organization,
            actor=actor,
            action="team.created",
            target=team,
            changes={
                "display_name": display_name,
                "external_id": team.external_id,
                "members_added": len(member_ids),
            },
        )
    return team


UNCHANGED: Any = object()


def update_team(
    team: Team,
    *,
    actor: Actor | User,
    display_name: str = UNCHANGED,
    external_id: str | None = UNCHANGED,
    add_member_ids: Iterable[int] = (),
    remove_member_ids: Iterable[int] = (),
    replace_member_ids: Iterable[int] | None = None,
) -> Team:
    """Rename a team and change its members as set operations, in one event.

    Member ids are Member pks; ids that are not this organization's members raise
    InvalidValue and change nothing. Replacing applies only the difference, so concurrent
    adds and removes of other members are never lost.
    """
    actor = as_actor(actor)
    organization = team.organization
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        attributes: dict[str, Any] = {}
        if display_name is not UNCHANGED:
            display_name = (display_name or "").strip()
            if not display_name:
                raise InvalidValue("A team needs a name.", field="display_name")
            attributes["display_name"] = display_name
        if external_id is not UNCHANGED:
            attributes["external_id"] = external_id or None
        changes = _assign_changes(locked, attributes)
        add = _organization_member_ids(organization, add_member_ids)
        remove = _organization_member_ids(organization, remove_member_ids)
        if replace_member_ids is not None:
            wanted = _organization_member_ids(organization, replace_member_ids)
            current = set(
                TeamMembership.objects.filter(team=locked).values_list(
                    "member_id", flat=True
                )
            )
            add |= wanted - current
            remove |= current - wanted
        added, removed = _apply_membership(locked, add=add - remove, remove=remove)
        if added:
            changes["members_added"] = added
        if removed:
            changes["members_removed"] = removed
        if changes:
            _touch(locked)
            _save_unique(locked, "Another team already has this name or externalId.")
        record_event(
            organization,
            actor=actor,
            action="team.updated",
            target=locked,
            changes=changes,
        )
    _copy_fields(locked, team)
    return team


def add_team_members(
    team: Team, member_ids: Iterable[int], *, actor: Actor | User
) -> Team:
    return update_team(team, actor=actor, add_member_ids=member_ids)


def remove_team_members(
    team: Team, member_ids: Iterable[int], *, actor: Actor | User
) -> Team:
    return update_team(team, actor=actor, remove_member_ids=member_ids)


def delete_team(team: Team, *, actor: Actor | User) -> None:
    """Delete the team only: its members stay in the organization."""
    actor = as_actor(actor)
    with transaction.atomic():
        record_event(
            team.organization,
            actor=actor,
            action="team.deleted",
            target=team,
            changes={"display_name": team.display_name, "scim_id": str(team.scim_id)},
        )
        _touch_members(TeamMembership.objects.filter(team=team).values("member_id"))
        team.delete()


def _organization_member_ids(
    organization: Organization, member_ids: Iterable[int]
) -> set[int]:
    wanted = set(member_ids)
    if not wanted:
        return set()
    found = set(
        Member.objects.filter(organization=organization, pk__in=wanted).values_list(
            "pk", flat=True
        )
    )
    missing = wanted - found
    if missing:
        raise InvalidValue(
            f"{len(missing)} of the members are not in this organization.",
            field="members",
        )
    return found


def _apply_membership(
    team: Team, *, add: set[int], remove: set[int]
) -> tuple[int, int]:
    """Insert and delete memberships as two statements, whatever their number."""
    removed = 0
    if remove:
        removed, _ = TeamMembership.objects.filter(
            team=team, member_id__in=remove
        ).delete()
    added = 0
    if add:
        before = TeamMembership.objects.filter(team=team, member_id__in=add).count()
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=team, member_id=pk) for pk in add],
            ignore_conflicts=True,
        )
        added = len(add) - before
    if add or remove:
        _touch_members(add | remove)
    return added, removed


def _touch_members(member_ids: Iterable[int]) -> None:
    """Change the ETag of members whose teams (their SCIM `groups`) changed, in one
    statement: a client's cached copy of the user must not look current."""
    Member.objects.filter(pk__in=member_ids).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
