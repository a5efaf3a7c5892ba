"""Every write the UI, SCIM, the Django admin and the commands share.

Each action runs in one transaction and records exactly one audit event. Failures are
raised as OrgAdminError subclasses; an action never returns None or a dict to mean failure.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.text import slugify

from orgadmin import domains
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.dns import check_txt_record
from orgadmin.errors import (
    AlreadyExists,
    DomainAlreadyClaimed,
    DomainNotVerified,
    InvalidValue,
    LastOwner,
    NotPermitted,
)
from orgadmin.models import (
    AuditEvent,
    CheckOutcome,
    ClaimedDomain,
    Member,
    MemberEmail,
    Organization,
    ScimToken,
    SSOConfiguration,
    Team,
    TeamMembership,
    User,
)

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- organizations

ORGANIZATION_SETTINGS = (
    "name",
    "restrict_to_claimed_domains",
    "scim_enabled",
    "sso_enabled",
)


def create_organization(
    *,
    name: str,
    slug: str = "",
    actor: Actor | User,
    owner_email: str | None = None,
    restrict_to_claimed_domains: bool = True,
) -> Organization:
    """Create an organization, and its first owner when an email is given."""
    actor = as_actor(actor)
    name = name.strip()
    if not name:
        raise InvalidValue("An organization needs a name.", field="name")
    slug = slugify(slug or name)
    if not slug:
        raise InvalidValue(
            "Choose a slug of letters, digits and hyphens.", field="slug"
        )
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise AlreadyExists(f'The slug "{slug}" is already taken.', field="slug")
        organization = Organization.objects.create(
            name=name,
            slug=slug,
            restrict_to_claimed_domains=restrict_to_claimed_domains,
        )
        changes: dict[str, Any] = {"name": name, "slug": slug}
        if owner_email:
            owner = _add_member(
                organization,
                email=owner_email,
                role=Member.Role.OWNER,
                source="invited",
            )
            changes["owner"] = owner.email
        record_event(
            organization,
            actor=actor,
            action="organization.created",
            target=organization,
            changes=changes,
        )
    return organization


def update_organization(
    organization: Organization, *, actor: Actor | User, **settings: Any
) -> Organization:
    actor = as_actor(actor)
    unknown = set(settings) - set(ORGANIZATION_SETTINGS)
    if unknown:
        raise InvalidValue(
            f"Unknown organization settings: {', '.join(sorted(unknown))}."
        )
    with transaction.atomic():
        changes = _assign_changes(organization, settings)
        if changes:
            organization.save(update_fields=list(changes))
        record_event(
            organization,
            actor=actor,
            action="organization.updated",
            target=organization,
            changes=changes,
        )
    return organization


# --------------------------------------------------------------------------------- members


def add_member(
    organization: Organization,
    *,
    email: str,
    actor: Actor | User,
    role: str = Member.Role.MEMBER,
    full_name: str = "",
    notify: bool = True,
) -> Member:
    """Invite a person by email: their account is created when they have none yet.

    With `notify`, the person is emailed how to sign in once the invitation is saved.
    """
    actor = as_actor(actor)
    with transaction.atomic():
        member = _add_member(
            organization, email=email, role=role, source="invited", full_name=full_name
        )
        record_event(
            organization,
            actor=actor,
            action="member.added",
            target=member,
            changes={"email": member.email, "role": role},
        )
        if notify:
            transaction.on_commit(lambda: _send_invitation(member, invited_by=actor))
    return member


def _send_invitation(member: Member, *, invited_by: Actor) -> None:
    context = {
        "member": member,
        "organization": member.organization,
        "invited_by": invited_by.label,
        "has_password": member.user.has_usable_password(),
        "base_url": settings.ORGADMIN_BASE_URL,
    }
    subject = render_to_string("orgadmin/email/invitation_subject.txt", context)
    body = render_to_string("orgadmin/email/invitation.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, [member.email])
    except (smtplib.SMTPException, OSError):
        # The invitation stands; the admin can tell the person how to sign in.
        logger.warning(
            "Could not email the invitation to %s.", member.email, exc_info=True
        )


def provision_member(
    organization: Organization, *, attributes: dict[str, Any], actor: Actor | User
) -> Member:
    """Create a member from the directory (SCIM). `attributes` are Member field values.

    When the organization restricts to claimed domains, the work email (or the userName,
    when it is an email) must be on one of its verified domains. An existing account with
    that email is linked only when its domain is verified by this organization.
    """
    actor = as_actor(actor)
    attributes = dict(attributes)
    user_name = (attributes.get("user_name") or "").strip()
    if not user_name:
        raise InvalidValue("userName is required.", field="user_name")
    attributes["user_name"] = user_name
    emails = _clean_emails(attributes.pop("emails", None) or [])
    email = _identity_email(emails, user_name)
    attributes["email"] = email
    with transaction.atomic():
        verified = organization.verified_domain_names()
        email_domain = email.rpartition("@")[2] if email else ""
        if organization.restrict_to_claimed_domains:
            _require_verified_email(email, email_domain, verified)
        user = _account_for_email(email) if email_domain in verified else None
        if (
            user is not None
            and Member.objects.filter(organization=organization, user=user).exists()
        ):
            raise AlreadyExists(
                f"{email} is already a member of this organization.", field="email"
            )
        attributes.setdefault("display_name", "")
        member = Member(
            organization=organization,
            user=user,
            source=Member.Source.SCIM,
            role=Member.Role.MEMBER,
            **attributes,
        )
        if not member.is_active:
            member.deactivated_at = timezone.now()
        _save_unique(
            member, f'A user with userName "{user_name}" or this externalId exists.'
        )
        _replace_emails(member, emails)
        record_event(
            organization,
            actor=actor,
            action="member.provisioned",
            target=member,
            changes=_public_changes({**attributes, "emails": emails}),
        )
    return member


def update_member(
    member: Member, *, attributes: dict[str, Any], actor: Actor | User
) -> Member:
    """Change directory attributes (SCIM PUT/PATCH), `is_active` included, in one event.

    The event is member.deactivated or member.reactivated when `is_active` flips, else
    member.updated; every changed field is listed either way.
    """
    actor = as_actor(actor)
    attributes = dict(attributes)
    if "user_name" in attributes:
        attributes["user_name"] = (attributes["user_name"] or "").strip()
        if not attributes["user_name"]:
            raise InvalidValue("userName cannot be empty.", field="user_name")
    new_emails = attributes.pop("emails", None)
    organization = member.organization
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        current_emails = [e.as_scim() for e in locked.email_addresses.all()]
        emails = current_emails if new_emails is None else _clean_emails(new_emails)
        if new_emails is not None or "user_name" in attributes:
            user_name = attributes.get("user_name", locked.user_name)
            attributes["email"] = _identity_email(emails, user_name)
        if (
            organization.restrict_to_claimed_domains
            and "email" in attributes
            and attributes["email"] != locked.email
        ):
            email = attributes["email"]
            _require_verified_email(
                email, email.rpartition("@")[2], organization.verified_domain_names()
            )
        was_active = locked.is_active
        if was_active and attributes.get("is_active") is False:
            _require_other_owner(locked)
            _refuse_own_deactivation(locked, actor)
        changes = _assign_changes(locked, attributes)
        if emails != current_emails:
            changes["emails"] = {"from": current_emails, "to": emails}
            _replace_emails(locked, emails)
        action = "member.updated"
        if was_active != locked.is_active:
            action = "member.reactivated" if locked.is_active else "member.deactivated"
            locked.deactivated_at = None if locked.is_active else timezone.now()
        if changes:
            _touch(locked)
            _save_unique(
                locked, "Another user already has this userName or externalId."
            )
        record_event(
            organization,
            actor=actor,
            action=action,
            target=locked,
            changes=_public_changes(changes),
        )
    _copy_fields(locked, member)
    return member


def deactivate_member(member: Member, *, actor: Actor | User) -> Member:
    """Block a member's access; the member, its data and its teams stay."""
    return update_member(member, attributes={"is_active": False}, actor=actor)


