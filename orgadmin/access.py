"""The only organization-scoped fetches for the UI: unknown and foreign ids are both 404.

A person reaches an organization through an active Member row; administrative pages
need the owner or admin role, and answer 404 (not 403) to everyone else so that the
existence of a page is not revealed.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404

from orgadmin import invitations
from orgadmin.errors import InvitationNotValid
from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    Member,
    Organization,
    RemovedMember,
    ScimToken,
    Team,
    User,
)


def organizations_for_user(user: User) -> QuerySet[Organization]:
    """The organizations where the account is an active, linked member; a pending
    invitation (no account linked yet) gives no access."""
    if not user.is_authenticated:
        return Organization.objects.none()
    return Organization.objects.filter(
        members__user=user, members__is_active=True
    ).distinct()


def access_organization(
    user: User, slug: str, *, administrators_only: bool = False
) -> tuple[Organization, Member]:
    """Return the organization and the person's membership, or raise Http404.

    Only an active member linked to this very account gets in: a pending invitation
    for the same address is not enough until its link is followed.
    """
    if not user.is_authenticated:
        raise Http404("No such organization.")
    member = (
        # The brake comes along for the settings pages' banner, in the same query.
        Member.objects.select_related(
            "organization", "organization__deprovisioning_brake"
        )
        .filter(organization__slug=slug, user=user, is_active=True)
        .first()
    )
    if member is None or (administrators_only and not member.is_administrator):
        raise Http404("No such organization.")
    return member.organization, member


def access_member(organization: Organization, member_id: int | str) -> Member:
    return _get(
        Member.objects.for_organization(organization).select_related("user"), member_id
    )


def access_removed_member(
    organization: Organization, removed_id: int | str
) -> RemovedMember:
    """A removed member that can still be restored."""
    return _get(
        RemovedMember.objects.for_organization(organization).restorable(), removed_id
    )


def access_member_by_email(organization: Organization, email: str) -> Member:
    member = (
        Member.objects.for_organization(organization)
        .filter(email__iexact=(email or "").strip())
        .first()
    )
    if member is None:
        raise Http404("No such member.")
    return member


def access_invitation(token: str) -> Member:
    """The pending member an invitation link opens, for anyone holding the link.

    A tampered, used, replaced, revoked or expired link raises InvitationNotValid,
    with the organization when the link is genuine.
    """
    read = invitations.read_token(token)
    member = (
        Member.objects.select_related("organization").filter(pk=read[0]).first()
        if read
        else None
    )
    if member is None:
        raise InvitationNotValid(invitations.NOT_VALID)
    invitations.check_invitation(member, read[1])
    return member


def access_team(organization: Organization, team_id: int | str) -> Team:
    return _get(Team.objects.for_organization(organization), team_id)


def access_claimed_domain(
    organization: Organization, domain_id: int | str
) -> ClaimedDomain:
    return _get(ClaimedDomain.objects.filter(organization=organization), domain_id)


def access_scim_token(organization: Organization, token_id: int | str) -> ScimToken:
    return _get(ScimToken.objects.filter(organization=organization), token_id)


def access_audit_events(organization: Organization) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.for_organization(organization)


def _get(queryset: QuerySet, pk: int | str):
    try:
        return queryset.get(pk=int(pk))
    except (ValueError, TypeError, queryset.model.DoesNotExist):
        raise Http404(f"No such {queryset.model._meta.verbose_name}.") from None
