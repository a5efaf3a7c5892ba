"""The settings UI while PostgreSQL is unreachable: a plain 503 page, then back to work.

The database is taken away through a TCP proxy on 127.0.0.1 (tests/tcp_proxy.py), and
pages are requested through the WSGI handler as a gunicorn worker runs them.
"""

import pytest
from django.db import connection

from tests import helpers
from tests.tcp_proxy import database_behind_proxy
from tests.wsgi_client import WsgiClient

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PAGES = [
    "/",
    "/organizations/acme/members/",
    "/organizations/acme/teams/",
    "/organizations/acme/access-security/scim/",
    "/admin/",
    "/accounts/login/?next=/",
]


@pytest.fixture
def owner_over_wsgi(client):
    """An owner's signed-in session, sent by a client that goes through WSGI."""
    organization = helpers.make_organization()
    owner = organization.members.get(role="owner")
    assert client.login(email=owner.user.email, password=helpers.PASSWORD)
    wsgi = WsgiClient()
    wsgi.cookies["sessionid"] = client.cookies["sessionid"].value
    return wsgi


def test_while_the_database_is_away_pages_answer_a_plain_503_and_then_work_again(
    owner_over_wsgi,
):
    with database_behind_proxy(connection) as database:
        members = owner_over_wsgi.get("/organizations/acme/members/")
        assert members.status_code == 200

        database.go_down()
        for page in PAGES:
            response = owner_over_wsgi.get(page)
            assert response.status_code == 503, page
            assert response["Content-Type"] == "text/html; charset=utf-8"
            assert response["Retry-After"] == "30"
            assert response["Cache-Control"] == "no-store"
            content = response.content.decode()
            assert "<h1>Temporarily unavailable</h1>" in content
            assert "cannot reach its database" in content
            assert "Traceback" not in content and "psycopg" not in content

        database.come_back()
        for page in PAGES:
            response = owner_over_wsgi.get(page)
            assert response.status_code in (200, 302), (page, response.status_code)
        assert (
            "Temporarily unavailable"
            not in owner_over_wsgi.get(PAGES[1]).content.decode()
        )
