"""Keys that compare without case: attribute names (RFC 7643 section 2.1), PatchOp
members such as "Operations" and "op" (Entra ID sends "Operations", Okta "operations")
and query parameters, which clients spell "startIndex" or "startindex"."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def get_any_case(data: Any, key: str) -> Any:
    """The value under `key` in any case, or None (also when `data` is no mapping)."""
    if not isinstance(data, Mapping):
        return None
    lowered = key.lower()
    return next((v for k, v in data.items() if str(k).lower() == lowered), None)


def set_any_case(data: dict, key: str, value: Any) -> None:
    """Set `key`, replacing it under whatever case it had."""
    pop_any_case(data, key)
    data[key] = value


def pop_any_case(data: dict, key: str) -> None:
    lowered = key.lower()
    for existing in [k for k in data if str(k).lower() == lowered]:
        del data[existing]


def lowercase_keys(data: Mapping) -> dict[str, Any]:
    """A copy keyed by lower-case names; of keys differing only in case, the last wins."""
    return {str(key).lower(): value for key, value in data.items()}
