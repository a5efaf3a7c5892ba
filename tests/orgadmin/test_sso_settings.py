"""The SSO tab: IdP settings three ways, certificates, Test SSO, sign-in by work email,
Require SSO with its lock-out preview and the owners' way back in, and the attempts."""

import contextlib
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from orgadmin import actions
from orgadmin.models import AuditEvent, SSOAttempt, SSOConfiguration
from tests import helpers
from tests.orgadmin.test_sso_sign_in import (
    ACS_URL,
    ENTITY_ID,
    configure,
    post_to_acs,
    sign_in,
)
from tests.saml_idp import FakeIdP, make_certificate, request_id_of

SSO = "/organizations/acme/access-security/sso/"


@pytest.fixture
def idp():
    return FakeIdP()


def form_data(**values):
    return {"default_role": "member", **values}


# ---------------------------------------------------------------------- the IdP settings


def test_sso_tab_no_longer_says_sign_in_is_unavailable_and_has_setup_guides(
    owner_client,
):
    page = owner_client.get(SSO).content.decode()
    assert "not available yet" not in page
    for guide in ("entra", "okta", "google", "other"):
        assert f'data-testid="guide-{guide}"' in page
    assert "<code>user.mail</code>" in page
    for claim in ("emailaddress", "givenname", "surname"):
        assert f"<code>{claim}</code>" in page


def test_pasted_metadata_xml_fills_the_idp_settings(owner_client, organization, idp):
    response = owner_client.post(SSO, form_data(idp_metadata_xml=idp.metadata_xml()))
    assert response.status_code == 302
    configuration = SSOConfiguration.objects.get(organization=organization)
    assert configuration.idp_entity_id == idp.entity_id
    assert configuration.idp_sso_url == idp.sso_url
    assert configuration.idp_x509_certificates.strip() == idp.certificate.strip()
    event = AuditEvent.objects.get(action="sso.updated")
    assert event.changes["idp_metadata_xml"] == "changed"
    assert len(event.changes["idp_x509_certificates"]["added"]) == 1


def test_uploaded_federation_metadata_xml_fills_the_idp_settings(
    owner_client, organization, idp
):
    upload = SimpleUploadedFile(
        "Acme.xml", idp.metadata_xml().encode(), content_type="text/xml"
    )
    response = owner_client.post(SSO, form_data(metadata_file=upload))
    assert response.status_code == 302
    assert (
        SSOConfiguration.objects.get(organization=organization).idp_entity_id
        == idp.entity_id
    )


def test_metadata_without_a_signing_certificate_is_an_error_next_to_its_field(
    owner_client, idp
):
    xml = idp.metadata_xml()
    start, end = xml.index("<KeyDescriptor"), xml.index("</KeyDescriptor>") + 16
    response = owner_client.post(
        SSO, form_data(idp_metadata_xml=xml[:start] + xml[end:])
    )
    assert response.status_code == 200
    errors = response.context["form"]["idp_metadata_xml"].errors
    assert errors == ["This metadata has no signing certificate."]
    assert not SSOConfiguration.objects.exists()


def test_a_raw_cer_upload_adds_a_certificate_with_its_subject_and_expiry(
    owner_client, organization, idp
):
    _, pem = make_certificate("Microsoft Azure Federated SSO Certificate")
    der = x509.load_pem_x509_certificate(pem.encode()).public_bytes(Encoding.DER)
    response = owner_client.post(
        SSO,
        form_data(
            idp_entity_id=idp.entity_id,
            idp_sso_url=idp.sso_url,
            idp_x509_certificates=idp.certificate,
            certificate_file=SimpleUploadedFile("Acme.cer", der),
        ),
    )
    assert response.status_code == 302
    page = owner_client.get(SSO).content.decode()
    assert "CN=Microsoft Azure Federated SSO Certificate" in page
    assert page.count("Saved certificate:") == 2


def test_a_file_that_is_no_certificate_is_an_error_next_to_its_field(owner_client):
    response = owner_client.post(
        SSO, form_data(certificate_file=SimpleUploadedFile("a.cer", b"\x00\xffnope"))
    )
    assert "not a certificate" in response.context["form"]["certificate_file"].errors[0]


def test_more_than_five_certificates_are_refused(owner_client, idp):
    pems = "".join(make_certificate(f"c{n}")[1] for n in range(6))
    response = owner_client.post(
        SSO,
        form_data(
            idp_entity_id=idp.entity_id,
            idp_sso_url=idp.sso_url,
            idp_x509_certificates=pems,
        ),
    )
    errors = response.context["form"]["idp_x509_certificates"].errors
    assert errors and "at most 5" in errors[0]


