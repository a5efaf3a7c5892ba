"""RFC 7644 section 3.12 error bodies, and the one exception handler that produces them.

Every non-2xx answer under /scim/ goes through `scim_exception_handler`, so an identity
provider never sees an HTML page, a DRF-shaped body or a database message.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from django_scim.constants import SchemaURI
from rest_framework import exceptions as drf
from rest_framework.response import Response

from orgadmin.errors import AlreadyExists, LastOwner, OrgAdminError
from scim.filters import InvalidFilter

logger = logging.getLogger(__name__)


class ScimError(Exception):
    """A refusal with an HTTP status and, where RFC 7644 defines one, a scimType."""

    status_code = 400
    scim_type: str | None = None
    default_detail = "The request is not valid."

    def __init__(self, detail: str | None = None, *, scim_type: str | None = None):
        self.detail = detail or self.default_detail
        if scim_type:
            self.scim_type = scim_type
        super().__init__(self.detail)


class InvalidSyntax(ScimError):
    scim_type = "invalidSyntax"


class InvalidValue(ScimError):
    scim_type = "invalidValue"


class InvalidPath(ScimError):
    scim_type = "invalidPath"


class NoTarget(ScimError):
    scim_type = "noTarget"


class Mutability(ScimError):
    scim_type = "mutability"


class TooMany(ScimError):
    scim_type = "tooMany"


class Uniqueness(ScimError):
    status_code = 409
    scim_type = "uniqueness"


class NotFound(ScimError):
    status_code = 404
    default_detail = "No such resource."


class Forbidden(ScimError):
    status_code = 403


class PreconditionFailed(ScimError):
    status_code = 412
    default_detail = "The resource has changed: its version does not match If-Match."


class LengthRequired(ScimError):
    status_code = 411


class PayloadTooLarge(ScimError):
    status_code = 413


class NotImplementedByServer(ScimError):
    status_code = 501


def error_response(
    status: int,
    detail: str,
    *,
    scim_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {
        "schemas": [SchemaURI.ERROR],
        "status": str(status),  # RFC 7644 section 3.12: a string, not a number
        "detail": detail,
    }
    if scim_type:
        body["scimType"] = scim_type
    return Response(body, status=status, headers=headers)


def scim_exception_handler(exc: Exception, context: dict) -> Response:
    """Turn any exception raised under /scim/ into an RFC 7644 error response."""
    if isinstance(exc, ScimError):
        return error_response(exc.status_code, exc.detail, scim_type=exc.scim_type)
    if isinstance(exc, InvalidFilter):
        return error_response(400, str(exc), scim_type="invalidFilter")
    if isinstance(exc, AlreadyExists):
        return error_response(409, exc.message, scim_type="uniqueness")
    if isinstance(exc, LastOwner):
        return error_response(400, exc.message, scim_type="mutability")
    if isinstance(exc, OrgAdminError):
        return error_response(400, exc.message, scim_type="invalidValue")
    if isinstance(exc, Http404):
        return error_response(404, "No such resource.")
    if isinstance(exc, OperationalError):
        logger.exception("SCIM request failed on the database", exc_info=exc)
        return error_response(
            503,
            "The service is temporarily unavailable; retry later.",
            headers={"Retry-After": "60"},
        )
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "The request body is too large.")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        return error_response(
            401, str(exc.detail), headers={"WWW-Authenticate": 'Bearer realm="scim"'}
        )
    if isinstance(exc, drf.Throttled):
        wait = int(exc.wait or 1)
        return error_response(
            429,
            f"Too many requests for this organization; retry in {wait} seconds.",
            headers={"Retry-After": str(wait)},
        )
    if isinstance(exc, drf.ParseError):
        return error_response(
            400, f"The body is not valid JSON: {exc.detail}", scim_type="invalidSyntax"
        )
    if isinstance(exc, drf.UnsupportedMediaType):
        return error_response(
            415, "Send the body as application/scim+json or application/json."
        )
    if isinstance(exc, drf.MethodNotAllowed):
        return error_response(
            405, f"{context['request'].method} is not supported on this endpoint."
        )
    if isinstance(exc, drf.APIException):
        return error_response(exc.status_code, str(exc.detail))
    logger.exception("SCIM request failed", exc_info=exc)
    return error_response(500, "The server could not complete the request.")
