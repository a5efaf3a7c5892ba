"""SAML sign-in through the test client, with responses really signed by a test IdP.

Nothing of the signature check is mocked: FakeIdP signs with a key made at test time,
and python3-saml's strict mode checks it at allauth's ACS route.
"""

import pytest
from allauth.socialaccount.models import SocialAccount

from orgadmin import actions
from orgadmin.models import AuditEvent, Member, SSOAttempt
from tests import helpers
from tests.saml_idp import FakeIdP, make_certificate, request_id_of

BASE = "https://orgadmin.test/accounts/saml/acme"
ENTITY_ID = f"{BASE}/metadata/"
ACS_URL = f"{BASE}/acs/"


@pytest.fixture
def idp():
    return FakeIdP()


def configure(organization, idp, **settings):
    settings.setdefault("enabled", True)
    settings.setdefault("jit_provisioning", True)
    return actions.update_sso_configuration(
        organization,
        idp_entity_id=idp.entity_id,
        idp_sso_url=idp.sso_url,
        idp_x509_certificates=idp.certificate,
        actor=helpers.SYSTEM,
        **settings,
    )


@pytest.fixture
def sso(organization, idp):
    return configure(organization, idp)


def start_sign_in(client, slug="acme"):
    """POST allauth's SAML login: the browser is sent to the IdP; return the request ID."""
    response = client.post(f"/accounts/saml/{slug}/login/")
    assert response.status_code == 302, response.content
    return request_id_of(response["Location"])


def post_to_acs(client, saml_response, *, slug="acme", relay_state=""):
    """The IdP's auto-submitted form, then allauth's redirect to the finish view."""
    parked = client.post(
        f"/accounts/saml/{slug}/acs/",
        {"SAMLResponse": saml_response, "RelayState": relay_state},
    )
    assert parked.status_code == 302
    return client.get(parked["Location"])


def sign_in(client, idp, **response):
    request_id = start_sign_in(client)
    response.setdefault("in_response_to", request_id)
    return post_to_acs(
        client, idp.response(acs_url=ACS_URL, audience=ENTITY_ID, **response)
    )


def signed_in_email(client):
    return client.get("/", follow=True).context["user"].email or None


def assert_refused(response, client, reason_code):
    assert response.status_code == 403, response.content.decode()
    assert "_auth_user_id" not in client.session
    attempt = SSOAttempt.objects.latest("created_at")
    assert attempt.outcome == SSOAttempt.Outcome.REFUSED
    assert attempt.reason_code == reason_code, attempt.reason
    page = response.content.decode()
    assert attempt.reference in page
    assert AuditEvent.objects.filter(
        action="sso.refused", changes__reference=attempt.reference
    ).exists()
    return attempt


# ------------------------------------------------------------------------ good sign-ins


def test_sp_initiated_sign_in_creates_the_member_with_jit_and_signs_them_in(
    client, sso, idp
):
    response = sign_in(client, idp)
    assert response.status_code == 302
    assert response["Location"] == "/"
    home = client.get("/", follow=True).content.decode()
    assert "pat@acme.example" in home and "Acme" in home
    member = Member.objects.get(organization=sso.organization, email="pat@acme.example")
    assert member.source == Member.Source.SSO and member.role == Member.Role.MEMBER
    assert member.user.full_name == "Pat Lee"
    assert SocialAccount.objects.get(user=member.user).uid == "pat@acme.example"
    attempt = SSOAttempt.objects.get()
    assert attempt.outcome == SSOAttempt.Outcome.SIGNED_IN
    assert attempt.email_attribute.endswith("/emailaddress")
    assert attempt.matched_domain == "acme.example"
    event = AuditEvent.objects.get(action="sso.signed_in")
    assert event.actor_user == member.user


def test_a_second_sign_in_reuses_the_linked_account(client, sso, idp):
    sign_in(client, idp)
    client.logout()
    assert sign_in(client, idp).status_code == 302
    assert signed_in_email(client) == "pat@acme.example"
    assert Member.objects.filter(email="pat@acme.example").count() == 1
    assert SocialAccount.objects.count() == 1


@pytest.mark.parametrize("sign", ["response", "both"])
def test_a_signed_response_is_accepted_as_well_as_a_signed_assertion(
    client, sso, idp, sign
):
    assert sign_in(client, idp, sign=sign).status_code == 302
    assert signed_in_email(client) == "pat@acme.example"


def test_idp_initiated_sign_in_works_when_turned_on(client, organization, idp):
    configure(organization, idp, allow_idp_initiated=True)
    response = post_to_acs(
        client,
        idp.response(acs_url=ACS_URL, audience=ENTITY_ID),
        relay_state="/organizations/acme/",
    )
    assert response.status_code == 302
    assert response["Location"] == "/organizations/acme/"
    assert signed_in_email(client) == "pat@acme.example"
    assert SSOAttempt.objects.get().idp_initiated


