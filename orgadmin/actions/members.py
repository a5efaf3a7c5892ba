"""Members: SCIM provisioning, directory updates, roles, removal, and the linking rule.

The linking rule: a member is attached to an existing account only when that
account's address is proven (a verified allauth EmailAddress) and on a domain the
organization has verified. User.email alone proves nothing: an operator or an old
allauth email page may have set it. Otherwise the member stays unlinked until the
person proves the mailbox (the invitation's own link, a password reset, or SSO), and
`record_proven_email` then links it.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypedDict, Unpack

from allauth.account.models import EmailAddress
from django.db import transaction
from django.db.models import Subquery
from django.utils import timezone

from orgadmin import domains
from orgadmin.actions._audit import _assign_changes, _public_changes
from orgadmin.actions._rows import (
    _check_version,
    _copy_fields,
    _lock,
    _save_unique,
    _touch,
)
from orgadmin.actions.deprovisioning import brake_deprovisioning, holds_back_when_paused
from orgadmin.actions.removed_members import keep_removed_member
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import (
    AlreadyExists,
    DomainNotVerified,
    InvalidValue,
    LastOwner,
    NotPermitted,
    ProtectedOwner,
    VersionMismatch,
)
from orgadmin.models import (
    AuditEvent,
    ClaimedDomain,
    Deprovisioning,
    Member,
    MemberEmail,
    Organization,
    User,
)

# How an address was proven, as member.account_linked events name it.
PROOFS = frozenset(
    {"invitation", "password_reset", "verified_email", "verified_domain", "sso"}
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
    account is linked by the linking rule (`linkable_account`); otherwise the member
    waits, unlinked, for the person to prove the address.
    """
    actor = as_actor(actor)
    _require_known_fields(attributes)
    user_name = _require_user_name(user_name)
    emails = _clean_emails(attributes.pop("emails", None) or [])
    email = _identity_email(emails, user_name)
    fields: dict[str, Any] = {**attributes, "user_name": user_name, "email": email}
    with transaction.atomic():
        email_domain = email.rpartition("@")[2] if email else ""
        domain_verified, user = _verified_domain_and_account(organization, email)
        if organization.restrict_to_claimed_domains:
            _require_verified_email(
                email, email_domain, {email_domain} if domain_verified else set()
            )
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
        _insert_emails(member, emails)
        record_event(
            organization,
            actor=actor,
            action="member.provisioned",
            target=member,
            changes=_public_changes({**fields, "emails": emails}),
        )
        if user is not None:
            _record_link(member, proof="verified_domain", actor=actor)
    return member


@holds_back_when_paused
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
        # Deactivating an owner locks the owners first (see _lock_owners); a member
        # who was not an owner when read needs no such lock, unless made one since.
        owners_locked = (
            attributes.get("is_active") is False and member.role == Member.Role.OWNER
        )
        if owners_locked:
            _lock_owners(organization)
        locked = _lock(member)
        _check_version(locked, expected_version)
        if (
            attributes.get("is_active") is False
            and locked.role == Member.Role.OWNER
            and not owners_locked
        ):
            raise VersionMismatch(
                "The member became an owner since it was read; read it again.",
                current_version=locked.version,
            )
        _require_owner_to_manage_owner(locked, actor, dict(changes))
        # The current emails are read only when they may change or decide the work
        # email; a rename or a deactivation does not need them.
        current_emails = emails = None
        if new_emails is not None or "user_name" in attributes:
            current_emails = [e.as_scim() for e in locked.email_addresses.all()]
            emails = current_emails if new_emails is None else _clean_emails(new_emails)
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
            brake_deprovisioning(
                locked, actor=actor, kind=Deprovisioning.Kind.DEACTIVATION
            )
        changed = _assign_changes(locked, attributes)
        new_email_rows = None
        if emails != current_emails:
            changed["emails"] = {"from": current_emails, "to": emails}
            new_email_rows = _replace_emails(locked, emails)
        if changed:
            action = "member.updated"
            if was_active != locked.is_active:
                action = (
                    "member.reactivated" if locked.is_active else "member.deactivated"
                )
                locked.deactivated_at = None if locked.is_active else timezone.now()
            _touch(locked)
            _save_unique(
                locked,
                "Another member already has this user name or external id.",
                update_fields=MEMBER_SAVED_ON_UPDATE.union(attributes),
            )
            record_event(
                organization,
                actor=actor,
                action=action,
                target=locked,
                changes=_public_changes(changed),
            )
    _copy_fields(locked, member)
    if new_email_rows is not None:
        _remember_emails(member, new_email_rows)
    return member


