"""What an action changed, as the audit event's `changes` describe it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

# A list whose JSON is longer than this (a user's hundred phone numbers) is recorded as
# its count: an audit event says what changed without holding megabytes.
MAX_RECORDED_LIST_CHARACTERS = 2000


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
    """`changes` as an audit event records them: JSON values, long lists as counts."""
    return {key: _recorded(_jsonable(value)) for key, value in changes.items()}


def _recorded(value: Any) -> Any:
    if isinstance(value, dict) and value.keys() == {"from", "to"}:
        return {side: _recorded(item) for side, item in value.items()}
    if (
        isinstance(value, list)
        and len(json.dumps(value, default=str)) > MAX_RECORDED_LIST_CHARACTERS
    ):
        return {"count": len(value)}
    return value
