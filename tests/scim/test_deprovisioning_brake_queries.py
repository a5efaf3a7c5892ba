"""What the deprovisioning brake costs a counted request: a fixed number of queries,
whatever the organization's size, for the same decisions as counting every member.

The brake runs inside every SCIM deactivation and delete, so its queries are pinned
here; its decisions are tested over HTTP in test_deprovisioning_brake.py.
"""

import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from orgadmin import actions
from orgadmin.actions.deprovisioning import brake_deprovisioning, window_counts
from orgadmin.audit import Actor
from orgadmin.errors import DeprovisioningPaused
from orgadmin.models import (
    AuditEvent,
    Deprovisioning,
    DeprovisioningBrake,
    Member,
    ScimToken,
)
from tests import helpers
from tests.helpers import SYSTEM

DEACTIVATE = {"op": "replace", "path": "active", "value": False}


def members_from_yesterday(organization, count):
    """`count` active members, inserted in bulk (building the data is not what is
    measured) and, with the owner, created a day back: all active when the brake's
    window began."""
    Member.objects.bulk_create(
        Member(
            organization=organization,
            user_name=f"m{n}@acme.example",
            scim_id=uuid.uuid4(),
        )
        for n in range(count)
    )
    Member.objects.for_organization(organization).update(
        created_at=timezone.now() - timedelta(days=1)
    )
    return list(
        Member.objects.for_organization(organization).filter(user_name__startswith="m")
    )


def token_actor(organization):
    helpers.issue_token(organization)
    return Actor.for_scim_token(ScimToken.objects.get(organization=organization))


def brake(member, actor):
    """The brake for a deactivation of `member`, as update_member calls it."""
    brake_deprovisioning(member, actor=actor, kind=Deprovisioning.Kind.DEACTIVATION)


def applied_requests_back(organization, age, count=1):
    """`count` applied requests made `age` ago, as the brake records them (and its
    row, which they imply)."""
    DeprovisioningBrake.objects.get_or_create(organization=organization)
    at = timezone.now() - age
    Deprovisioning.objects.bulk_create(
        Deprovisioning(
            organization=organization,
            created_at=at,
            kind=Deprovisioning.Kind.DEACTIVATION,
            member_scim_id=uuid.uuid4(),
            member_label=f"gone{n}",
            token_label="Entra",
        )
        for n in range(count)
    )


@pytest.fixture(params=[30, 3000], ids=["small", "large"])
def sized(request, organization):
    return members_from_yesterday(organization, request.param)


def test_a_counted_deactivation_costs_the_brake_three_queries(
    organization, sized, django_assert_num_queries
):
    actor = token_actor(organization)
    actions.deactivate_member(sized[0], actor=actor)

    # The brake row's lock, one SELECT of the window, the INSERT of the request.
    with transaction.atomic(), django_assert_num_queries(3):
        brake(sized[1], actor)

    assert Deprovisioning.objects.for_organization(organization).applied().count() == 2


def test_the_brake_deletes_the_old_requests_at_most_once_a_window(
    organization, sized, django_assert_num_queries
):
    actor = token_actor(organization)
    # Older than the window, younger than two: not counted, and not deleted yet.
    applied_requests_back(organization, timedelta(minutes=90), count=5)
    with transaction.atomic(), django_assert_num_queries(3):
        brake(sized[0], actor)
    applied = Deprovisioning.objects.for_organization(organization).applied()
    assert applied.count() == 6

    # Once one is two windows old, the next request deletes all those older than
    # one window (and itself is then the oldest left).
    applied.filter(created_at__lt=timezone.now() - timedelta(minutes=60)).update(
        created_at=timezone.now() - timedelta(minutes=121)
    )
    with transaction.atomic(), django_assert_num_queries(4):
        brake(sized[1], actor)
    assert applied.count() == 2
    with transaction.atomic(), django_assert_num_queries(3):
        brake(sized[2], actor)
    assert applied.count() == 3


