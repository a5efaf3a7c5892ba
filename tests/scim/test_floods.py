"""Floods: the per-token rate limit (in Redis when REDIS_URL is set) and the size limits
of one request, each answered with an RFC 7644 error body and stated where RFC 7643
section 5 has a place for it."""

import json
import os
import uuid

import pytest

from orgadmin.models import Member, Team
from scim.limits import MAX_MEMBERS_PER_REQUEST, MAX_PAYLOAD_BYTES, MAX_RESULTS
from tests import helpers
from tests.helpers import GROUP, PATCH_OP, ScimClient, assert_error, user_body

# The local Redis of the developers' guide, on a database number of this file's own.
REDIS_URL = os.environ.get("ORGADMIN_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


def use_up(scim, count):
    for _ in range(count):
        response = scim.get("Users")
        assert response.status_code == 200, response.content


def assert_throttled(response, *, period):
    body = assert_error(response, 429)
    wait = int(response["Retry-After"])
    assert 1 <= wait <= period
    assert (
        body["detail"] == f"Too many requests with this token; retry in {wait} seconds."
    )
    return body


# --------------------------------------------------------------------------- the rate


def test_the_default_rate_is_generous(settings):
    # Entra ID does not slow down on 429 (it counts the request as failed), so the
    # default only stops a runaway client: 100 requests a second per token.
    assert settings.SCIM_THROTTLE_RATE == "6000/min"


def test_past_the_rate_a_token_gets_429_with_retry_after_and_a_scim_body(
    scim, settings
):
    settings.SCIM_THROTTLE_RATE = "5/hour"
    use_up(scim, 5)
    assert_throttled(scim.get("Users"), period=3600)
    assert_throttled(scim.post("Users", user_body()), period=3600)
    assert not Member.objects.filter(user_name="pat@acme.example").exists()


def test_the_rate_is_counted_per_token(organization, scim, other_scim, settings):
    settings.SCIM_THROTTLE_RATE = "3/min"
    use_up(scim, 3)
    assert_throttled(scim.get("Users"), period=60)
    # A second token of the same organization, and another organization's, have their
    # own budgets.
    use_up(ScimClient(helpers.issue_token(organization, name="Okta")), 3)
    use_up(other_scim, 3)


def test_an_empty_rate_turns_the_limit_off(scim, settings):
    settings.SCIM_THROTTLE_RATE = ""
    use_up(scim, 30)


@pytest.fixture
def redis_cache(settings):
    """Django's cache on the local Redis, as REDIS_URL sets it up; skipped without one."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(
            f"Redis is not reachable at {REDIS_URL} ({error}); start it as the "
            "developers' guide says, or set ORGADMIN_TEST_REDIS_URL."
        )
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
        }
    }
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def test_with_redis_the_counters_live_in_redis_for_every_worker_to_share(
    redis_cache, scim, settings
):
    settings.SCIM_THROTTLE_RATE = "4/hour"
    use_up(scim, 4)
    assert_throttled(scim.get("Users"), period=3600)
    counters = [key for key in redis_cache.keys("*scim-throttle:*")]
    assert len(counters) == 1
    assert int(redis_cache.get(counters[0])) == 5  # every worker reads this one count
    # The count is Redis's, not this process's: emptied there, the budget is back.
    redis_cache.flushdb()
    use_up(scim, 4)
    assert_throttled(scim.get("Users"), period=3600)


# ------------------------------------------------------------------- request limits


def test_service_provider_config_states_the_limits_that_are_enforced(scim):
    config = scim.get("ServiceProviderConfig").json()
    assert config["bulk"]["maxPayloadSize"] == MAX_PAYLOAD_BYTES
    assert config["filter"]["maxResults"] == MAX_RESULTS
    assert_error(scim.post("Users", "x" * (MAX_PAYLOAD_BYTES + 1)), 413)


def test_a_page_never_holds_more_than_max_results(organization, scim):
    Member.objects.bulk_create(
        Member(organization=organization, user_name=f"m{n}@acme.example")
        for n in range(MAX_RESULTS + 5)
    )
    page = scim.get(f"Users?count={MAX_RESULTS * 10}").json()
    assert page["totalResults"] == MAX_RESULTS + 6
    assert page["itemsPerPage"] == len(page["Resources"]) == MAX_RESULTS


def references(count):
    return [{"value": str(uuid.uuid4())} for _ in range(count)]


def assert_too_many_members(response, count):
    body = assert_error(response, 400, "invalidValue")
    assert body["detail"] == (
        f"The request names {count} group members; at most {MAX_MEMBERS_PER_REQUEST} "
        "are allowed per request: send the rest in further PATCH requests."
    )


def test_a_group_post_or_put_naming_too_many_members_is_refused_whole(scim):
    too_many = references(MAX_MEMBERS_PER_REQUEST + 1)
    response = scim.post(
        "Groups", {"schemas": [GROUP], "displayName": "All", "members": too_many}
    )
    assert_too_many_members(response, MAX_MEMBERS_PER_REQUEST + 1)
    assert not Team.objects.exists()

    group = scim.post("Groups", {"schemas": [GROUP], "displayName": "All"}).json()
    response = scim.put(
        f"Groups/{group['id']}",
        {"schemas": [GROUP], "displayName": "Renamed", "members": too_many},
    )
    assert_too_many_members(response, MAX_MEMBERS_PER_REQUEST + 1)
    assert Team.objects.get().display_name == "All"


def test_a_group_patch_naming_too_many_members_in_all_its_operations_is_refused(scim):
    group = scim.post("Groups", {"schemas": [GROUP], "displayName": "All"}).json()
    half = MAX_MEMBERS_PER_REQUEST // 2 + 1
    response = helpers.patch_group(
        scim,
        group["id"],
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "add", "path": "members", "value": references(half)},
        {"op": "remove", "path": "members", "value": references(half)},
    )
    assert_too_many_members(response, 2 * half)
    assert Team.objects.get().display_name == "All"


def test_exactly_the_member_limit_is_not_refused_for_its_size(scim):
    # At the limit the ids are looked up: these are nobody, which is a different error.
    group = scim.post("Groups", {"schemas": [GROUP], "displayName": "All"}).json()
    body = json.dumps(
        {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "add",
                    "path": "members",
                    "value": references(MAX_MEMBERS_PER_REQUEST),
                }
            ],
        }
    )
    assert len(body) < MAX_PAYLOAD_BYTES
    response = scim.patch(f"Groups/{group['id']}", body)
    detail = assert_error(response, 400, "invalidValue")["detail"]
    assert detail.startswith(
        f"{MAX_MEMBERS_PER_REQUEST} member id(s) are not users of this organization"
    )
