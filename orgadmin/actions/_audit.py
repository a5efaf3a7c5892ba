"""What an action changed, as the audit event's `changes` describe it."""

from __future__ import annotations

from datetime import datetime
from typing import Any


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
