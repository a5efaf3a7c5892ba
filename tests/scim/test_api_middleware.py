"""SCIM is served through its own short middleware list (orgadmin/handlers.py)."""

from django.conf import settings
from django.test import RequestFactory

from orgadmin.handlers import SiteAndApiHandler
from orgadmin.public_urls import SCIM_PATH
from tests import helpers


def serve(application, path, **headers):
    environ = RequestFactory().get(path, headers=headers).environ
    started = {}
    body = application(
        environ,
        lambda status, response_headers: started.update(headers=response_headers),
    )
    try:
        content = b"".join(body)
    finally:
        body.close()
    return dict(started["headers"]), content


def test_the_api_prefix_is_where_the_scim_app_is_mounted():
    assert [f"/{SCIM_PATH}/"] == settings.API_PATH_PREFIXES


def test_scim_requests_skip_the_sites_middleware_and_pages_keep_it(
    organization, keep_the_test_connection
):
    application = SiteAndApiHandler()
    secret = helpers.issue_token(organization)

    headers, _ = serve(application, "/scim/v2/Users", Authorization=f"Bearer {secret}")
    # No Content-Security-Policy (django-csp), no Vary: Cookie (sessions), no
    # X-Frame-Options; SecurityMiddleware's headers remain.
    assert "Content-Security-Policy" not in headers
    assert "Cookie" not in headers.get("Vary", "")
    assert "X-Frame-Options" not in headers
    assert headers["X-Content-Type-Options"] == "nosniff"

    headers, _ = serve(application, "/accounts/login/")
    assert "Content-Security-Policy" in headers
    assert headers["X-Frame-Options"] == "DENY"


def test_the_production_application_is_the_split_one():
    import orgadmin.wsgi

    assert isinstance(orgadmin.wsgi.application, SiteAndApiHandler)
