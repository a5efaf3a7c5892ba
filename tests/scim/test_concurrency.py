"""Entra ID sends requests in parallel and re-sends timed-out creates: real parallel
requests against PostgreSQL, where the database constraints and row locks decide."""

import threading
import uuid

import pytest
from django.db import connection

from orgadmin.models import Member, Team, TeamMembership
from tests import helpers
from tests.scim.conftest import ScimClient
from tests.scim.test_groups import GROUP
from tests.scim.test_users import PATCH_OP, USER

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def in_parallel(*calls):
    """Run the calls at the same moment, each in its own thread and connection."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.fixture
def secret():
    organization = helpers.make_organization()
    return helpers.issue_token(organization)


def test_the_loser_of_two_identical_user_creates_gets_409_not_500(secret):
    body = {"schemas": [USER], "userName": "pat@acme.example", "externalId": "pat"}
    for _ in range(3):
        Member.objects.filter(user_name="pat@acme.example").delete()
        responses = in_parallel(
            *[lambda: ScimClient(secret).post("Users", body) for _ in range(4)]
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [201, 409, 409, 409], statuses
        conflict = next(r for r in responses if r.status_code == 409).json()
        assert conflict["scimType"] == "uniqueness" and conflict["status"] == "409"
        assert Member.objects.filter(user_name="pat@acme.example").count() == 1


def test_the_loser_of_two_identical_group_creates_gets_409(secret):
    body = {"schemas": [GROUP], "displayName": "Engineering"}
    responses = in_parallel(
        *[lambda: ScimClient(secret).post("Groups", body) for _ in range(4)]
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
    assert Team.objects.filter(display_name="Engineering").count() == 1


def test_concurrent_membership_changes_to_one_group_lose_nothing(secret):
    client = ScimClient(secret)
    organization = Member.objects.get(role="owner").organization
    Member.objects.bulk_create(
        Member(
            organization=organization,
            user_name=f"m{n}@acme.example",
            scim_id=uuid.uuid4(),
        )
        for n in range(200)
    )
    ids = [
        str(i)
        for i in Member.objects.filter(user_name__startswith="m")
        .order_by("user_name")
        .values_list("scim_id", flat=True)
    ]
    group = client.post(
        "Groups",
        {
            "schemas": [GROUP],
            "displayName": "Big",
            "members": [{"value": i} for i in ids[:50]],
        },
    ).json()

    def change(op, chunk):
        def call():
            return ScimClient(secret).patch(
                f"Groups/{group['id']}",
                {
                    "schemas": [PATCH_OP],
                    "Operations": [
                        {
                            "op": op,
                            "path": "members",
                            "value": [{"value": i} for i in chunk],
                        }
                    ],
                },
            )

        return call

    # Eight requests at once: six add disjoint sets, two remove parts of the first 50.
    calls = [change("Add", ids[50 + 25 * n : 75 + 25 * n]) for n in range(6)]
    calls += [change("Remove", ids[0:10]), change("Remove", ids[10:20])]
    responses = in_parallel(*calls)
    assert [r.status_code for r in responses] == [204] * 8
    kept = set(
        str(i)
        for i in TeamMembership.objects.filter(team__scim_id=group["id"]).values_list(
            "member__scim_id", flat=True
        )
    )
    assert kept == set(ids[20:200])


def test_parallel_deactivation_and_rename_of_one_user_both_apply(secret):
    client = ScimClient(secret)
    user = client.post(
        "Users", {"schemas": [USER], "userName": "kim@acme.example"}
    ).json()

    def operation(op):
        return lambda: ScimClient(secret).patch(
            f"Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": [op]}
        )

    responses = in_parallel(
        operation({"op": "Replace", "path": "active", "value": "False"}),
        operation({"op": "Replace", "path": "displayName", "value": "Kim"}),
        operation({"op": "Add", "path": "title", "value": "CTO"}),
    )
    assert [r.status_code for r in responses] == [200, 200, 200]
    member = Member.objects.get(scim_id=user["id"])
    assert (member.is_active, member.display_name, member.title) == (
        False,
        "Kim",
        "CTO",
    )
    assert member.version == 4
