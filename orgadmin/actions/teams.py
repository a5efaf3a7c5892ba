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
from orgadmin.actions.team_roles import _record_team_changes
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
    """Create a team, with its first members given by Member pk (of this organization).

    A SCIM create (`scim_managed`) with an external id, named as a team an admin
    handed to SCIM (`adopt_team_for_scim`) that no group is linked to yet, links that
    team instead of failing on its name: see `_link_adopted_team`.
    """
    actor = as_actor(actor)
    display_name = _require_name(display_name)
    with transaction.atomic():
        member_ids = _organization_member_ids(organization, member_ids)
        adopted = (
            _adopted_team(organization, display_name)
            if scim_managed and external_id
            else None
        )
        if adopted is not None:
            return _link_adopted_team(
                adopted, external_id=external_id, member_ids=member_ids, actor=actor
            )
        team = Team(
            organization=organization,
            display_name=display_name,
            external_id=external_id or None,
            is_scim_managed=scim_managed,
        )
        _save_unique(team, name_taken_message(display_name))
        TeamMembership.objects.bulk_create(
            [TeamMembership(team=team, member_id=pk) for pk in member_ids]
        )
        if member_ids:
            _touch_members(member_ids)
        event = record_event(
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
        _record_team_changes(team, event, joined=member_ids, left=(), actor=actor)
    return team


def name_taken_message(display_name: str) -> str:
    """The refusal of a create whose name or external id another team has. A SCIM
    client shows it in its provisioning log, so it says what the admin can do."""
    return (
        f'A team named "{display_name}" or with this external id exists. If it is '
        "the same team, an owner or admin can hand it to SCIM on the Teams page; "
        "otherwise rename one of them."
    )


def adopt_team_for_scim(team: Team, *, actor: Actor | User) -> Team:
    """Hand a team made in orgadmin to SCIM, for an IdP group of the same name.

    The settings UI stops changing it (the IdP owns it). Entra ID matches groups by
    displayName by default (`GET /Groups?filter=displayName eq "..."`) and PATCHes
    the team it finds; a client matching on externalId instead POSTs the group, got
    409 for the name, and retries on its next cycle: that create now links this team
    (create_team). Already SCIM-managed teams are refused.
    """
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock(team)
        if locked.is_scim_managed:
            raise InvalidValue(f"{locked.display_name} is already managed by SCIM.")
        changed = _assign_changes(locked, {"is_scim_managed": True})
        _touch(locked)
        locked.save()
        record_event(
            locked.organization,
            actor=actor,
            action="team.adopted",
            target=locked,
            changes=changed,
        )
    _copy_fields(locked, team)
    return team


def _adopted_team(organization: Organization, display_name: str) -> Team | None:
    """A SCIM-managed team of this name that no IdP group is linked to (no external
    id), locked."""
    return (
        Team.objects.select_for_update()
        .filter(
            organization=organization,
            display_name__iexact=display_name,
            is_scim_managed=True,
            external_id__isnull=True,
        )
        .first()
    )


def _link_adopted_team(
    team: Team, *, external_id: str, member_ids: set[int], actor: Actor
) -> Team:
    """Link an IdP group to the adopted team: its external id, and the create's
    members in place of the team's, as a create would have them."""
    changed = _assign_changes(team, {"external_id": external_id})
    current = set(
        TeamMembership.objects.filter(team=team).values_list("member_id", flat=True)
    )
    added, removed = _apply_membership(
        team, add=member_ids - current, remove=current - member_ids
    )
    if added:
        changed["members_added"] = len(added)
    if removed:
        changed["members_removed"] = len(removed)
    _touch(team)
    _save_unique(team, name_taken_message(team.display_name))
    team.refresh_from_db()
    event = record_event(
        team.organization,
        actor=actor,
        action="team.linked",
        target=team,
        changes=changed,
    )
    _record_team_changes(team, event, joined=added, left=removed, actor=actor)
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
        add = set(changes.get("add_member_ids", ()))
        remove = set(changes.get("remove_member_ids", ()))
        replace = changes.get("replace_member_ids")
        wanted = set(replace) if replace is not None else set()
        # One statement locks them all, in one order (see _organization_member_ids).
        _organization_member_ids(organization, add | remove | wanted)
        if replace is not None:
            current = set(
                TeamMembership.objects.filter(team=locked).values_list(
                    "member_id", flat=True
                )
            )
            add |= wanted - current
            remove |= current - wanted
        added, removed = _apply_membership(locked, add=add - remove, remove=remove)
        if added:
            changed["members_added"] = len(added)
        if removed:
            changed["members_removed"] = len(removed)
        if changed:
            _touch(locked)
            _save_unique(
                locked,
                "Another team already has this name or external id.",
                update_fields={"version", "updated_at", *attributes},
            )
            event = record_event(
                organization,
                actor=actor,
                action="team.updated",
                target=locked,
                changes=changed,
            )
            _record_team_changes(locked, event, joined=added, left=removed, actor=actor)
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
        event = record_event(
            team.organization,
            actor=actor,
            action="team.deleted",
            target=locked,
            changes={
                "display_name": locked.display_name,
                "scim_id": str(locked.scim_id),
            },
        )
        left = set(
            TeamMembership.objects.filter(team=locked).values_list(
                "member_id", flat=True
            )
        )
        _touch_members(left)
        _record_team_changes(locked, event, joined=(), left=left, actor=actor)
        locked.delete()


def _require_name(display_name: str | None) -> str:
    display_name = (display_name or "").strip()
    if not display_name:
        raise InvalidValue("A team needs a name.", field="display_name")
    return display_name


def _organization_member_ids(
    organization: Organization, member_ids: Iterable[int]
) -> set[int]:
    """The ids, each checked to be a member of the organization and locked until the
    transaction ends.

    The lock keeps a member that a parallel request is removing from the organization
    either gone before (refused here) or there until the memberships are committed
    (its removal then deletes them too); without it, the membership would fail its
    foreign key at commit, a 500. Rows are locked in pk order, so two team changes
    sharing members wait for one another instead of deadlocking.
    """
    wanted = set(member_ids)
    if not wanted:
        return set()
    found = set(
        Member.objects.filter(organization=organization, pk__in=wanted)
        .select_for_update(no_key=True)
        .order_by("pk")
        .values_list("pk", flat=True)
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
) -> tuple[set[int], set[int]]:
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
    return added, removed


def _touch_members(member_ids: Iterable[int]) -> None:
    """Change the ETag of members whose teams (their SCIM `groups`) changed, in one
    statement: a client's cached copy of the user must not look current."""
    Member.objects.filter(pk__in=member_ids).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
