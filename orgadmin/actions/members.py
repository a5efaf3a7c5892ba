"""Members: invitations, SCIM provisioning, directory updates, roles and removal."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypedDict, Unpack

from django.db import transaction
from django.utils import timezone

from orgadmin import domains
from orgadmin.actions._audit import _assign_changes, _public_changes
from orgadmin.actions._mail import _send_templated_mail
from orgadmin.actions._rows import (
    _check_version,
    _copy_fields,
    _lock,
    _save_unique,
    _touch,
)
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import (
    AlreadyExists,
    DomainNotVerified,
    InvalidValue,
    LastOwner,
    NotPermitted,
    ProtectedOwner,
)
from orgadmin.models import AuditEvent, Member, MemberEmail, Organization, User


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
    # A failed send leaves the invitation standing: the admin can resend it or tell
    # the person how to sign in.
    _send_templated_mail(
        "invitation",
        {
            "member": member,
            "organization": member.organization,
            "invited_by": invited_by.label,
            "has_password": member.user.has_usable_password(),
        },
        [member.email],
    )


class MemberChanges(TypedDict, total=False):
    """The directory fields an update may change; a field left out is unchanged.

    `emails` are dicts of value, type, primary and display; the work email (`email`)
    is derived from them and the user name, never given.
    """

    user_name: str
    external_id: str | None
    display_name: str
    formatted_name: str
    given_name: str
    family_name: str
    middle_name: str
    honorific_prefix: str
    honorific_suffix: str
    nick_name: str
    title: str
    user_type: str
    preferred_language: str
    locale: str
    timezone: str
    phone_numbers: list[dict[str, Any]]
    addresses: list[dict[str, Any]]
    roles: list[dict[str, Any]]
    ims: list[dict[str, Any]]
    photos: list[dict[str, Any]]
    entitlements: list[dict[str, Any]]
    x509_certificates: list[dict[str, Any]]
    employee_number: str
    cost_center: str
    organization_name: str
    division: str
    department: str
    manager: Member | None
    is_active: bool
    emails: list[dict[str, Any]]


def provision_member(
    organization: Organization,
    *,
    user_name: str,
    actor: Actor | User,
    **attributes: Unpack[MemberChanges],
) -> Member:
    """Create a member from the directory (SCIM).

    When the organization restricts to claimed domains, the work email (or the user
    name, when it is an email) must be on one of its verified domains. An existing
    account with that email is linked only when its domain is verified by this
    organization.
    """
    actor = as_actor(actor)
    _require_known_fields(attributes)
    user_name = _require_user_name(user_name)
    emails = _clean_emails(attributes.pop("emails", None) or [])
    email = _identity_email(emails, user_name)
    fields: dict[str, Any] = {**attributes, "user_name": user_name, "email": email}
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
        member = Member(
            organization=organization,
            user=user,
            source=Member.Source.SCIM,
            role=Member.Role.MEMBER,
            **fields,
        )
        if not member.is_active:
            member.deactivated_at = timezone.now()
        _save_unique(
            member,
            f'A member with the user name "{user_name}" or this external id exists.',
        )
        _replace_emails(member, emails)
        record_event(
            organization,
            actor=actor,
            action="member.provisioned",
            target=member,
            changes=_public_changes({**fields, "emails": emails}),
        )
    return member


def update_member(
    member: Member,
    *,
    actor: Actor | User,
    expected_version: int | Collection[int] | None = None,
    **changes: Unpack[MemberChanges],
) -> Member:
    """Change directory fields, `is_active` included, in one event.

    The event is member.deactivated or member.reactivated when `is_active` flips, else
    member.updated; every changed field is listed either way, and nothing is recorded
    when nothing changed. With `expected_version`, a member changed since it was read
    raises VersionMismatch and nothing is written.
    """
    actor = as_actor(actor)
    _require_known_fields(changes)
    attributes: dict[str, Any] = dict(changes)
    if "user_name" in attributes:
        attributes["user_name"] = _require_user_name(attributes["user_name"])
    new_emails = attributes.pop("emails", None)
    organization = member.organization
    with transaction.atomic():
        if attributes.get("is_active") is False:
            _lock_owners(organization)
        locked = _lock(member)
        _check_version(locked, expected_version)
        _require_owner_to_manage_owner(locked, actor, dict(changes))
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
        changed = _assign_changes(locked, attributes)
        if emails != current_emails:
            changed["emails"] = {"from": current_emails, "to": emails}
            _replace_emails(locked, emails)
        if changed:
            action = "member.updated"
            if was_active != locked.is_active:
                action = (
                    "member.reactivated" if locked.is_active else "member.deactivated"
                )
                locked.deactivated_at = None if locked.is_active else timezone.now()
            _touch(locked)
            _save_unique(
                locked, "Another member already has this user name or external id."
            )
            record_event(
                organization,
                actor=actor,
                action=action,
                target=locked,
                changes=_public_changes(changed),
            )
    _copy_fields(locked, member)
    return member


def deactivate_member(member: Member, *, actor: Actor | User) -> Member:
    """Block a member's access; the member, its data and its teams stay."""
    return update_member(member, is_active=False, actor=actor)