def reactivate_member(member: Member, *, actor: Actor | User) -> Member:
    return update_member(member, attributes={"is_active": True}, actor=actor)


def change_member_role(member: Member, *, role: str, actor: Actor | User) -> Member:
    actor = as_actor(actor)
    if role not in Member.Role.values:
        raise InvalidValue(f'"{role}" is not a role.', field="role")
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        if locked.role == Member.Role.OWNER and role != Member.Role.OWNER:
            _require_other_owner(locked)
        changes = _assign_changes(locked, {"role": role})
        if changes:
            _touch(locked)
            locked.save()
        record_event(
            member.organization,
            actor=actor,
            action="member.role_changed",
            target=locked,
            changes=changes,
        )
    _copy_fields(locked, member)
    return member


def remove_member(member: Member, *, actor: Actor | User) -> None:
    """Remove a member from the organization (SCIM DELETE). The person's account stays."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = Member.objects.select_for_update().get(pk=member.pk)
        _require_other_owner(locked)
        record_event(
            member.organization,
            actor=actor,
            action="member.removed",
            target=locked,
            changes={"user_name": locked.user_name, "scim_id": str(locked.scim_id)},
        )
        locked.delete()


# ----------------------------------------------------------------------------------- teams


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


# --------------------------------------------------------------------------------- domains


def claim_domain(
    organization: Organization, *, domain: str, actor: Actor | User
) -> ClaimedDomain:
    """Start a claim: the organization must then publish the TXT record to verify it."""
    actor = as_actor(actor)
    name = domains.normalize_domain(domain)
    with transaction.atomic():
        existing = ClaimedDomain.objects.filter(
            organization=organization, domain=name
        ).first()
        if existing is not None:
            raise AlreadyExists(
                f"{name} is already claimed by this organization "
                f"({existing.get_status_display().lower()}).",
                field="domain",
            )
        if ClaimedDomain.objects.filter(
            domain=name, status__in=ClaimedDomain.VERIFIED_STATUSES
        ).exists():
            raise DomainAlreadyClaimed(
                f"{name} is verified by another organization.", field="domain"
            )
        claimed = ClaimedDomain(
            organization=organization,
            domain=name,
            verification_token=secrets.token_urlsafe(24),
        )
        _save_unique(claimed, f"{name} is already claimed by this organization.")
        record_event(
            organization,
            actor=actor,
            action="domain.claimed",
            target=claimed,
            changes={"domain": name},
        )
    return claimed


def mark_domain_verified(
    claimed: ClaimedDomain, *, actor: Actor | User
) -> ClaimedDomain:
    """Verify a claim without DNS: the operator override.

    Other organizations' pending claims on the domain become taken, each with its own
    domain.taken event in that organization's log.
    """
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock_claim(claimed)
        if locked.is_verified:
            raise InvalidValue(f"{locked.domain} is already verified.")
        other = _other_verifier(locked)
        if other is not None:
            raise DomainAlreadyClaimed(
                f"{locked.domain} is verified by {other.organization}; release it there first."
            )
        if not _save_verified(locked, now=timezone.now(), actor=actor, override=True):
            raise DomainAlreadyClaimed(
                f"{locked.domain} is verified by another organization."
            )
    _copy_fields(locked, claimed)
    return claimed


def check_domain(
    claimed: ClaimedDomain, *, actor: Actor | User, now: datetime | None = None
) -> ClaimedDomain:
    """Look the domain's TXT record up now, keep the outcome and apply it to the status.

    - Record found: a pending, expired or taken claim becomes verified, unless another
      organization holds the domain (then it is taken); a failing domain is verified
      again and its failing period ends.
    - Record missing or a different value: a verified domain becomes failing and its
      owners and admins are emailed once; a failing domain is unverified (expired) once
      FAILING_GRACE_PERIOD has passed since failing_since; other claims keep their status.
    - Try later (timeout, SERVFAIL): the status never changes.

    Each change of status records one audit event (domain.verified, domain.taken,
    domain.failing, domain.unverified), plus one domain.taken for each other
    organization's pending claim that loses the domain. A check that changes no status
    records no event: its outcome is kept on the claim (last_check_*).
    """
    actor = as_actor(actor)
    now = now or timezone.now()
    # DNS is asked outside the transaction: no row stays locked while waiting for it.
    result = check_txt_record(
        claimed.record_host, claimed.record_value, prefix=ClaimedDomain.RECORD_PREFIX
    )
    with transaction.atomic():
        locked = _lock_claim(claimed)
        previous = locked.status
        warned = locked.owners_warned_at is not None
        locked.last_checked_at = now
        locked.last_check_outcome = result.outcome
        locked.last_check_detail = result.detail
        _apply_check(locked, result.outcome, actor=actor, now=now)
    _warn_about_failing_domain(locked, now=now)
    if (
        warned
        and previous == ClaimedDomain.Status.FAILING
        and locked.status != previous
    ):
        _tell_about_ended_failure(locked)
    _copy_fields(locked, claimed)
    return claimed


def expire_domain(
    claimed: ClaimedDomain, *, actor: Actor | User, now: datetime | None = None
) -> ClaimedDomain:
    """End a pending claim whose PENDING_PERIOD has passed without its record."""
    actor = as_actor(actor)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _lock_claim(claimed)
        if locked.pending_until is None or now < locked.pending_until:
            raise InvalidValue(f"The claim on {locked.domain} is not due to expire.")
        _change_status(
            locked,
            ClaimedDomain.Status.EXPIRED,
            action="domain.expired",
            actor=actor,
            reason=f"not verified within {ClaimedDomain.PENDING_PERIOD.days} days",
        )
    _copy_fields(locked, claimed)
    return claimed


def recheck_domains(
    *, actor: Actor | User, now: datetime | None = None
) -> list[tuple[ClaimedDomain, str]]:
    """The cron job: expire overdue pending claims and check every other live claim.

    Pending, verified and failing claims are visited, least recently checked first;
    expired and taken ones are left to "Check now". Returns each visited claim with its
    status before the visit.
    """
    actor = as_actor(actor)
    now = now or timezone.now()
    live = [
        ClaimedDomain.Status.PENDING,
        ClaimedDomain.Status.VERIFIED,
        ClaimedDomain.Status.FAILING,
    ]
    ids = list(
        ClaimedDomain.objects.filter(status__in=live)
        .order_by(F("last_checked_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    visited = []
    for pk in ids:
        # Fetched one by one: an earlier verification may have taken this claim.
        claimed = (
            ClaimedDomain.objects.select_related("organization")
            .filter(pk=pk, status__in=live)
            .first()
        )
        if claimed is None:
            continue
        previous = claimed.status
        if claimed.pending_until is not None and now >= claimed.pending_until:
            expire_domain(claimed, actor=actor, now=now)
        else:
            check_domain(claimed, actor=actor, now=now)
        visited.append((claimed, previous))
    return visited


def release_domain(claimed: ClaimedDomain, *, actor: Actor | User) -> None:
    """Give a domain up: the claim is deleted, and other organizations may verify it."""
    actor = as_actor(actor)
    with transaction.atomic():
        record_event(
            claimed.organization,
            actor=actor,
            action="domain.released",
            target=claimed,
            changes={"domain": claimed.domain, "status": claimed.status},
        )
        claimed.delete()


def _lock_claim(claimed: ClaimedDomain) -> ClaimedDomain:
    try:
        return (
            ClaimedDomain.objects.select_for_update(of=("self",))
            .select_related("organization")
            .get(pk=claimed.pk)
        )
    except ClaimedDomain.DoesNotExist:
        raise InvalidValue(f"{claimed.domain} is no longer claimed.") from None


def _other_verifier(claimed: ClaimedDomain) -> ClaimedDomain | None:
    return (
        ClaimedDomain.objects.filter(
            domain=claimed.domain, status__in=ClaimedDomain.VERIFIED_STATUSES
        )
        .exclude(pk=claimed.pk)
        .select_related("organization")
        .first()
    )


def _apply_check(
    claimed: ClaimedDomain, outcome: str, *, actor: Actor, now: datetime
) -> None:
    """Change the locked claim's status as the check outcome calls for, and save it."""
    status = claimed.status
    Status = ClaimedDomain.Status
    if outcome == CheckOutcome.VERIFIED:
        if status == Status.FAILING:
            claimed.failing_since = None
            claimed.owners_warned_at = None
            _change_status(
                claimed,
                Status.VERIFIED,
                action="domain.verified",
                actor=actor,
                reason="the record is back",
            )
            return
        if status != Status.VERIFIED:
            if _other_verifier(claimed) is not None or not _save_verified(
                claimed, now=now, actor=actor, override=False
            ):
                _mark_taken(claimed, actor=actor)
            return
    elif outcome in (CheckOutcome.NOT_FOUND, CheckOutcome.MISMATCH):
        if status == Status.VERIFIED:
            claimed.failing_since = now
            claimed.owners_warned_at = None
            _change_status(
                claimed,
                Status.FAILING,
                action="domain.failing",
                actor=actor,
                reason="the verification record is missing",
            )
            return
        if status == Status.FAILING and now >= claimed.unverify_after:
            days = ClaimedDomain.FAILING_GRACE_PERIOD.days
            _change_status(
                claimed,
                Status.EXPIRED,
                action="domain.unverified",
                actor=actor,
                reason=f"the record was missing for {days} days",
            )
            return
    claimed.save(
        update_fields=["last_checked_at", "last_check_outcome", "last_check_detail"]
    )


