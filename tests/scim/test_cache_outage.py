"""Redis going away degrades the limits, not the service: SCIM keeps answering."""

import pytest
from django.test import override_settings

from tests import helpers
from tests.helpers import USER, ScimClient

UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "orgadmin.cache.TolerantRedisCache",
        # Nothing listens on port 1: every cache call is refused at once.
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@pytest.fixture
def scim(organization):
    return ScimClient(helpers.issue_token(organization))


def test_scim_works_while_the_cache_is_unreachable(scim, caplog):
    with override_settings(CACHES=UNREACHABLE_REDIS):
        created = scim.post(
            "Users", {"schemas": [USER], "userName": "kim@acme.example"}
        )
        assert created.status_code == 201, created.content
        listed = scim.get('Users?filter=userName eq "kim@acme.example"')
        assert listed.status_code == 200 and listed.json()["totalResults"] == 1
        refused = ScimClient("oa_scim_not-a-token").get("Users")
        assert refused.status_code == 401
    assert "The cache (Redis) is unreachable" in caplog.text


def test_signing_in_works_while_the_cache_is_unreachable(client, owner):
    # allauth's sign-in rate limits count in the cache.
    with override_settings(CACHES=UNREACHABLE_REDIS):
        response = client.post(
            "/accounts/login/",
            {"login": owner.user.email, "password": helpers.PASSWORD},
        )
        assert response.status_code == 302
        assert client.get("/organizations/acme/members/").status_code == 200