def test_sign_in_through_an_idp_configured_from_metadata_xml(client, organization):
    idp = FakeIdP()
    actions.update_sso_configuration(
        organization,
        idp_metadata_xml=idp.metadata_xml(),
        enabled=True,
        actor=helpers.SYSTEM,
    )
    assert sign_in(client, idp).status_code == 302
    assert signed_in_email(client) == "pat@acme.example"


def test_a_rolled_over_certificate_is_accepted_beside_the_old_one(
    client, organization, idp
):
    new_key, new_certificate = make_certificate("Next IdP certificate")
    configure(organization, idp)
    actions.update_sso_configuration(
        organization,
        idp_x509_certificates=idp.certificate + new_certificate,
        actor=helpers.SYSTEM,
    )
    response = sign_in(client, idp, key=new_key, certificate=new_certificate)
    assert response.status_code == 302
    assert signed_in_email(client) == "pat@acme.example"


def test_with_jit_off_an_invited_member_gets_in_and_is_linked(
    client, organization, idp
):
    configure(organization, idp, jit_provisioning=False)
    invited = actions.add_member(
        organization, email="pat@acme.example", actor=helpers.SYSTEM, notify=False
    )
    assert sign_in(client, idp).status_code == 302
    invited.refresh_from_db()
    assert invited.user is not None and invited.user.email == "pat@acme.example"
    assert signed_in_email(client) == "pat@acme.example"


def test_with_jit_off_a_scim_provisioned_member_gets_an_account_on_first_sign_in(
    client, organization, idp
):
    configure(organization, idp, jit_provisioning=False)
    provisioned = actions.provision_member(
        organization,
        user_name="pat@acme.example",
        emails=[{"value": "pat@acme.example", "primary": True}],
        actor=helpers.SYSTEM,
    )
    assert sign_in(client, idp).status_code == 302
    provisioned.refresh_from_db()
    assert provisioned.user.email == "pat@acme.example"
    assert provisioned.source == Member.Source.SCIM


# --------------------------------------------------------------------------- refusals


def test_with_jit_off_an_unknown_person_is_told_to_ask_their_admin(
    client, organization, idp
):
    configure(organization, idp, jit_provisioning=False)
    response = sign_in(client, idp)
    assert_refused(response, client, "not_a_member")
    assert "ask your admin" in response.content.decode()
    assert not Member.objects.filter(email="pat@acme.example").exists()


def test_a_response_signed_by_another_certificate_is_refused(client, sso, idp):
    other_key, other_certificate = make_certificate("Attacker")
    response = sign_in(client, idp, key=other_key, certificate=other_certificate)
    attempt = assert_refused(response, client, "wrong_certificate")
    assert attempt.configured.startswith("certificates ")
    assert "Signed by certificate" in attempt.received


def test_a_tampered_assertion_is_refused(client, sso, idp):
    response = sign_in(client, idp, tamper=True)
    assert_refused(response, client, "tampered")
    assert not Member.objects.filter(email="mallory@acme.example").exists()


def test_an_unsigned_response_is_refused(client, sso, idp):
    assert_refused(sign_in(client, idp, sign="none"), client, "unsigned")


def test_an_expired_assertion_is_refused(client, sso, idp):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    response = sign_in(
        client,
        idp,
        not_before=now - timedelta(hours=1),
        not_on_or_after=now - timedelta(minutes=10),
    )
    attempt = assert_refused(response, client, "expired")
    assert "Valid until" in attempt.received


def test_an_assertion_not_valid_yet_is_refused(client, sso, idp):
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    response = sign_in(client, idp, not_before=now + timedelta(minutes=10))
    assert_refused(response, client, "not_yet_valid")


def test_an_assertion_for_another_audience_is_refused(client, sso, idp):
    request_id = start_sign_in(client)
    response = post_to_acs(
        client,
        idp.response(
            acs_url=ACS_URL,
            audience="https://other-app.example/saml",
            in_response_to=request_id,
        ),
    )
    attempt = assert_refused(response, client, "wrong_audience")
    assert ENTITY_ID in attempt.configured
    assert "https://other-app.example/saml" in attempt.received


def test_a_response_for_another_destination_is_refused(client, sso, idp):
    response = sign_in(client, idp, destination="https://other-app.example/acs")
    attempt = assert_refused(response, client, "wrong_destination")
    assert ACS_URL in attempt.configured


def test_an_assertion_for_another_recipient_is_refused(client, sso, idp):
    response = sign_in(client, idp, recipient="https://other-app.example/acs")
    assert_refused(response, client, "wrong_recipient")


def test_a_response_to_another_request_is_refused(client, sso, idp):
    start_sign_in(client)
    response = post_to_acs(
        client,
        idp.response(
            acs_url=ACS_URL, audience=ENTITY_ID, in_response_to="_not-our-request"
        ),
    )
    assert_refused(response, client, "wrong_in_response_to")