# What every saved update writes besides the changed fields.
MEMBER_SAVED_ON_UPDATE = frozenset({"version", "updated_at", "deactivated_at"})


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
            # A role given by hand is no longer the team's to take back.
            locked.role_granted_by_team = False
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


@holds_back_when_paused
def remove_member(
    member: Member,
    *,
    actor: Actor | User,
    expected_version: int | Collection[int] | None = None,
) -> None:
    """Remove a member from the organization (SCIM DELETE). The person's account stays,
    and a RemovedMember record an owner can restore from (restore_member)."""
    actor = as_actor(actor)
    with transaction.atomic():
        _lock_owners(member.organization)
        locked = _lock(member)
        _check_version(locked, expected_version)
        if locked.role == Member.Role.OWNER:
            _require_owner(actor, locked, "remove an owner")
        _require_other_owner(locked)
        if locked.is_active:
            brake_deprovisioning(locked, actor=actor, kind=Deprovisioning.Kind.DELETION)
        record_event(
            member.organization,
            actor=actor,
            action="member.removed",
            target=locked,
            changes={"user_name": locked.user_name, "scim_id": str(locked.scim_id)},
        )
        keep_removed_member(locked, actor=actor)
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


def linkable_account(email: str, *, verified_domains: Collection[str]) -> User | None:
    """The linking rule: the account whose proven address is `email` (a verified
    EmailAddress, any case), when the email's domain is among `verified_domains`
    (the organization's); None otherwise."""
    email = User.objects.normalize_email(email)
    if not email or email.rpartition("@")[2] not in verified_domains:
        return None
    address = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .select_related("user")
        .first()
    )
    return address.user if address is not None else None


def _verified_domain_and_account(
    organization: Organization, email: str
) -> tuple[bool, User | None]:
    """Whether the email's domain is one the organization verified, and the account
    the linking rule links to it (as `linkable_account`): one query, and a second only
    when there is an account to link."""
    email = User.objects.normalize_email(email)
    domain = email.rpartition("@")[2]
    if not domain:
        return False, None
    proven = (
        EmailAddress.objects.filter(email__iexact=email, verified=True)
        .order_by("pk")
        .values("user_id")[:1]
    )
    row = (
        organization.claimed_domains.filter(
            domain=domain, status__in=ClaimedDomain.VERIFIED_STATUSES
        )
        .annotate(account_id=Subquery(proven))
        .values_list("pk", "account_id")
        .first()
    )
    if row is None:
        return False, None
    account_id = row[1]
    return True, User.objects.get(pk=account_id) if account_id else None


def record_proven_email(
    user: User, *, email: str, proof: str, actor: Actor | User | None = None
) -> list[Member]:
    """Record that the person of `user` controls `email`, then link their unlinked
    members with that email in the organization that verified its domain.

    `proof` says how: "password_reset", "verified_email", "sso" (a signed SAML
    assertion) or "invitation". A pending invitation on a domain its organization has
    not verified is left alone: only its own link accepts it. Returns the members
    linked.
    """
    if proof not in PROOFS:
        raise ValueError(f"Not a proof: {proof}.")
    actor = as_actor(actor or user)
    email = User.objects.normalize_email(email)
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists():
            raise AlreadyExists(
                f"Another account has the address {email}.", field="email"
            )
        _prove_address(user, email)
        return _link_proven_members(user, email, proof=proof, actor=actor)


def _prove_address(user: User, email: str) -> None:
    """Mark `email` verified for `user` (primary when it is the account's address)."""
    # An address has one verified owner; whoever proves the mailbox now takes it from
    # any other account's stale or self-asserted row.
    EmailAddress.objects.filter(email__iexact=email).exclude(user=user).delete()
    primary = email == User.objects.normalize_email(user.email)
    if primary:
        EmailAddress.objects.filter(user=user, primary=True).exclude(
            email__iexact=email
        ).update(primary=False)
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        EmailAddress.objects.create(
            user=user, email=email, verified=True, primary=primary
        )
    elif not address.verified or address.primary != primary:
        address.verified = True
        address.primary = address.primary or primary
        address.save(update_fields=["verified", "primary"])


