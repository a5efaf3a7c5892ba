"""SAML sign-in end to end in Chromium: the IdP's page is answered by the test, which
signs a real response with a key made at test time."""

import html
import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests import helpers
from tests.orgadmin.test_sso_sign_in import configure
from tests.saml_idp import FakeIdP, request_id_of

IDP_URL = "https://idp.example.test/saml2"
# Set ORGADMIN_SCREENSHOTS=docs to retake the README's screenshots.
SCREENSHOTS = os.environ.get("ORGADMIN_SCREENSHOTS", "")


@pytest.fixture
def idp(page, site):
    """A FakeIdP whose sign-in page posts its signed answer straight back (as Entra ID
    does once the person is signed in there)."""
    base_url, organization = site
    idp = FakeIdP(sso_url=IDP_URL)
    acs_url = f"{base_url}/accounts/saml/acme/acs/"
    entity_id = f"{base_url}/accounts/saml/acme/metadata/"
    idp.email = "pat@acme.example"

    def answer(route):
        saml_response = idp.response(
            acs_url=acs_url,
            audience=entity_id,
            email=idp.email,
            in_response_to=request_id_of(route.request.url),
        )
        route.fulfill(
            status=200,
            content_type="text/html",
            body=(
                "<!doctype html><title>Test IdP</title>"
                f'<form method="post" action="{acs_url}">'
                f'<input type="hidden" name="SAMLResponse" value="{html.escape(saml_response)}">'
                '<input type="hidden" name="RelayState" value="">'
                "<button>Continue to orgadmin</button></form>"
                "<script>document.forms[0].submit()</script>"
            ),
        )

    page.route(re.compile(r"^https://idp\.example\.test/.*"), answer)
    return idp


def password_sign_in(page, base_url, email):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(helpers.PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).not_to_have_url(re.compile("/accounts/login/"))


def shoot(page, name):
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(exist_ok=True)
        page.screenshot(path=f"{SCREENSHOTS}/{name}.png", full_page=True)


def test_a_person_signs_in_with_sso_by_work_email(page, site, idp, screens):
    base_url, organization = site
    configure(organization, idp)
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_test_id("sign-in-with-sso").click()
    page.get_by_label("Work email").fill("pat@acme.example")
    screens("sso-email")
    page.get_by_role("button", name="Continue").click()
    # The start page (or, for a person in one organization, that organization's).
    expect(page).to_have_url(re.compile(rf"^{base_url}/(organizations/acme/)?$"))
    expect(page.get_by_text("pat@acme.example").first).to_be_visible()
    expect(page.get_by_text("Acme").first).to_be_visible()
    screens("signed-in")


def test_a_refused_person_sees_a_reference_the_admin_finds(page, site, idp, screens):
    base_url, organization = site
    configure(organization, idp, jit_provisioning=False)
    page.goto(f"{base_url}/accounts/sso/")
    page.get_by_label("Work email").fill("pat@acme.example")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_test_id("sso-refused-message")).to_contain_text("ask your admin")
    reference = page.get_by_test_id("sso-reference").inner_text()
    screens("refused")
    page.context.clear_cookies()
    password_sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/access-security/sso/")
    expect(page.locator(f"#attempt-{reference}")).to_contain_text("Refused")


def test_the_admin_runs_test_sso_and_sees_what_came_back(page, site, idp, screens):
    base_url, organization = site
    configure(organization, idp, enabled=False)
    idp.email = "owner@acme.example"
    password_sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/access-security/sso/")
    shoot(page, "sso-tab")
    page.get_by_test_id("sso-test").click()
    result = page.get_by_test_id("sso-test-result")
    expect(result).to_contain_text("it works")
    expect(page.get_by_test_id("sso-attributes")).to_contain_text("emailaddress")
    screens("test-result")
    result.scroll_into_view_if_needed()
    if SCREENSHOTS:
        result.screenshot(path=f"{SCREENSHOTS}/sso-test-result.png")
