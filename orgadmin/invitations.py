"""Invitation links: signed with a salt of their own, one use, expiring.

The link carries the member's id and its current `invitation_nonce`. The signature
stops tampering; the nonce, which a resend replaces and acceptance clears, makes a
link work once; `invitation_expires_at` on the row ends it.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from django.utils.formats import date_format

from orgadmin.errors import InvitationNotValid
from orgadmin.models import Member

SALT = "orgadmin.invitation"


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def make_token(member: Member) -> str:
    return signing.dumps([member.pk, member.invitation_nonce], salt=SALT)


def read_token(token: str) -> tuple[int, str] | None:
    """The member id and nonce a genuine token carries; None for anything else."""
    try:
        member_id, nonce = signing.loads(token, salt=SALT)
    except (signing.BadSignature, TypeError, ValueError):
        return None
    if not isinstance(member_id, int) or not isinstance(nonce, str):
        return None
    return member_id, nonce


def invitation_url(member: Member) -> str:
    path = reverse("orgadmin:invitation-accept", args=[make_token(member)])
    return f"{settings.ORGADMIN_BASE_URL}{path}"


NOT_VALID = (
    "This invitation link is not valid, or the invitation was revoked: ask the person "
    "who invited you to send a new one."
)


def check_invitation(member: Member, nonce: str) -> None:
    """Raise InvitationNotValid unless `nonce` opens the member's pending invitation."""
    organization = member.organization
    if not member.is_invitation_pending or not constant_time_compare(
        member.invitation_nonce, nonce
    ):
        raise InvitationNotValid(
            "This invitation link was already used, or a newer invitation replaced "
            f"it. If you accepted it, sign in; otherwise ask an owner or admin of "
            f"{organization.name} to send a new one.",
            organization=organization,
        )
    if member.is_invitation_expired:
        expired = date_format(timezone.localtime(member.invitation_expires_at))
        raise InvitationNotValid(
            f"This invitation expired on {expired}: ask an owner or admin "
            f"of {organization.name} to send a new one.",
            organization=organization,
        )