def reactivate_member(member: Member, *, actor: Actor | User) -> Member:
    return update_member(member, is_active=True, actor=actor)


def change_member_role(member: Member, *, role: str, actor: Actor | User) -> Member:
    actor = as_actor(actor)
    if role not in Member.Role.values:
        raise InvalidValue(f'"{role}" is not a role.', field="role")
    with transaction.atomic():
        _lock_owners(member.organization)
        locked = _lock(member)
        if Member.Role.OWNER in (locked.role, role) and locked.role != role:
            _require_owner(actor, locked, "make or unmake owners")
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


def remove_member(
    member: Member,
    *,
    actor: Actor | User,
    expected_version: int | Collection[int] | None = None,
) -> None:
    """Remove a member from the organization (SCIM DELETE). The person's account stays."""
    actor = as_actor(actor)
    with transaction.atomic():
        _lock_owners(member.organization)
        locked = _lock(member)
        _check_version(locked, expected_version)
        if locked.role == Member.Role.OWNER:
            _require_owner(actor, locked, "remove an owner")
        _require_other_owner(locked)
        record_event(
            member.organization,
            actor=actor,
            action="member.removed",
            target=locked,
            changes={"user_name": locked.user_name, "scim_id": str(locked.scim_id)},
        )
        locked.delete()


def _require_known_fields(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(MemberChanges.__annotations__)
    if unknown:
        raise TypeError(f"Not member fields: {', '.join(sorted(unknown))}.")


def _require_user_name(user_name: str | None) -> str:
    user_name = (user_name or "").strip()
    if not user_name:
        raise InvalidValue("A member needs a user name.", field="user_name")
    return user_name


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
    """Keep the emails with a value, in order, each with a boolean primary."""
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


# What the directory may not change on an owner: who they are and whether they get in.
OWNER_IDENTITY_FIELDS = frozenset(
    {
        "user_name",
        "emails",
        "display_name",
        "formatted_name",
        "given_name",
        "family_name",
        "is_active",
    }
)


def _require_owner_to_manage_owner(
    member: Member, actor: Actor, changes: dict[str, Any]
) -> None:
    """People: only an owner changes an owner's directory fields or access. The
    directory (SCIM): never an owner's identity or access, so a leaked or admin-issued
    token cannot lock the owners out."""
    if member.role != Member.Role.OWNER:
        return
    changing = {
        field
        for field, value in changes.items()
        if field == "emails" or getattr(member, field, value) != value
    }
    if actor.type == AuditEvent.ActorType.SCIM_TOKEN:
        changing &= OWNER_IDENTITY_FIELDS
    if "is_active" in changing:
        _require_owner(actor, member, "deactivate or reactivate an owner")
    elif changing:
        _require_owner(actor, member, "change an owner's profile")


def _require_owner(actor: Actor, member: Member, what: str) -> None:
    """Refuse unless the actor is an owner of the member's organization, an operator
    or the system."""
    if actor.type == AuditEvent.ActorType.SCIM_TOKEN:
        raise ProtectedOwner(
            f"{member.user_name} is an owner of this organization; owners are managed "
            "in orgadmin, not by the identity provider.",
        )
    if actor.type != AuditEvent.ActorType.USER:
        return
    is_owner = Member.objects.filter(
        organization_id=member.organization_id,
        user=actor.user,
        role=Member.Role.OWNER,
        is_active=True,
    ).exists()
    if not is_owner:
        raise ProtectedOwner(f"Only an owner can {what}.", field="role")


def _lock_owners(organization: Organization) -> None:
    """Lock the organization's owner rows, always in pk order, before checking that one
    stays active: two requests deactivating two owners then run one after the other
    instead of each seeing the other still active."""
    list(
        Member.objects.select_for_update()
        .filter(organization_id=organization.pk, role=Member.Role.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
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
