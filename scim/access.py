"""The only organization-scoped fetches of the SCIM endpoint: unknown and foreign ids
are both 404, and member references outside the organization are refused."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from uuid import UUID

from orgadmin.models import Member, Organization, Team, TeamMembership
from scim.errors import InvalidValue, NotFound
from scim.serializers import parse_scim_id


def scim_member(organization: Organization, scim_id: str) -> Member:
    # The manager is not joined: most members have none, and the SCIM answer loads
    # the few columns it shows of one (scim.views.MemberListing.members_to_scim).
    return _get(
        Member.objects.for_organization(organization), scim_id, "user", organization
    )


def scim_team(organization: Organization, scim_id: str) -> Team:
    return _get(
        Team.objects.for_organization(organization), scim_id, "group", organization
    )


def member_pks(
    organization: Organization, scim_ids: Iterable[str], *, strict: bool
) -> list[int]:
    """Member pks for SCIM ids, in one query. Strict: every id must be a user of this
    organization (else 400 and nothing changes); lenient: unknown ids are skipped,
    which is what removing a member that is already gone should do."""
    wanted = set(scim_ids)
    if not wanted:
        return []
    parsed = {text: parse_scim_id(text) for text in wanted}
    found = dict(
        Member.objects.for_organization(organization)
        .filter(scim_id__in=[u for u in parsed.values() if u is not None])
        .order_by()
        .values_list("scim_id", "pk")
    )
    missing = sorted(text for text, u in parsed.items() if u not in found)
    if missing and strict:
        shown = ", ".join(f'"{text}"' for text in missing[:5])
        raise InvalidValue(
            f"{len(missing)} member id(s) are not users of this organization: {shown}."
        )
    return [found[u] for u in parsed.values() if u in found]


def team_member_references(
    team_ids: Iterable[int],
) -> dict[int, list[tuple[UUID, str]]]:
    """(SCIM id, label) of every member of the given teams, in one query."""
    references: dict[int, list[tuple[UUID, str]]] = defaultdict(list)
    rows = (
        TeamMembership.objects.filter(team_id__in=list(team_ids))
        .order_by("pk")
        .values_list(
            "team_id", "member__scim_id", "member__display_name", "member__user_name"
        )
    )
    for team_id, scim_id, display_name, user_name in rows:
        references[team_id].append((scim_id, display_name or user_name))
    return references


def member_team_references(
    member_ids: Iterable[int],
) -> dict[int, list[tuple[UUID, str]]]:
    """(SCIM id, name) of the teams of the given members, in one query."""
    references: dict[int, list[tuple[UUID, str]]] = defaultdict(list)
    rows = (
        TeamMembership.objects.filter(member_id__in=list(member_ids))
        .order_by("team__display_name", "pk")
        .values_list("member_id", "team__scim_id", "team__display_name")
    )
    for member_id, scim_id, name in rows:
        references[member_id].append((scim_id, name))
    return references


def _get(queryset, scim_id: str, noun: str, organization: Organization):
    parsed = parse_scim_id(scim_id)
    found = queryset.filter(scim_id=parsed).first() if parsed else None
    if found is None:
        raise NotFound(f'No {noun} with id "{scim_id}" in this organization.')
    # The row is the token's organization's: spare the actions a query to load it again.
    found.organization = organization
    return found
