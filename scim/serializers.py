"""SCIM JSON <-> Member and Team: validation and projection, read from the attribute
table in scim.resource_schema.

Incoming documents are validated into Member/Team field values (what the actions take);
outgoing resources are built from rows already loaded by the view, so serializing a page
never runs a query per resource.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django_scim.constants import SchemaURI

from orgadmin.models import Member, Organization, Team
from orgadmin.public_urls import scim_tenant_url
from scim.errors import InvalidSyntax, InvalidValue
from scim.keys import get_any_case
from scim.limits import MAX_MEMBERS_PER_REQUEST
from scim.resource_schema import (
    BINARY,
    BOOLEAN,
    COMPLEX,
    ENTERPRISE_SCHEMA,
    GROUP,
    GROUP_SCHEMA,
    MAX_MULTI_VALUED_ITEMS,
    MULTI,
    SIMPLE,
    USER,
    USER_SCHEMA,
    Attribute,
    ResourceSchema,
)

# A value inside a multi-valued attribute kept as JSON has no column to bound it.
MAX_JSON_VALUE_LENGTH = 1024


def scim_base_url() -> str:
    return scim_tenant_url()


def etag(version: int) -> str:
    return f'W/"{version}"'


def parse_scim_id(text: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(text))
    except (TypeError, ValueError, AttributeError):
        return None


# ------------------------------------------------------------------------------ booleans


def as_boolean(value: Any, name: str) -> bool:
    """Entra ID's default job sends booleans as the strings "True" and "False"."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidValue(f"{name} must be true or false, not {json.dumps(value)}.")


# ----------------------------------------------------------------------------- projection


class Projection:
    """RFC 7644 section 3.9: `attributes` and `excludedAttributes` on any response."""

    ALWAYS = ("schemas", "id")

    def __init__(
        self,
        schema: ResourceSchema,
        attributes: Iterable[str] = (),
        excluded: Iterable[str] = (),
    ):
        self.schema = schema
        self.attributes = [self._parse(a) for a in attributes if a.strip()]
        self.excluded = [self._parse(a) for a in excluded if a.strip()]

    @classmethod
    def from_text(
        cls, schema: ResourceSchema, attributes: Any, excluded: Any
    ) -> Projection:
        return cls(schema, _comma_list(attributes), _comma_list(excluded))

    def _parse(self, text: str) -> tuple[str | None, str | None, str | None]:
        """(namespace URN or None, attribute, sub-attribute), canonically spelled."""
        text = text.strip()
        lowered = text.lower()
        namespace = None
        for urn in (self.schema.extension_urn, self.schema.core_urn):
            if urn and lowered.startswith(urn.lower()):
                rest = text[len(urn) :].lstrip(":")
                if not rest:
                    return urn, None, None
                namespace = urn if urn == self.schema.extension_urn else None
                text = rest
                break
        name, _, sub = text.partition(".")
        if namespace is None:
            found = self.schema.find(name)
        else:
            attribute = self.schema.lookup(namespace, name)
            found = (namespace, attribute) if attribute else None
        if found is None:
            return "?", name, None  # unknown: matches nothing
        namespace, attribute = found
        return namespace, attribute.name, (attribute.canonical_sub(sub) or sub) or None

    def includes(self, name: str) -> bool:
        """Whether a core attribute is returned at all (to skip queries for it)."""
        if any(ns is None and a == name and s is None for ns, a, s in self.excluded):
            return False
        if not self.attributes:
            return True
        return any(ns is None and a == name for ns, a, s in self.attributes)

    def apply(self, resource: dict[str, Any]) -> dict[str, Any]:
        if self.attributes:
            projected = {key: resource[key] for key in self.ALWAYS if key in resource}
            for namespace, name, sub in self.attributes:
                _copy(resource, projected, namespace, name, sub)
        else:
            projected = dict(resource)
        for namespace, name, sub in self.excluded:
            if namespace is None and name in self.ALWAYS:
                continue
            _remove(projected, namespace, name, sub)
        if "schemas" in projected:
            projected["schemas"] = [
                urn
                for urn in projected["schemas"]
                if urn == self.schema.core_urn or urn in projected
            ]
        return projected


def _comma_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return [part for part in str(value or "").split(",") if part.strip()]


def _copy(source, target, namespace, name, sub) -> None:
    if namespace == "?":
        return
    if namespace is not None:
        if namespace not in source:
            return
        if name is None:
            target[namespace] = source[namespace]
            return
        target.setdefault(namespace, {})
        source, target = source[namespace], target[namespace]
    if name not in source:
        return
    value = source[name]
    if sub is None:
        target[name] = value
    elif isinstance(value, dict):
        if sub in value:
            target.setdefault(name, {})[sub] = value[sub]
    elif isinstance(value, list):
        target[name] = [{sub: item[sub]} for item in value if sub in item]


