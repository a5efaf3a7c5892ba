"""An OpenAPI 3.1 description of the SCIM API, served at /scim/v2/openapi.json.

The User and Group bodies are written from the attribute table in scim.resource_schema
(their types, required attributes, read-only ones and column lengths), like /Schemas,
so the description cannot drift from what the serializer accepts and returns. The
rest (paths, parameters, PatchOp, SearchRequest, ListResponse, the error body) follows
RFC 7644 as this service implements it. tests/scim/test_openapi.py runs schemathesis
against a live server with it.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import JsonResponse
from django_scim.constants import SchemaURI

from orgadmin.models import Member, Team
from orgadmin.public_urls import scim_tenant_url
from scim.limits import MAX_FILTER_LENGTH, MAX_OPERATIONS, MAX_RESULTS
from scim.resource_schema import (
    BOOLEAN,
    COMPLEX,
    DATETIME,
    GROUP,
    MULTI,
    USER,
    Attribute,
    ResourceSchema,
)
from scim.views import DiscoveryView

JSON = "application/json"
SCIM_JSON = "application/scim+json"

# RFC 7644 section 3.12, table 9.
SCIM_TYPES = [
    "invalidFilter",
    "tooMany",
    "uniqueness",
    "mutability",
    "invalidSyntax",
    "invalidPath",
    "noTarget",
    "invalidValue",
    "invalidVers",
    "sensitive",
]


class OpenApiView(DiscoveryView):
    """GET /openapi.json, with the token like the other discovery endpoints: the
    description holds no secret, but this keeps one rule for every SCIM URL (only
    an unknown one answers without a token), and the document is also built from
    this module without a server."""

    def get(self, request):
        # A plain JSON document, not application/scim+json: OpenAPI tools expect it.
        return JsonResponse(openapi_document())


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "orgadmin SCIM 2.0",
            "version": "2.0",
            "description": "Users and Groups of one organization (the bearer token's), "
            "as RFC 7643 and RFC 7644 define them. Bodies may be sent as "
            "application/scim+json or application/json; attribute names compare "
            "without case.",
        },
        "servers": [{"url": scim_tenant_url()}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The organization's SCIM token, from Access "
                    "Security > SCIM.",
                }
            },
            "schemas": _schemas(),
            "parameters": _parameters(),
            "responses": _responses(),
        },
    }


# ---------------------------------------------------------------------------- bodies


def _value_schema(
    attribute: Attribute, model: type[models.Model], *, request: bool
) -> dict[str, Any]:
    """JSON Schema of one attribute's value; `model` holds its column, if any."""
    if attribute.kind == MULTI:
        return {
            "type": "array",
            "items": _object(attribute.sub_attributes, None, request=request),
            "description": attribute.description,
        }
    if attribute.kind == COMPLEX:
        schema = _object(attribute.sub_attributes, model, request=request)
        if attribute.name == "manager" and request:
            # Entra ID sends a manager as a bare id as well as {"value": id}.
            schema = {"anyOf": [schema, {"type": "string"}]}
        return {**schema, "description": attribute.description}
    if attribute.type == BOOLEAN:
        schema: dict[str, Any] = {"type": "boolean"}
        if request:
            # Entra ID's default job writes booleans as "True" and "False".
            schema = {"anyOf": [schema, {"enum": ["True", "False", "true", "false"]}]}
    elif attribute.type == DATETIME:
        schema = {"type": "string", "format": "date-time"}
    else:
        schema = {"type": "string"}
        length = _column_length(model, attribute.field)
        if length is not None:
            schema["maxLength"] = length
        if attribute.required and request:
            schema["minLength"] = 1
    if attribute.read_only:
        schema["readOnly"] = True
    return {**schema, "description": attribute.description}


def _column_length(model: type[models.Model] | None, field: str | None) -> int | None:
    if model is None or field is None:
        return None
    try:
        return getattr(model._meta.get_field(field), "max_length", None)
    except FieldDoesNotExist:  # a sub-attribute kept in a JSON list
        return None


def _object(
    attributes, model: type[models.Model] | None, *, request: bool
) -> dict[str, Any]:
    attributes = [a for a in attributes if not (request and a.read_only)]
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            a.name: _value_schema(a, model, request=request) for a in attributes
        },
    }
    required = [a.name for a in attributes if a.required]
    if required and request:
        schema["required"] = required
    return schema


