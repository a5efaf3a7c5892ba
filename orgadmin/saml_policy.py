"""Require SSO: who must sign in through the IdP, and who turning it on would lock out.

With Require SSO on, a member whose account email is on one of the organization's
verified domains cannot sign in with a password. Owners and admins keep a way back in
when the IdP breaks: their password together with a second factor (TOTP, or one of
the recovery codes shown when Require SSO is turned on).
"""

from __future__ import annotations

from dataclasses import dataclass

from allauth.mfa.models import Authenticator
from allauth.socialaccount.models import SocialAccount

from orgadmin import saml
from orgadmin.models import ClaimedDomain, Member, Organization, SSOConfiguration, User


def sso_required_for(user: User) -> SSOConfiguration | None:
    """The configuration that refuses this account a password sign-in, if any."""
    domain = user.email.rpartition("@")[2]
    configurations = SSOConfiguration.objects.select_related("organization").filter(
        require_sso=True,
        enabled=True,
        organization__sso_enabled=True,
        organization__claimed_domains__domain=domain,
        organization__claimed_domains__status__in=ClaimedDomain.VERIFIED_STATUSES,
        organization__members__user=user,
        organization__members__is_active=True,
    )
    configuration = configurations.first()
    if configuration is None:
        return None
    member = Member.objects.get(organization=configuration.organization, user=user)
    if member.is_administrator and _has_second_factor(user):
        return None
    return configuration


@dataclass(frozen=True)
class LockedOut:
    member: Member
    reason: str


def require_sso_lockout(organization: Organization) -> list[LockedOut]:
    """The active members who could not sign in once Require SSO is on, and why."""
    verified = organization.verified_domain_names()
    members = list(
        Member.objects.for_organization(organization)
        .active()
        .select_related("user")
        .order_by("email", "pk")
    )
    users = [m.user_id for m in members if m.user_id]
    seen = set(
        SocialAccount.objects.filter(
            provider=saml.provider_id_for(organization), user_id__in=users
        ).values_list("user_id", flat=True)
    )
    with_second_factor = set(
        Authenticator.objects.filter(
            user_id__in=users, type=Authenticator.Type.TOTP
        ).values_list("user_id", flat=True)
    )
    found = []
    for member in members:
        email = member.user.email if member.user else member.email
        if email.rpartition("@")[2] not in verified:
            found.append(
                LockedOut(
                    member,
                    "No email on a verified domain: SSO cannot sign them in.",
                )
            )
        elif member.is_administrator:
            if member.user_id not in with_second_factor:
                found.append(
                    LockedOut(
                        member,
                        f"{member.get_role_display()} without a second factor: loses "
                        "the password way back in.",
                    )
                )
        elif member.user_id not in seen:
            found.append(
                LockedOut(
                    member,
                    "Never signed in through SSO: check they are assigned to the app "
                    "in the IdP.",
                )
            )
    return found


def _has_second_factor(user: User) -> bool:
    return Authenticator.objects.filter(
        user=user, type=Authenticator.Type.TOTP
    ).exists()