def _remove(resource, namespace, name, sub) -> None:
    if namespace == "?":
        return
    if namespace is not None:
        if name is None:
            resource.pop(namespace, None)
            return
        resource = resource.get(namespace)
        if not isinstance(resource, dict):
            return
    if sub is None:
        resource.pop(name, None)
        return
    value = resource.get(name)
    if isinstance(value, dict):
        value.pop(sub, None)
    elif isinstance(value, list):
        resource[name] = [{k: v for k, v in item.items() if k != sub} for item in value]


# --------------------------------------------------------------------------------- output


def member_document(member: Member, emails: list[dict]) -> dict[str, Any]:
    """A member's writable attributes as SCIM JSON (what PATCH operations apply to)."""
    document: dict[str, Any] = {}
    for urn, attributes in USER.namespaces():
        values = document if urn == USER_SCHEMA else {}
        for attribute in attributes.values():
            if attribute.read_only:
                continue
            value = _stored_value(member, attribute, emails)
            if value or isinstance(value, bool):
                values[attribute.name] = value
        if values and urn != USER_SCHEMA:
            document[urn] = values
    return document


def _stored_value(member: Member, attribute: Attribute, emails: list[dict]) -> Any:
    if attribute.rows is not None:  # emails: rows the view has loaded
        return [dict(email) for email in emails]
    if attribute.kind == MULTI:
        return [dict(item) for item in getattr(member, attribute.field)]
    if attribute.kind == COMPLEX and attribute.field:  # the enterprise manager
        manager = getattr(member, attribute.field)
        if manager is None:
            return None
        return {
            "value": str(manager.scim_id),
            "$ref": f"{scim_base_url()}/Users/{manager.scim_id}",
            "displayName": manager.label,
        }
    if attribute.kind == COMPLEX:
        return {
            sub.name: getattr(member, sub.field)
            for sub in attribute.sub_attributes
            if getattr(member, sub.field)
        }
    return getattr(member, attribute.field)


def member_to_scim(
    member: Member,
    *,
    emails: list[dict],
    groups: list[tuple[uuid.UUID, str]] | None,
) -> dict[str, Any]:
    """The full User resource; `groups` is None when the projection leaves it out."""
    document = member_document(member, emails)
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": str(member.scim_id),
        **document,
    }
    if groups:
        resource["groups"] = [
            {
                "value": str(team_id),
                "display": name,
                "$ref": f"{scim_base_url()}/Groups/{team_id}",
                "type": "direct",
            }
            for team_id, name in groups
        ]
    resource["meta"] = _meta("User", member.scim_id, member)
    return resource


def team_to_scim(
    team: Team, *, members: list[tuple[uuid.UUID, str]] | None
) -> dict[str, Any]:
    """The Group resource; `members` is None when the projection leaves it out."""
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA],
        "id": str(team.scim_id),
        "displayName": team.display_name,
    }
    if team.external_id:
        resource["externalId"] = team.external_id
    if members is not None:
        resource["members"] = [
            {
                "value": str(member_id),
                "display": label,
                "$ref": f"{scim_base_url()}/Users/{member_id}",
                "type": "User",
            }
            for member_id, label in members
        ]
    resource["meta"] = _meta("Group", team.scim_id, team)
    return resource


def _meta(resource_type: str, scim_id: uuid.UUID, obj: Member | Team) -> dict:
    return {
        "resourceType": resource_type,
        "created": obj.created_at.isoformat(),
        "lastModified": obj.updated_at.isoformat(),
        "location": f"{scim_base_url()}/{resource_type}s/{scim_id}",
        "version": etag(obj.version),
    }


