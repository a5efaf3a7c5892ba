"""Discovery documents (RFC 7644 section 4): exactly what this endpoint supports.

The RFC 7643 schema files bundled with django-scim2 are loaded once, trimmed to the
attributes this service stores, and served under the configured base URL.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import django_scim
from django_scim.constants import SchemaURI

from scim.parsers import MAX_PAYLOAD_BYTES
from scim.serializers import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, scim_base_url

MAX_RESULTS = 100  # the largest page, and the default `count`

_SCHEMA_FILES = {
    USER_SCHEMA: "core/User.json",
    ENTERPRISE_SCHEMA: "extension/Enterprise-User.json",
    GROUP_SCHEMA: "core/Group.json",
}
# Attributes of the bundled schemas that this service does not store.
_UNSUPPORTED = {
    USER_SCHEMA: {
        "profileUrl",
        "password",
        "ims",
        "photos",
        "entitlements",
        "x509Certificates",
    },
    ENTERPRISE_SCHEMA: set(),
    GROUP_SCHEMA: set(),
}
# RFC 7643 section 3.1: id and externalId are caseExact; the bundled files omit them.
_COMMON_ATTRIBUTES = [
    {
        "name": "id",
        "type": "string",
        "multiValued": False,
        "required": False,
        "caseExact": True,
        "mutability": "readOnly",
        "returned": "always",
        "uniqueness": "server",
    },
    {
        "name": "externalId",
        "type": "string",
        "multiValued": False,
        "required": False,
        "caseExact": True,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    },
]


@cache
def _bundled(urn: str) -> dict[str, Any]:
    path = Path(django_scim.__file__).parent / "schemas" / _SCHEMA_FILES[urn]
    return json.loads(path.read_text())


def schema_document(urn: str) -> dict[str, Any]:
    schema = copy.deepcopy(_bundled(urn))
    schema["attributes"] = [
        attribute
        for attribute in schema["attributes"]
        if attribute["name"] not in _UNSUPPORTED[urn]
    ]
    if urn != ENTERPRISE_SCHEMA:
        schema["attributes"] = copy.deepcopy(_COMMON_ATTRIBUTES) + schema["attributes"]
    if urn == GROUP_SCHEMA:
        _describe_group_as_served(schema)
    schema["schemas"] = ["urn:ietf:params:scim:schemas:core:2.0:Schema"]
    schema["meta"] = {
        "resourceType": "Schema",
        "location": f"{scim_base_url()}/Schemas/{urn}",
    }
    return schema


def _describe_group_as_served(schema: dict[str, Any]) -> None:
    """RFC 7643 section 4.2 calls displayName REQUIRED (a team needs a name), though
    its section 8.7.1 file says otherwise; and each member is returned with a
    "display" label, which the bundled file does not list."""
    for attribute in schema["attributes"]:
        if attribute["name"] == "displayName":
            attribute["required"] = True
        if attribute["name"] == "members":
            attribute["subAttributes"].append(
                {
                    "name": "display",
                    "type": "string",
                    "multiValued": False,
                    "description": "The member's displayName, else its userName.",
                    "required": False,
                    "caseExact": False,
                    "mutability": "readOnly",
                    "returned": "default",
                    "uniqueness": "none",
                }
            )


def schema_documents() -> dict[str, dict[str, Any]]:
    return {urn: schema_document(urn) for urn in _SCHEMA_FILES}


def resource_type_documents() -> dict[str, dict[str, Any]]:
    base = scim_base_url()
    return {
        "User": {
            "schemas": [SchemaURI.RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "endpoint": "/Users",
            "description": "A person in the organization (a member).",
            "schema": USER_SCHEMA,
            "schemaExtensions": [{"schema": ENTERPRISE_SCHEMA, "required": False}],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base}/ResourceTypes/User",
            },
        },
        "Group": {
            "schemas": [SchemaURI.RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "endpoint": "/Groups",
            "description": "A team of the organization.",
            "schema": GROUP_SCHEMA,
            "schemaExtensions": [],
            "meta": {
                "resourceType": "ResourceType",
                "location": f"{base}/ResourceTypes/Group",
            },
        },
    }


def service_provider_config() -> dict[str, Any]:
    base = scim_base_url()
    return {
        "schemas": [SchemaURI.SERVICE_PROVIDER_CONFIG],
        "documentationUri": f"{base.rsplit('/scim/', 1)[0]}/#scim",
        "patch": {"supported": True},
        "bulk": {
            "supported": False,
            "maxOperations": 0,
            "maxPayloadSize": MAX_PAYLOAD_BYTES,
        },
        "filter": {"supported": True, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [
            {
                "type": "oauthbearertoken",
                "name": "Bearer token",
                "description": "The organization's SCIM token from Access Security > SCIM, "
                "sent as 'Authorization: Bearer <token>'.",
                "primary": True,
            }
        ],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": f"{base}/ServiceProviderConfig",
        },
    }