def _save_verified(
    claimed: ClaimedDomain, *, now: datetime, actor: Actor, override: bool
) -> bool:
    """Verify the locked claim; False when another organization's verification won.

    Two organizations may verify at once, each seeing no other verifier; the partial
    unique constraint claimed_domain_one_verifier then refuses the later save.
    """
    previous = {
        "status": claimed.status,
        "verified_at": claimed.verified_at,
        "failing_since": claimed.failing_since,
        "owners_warned_at": claimed.owners_warned_at,
    }
    claimed.status = ClaimedDomain.Status.VERIFIED
    claimed.verified_at = now
    claimed.failing_since = None
    claimed.owners_warned_at = None
    try:
        with transaction.atomic():
            claimed.save()
    except IntegrityError:
        for field, value in previous.items():
            setattr(claimed, field, value)
        return False
    changes: dict[str, Any] = {
        "domain": claimed.domain,
        "status": {"from": previous["status"], "to": claimed.status},
    }
    if override:
        changes["override"] = True
    else:
        changes["reason"] = "the record was found"
    record_event(
        claimed.organization,
        actor=actor,
        action="domain.verified",
        target=claimed,
        changes=changes,
    )
    _take_other_claims(claimed, actor=actor)
    return True


def _take_other_claims(winner: ClaimedDomain, *, actor: Actor) -> None:
    """Mark other organizations' pending claims on the winner's domain as taken.

    skip_locked: a claim locked right now is being verified by its own check, which the
    unique constraint will refuse and which then marks itself taken. Waiting for it
    instead would deadlock, as that check waits for this transaction.
    """
    losers = (
        ClaimedDomain.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("organization")
        .filter(domain=winner.domain, status=ClaimedDomain.Status.PENDING)
        .exclude(pk=winner.pk)
    )
    for loser in losers:
        _mark_taken(loser, actor=actor)


