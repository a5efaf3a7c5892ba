"""Accounts (User rows) as operators create and change them in the Django admin.

An account belongs to no organization, so its events have organization None; a
password is recorded as set or disabled, never by value.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TypedDict, Unpack

from allauth.account.models import EmailAddress
from django.contrib.auth.models import Group
from django.db import transaction

from orgadmin.actions._audit import _assign_changes
from orgadmin.actions._rows import _copy_fields, _save_unique
from orgadmin.audit import Actor, as_actor, record_event
from orgadmin.errors import AlreadyExists, InvalidValue
from orgadmin.models import User


class AccountChanges(TypedDict, total=False):
    """What an update may change; a field left out is unchanged."""

    email: str
    full_name: str
    is_active: bool
    is_staff: bool
    is_superuser: bool
    groups: Collection[Group]


ACCOUNT_FIELDS = tuple(AccountChanges.__annotations__)


def create_account(
    *, email: str, actor: Actor | User, password: str | None = None
) -> User:
    """Create an account; without a password it signs in by SSO or a password reset."""
    actor = as_actor(actor)
    email = _require_email(email)
    with transaction.atomic():
        if User.objects.filter(email__iexact=email).exists():
            raise _email_taken(email)
        user = User(email=email)
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        _save_unique(user, _email_taken(email).message)
        record_event(
            None,
            actor=actor,
            action="account.created",
            target=user,
            changes={"email": email, "password": "set" if password else "none"},
        )
    return user


def update_account(
    user: User, *, actor: Actor | User, **changes: Unpack[AccountChanges]
) -> User:
    """Change an account's email, name, permissions and groups in one event.

    A changed email forgets the account's proven addresses: the new one counts only
    once its owner proves it.
    """
    actor = as_actor(actor)
    unknown = set(changes) - set(ACCOUNT_FIELDS)
    if unknown:
        raise TypeError(f"Not account fields: {', '.join(sorted(unknown))}.")
    values = dict(changes)
    groups = values.pop("groups", None)
    if "email" in values:
        values["email"] = _require_email(values["email"])
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        changed = _assign_changes(locked, values)
        if changed:
            _save_unique(locked, _email_taken(locked.email).message)
        if "email" in changed:
            # An operator's new address is not proven by its owner: the old proofs no
            # longer describe this account, and the new one must be proven again
            # (password reset, invitation link or SSO) before anything links to it.
            EmailAddress.objects.filter(user=locked).delete()
        if groups is not None:
            before = sorted(locked.groups.values_list("name", flat=True))
            after = sorted(group.name for group in groups)
            if before != after:
                locked.groups.set(groups)
                changed["groups"] = {"from": before, "to": after}
        if changed:
            record_event(
                None,
                actor=actor,
                action="account.updated",
                target=locked,
                changes=changed,
            )
    _copy_fields(locked, user)
    return user


def set_account_password(
    user: User, *, password: str | None, actor: Actor | User
) -> User:
    """Set a new password, or with None turn password sign-in off for the account."""
    actor = as_actor(actor)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if password is None and not locked.has_usable_password():
            return user
        if password is None:
            locked.set_unusable_password()
        else:
            locked.set_password(password)
        locked.save(update_fields=["password"])
        record_event(
            None,
            actor=actor,
            action="account.password_changed",
            target=locked,
            changes={"password": "disabled" if password is None else "set"},
        )
    _copy_fields(locked, user)
    return user


def _require_email(email: str) -> str:
    email = User.objects.normalize_email(email)
    if not email:
        raise InvalidValue("An account needs an email address.", field="email")
    return email


def _email_taken(email: str) -> AlreadyExists:
    return AlreadyExists(f"An account with {email} already exists.", field="email")