def test_a_certificate_expiring_soon_is_warned_about_on_the_tab(
    owner_client, organization, idp
):
    _, soon = make_certificate("Old IdP certificate", days=10)
    actions.update_sso_configuration(
        organization,
        idp_entity_id=idp.entity_id,
        idp_sso_url=idp.sso_url,
        idp_x509_certificates=soon,
        actor=helpers.SYSTEM,
    )
    page = owner_client.get(SSO).content.decode()
    assert 'data-testid="sso-certificate-warning"' in page
    assert "expires in 9 days" in page or "expires in 10 days" in page


def test_owners_and_admins_are_emailed_30_and_7_days_ahead_once_each(
    organization, idp, django_capture_on_commit_callbacks
):
    helpers.make_member(organization, "admin@acme.example", role="admin")
    helpers.make_member(organization, "pat@acme.example")
    _, certificate = make_certificate("Expiring", days=40)
    actions.update_sso_configuration(
        organization,
        idp_entity_id=idp.entity_id,
        idp_sso_url=idp.sso_url,
        idp_x509_certificates=certificate,
        actor=helpers.SYSTEM,
    )
    now = datetime.now(UTC)
    with django_capture_on_commit_callbacks(execute=True):
        assert actions.warn_of_expiring_sso_certificates(now=now) == []
        later = now + timedelta(days=11)
        assert len(actions.warn_of_expiring_sso_certificates(now=later)) == 1
        assert actions.warn_of_expiring_sso_certificates(now=later) == []
        last_week = now + timedelta(days=34)
        assert [
            d for *_, d in actions.warn_of_expiring_sso_certificates(now=last_week)
        ] == [7]
    assert len(mail.outbox) == 2
    assert sorted(mail.outbox[0].to) == ["admin@acme.example", "owner@acme.example"]
    assert "expires in 30 days" in mail.outbox[0].subject
    assert "expires in 7 days" in mail.outbox[1].subject
    assert AuditEvent.objects.filter(action="sso.certificate_expiring").count() == 2


# --------------------------------------------------------------------- the metadata URL