def test_idp_initiated_sign_in_is_refused_unless_turned_on(client, sso, idp):
    response = post_to_acs(client, idp.response(acs_url=ACS_URL, audience=ENTITY_ID))
    assert_refused(response, client, "idp_initiated_off")


def test_a_replayed_sp_initiated_response_is_refused(client, sso, idp):
    request_id = start_sign_in(client)
    saml_response = idp.response(
        acs_url=ACS_URL, audience=ENTITY_ID, in_response_to=request_id
    )
    assert post_to_acs(client, saml_response).status_code == 302
    client.logout()
    assert_refused(post_to_acs(client, saml_response), client, "wrong_in_response_to")


def test_a_replayed_idp_initiated_response_is_refused_in_another_browser(
    client, organization, idp
):
    configure(organization, idp, allow_idp_initiated=True)
    saml_response = idp.response(acs_url=ACS_URL, audience=ENTITY_ID)
    assert post_to_acs(client, saml_response).status_code == 302
    other_browser = type(client)()
    attempt = assert_refused(
        post_to_acs(other_browser, saml_response), other_browser, "replayed"
    )
    assert "already used" in attempt.reason


def test_an_email_on_an_unclaimed_domain_is_refused(client, sso, idp):
    response = sign_in(client, idp, email="pat@elsewhere.example")
    attempt = assert_refused(response, client, "domain_not_verified")
    assert attempt.configured == "verified domains: acme.example"
    assert not Member.objects.filter(email="pat@elsewhere.example").exists()


def test_a_deactivated_member_is_refused(client, sso, idp):
    member = helpers.make_member(sso.organization, "pat@acme.example")
    actions.deactivate_member(member, actor=helpers.SYSTEM)
    response = sign_in(client, idp)
    assert_refused(response, client, "member_deactivated")


def test_another_organizations_idp_cannot_sign_anyone_in_here(client, sso, idp):
    globex = helpers.make_organization("globex", domain="globex.example")
    globex_idp = FakeIdP(entity_id="https://globex-idp.example/")
    configure(globex, globex_idp)
    request_id = start_sign_in(client)
    # Globex's IdP, with its own key, asserts an acme address to acme's ACS.
    response = post_to_acs(
        client,
        globex_idp.response(
            acs_url=ACS_URL, audience=ENTITY_ID, in_response_to=request_id
        ),
    )
    assert_refused(response, client, "wrong_issuer")


def test_a_globex_saml_account_never_signs_in_through_acme(client, sso, idp):
    """The same NameID at another organization's IdP is another SAML account."""
    globex = helpers.make_organization("globex", domain="globex.example")
    globex_idp = FakeIdP(entity_id="https://globex-idp.example/")
    configure(globex, globex_idp)
    sign_in(client, idp)
    accounts = SocialAccount.objects.values_list("provider", flat=True)
    assert list(accounts) == [f"saml-organization-{sso.organization.pk}"]


def test_a_wrapped_signature_is_refused(client, sso, idp):
    """Signature wrapping: the signed assertion is hidden in Extensions beside a forged
    one the signature does not cover."""
    request_id = start_sign_in(client)
    genuine = idp._sign(
        idp.assertion_xml(
            audience=ENTITY_ID,
            recipient=ACS_URL,
            email="pat@acme.example",
            in_response_to=request_id,
        ),
        idp.key,
        idp.certificate,
    )
    forged = idp.assertion_xml(
        audience=ENTITY_ID,
        recipient=ACS_URL,
        email="mallory@acme.example",
        in_response_to=request_id,
    )
    xml = idp.wrap(
        forged,
        destination=ACS_URL,
        in_response_to=request_id,
        extensions=f"<samlp:Extensions>{genuine}</samlp:Extensions>",
    )
    import base64

    response = post_to_acs(client, base64.b64encode(xml.encode()).decode())
    assert_refused(response, client, "malformed")
    assert not Member.objects.filter(email="mallory@acme.example").exists()


def test_garbage_at_the_acs_is_refused_without_a_server_error(client, sso):
    response = post_to_acs(client, "not base64 at all <>")
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session


def test_sso_that_is_off_signs_nobody_in(client, organization, idp):
    configure(organization, idp, enabled=False)
    assert client.post("/accounts/saml/acme/login/").status_code == 404
    # An IdP-initiated response is refused too, and explained.
    actions.update_sso_configuration(
        organization, allow_idp_initiated=True, actor=helpers.SYSTEM
    )
    response = post_to_acs(client, idp.response(acs_url=ACS_URL, audience=ENTITY_ID))
    assert_refused(response, client, "sso_off")


def test_an_organization_without_sso_has_no_saml_routes(client, organization):
    assert client.get("/accounts/saml/acme/metadata/").status_code == 404
    assert client.post("/accounts/saml/acme/login/").status_code == 404
    assert client.get("/accounts/saml/acme/acs/finish/").status_code == 404
    assert client.get("/accounts/saml/nobody/metadata/").status_code == 404