def _resource(
    schema: ResourceSchema, model: type[models.Model], *, request: bool
) -> dict[str, Any]:
    urns = [urn for urn, _ in schema.namespaces()]
    body = _object(schema.core.values(), model, request=request)
    if request:
        body["properties"].pop("meta", None)
    for urn, attributes in schema.namespaces()[1:]:
        body["properties"][urn] = _object(attributes.values(), model, request=request)
    # Each body names its schema (RFC 7643 section 3); an extension's URN may follow.
    body["properties"]["schemas"] = {
        "type": "array",
        "items": {"enum": urns},
        "minItems": 1,
        "uniqueItems": True,
        "contains": {"const": schema.core_urn},
    }
    body["required"] = ["schemas", *body.get("required", [])]
    if not request:
        body["required"].append("id")
        _closed(body)
    return body


def _closed(schema: dict[str, Any]) -> None:
    """A response has the attributes the table lists and no others, at every level."""
    if schema.get("type") == "object":
        schema["additionalProperties"] = False
        for value in schema["properties"].values():
            _closed(value)
    elif schema.get("type") == "array":
        _closed(schema["items"])


def _schemas() -> dict[str, Any]:
    any_value: dict[str, Any] = {}
    return {
        "User": _resource(USER, Member, request=False),
        "UserRequest": _resource(USER, Member, request=True),
        "Group": _resource(GROUP, Team, request=False),
        "GroupRequest": _resource(GROUP, Team, request=True),
        "PatchOp": {
            "type": "object",
            "required": ["schemas", "Operations"],
            "properties": {
                "schemas": _message_schemas(SchemaURI.PATCH_OP),
                "Operations": {
                    "type": "array",
                    "maxItems": MAX_OPERATIONS,
                    "items": {
                        "type": "object",
                        "required": ["op"],
                        "properties": {
                            # Entra ID sends "Add", "Replace" and "Remove".
                            "op": {
                                "enum": [
                                    "add",
                                    "remove",
                                    "replace",
                                    "Add",
                                    "Remove",
                                    "Replace",
                                ]
                            },
                            "path": {"type": "string"},
                            "value": any_value,
                        },
                    },
                },
            },
        },
        "SearchRequest": {
            "type": "object",
            "required": ["schemas"],
            "properties": {
                "schemas": _message_schemas(SchemaURI.SERACH_REQUEST),
                "attributes": {"type": "array", "items": {"type": "string"}},
                "excludedAttributes": {"type": "array", "items": {"type": "string"}},
                "filter": {"type": "string", "maxLength": MAX_FILTER_LENGTH},
                "sortBy": {"type": "string"},
                "sortOrder": {"enum": ["ascending", "descending"]},
                "startIndex": {"type": "integer"},
                "count": {"type": "integer"},
            },
        },
        "UserList": _list_response({"$ref": "#/components/schemas/User"}),
        "GroupList": _list_response({"$ref": "#/components/schemas/Group"}),
        "ResourceList": _list_response(
            {
                "anyOf": [
                    {"$ref": "#/components/schemas/User"},
                    {"$ref": "#/components/schemas/Group"},
                ]
            }
        ),
        "DiscoveryList": _list_response({"$ref": "#/components/schemas/Discovery"}),
        "Discovery": {
            "type": "object",
            "required": ["schemas"],
            "properties": {"schemas": {"type": "array", "items": {"type": "string"}}},
        },
        "Error": {
            "type": "object",
            "required": ["schemas", "status", "detail"],
            "properties": {
                "schemas": {
                    "type": "array",
                    "items": {"const": SchemaURI.ERROR},
                    "minItems": 1,
                    "maxItems": 1,
                },
                # RFC 7644 section 3.12: the HTTP status, as a string.
                "status": {"type": "string", "pattern": "^[1-5][0-9][0-9]$"},
                "scimType": {"enum": SCIM_TYPES},
                "detail": {"type": "string", "minLength": 1},
            },
        },
    }


def _message_schemas(urn: str) -> dict[str, Any]:
    return {"type": "array", "items": {"const": urn}, "minItems": 1, "maxItems": 1}