def _mark_taken(claimed: ClaimedDomain, *, actor: Actor) -> None:
    if claimed.status == ClaimedDomain.Status.TAKEN:
        claimed.save()
        return
    _change_status(
        claimed,
        ClaimedDomain.Status.TAKEN,
        action="domain.taken",
        actor=actor,
        reason="another organization verified the domain first",
    )


def _change_status(
    claimed: ClaimedDomain, status: str, *, action: str, actor: Actor, reason: str
) -> None:
    """Save the claim in its new status with the one audit event that says why."""
    previous = claimed.status
    claimed.status = status
    claimed.save()
    record_event(
        claimed.organization,
        actor=actor,
        action=action,
        target=claimed,
        changes={
            "domain": claimed.domain,
            "status": {"from": previous, "to": status},
            "reason": reason,
            "check": claimed.last_check_outcome,
        },
    )


def _warn_about_failing_domain(claimed: ClaimedDomain, *, now: datetime) -> None:
    """Email the owners and admins once per failing period.

    Sent after the status change is committed; a send that fails leaves
    owners_warned_at empty, so the next check tries again.
    """
    if (
        claimed.status != ClaimedDomain.Status.FAILING
        or claimed.owners_warned_at is not None
    ):
        return
    if not _email_administrators(claimed, "domain_failing"):
        return
    ClaimedDomain.objects.filter(pk=claimed.pk, owners_warned_at__isnull=True).update(
        owners_warned_at=now
    )
    claimed.owners_warned_at = now


