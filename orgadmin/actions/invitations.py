"""Invitations: a person invited by email is pending until they follow the emailed link.

The link (orgadmin.invitations) is signed, works once and expires after
ORGADMIN_INVITATION_DAYS. Following it proves the mailbox, so accepting links the
account, creating it when there is none, and marks its address verified.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from orgadmin import invitations
from orgadmin.actions._mail import _send_templated_mail
from orgadmin.actions._rows import _copy_fields, _lock
from orgadmin.actions.members import (
    _link_member,
    _link_proven_members,
    _new_member,
    _prove_address,
    _record_link,
    _require_email_address,
    _require_owner,
    linkable_account,
)
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import (
    AlreadyExists,
    InvalidValue,
    InvitationNotValid,
    NoLongerExists,
    NotPermitted,
)
from orgadmin.models import Member, Organization, User


def add_member(
    organization: Organization,
    *,
    email: str,
    actor: Actor | User,
    role: str = Member.Role.MEMBER,
    full_name: str = "",
    notify: bool = True,
) -> Member:
    """Invite a person by email.

    An account whose address is already proven, on a domain the organization has
    verified, is linked at once (proof "verified_domain"). Anyone else is a pending
    invitation until they follow the link the email carries. With `notify`, the email
    goes out once the invitation is saved.
    """
    actor = as_actor(actor)
    email = _require_email_address(email)
    with transaction.atomic():
        user = linkable_account(
            email, verified_domains=organization.verified_domain_names()
        )
        member = _new_member(
            organization,
            email=email,
            role=role,
            source=Member.Source.INVITED,
            user=user,
            full_name=full_name,
        )
        changes = {"email": member.email, "role": role}
        if user is None:
            _open_invitation(member)
            changes["invitation_expires_at"] = member.invitation_expires_at.isoformat()
        record_event(
            organization,
            actor=actor,
            action="member.added",
            target=member,
            changes=changes,
        )
        if user is not None:
            _record_link(member, proof="verified_domain", actor=actor)
        if notify:
            transaction.on_commit(lambda: _send_invitation(member, invited_by=actor))
    return member


def resend_invitation(member: Member, *, actor: Actor | User) -> Member:
    """Email a new link with a new expiry; the previous link stops working."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock(member)
        _require_pending(locked)
        before = locked.invitation_expires_at
        _open_invitation(locked)
        record_event(
            locked.organization,
            actor=actor,
            action="member.invitation_resent",
            target=locked,
            changes={
                "invitation_expires_at": {
                    "from": before.isoformat() if before else None,
                    "to": locked.invitation_expires_at.isoformat(),
                }
            },
        )
        transaction.on_commit(lambda: _send_invitation(locked, invited_by=actor))
    _copy_fields(locked, member)
    return member


def revoke_invitation(member: Member, *, actor: Actor | User) -> None:
    """Remove a pending member; their link stops working."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = _lock(member)
        _require_pending(locked)
        if locked.role == Member.Role.OWNER:
            _require_owner(actor, locked, "revoke an owner's invitation")
        record_event(
            locked.organization,
            actor=actor,
            action="member.invitation_revoked",
            target=locked,
            changes={"email": locked.email, "role": locked.role},
        )
        locked.delete()


def accept_invitation(
    member: Member,
    *,
    nonce: str,
    user: User | None = None,
    password: str | None = None,
    ip_address: str | None = None,
) -> User:
    """Accept the invitation whose link carried `nonce`, which proves the mailbox.

    `user` is the signed-in account, which must be the one with the invited address;
    without it, the account is created with `password`. The address becomes the
    account's verified primary address, and the member is linked (proof
    "invitation"), with the person's other unlinked members on that address where
    its domain is verified. Returns the account.
    """
    with transaction.atomic():
        try:
            locked = _lock(member)
        except NoLongerExists:
            raise InvitationNotValid(invitations.NOT_VALID) from None
        invitations.check_invitation(locked, nonce)
        email = locked.email
        account = User.objects.select_for_update().filter(email__iexact=email).first()
        if user is None and account is not None:
            raise AlreadyExists(
                f"An account with {email} exists: sign in to it to accept."
            )
        if user is not None and (account is None or account.pk != user.pk):
            raise NotPermitted(
                f"This invitation is for {email}, and you are signed in as "
                f"{user.email}: sign out first, then follow the link again."
            )
        if account is None:
            account = User.objects.create_user(
                email=email, password=password, full_name=locked.display_name
            )
            record_event(
                None,
                actor=Actor.for_user(account, ip_address=ip_address),
                action="account.created",
                target=account,
                changes={"email": email, "password": "set" if password else "none"},
            )
        actor = Actor.for_user(account, ip_address=ip_address)
        if Member.objects.filter(
            organization_id=locked.organization_id, user=account
        ).exists():
            raise AlreadyExists(
                f"{email} is already a member of {locked.organization.name}."
            )
        _prove_address(account, email)
        _link_member(locked, account, proof="invitation", actor=actor)
        _link_proven_members(account, email, proof="invitation", actor=actor)
    _copy_fields(locked, member)
    return account


def _require_pending(member: Member) -> None:
    if not member.is_invitation_pending:
        raise InvalidValue(
            f"{member.label} has no pending invitation: they already accepted it, or "
            "arrived another way."
        )


def _open_invitation(member: Member) -> None:
    """Start a new invitation period with a new nonce: any older link stops working."""
    now = timezone.now()
    member.invited_at = member.invited_at or now
    member.invitation_expires_at = now + timedelta(
        days=settings.ORGADMIN_INVITATION_DAYS
    )
    member.invitation_nonce = invitations.new_nonce()
    member.save(
        update_fields=["invited_at", "invitation_expires_at", "invitation_nonce"]
    )


def _send_invitation(member: Member, *, invited_by: Actor) -> None:
    # A failed send leaves the invitation standing: an admin can resend it.
    _send_templated_mail(
        "invitation",
        {
            "member": member,
            "organization": member.organization,
            "invited_by": invited_by.label,
            "invitation_url": (
                invitations.invitation_url(member)
                if member.is_invitation_pending
                else ""
            ),
        },
        [member.email],
    )
