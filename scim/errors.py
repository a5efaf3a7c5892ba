"""RFC 7644 section 3.12 error bodies, and the one exception handler that produces them.

Every non-2xx answer under /scim/ goes through `scim_exception_handler`, so an identity
provider never sees an HTML page, a DRF-shaped body or a database message.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404
from django_scim.constants import SchemaURI
from rest_framework import exceptions as drf
from rest_framework.response import Response

from orgadmin.errors import (
    AlreadyExists,
    DeprovisioningPaused,
    LastOwner,
    NoLongerExists,
    OrgAdminError,
    ProtectedOwner,
    VersionMismatch,
)

logger = logging.getLogger(__name__)


class ScimError(Exception):
    """A refusal with an HTTP status and, where RFC 7644 defines one, a scimType."""

    status_code = 400
    scim_type: str | None = None
    default_detail = "The request is not valid."
    headers: dict[str, str] | None = None

    def __init__(self, detail: str | None = None, *, scim_type: str | None = None):
        self.detail = detail or self.default_detail
        if scim_type:
            self.scim_type = scim_type
        super().__init__(self.detail)


class InvalidFilter(ScimError):
    """A filter that cannot be applied, in ?filter= or in a PATCH value path."""

    scim_type = "invalidFilter"


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


class NotFound(ScimError):
    status_code = 404
    default_detail = "No such resource."


class Forbidden(ScimError):
    status_code = 403


class LengthRequired(ScimError):
    status_code = 411


class PayloadTooLarge(ScimError):
    status_code = 413


class NotImplementedByServer(ScimError):
    status_code = 501


class TooManyRequests(ScimError):
    """429 with Retry-After (RFC 6585 section 4): the client must wait before retrying."""

    status_code = 429

    def __init__(self, detail: str, *, retry_after: int):
        super().__init__(detail)
        self.headers = {"Retry-After": str(retry_after)}


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
    return _nearest(_HANDLERS, type(exc))(exc, context)


# An action's refusal as (status, scimType); a subclass not listed answers as its
# nearest listed base class. orgadmin knows nothing of SCIM: the translation is here.
ORGADMIN_ERRORS: dict[type[OrgAdminError], tuple[int, str | None]] = {
    OrgAdminError: (400, "invalidValue"),
    AlreadyExists: (409, "uniqueness"),
    LastOwner: (400, "mutability"),
    ProtectedOwner: (403, None),
    VersionMismatch: (412, None),  # RFC 7644 section 3.14: a stale If-Match
    NoLongerExists: (404, None),
    # Retry-After says when (RFC 7231 section 7.1.3); Entra ID and Okta retry a 503.
    DeprovisioningPaused: (503, None),
}


def _nearest(table: dict[type, Any], cls: type) -> Any:
    return next(table[base] for base in cls.__mro__ if base in table)


def _refused(exc: ScimError, context: dict) -> Response:
    return error_response(
        exc.status_code, exc.detail, scim_type=exc.scim_type, headers=exc.headers
    )


def _refused_by_action(exc: OrgAdminError, context: dict) -> Response:
    status, scim_type = _nearest(ORGADMIN_ERRORS, type(exc))
    retry_after = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry_after)} if retry_after else None
    return error_response(status, exc.message, scim_type=scim_type, headers=headers)


def _not_found(exc: Http404, context: dict) -> Response:
    return error_response(404, "No such resource.")


# Seconds an identity provider is asked to wait when the database is unavailable.
DATABASE_RETRY_AFTER = 60


def _database_unavailable(
    exc: OperationalError | InterfaceError, context: dict
) -> Response:
    """The database refused, dropped or never opened the connection (psycopg's
    OperationalError, InterfaceError on a closed connection), or gave up on a lock:
    503 with Retry-After, which Entra ID and Okta retry, never a 500."""
    logger.exception("SCIM request failed on the database", exc_info=exc)
    return error_response(
        503,
        "The service is temporarily unavailable; retry later.",
        headers={"Retry-After": str(DATABASE_RETRY_AFTER)},
    )


def _value_refused_by_database(exc: DataError, context: dict) -> Response:
    # A value the validation let through (a column narrower than its model field, a
    # length that grew when lowercased): a bug to fix, but the client's input, so 400.
    logger.exception("SCIM request refused by the database", exc_info=exc)
    return error_response(
        400,
        "A value is too long or out of range for where it is stored.",
        scim_type="invalidValue",
    )


def _body_too_large(exc: RequestDataTooBig, context: dict) -> Response:
    return error_response(413, "The request body is too large.")


def _unauthenticated(exc: drf.APIException, context: dict) -> Response:
    return error_response(
        401, str(exc.detail), headers={"WWW-Authenticate": 'Bearer realm="scim"'}
    )


def _throttled(exc: drf.Throttled, context: dict) -> Response:
    wait = int(exc.wait or 1)
    return error_response(
        429,
        f"Too many requests with this token; retry in {wait} seconds.",
        headers={"Retry-After": str(wait)},
    )


def _not_json(exc: drf.ParseError, context: dict) -> Response:
    return error_response(
        400, f"The body is not valid JSON: {exc.detail}", scim_type="invalidSyntax"
    )


def _unsupported_media_type(exc: drf.UnsupportedMediaType, context: dict) -> Response:
    return error_response(
        415, "Send the body as application/scim+json or application/json."
    )


def _method_not_allowed(exc: drf.MethodNotAllowed, context: dict) -> Response:
    return error_response(
        405, f"{context['request'].method} is not supported on this endpoint."
    )


def _other_drf_error(exc: drf.APIException, context: dict) -> Response:
    return error_response(exc.status_code, str(exc.detail))


def _server_error(exc: Exception, context: dict) -> Response:
    logger.exception("SCIM request failed", exc_info=exc)
    return error_response(500, "The server could not complete the request.")


# Looked up by the exception's class, then its bases in MRO order, so the most specific
# entry wins whatever the order here.
_HANDLERS: dict[type[Exception], Callable[[Any, dict], Response]] = {
    ScimError: _refused,
    OrgAdminError: _refused_by_action,
    Http404: _not_found,
    OperationalError: _database_unavailable,
    InterfaceError: _database_unavailable,
    DataError: _value_refused_by_database,
    RequestDataTooBig: _body_too_large,
    drf.NotAuthenticated: _unauthenticated,
    drf.AuthenticationFailed: _unauthenticated,
    drf.Throttled: _throttled,
    drf.ParseError: _not_json,
    drf.UnsupportedMediaType: _unsupported_media_type,
    drf.MethodNotAllowed: _method_not_allowed,
    drf.APIException: _other_drf_error,
    Exception: _server_error,
}
