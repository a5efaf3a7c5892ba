"""General, Members and Teams pages, the switcher and the account menu, via the client."""

import re

from orgadmin import actions
from orgadmin.models import AuditEvent, Member, Team
from tests import helpers
from tests.helpers import PASSWORD

MEMBERS = "/organizations/acme/members/"
TEAMS = "/organizations/acme/teams/"


def scim_member(organization, user_name="scim.person@acme.example"):
    return actions.provision_member(
        organization,
        user_name=user_name,
        display_name="Scim Person",
        title="Engineer",
        emails=[{"value": user_name, "type": "work", "primary": True}],
        actor=helpers.SYSTEM,
    )


def listed(response):
    return [m.email for m in response.context["page"].object_list]


def test_members_filter_by_role_status_source_and_search(owner_client, organization):
    helpers.make_member(organization, "ada@acme.example", role=Member.Role.ADMIN)
    grace = helpers.make_member(organization, "grace@acme.example")
    scim_member(organization)
    actions.deactivate_member(grace, actor=helpers.SYSTEM)

    assert len(listed(owner_client.get(MEMBERS))) == 4
    assert listed(owner_client.get(MEMBERS, {"role": "admin"})) == ["ada@acme.example"]
    assert listed(owner_client.get(MEMBERS, {"status": "inactive"})) == [
        "grace@acme.example"
    ]
    assert listed(owner_client.get(MEMBERS, {"source": "scim"})) == [
        "scim.person@acme.example"
    ]
    assert listed(owner_client.get(MEMBERS, {"q": "GRACE"})) == ["grace@acme.example"]
    empty = owner_client.get(MEMBERS, {"q": "nobody"}).content.decode()
    assert "No member matches these filters" in empty


def test_members_are_paginated(owner_client, organization):
    for index in range(30):
        actions.add_member(
            organization, email=f"p{index:02d}@acme.example", actor=helpers.SYSTEM
        )
    first = owner_client.get(MEMBERS)
    assert len(listed(first)) == 25
    assert "Page 1 of 2" in first.content.decode()
    second = owner_client.get(MEMBERS, {"page": 2, "role": "member"})
    assert len(listed(second)) == 5


