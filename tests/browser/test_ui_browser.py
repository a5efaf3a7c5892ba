"""What an org admin clicks, in Chromium against the live server."""

import re

from playwright.sync_api import expect

from orgadmin.models import ClaimedDomain, Member, ScimToken
from tests import helpers
from tests.dns_server import serving
from tests.helpers import sign_in


def test_owner_generates_a_scim_token_sees_it_once_and_only_it_authenticates(
    page, site, screens
):
    base_url, organization = site
    # With one organization, signing in opens it.
    sign_in(page, base_url, "owner@acme.example")
    expect(page).to_have_url(f"{base_url}/organizations/acme/")
    page.get_by_role("link", name="Access Security").click()
    page.get_by_role("link", name="SCIM", exact=True).click()
    expect(page.get_by_test_id("scim-tenant-url")).to_have_text(f"{base_url}/scim/v2")
    screens("scim-tab")

    page.get_by_role("link", name="Generate token").click()
    # allauth asks for the password again before a token can be generated.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    page.get_by_label("Password").fill(helpers.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.get_by_label("Name").fill("Entra ID production")
    screens("token-form")
    page.get_by_role("button", name="Generate token").click()

    shown = page.get_by_test_id("scim-token")
    expect(shown).to_be_visible()
    expect(page.get_by_text("it will not be shown again")).to_be_visible()
    secret = shown.inner_text().strip()
    assert secret.startswith(ScimToken.SECRET_PREFIX)
    expect(page.get_by_test_id("scim-tenant-url")).to_have_text(f"{base_url}/scim/v2")
    screens("token-shown")
    page.get_by_role("link", name="Done: back to SCIM").click()
    expect(page.get_by_role("heading", name="Tokens")).to_be_visible()
    expect(page.get_by_test_id("scim-token")).to_have_count(0)
    assert secret not in page.content()

    users_url = f"{base_url}/scim/v2/Users"
    answer = page.request.get(users_url, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 200, answer.text()

    row = page.locator("tr", has_text="Entra ID production")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=re.compile("Revoke")).click()
    expect(page.get_by_text("was revoked")).to_be_visible()
    expect(row.get_by_text("Revoked")).to_be_visible()
    answer = page.request.get(users_url, headers={"Authorization": f"Bearer {secret}"})
    assert answer.status == 401


def test_plain_member_cannot_reach_access_security(page, site, screens):
    base_url, organization = site
    helpers.make_member(organization, "member@acme.example")
    sign_in(page, base_url, "member@acme.example")
    expect(page.get_by_role("link", name="Members")).to_be_visible()
    expect(page.get_by_role("link", name="Access Security")).to_have_count(0)
    screens("member-settings")
    for tab in ("domains", "sso", "scim", "audit-log"):
        response = page.goto(f"{base_url}/organizations/acme/access-security/{tab}/")
        assert response.status == 404


def test_admin_adds_a_domain_sees_its_txt_record_and_checks_it(
    page, site, screens, settings
):
    base_url, organization = site
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/access-security/")
    expect(page.get_by_role("link", name="Domains")).to_have_attribute(
        "aria-current", "page"
    )
    page.get_by_label("Domain").fill("https://Example.ORG/login")
    page.get_by_role("button", name="Add domain").click()
    expect(page.locator(".field.has-error .errors")).to_contain_text("without http://")
    screens("domain-error")

    page.get_by_label("Domain").fill("Example.ORG")
    page.get_by_role("button", name="Add domain").click()
    claimed = ClaimedDomain.objects.get(organization=organization, domain="example.org")
    section = page.get_by_test_id("domain-example.org")
    expect(section.get_by_test_id("txt-record-host")).to_have_text("example.org")
    expect(section.get_by_test_id("txt-record-value")).to_have_text(
        claimed.record_value
    )
    expect(section.get_by_text("Pending verification")).to_be_visible()
    expect(section.get_by_role("button", name="Copy TXT record value")).to_be_visible()
    screens("domains-tab")

    with serving(settings) as dns_responder:
        dns_responder.set_txt("example.org", claimed.record_value)
        section.get_by_role("button", name="Check now").click()
        section = page.get_by_test_id("domain-example.org")
        expect(page.get_by_role("status")).to_contain_text(
            "example.org is now verified."
        )
        # The result itself is said once, on the domain's panel.
        expect(section).to_contain_text("The verification record was found")
        expect(section.get_by_text("Verified", exact=True)).to_be_visible()


