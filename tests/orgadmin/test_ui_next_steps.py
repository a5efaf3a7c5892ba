"""A new admin is never left without a next step, and every error sits by its field."""

import re

import pytest
from django.core import mail

from orgadmin import actions
from orgadmin.models import ScimToken, Team
from tests import helpers
from tests.helpers import PASSWORD

GENERAL = "/organizations/acme/"
DOMAINS = "/organizations/acme/access-security/domains/"
SSO = "/organizations/acme/access-security/sso/"
SCIM = "/organizations/acme/access-security/scim/"
NEW_TOKEN = "/organizations/acme/access-security/scim/tokens/new/"
MEMBERS = "/organizations/acme/members/"
TEAMS = "/organizations/acme/teams/"


@pytest.fixture
def new_organization_client(client, db):
    """A brand-new organization: no domain, no SSO, no SCIM yet."""
    helpers.make_organization(domain=None, owner_email="owner@acme.example")
    client.login(email="owner@acme.example", password=PASSWORD)
    return client


def test_new_organization_general_page_lists_the_setup_steps_with_the_domain_next(
    new_organization_client,
):
    page = new_organization_client.get(GENERAL).content.decode()
    steps = page[page.index('data-testid="setup-steps"') :]
    assert steps.index("Claim and verify your domain") < steps.index("Next step")
    assert steps.index("Next step") < steps.index("Set up SAML single sign-on")
    assert f'href="{DOMAINS}"' in steps


@pytest.mark.parametrize("url", [SSO, SCIM])
def test_sso_and_scim_tabs_send_a_new_organization_to_claim_a_domain_first(
    new_organization_client, url
):
    page = new_organization_client.get(url).content.decode()
    assert 'data-testid="next-step"' in page
    assert "First, claim and verify your domain." in page
    assert f'href="{DOMAINS}">Claim a domain</a>' in page


def test_domains_tab_of_a_new_organization_has_no_banner_about_itself(
    new_organization_client,
):
    page = new_organization_client.get(DOMAINS).content.decode()
    assert 'data-testid="next-step"' not in page
    assert "No claimed domains yet" in page


def test_after_the_domain_is_verified_the_next_step_is_sso_then_scim(
    owner_client, organization
):
    page = owner_client.get(DOMAINS).content.decode()
    assert "Next: set up single sign-on." in page
    actions.update_sso_configuration(
        organization,
        idp_metadata_url="https://idp.example/metadata",
        enabled=True,
        actor=helpers.SYSTEM,
    )
    page = owner_client.get(SSO).content.decode()
    assert "Next: connect SCIM provisioning." in page
    assert 'data-testid="sso-sign-in-url"' in page
    assert "/accounts/saml/acme/login/" in page
    # SAML sign-in works now: the tab no longer says it is not available.
    assert 'data-testid="sso-not-yet"' not in page
    assert "not available yet" not in page


def test_a_used_scim_token_completes_the_setup(owner_client, organization, client):
    actions.update_sso_configuration(
        organization,
        idp_metadata_url="https://idp.example/metadata",
        enabled=True,
        actor=helpers.SYSTEM,
    )
    helpers.issue_token(organization)
    assert "Next: connect SCIM" in owner_client.get(DOMAINS).content.decode()
    ScimToken.objects.filter(organization=organization).update(
        last_used_at="2026-01-01T00:00:00Z"
    )
    page = owner_client.get(GENERAL).content.decode()
    assert "All set." in page and "Next step" not in page
    assert 'data-testid="next-step"' not in owner_client.get(DOMAINS).content.decode()


def test_plain_member_sees_no_setup_steps(client, organization):
    helpers.make_member(organization, "member@acme.example")
    client.login(email="member@acme.example", password=PASSWORD)
    page = client.get(GENERAL).content.decode()
    assert 'data-testid="setup-steps"' not in page
    assert "Only owners and admins change these settings." in page


def test_confirm_password_page_says_why_a_scim_token_needs_it_and_how_to_go_back(
    owner_client,
):
    response = owner_client.get(NEW_TOKEN, follow=True)
    page = response.content.decode()
    assert response.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
    assert 'data-testid="reauthenticate-reason"' in page
    assert "A SCIM token lets your identity provider" in page
    assert f'href="{SCIM}">Cancel</a>' in page
    wrong = owner_client.post(
        "/accounts/reauthenticate/", {"password": "wrong", "next": NEW_TOKEN}
    ).content.decode()
    assert "Incorrect password" in wrong and "A SCIM token lets" in wrong


def test_confirm_password_page_never_links_to_a_foreign_next(owner_client):
    evil = "javascript:alert(1)//organizations/x/access-security/scim/tokens/new/"
    page = owner_client.get(
        "/accounts/reauthenticate/", {"next": evil}
    ).content.decode()
    assert "javascript:" not in page.split("<form")[0]
    assert 'href="javascript:' not in page
    assert "needs your password again" in page


