"""SCIM JSON <-> Member and Team: the attribute schema, validation and projection.

Incoming documents are validated into Member/Team field values (what the actions take);
outgoing resources are built from rows already loaded by the view, so serializing a page
never runs a query per resource.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django_scim.constants import SchemaURI

from orgadmin.models import Member, Organization, Team
from scim.errors import InvalidSyntax, InvalidValue

USER_SCHEMA = SchemaURI.USER
ENTERPRISE_SCHEMA = SchemaURI.ENTERPRISE_USER
GROUP_SCHEMA = SchemaURI.GROUP

SIMPLE = "simple"  # a single value: string or boolean
COMPLEX = "complex"  # a single object with sub-attributes (name, manager)
MULTI = "multi"  # a list of objects (emails, members...)


@dataclass(frozen=True)
class Attribute:
    name: str
    kind: str = SIMPLE
    sub_attributes: tuple[str, ...] = ()
    read_only: bool = False
    field: str | None = None  # the model field of a simple or name attribute

    def canonical_sub(self, name: str) -> str | None:
        lowered = name.lower()
        return next((s for s in self.sub_attributes if s.lower() == lowered), None)


@dataclass(frozen=True)
class ResourceSchema:
    """The attributes of one resource type; the extension's live under its URN key."""

    core_urn: str
    core: dict[str, Attribute]
    extension_urn: str | None = None
    extension: dict[str, Attribute] = field(default_factory=dict)

    def lookup(self, namespace: str | None, name: str) -> Attribute | None:
        attributes = self.extension if namespace == self.extension_urn else self.core
        return attributes.get(name.lower())

    def find(self, name: str) -> tuple[str | None, Attribute] | None:
        """Resolve an unqualified name: the core schema first, then the extension."""
        if name.lower() in self.core:
            return None, self.core[name.lower()]
        if name.lower() in self.extension:
            return self.extension_urn, self.extension[name.lower()]
        return None


def _attributes(*attributes: Attribute) -> dict[str, Attribute]:
    return {attribute.name.lower(): attribute for attribute in attributes}


NAME_FIELDS = {
    "formatted": "formatted_name",
    "familyName": "family_name",
    "givenName": "given_name",
    "middleName": "middle_name",
    "honorificPrefix": "honorific_prefix",
    "honorificSuffix": "honorific_suffix",
}
USER_STRING_FIELDS = {
    "userName": "user_name",
    "displayName": "display_name",
    "nickName": "nick_name",
    "title": "title",
    "userType": "user_type",
    "preferredLanguage": "preferred_language",
    "locale": "locale",
    "timezone": "timezone",
}
ENTERPRISE_STRING_FIELDS = {
    "employeeNumber": "employee_number",
    "costCenter": "cost_center",
    "organization": "organization_name",
    "division": "division",
    "department": "department",
}
MULTI_VALUED_FIELDS = {
    "phoneNumbers": "phone_numbers",
    "addresses": "addresses",
    "roles": "roles",
}
PLURAL_SUBS = ("value", "display", "type", "primary")
ADDRESS_SUBS = (
    "formatted",
    "streetAddress",
    "locality",
    "region",
    "postalCode",
    "country",
    "type",
    "primary",
)
REFERENCE_SUBS = ("value", "$ref", "display", "type")

USER = ResourceSchema(
    core_urn=USER_SCHEMA,
    core=_attributes(
        Attribute("id", read_only=True),
        Attribute("externalId", field="external_id"),
        *(Attribute(name, field=f) for name, f in USER_STRING_FIELDS.items()),
        Attribute("name", COMPLEX, tuple(NAME_FIELDS)),
        Attribute("active", field="is_active"),
        Attribute("emails", MULTI, PLURAL_SUBS),
        Attribute("phoneNumbers", MULTI, PLURAL_SUBS),
        Attribute("addresses", MULTI, ADDRESS_SUBS),
        Attribute("roles", MULTI, PLURAL_SUBS),
        Attribute("groups", MULTI, REFERENCE_SUBS, read_only=True),
        Attribute("meta", COMPLEX, read_only=True),
    ),
    extension_urn=ENTERPRISE_SCHEMA,
    extension=_attributes(
        *(Attribute(name, field=f) for name, f in ENTERPRISE_STRING_FIELDS.items()),
        Attribute("manager", COMPLEX, ("value", "$ref", "displayName")),
    ),
)
GROUP = ResourceSchema(
    core_urn=GROUP_SCHEMA,
    core=_attributes(
        Attribute("id", read_only=True),
        Attribute("externalId", field="external_id"),
        Attribute("displayName", field="display_name"),
        Attribute("members", MULTI, REFERENCE_SUBS),
        Attribute("meta", COMPLEX, read_only=True),
    ),
)


