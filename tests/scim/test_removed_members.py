"""A SCIM DELETE keeps a restorable record for 30 days: gone at once for SCIM and for
access, restorable by an owner with teams and SCIM id, then purged for good."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from orgadmin import actions
from orgadmin.errors import AlreadyExists, NoLongerExists, NotPermitted
from orgadmin.models import AuditEvent, Member, RemovedMember, Team
from tests import helpers


@pytest.fixture
def removed(organization, scim):
    """pat, in the team Sales with kim, deleted by the identity provider."""
    pat = helpers.create(
        scim,
        "pat@acme.example",
        externalId="pat-1",
        displayName="Pat",
        emails=[{"value": "pat@acme.example", "type": "work", "primary": True}],
    )
    kim = helpers.create(scim, "kim@acme.example")
    group = scim.post(
        "Groups",
        {
            "schemas": [helpers.GROUP],
            "displayName": "Sales",
            "members": [{"value": pat["id"]}, {"value": kim["id"]}],
        },
    ).json()
    pk = helpers.member_of(pat).pk
    assert scim.delete(f"Users/{pat['id']}").status_code == 204
    return pat, kim, group, pk


def test_a_deleted_member_is_gone_at_once_for_scim(scim, owner, removed):
    pat, kim, group, _ = removed
    assert scim.get(f"Users/{pat['id']}").status_code == 404
    listed = scim.get("Users").json()["Resources"]
    assert {user["id"] for user in listed} == {kim["id"], str(owner.scim_id)}
    assert (
        scim.get('Users?filter=userName eq "pat@acme.example"').json()["totalResults"]
        == 0
    )
    assert scim.get('Users?filter=externalId eq "pat-1"').json()["totalResults"] == 0
    members = scim.get(f"Groups/{group['id']}").json()["members"]
    assert [m["value"] for m in members] == [kim["id"]]
    assert not Member.objects.filter(scim_id=pat["id"]).exists()


def test_a_new_post_of_the_same_user_name_and_external_id_creates_a_new_member(
    scim, removed
):
    pat, *_ = removed
    again = helpers.create(scim, "pat@acme.example", externalId="pat-1")
    assert again["id"] != pat["id"]
    assert RemovedMember.objects.filter(scim_id=pat["id"]).exists()


def test_an_owner_restores_the_member_with_teams_emails_and_scim_id(
    organization, scim, owner, removed
):
    pat, kim, group, pk = removed
    record = organization.removed_members.get()

    member = actions.restore_member(record, actor=owner.user)

    assert (member.pk, str(member.scim_id)) == (pk, pat["id"])
    user = scim.get(f"Users/{pat['id']}").json()
    assert (user["userName"], user["externalId"], user["displayName"]) == (
        "pat@acme.example",
        "pat-1",
        "Pat",
    )
    assert user["emails"] == pat["emails"]
    assert [g["value"] for g in user["groups"]] == [group["id"]]
    assert helpers.member_ids(group) == {pat["id"], kim["id"]}
    assert not RemovedMember.objects.exists()
    event = AuditEvent.objects.get(action="member.restored")
    assert event.changes["teams"] == ["Sales"]


def test_restoring_while_a_new_member_holds_the_user_name_is_refused(
    organization, scim, owner, removed
):
    helpers.create(scim, "pat@acme.example")
    record = organization.removed_members.get()

    with pytest.raises(AlreadyExists, match="pat@acme.example exists now"):
        actions.restore_member(record, actor=owner.user)
    assert RemovedMember.objects.filter(pk=record.pk).exists()
    assert Member.objects.filter(user_name="pat@acme.example").count() == 1


def test_an_admin_cannot_restore(organization, removed):
    admin = helpers.make_member(organization, "admin@acme.example", role="admin")
    with pytest.raises(NotPermitted):
        actions.restore_member(organization.removed_members.get(), actor=admin.user)


def test_purge_removes_for_good_only_what_is_older_than_thirty_days(
    organization, scim, removed
):
    recent = helpers.create(scim, "lee@acme.example")
    scim.delete(f"Users/{recent['id']}")
    RemovedMember.objects.filter(user_name="pat@acme.example").update(
        removed_at=timezone.now() - timedelta(days=30, minutes=1)
    )

    call_command("purge_removed_members")

    assert list(RemovedMember.objects.values_list("user_name", flat=True)) == [
        "lee@acme.example"
    ]
    assert AuditEvent.objects.filter(action="member.purged").count() == 1


def test_a_purged_member_can_no_longer_be_restored(organization, owner, removed):
    record = organization.removed_members.get()
    actions.purge_removed_members(
        actor=helpers.SYSTEM, at=timezone.now() + timedelta(days=31)
    )
    with pytest.raises(NoLongerExists):
        actions.restore_member(record, actor=owner.user)


def test_nothing_is_lost_or_invented_across_delete_and_restore(
    organization, scim, owner, removed
):
    pat, kim, group, _ = removed
    before = {
        "members": Member.objects.count(),
        "teams": Team.objects.count(),
    }
    actions.restore_member(organization.removed_members.get(), actor=owner.user)
    assert Member.objects.count() == before["members"] + 1
    assert Team.objects.count() == before["teams"]
    ids = {user["id"] for user in scim.get("Users").json()["Resources"]}
    assert ids == {pat["id"], kim["id"], str(owner.scim_id)}
