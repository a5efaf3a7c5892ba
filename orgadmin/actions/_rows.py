"""Saving rows: the version bump, unique-constraint races, and copying back."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, TypeVar

from django.db import IntegrityError, transaction
from django.db.models import F
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
    obj.updated_at = timezone.now()
    obj.version = F("version") + 1


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
