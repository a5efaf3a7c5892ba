"""Owners require two-factor authentication; Members shows who has it, and last sign-in."""

from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from django.test import Client

from orgadmin import actions
from orgadmin.errors import NotPermitted
from orgadmin.models import AuditEvent
from tests import helpers
from tests.helpers import PASSWORD

GENERAL = "/organizations/acme/"
MEMBERS = "/organizations/acme/members/"
ACTIVATE = "/accounts/2fa/totp/activate/"


def signed_in(email: str) -> Client:
    client = Client()
    response = client.post("/accounts/login/", {"login": email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client


def require(organization):
    actions.update_organization(
        organization, require_two_factor=True, actor=helpers.SYSTEM
    )


def test_an_owner_requires_two_factor_on_the_general_page(owner_client, organization):
    page = owner_client.get(GENERAL).content.decode()
    assert 'name="require_two_factor"' in page
    response = owner_client.post(
        GENERAL,
        {
            "name": "Acme",
            "restrict_to_claimed_domains": "on",
            "require_two_factor": "on",
        },
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.require_two_factor
    event = AuditEvent.objects.filter(action="organization.updated").latest("pk")
    assert event.changes == {"require_two_factor": {"from": False, "to": True}}


def test_an_admin_sees_the_setting_but_cannot_change_it(organization):
    helpers.make_member(organization, "ada@acme.example", role="admin")
    require(organization)
    client = Client()
    client.login(email="ada@acme.example", password=PASSWORD)
    TOTP.activate(organization.members.get(email="ada@acme.example").user, "A" * 32)
    page = client.get(GENERAL).content.decode()
    assert 'name="require_two_factor"' not in page
    assert "Required for password sign-ins" in page
    # A Save by an admin leaves the owner's setting as it was.
    client.post(GENERAL, {"name": "Acme", "restrict_to_claimed_domains": "on"})
    organization.refresh_from_db()
    assert organization.require_two_factor


def test_the_action_refuses_an_admin_requiring_two_factor(organization):
    ada = helpers.make_member(organization, "ada@acme.example", role="admin")
    try:
        actions.update_organization(
            organization, require_two_factor=True, actor=ada.user
        )
    except NotPermitted as error:
        assert error.message == "Only an owner can require two-factor authentication."
    else:
        raise AssertionError("an admin required two-factor authentication")
    organization.refresh_from_db()
    assert not organization.require_two_factor


def test_a_password_sign_in_without_an_authenticator_is_sent_to_set_one_up(
    organization,
):
    helpers.make_member(organization, "grace@acme.example")
    require(organization)
    client = signed_in("grace@acme.example")
    response = client.get(MEMBERS)
    assert response.status_code == 302
    assert response["Location"] == ACTIVATE
    # allauth asks for the password again before a second factor is added.
    page = client.get(ACTIVATE, follow=True)
    assert page.redirect_chain[-1][0].startswith("/accounts/reauthenticate/")
    assert "Acme requires two-factor authentication" in page.content.decode()
    response = client.post(
        page.redirect_chain[-1][0], {"password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == ACTIVATE
    assert 'name="code"' in response.content.decode()
    # Signing out stays possible.
    assert client.post("/accounts/logout/").status_code == 302


def test_once_the_authenticator_is_set_up_the_pages_open(organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    require(organization)
    client = signed_in("grace@acme.example")
    assert client.get(MEMBERS).status_code == 302
    TOTP.activate(grace.user, generate_totp_secret())
    assert client.get(MEMBERS).status_code == 200


def test_without_the_requirement_nobody_is_asked(organization):
    helpers.make_member(organization, "grace@acme.example")
    client = signed_in("grace@acme.example")
    assert client.get(MEMBERS).status_code == 200


def test_the_requirement_reaches_people_at_their_next_sign_in(organization):
    helpers.make_member(organization, "grace@acme.example")
    client = signed_in("grace@acme.example")
    assert client.get(MEMBERS).status_code == 200
    require(organization)
    assert client.get(MEMBERS).status_code == 200
    client.post("/accounts/logout/")
    client = signed_in("grace@acme.example")
    assert client.get(MEMBERS)["Location"] == ACTIVATE


def test_a_deactivated_membership_does_not_require_it(organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    require(organization)
    actions.deactivate_member(grace, actor=helpers.SYSTEM)
    client = signed_in("grace@acme.example")
    assert client.get("/").status_code == 200


def test_members_shows_two_factor_and_last_sign_in_and_filters_by_it(
    owner_client, organization, owner
):
    grace = helpers.make_member(organization, "grace@acme.example")
    helpers.make_member(organization, "alan@acme.example")
    signed_in("grace@acme.example")
    TOTP.activate(grace.user, generate_totp_secret())
    response = owner_client.get(MEMBERS)
    rows = {m.email: m for m in response.context["page"].object_list}
    assert rows["grace@acme.example"].has_two_factor
    assert not rows["alan@acme.example"].has_two_factor
    assert rows["grace@acme.example"].last_login is not None
    assert rows["alan@acme.example"].last_login is None
    page = response.content.decode()
    assert "Two-factor" in page and "Last sign-in" in page and "Never" in page

    on = owner_client.get(MEMBERS, {"two_factor": "on"}).context["page"].object_list
    assert [m.email for m in on] == ["grace@acme.example"]
    off = owner_client.get(MEMBERS, {"two_factor": "off"}).context["page"].object_list
    assert {m.email for m in off} == {"alan@acme.example", owner.email}
