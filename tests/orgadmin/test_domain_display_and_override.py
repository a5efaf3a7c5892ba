"""Domains an operator verified without DNS say so and do not fail; international
domains read in Unicode; a check's result is said once."""

from io import StringIO

import pytest
from django.core.management import call_command

from orgadmin import actions
from orgadmin.models import AuditEvent, ClaimedDomain
from tests.dns_server import serving
from tests.helpers import SYSTEM

DOMAINS = "/organizations/acme/access-security/domains/"


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


@pytest.fixture
def admin_client_with_totp(client, operator_user):
    client.force_login(operator_user)
    return client


def test_an_operator_override_is_labelled_and_survives_a_missing_record(
    owner_client, organization, dns_responder
):
    claimed = organization.claimed_domains.get(domain="acme.example")
    assert claimed.verified_by_override

    actions.check_domain(claimed, actor=SYSTEM)  # no TXT record anywhere

    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.verified_by_override
    assert not AuditEvent.objects.filter(action="domain.failing").exists()
    page = owner_client.get(DOMAINS).content.decode()
    assert "Verified by operator" in page
    assert 'data-testid="verified-by-override"' in page
    assert "is failing verification" not in page


def test_an_override_becomes_a_dns_verification_once_the_record_is_found(
    organization, dns_responder
):
    claimed = organization.claimed_domains.get(domain="acme.example")
    dns_responder.set_txt("acme.example", claimed.record_value)

    actions.check_domain(claimed, actor=SYSTEM)

    assert not claimed.verified_by_override
    event = AuditEvent.objects.filter(action="domain.verified").latest("pk")
    assert event.changes["override"] == {"from": True, "to": False}
    # From now on a missing record counts, as for any domain verified by DNS.
    dns_responder.remove("acme.example")
    actions.check_domain(claimed, actor=SYSTEM)
    assert claimed.status == ClaimedDomain.Status.FAILING


def test_mark_verified_works_on_a_failing_domain(
    admin_client_with_totp, organization, dns_responder
):
    claimed = actions.claim_domain(
        organization, domain="shop.acme.example", actor=SYSTEM
    )
    dns_responder.set_txt("shop.acme.example", claimed.record_value)
    actions.check_domain(claimed, actor=SYSTEM)
    dns_responder.remove("shop.acme.example")
    actions.check_domain(claimed, actor=SYSTEM)
    assert claimed.status == ClaimedDomain.Status.FAILING

    response = admin_client_with_totp.post(
        "/admin/orgadmin/claimeddomain/",
        {"action": "mark_verified", "_selected_action": [claimed.pk]},
        follow=True,
    )

    assert "Marked verified: 1." in response.content.decode()
    claimed.refresh_from_db()
    assert claimed.status == ClaimedDomain.Status.VERIFIED
    assert claimed.verified_by_override and claimed.failing_since is None


def test_the_demo_does_not_greet_anyone_with_a_failing_domain(
    client, db, dns_responder
):
    call_command("demo", stdout=StringIO())
    call_command("verify_domains", stdout=StringIO())

    client.login(email="owner@acme.example", password="orgadmin-demo")
    page = client.get("/organizations/acme/", follow=True).content.decode()
    assert "failing verification" not in page
    assert ClaimedDomain.objects.get(domain="acme.example").status == "verified"


def test_the_demo_prints_a_password_for_each_role(client, db):
    out = StringIO()
    call_command("demo", stdout=out)
    text = out.getvalue()
    for role, email in (
        ("owner", "owner@acme.example"),
        ("admin", "ada@acme.example"),
        ("member", "grace@acme.example"),
    ):
        assert f"{role:<7} {email:<22} password: orgadmin-demo" in text
        assert client.login(email=email, password="orgadmin-demo")
        client.logout()
    # Running it again keeps every sign-in working.
    call_command("demo", stdout=StringIO())
    assert client.login(email="grace@acme.example", password="orgadmin-demo")


def test_an_international_domain_shows_in_unicode_with_punycode_beneath(
    owner_client, organization
):
    response = owner_client.post(DOMAINS, {"domain": "Bücher.example"}, follow=True)
    page = response.content.decode()
    assert "<h2>bücher.example</h2>" in page
    assert (
        '<p class="muted small punycode" data-testid="punycode">xn--bcher-kva.example</p>'
        in page
    )
    assert "bücher.example was added" in page
    # The TXT record host stays what DNS needs.
    assert (
        'data-testid="txt-record-host" id="record-host-xn--bcher-kva.example">xn--bcher-kva.example<'
        in page
    )


def test_check_now_says_the_result_once(owner_client, organization, dns_responder):
    claimed = actions.claim_domain(organization, domain="widgets.example", actor=SYSTEM)
    page = owner_client.post(
        f"{DOMAINS}{claimed.pk}/check/", follow=True
    ).content.decode()
    assert page.count("No TXT record with the verification value") == 1
    assert "widgets.example was checked: still pending verification." in page
