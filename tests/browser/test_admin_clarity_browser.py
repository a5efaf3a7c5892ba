"""In Chromium, under the enforced Content-Security-Policy: copying the authenticator
key, reading the audit log, and handing a colliding team to SCIM."""

from playwright.sync_api import expect

from orgadmin import actions
from orgadmin.actions.teams import name_taken_message
from orgadmin.models import ScimRequestLog
from tests import helpers
from tests.helpers import SYSTEM, sign_in


def test_the_authenticator_key_is_copied_with_one_click(page, site):
    base_url, _ = site
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/accounts/reauthenticate/")
    page.get_by_label("Password").fill(helpers.PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    page.goto(f"{base_url}/accounts/2fa/totp/activate/")
    secret = page.get_by_test_id("totp-secret").inner_text()
    assert len(secret) >= 16

    button = page.get_by_role("button", name="Copy the authenticator key")
    button.click()

    expect(button).to_have_text("Copied")


def test_the_audit_log_reads_as_sentences(page, site):
    base_url, organization = site
    alan = helpers.make_member(organization, "alan@acme.example")
    actions.update_member(alan, display_name="Alan Turing", actor=SYSTEM)
    owner = organization.members.get(role="owner")
    actions.change_member_role(alan, role="admin", actor=owner.user)
    sign_in(page, base_url, "owner@acme.example")

    page.goto(f"{base_url}/organizations/acme/access-security/audit-log/")

    expect(page.get_by_text("owner@acme.example signed in")).to_be_visible()
    row = page.locator("tr[data-action='member.role_changed']")
    expect(row).to_contain_text(
        "owner@acme.example changed Alan Turing's role from Member to Admin"
    )
    page.get_by_label("Action").select_option(label="Member role changed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)


def test_an_admin_hands_a_colliding_team_to_scim(page, site):
    base_url, organization = site
    actions.create_team(organization, display_name="Research", actor=SYSTEM)
    ScimRequestLog.objects.create(
        organization=organization,
        method="POST",
        path="/scim/v2/Groups",
        status=409,
        error_detail=name_taken_message("Research"),
    )
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/teams/")
    banner = page.get_by_test_id("scim-group-collision")
    expect(banner).to_contain_text("could not create its group “Research”")

    page.once("dialog", lambda dialog: dialog.accept())
    banner.get_by_role("button", name="Let SCIM manage Research").click()

    expect(page.get_by_text("Research is now managed by SCIM")).to_be_visible()
    expect(page.get_by_test_id("scim-group-collision")).to_have_count(0)
    expect(page.locator("table")).to_contain_text("SCIM")
