"""Messages that say what happened, and the edges: allauth's pages in the product's
words, the CSRF failure page, the favicon and the Django admin."""

import pytest
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.socialaccount.models import SocialApp
from django.contrib.auth.models import Group
from django.contrib.staticfiles import finders
from django.test import Client

from orgadmin import actions
from orgadmin.models import AuditEvent, Member
from tests import helpers
from tests.helpers import PASSWORD, SYSTEM

GENERAL = "/organizations/acme/"
TEAMS = "/organizations/acme/teams/"


def test_saving_unchanged_organization_settings_says_so(owner_client, organization):
    before = AuditEvent.objects.count()
    response = owner_client.post(
        GENERAL,
        {"name": "Acme", "restrict_to_claimed_domains": "on"},
        follow=True,
    )
    page = response.content.decode()
    assert "No changes to save." in page and "Organization settings saved." not in page
    assert AuditEvent.objects.count() == before

    response = owner_client.post(GENERAL, {"name": "Acme Corp"}, follow=True)
    assert "Organization settings saved." in response.content.decode()


def test_renaming_a_team_to_its_own_name_says_nothing_changed(
    owner_client, organization
):
    team = actions.create_team(organization, display_name="Research", actor=SYSTEM)
    response = owner_client.post(
        f"{TEAMS}{team.pk}/update/", {"display_name": "Research"}, follow=True
    )
    assert "No changes to save." in response.content.decode()


def test_adding_someone_already_on_the_team_says_they_already_were(
    owner_client, organization
):
    ada = helpers.make_member(organization, "ada@acme.example")
    actions.update_member(ada, display_name="Ada Lovelace", actor=SYSTEM)
    team = actions.create_team(
        organization, display_name="Research", member_ids=[ada.pk], actor=SYSTEM
    )
    before = AuditEvent.objects.count()

    response = owner_client.post(
        f"{TEAMS}{team.pk}/update/", {"email": "ada@acme.example"}, follow=True
    )

    page = response.content.decode()
    assert "Ada Lovelace was already on the team." in page
    assert "was added to the team" not in page
    assert AuditEvent.objects.count() == before


def test_a_member_reads_as_their_name_in_their_organization(organization):
    ada = helpers.make_member(organization, "ada@acme.example")
    actions.update_member(ada, display_name="Ada Lovelace", actor=SYSTEM)
    assert str(Member.objects.get(pk=ada.pk)) == "Ada Lovelace in Acme"


def test_the_second_factor_prompt_says_a_recovery_code_works(client, owner):
    TOTP.activate(owner.user, generate_totp_secret())
    response = client.post(
        "/accounts/login/",
        {"login": owner.user.email, "password": PASSWORD},
        follow=True,
    )
    page = response.content.decode()
    assert "<h1>Two-factor authentication</h1>" in page
    assert "A recovery code works here too" in page


def test_the_totp_secret_has_a_copy_button(owner_client, owner):
    owner_client.post("/accounts/reauthenticate/", {"password": PASSWORD})
    response = owner_client.get("/accounts/2fa/totp/activate/")
    page = response.content.decode()
    secret = response.context["form"].secret
    assert f'id="authenticator-secret">{secret}</code>' in page
    assert 'data-copy="authenticator-secret"' in page
    assert "<h1>Set up an authenticator app</h1>" in page


@pytest.mark.parametrize(
    ("url", "title"),
    [
        ("/accounts/password/change/", "<h1>Change password</h1>"),
        ("/accounts/logout/", "<h1>Sign out</h1>"),
        ("/accounts/2fa/", "Two-factor authentication"),
    ],
)
def test_allauth_pages_speak_in_sentence_case(owner_client, url, title):
    page = owner_client.get(url).content.decode()
    assert title in page
    for title_case in (
        "Two-Factor",
        "Authenticator App",
        "Change Password",
        "Sign Out",
    ):
        assert title_case not in page


def test_the_password_reset_page_is_in_sentence_case(client, db):
    page = client.get("/accounts/password/reset/").content.decode()
    assert "<h1>Reset your password</h1>" in page
    assert "Reset My Password" not in page


def test_a_form_without_its_csrf_token_gets_the_branded_page(organization, owner):
    client = Client(enforce_csrf_checks=True)
    client.login(email=owner.user.email, password=PASSWORD)
    response = client.post(GENERAL, {"name": "Hacked"})
    assert response.status_code == 403
    page = response.content.decode()
    assert 'data-testid="csrf-failure"' in page and "This form has expired" in page
    assert "orgadmin/css/app.css" in page
    organization.refresh_from_db()
    assert organization.name == "Acme"


def test_every_page_links_the_favicon(client, db):
    page = client.get("/").content.decode()
    assert '<link rel="icon" href="/static/orgadmin/img/favicon.svg"' in page
    assert finders.find("orgadmin/img/favicon.svg")


@pytest.fixture
def operator_client(client, operator_user):
    client.force_login(operator_user)
    return client


def test_the_admin_never_shows_two_factor_secrets(operator_client, operator_user):
    authenticator = operator_user.authenticator_set.get()
    listing = operator_client.get("/admin/mfa/authenticator/")
    assert listing.status_code == 200
    page = operator_client.get(
        f"/admin/mfa/authenticator/{authenticator.pk}/change/"
    ).content.decode()
    assert authenticator.data["secret"] not in page
    assert "secret" not in page.lower().split("<body", 1)[1].split("</form>")[0]
    delete = operator_client.post(
        f"/admin/mfa/authenticator/{authenticator.pk}/delete/", {"post": "yes"}
    )
    assert delete.status_code == 403
    assert operator_user.authenticator_set.exists()


def test_unused_social_apps_and_groups_are_off_the_admin_index(operator_client):
    index = operator_client.get("/admin/").content.decode()
    assert "/admin/socialaccount/socialapp/" not in index
    assert "/admin/auth/group/" not in index
    assert "/admin/mfa/authenticator/" in index
    Group.objects.create(name="Support")
    SocialApp.objects.create(provider="saml", name="Legacy")
    index = operator_client.get("/admin/").content.decode()
    assert "/admin/auth/group/" in index
    assert "/admin/socialaccount/socialapp/" in index


def test_the_admin_lists_members_by_name_and_organization(
    operator_client, organization
):
    ada = helpers.make_member(organization, "ada@acme.example")
    actions.update_member(ada, display_name="Ada Lovelace", actor=SYSTEM)
    response = operator_client.get(f"/admin/orgadmin/member/{ada.pk}/change/")
    assert "Ada Lovelace in Acme" in response.content.decode()
