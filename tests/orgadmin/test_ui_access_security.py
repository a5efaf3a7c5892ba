"""Access Security through the test client: tabs, SCIM tokens, domains, SSO, audit log."""

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.sessions.models import Session

from orgadmin import actions, domains
from orgadmin.errors import OrgAdminError
from orgadmin.models import AuditEvent, ScimToken, SSOConfiguration
from tests import helpers
from tests.dns_server import serving
from tests.helpers import PASSWORD
from tests.saml_idp import make_certificate

SCIM = "/organizations/acme/access-security/scim/"
NEW_TOKEN = "/organizations/acme/access-security/scim/tokens/new/"
DOMAINS = "/organizations/acme/access-security/domains/"
SSO = "/organizations/acme/access-security/sso/"
AUDIT = "/organizations/acme/access-security/audit-log/"
ACCESS_SECURITY_PAGES = [
    "/organizations/acme/access-security/",
    DOMAINS,
    SSO,
    SCIM,
    NEW_TOKEN,
    AUDIT,
    "/organizations/acme/access-security/audit-log.csv",
]


def reauthenticate(client):
    response = client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    assert response.status_code == 302


def self_signed_certificate(days: int = 365) -> str:
    # Valid since 400 days, so that days=-1 is one that has expired.
    return make_certificate(days=days, valid_from_days=-400)[1]


def test_access_security_shows_its_four_tabs_with_the_current_one_marked(owner_client):
    page = owner_client.get(SCIM).content.decode()
    assert ">Access Security</a>" in page
    for tab in ("Domains", "SSO", "SCIM", "Audit log"):
        assert f">{tab}</a>" in page
    assert (
        'href="/organizations/acme/access-security/scim/" aria-current="page"' in page
    )
    assert owner_client.get("/organizations/acme/access-security/").url.endswith(
        DOMAINS
    )


@pytest.mark.parametrize("url", ACCESS_SECURITY_PAGES)
def test_plain_member_gets_404_on_access_security(client, organization, url):
    helpers.make_member(organization, "member@acme.example")
    client.login(email="member@acme.example", password=PASSWORD)
    assert client.get(url).status_code == 404
    assert "Access Security" not in client.get("/organizations/acme/").content.decode()


@pytest.mark.parametrize("url", ACCESS_SECURITY_PAGES)
def test_another_organizations_admin_gets_404(client, organization, url):
    helpers.make_organization("globex", domain="globex.example")
    client.login(email="owner@globex.example", password=PASSWORD)
    assert client.get(url).status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, organization):
    response = client.get(SCIM)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")


def test_scim_tab_shows_the_tenant_url_and_an_empty_state(owner_client):
    page = owner_client.get(SCIM).content.decode()
    assert 'data-testid="scim-tenant-url"' in page
    assert "https://orgadmin.test/scim/v2</code>" in page
    assert "No tokens yet." in page
    assert "No SCIM request yet." in page
    assert ">Generate token</a>" in page


def test_generate_token_asks_for_the_password_again(owner_client):
    response = owner_client.get(NEW_TOKEN)
    assert response.status_code == 302
    assert response.url.startswith("/accounts/reauthenticate/?next=")


def shown_secret(page: str) -> str:
    start = page.index('data-testid="scim-token"')
    return page[start:].split(">", 1)[1].split("<", 1)[0]


def test_scim_token_is_shown_once_and_stored_hashed(owner_client, organization):
    reauthenticate(owner_client)
    response = owner_client.post(NEW_TOKEN, {"name": "Entra ID", "expires_at": ""})
    # The answer to the POST itself shows the secret, with the Tenant URL beside it.
    assert response.status_code == 200
    page = response.content.decode()
    secret = shown_secret(page)
    assert secret.startswith(ScimToken.SECRET_PREFIX)
    assert "it will not be shown again" in page
    assert "https://orgadmin.test/scim/v2</code>" in page
    assert f'href="{SCIM}" data-testid="scim-token-done">Done: back to SCIM</a>' in page
    token = ScimToken.objects.get(organization=organization, name="Entra ID")
    assert token.digest == ScimToken.digest_of(secret)
    assert secret not in str(list(ScimToken.objects.values()))

    again = owner_client.get(SCIM).content.decode()
    assert secret not in again
    assert 'data-testid="scim-token"' not in again
    assert "Entra ID" in again and token.prefix in again