def test_old_requests_left_in_place_are_not_counted(organization, scim):
    members_from_yesterday(organization, 59)
    # 60 active: 20% is 12. Twenty requests of 90 minutes ago take no room.
    applied_requests_back(organization, timedelta(minutes=90), count=20)
    users = scim.get("Users?count=100").json()["Resources"]
    ids = [u["id"] for u in users if u["userName"].startswith("m")]

    for scim_id in ids[:12]:
        assert helpers.patch(scim, scim_id, DEACTIVATE).status_code == 200
    assert helpers.patch(scim, ids[12], DEACTIVATE).status_code == 503


def test_a_large_organization_trips_at_the_exact_request_with_the_exact_count(
    organization, scim, owner
):
    # 300 members and the owner; 1% of 301 is 3.01, so the 4th request trips. The
    # brake reads only as many members as the decision needs: 101 for the first
    # request (there is room), all of them for the 4th.
    members = members_from_yesterday(organization, 300)
    actions.update_deprovisioning_brake(
        organization, share_percent=1, minimum=1, actor=owner.user
    )
    for member in members[:3]:
        response = helpers.patch(scim, str(member.scim_id), DEACTIVATE)
        assert response.status_code == 200

    refused = helpers.patch(scim, str(members[3].scim_id), DEACTIVATE)
    again = helpers.patch(scim, str(members[4].scim_id), DEACTIVATE)

    for response in (refused, again):
        body = helpers.assert_error(response, 503)
        assert "took access away from 3 of 301 active members" in body["detail"]
    event = AuditEvent.objects.get(action="deprovisioning.tripped")
    assert (event.changes["count"], event.changes["active_at_start"]) == (3, 301)
    brake = DeprovisioningBrake.objects.get(organization=organization)
    assert window_counts(brake, timezone.now()) == (3, 301)


def test_a_large_organization_with_room_counts_every_request(organization, sized):
    actor = token_actor(organization)
    # The owner too is active: 20% of them, and never fewer than 9, apply; the
    # next one trips.
    active = len(sized) + 1
    room = max(9, active // 5)
    for member in sized[:room]:
        actions.deactivate_member(member, actor=actor)

    with pytest.raises(DeprovisioningPaused) as paused:
        actions.deactivate_member(sized[room], actor=actor)
    assert f"from {room} of {active} active" in str(paused.value)


def test_a_refused_request_while_tripped_costs_the_brake_two_queries(
    organization, django_assert_num_queries
):
    members = members_from_yesterday(organization, 19)
    actor = token_actor(organization)
    for member in members[:9]:
        actions.deactivate_member(member, actor=actor)
    with pytest.raises(DeprovisioningPaused):
        actions.deactivate_member(members[9], actor=actor)
    assert DeprovisioningBrake.objects.get(organization=organization).is_tripped

    # The lock and one SELECT of the exact counts for the message; nothing written.
    with (
        transaction.atomic(),
        django_assert_num_queries(2),
        pytest.raises(DeprovisioningPaused) as paused,
    ):
        brake(members[10], actor)
    assert "from 9 of 20 active" in str(paused.value)


def test_people_and_the_system_cost_the_brake_no_query(
    organization, owner, django_assert_num_queries
):
    member = members_from_yesterday(organization, 1)[0]
    person = Actor.for_user(owner.user)
    with transaction.atomic(), django_assert_num_queries(0):
        brake(member, SYSTEM)
        brake(member, person)


def test_the_members_read_are_enough_when_the_share_does_not_divide_evenly(
    organization, scim, owner
):
    # 4 active, 30%, minimum 1: 1 of 4 is 25% and applies; 2 of 4 is 50% and trips.
    # Room for the first needs 100 / 30 = 3.33 members, so the brake must read 4 of
    # them, not 3, to see it.
    members = members_from_yesterday(organization, 3)
    actions.update_deprovisioning_brake(
        organization, share_percent=30, minimum=1, actor=owner.user
    )

    assert helpers.patch(scim, str(members[0].scim_id), DEACTIVATE).status_code == 200
    refused = helpers.patch(scim, str(members[1].scim_id), DEACTIVATE)
    body = helpers.assert_error(refused, 503)
    assert "took access away from 1 of 4 active members" in body["detail"]
