"""The deprovisioning brake: too many SCIM deactivations and deletes within an hour are
refused whole with 503, until an owner reviews and presses Resume."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from orgadmin import actions
from orgadmin.errors import NotPermitted
from orgadmin.models import (
    AuditEvent,
    Deprovisioning,
    DeprovisioningBrake,
    Member,
)
from tests import helpers
from tests.helpers import SYSTEM, ScimClient

DEACTIVATE = {"op": "replace", "path": "active", "value": False}


def provisioned_yesterday(organization, count, *, prefix="person"):
    """`count` SCIM members, provisioned before the brake's window began: every
    member's created_at, the owner's too, is put a day back, as if Entra ID had
    synced them yesterday."""
    members = [
        actions.provision_member(
            organization,
            user_name=f"{prefix}{index}@{organization.slug}.example",
            external_id=f"{prefix}-{index}",
            actor=SYSTEM,
        )
        for index in range(count)
    ]
    Member.objects.for_organization(organization).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    return [str(m.scim_id) for m in members]


def deactivate(scim, scim_id):
    return helpers.patch(scim, scim_id, DEACTIVATE)


def active_count(organization):
    return Member.objects.for_organization(organization).active().count()


def assert_paused(response):
    body = helpers.assert_error(response, 503)
    assert response["Retry-After"].isdigit() and int(response["Retry-After"]) > 0
    assert "Resume" in body["detail"]
    return body


def test_the_brake_trips_on_the_deactivation_that_exceeds_twenty_percent(
    organization, scim
):
    # 60 provisioned + the owner = 61 active when the window began: 20% is 12.2, so
    # the 12th deactivation applies and the 13th would exceed it.
    ids = provisioned_yesterday(organization, 60)
    for scim_id in ids[:12]:
        assert deactivate(scim, scim_id).status_code == 200
    assert active_count(organization) == 61 - 12

    assert_paused(deactivate(scim, ids[12]))
    assert Member.objects.get(scim_id=ids[12]).is_active
    assert active_count(organization) == 61 - 12
    brake = DeprovisioningBrake.objects.get(organization=organization)
    assert brake.is_tripped


def test_the_brake_trips_on_the_delete_that_exceeds_the_share(organization, scim):
    ids = provisioned_yesterday(organization, 60)
    for scim_id in ids[:12]:
        assert scim.delete(f"Users/{scim_id}").status_code == 204

    assert_paused(scim.delete(f"Users/{ids[12]}"))
    assert scim.get(f"Users/{ids[12]}").status_code == 200
    assert Member.objects.for_organization(organization).count() == 61 - 12


def test_a_small_organization_loses_nine_members_before_the_minimum_of_ten(
    organization, scim
):
    # 20 active: 20% is 4, but the brake never trips below 10 requests.
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:5]:
        assert deactivate(scim, scim_id).status_code == 200
    for scim_id in ids[5:9]:
        assert scim.delete(f"Users/{scim_id}").status_code == 204

    assert_paused(deactivate(scim, ids[9]))
    assert_paused(scim.delete(f"Users/{ids[10]}"))
    assert active_count(organization) == 20 - 9


def test_once_tripped_every_further_deprovisioning_is_refused(organization, scim):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:9]:
        deactivate(scim, scim_id)
    for scim_id in ids[9:14]:
        assert_paused(deactivate(scim, scim_id))
    held = Deprovisioning.objects.for_organization(organization).held_back()
    assert sorted(str(h.member_scim_id) for h in held) == sorted(ids[9:14])
    assert all(h.token_label.startswith('SCIM token "Entra"') for h in held)
    assert all(h.token is not None for h in held)
    # One trip, one audit event.
    assert (
        AuditEvent.objects.filter(
            organization=organization, action="deprovisioning.tripped"
        ).count()
        == 1
    )


def test_a_refused_patch_applies_none_of_its_operations(organization, scim):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:9]:
        deactivate(scim, scim_id)
    target = Member.objects.get(scim_id=ids[9])
    events_before = AuditEvent.objects.filter(action__startswith="member.").count()

    response = helpers.patch(
        scim,
        ids[9],
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {"op": "replace", "value": {"active": "False"}},
    )

    assert_paused(response)
    target.refresh_from_db()
    assert (target.display_name, target.is_active) == ("", True)
    assert target.version == Member.objects.get(pk=target.pk).version
    assert scim.get(f"Users/{ids[9]}").json()["active"] is True
    assert (
        AuditEvent.objects.filter(action__startswith="member.").count() == events_before
    )


def test_a_put_with_active_false_counts_and_is_refused_whole(organization, scim):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:9]:
        user = scim.get(f"Users/{scim_id}").json()
        response = scim.put(
            f"Users/{scim_id}", helpers.user_body(user["userName"], active=False)
        )
        assert response.status_code == 200, response.content
    user = scim.get(f"Users/{ids[9]}").json()

    response = scim.put(
        f"Users/{ids[9]}",
        helpers.user_body(user["userName"], active=False, displayName="Renamed"),
    )

    assert_paused(response)
    member = Member.objects.get(scim_id=ids[9])
    assert (member.display_name, member.is_active) == ("", True)


def test_requests_that_take_no_access_away_still_apply_while_tripped(
    organization, scim
):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:10]:
        deactivate(scim, scim_id)
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped

    created = helpers.create(scim, "newcomer@acme.example")
    renamed = helpers.patch(
        scim, ids[15], {"op": "replace", "path": "displayName", "value": "Kim"}
    )
    group = scim.post(
        "Groups",
        {
            "schemas": [helpers.GROUP],
            "displayName": "Sales",
            "members": [{"value": ids[16]}, {"value": ids[17]}],
        },
    )
    group_id = group.json()["id"]
    removed_from_group = helpers.patch_group(
        scim,
        group_id,
        {"op": "remove", "path": f'members[value eq "{ids[17]}"]'},
    )
    reactivated = helpers.patch(
        scim, ids[0], {"op": "replace", "path": "active", "value": True}
    )
    # Already inactive: a delete takes no access away.
    deleted_inactive = scim.delete(f"Users/{ids[1]}")

    assert created["active"] is True
    assert renamed.status_code == 200 and renamed.json()["displayName"] == "Kim"
    assert group.status_code == 201
    assert removed_from_group.status_code == 204
    assert helpers.member_ids(group.json()) == {ids[16]}
    assert reactivated.status_code == 200 and reactivated.json()["active"] is True
    assert deleted_inactive.status_code == 204
    assert scim.get("Users").status_code == 200


def test_reactivations_do_not_give_back_room_in_the_window(organization, scim):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:9]:
        deactivate(scim, scim_id)
        helpers.patch(scim, scim_id, {"op": "replace", "path": "active", "value": True})

    assert_paused(deactivate(scim, ids[9]))


def test_unchanged_requests_and_people_in_the_ui_do_not_count(
    organization, scim, owner
):
    ids = provisioned_yesterday(organization, 19)
    # Deactivating an inactive member changes nothing: not counted.
    for scim_id in ids[:9]:
        deactivate(scim, scim_id)
    for _ in range(3):
        assert deactivate(scim, ids[0]).status_code == 200
    # A person deactivating in the UI is not the identity provider.
    for scim_id in ids[9:15]:
        actions.deactivate_member(Member.objects.get(scim_id=scim_id), actor=owner.user)

    assert deactivate(scim, ids[15]).status_code == 503
    assert Deprovisioning.objects.for_organization(organization).applied().count() == 9


def test_another_organization_is_not_braked(organization, scim, other_organization):
    other_scim = ScimClient(helpers.issue_token(other_organization))
    ids = provisioned_yesterday(organization, 19)
    other_ids = provisioned_yesterday(other_organization, 19, prefix="other")
    for scim_id in ids[:10]:
        deactivate(scim, scim_id)

    for scim_id in other_ids[:9]:
        assert deactivate(other_scim, scim_id).status_code == 200
    assert not DeprovisioningBrake.objects.get(
        organization=other_organization
    ).is_tripped


def test_owners_and_admins_are_emailed_once_when_the_brake_trips(
    organization, scim, django_capture_on_commit_callbacks
):
    helpers.make_member(organization, "admin@acme.example", role=Member.Role.ADMIN)
    helpers.make_member(organization, "plain@acme.example")
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:9]:
        deactivate(scim, scim_id)

    with django_capture_on_commit_callbacks(execute=True):
        deactivate(scim, ids[9])
        deactivate(scim, ids[10])

    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["admin@acme.example", "owner@acme.example"]
    assert "quarantine" in mail.outbox[0].body
    assert "/organizations/acme/access-security/scim/" in mail.outbox[0].body


def test_resume_clears_the_trip_and_starts_a_fresh_window(organization, scim, owner):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:10]:
        deactivate(scim, scim_id)

    actions.resume_deprovisioning(organization, actor=owner.user)

    # The identity provider retries the held-back one; the new window has room.
    for scim_id in ids[9:18]:
        assert deactivate(scim, scim_id).status_code == 200
    event = AuditEvent.objects.get(action="deprovisioning.resumed")
    assert event.changes["held_back"] == 1


def test_only_an_owner_resumes_or_changes_the_threshold(organization, scim):
    admin = helpers.make_member(organization, "admin@acme.example", role="admin")
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:10]:
        deactivate(scim, scim_id)

    with pytest.raises(NotPermitted):
        actions.resume_deprovisioning(organization, actor=admin.user)
    with pytest.raises(NotPermitted):
        actions.update_deprovisioning_brake(
            organization, share_percent=50, minimum=50, actor=admin.user
        )
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped


def test_a_threshold_above_the_current_count_clears_the_trip(organization, scim, owner):
    ids = provisioned_yesterday(organization, 19)
    for scim_id in ids[:10]:
        deactivate(scim, scim_id)

    # Still no room for a tenth: the trip stays.
    actions.update_deprovisioning_brake(
        organization, share_percent=20, minimum=10, actor=owner.user
    )
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped
    actions.update_deprovisioning_brake(
        organization, share_percent=20, minimum=11, actor=owner.user
    )

    assert not DeprovisioningBrake.objects.get(organization=organization).is_tripped
    assert deactivate(scim, ids[9]).status_code == 200
    assert_paused(deactivate(scim, ids[10]))
    event = AuditEvent.objects.get(action="deprovisioning.brake_changed")
    assert event.changes["minimum"] == {"from": 10, "to": 11}
    assert event.changes["tripped_at"]["to"] is None


def test_a_lower_share_trips_earlier_for_that_organization_only(
    organization, scim, owner
):
    ids = provisioned_yesterday(organization, 19)
    actions.update_deprovisioning_brake(
        organization, share_percent=10, minimum=1, actor=owner.user
    )
    # 20 active at the start: 10% is 2.
    for scim_id in ids[:2]:
        assert deactivate(scim, scim_id).status_code == 200
    assert_paused(deactivate(scim, ids[2]))