def test_mfa_page_says_to_set_up_the_authenticator_app_before_recovery_codes(
    owner_client,
):
    page = owner_client.get("/accounts/2fa/").content.decode()
    assert "No recovery codes set up." in page
    assert 'data-testid="recovery-codes-next-step"' in page
    assert "Set up the authenticator app first" in page


def test_not_found_page_leads_back_to_the_organizations(client, organization):
    helpers.make_member(organization, "member@acme.example")
    client.login(email="member@acme.example", password=PASSWORD)
    response = client.get(DOMAINS)
    assert response.status_code == 404
    page = response.content.decode()
    assert 'data-testid="not-found"' in page
    assert 'href="/">Go to your organizations</a>' in page


def test_password_reset_ends_with_a_way_to_sign_in(client, organization):
    helpers.make_member(organization, "new@acme.example")
    client.post("/accounts/password/reset/", {"email": "new@acme.example"})
    (message,) = mail.outbox
    link = re.search(
        r"http://testserver(/accounts/password/reset/key/\S+)", message.body
    )
    form_url = client.get(link.group(1), follow=True).redirect_chain[-1][0]
    response = client.post(
        form_url,
        {"password1": "a-new-long-passphrase", "password2": "a-new-long-passphrase"},
        follow=True,
    )
    page = response.content.decode()
    assert 'data-testid="sign-in-after-reset"' in page
    assert 'href="/accounts/login/"' in page


def test_an_invited_person_is_emailed_a_link_to_accept(
    owner_client, mailoutbox, django_capture_on_commit_callbacks
):
    # The invitation is sent once the transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            f"{MEMBERS}invite/",
            {"email": "grace@acme.example", "full_name": "Grace", "role": "member"},
            follow=True,
        )
    page = response.content.decode()
    assert "grace@acme.example was invited: they join once they follow the link" in page
    (invitation,) = mailoutbox
    assert invitation.to == ["grace@acme.example"]
    assert invitation.subject == "You are invited to join Acme"
    assert "owner@acme.example invited you to join Acme" in invitation.body
    # No account yet: the link (not a password reset) lets them set a password.
    assert "https://orgadmin.test/invitations/" in invitation.body
    assert "It works once, until" in invitation.body
    assert "password/reset" not in invitation.body


def test_a_proven_account_on_a_verified_domain_is_told_to_sign_in(
    organization, mailoutbox, django_capture_on_commit_callbacks
):
    person = helpers.make_member(organization, "kim@acme.example")
    actions.remove_member(person, actor=helpers.SYSTEM)
    with django_capture_on_commit_callbacks(execute=True):
        actions.add_member(organization, email=person.email, actor=helpers.SYSTEM)
    (invitation,) = mailoutbox
    assert invitation.subject == "You were added to Acme"
    assert "Sign in with your email address (kim@acme.example)" in invitation.body
    assert "/invitations/" not in invitation.body


def test_adding_an_unknown_email_to_a_team_is_an_error_next_to_the_field(
    owner_client, organization
):
    team = actions.create_team(organization, display_name="R&D", actor=helpers.SYSTEM)
    response = owner_client.post(
        f"{TEAMS}{team.pk}/update/", {"email": "who@acme.example"}
    )
    assert response.status_code == 200
    assert response.context["add_form"].errors["email"] == [
        "who@acme.example is not a member of this organization: invite them first."
    ]
    assert 'id="id_email_error"' in response.content.decode()


def test_an_empty_team_name_is_an_error_next_to_the_field(owner_client, organization):
    team = actions.create_team(organization, display_name="R&D", actor=helpers.SYSTEM)
    response = owner_client.post(f"{TEAMS}{team.pk}/update/", {"display_name": ""})
    assert response.status_code == 200
    assert response.context["rename_form"].errors["display_name"]
    assert 'id="id_display_name_error"' in response.content.decode()
    assert Team.objects.get(pk=team.pk).display_name == "R&D"


def test_a_too_long_job_title_is_an_error_next_to_the_field_not_lost(
    owner_client, organization
):
    grace = helpers.make_member(organization, "grace@acme.example")
    response = owner_client.post(
        f"{MEMBERS}{grace.pk}/profile/", {"display_name": "Grace", "title": "x" * 300}
    )
    assert response.status_code == 200
    assert response.context["profile_form"].errors["title"]
    assert 'id="id_title_error"' in response.content.decode()
    grace.refresh_from_db()
    assert grace.display_name == ""


def test_a_refused_role_change_is_an_error_next_to_the_role(client, organization):
    helpers.make_member(organization, "ada@acme.example", role="admin")
    grace = helpers.make_member(organization, "grace@acme.example")
    client.login(email="ada@acme.example", password=PASSWORD)
    response = client.post(f"{MEMBERS}{grace.pk}/role/", {"role": "owner"})
    assert response.status_code == 200
    assert 'id="id_role_error"' in response.content.decode()
