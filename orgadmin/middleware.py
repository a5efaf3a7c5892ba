"""A database outage answers a plain 503 page in the settings UI, not the 500 page.

SCIM answers its own 503 (scim.errors); this covers every other view, the admin and
allauth's pages included. Django opens a new connection on the next request
(CONN_HEALTH_CHECKS), so the UI works again as soon as the database does.
"""

from __future__ import annotations

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.views import defaults

logger = logging.getLogger(__name__)

# Seconds a browser, or a monitor, is asked to wait before trying again.
RETRY_AFTER = 30


class DatabaseOutageMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(
        self, request: HttpRequest, exception: Exception
    ) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error("Database unavailable for %s", request.path, exc_info=exception)
        return outage_response()


def outage_response() -> HttpResponse:
    # Rendered without the request: its context processors (the signed-in user, the
    # organization menu) would query the database that has just failed.
    response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = str(RETRY_AFTER)
    response["Cache-Control"] = "no-store"
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A database error raised in a middleware (loading the session or the
    user) never reaches process_exception above: Django turns it into a 500 first, and
    calls this while the error is being handled, so it can still answer the 503 page."""
    error = sys.exc_info()[1]
    if isinstance(error, OperationalError | InterfaceError):
        logger.error("Database unavailable for %s", request.path, exc_info=error)
        return outage_response()
    return defaults.server_error(request)
