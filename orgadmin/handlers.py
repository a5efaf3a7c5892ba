"""The WSGI application: the settings UI and the SCIM API, each through its own
middleware.

An identity provider's SCIM request carries a bearer token and nothing else: no
session, no CSRF token, no cookie, no page to frame. Sessions, CSRF, messages,
allauth's and two-factor middleware (settings.MIDDLEWARE) would each run on it for
nothing, and on the cheapest SCIM requests they were about a third of the server's
CPU (bench/RESULTS.md). So the paths under settings.API_PATH_PREFIXES are served by a
second Django handler built with settings.API_MIDDLEWARE; every other path by the
usual one. Both are built once, when the process starts.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class SiteAndApiHandler:
    def __init__(self) -> None:
        self.site = WSGIHandler()
        self.api = handler_with_middleware(settings.API_MIDDLEWARE)
        self.api_prefixes = tuple(settings.API_PATH_PREFIXES)

    def handler_for(self, path: str) -> WSGIHandler:
        return self.api if path.startswith(self.api_prefixes) else self.site

    def __call__(self, environ, start_response):
        return self.handler_for(environ.get("PATH_INFO", ""))(environ, start_response)


def handler_with_middleware(middleware: list[str]) -> WSGIHandler:
    """A WSGIHandler whose middleware chain is `middleware` instead of
    settings.MIDDLEWARE.

    Django builds a handler's chain from settings.MIDDLEWARE and offers no other
    way to pass it; the setting is swapped only while the chain is built, at
    start-up, before any request is served.
    """
    site_middleware = settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        return WSGIHandler()
    finally:
        settings.MIDDLEWARE = site_middleware