def test_a_new_scim_token_is_in_no_session_and_no_cache(owner_client):
    reauthenticate(owner_client)
    response = owner_client.post(NEW_TOKEN, {"name": "Entra ID", "expires_at": ""})
    secret = shown_secret(response.content.decode())
    assert "no-store" in response["Cache-Control"]
    assert "no-store" in owner_client.get(SCIM)["Cache-Control"]
    assert "no-store" in owner_client.get(NEW_TOKEN)["Cache-Control"]

    sessions = list(Session.objects.all())
    assert sessions
    for session in sessions:
        assert secret not in session.session_data
        assert secret not in json.dumps(session.get_decoded())


def test_token_expiry_in_the_past_is_an_error_next_to_the_field(owner_client):
    reauthenticate(owner_client)
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    response = owner_client.post(NEW_TOKEN, {"name": "Entra", "expires_at": yesterday})
    assert response.status_code == 200
    field = response.context["form"]["expires_at"]
    assert field.errors == ["The expiry must be in the future."]
    assert 'id="id_expires_at_error"' in response.content.decode()
    assert not ScimToken.objects.filter(name="Entra").exists()


def test_token_without_a_name_is_refused_next_to_the_field(owner_client):
    reauthenticate(owner_client)
    response = owner_client.post(NEW_TOKEN, {"name": "  "})
    assert response.context["form"]["name"].errors
    assert ScimToken.objects.count() == 0