def _list_response(item: dict[str, Any]) -> dict[str, Any]:
    """RFC 7644 section 3.4.2."""
    count = {"type": "integer", "minimum": 0}
    return {
        "type": "object",
        "required": ["schemas", "totalResults", "Resources"],
        "properties": {
            "schemas": _message_schemas(SchemaURI.LIST_RESPONSE),
            "totalResults": count,
            "startIndex": {"type": "integer", "minimum": 1},
            "itemsPerPage": {**count, "maximum": MAX_RESULTS},
            "Resources": {"type": "array", "items": item, "maxItems": MAX_RESULTS},
        },
    }


# ---------------------------------------------------------------------- parameters


def _parameters() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": schema,
            "description": description,
        }

    return {
        "id": {
            "name": "id",
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "description": "The resource's id (a UUID).",
        },
        "filter": query(
            "filter",
            {"type": "string", "maxLength": MAX_FILTER_LENGTH},
            'RFC 7644 section 3.4.2.2, e.g. userName eq "pat@example.com".',
        ),
        "startIndex": query(
            "startIndex", {"type": "integer"}, "1-based; smaller values count as 1."
        ),
        "count": query(
            "count",
            {"type": "integer"},
            f"Page size; at most {MAX_RESULTS} (larger values count as that).",
        ),
        "sortBy": query("sortBy", {"type": "string"}, "An attribute path."),
        "sortOrder": query(
            "sortOrder", {"enum": ["ascending", "descending"]}, "Default ascending."
        ),
        "attributes": query(
            "attributes", {"type": "string"}, "Comma-separated attributes to return."
        ),
        "excludedAttributes": query(
            "excludedAttributes",
            {"type": "string"},
            "Comma-separated attributes to leave out.",
        ),
    }


_LIST_PARAMETERS = ["filter", "startIndex", "count", "sortBy", "sortOrder"]
_PROJECTION = ["attributes", "excludedAttributes"]


def _refs(names: list[str]) -> list[dict[str, str]]:
    return [{"$ref": f"#/components/parameters/{name}"} for name in names]


# ----------------------------------------------------------------------- responses


def _content(schema: str) -> dict[str, Any]:
    ref = {"schema": {"$ref": f"#/components/schemas/{schema}"}}
    return {SCIM_JSON: ref, JSON: ref}


def _responses() -> dict[str, Any]:
    def error(description: str, **headers: str) -> dict[str, Any]:
        response: dict[str, Any] = {
            "description": description,
            "content": _content("Error"),
        }
        if headers:
            response["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in headers.items()
            }
        return response

    return {
        "BadRequest": error(
            "Invalid: a filter, a path, a value, the syntax (see scimType)."
        ),
        "Unauthorized": error(
            "No valid bearer token.", **{"WWW-Authenticate": "Bearer realm=scim"}
        ),
        "Forbidden": error("SCIM is off for the organization, or not allowed here."),
        "NotFound": error("No such resource in the token's organization."),
        "MethodNotAllowed": error("The endpoint does not support this method."),
        "Conflict": error("Another resource has this userName, externalId or name."),
        "PreconditionFailed": error("If-Match names another version."),
        "PayloadTooLarge": error("The body is larger than the limit."),
        "UnsupportedMediaType": error("Send application/scim+json or JSON."),
        "TooManyRequests": error(
            "Too many requests for this token.", **{"Retry-After": "Seconds to wait."}
        ),
        "Unavailable": error(
            "The database is unavailable.", **{"Retry-After": "Seconds to wait."}
        ),
        "OtherError": error("Any other refusal, as an RFC 7644 error body."),
    }


def _errors(*statuses: int) -> dict[str, Any]:
    names = {
        400: "BadRequest",
        401: "Unauthorized",
        403: "Forbidden",
        404: "NotFound",
        405: "MethodNotAllowed",
        409: "Conflict",
        412: "PreconditionFailed",
        413: "PayloadTooLarge",
        415: "UnsupportedMediaType",
        429: "TooManyRequests",
        503: "Unavailable",
    }
    common = (400, 401, 403, 405, 413, 415, 429, 503)
    responses = {
        str(status): {"$ref": f"#/components/responses/{names[status]}"}
        for status in sorted({*common, *statuses})
    }
    responses["4XX"] = {"$ref": "#/components/responses/OtherError"}
    return responses


def _resource_response(schema: str, description: str, **extra) -> dict[str, Any]:
    headers = {
        "ETag": {
            "description": "The version, for If-Match and If-None-Match.",
            "required": True,
            "schema": {"type": "string"},
        },
        **extra,
    }
    return {"description": description, "headers": headers, "content": _content(schema)}


