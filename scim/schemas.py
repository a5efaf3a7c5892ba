"""Discovery documents (RFC 7644 section 4): exactly what this endpoint supports.

The schemas are written from the attribute table in scim.resource_schema, so /Schemas
lists what the serializer and the filter compiler accept, no more and no less.
"""

from __future__ import annotations

from typing import Any

from django_scim.constants import SchemaURI

from scim.limits import MAX_PAYLOAD_BYTES, MAX_RESULTS
from scim.resource_schema import (
    BINARY,
    REFERENCE,
    RESOURCE_SCHEMAS,
    STRING,
    Attribute,
)
from scim.serializers import ENTERPRISE_SCHEMA, GROUP_SCHEMA, USER_SCHEMA, scim_base_url

_SCHEMA_NAMES = {ENTERPRISE_SCHEMA: ("EnterpriseUser", "Enterprise User")}
# RFC 7643 section 7: caseExact applies to string, reference and binary values.
_TEXT_TYPES = {STRING, REFERENCE, BINARY}


def attribute_document(attribute: Attribute) -> dict[str, Any]:
    """One attribute as RFC 7643 section 7 describes it."""
    document: dict[str, Any] = {
        "name": attribute.name,
        "type": attribute.type,
        "multiValued": attribute.multi_valued,
        "description": attribute.description,
        "required": attribute.required,
    }
    if attribute.type in _TEXT_TYPES:
        document["caseExact"] = attribute.case_exact
    if attribute.canonical_values:
        document["canonicalValues"] = list(attribute.canonical_values)
    if attribute.reference_types:
        document["referenceTypes"] = list(attribute.reference_types)
    if attribute.sub_attributes:
        document["subAttributes"] = [
            attribute_document(sub) for sub in attribute.sub_attributes
        ]
    document["mutability"] = attribute.mutability
    document["returned"] = attribute.returned
    document["uniqueness"] = attribute.uniqueness
    return document


def schema_document(urn: str) -> dict[str, Any]:
    resource, attributes = next(
        (resource, attributes)
        for resource in RESOURCE_SCHEMAS
        for namespace, attributes in resource.namespaces()
        if namespace == urn
    )
    name, description = _SCHEMA_NAMES.get(urn, (resource.name, resource.description))
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": urn,
        "name": name,
        "description": description,
        "attributes": [
            attribute_document(attribute)
            for attribute in attributes.values()
            if attribute.published
        ],
        "meta": {
            "resourceType": "Schema",
            "location": f"{scim_base_url()}/Schemas/{urn}",
        },
    }


def schema_documents() -> dict[str, dict[str, Any]]:
    return {
        urn: schema_document(urn)
        for resource in RESOURCE_SCHEMAS
        for urn, _ in resource.namespaces()
    }


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
        # filter, sort and maxResults hold for POST /.search across Users and Groups
        # too; RFC 7643 section 5 has no attribute of its own for that search.
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