def _tell_about_ended_failure(claimed: ClaimedDomain) -> None:
    """Tell the administrators who were warned how the failing period ended."""
    template = (
        "domain_unverified"
        if claimed.status == ClaimedDomain.Status.EXPIRED
        else "domain_restored"
    )
    _email_administrators(claimed, template)


def _email_administrators(claimed: ClaimedDomain, template: str) -> bool:
    """Email the organization's active owners and admins; False when sending failed."""
    organization = claimed.organization
    recipients = sorted(
        set(
            Member.objects.for_organization(organization)
            .active()
            .administrators()
            .filter(user__is_active=True)
            .values_list("user__email", flat=True)
        )
    )
    if not recipients:
        return True
    context = {
        "claimed": claimed,
        "organization": organization,
        "base_url": settings.ORGADMIN_BASE_URL,
    }
    subject = render_to_string(f"orgadmin/email/{template}_subject.txt", context)
    body = render_to_string(f"orgadmin/email/{template}.txt", context)
    try:
        send_mail(" ".join(subject.split()), body, None, recipients)
    except (smtplib.SMTPException, OSError):
        logger.warning(
            "Could not email %s about domain %s (%s).",
            organization.slug,
            claimed.domain,
            template,
            exc_info=True,
        )
        return False
    return True


