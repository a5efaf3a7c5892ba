"""A member's access timeline, two-factor required at sign-in, and Members on a phone,
in Chromium against the live server."""

import re

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    format_hotp_value,
    hotp_value,
    yield_hotp_counters_from_time,
)
from playwright.sync_api import expect

from orgadmin import actions
from tests import helpers
from tests.helpers import PASSWORD, ScimClient, create, member_of, patch


def test_an_admin_reads_why_alice_lost_access_on_her_timeline(page, site, screens):
    base_url, organization = site
    scim = ScimClient(helpers.issue_token(organization, name="Entra prod"))
    alice = create(scim, "alice@acme.example", displayName="Alice Liddell")
    patch(scim, alice["id"], {"op": "replace", "path": "active", "value": False})
    member = member_of(alice)

    helpers.sign_in(page, base_url, "owner@acme.example")
    page.get_by_role("link", name="Members").first.click()
    page.get_by_role("link", name="Alice Liddell").click()
    timeline = page.get_by_test_id("access-timeline")
    expect(timeline).to_be_visible()
    entries = timeline.locator(":scope > li")
    expect(entries).to_have_count(2)
    expect(entries.first).to_contain_text(
        'SCIM token "Entra prod" deactivated Alice Liddell'
    )
    expect(entries.first).to_have_class(re.compile(r"\bloss\b"))
    expect(entries.nth(1)).to_contain_text("provisioned Alice Liddell")
    screens("member-timeline")
    assert page.url.endswith(f"/members/{member.pk}/")


def _code(secret: str) -> str:
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[len(counters) // 2]))


def test_two_factor_required_at_sign_in_is_set_up_then_the_pages_open(
    page, site, screens
):
    base_url, organization = site
    grace = helpers.make_member(organization, "grace@acme.example")
    actions.update_organization(
        organization, require_two_factor=True, actor=helpers.SYSTEM
    )
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill("grace@acme.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # allauth asks for the password again before a second factor is added.
    expect(page).to_have_url(re.compile(r"/accounts/reauthenticate/"))
    expect(page.get_by_text("Acme requires two-factor authentication")).to_be_visible()
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(re.compile(r"/accounts/2fa/totp/activate/"))
    screens("two-factor-required")
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    page.get_by_label("Authenticator code").fill(_code(secret))
    page.get_by_role("button", name="Activate").click()
    expect(page).not_to_have_url(re.compile(r"/totp/activate/"))
    assert Authenticator.objects.filter(
        user=grace.user, type=Authenticator.Type.TOTP
    ).exists()
    page.goto(f"{base_url}/organizations/acme/members/")
    expect(page).to_have_url(f"{base_url}/organizations/acme/members/")


def _widest(page) -> list[str]:
    """The elements that reach past the right edge of the window, to say what overflows."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > innerWidth + 1)
          .slice(-3)
          .map((el) => el.tagName + '.' + el.className + ' ' + el.textContent.slice(0, 40))"""
    )


def _page_overflows(page) -> bool:
    return page.evaluate(
        "document.documentElement.scrollWidth > document.documentElement.clientWidth"
    )


def test_members_rows_are_cards_at_390_and_no_page_scrolls_sideways(
    page, site, screens
):
    base_url, organization = site
    grace = helpers.make_member(organization, "grace@acme.example")
    helpers.make_member(organization, "a.very.long.address.indeed@acme.example")
    helpers.issue_token(organization, name="Entra ID production")
    actions.create_team(
        organization,
        display_name="Engineering",
        member_ids=[grace.pk],
        actor=helpers.SYSTEM,
    )
    page.set_viewport_size({"width": 390, "height": 844})
    helpers.sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/members/")
    row = page.locator('tr[data-member="grace@acme.example"]')
    # A card: the status and the Deactivate button sit right under the name, and the
    # header row is hidden.
    name = row.get_by_role("link", name="grace@acme.example").bounding_box()
    deactivate = row.get_by_role("button", name=re.compile("Deactivate")).bounding_box()
    assert deactivate["x"] + deactivate["width"] <= 390
    assert deactivate["y"] < name["y"] + 80
    header = page.get_by_test_id("member-table").locator("thead").bounding_box()
    assert header["height"] <= 1
    label = row.get_by_test_id("two-factor").evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert label == '"Two-factor: "'

    screens("members-phone")
    for path in (
        "",
        "members/",
        f"members/{grace.pk}/",
        "teams/",
        "access-security/domains/",
        "access-security/sso/",
        "access-security/scim/",
        "access-security/audit-log/",
    ):
        page.goto(f"{base_url}/organizations/acme/{path}")
        assert not _page_overflows(page), (path, _widest(page))
    # A table that still scrolls inside its box (the audit log) shows the edge shadow.
    background = page.evaluate(
        "getComputedStyle(document.querySelector('.table-wrap')).backgroundImage"
    )
    assert "gradient" in background