def test_revoking_a_token_marks_it_revoked_and_audits_it(owner_client, organization):
    token, _ = actions.issue_scim_token(organization, name="Old", actor=helpers.SYSTEM)
    response = owner_client.post(f"{SCIM}tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.status == "revoked"
    assert AuditEvent.objects.filter(action="scim_token.revoked").exists()
    assert owner_client.get(f"{SCIM}tokens/{token.pk}/revoke/").status_code == 405


def test_another_organizations_token_cannot_be_revoked(owner_client, organization):
    globex = helpers.make_organization("globex", domain="globex.example")
    token, _ = actions.issue_scim_token(globex, name="Theirs", actor=helpers.SYSTEM)
    assert owner_client.post(f"{SCIM}tokens/{token.pk}/revoke/").status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_domain_is_normalized_and_its_txt_record_shown(owner_client, organization):
    response = owner_client.post(DOMAINS, {"domain": "  Example.ORG. "})
    assert response.status_code == 302
    claimed = organization.claimed_domains.get(domain="example.org")
    page = owner_client.get(DOMAINS).content.decode()
    assert claimed.record_value in page
    assert 'data-testid="txt-record-host"' in page
    assert "Pending verification" in page


@pytest.mark.parametrize(
    "typed",
    [
        "https://example.org/",
        "it@example.org",
        "192.0.2.10",
        "*.example.org",
        "gmail.com",
    ],
)
def test_domain_errors_are_next_to_the_field(owner_client, typed):
    with pytest.raises(OrgAdminError) as refused:
        domains.normalize_domain(typed)
    response = owner_client.post(DOMAINS, {"domain": typed})
    assert response.status_code == 200
    assert response.context["form"]["domain"].errors == [refused.value.message]
    assert 'id="id_domain_error"' in response.content.decode()


def test_claiming_a_domain_twice_is_an_error_next_to_the_field(owner_client):
    response = owner_client.post(DOMAINS, {"domain": "ACME.example"})
    errors = response.context["form"]["domain"].errors
    assert len(errors) == 1
    assert errors[0].startswith("acme.example is already claimed by this organization")


def test_domains_tab_has_an_empty_state(client, db):
    helpers.make_organization(domain=None)
    client.login(email="owner@acme.example", password=PASSWORD)
    assert "No claimed domains yet" in client.get(DOMAINS).content.decode()


def test_another_organizations_domain_cannot_be_released(owner_client):
    globex = helpers.make_organization("globex", domain="globex.example")
    claimed = globex.claimed_domains.get()
    url = f"{DOMAINS}{claimed.pk}/release/"
    assert owner_client.post(url).status_code == 404
    assert globex.claimed_domains.filter(pk=claimed.pk).exists()


def test_sso_tab_shows_the_values_to_paste_into_the_idp(owner_client):
    page = owner_client.get(SSO).content.decode()
    base = "https://orgadmin.test/accounts/saml/acme"
    assert f"{base}/acs/</code>" in page
    assert f"{base}/metadata/</code>" in page
    assert 'data-testid="sso-entity-id"' in page


def test_sso_settings_are_saved_with_a_valid_certificate(owner_client, organization):
    pem = self_signed_certificate()
    response = owner_client.post(
        SSO,
        {
            "idp_entity_id": "https://sts.windows.net/tenant/",
            "idp_sso_url": "https://login.microsoftonline.com/tenant/saml2",
            "idp_x509_certificates": pem,
            "enabled": "on",
            # Turning SSO on before a successful Test SSO asks for this confirmation.
            "confirm_untested": "on",
            "jit_provisioning": "on",
            "default_role": "member",
        },
    )
    assert response.status_code == 302
    configuration = SSOConfiguration.objects.get(organization=organization)
    assert configuration.enabled
    assert configuration.idp_x509_certificates.strip() == pem.strip()
    assert AuditEvent.objects.filter(action="sso.updated").exists()
    assert "valid until" in owner_client.get(SSO).content.decode()


@pytest.mark.parametrize(
    ("pasted", "message"),
    [
        (
            "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----",
            "cannot be read",
        ),
        ("hello there", "not a certificate"),
        ("<EntityDescriptor><X509Certificate>MII</X509Certificate>", "This is XML"),
    ],
)
def test_bad_certificate_is_an_error_next_to_its_field(owner_client, pasted, message):
    response = owner_client.post(
        SSO, {"idp_x509_certificates": pasted, "default_role": "member"}
    )
    assert response.status_code == 200
    errors = response.context["form"]["idp_x509_certificates"].errors
    assert errors and message in errors[0]
    assert 'id="id_idp_x509_certificates_error"' in response.content.decode()
    assert not SSOConfiguration.objects.exists()


def test_expired_certificate_is_refused(owner_client):
    response = owner_client.post(
        SSO,
        {
            "idp_x509_certificates": self_signed_certificate(days=-1),
            "default_role": "member",
        },
    )
    assert "expired on" in response.context["form"]["idp_x509_certificates"].errors[0]


def test_turning_sso_on_needs_the_idp_settings(owner_client):
    response = owner_client.post(SSO, {"enabled": "on", "default_role": "member"})
    form = response.context["form"]
    assert form["idp_entity_id"].errors and form["idp_sso_url"].errors
    assert form["idp_x509_certificates"].errors


def test_audit_log_filters_by_actor_action_and_date(owner_client, organization, owner):
    actions.claim_domain(organization, domain="example.org", actor=owner.user)
    old = AuditEvent.objects.create(
        organization=organization,
        actor_type="system",
        actor_label="Nightly job",
        action="domain.checked",
        created_at=datetime(2024, 1, 10, tzinfo=UTC),
    )
    by_action = owner_client.get(AUDIT, {"action": "domain.claimed"})
    assert {e.action for e in by_action.context["page"]} == {"domain.claimed"}
    assert by_action.context["page"].paginator.count == 2
    by_actor = owner_client.get(AUDIT, {"actor": "nightly"})
    assert [e.pk for e in by_actor.context["page"]] == [old.pk]
    by_date = owner_client.get(
        AUDIT, {"date_from": "2024-01-10", "date_to": "2024-01-10"}
    )
    assert [e.pk for e in by_date.context["page"]] == [old.pk]
    none = owner_client.get(AUDIT, {"date_from": "2023-01-01", "date_to": "2023-01-02"})
    assert "No event matches these filters" in none.content.decode()


def test_audit_log_exports_the_filtered_events_as_csv(owner_client, organization):
    actions.add_member(organization, email="=cmd@acme.example", actor=helpers.SYSTEM)
    response = owner_client.get(f"{AUDIT[:-1]}.csv", {"action": "member.added"})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert "acme-audit-log.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["created_at", "actor_type", "actor_label", "action"]
    assert [row[3] for row in rows[1:]] == ["member.added"]
    # A value that a spreadsheet would run as a formula is quoted.
    assert rows[1][6].startswith("'=")


def test_audit_log_with_an_invalid_filter_lists_nothing_and_says_why(
    owner_client, organization
):
    assert AuditEvent.objects.filter(organization=organization).exists()
    response = owner_client.get(AUDIT, {"date_from": "yesterday", "actor": "owner"})
    assert response.status_code == 200
    filters = response.context["filters"]
    assert filters["date_from"].errors == ["Enter a valid date."]
    assert list(response.context["page"]) == []
    page = response.content.decode()
    assert 'id="id_date_from_error"' in page
    assert 'data-testid="audit-filters-invalid"' in page
    assert "Fix the filters to see events" in page
    assert "<table" not in page and "Export CSV" not in page


def test_audit_log_from_after_to_is_an_error_next_to_to(owner_client, organization):
    response = owner_client.get(
        AUDIT, {"date_from": "2024-03-10", "date_to": "2024-03-01"}
    )
    filters = response.context["filters"]
    assert filters["date_to"].errors == [
        "Must be on or after the From date (10 March 2024)."
    ]
    assert not filters["date_from"].errors
    assert list(response.context["page"]) == []
    assert 'id="id_date_to_error"' in response.content.decode()


def test_audit_csv_export_refuses_invalid_filters_with_a_plain_400(owner_client):
    response = owner_client.get(
        f"{AUDIT[:-1]}.csv", {"date_from": "2024-03-10", "date_to": "2024-03-01"}
    )
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/plain")
    assert "Content-Disposition" not in response
    assert response.content.decode() == (
        "The audit log filters are not valid:\n"
        "To: Must be on or after the From date (10 March 2024).\n"
    )
    bad_date = owner_client.get(f"{AUDIT[:-1]}.csv", {"date_to": "2024-13-45"})
    assert bad_date.status_code == 400
    assert "To: Enter a valid date." in bad_date.content.decode()


def test_audit_csv_export_without_filters_exports_everything(owner_client):
    response = owner_client.get(f"{AUDIT[:-1]}.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) > 1


@pytest.fixture
def dns_responder(settings):
    with serving(settings) as responder:
        yield responder


def test_check_now_verifies_a_domain_and_says_so(
    owner_client, organization, dns_responder
):
    owner_client.post(DOMAINS, {"domain": "widgets.example"})
    claimed = organization.claimed_domains.get(domain="widgets.example")
    dns_responder.set_txt("widgets.example", claimed.record_value)
    response = owner_client.post(f"{DOMAINS}{claimed.pk}/check/", follow=True)
    page = response.content.decode()
    assert "The verification record was found on widgets.example." in page
    claimed.refresh_from_db()
    assert claimed.is_verified


def test_check_now_explains_a_missing_record(owner_client, organization, dns_responder):
    owner_client.post(DOMAINS, {"domain": "widgets.example"})
    claimed = organization.claimed_domains.get(domain="widgets.example")
    page = owner_client.post(f"{DOMAINS}{claimed.pk}/check/", follow=True)
    assert "No TXT record with the verification value" in page.content.decode()
    claimed.refresh_from_db()
    assert claimed.status == "pending"


def test_a_failing_domain_shows_a_banner_to_administrators_only(
    client, owner_client, organization, dns_responder
):
    claimed = organization.claimed_domains.get(domain="acme.example")
    # Verified by its record first: an operator override is not failed by a check.
    dns_responder.set_txt("acme.example", claimed.record_value)
    actions.check_domain(claimed, actor=helpers.SYSTEM)
    dns_responder.remove("acme.example")
    actions.check_domain(claimed, actor=helpers.SYSTEM)
    claimed.refresh_from_db()
    assert claimed.status == "failing"
    page = owner_client.get("/organizations/acme/members/").content.decode()
    assert "acme.example is failing verification." in page
    assert f"#domain-{claimed.pk}" in page
    helpers.make_member(organization, "member@acme.example")
    client.logout()
    client.login(email="member@acme.example", password=PASSWORD)
    page = client.get("/organizations/acme/members/").content.decode()
    assert "failing verification" not in page
