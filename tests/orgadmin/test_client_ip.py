"""The client's address behind the deployment's proxies (ORGADMIN_TRUSTED_PROXY_COUNT):
in audit events, in a SCIM token's last use and in allauth's sign-in rate limits."""

import pytest
from django.core.checks import run_checks
from django.core.exceptions import ImproperlyConfigured

from orgadmin.models import AuditEvent, ScimToken
from orgadmin.settings import env_count
from tests import helpers
from tests.helpers import PASSWORD, ScimClient

DOMAINS = "/organizations/acme/access-security/domains/"
# What the proxy (REMOTE_ADDR 127.0.0.1 in the test client) forwards: a value the client
# wrote itself, then the address the proxy saw.
SPOOFED_THEN_REAL = "198.51.100.66, 203.0.113.7"


@pytest.fixture
def behind_one_proxy(settings):
    trust_proxies(settings, 1)


# Without a trusted proxy the header is ignored: the connecting address is recorded.
# Behind one, the entry the proxy appended is; the value the client wrote is not.
RECORDED_ADDRESS = pytest.mark.parametrize(
    "proxy_count, recorded", [(0, "127.0.0.1"), (1, "203.0.113.7")]
)


def trust_proxies(settings, count: int) -> None:
    # As orgadmin/settings.py does with ORGADMIN_TRUSTED_PROXY_COUNT.
    settings.ORGADMIN_TRUSTED_PROXY_COUNT = count
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = count


@RECORDED_ADDRESS
def test_audit_events_from_the_ui_record_the_clients_address(
    client, organization, settings, proxy_count, recorded
):
    trust_proxies(settings, proxy_count)
    client.login(email="owner@acme.example", password=PASSWORD)
    response = client.post(
        DOMAINS,
        {"domain": "widgets.example"},
        headers={"X-Forwarded-For": SPOOFED_THEN_REAL},
    )
    assert response.status_code == 302
    event = AuditEvent.objects.filter(action="domain.claimed").latest("pk")
    assert event.ip_address == recorded


@RECORDED_ADDRESS
def test_scim_records_the_clients_address_in_audit_events_and_the_tokens_last_use(
    organization, settings, proxy_count, recorded
):
    trust_proxies(settings, proxy_count)
    scim = ScimClient(helpers.issue_token(organization))
    response = scim.post(
        "Users",
        helpers.user_body("pat@acme.example"),
        headers={"X-Forwarded-For": SPOOFED_THEN_REAL},
    )
    assert response.status_code == 201, response.content
    assert ScimToken.objects.get(organization=organization).last_used_ip == recorded
    event = AuditEvent.objects.filter(actor_type="scim_token").latest("pk")
    assert event.ip_address == recorded


def test_a_request_that_skipped_a_trusted_proxy_gets_an_answer_not_a_500(
    organization, settings
):
    trust_proxies(settings, 2)
    scim = ScimClient(helpers.issue_token(organization))
    # One entry for two trusted proxies: only the connecting address is known to be true.
    response = scim.get("Users", headers={"X-Forwarded-For": "198.51.100.66"})
    assert response.status_code == 200
    token = ScimToken.objects.get(organization=organization)
    assert token.last_used_ip == "127.0.0.1"


def fail_to_sign_in(client, *forwarded_for: str) -> None:
    """One failed sign-in per X-Forwarded-For value, each for another account."""
    for attempt, value in enumerate(forwarded_for):
        response = client.post(
            "/accounts/login/",
            {"login": f"nobody{attempt}@acme.example", "password": "wrong"},
            headers={"X-Forwarded-For": value},
        )
        assert "Too many failed login attempts" not in response.content.decode()


def sign_in_from(client, forwarded_for: str):
    return client.post(
        "/accounts/login/",
        {"login": "owner@acme.example", "password": PASSWORD},
        headers={"X-Forwarded-For": forwarded_for},
    )


def test_behind_one_proxy_one_clients_failed_sign_ins_do_not_lock_out_another(
    client, organization, behind_one_proxy
):
    # allauth allows 10 failed sign-ins a minute per address.
    fail_to_sign_in(client, *["203.0.113.1"] * 10)
    locked = sign_in_from(client, "203.0.113.1")
    assert "Too many failed login attempts" in locked.content.decode()

    response = sign_in_from(client, "203.0.113.2")
    assert response.status_code == 302 and response.url == "/"


def test_without_a_trusted_proxy_every_client_behind_it_shares_one_limit(
    client, organization
):
    fail_to_sign_in(client, *["203.0.113.1"] * 10)
    response = sign_in_from(client, "203.0.113.2")
    assert "Too many failed login attempts" in response.content.decode()


def test_a_spoofed_x_forwarded_for_value_does_not_escape_the_sign_in_limit(
    client, organization, behind_one_proxy
):
    fail_to_sign_in(client, *[f"192.0.2.{n}, 203.0.113.1" for n in range(10)])
    response = sign_in_from(client, "192.0.2.200, 203.0.113.1")
    assert "Too many failed login attempts" in response.content.decode()


@pytest.mark.parametrize("value", ["-1", "one", "1.5"])
def test_a_malformed_count_stops_start_up_with_the_variables_name(monkeypatch, value):
    monkeypatch.setenv("ORGADMIN_TRUSTED_PROXY_COUNT", value)
    with pytest.raises(ImproperlyConfigured) as raised:
        env_count("ORGADMIN_TRUSTED_PROXY_COUNT", 0)
    assert str(raised.value) == (
        f"ORGADMIN_TRUSTED_PROXY_COUNT={value!r}: use a whole number, 0 or more."
    )


def test_the_proxy_count_check_refuses_a_count_allauth_does_not_share(settings):
    assert not [e for e in run_checks() if e.id == "orgadmin.E003"]
    settings.ORGADMIN_TRUSTED_PROXY_COUNT = 1
    errors = [e for e in run_checks() if e.id == "orgadmin.E003"]
    assert [e.msg for e in errors] == [
        "ORGADMIN_TRUSTED_PROXY_COUNT=1 with ALLAUTH_TRUSTED_PROXY_COUNT=0: the count "
        "must be a whole number, 0 or more, and both the same."
    ]
