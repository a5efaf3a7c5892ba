"""Members: invitations, SCIM provisioning, directory updates, roles and removal."""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone

from orgadmin import domains
from orgadmin.actions._audit import _assign_changes, _public_changes
from orgadmin.actions._rows import _copy_fields, _save_unique, _touch
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import (
    AlreadyExists,
    DomainNotVerified,
    InvalidValue,
    LastOwner,
    NotPermitted,
)
from orgadmin.models import AuditEvent, Member, MemberEmail, Organization, User

logger = logging.getLogger(__name__)


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