# --------------------------------------------------------------------------- paths


def _paths() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for name, noun in (("User", "Users"), ("Group", "Groups")):
        request = {"required": True, "content": _content(f"{name}Request")}
        created = _resource_response(
            name,
            f"The {name} created.",
            Location={
                "description": "Its URL.",
                "required": True,
                "schema": {"type": "string"},
            },
        )
        paths[f"/{noun}"] = {
            "get": {
                "operationId": f"list{noun}",
                "summary": f"List or filter {noun}.",
                "parameters": _refs(_LIST_PARAMETERS + _PROJECTION),
                "responses": {
                    "200": {
                        "description": f"A page of {noun}.",
                        "content": _content(f"{name}List"),
                    },
                    **_errors(),
                },
            },
            "post": {
                "operationId": f"create{name}",
                "summary": f"Create a {name}.",
                "parameters": _refs(_PROJECTION),
                "requestBody": request,
                "responses": {"201": created, **_errors(404, 409)},
            },
        }
        paths[f"/{noun}/.search"] = {
            "post": {
                "operationId": f"search{noun}",
                "summary": f"List or filter {noun} with a SearchRequest body.",
                "requestBody": {"required": True, "content": _content("SearchRequest")},
                "responses": {
                    "200": {
                        "description": f"A page of {noun}.",
                        "content": _content(f"{name}List"),
                    },
                    **_errors(),
                },
            }
        }
        one = _resource_response(name, f"The {name}.")
        patched = (
            {"200": one}
            if name == "User"
            else {
                "204": {"description": "Patched (Entra ID expects no body)."},
                "200": {
                    **one,
                    "description": "Patched, with attributes or excludedAttributes.",
                },
            }
        )
        paths[f"/{noun}/{{id}}"] = {
            "parameters": _refs(["id"]),
            "get": {
                "operationId": f"get{name}",
                "summary": f"Read a {name}.",
                "parameters": _refs(_PROJECTION),
                "responses": {
                    "200": one,
                    "304": {"description": "Not modified (If-None-Match)."},
                    **_errors(404),
                },
            },
            "put": {
                "operationId": f"replace{name}",
                "summary": f"Replace a {name}.",
                "parameters": _refs(_PROJECTION),
                "requestBody": request,
                "responses": {"200": one, **_errors(404, 409, 412)},
            },
            "patch": {
                "operationId": f"patch{name}",
                "summary": f"Change a {name} with PatchOp operations.",
                "parameters": _refs(_PROJECTION),
                "requestBody": {"required": True, "content": _content("PatchOp")},
                "responses": {**patched, **_errors(404, 409, 412)},
            },
            "delete": {
                "operationId": f"delete{name}",
                "summary": f"Delete a {name}.",
                "responses": {
                    "204": {"description": "Deleted."},
                    **_errors(404, 412),
                },
            },
        }
    paths["/.search"] = {
        "post": {
            "operationId": "searchAll",
            "summary": "Search Users and Groups together (RFC 7644 section 3.4.3).",
            "requestBody": {"required": True, "content": _content("SearchRequest")},
            "responses": {
                "200": {
                    "description": "A page of Users and Groups.",
                    "content": _content("ResourceList"),
                },
                **_errors(),
            },
        }
    }
    discovery = {
        "/ServiceProviderConfig": ("getServiceProviderConfig", "Discovery", False),
        "/ResourceTypes": ("listResourceTypes", "DiscoveryList", False),
        "/ResourceTypes/{id}": ("getResourceType", "Discovery", True),
        "/Schemas": ("listSchemas", "DiscoveryList", False),
        "/Schemas/{id}": ("getSchema", "Discovery", True),
    }
    for path, (operation, schema, by_id) in discovery.items():
        paths[path] = {
            "get": {
                "operationId": operation,
                "summary": "RFC 7644 section 4 discovery.",
                "responses": {
                    "200": {
                        "description": "The document.",
                        "content": _content(schema),
                    },
                    **_errors(*((404,) if by_id else ())),
                },
            }
        }
        if by_id:
            paths[path]["parameters"] = _refs(["id"])
    paths["/openapi.json"] = {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This description.",
            "responses": {
                "200": {
                    "description": "OpenAPI 3.1.",
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                **_errors(),
            },
        }
    }
    return paths