def test_deactivate_and_reactivate_go_through_the_actions(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    back = f"{MEMBERS}?q=grace"
    response = owner_client.post(f"{MEMBERS}{grace.pk}/deactivate/", {"next": back})
    assert response.status_code == 302 and response.url == back
    grace.refresh_from_db()
    assert not grace.is_active
    assert AuditEvent.objects.filter(
        action="member.deactivated", actor_label="owner@acme.example"
    ).exists()
    owner_client.post(f"{MEMBERS}{grace.pk}/reactivate/")
    grace.refresh_from_db()
    assert grace.is_active


def test_an_admin_cannot_deactivate_an_owner_and_is_told_why(
    client, organization, owner
):
    helpers.make_member(organization, "ada@acme.example", role="admin")
    client.login(email="ada@acme.example", password=PASSWORD)
    response = client.post(f"{MEMBERS}{owner.pk}/deactivate/", follow=True)
    assert "Only an owner can deactivate or reactivate an owner" in (
        response.content.decode()
    )
    owner.refresh_from_db()
    assert owner.is_active


def test_next_must_stay_on_this_site(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    response = owner_client.post(
        f"{MEMBERS}{grace.pk}/deactivate/", {"next": "https://evil.example/"}
    )
    assert response.url == f"{MEMBERS}{grace.pk}/"


def test_role_change_and_admins_cannot_grant_owner(client, owner_client, organization):
    ada = helpers.make_member(organization, "ada@acme.example", role="admin")
    grace = helpers.make_member(organization, "grace@acme.example")
    owner_client.post(f"{MEMBERS}{grace.pk}/role/", {"role": "admin"})
    grace.refresh_from_db()
    assert grace.role == "admin"

    client.logout()
    client.login(email="ada@acme.example", password=PASSWORD)
    response = client.post(f"{MEMBERS}{grace.pk}/role/", {"role": "owner"}, follow=True)
    grace.refresh_from_db()
    assert grace.role == "admin"
    assert "is not one of the available choices" in response.content.decode()
    assert ada.role == "admin"


def test_scim_member_is_labelled_and_its_directory_fields_are_read_only(
    owner_client, organization
):
    member = scim_member(organization)
    page = owner_client.get(f"{MEMBERS}{member.pk}/").content.decode()
    assert "Managed by SCIM" in page
    assert 'data-testid="scim-managed-note"' in page
    assert 'name="display_name"' not in page
    owner_client.post(f"{MEMBERS}{member.pk}/profile/", {"display_name": "Changed"})
    member.refresh_from_db()
    assert member.display_name == "Scim Person"


def test_invited_member_profile_can_be_edited(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    owner_client.post(
        f"{MEMBERS}{grace.pk}/profile/",
        {"display_name": "Grace Hopper", "title": "Rear Admiral", "department": ""},
    )
    grace.refresh_from_db()
    assert (grace.display_name, grace.title) == ("Grace Hopper", "Rear Admiral")


def test_inviting_an_existing_member_is_an_error_next_to_the_email(owner_client):
    response = owner_client.post(
        f"{MEMBERS}invite/", {"email": "owner@acme.example", "role": "member"}
    )
    assert response.status_code == 200
    assert response.context["form"]["email"].errors
    created = owner_client.post(
        f"{MEMBERS}invite/", {"email": "new@acme.example", "role": "admin"}
    )
    assert created.status_code == 302
    assert Member.objects.get(email="new@acme.example").role == "admin"


def test_plain_member_sees_members_read_only_and_cannot_write(client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    client.login(email="grace@acme.example", password=PASSWORD)
    page = client.get(MEMBERS).content.decode()
    assert "grace@acme.example" in page
    assert "/deactivate/" not in page and "Invite member" not in page
    assert client.post(f"{MEMBERS}{grace.pk}/deactivate/").status_code == 404
    assert client.get(f"{MEMBERS}invite/").status_code == 404


def test_another_organizations_member_and_team_answer_404(owner_client):
    globex = helpers.make_organization("globex", domain="globex.example")
    theirs = globex.members.get()
    team = actions.create_team(globex, display_name="Sales", actor=helpers.SYSTEM)
    assert owner_client.get(f"{MEMBERS}{theirs.pk}/").status_code == 404
    assert owner_client.post(f"{MEMBERS}{theirs.pk}/deactivate/").status_code == 404
    assert owner_client.get(f"{TEAMS}{team.pk}/").status_code == 404
    assert owner_client.post(f"{TEAMS}{team.pk}/delete/").status_code == 404
    assert owner_client.get("/organizations/globex/members/").status_code == 404


def test_teams_list_counts_members_and_has_an_empty_state(owner_client, organization):
    assert "No teams yet" in owner_client.get(TEAMS).content.decode()
    grace = helpers.make_member(organization, "grace@acme.example")
    actions.create_team(
        organization,
        display_name="Research",
        member_ids=[grace.pk],
        actor=helpers.SYSTEM,
    )
    response = owner_client.get(TEAMS)
    assert [(t.display_name, t.member_count) for t in response.context["page"]] == [
        ("Research", 1)
    ]


def test_team_is_created_renamed_given_members_and_deleted(owner_client, organization):
    helpers.make_member(organization, "grace@acme.example")
    response = owner_client.post(f"{TEAMS}new/", {"display_name": "Research"})
    team = Team.objects.get(display_name="Research")
    assert response.url == f"{TEAMS}{team.pk}/"
    owner_client.post(f"{TEAMS}{team.pk}/update/", {"email": "GRACE@acme.example"})
    assert list(team.members.values_list("email", flat=True)) == ["grace@acme.example"]
    unknown = owner_client.post(
        f"{TEAMS}{team.pk}/update/", {"email": "who@acme.example"}, follow=True
    )
    assert "is not a member of this organization" in unknown.content.decode()
    owner_client.post(f"{TEAMS}{team.pk}/update/", {"display_name": "R&D"})
    team.refresh_from_db()
    assert team.display_name == "R&D"
    owner_client.post(f"{TEAMS}{team.pk}/delete/")
    assert not Team.objects.filter(pk=team.pk).exists()
    assert Member.objects.filter(email="grace@acme.example").exists()


def test_duplicate_team_name_is_an_error_next_to_the_field(owner_client, organization):
    actions.create_team(organization, display_name="Research", actor=helpers.SYSTEM)
    response = owner_client.post(f"{TEAMS}new/", {"display_name": "research"})
    assert response.status_code == 200
    assert response.context["form"].errors


def test_scim_managed_team_is_labelled_and_locked(owner_client, organization):
    team = actions.create_team(
        organization,
        display_name="Entra group",
        scim_managed=True,
        actor=helpers.SYSTEM,
    )
    page = owner_client.get(f"{TEAMS}{team.pk}/").content.decode()
    assert "Managed by SCIM" in page and "Delete team" not in page
    response = owner_client.post(
        f"{TEAMS}{team.pk}/update/", {"display_name": "Renamed"}, follow=True
    )
    assert "managed by your identity provider" in response.content.decode()
    owner_client.post(f"{TEAMS}{team.pk}/delete/")
    team.refresh_from_db()
    assert team.display_name == "Entra group"


def test_general_settings_are_saved_by_admins_only(client, owner_client, organization):
    response = owner_client.post(
        "/organizations/acme/", {"name": "Acme Corp", "restrict_to_claimed_domains": ""}
    )
    assert response.status_code == 302
    organization.refresh_from_db()
    assert organization.name == "Acme Corp"
    assert not organization.restrict_to_claimed_domains
    blank = owner_client.post("/organizations/acme/", {"name": ""})
    assert blank.context["form"]["name"].errors


def test_switcher_lists_every_organization_of_the_person(owner_client, organization):
    globex = helpers.make_organization("globex", domain="globex.example")
    # acme.example is not globex's domain: the owner joins by accepting the invitation.
    helpers.make_member(globex, "owner@acme.example")
    page = owner_client.get("/organizations/acme/").content.decode()
    assert 'aria-label="Switch organization"' in page
    assert 'href="/organizations/globex/"' in page


def test_account_menu_leads_to_two_factor_setup(owner_client):
    page = owner_client.get("/", follow=True).content.decode()
    assert 'href="/accounts/2fa/"' in page
    mfa = owner_client.get("/accounts/2fa/").content.decode()
    assert "Authenticator app" in mfa
    assert owner_client.get("/accounts/2fa/totp/activate/").status_code in (200, 302)


def test_every_form_carries_a_csrf_token(owner_client, organization):
    for url in [
        "/organizations/acme/",
        f"{MEMBERS}invite/",
        f"{TEAMS}new/",
        "/organizations/acme/access-security/domains/",
        "/organizations/acme/access-security/sso/",
    ]:
        page = owner_client.get(url).content.decode()
        assert page.count('method="post"') <= page.count("csrfmiddlewaretoken"), url


def test_password_reset_mails_a_link(client, owner, mailoutbox):
    page = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/password/reset/"' in page
    response = client.post("/accounts/password/reset/", {"email": "owner@acme.example"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def deactivate_forms(page: str) -> set[str]:
    """The members whose row (or page) offers a Deactivate form, by URL."""
    return set(
        re.findall(r'action="/organizations/acme/members/(\d+)/deactivate/"', page)
    )


def test_the_only_owner_is_offered_no_deactivate_and_told_why(
    owner_client, organization, owner
):
    grace = helpers.make_member(organization, "grace@acme.example")
    page = owner_client.get(MEMBERS).content.decode()
    assert deactivate_forms(page) == {str(grace.pk)}
    assert "Only active owner" in page
    assert "must keep an active owner" in page

    detail = owner_client.get(f"{MEMBERS}{owner.pk}/").content.decode()
    assert deactivate_forms(detail) == set()
    assert f"/members/{owner.pk}/role/" not in detail
    assert 'data-testid="sole-owner-note"' in detail
    assert "make someone else an owner" in detail


def test_own_row_offers_no_deactivate_once_another_owner_exists(
    owner_client, organization, owner
):
    other = helpers.make_member(organization, "other@acme.example", role="owner")
    page = owner_client.get(MEMBERS).content.decode()
    assert deactivate_forms(page) == {str(other.pk)}
    assert "This is you" in page
    detail = owner_client.get(f"{MEMBERS}{owner.pk}/").content.decode()
    assert deactivate_forms(detail) == set()
    assert f"/members/{owner.pk}/role/" in detail
    assert 'data-testid="own-membership-note"' in detail


def test_an_admin_sees_neither_their_own_nor_the_only_owners_deactivate(
    client, organization, owner
):
    ada = helpers.make_member(organization, "ada@acme.example", role="admin")
    grace = helpers.make_member(organization, "grace@acme.example")
    client.login(email="ada@acme.example", password=PASSWORD)
    page = client.get(MEMBERS).content.decode()
    assert deactivate_forms(page) == {str(grace.pk)}
    assert "This is you" in page and "Only active owner" in page
    assert str(ada.pk) not in deactivate_forms(page)


def test_deactivating_yourself_is_refused_with_a_message(client, organization):
    ada = helpers.make_member(organization, "ada@acme.example", role="admin")
    client.login(email="ada@acme.example", password=PASSWORD)
    response = client.post(
        f"{MEMBERS}{ada.pk}/deactivate/", {"next": MEMBERS}, follow=True
    )
    assert response.redirect_chain[-1][0] == MEMBERS
    assert "You cannot deactivate yourself" in response.content.decode()
    ada.refresh_from_db()
    assert ada.is_active
    assert not AuditEvent.objects.filter(action="member.deactivated").exists()
