import pytest
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from tests import helpers

SCIM_JSON = "application/scim+json"


class ScimClient:
    """The test client speaking SCIM with a bearer token, as Entra ID does."""

    def __init__(self, secret: str | None):
        self.client = Client()
        self.secret = secret

    def request(self, method, path, body=None, *, headers=None, content_type=SCIM_JSON):
        import json

        headers = dict(headers or {})
        if self.secret is not None:
            headers.setdefault("Authorization", f"Bearer {self.secret}")
        data = (
            body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        )
        url = path if path.startswith("/") else f"/scim/v2/{path}"
        return self.client.generic(
            method,
            url,
            data=data if data is not None else "",
            content_type=content_type,
            headers=headers,
        )

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, body=None, **kwargs):
        return self.request("POST", path, body, **kwargs)

    def put(self, path, body=None, **kwargs):
        return self.request("PUT", path, body, **kwargs)

    def patch(self, path, body=None, **kwargs):
        return self.request("PATCH", path, body, **kwargs)

    def delete(self, path, **kwargs):
        return self.request("DELETE", path, **kwargs)


@pytest.fixture(autouse=True)
def _fresh_cache():
    # Throttle windows and request-log counters live in the cache.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def scim(organization):
    return ScimClient(helpers.issue_token(organization))


@pytest.fixture
def other_organization(db):
    return helpers.make_organization("globex", domain="globex.example")


@pytest.fixture
def other_scim(other_organization):
    return ScimClient(helpers.issue_token(other_organization))


@pytest.fixture
def keep_the_test_connection():
    """For tests that call the WSGI application directly, as Django's test Client does:
    a request must not close the connection that holds the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
