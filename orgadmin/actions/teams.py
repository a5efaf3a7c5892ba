"""Teams (what a SCIM group becomes) and their memberships as set operations."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, TypedDict, Unpack

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import (
    _check_version,
    _copy_fields,
    _lock,
    _save_unique,
    _touch,
)
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
    display_name = _require_name(display_name)
    with transaction.atomic():
        member_ids = _organization_member_ids(organization, member_ids)
        team = Team(
            organization=organization,
            display_name=display_name,
            external_id=external_id or None,
            is_scim_managed=scim_managed,
        )
        _save_unique(
            team, f'A team named "{display_name}" or with this external id exists.'
        )
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=team, member_id=pk) for pk in member_ids]
        )
        if member_ids:
            _touch_members(member_ids)
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


class TeamChanges(TypedDict, total=False):
    """What an update may change; member ids are Member pks of the team's organization.

    Replacing applies only the difference, so concurrent adds and removes of other
    members are never lost.
    """

    display_name: str
    external_id: str | None
    add_member_ids: Iterable[int]
    remove_member_ids: Iterable[int]
    replace_member_ids: Iterable[int] | None


def update_team(
    team: Team,
    *,
    actor: Actor | User,
    expected_version: int | Collection[int] | None = None,
    **changes: Unpack[TeamChanges],
) -> Team:
    """Rename a team and change its members as set operations, in one event.

    Ids that are not this organization's members raise InvalidValue and change
    nothing; nothing is recorded when nothing changed. With `expected_version`, a team
    changed since it was read raises VersionMismatch and nothing is written.
    """
    actor = as_actor(actor)
    unknown = set(changes) - set(TeamChanges.__annotations__)
    if unknown:
        raise TypeError(f"Not team changes: {', '.join(sorted(unknown))}.")
    organization = team.organization
    with transaction.atomic():
        locked = _lock(team)
        _check_version(locked, expected_version)
        attributes: dict[str, Any] = {}
        if "display_name" in changes:
            attributes["display_name"] = _require_name(changes["display_name"])
        if "external_id" in changes:
            attributes["external_id"] = changes["external_id"] or None
        changed = _assign_changes(locked, attributes)
        add = _organization_member_ids(organization, changes.get("add_member_ids", ()))
        remove = _organization_member_ids(
            organization, changes.get("remove_member_ids", ())
        )
        if changes.get("replace_member_ids") is not None:
            wanted = _organization_member_ids(
                organization, changes["replace_member_ids"]
            )
            current = set(
                TeamMembership.objects.filter(team=locked).values_list(
                    "member_id", flat=True
                )
            )
            add |= wanted - current
            remove |= current - wanted
        added, removed = _apply_membership(locked, add=add - remove, remove=remove)
        if added:
            changed["members_added"] = added
        if removed:
            changed["members_removed"] = removed
        if changed:
            _touch(locked)
            _save_unique(locked, "Another team already has this name or external id.")
            record_event(
                organization,
                actor=actor,
                action="team.updated",
                target=locked,
                changes=changed,
            )
    _copy_fields(locked, team)
    return team


def add_team_members(
    team: Team, *, member_ids: Iterable[int], actor: Actor | User
) -> Team:
    return update_team(team, add_member_ids=member_ids, actor=actor)


def remove_team_members(
    team: Team, *, member_ids: Iterable[int], actor: Actor | User
) -> Team:
    return update_team(team, remove_member_ids=member_ids, actor=actor)


def delete_team(
    team: Team,
    *,
    actor: Actor | User,
    expected_version: int | Collection[int] | None = None,
) -> None:
    """Delete the team only: its members stay in the organization."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock(team)
        _check_version(locked, expected_version)
        record_event(
            team.organization,
            actor=actor,
            action="team.deleted",
            target=locked,
            changes={
                "display_name": locked.display_name,
                "scim_id": str(locked.scim_id),
            },
        )
        _touch_members(TeamMembership.objects.filter(team=locked).values("member_id"))
        locked.delete()


def _require_name(display_name: str | None) -> str:
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidValue("A team needs a name.", field="display_name")
    return display_name


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
    """Insert and delete memberships in a few statements, whatever their number, and
    change the ETag of only the members whose teams really changed."""
    removed: set[int] = set()
    if remove:
        removed = set(
            TeamMembership.objects.filter(team=team, member_id__in=remove).values_list(
                "member_id", flat=True
            )
        )
        TeamMembership.objects.filter(team=team, member_id__in=removed).delete()
    added: set[int] = set()
    if add:
        present = set(
            TeamMembership.objects.filter(team=team, member_id__in=add).values_list(
                "member_id", flat=True
            )
        )
        added = add - present
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=team, member_id=pk) for pk in added],
            ignore_conflicts=True,
        )
    if added or removed:
        _touch_members(added | removed)
    return len(added), len(removed)


def _touch_members(member_ids: Iterable[int]) -> None:
    """Change the ETag of members whose teams (their SCIM `groups`) changed, in one
    statement: a client's cached copy of the user must not look current."""
    Member.objects.filter(pk__in=member_ids).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
