from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from orgadmin import actions
from orgadmin.models import ScimRequestLog, ScimToken
from scim import request_log, token_cache
from tests import helpers
from tests.helpers import ScimClient, assert_error


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic dXNlcjpwYXNz", "Bearer not-a-token", "Bearer a b"],
)
def test_missing_malformed_or_unknown_tokens_get_401_with_a_scim_body(
    organization, authorization
):
    client = ScimClient(None)
    headers = {"Authorization": authorization} if authorization else {}
    response = client.get("Users", headers=headers)
    assert_error(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert not ScimRequestLog.objects.exists()


def test_revoked_token_gets_401(organization):
    secret = helpers.issue_token(organization)
    token = ScimToken.objects.get(digest=ScimToken.digest_of(secret))
    actions.revoke_scim_token(token, actor=helpers.SYSTEM)
    body = assert_error(ScimClient(secret).get("Users"), 401)
    assert "revoked" in body["detail"]


@pytest.fixture
def token_cached_long(monkeypatch):
    """Cache tokens for a minute, so that no test depends on its own speed."""
    monkeypatch.setattr(token_cache, "CACHE_SECONDS", 60)


def test_a_cached_token_authenticates_without_a_query(
    scim, token_cached_long, django_assert_max_num_queries
):
    assert scim.get("Users").status_code == 200
    with django_assert_max_num_queries(4) as captured:
        assert scim.get("Users").status_code == 200
    assert not any("scimtoken" in q["sql"] for q in captured.captured_queries)


def test_a_revoked_token_is_refused_on_the_next_request_though_cached(
    organization, token_cached_long
):
    secret = helpers.issue_token(organization)
    client = ScimClient(secret)
    assert client.get("Users").status_code == 200
    token = ScimToken.objects.get(digest=ScimToken.digest_of(secret))
    actions.revoke_scim_token(token, actor=helpers.SYSTEM)
    body = assert_error(client.get("Users"), 401)
    assert "revoked" in body["detail"]


def test_a_cached_token_is_refused_once_it_expires(organization, token_cached_long):
    token, secret = actions.issue_scim_token(
        organization,
        name="Okta",
        actor=helpers.SYSTEM,
        expires_at=timezone.now() + timedelta(days=1),
    )
    client = ScimClient(secret)
    assert client.get("Users").status_code == 200
    cached = cache.get(ScimToken.cache_key(token.digest))
    cached.expires_at = timezone.now() - timedelta(seconds=1)
    cache.set(ScimToken.cache_key(token.digest), cached, 60)
    body = assert_error(client.get("Users"), 401)
    assert "expired" in body["detail"]


def test_expired_token_gets_401(organization):
    token, secret = actions.issue_scim_token(
        organization,
        name="Okta",
        actor=helpers.SYSTEM,
        expires_at=timezone.now() + timedelta(days=1),
    )
    ScimToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    body = assert_error(ScimClient(secret).get("Users"), 401)
    assert "expired" in body["detail"]


def test_organization_without_scim_gets_403_saying_so(organization, scim):
    actions.update_organization(organization, scim_enabled=False, actor=helpers.SYSTEM)
    body = assert_error(scim.get("Users"), 403)
    assert "not enabled" in body["detail"]
    assert ScimRequestLog.objects.get().status == 403


def test_token_records_last_use_at_most_once_a_minute(
    organization, scim, django_assert_num_queries
):
    assert scim.get("Users").status_code == 200
    token = ScimToken.objects.get(organization=organization)
    first_use = token.last_used_at
    assert first_use is not None and token.last_used_ip == "127.0.0.1"

    assert scim.get("Users").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use

    stale = timezone.now() - ScimToken.LAST_USED_RESOLUTION - timedelta(seconds=1)
    ScimToken.objects.filter(pk=token.pk).update(last_used_at=stale)
    # A minute later the cached row (scim/token_cache.py, a second) is long gone.
    cache.delete(ScimToken.cache_key(token.digest))
    assert scim.get("Users").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > stale


def test_a_fresh_token_use_costs_no_update_query(scim, django_assert_num_queries):
    scim.get("Users")  # records the first use, and caches the token
    # page, emails, groups and the log row: the token is cached, and the short page
    # proves the total (no COUNT). No UPDATE of the token.
    with django_assert_num_queries(4) as captured:
        assert scim.get("Users").status_code == 200
    assert not any(q["sql"].startswith("UPDATE") for q in captured.captured_queries)


def test_request_log_keeps_method_path_status_outcome_and_error(organization, scim):
    scim.get("Users?filter=userName+eq+%22a%40acme.example%22&access_token=secret")
    scim.post("Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    created = scim.post(
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kim@acme.example",
        },
    )
    assert created.status_code == 201
    rows = list(ScimRequestLog.objects.for_organization(organization).order_by("pk"))
    assert [(r.method, r.status, r.outcome) for r in rows] == [
        ("GET", 200, ""),
        ("POST", 400, ""),
        ("POST", 201, "created"),
    ]
    assert rows[0].path.startswith("/scim/v2/Users?filter=")
    assert "secret" not in rows[0].path and "access_token" not in rows[0].path
    assert "userName" in rows[1].error_detail
    assert rows[2].error_detail == ""
    assert all(r.token is not None and r.duration_ms >= 0 for r in rows)


def test_request_log_is_trimmed_to_its_bound_per_organization(
    organization, other_organization, scim, other_scim, monkeypatch
):
    monkeypatch.setattr(ScimRequestLog, "KEEP_PER_ORGANIZATION", 5)
    monkeypatch.setattr(request_log, "TRIM_EVERY", 4)
    other_scim.get("Users")
    for _ in range(12):
        scim.get("Users")
    kept = ScimRequestLog.objects.for_organization(organization).count()
    # Trimmed at the 4th, 8th and 12th request: never more than KEEP + TRIM_EVERY.
    assert kept == 5
    assert ScimRequestLog.objects.for_organization(other_organization).count() == 1


def test_a_runaway_client_is_throttled_with_429_and_retry_after(scim, settings):
    settings.SCIM_THROTTLE_RATE = "3/hour"
    for _ in range(3):
        assert scim.get("Users").status_code == 200
    response = scim.get("Users")
    assert_error(response, 429)
    assert int(response["Retry-After"]) > 0