# ------------------------------------------------------------------------------ SCIM tokens


def issue_scim_token(
    organization: Organization,
    *,
    name: str,
    actor: Actor | User,
    expires_at: datetime | None = None,
) -> tuple[ScimToken, str]:
    """Create a token and return it with its secret, which is never stored or shown again."""
    actor = as_actor(actor)
    name = (name or "").strip()
    if not name:
        raise InvalidValue(
            "Give the token a name, such as the IdP it is for.", field="name"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidValue("The expiry must be in the future.", field="expires_at")
    secret = ScimToken.SECRET_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        token = ScimToken.objects.create(
            organization=organization,
            name=name,
            prefix=secret[: len(ScimToken.SECRET_PREFIX) + 4],
            digest=ScimToken.digest_of(secret),
            created_by=actor.user,
            expires_at=expires_at,
        )
        record_event(
            organization,
            actor=actor,
            action="scim_token.issued",
            target=token,
            changes={
                "name": name,
                "prefix": token.prefix,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
        )
    return token, secret


def revoke_scim_token(token: ScimToken, *, actor: Actor | User) -> ScimToken:
    actor = as_actor(actor)
    with transaction.atomic():
        locked = ScimToken.objects.select_for_update().get(pk=token.pk)
        if locked.revoked_at is not None:
            raise InvalidValue(f"{locked.label} is already revoked.")
        locked.revoked_at = timezone.now()
        locked.save(update_fields=["revoked_at"])
        record_event(
            locked.organization,
            actor=actor,
            action="scim_token.revoked",
            target=locked,
            changes={"prefix": locked.prefix},
        )
    _copy_fields(locked, token)
    return token


# ------------------------------------------------------------------------------------- SSO

SSO_SETTINGS = (
    "idp_entity_id",
    "idp_sso_url",
    "idp_x509_certificates",
    "idp_metadata_url",
    "idp_metadata_xml",
    "enabled",
    "require_sso",
    "jit_provisioning",
    "default_role",
)


def update_sso_configuration(
    organization: Organization, *, actor: Actor | User, **settings: Any
) -> SSOConfiguration:
    actor = as_actor(actor)
    unknown = set(settings) - set(SSO_SETTINGS)
    if unknown:
        raise InvalidValue(f"Unknown SSO settings: {', '.join(sorted(unknown))}.")
    if settings.get("default_role") == Member.Role.OWNER:
        raise InvalidValue("SSO cannot make people owners.", field="default_role")
    with transaction.atomic():
        configuration, _ = SSOConfiguration.objects.select_for_update().get_or_create(
            organization=organization
        )
        changes = _assign_changes(configuration, settings)
        if "idp_x509_certificates" in changes:
            changes["idp_x509_certificates"] = "changed"
        if "idp_metadata_xml" in changes:
            changes["idp_metadata_xml"] = "changed"
        if changes:
            configuration.updated_at = timezone.now()
            configuration.save()
        record_event(
            organization,
            actor=actor,
            action="sso.updated",
            target=configuration,
            changes=changes,
        )
    return configuration


# --------------------------------------------------------------------------------- helpers


def _add_member(
    organization: Organization,
    *,
    email: str,
    role: str,
    source: str,
    full_name: str = "",
) -> Member:
    email = User.objects.normalize_email(email)
    if "@" not in email:
        raise InvalidValue(f'"{email}" is not an email address.', field="email")
    if role not in Member.Role.values:
        raise InvalidValue(f'"{role}" is not a role.', field="role")
    user = _account_for_email(email, create=True, full_name=full_name)
    if Member.objects.filter(organization=organization, user=user).exists():
        raise AlreadyExists(f"{email} is already a member.", field="email")
    member = Member(
        organization=organization,
        user=user,
        role=role,
        source=source,
        user_name=email,
        email=email,
        display_name=full_name or user.full_name,
    )
    _save_unique(member, f"{email} is already a member.")
    _replace_emails(member, [{"value": email, "type": "work", "primary": True}])
    return member


def _account_for_email(
    email: str, *, create: bool = False, full_name: str = ""
) -> User | None:
    if not email:
        return None
    user = User.objects.filter(email__iexact=email).first()
    if user is None and create:
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
    return user


def _clean_emails(emails: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keep SCIM email objects with a value, in order, each with a boolean primary."""
    cleaned = []
    for item in emails:
        if not isinstance(item, dict) or not str(item.get("value") or "").strip():
            continue
        email = {
            "value": str(item["value"]).strip(),
            "primary": item.get("primary") is True,
        }
        if item.get("type"):
            email["type"] = str(item["type"])
        if item.get("display"):
            email["display"] = str(item["display"])
        cleaned.append(email)
    return cleaned


def _replace_emails(member: Member, emails: list[dict[str, Any]]) -> None:
    MemberEmail.objects.filter(member=member).delete()
    MemberEmail.objects.bulk_create(
        MemberEmail(
            member=member,
            value=email["value"],
            type=email.get("type", ""),
            primary=email["primary"],
            display=email.get("display", ""),
            position=position,
        )
        for position, email in enumerate(emails)
    )


def _identity_email(emails: list[dict[str, Any]], user_name: str) -> str:
    """The work email: the primary email, else the first work email, else the userName."""
    chosen = (
        next((e for e in emails if e.get("primary") is True), None)
        or next((e for e in emails if (e.get("type") or "").lower() == "work"), None)
        or (emails[0] if emails else None)
    )
    if chosen:
        return str(chosen["value"]).strip().lower()
    user_name = (user_name or "").strip().lower()
    return user_name if "@" in user_name else ""


def _require_verified_email(email: str, email_domain: str, verified: set[str]) -> None:
    if not email:
        raise DomainNotVerified(
            "This organization only accepts people with an email on its verified domains; "
            "send a work email or an email as userName.",
            field="email",
        )
    if email_domain in verified:
        return
    if domains.public_email_provider(email_domain):
        raise DomainNotVerified(
            f'"{email_domain}" is a public email provider, which no organization can '
            "claim: send the person's work email on one of the organization's verified "
            "domains.",
            field="email",
        )
    raise DomainNotVerified(
        f'The email domain "{email_domain}" is not verified by this organization: '
        f"claim and verify {email_domain} in Access Security > Domains first.",
        field="email",
    )


def _refuse_own_deactivation(member: Member, actor: Actor) -> None:
    # A person who deactivates their own membership locks themselves out; operators
    # and the directory (SCIM) may still do it.
    if (
        actor.type == AuditEvent.ActorType.USER
        and actor.user is not None
        and member.user_id == actor.user.pk
    ):
        raise NotPermitted(
            "You cannot deactivate yourself: you would lose access to this "
            "organization. Ask another owner or admin."
        )


def _require_other_owner(member: Member) -> None:
    if member.role != Member.Role.OWNER or not member.is_active:
        return
    others = (
        Member.objects.filter(
            organization_id=member.organization_id,
            role=Member.Role.OWNER,
            is_active=True,
        )
        .exclude(pk=member.pk)
        .exists()
    )
    if not others:
        raise LastOwner("The organization must keep at least one active owner.")


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


def _assign_changes(obj: Any, values: dict[str, Any]) -> dict[str, Any]:
    """Set the values that differ and describe them as {"field": {"from", "to"}}."""
    changes = {}
    for field, value in values.items():
        current = getattr(obj, field)
        if current != value:
            changes[field] = {"from": _jsonable(current), "to": _jsonable(value)}
            setattr(obj, field, value)
    return changes


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "pk"):
        return value.pk
    return value


def _public_changes(changes: dict[str, Any]) -> dict[str, Any]:
    return {key: _jsonable(value) for key, value in changes.items()}


def _touch(obj: Member | Team) -> None:
    obj.updated_at = timezone.now()
    obj.version = F("version") + 1


def _save_unique(obj: Any, message: str) -> None:
    """Save, turning a unique-constraint race into AlreadyExists instead of a 500."""
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as error:
        raise AlreadyExists(message) from error
    # _touch sets F("version") + 1, a CombinedExpression rather than an F.
    if hasattr(getattr(obj, "version", None), "resolve_expression"):
        obj.refresh_from_db(fields=["version"])


def _copy_fields(source: Any, target: Any) -> None:
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