@contextlib.contextmanager
def metadata_server(body: bytes, status: int = 200):
    """A real HTTP server on loopback that answers every GET with `body`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status)
            self.send_header("Content-Type", "application/samlmetadata+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/federationmetadata.xml"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def loopback_allowed(settings):
    settings.DEBUG = True  # plain http
    settings.ORGADMIN_SSO_METADATA_ALLOWED_NETWORKS = ["127.0.0.1/32"]


def test_a_metadata_url_on_loopback_is_refused(owner_client, idp, settings):
    settings.DEBUG = True
    with metadata_server(idp.metadata_xml().encode()) as url:
        response = owner_client.post(SSO, form_data(idp_metadata_url=url))
    errors = response.context["form"]["idp_metadata_url"].errors
    assert errors and "private or local address (127.0.0.1)" in errors[0]


def test_a_metadata_url_must_be_https_outside_debug(owner_client):
    response = owner_client.post(
        SSO, form_data(idp_metadata_url="http://idp.example/metadata")
    )
    errors = response.context["form"]["idp_metadata_url"].errors
    assert errors == ["The metadata URL must start with https://."]


def test_a_metadata_url_is_read_on_save_and_refreshed_with_the_next_certificate(
    owner_client, organization, idp, loopback_allowed
):
    with metadata_server(idp.metadata_xml().encode()) as url:
        assert (
            owner_client.post(SSO, form_data(idp_metadata_url=url)).status_code == 302
        )
    configuration = SSOConfiguration.objects.get(organization=organization)
    assert configuration.idp_entity_id == idp.entity_id
    assert configuration.metadata_fetched_at is not None
    _, next_certificate = make_certificate("Next")
    idp.extra_certificates.append(next_certificate)
    with metadata_server(idp.metadata_xml().encode()) as new_url:
        SSOConfiguration.objects.filter(pk=configuration.pk).update(
            idp_metadata_url=new_url
        )
        response = owner_client.post(f"{SSO}refresh-metadata/", follow=True)
    assert "The IdP metadata was read again." in response.content.decode()
    configuration.refresh_from_db()
    assert configuration.idp_x509_certificates.count("BEGIN CERTIFICATE") == 2
    event = AuditEvent.objects.get(action="sso.metadata_refreshed")
    assert len(event.changes["idp_x509_certificates"]["added"]) == 1


def test_refresh_sso_metadata_command_reads_every_url_and_reports_failures(
    organization, idp, loopback_allowed, capsys
):
    with metadata_server(idp.metadata_xml().encode()) as url:
        actions.update_sso_configuration(
            organization, idp_metadata_url=url, actor=helpers.SYSTEM
        )
        call_command("refresh_sso_metadata")
    assert "acme: metadata read." in capsys.readouterr().out
    configuration = SSOConfiguration.objects.get(organization=organization)
    assert configuration.idp_entity_id == idp.entity_id
    # The server above is shut down: the next read of its URL fails.
    with pytest.raises(Exception) as failure:
        call_command("refresh_sso_metadata")
    assert "1 metadata URL(s) could not be read." in str(failure.value)
    configuration.refresh_from_db()
    assert configuration.metadata_error.startswith("The metadata URL could not be read")


def test_a_metadata_document_over_the_size_limit_is_refused(
    owner_client, loopback_allowed
):
    with metadata_server(b"<x>" + b" " * 1_000_001 + b"</x>") as url:
        response = owner_client.post(SSO, form_data(idp_metadata_url=url))
    assert (
        "larger than 1000 kB" in response.context["form"]["idp_metadata_url"].errors[0]
    )


# ---------------------------------------------------------------------------- Test SSO


def test_test_sso_shows_what_the_idp_sent_without_signing_anyone_in(
    owner_client, organization, idp, owner
):
    configure(organization, idp, enabled=False)
    started = owner_client.post(f"{SSO}test/")
    assert started.status_code == 302
    assert started["Location"].startswith(idp.sso_url)
    response = post_to_acs(
        owner_client,
        idp.response(
            acs_url=ACS_URL,
            audience=ENTITY_ID,
            email="owner@acme.example",
            in_response_to=request_id_of(started["Location"]),
        ),
    )
    assert response.status_code == 302
    assert "test=SSO-" in response["Location"]
    page = owner_client.get(response["Location"]).content.decode()
    assert 'data-testid="sso-test-result"' in page
    assert "it works" in page
    assert "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname" in page
    assert "<code>owner@acme.example</code>" in page
    assert "acme.example" in page
    assert owner_client.session["_auth_user_id"] == str(owner.user.pk)
    attempt = SSOAttempt.objects.get()
    assert attempt.outcome == SSOAttempt.Outcome.TEST_PASSED
    assert SSOConfiguration.objects.get(organization=organization).tested_at
    assert AuditEvent.objects.get(action="sso.test_passed").actor_user == owner.user


def test_a_failing_test_says_exactly_why_it_would_be_refused(
    owner_client, organization, idp
):
    configure(organization, idp, enabled=False)
    started = owner_client.post(f"{SSO}test/")
    response = post_to_acs(
        owner_client,
        idp.response(
            acs_url=ACS_URL,
            audience="https://wrong.example/",
            in_response_to=request_id_of(started["Location"]),
        ),
    )
    page = owner_client.get(response["Location"]).content.decode()
    assert "it would be refused" in page
    assert "meant for another application" in page
    assert ENTITY_ID in page and "https://wrong.example/" in page


def test_turning_sso_on_without_a_successful_test_asks_for_confirmation(
    owner_client, organization, idp
):
    values = form_data(
        idp_entity_id=idp.entity_id,
        idp_sso_url=idp.sso_url,
        idp_x509_certificates=idp.certificate,
        enabled="on",
    )
    response = owner_client.post(SSO, values)
    assert response.status_code == 200
    assert (
        "No Test SSO has succeeded yet" in response.context["form"]["enabled"].errors[0]
    )
    assert (
        owner_client.post(SSO, {**values, "confirm_untested": "on"}).status_code == 302
    )
    assert SSOConfiguration.objects.get(organization=organization).enabled


def test_another_organizations_sso_tab_test_and_attempts_are_404(
    owner_client, organization, idp, client
):
    globex = helpers.make_organization("globex", domain="globex.example")
    configure(globex, FakeIdP())
    assert (
        owner_client.post("/organizations/globex/access-security/sso/test/").status_code
        == 404
    )
    assert (
        owner_client.post(
            "/organizations/globex/access-security/sso/refresh-metadata/"
        ).status_code
        == 404
    )
    # A Globex attempt's reference shows nothing on Acme's tab.
    other = type(client)()
    post_to_acs(other, FakeIdP().response(acs_url="x", audience="y"), slug="globex")
    reference = SSOAttempt.objects.get(organization=globex).reference
    configure(organization, idp)
    page = owner_client.get(f"{SSO}?test={reference}").content.decode()
    assert reference not in page


def test_the_sso_tab_lists_refusals_with_their_reason(
    owner_client, organization, idp, client
):
    configure(organization, idp)
    other = type(client)()
    response = sign_in(other, idp, email="pat@elsewhere.example")
    reference = SSOAttempt.objects.get().reference
    assert reference in response.content.decode()
    page = owner_client.get(SSO).content.decode()
    assert f"<code>{reference}</code>" in page
    assert (
        "elsewhere.example is not one of this organization&#x27;s verified domains"
        in page
    )


# ----------------------------------------------------------------- sign in with SSO


def test_sign_in_with_sso_finds_the_organization_by_work_email(
    client, organization, idp
):
    configure(organization, idp)
    page = client.get("/accounts/login/").content.decode()
    assert 'data-testid="sign-in-with-sso"' in page
    response = client.post("/accounts/sso/", {"email": "Pat@Acme.example"})
    assert response.status_code == 302
    assert response["Location"].startswith(f"{idp.sso_url}?SAMLRequest=")
    post = post_to_acs(
        client,
        idp.response(
            acs_url=ACS_URL,
            audience=ENTITY_ID,
            in_response_to=request_id_of(response["Location"]),
        ),
    )
    assert post.status_code == 302
    assert client.get("/", follow=True).context["user"].email == "pat@acme.example"


def test_sign_in_with_sso_explains_an_email_without_sso(client, organization):
    response = client.post("/accounts/sso/", {"email": "pat@acme.example"})
    assert response.status_code == 200
    assert "No organization signs in people of acme.example through SSO" in (
        response.content.decode()
    )


# ---------------------------------------------------------------------- Require SSO


def with_totp(user):
    TOTP.activate(user, generate_totp_secret())


def tested_configuration(organization, idp):
    configuration = configure(organization, idp)
    SSOConfiguration.objects.filter(pk=configuration.pk).update(
        tested_at=datetime.now(UTC)
    )


def test_the_lockout_preview_lists_who_could_not_sign_in(
    owner_client, organization, idp
):
    tested_configuration(organization, idp)
    helpers.make_member(organization, "never@acme.example")
    organization.restrict_to_claimed_domains = False
    organization.save()
    helpers.make_member(organization, "contractor@gmail.example")
    page = owner_client.get(SSO).content.decode()
    assert 'data-testid="sso-lockout-preview"' in page
    assert "never@acme.example: Never signed in through SSO" in page
    assert "contractor@gmail.example: No email on a verified domain" in page
    assert "owner@acme.example: Owner without a second factor" in page


def test_turning_require_sso_on_needs_a_second_factor_and_shows_recovery_codes(
    owner_client, organization, idp, owner
):
    tested_configuration(organization, idp)
    values = form_data(
        idp_entity_id=idp.entity_id,
        idp_sso_url=idp.sso_url,
        idp_x509_certificates=idp.certificate,
        enabled="on",
        jit_provisioning="on",
        require_sso="on",
    )
    response = owner_client.post(SSO, values)
    assert (
        "Set up an authenticator app first"
        in (response.context["form"]["require_sso"].errors[0])
    )
    with_totp(owner.user)
    response = owner_client.post(SSO, values)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/recovery-codes/"
    assert Authenticator.objects.filter(
        user=owner.user, type=Authenticator.Type.RECOVERY_CODES
    ).exists()
    assert SSOConfiguration.objects.get(organization=organization).require_sso


def require_sso(organization, idp):
    configure(organization, idp)
    actions.update_sso_configuration(
        organization, require_sso=True, actor=helpers.SYSTEM
    )


def password_sign_in(client, email):
    return client.post(
        "/accounts/login/", {"login": email, "password": helpers.PASSWORD}
    )


def test_with_require_sso_a_member_cannot_use_a_password(client, organization, idp):
    helpers.make_member(organization, "pat@acme.example")
    require_sso(organization, idp)
    response = password_sign_in(client, "pat@acme.example")
    assert response.status_code == 200
    assert "Acme requires single sign-on" in response.content.decode()
    assert "_auth_user_id" not in client.session
    # A wrong password gets the usual answer: nothing says who must use SSO.
    response = client.post(
        "/accounts/login/", {"login": "pat@acme.example", "password": "wrong"}
    )
    assert "requires single sign-on" not in response.content.decode()


def test_with_require_sso_owners_keep_password_plus_second_factor(
    client, organization, idp, owner
):
    require_sso(organization, idp)
    assert (
        "requires single sign-on"
        in password_sign_in(client, "owner@acme.example").content.decode()
    )
    with_totp(owner.user)
    response = password_sign_in(client, "owner@acme.example")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"


def test_with_require_sso_the_member_still_signs_in_through_sso(
    client, organization, idp
):
    helpers.make_member(organization, "pat@acme.example")
    require_sso(organization, idp)
    assert sign_in(client, idp).status_code == 302
    assert client.get("/", follow=True).context["user"].email == "pat@acme.example"
