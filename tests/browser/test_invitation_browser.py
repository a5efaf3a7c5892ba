"""Accepting an invitation, in Chromium against the live server."""

import re

from django.core import mail
from playwright.sync_api import expect

from orgadmin.models import Member
from tests.helpers import sign_in


def test_an_invited_person_sets_a_password_and_lands_signed_in_on_the_organization(
    page, site, screens
):
    base_url, organization = site
    sign_in(page, base_url, "owner@acme.example")
    page.goto(f"{base_url}/organizations/acme/members/invite/")
    page.get_by_label("Email").fill("grace@acme.example")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("grace@acme.example was invited")).to_be_visible()
    row = page.locator('tr[data-member="grace@acme.example"]')
    expect(row.get_by_text("Invited, expires in 7 days")).to_be_visible()
    screens("members-with-invitation")
    page.locator("summary", has_text="owner@acme.example").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()

    (invitation,) = mail.outbox
    link = re.search(r"(http://\S+/invitations/\S+/)", invitation.body)[1]
    page.goto(link)
    expect(page.get_by_role("heading", name="Join Acme")).to_be_visible()
    page.get_by_label("Password", exact=True).fill("a-long-passphrase-for-grace")
    page.get_by_label("Password (again)").fill("a-long-passphrase-for-grace")
    screens("set-password")
    page.get_by_role("button", name="Create account and join").click()

    expect(page).to_have_url(f"{base_url}/organizations/acme/")
    expect(page.get_by_text("Welcome to Acme")).to_be_visible()
    expect(page.get_by_text("grace@acme.example").first).to_be_visible()
    assert Member.objects.get(email="grace@acme.example").user is not None
    page.goto(link)
    expect(page.get_by_test_id("invitation-not-valid")).to_be_visible()