def list_response(
    resources: list[dict], *, total: int, start_index: int
) -> dict[str, Any]:
    return {
        "schemas": [SchemaURI.LIST_RESPONSE],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


# ---------------------------------------------------------------------------------- input


def require_schema(data: Any, urn: str) -> dict[str, Any]:
    """Check the body is an object whose `schemas` lists `urn` (RFC 7643 section 3)."""
    if not isinstance(data, dict):
        raise InvalidSyntax("The body must be a JSON object.")
    schemas = get_any_case(data, "schemas")
    if not isinstance(schemas, list) or not any(
        isinstance(s, str) and s.lower() == urn.lower() for s in schemas
    ):
        raise InvalidSyntax(f'"schemas" must list "{urn}".')
    return data


def canonical_document(data: dict[str, Any], schema: ResourceSchema) -> dict[str, Any]:
    """Spell attribute names as the schema does (names are case-insensitive, RFC 7643
    section 2.1) and drop attributes outside the schema."""
    document: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):
            continue
        if schema.extension_urn and key.lower() == schema.extension_urn.lower():
            if isinstance(value, dict):
                extension = document.setdefault(schema.extension_urn, {})
                for sub_key, sub_value in value.items():
                    attribute = schema.lookup(schema.extension_urn, str(sub_key))
                    if attribute:
                        extension[attribute.name] = sub_value
            continue
        attribute = schema.core.get(key.lower())
        if attribute and not attribute.read_only:
            document[attribute.name] = value
    return document


def member_attributes_from_scim(
    document: dict[str, Any],
    *,
    organization: Organization,
    member: Member | None = None,
) -> dict[str, Any]:
    """Validate a full User document into Member field values (and "emails").

    Every writable attribute is returned, so that a PUT (or a patched document) clears
    what it leaves out; `active` is returned only when given.
    """
    enterprise = document.get(ENTERPRISE_SCHEMA) or {}
    if not isinstance(enterprise, dict):
        raise InvalidValue(f"{ENTERPRISE_SCHEMA} must be an object.")
    attributes: dict[str, Any] = {}
    for urn, schema_attributes in USER.namespaces():
        source = document if urn == USER_SCHEMA else enterprise
        for attribute in schema_attributes.values():
            if attribute.read_only:
                continue
            value = source.get(attribute.name)
            if attribute.kind == SIMPLE:
                if value is not None or attribute.type != BOOLEAN:
                    attributes[attribute.field] = _column_value(
                        Member, attribute, value
                    )
            elif attribute.kind == COMPLEX and attribute.field:
                attributes[attribute.field] = _manager(
                    value, organization=organization, member=member
                )
            elif attribute.kind == COMPLEX:
                attributes.update(_complex_columns(attribute, value))
            elif attribute.rows is not None:
                # Kept as rows by the actions, which take them under the SCIM name.
                attributes[attribute.name] = _multi_valued(value, attribute)
            else:
                items = _multi_valued(value, attribute)
                if attribute.name == "roles":
                    items = [_role(item) for item in items]
                attributes[attribute.field] = items
    return attributes


def team_attributes_from_scim(document: dict[str, Any]) -> dict[str, Any]:
    """Team field values from a Group document; members are the caller's to resolve."""
    return {
        attribute.field: _column_value(Team, attribute, document.get(attribute.name))
        for attribute in GROUP.core.values()
        if attribute.kind == SIMPLE and not attribute.read_only
    }


def _column_value(model: type[models.Model], attribute: Attribute, value: Any) -> Any:
    """A single value for its column: a string, or a boolean, checked against the
    column's length; an empty optional value is stored as NULL where the column allows."""
    if attribute.type == BOOLEAN:
        return as_boolean(value, attribute.name)
    text = _string(value, attribute.name, _max_length(model, attribute.field))
    if attribute.required and not text.strip():
        raise InvalidValue(f"{attribute.name} is required and cannot be empty.")
    if not text and model._meta.get_field(attribute.field).null:
        return None
    return text


def _complex_columns(attribute: Attribute, value: Any) -> dict[str, str]:
    """A complex attribute whose sub-attributes are columns (name)."""
    value = value or {}
    if not isinstance(value, dict):
        raise InvalidValue(f"{attribute.name} must be an object.")
    value = {_canonical(attribute, key): sub_value for key, sub_value in value.items()}
    return {
        sub.field: _string(
            value.get(sub.name),
            f"{attribute.name}.{sub.name}",
            _max_length(Member, sub.field),
        )
        for sub in attribute.sub_attributes
    }