def _link_proven_members(
    user: User, email: str, *, proof: str, actor: Actor
) -> list[Member]:
    # A verified domain has one verifier (claimed_domain_one_verifier), so at most one
    # organization's members match.
    verifier = ClaimedDomain.objects.filter(
        domain=email.rpartition("@")[2], status__in=ClaimedDomain.VERIFIED_STATUSES
    ).values("organization_id")
    already = Member.objects.filter(user=user).values("organization_id")
    members = list(
        Member.objects.select_for_update(of=("self",))
        .select_related("organization")
        .filter(user__isnull=True, email__iexact=email, organization_id__in=verifier)
        .exclude(organization_id__in=already)
        .order_by("pk")
    )
    for member in members:
        _link_member(member, user, proof=proof, actor=actor)
    return members


def _link_member(member: Member, user: User, *, proof: str, actor: Actor) -> None:
    """Attach the account; its invitation, if any, is over."""
    member.user = user
    member.invitation_nonce = ""
    member.invitation_expires_at = None
    member.save(update_fields=["user", "invitation_nonce", "invitation_expires_at"])
    _record_link(member, proof=proof, actor=actor)


def _record_link(member: Member, *, proof: str, actor: Actor) -> None:
    record_event(
        member.organization,
        actor=actor,
        action="member.account_linked",
        target=member,
        changes={"account": member.user.email, "proof": proof},
    )


def _require_email_address(email: str) -> str:
    email = User.objects.normalize_email(email)
    if "@" not in email:
        raise InvalidValue(f'"{email}" is not an email address.', field="email")
    return email


def _new_member(
    organization: Organization,
    *,
    email: str,
    role: str,
    source: str,
    user: User | None,
    full_name: str = "",
) -> Member:
    """Save a member known by its email (invited, or the first owner)."""
    if role not in Member.Role.values:
        raise InvalidValue(f'"{role}" is not a role.', field="role")
    if (
        user is not None
        and Member.objects.filter(organization=organization, user=user).exists()
    ):
        raise AlreadyExists(f"{email} is already a member.", field="email")
    member = Member(
        organization=organization,
        user=user,
        role=role,
        source=source,
        user_name=email,
        email=email,
        display_name=full_name or (user.full_name if user else ""),
    )
    _save_unique(member, f"{email} is already a member.")
    _insert_emails(member, [{"value": email, "type": "work", "primary": True}])
    return member


def _add_member(
    organization: Organization,
    *,
    email: str,
    role: str,
    source: str,
    full_name: str = "",
) -> Member:
    """The first owner an operator names (create_organization): the account with that
    address, created when there is none, is linked without further proof.

    The operator vouches for it, as they could set its password in the admin anyway;
    a new account has no password, so only a password reset (which proves the
    mailbox) or SSO opens it.
    """
    email = _require_email_address(email)
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=None, full_name=full_name)
    return _new_member(
        organization,
        email=email,
        role=role,
        source=source,
        user=user,
        full_name=full_name,
    )


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


def _replace_emails(member: Member, emails: list[dict[str, Any]]) -> list[MemberEmail]:
    MemberEmail.objects.filter(member=member).delete()
    return _insert_emails(member, emails)


def _insert_emails(member: Member, emails: list[dict[str, Any]]) -> list[MemberEmail]:
    """Save the emails of a member that has none; they are then its
    `email_addresses`, so its SCIM answer does not read them back."""
    rows = MemberEmail.objects.bulk_create(
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
    _remember_emails(member, rows)
    return rows


def _remember_emails(member: Member, rows: list[MemberEmail]) -> None:
    """Make `rows` the member's `email_addresses.all()` as prefetch_related does."""
    emails = member.email_addresses.all()
    emails._result_cache = list(rows)
    emails._prefetch_done = True
    if not hasattr(member, "_prefetched_objects_cache"):
        member._prefetched_objects_cache = {}
    member._prefetched_objects_cache["email_addresses"] = emails


def _identity_email(emails: list[dict[str, Any]], user_name: str) -> str:
    """The work email: the primary email, else the first work email, else the userName."""
    chosen = (
        next((e for e in emails if e.get("primary") is True), None)
        or next((e for e in emails if (e.get("type") or "").lower() == "work"), None)
        or (emails[0] if emails else None)
    )
    if chosen:
        email = str(chosen["value"]).strip().lower()
    else:
        user_name = (user_name or "").strip().lower()
        email = user_name if "@" in user_name else ""
    # Checked after lowercasing, which can lengthen a value ("İ" becomes two characters).
    limit = Member._meta.get_field("email").max_length
    if len(email) > limit:
        raise InvalidValue(
            f"The work email is longer than {limit} characters.", field="email"
        )
    return email


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
            # A pending owner (an invitation not accepted yet) cannot sign in.
            user__isnull=False,
        )
        .exclude(pk=member.pk)
        .exists()
    )
    if not others:
        raise LastOwner("The organization must keep at least one active owner.")
