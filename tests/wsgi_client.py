"""Requests through Django's WSGI handler, as gunicorn makes them.

Django's test Client skips the request_started and request_finished signals that close
a broken or expired database connection, so it cannot show what a worker does after
the database went away. This client sends the same requests (built by RequestFactory)
through the WSGI application and closes each response, as a WSGI server does.
"""

from __future__ import annotations

import json

from django.test import RequestFactory

from orgadmin.handlers import SiteAndApiHandler
from tests.helpers import ScimClient


class WsgiClient:
    """The part of django.test.Client that ScimClient uses: `generic()`."""

    def __init__(self) -> None:
        self.factory = RequestFactory()
        self.application = SiteAndApiHandler()  # as orgadmin/wsgi.py serves
        self.cookies: dict[str, str] = {}

    def generic(self, method, path, data="", content_type="", headers=None):
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        environ = self.factory.generic(
            method, path, data, content_type, headers=headers
        ).environ
        response = self.application(environ, lambda status, response_headers: None)
        try:
            content = b"".join(response)
        finally:
            response.close()  # sends request_finished, as a WSGI server does
        response.json = lambda: json.loads(content)
        return response

    def get(self, path, **kwargs):
        return self.generic("GET", path, **kwargs)


class WsgiScimClient(ScimClient):
    def __init__(self, secret: str | None):
        super().__init__(secret)
        self.client = WsgiClient()