def member_references(value: Any) -> list[str]:
    """The ids in a members value: [{"value": id}, ...], one object, or bare strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    require_member_count(len(items))
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = get_any_case(item, "value")
        if not isinstance(item, str) or not item.strip():
            raise InvalidValue('Each member must be an object with a "value" id.')
        ids.append(item.strip())
    return ids


def require_member_count(count: int) -> None:
    """Refuse a group POST, PUT or PATCH naming more than MAX_MEMBERS_PER_REQUEST
    members (invalidValue, as for any over-long list: RFC 7644 section 3.12)."""
    if count > MAX_MEMBERS_PER_REQUEST:
        raise InvalidValue(
            f"The request names {count} group members; at most "
            f"{MAX_MEMBERS_PER_REQUEST} are allowed per request: send the rest in "
            "further PATCH requests."
        )


def changed_member_attributes(
    member: Member, emails: list[dict], attributes: dict[str, Any]
) -> dict[str, Any]:
    """Only what differs from the member, so that an unchanged PUT writes nothing."""
    changed = {}
    for key, value in attributes.items():
        if key == "emails":
            if _clean_for_compare(value) != _clean_for_compare(emails):
                changed[key] = value
        elif key == "manager":
            if (value.pk if value else None) != member.manager_id:
                changed[key] = value
        elif getattr(member, key) != value:
            changed[key] = value
    return changed


def _clean_for_compare(emails: list[dict]) -> list[dict]:
    return [
        {k: v for k, v in e.items() if v not in ("", None, False)} for e in emails or []
    ]


def _canonical(attribute: Attribute, key: Any) -> str:
    return attribute.canonical_sub(str(key)) or str(key)


def _string(value: Any, name: str, limit: int | None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string, not {json.dumps(value)}.")
    if limit and len(value) > limit:
        raise InvalidValue(f"{name} is longer than {limit} characters.")
    return value


def _max_length(model: type[models.Model], model_field: str | None) -> int | None:
    try:
        return model._meta.get_field(model_field).max_length
    except FieldDoesNotExist:  # a JSON list, whose values have no column
        return MAX_JSON_VALUE_LENGTH


def _multi_valued(value: Any, attribute: Attribute) -> list[dict[str, Any]]:
    """A list of objects with canonical sub-attribute names, checked by their type."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidValue(f"{attribute.name} must be a list of objects.")
    if len(value) > MAX_MULTI_VALUED_ITEMS:
        # invalidValue, not tooMany: RFC 7644 section 3.12 keeps tooMany for filters
        # matching too many resources, and lists invalidValue for POST, PUT and PATCH.
        raise InvalidValue(
            f"{attribute.name} has {len(value)} values; a user may have at most "
            f"{MAX_MULTI_VALUED_ITEMS}."
        )
    items = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidValue(f"{attribute.name} must be a list of objects.")
        clean: dict[str, Any] = {}
        for key, sub_value in item.items():
            sub = attribute.sub(str(key))
            if sub is None or sub_value is None:
                continue
            clean[sub.name] = _sub_value(attribute, sub, sub_value)
        if clean:
            items.append(clean)
    if sum(1 for item in items if item.get("primary")) > 1:
        raise InvalidValue(f"Only one of {attribute.name} can be primary.")
    return items


def _sub_value(attribute: Attribute, sub: Attribute, value: Any) -> Any:
    name = f"{attribute.name}.{sub.name}"
    if sub.type == BOOLEAN:
        return as_boolean(value, name)
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string.")
    # Rows (emails) are bounded by their columns, JSON lists by a fixed limit.
    limit = (
        _max_length(attribute.rows.model, sub.field)
        if attribute.rows is not None
        else MAX_JSON_VALUE_LENGTH
    )
    if limit and len(value) > limit:
        raise InvalidValue(f"{name} is longer than {limit} characters.")
    if sub.type == BINARY:
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValue(f"{name} must be base64 (RFC 7643 2.3.6).") from None
    return value


def _role(item: dict[str, Any]) -> dict[str, Any]:
    """Entra ID sends an app role as a JSON-encoded string inside "value"."""
    value = item.get("value", "")
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            decoded = json.loads(value)
        except ValueError:
            return item
        if isinstance(decoded, dict):
            role = {k: v for k, v in item.items() if k != "value"}
            role["value"] = str(decoded.get("value") or decoded.get("id") or value)
            if decoded.get("displayName"):
                role["display"] = str(decoded["displayName"])
            return role
    return item


def _manager(
    value: Any, *, organization: Organization, member: Member | None
) -> Member | None:
    """The manager as an id string, {"value": id} or [{"value": id}] (Entra sends all)."""
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = get_any_case(value, "value")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidValue('manager must be a user id or {"value": id}.')
    if (
        member is not None
        and member.manager_id
        and str(member.manager.scim_id) == value
    ):
        return member.manager
    scim_id = parse_scim_id(value)
    manager = (
        Member.objects.for_organization(organization).filter(scim_id=scim_id).first()
        if scim_id
        else None
    )
    if manager is None:
        shown = value if len(value) <= 100 else value[:97] + "..."
        raise InvalidValue(f'manager "{shown}" is not a user of this organization.')
    if member is not None and manager.pk == member.pk:
        raise InvalidValue("A user cannot be their own manager.")
    return manager
