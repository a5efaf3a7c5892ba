"""Repeated bad SCIM tokens from one address get 429 (ORGADMIN_SCIM_BAD_TOKEN_LIMIT)."""

import logging
import secrets

import pytest

from orgadmin.models import ScimRequestLog, ScimToken
from tests import helpers
from tests.helpers import ScimClient, assert_error

LIMIT = 20  # the default: ORGADMIN_SCIM_BAD_TOKEN_LIMIT
GUESS_PART = "guessed-part-of-the-secret"


def guess() -> ScimClient:
    return ScimClient(
        f"{ScimToken.SECRET_PREFIX}{GUESS_PART}{secrets.token_urlsafe(8)}"
    )


def fail(times: int, **kwargs) -> None:
    for _ in range(times):
        assert_error(guess().get("Users", **kwargs), 401)


def test_the_limit_is_twenty_failures_a_minute_per_address(settings):
    assert settings.ORGADMIN_SCIM_BAD_TOKEN_LIMIT == LIMIT


def test_after_the_limit_bad_tokens_get_429_with_retry_after_and_a_scim_body(
    organization,
):
    fail(LIMIT)
    response = guess().get("Users")
    body = assert_error(response, 429)
    assert body["detail"].startswith(
        "Too many requests with an invalid token from this address; retry in "
    )
    assert 1 <= int(response["Retry-After"]) <= 60
    assert f"retry in {response['Retry-After']} seconds" in body["detail"]
    # Missing and malformed headers are failures too.
    assert_error(ScimClient(None).get("Users"), 429)
    assert_error(ScimClient(None).get("Users", headers={"Authorization": "x"}), 429)
    assert not ScimRequestLog.objects.exists()


def test_a_valid_token_from_a_throttled_address_still_works(organization, scim):
    fail(LIMIT)
    assert_error(guess().get("Users"), 429)
    response = scim.get("Users")
    assert response.status_code == 200, response.content


def test_operators_get_a_warning_with_the_address_and_count_never_the_token(
    organization, caplog
):
    fail(LIMIT)
    with caplog.at_level(logging.WARNING, logger="scim.authentication"):
        for _ in range(LIMIT + 1):
            assert_error(guess().get("Users"), 429)
    warnings = [
        r.getMessage() for r in caplog.records if r.name == "scim.authentication"
    ]
    assert warnings == [
        "SCIM: 21 requests with a missing or invalid token from 127.0.0.1 within a "
        "minute; answering 429 until the minute ends.",
        "SCIM: 41 requests with a missing or invalid token from 127.0.0.1 within a "
        "minute; answering 429 until the minute ends.",
    ]
    assert GUESS_PART not in caplog.text and GUESS_PART[:4] not in caplog.text


def test_behind_one_proxy_each_client_address_has_its_own_count(organization, settings):
    settings.ORGADMIN_TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    fail(LIMIT, headers={"X-Forwarded-For": "203.0.113.1"})
    throttled = guess().get("Users", headers={"X-Forwarded-For": "203.0.113.1"})
    assert_error(throttled, 429)
    # A value the client wrote before the proxy's does not give it a fresh count.
    spoofed = guess().get("Users", headers={"X-Forwarded-For": "1.2.3.4, 203.0.113.1"})
    assert_error(spoofed, 429)
    other = guess().get("Users", headers={"X-Forwarded-For": "203.0.113.2"})
    assert_error(other, 401)


def test_without_a_trusted_proxy_x_forwarded_for_does_not_reset_the_count(
    organization,
):
    fail(LIMIT)
    response = guess().get("Users", headers={"X-Forwarded-For": "203.0.113.2"})
    assert_error(response, 429)


def test_ipv6_clients_are_counted_per_64_block(organization, settings):
    settings.ORGADMIN_TRUSTED_PROXY_COUNT = 1
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    for host in range(LIMIT):
        fail(1, headers={"X-Forwarded-For": f"2001:db8:1:2::{host + 1:x}"})
    same_block = guess().get("Users", headers={"X-Forwarded-For": "2001:db8:1:2::ff"})
    assert_error(same_block, 429)
    next_block = guess().get("Users", headers={"X-Forwarded-For": "2001:db8:1:3::1"})
    assert_error(next_block, 401)


@pytest.mark.parametrize("limit", [0, 3])
def test_the_limit_is_a_setting_and_zero_turns_it_off(organization, settings, limit):
    settings.ORGADMIN_SCIM_BAD_TOKEN_LIMIT = limit
    fail(limit or LIMIT + 1)
    assert_error(guess().get("Users"), 429 if limit else 401)


def test_a_valid_token_is_not_counted(organization):
    scim = ScimClient(helpers.issue_token(organization))
    for _ in range(LIMIT + 1):
        assert scim.get("Users").status_code == 200
    assert_error(guess().get("Users"), 401)
