"""Transferring or sharing ownership, and IdP groups mapped to the admin role."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgadmin import actions
from orgadmin.errors import InvalidValue, NotPermitted
from orgadmin.models import AuditEvent, Member, Team
from tests import helpers
from tests.helpers import PASSWORD, ScimClient, create, member_of

MEMBERS = "/organizations/acme/members/"
TEAMS = "/organizations/acme/teams/"


def roles(organization) -> dict[str, str]:
    return dict(organization.members.values_list("email", "role"))


# ---------------------------------------------------------------------------- ownership


def test_an_owner_transfers_ownership_after_confirming(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    detail = owner_client.get(f"{MEMBERS}{grace.pk}/").content.decode()
    assert f"/members/{grace.pk}/ownership/" in detail
    # The role select offers no Owner: that goes through the confirmation.
    assert '<option value="owner"' not in detail
    confirm = owner_client.get(f"{MEMBERS}{grace.pk}/ownership/")
    assert confirm.status_code == 200
    assert "Transfer ownership" in confirm.content.decode()
    assert roles(organization)["grace@acme.example"] == "member"

    response = owner_client.post(
        f"{MEMBERS}{grace.pk}/ownership/", {"change": "transfer"}, follow=True
    )
    assert "grace@acme.example is now an owner; you are now an admin." in (
        response.content.decode()
    )
    assert roles(organization) == {
        "owner@acme.example": "admin",
        "grace@acme.example": "owner",
    }
    events = AuditEvent.objects.filter(action="member.role_changed").order_by("pk")
    assert [(e.target_label, e.changes["role"]["to"]) for e in events] == [
        ("grace@acme.example", "owner"),
        ("owner@acme.example", "admin"),
    ]


def test_an_owner_adds_another_owner_and_stays_owner(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    owner_client.post(f"{MEMBERS}{grace.pk}/ownership/", {"change": "add"})
    assert roles(organization) == {
        "owner@acme.example": "owner",
        "grace@acme.example": "owner",
    }


def test_an_admin_cannot_reach_the_ownership_page(client, organization):
    helpers.make_member(organization, "ada@acme.example", role="admin")
    grace = helpers.make_member(organization, "grace@acme.example")
    client.login(email="ada@acme.example", password=PASSWORD)
    assert client.get(f"{MEMBERS}{grace.pk}/ownership/").status_code == 404
    assert (
        client.post(f"{MEMBERS}{grace.pk}/ownership/", {"change": "transfer"})
    ).status_code == 404
    assert roles(organization)["grace@acme.example"] == "member"
    with pytest.raises(NotPermitted):
        actions.transfer_ownership(
            organization,
            to_member=grace,
            actor=organization.members.get(email="ada@acme.example").user,
        )


def test_ownership_goes_only_to_an_active_member_with_an_account(
    owner_client, organization, owner
):
    pending = actions.add_member(
        organization, email="new@acme.example", actor=helpers.SYSTEM
    )
    response = owner_client.post(
        f"{MEMBERS}{pending.pk}/ownership/", {"change": "transfer"}
    )
    assert response.status_code == 200
    assert "only an active member who has signed in" in response.content.decode()
    grace = helpers.make_member(organization, "grace@acme.example")
    actions.deactivate_member(grace, actor=helpers.SYSTEM)
    with pytest.raises(InvalidValue):
        actions.transfer_ownership(organization, to_member=grace, actor=owner.user)
    assert roles(organization)["owner@acme.example"] == "owner"


def test_another_organizations_member_cannot_be_made_owner(owner_client, organization):
    other = helpers.make_organization("globex", domain="globex.example")
    stranger = other.members.get()
    assert (
        owner_client.post(f"{MEMBERS}{stranger.pk}/ownership/", {"change": "add"})
    ).status_code == 404


def test_an_admin_sees_an_owners_role_as_owner_read_only(client, organization, owner):
    helpers.make_member(organization, "other@acme.example", role="owner")
    helpers.make_member(organization, "ada@acme.example", role="admin")
    client.login(email="ada@acme.example", password=PASSWORD)
    page = client.get(f"{MEMBERS}{owner.pk}/").content.decode()
    assert f"/members/{owner.pk}/role/" not in page
    assert '<dd data-testid="role-read-only">Owner</dd>' in page
    assert "Only an owner can change an owner's role." in page


# ------------------------------------------------------------------------- team roles


@pytest.fixture
def scim(organization):
    return ScimClient(helpers.issue_token(organization))


def scim_group(scim, name, *users):
    response = scim.post(
        "Groups",
        {
            "schemas": [helpers.GROUP],
            "displayName": name,
            "members": [{"value": u["id"]} for u in users],
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_members_of_a_group_granting_admin_gain_and_lose_the_role(
    owner_client, organization, scim
):
    alice = create(scim, "alice@acme.example")
    bob = create(scim, "bob@acme.example")
    group = scim_group(scim, "Orgadmin Admins", alice)
    team = Team.objects.get(scim_id=group["id"])

    response = owner_client.post(f"{TEAMS}{team.pk}/role/", {"grants_role": "admin"})
    assert response.status_code == 302
    assert member_of(alice).role == "admin"

    helpers.patch_group(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": bob["id"]}]},
    )
    assert member_of(bob).role == "admin"
    helpers.patch_group(
        scim,
        group["id"],
        {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
    )
    assert member_of(alice).role == "member"
    event = AuditEvent.objects.filter(
        action="member.role_changed", target_id=str(member_of(alice).pk)
    ).latest("pk")
    assert event.changes == {
        "role": {"from": "admin", "to": "member"},
        "team": "Orgadmin Admins",
    }
    assert event.actor_type == AuditEvent.ActorType.SCIM_TOKEN

    owner_client.post(f"{TEAMS}{team.pk}/role/", {"grants_role": ""})
    assert member_of(bob).role == "member"


def test_a_group_never_demotes_an_owner_nor_a_role_given_by_hand(
    organization, owner, scim
):
    alice = create(scim, "alice@acme.example")
    actions.change_member_role(member_of(alice), role="admin", actor=helpers.SYSTEM)
    group = scim_group(scim, "Admins", alice)
    team = Team.objects.get(scim_id=group["id"])
    actions.update_team(team, add_member_ids=[owner.pk], actor=helpers.SYSTEM)
    actions.set_team_grants_role(team, grants_role="admin", actor=owner.user)
    actions.set_team_grants_role(team, grants_role="", actor=owner.user)
    owner.refresh_from_db()
    assert owner.role == "owner"
    assert member_of(alice).role == "admin"


def test_a_member_on_two_granting_groups_keeps_the_role_until_leaving_both(
    organization, owner, scim
):
    alice = create(scim, "alice@acme.example")
    first = Team.objects.get(scim_id=scim_group(scim, "Admins A", alice)["id"])
    second = Team.objects.get(scim_id=scim_group(scim, "Admins B", alice)["id"])
    for team in (first, second):
        actions.set_team_grants_role(team, grants_role="admin", actor=owner.user)
    member = member_of(alice)
    actions.remove_team_members(first, member_ids=[member.pk], actor=helpers.SYSTEM)
    assert member_of(alice).role == "admin"
    actions.remove_team_members(second, member_ids=[member.pk], actor=helpers.SYSTEM)
    assert member_of(alice).role == "member"


def test_only_owners_map_groups_and_only_scim_groups(organization, scim):
    ada = helpers.make_member(organization, "ada@acme.example", role="admin")
    alice = create(scim, "alice@acme.example")
    team = Team.objects.get(scim_id=scim_group(scim, "Admins", alice)["id"])
    client = Client()
    client.login(email="ada@acme.example", password=PASSWORD)
    page = client.get(f"{TEAMS}{team.pk}/").content.decode()
    assert 'data-testid="team-role-form"' not in page
    response = client.post(
        f"{TEAMS}{team.pk}/role/", {"grants_role": "admin"}, follow=True
    )
    assert "Only an owner can map a team to a role." in response.content.decode()
    assert member_of(alice).role == "member"
    manual = actions.create_team(organization, display_name="Manual", actor=ada.user)
    owner = organization.members.get(role="owner")
    with pytest.raises(InvalidValue):
        actions.set_team_grants_role(manual, grants_role="admin", actor=owner.user)
    with pytest.raises(InvalidValue):
        actions.set_team_grants_role(team, grants_role="owner", actor=owner.user)


def test_another_organizations_team_role_is_404(owner_client, organization):
    other = helpers.make_organization("globex", domain="globex.example")
    team = actions.create_team(other, display_name="X", actor=helpers.SYSTEM)
    assert (
        owner_client.post(f"{TEAMS}{team.pk}/role/", {"grants_role": "admin"})
    ).status_code == 404


def test_a_team_granting_no_role_costs_no_role_query(organization, scim):
    alice = create(scim, "alice@acme.example")
    team = Team.objects.get(scim_id=scim_group(scim, "Plain")["id"])
    member = member_of(alice)
    with CaptureQueriesContext(connection) as queries:
        actions.add_team_members(team, member_ids=[member.pk], actor=helpers.SYSTEM)
    sql = [q["sql"] for q in queries]
    assert not any('"role"' in q and "UPDATE" in q for q in sql), sql
    assert not any("role_granted_by_team" in q for q in sql), sql
    assert Member.objects.get(pk=member.pk).role == "member"