def test_members_page_filters_and_deactivates(page, site, screens):
    base_url, organization = site
    helpers.make_member(organization, "ada@acme.example", role=Member.Role.ADMIN)
    helpers.make_member(organization, "grace@acme.example")
    helpers.make_member(organization, "alan@acme.example")
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/members/")
    rows = page.get_by_test_id("member-table").locator("tbody tr")
    expect(rows).to_have_count(4)
    screens("members")

    page.get_by_label("Role").select_option("admin")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("ada@acme.example")

    page.get_by_role("link", name="Clear").click()
    page.get_by_label("Search").fill("grace")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.once("dialog", lambda dialog: dialog.accept())
    rows.first.get_by_role("button", name=re.compile("Deactivate")).click()
    expect(page.get_by_text("was deactivated")).to_be_visible()
    expect(rows.first.get_by_text("Deactivated")).to_be_visible()
    assert not Member.objects.get(email="grace@acme.example").is_active

    page.get_by_label("Search").fill("")
    page.get_by_label("Status").select_option("inactive")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("grace@acme.example")
    screens("members-filtered")


def _page_overflows(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


def test_wide_tables_scroll_inside_their_box_at_phone_width(page, site, screens):
    """At 390px the tables scroll on their own; the page itself never scrolls sideways
    (the visually-hidden button labels in a row used to widen it)."""
    base_url, organization = site
    helpers.make_member(organization, "grace@acme.example")
    helpers.issue_token(organization, name="Entra ID production")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, base_url, "owner@acme.example")
    for path in ("members/", "access-security/scim/", "access-security/domains/"):
        page.goto(f"{base_url}/organizations/acme/{path}")
        screens(path.strip("/").replace("/", "-") + "-phone")
        assert not _page_overflows(page), path


def test_new_admin_is_sent_from_sso_to_claim_a_domain_first(page, site, screens):
    base_url, _ = site
    helpers.make_organization("newco", domain=None, owner_email="admin@newco.example")
    sign_in(page, base_url, "admin@newco.example")
    expect(page.get_by_test_id("setup-steps")).to_contain_text("Next step")
    page.get_by_role("link", name="Access Security").click()
    page.get_by_role("link", name="SSO", exact=True).click()
    screens("sso-before-domain")
    page.get_by_test_id("next-step").get_by_role("link", name="Claim a domain").click()
    expect(page.get_by_role("link", name="Domains")).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_label("Domain")).to_be_visible()


def test_keyboard_focus_is_visible_on_links_and_buttons(page, site):
    base_url, _ = site
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/members/")
    for _ in range(8):
        page.keyboard.press("Tab")
        outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
        tag = page.evaluate("document.activeElement.tagName")
        assert outline != "none", tag


def test_remember_me_checkbox_lines_up_with_its_label_and_the_fields(page, site):
    base_url, _ = site
    page.goto(f"{base_url}/accounts/login/")
    checkbox = page.get_by_role("checkbox", name="Remember Me").bounding_box()
    label = page.locator("label", has_text="Remember Me").bounding_box()
    email = page.get_by_label("Email").bounding_box()
    checkbox_middle = checkbox["y"] + checkbox["height"] / 2
    label_middle = label["y"] + label["height"] / 2
    assert abs(checkbox_middle - label_middle) <= 1, (checkbox, label)
    assert abs(checkbox["x"] - email["x"]) <= 1, (checkbox, email)
    assert label["x"] > checkbox["x"] + checkbox["width"]