def scim_base_url() -> str:
    return f"{settings.ORGADMIN_BASE_URL}/scim/v2"


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
    document: dict[str, Any] = {
        "userName": member.user_name,
        "active": member.is_active,
    }
    if member.external_id:
        document["externalId"] = member.external_id
    for name, model_field in USER_STRING_FIELDS.items():
        if getattr(member, model_field) and name != "userName":
            document[name] = getattr(member, model_field)
    name = {
        sub: getattr(member, f) for sub, f in NAME_FIELDS.items() if getattr(member, f)
    }
    if name:
        document["name"] = name
    if emails:
        document["emails"] = [dict(email) for email in emails]
    for name, model_field in MULTI_VALUED_FIELDS.items():
        if getattr(member, model_field):
            document[name] = [dict(item) for item in getattr(member, model_field)]
    enterprise = {
        name: getattr(member, f)
        for name, f in ENTERPRISE_STRING_FIELDS.items()
        if getattr(member, f)
    }
    if member.manager_id:
        manager = member.manager
        enterprise["manager"] = {
            "value": str(manager.scim_id),
            "$ref": f"{scim_base_url()}/Users/{manager.scim_id}",
            "displayName": manager.label,
        }
    if enterprise:
        document[ENTERPRISE_SCHEMA] = enterprise
    return document


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
    schemas = _get(data, "schemas")
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
    attributes: dict[str, Any] = {}
    user_name = _string(document.get("userName"), "userName", "user_name")
    if not user_name.strip():
        raise InvalidValue("userName is required and cannot be empty.")
    attributes["user_name"] = user_name
    for name, model_field in USER_STRING_FIELDS.items():
        if name != "userName":
            attributes[model_field] = _string(document.get(name), name, model_field)
    attributes["external_id"] = (
        _string(document.get("externalId"), "externalId", "external_id") or None
    )
    name = document.get("name") or {}
    if not isinstance(name, dict):
        raise InvalidValue("name must be an object.")
    name = {_canonical(USER.core["name"], k): v for k, v in name.items()}
    for sub, model_field in NAME_FIELDS.items():
        attributes[model_field] = _string(name.get(sub), f"name.{sub}", model_field)
    if document.get("active") is not None:
        attributes["is_active"] = as_boolean(document["active"], "active")
    attributes["emails"] = _multi_valued(document.get("emails"), USER.core["emails"])
    for name, model_field in MULTI_VALUED_FIELDS.items():
        items = _multi_valued(document.get(name), USER.core[name.lower()])
        if name == "roles":
            items = [_role(item) for item in items]
        attributes[model_field] = items
    enterprise = document.get(ENTERPRISE_SCHEMA) or {}
    if not isinstance(enterprise, dict):
        raise InvalidValue(f"{ENTERPRISE_SCHEMA} must be an object.")
    for name, model_field in ENTERPRISE_STRING_FIELDS.items():
        attributes[model_field] = _string(enterprise.get(name), name, model_field)
    attributes["manager"] = _manager(
        enterprise.get("manager"), organization=organization, member=member
    )
    return attributes


def team_attributes_from_scim(document: dict[str, Any]) -> dict[str, Any]:
    display_name = _string(document.get("displayName"), "displayName", "display_name")
    if not display_name.strip():
        raise InvalidValue("displayName is required and cannot be empty.")
    external_id = _string(document.get("externalId"), "externalId", "external_id")
    return {"display_name": display_name, "external_id": external_id or None}


def member_references(value: Any) -> list[str]:
    """The ids in a members value: [{"value": id}, ...], one object, or bare strings."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    ids = []
    for item in items:
        if isinstance(item, dict):
            item = _get(item, "value")
        if not isinstance(item, str) or not item.strip():
            raise InvalidValue('Each member must be an object with a "value" id.')
        ids.append(item.strip())
    return ids


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


def _get(data: dict, key: str) -> Any:
    lowered = key.lower()
    return next((v for k, v in data.items() if str(k).lower() == lowered), None)


def _canonical(attribute: Attribute, key: Any) -> str:
    return attribute.canonical_sub(str(key)) or str(key)


def _string(value: Any, name: str, model_field: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be a string, not {json.dumps(value)}.")
    limit = _max_length(model_field)
    if limit and len(value) > limit:
        raise InvalidValue(f"{name} is longer than {limit} characters.")
    return value


def _max_length(model_field: str) -> int | None:
    for model in (Member, Team):
        try:
            return model._meta.get_field(model_field).max_length
        except Exception:  # noqa: BLE001 - the other model has the field
            continue
    return None


def _multi_valued(value: Any, attribute: Attribute) -> list[dict[str, Any]]:
    """A list of objects with canonical sub-attribute names and boolean `primary`."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        raise InvalidValue(f"{attribute.name} must be a list of objects.")
    items = []
    for item in value:
        if not isinstance(item, dict):
            raise InvalidValue(f"{attribute.name} must be a list of objects.")
        clean: dict[str, Any] = {}
        for key, sub_value in item.items():
            sub = attribute.canonical_sub(str(key))
            if sub is None or sub_value is None:
                continue
            if sub == "primary":
                clean[sub] = as_boolean(sub_value, f"{attribute.name}.primary")
            elif isinstance(sub_value, str):
                if len(sub_value) > 1024:
                    raise InvalidValue(f"{attribute.name}.{sub} is too long.")
                clean[sub] = sub_value
            else:
                raise InvalidValue(f"{attribute.name}.{sub} must be a string.")
        if attribute.name == "emails":
            if len(clean.get("value", "")) > 254:
                raise InvalidValue("An email address is longer than 254 characters.")
            if len(clean.get("type", "")) > 32:
                raise InvalidValue("An email type is longer than 32 characters.")
        if clean:
            items.append(clean)
    if sum(1 for item in items if item.get("primary")) > 1:
        raise InvalidValue(f"Only one of {attribute.name} can be primary.")
    return items


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
        value = _get(value, "value")
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
        raise InvalidValue(f'manager "{value}" is not a user of this organization.')
    if member is not None and manager.pk == member.pk:
        raise InvalidValue("A user cannot be their own manager.")
    return manager
