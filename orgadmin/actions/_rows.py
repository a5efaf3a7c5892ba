"""Saving rows: the version bump, unique-constraint races, and copying back."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from orgadmin.errors import AlreadyExists
from orgadmin.models import Member, Team


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
