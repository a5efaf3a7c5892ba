"""Entra ID sends requests in parallel and re-sends timed-out creates: real parallel
requests against PostgreSQL, where the database constraints and row locks decide."""

import uuid

import pytest

from orgadmin.models import Member, Team, TeamMembership
from tests import helpers
from tests.helpers import GROUP, PATCH_OP, USER, ScimClient, in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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


def test_parallel_patches_adding_phone_numbers_to_one_user_keep_every_number(secret):
    # Each PATCH rewrites the whole list from the state it read; the action's version
    # check makes a PATCH that read a stale list read it again instead of losing a value.
    client = ScimClient(secret)
    user = client.post(
        "Users", {"schemas": [USER], "userName": "kim@acme.example"}
    ).json()

    def add_number(number):
        return lambda: ScimClient(secret).patch(
            f"Users/{user['id']}",
            {
                "schemas": [PATCH_OP],
                "Operations": [
                    {
                        "op": "add",
                        "path": "phoneNumbers",
                        "value": [{"value": number, "type": "work"}],
                    }
                ],
            },
        )

    numbers = [f"+1 555 010{n}" for n in range(4)]
    responses = in_parallel(*[add_number(number) for number in numbers])
    assert [r.status_code for r in responses] == [200] * 4
    member = Member.objects.get(scim_id=user["id"])
    assert sorted(p["value"] for p in member.phone_numbers) == numbers
    assert member.version == 5


def test_a_put_racing_a_patch_with_the_same_if_match_one_wins_one_gets_412(secret):
    client = ScimClient(secret)
    user = client.post(
        "Users", {"schemas": [USER], "userName": "kim@acme.example"}
    ).json()
    path = f"Users/{user['id']}"
    for attempt in range(3):
        tag = client.get(path)["ETag"]
        put_body = {
            "schemas": [USER],
            "userName": "kim@acme.example",
            "title": f"put {attempt}",
        }
        patch_body = {
            "schemas": [PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "title", "value": f"patch {attempt}"}
            ],
        }
        responses = in_parallel(
            lambda body=put_body, tag=tag: ScimClient(secret).put(
                path, body, headers={"If-Match": tag}
            ),
            lambda body=patch_body, tag=tag: ScimClient(secret).patch(
                path, body, headers={"If-Match": tag}
            ),
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 412], statuses
        winner = next(r for r in responses if r.status_code == 200)
        member = Member.objects.get(scim_id=user["id"])
        assert member.title == winner.json()["title"]
        assert winner["ETag"] == f'W/"{member.version}"'
