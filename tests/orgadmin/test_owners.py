"""Owners are managed by owners only, and the organization always keeps one."""

import pytest

from orgadmin import actions
from orgadmin.audit import Actor
from orgadmin.errors import LastOwner, ProtectedOwner
from orgadmin.models import Member
from tests import helpers
from tests.helpers import ScimClient, in_parallel, make_member, make_operator


@pytest.fixture
def admin(organization):
    return make_member(organization, "ada@acme.example", role="admin")


def test_an_admin_cannot_deactivate_remove_demote_or_edit_an_owner(
    organization, owner, admin
):
    attempts = [
        lambda: actions.deactivate_member(owner, actor=admin.user),
        lambda: actions.remove_member(owner, actor=admin.user),
        lambda: actions.change_member_role(owner, role="member", actor=admin.user),
        lambda: actions.update_member(owner, title="Ex-owner", actor=admin.user),
    ]
    for attempt in attempts:
        with pytest.raises(ProtectedOwner):
            attempt()
    owner.refresh_from_db()
    assert (owner.is_active, owner.role, owner.title) == (True, "owner", "")


def test_an_admin_cannot_make_an_owner_but_manages_members_and_admins(
    organization, admin
):
    pat = make_member(organization, "pat@acme.example")
    with pytest.raises(ProtectedOwner):
        actions.change_member_role(pat, role="owner", actor=admin.user)
    actions.change_member_role(pat, role="admin", actor=admin.user)
    actions.update_member(pat, title="Engineer", actor=admin.user)
    actions.deactivate_member(pat, actor=admin.user)
    pat.refresh_from_db()
    assert (pat.role, pat.title, pat.is_active) == ("admin", "Engineer", False)


def test_an_owner_manages_other_owners(organization, owner):
    grace = make_member(organization, "grace@acme.example", role="owner")
    actions.update_member(grace, title="CFO", actor=owner.user)
    actions.deactivate_member(grace, actor=owner.user)
    actions.change_member_role(grace, role="member", actor=owner.user)
    grace.refresh_from_db()
    assert (grace.title, grace.is_active, grace.role) == ("CFO", False, "member")


def test_an_operator_may_manage_owners_but_not_remove_the_last(organization, owner):
    operator = Actor.for_operator(make_operator())
    grace = make_member(organization, "grace@acme.example", role="owner")
    actions.deactivate_member(grace, actor=operator)
    with pytest.raises(LastOwner):
        actions.deactivate_member(owner, actor=operator)
    with pytest.raises(LastOwner):
        actions.remove_member(owner, actor=operator)


def test_a_token_cannot_delete_or_rename_an_owner_but_updates_other_fields(
    organization, owner
):
    scim = ScimClient(helpers.issue_token(organization))
    path = f"Users/{owner.scim_id}"
    assert scim.delete(path).status_code == 403
    for operation in [
        {"op": "replace", "path": "userName", "value": "mallory@acme.example"},
        {"op": "replace", "path": "displayName", "value": "Mallory"},
        {"op": "replace", "path": "emails", "value": [{"value": "m@acme.example"}]},
    ]:
        response = helpers.patch(scim, str(owner.scim_id), operation)
        helpers.assert_error(response, 403)
        assert "owners are managed in orgadmin" in response.json()["detail"]
    title = helpers.patch(
        scim, str(owner.scim_id), {"op": "replace", "path": "title", "value": "CEO"}
    )
    assert title.status_code == 200 and title.json()["title"] == "CEO"
    owner.refresh_from_db()
    assert (owner.user_name, owner.is_active) == ("owner@acme.example", True)
    assert Member.objects.filter(pk=owner.pk).exists()


def test_an_admin_deactivating_an_owner_in_the_ui_is_refused(client, owner, admin):
    client.login(email="ada@acme.example", password=helpers.PASSWORD)
    members = "/organizations/acme/members/"
    response = client.post(f"{members}{owner.pk}/deactivate/", follow=True)
    assert "Only an owner can deactivate or reactivate an owner" in (
        response.content.decode()
    )
    owner.refresh_from_db()
    assert owner.is_active


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_owners_deactivated_in_parallel_always_leave_one_active():
    organization = helpers.make_organization()
    operator = Actor.for_operator(make_operator())
    first = organization.members.get(role="owner")
    second = make_member(organization, "grace@acme.example", role="owner")
    owners = [first, second]
    for _ in range(8):
        Member.objects.filter(pk__in=[o.pk for o in owners]).update(is_active=True)
        results = in_parallel(
            *[lambda o=o: actions.deactivate_member(o, actor=operator) for o in owners]
        )
        refused = [r for r in results if isinstance(r, Exception)]
        assert len(refused) == 1 and isinstance(refused[0], LastOwner), results
        assert organization.members.filter(role="owner", is_active=True).count() == 1
