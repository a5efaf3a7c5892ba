"""Saving rows: the version bump, unique-constraint races, and copying back."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from django.db import IntegrityError
from django.utils import timezone

from orgadmin.errors import AlreadyExists, NoLongerExists, VersionMismatch
from orgadmin.models import Member, Team

Row = TypeVar("Row", Member, Team)


def _lock(obj: Row) -> Row:
    """The row again, locked until the transaction ends: writes start from its state."""
    try:
        return type(obj).objects.select_for_update().get(pk=obj.pk)
    except type(obj).DoesNotExist:
        raise NoLongerExists(
            f"The {obj._meta.verbose_name} no longer exists."
        ) from None


def _touch(obj: Member | Team) -> None:
    """Bump the version of a row this transaction has locked (`_lock`): the value is
    known, so nothing reads it back after the save."""
    obj.updated_at = timezone.now()
    obj.version += 1


def _check_version(
    locked: Member | Team, expected: int | Collection[int] | None
) -> None:
    """Refuse the write when the locked row is not at the version the caller read.

    `expected` is None when the caller does not care (no If-Match, or If-Match: *),
    else the version, or versions, it would accept.
    """
    if expected is None:
        return
    accepted = {expected} if isinstance(expected, int) else set(expected)
    if locked.version not in accepted:
        noun = locked._meta.verbose_name
        raise VersionMismatch(
            f"The {noun} changed since it was read (it is at version "
            f"{locked.version}); read it again.",
            current_version=locked.version,
        )


def _save_unique(
    obj: Any, message: str, *, update_fields: Collection[str] | None = None
) -> None:
    """Save, turning a unique-constraint race into AlreadyExists instead of a 500.

    Without a savepoint of its own (two round trips fewer): the failed statement
    aborts the action's transaction, which the AlreadyExists raised here then rolls
    back whole, or back to the action's savepoint when it runs inside another
    transaction. So the action must let AlreadyExists out of its `atomic` block.
    """
    try:
        obj.save(update_fields=update_fields)
    except IntegrityError as error:
        if not _is_unique_violation(error):
            raise  # a CHECK or foreign-key failure is a bug, not a taken name
        raise AlreadyExists(message) from error


def _is_unique_violation(error: IntegrityError) -> bool:
    # PostgreSQL names the failure by SQLSTATE (23505); SQLite only in its message.
    sqlstate = getattr(error.__cause__, "sqlstate", None)
    if sqlstate is not None:
        return sqlstate == "23505"
    return "UNIQUE constraint failed" in str(error)


def _copy_fields(source: Any, target: Any) -> None:
    if source is target:
        return
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
