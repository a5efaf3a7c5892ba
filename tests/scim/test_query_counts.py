"""Each SCIM operation runs a constant number of queries, whatever the data size.

Every test runs on a small and a much larger organization with the same bound.
"""

import math
import uuid

import pytest
from django.db import connection

from orgadmin.models import AuditEventSubject, Member, Team, TeamMembership
from tests.helpers import GROUP, USER, patch_group


def bulk_members(organization, count):
    """Members inserted in bulk: building the data is not what is measured."""
    Member.objects.bulk_create(
        Member(
            organization=organization,
            user_name=f"m{n}@acme.example",
            scim_id=uuid.uuid4(),
        )
        for n in range(count)
    )
    return list(
        Member.objects.filter(organization=organization, user_name__startswith="m")
    )


def insert_batch_size(model=TeamMembership) -> int:
    fields = [field for field in model._meta.concrete_fields if not field.primary_key]
    return connection.ops.bulk_batch_size(fields, [None] * 100_000)


@pytest.fixture(params=[5, 1500], ids=["small", "large"])
def sized(request, organization):
    members = bulk_members(organization, request.param)
    team = Team.objects.create(organization=organization, display_name="Everyone")
    TeamMembership.objects.bulk_create(
        TeamMembership(team=team, member=m) for m in members
    )
    for n in range(min(len(members), 120)):
        # Give the first page emails and a second team, as real data has.
        members[n].email_addresses.create(
            value=f"m{n}@acme.example", type="work", primary=True
        )
    other = Team.objects.create(organization=organization, display_name="Some")
    TeamMembership.objects.bulk_create(
        TeamMembership(team=other, member=m) for m in members[:50]
    )
    return members, team


# Each bound counts the token's query and its once-a-minute last-use UPDATE, which a
# first request (or one after the token cache's second) runs.


def test_a_list_page_of_users_is_constant(scim, sized, django_assert_max_num_queries):
    # Token, last use, the page, COUNT (a full page), emails, groups, request log.
    with django_assert_max_num_queries(7):
        response = scim.get("Users?count=100")
    assert response.status_code == 200
    assert response.json()["itemsPerPage"] == min(100, len(sized[0]) + 1)


def test_a_filtered_user_list_is_constant(scim, sized, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        response = scim.get('Users?filter=emails[type eq "work"].value co "acme"')
    assert response.status_code == 200


def test_a_group_read_without_members_is_constant(
    scim, sized, django_assert_max_num_queries
):
    team = sized[1]
    # Token, last use, the team, request log.
    with django_assert_max_num_queries(4):
        response = scim.get(f"Groups/{team.scim_id}?excludedAttributes=members")
    assert response.status_code == 200 and "members" not in response.json()
    # The one-row page proves the total: no COUNT.
    with django_assert_max_num_queries(4):
        response = scim.get(
            'Groups?excludedAttributes=members&filter=displayName eq "Everyone"'
        )
    assert response.json()["totalResults"] == 1


def test_a_user_create_is_constant(scim, sized, django_assert_max_num_queries):
    # Token, last use, the domain and account (one query), SAVEPOINT (the test's
    # transaction), member, emails, audit event, RELEASE, request log; the answer
    # reads nothing back.
    with django_assert_max_num_queries(9):
        response = scim.post(
            "Users",
            {
                "schemas": [USER],
                "userName": "new@acme.example",
                "emails": [
                    {"value": "new@acme.example", "type": "work", "primary": True}
                ],
            },
        )
    assert response.status_code == 201


@pytest.mark.parametrize("how_many", [10, 1000])
def test_a_group_patch_adding_or_removing_members_is_constant(
    scim, organization, how_many, django_assert_max_num_queries
):
    members = bulk_members(organization, how_many)
    group = scim.post("Groups", {"schemas": [GROUP], "displayName": "Big"}).json()
    values = [{"value": str(m.scim_id)} for m in members]
    # PostgreSQL inserts every row in one statement; Django's SQLite backend splits a
    # bulk insert into batches of 999 parameters (333 memberships), a framework limit.
    # The audit event's one row per member added is inserted the same way.
    extra_batches = (
        math.ceil(how_many / insert_batch_size())
        - 1
        + math.ceil(how_many / insert_batch_size(AuditEventSubject))
        - 1
    )
    # Token, the team, member ids, SAVEPOINT (the test's transaction), the team
    # locked, the members locked, present memberships, INSERT, members' versions,
    # the team's version, audit event and its subjects, RELEASE, request log.
    with django_assert_max_num_queries(14 + extra_batches):
        added = patch_group(
            scim, group["id"], {"op": "Add", "path": "members", "value": values}
        )
    assert added.status_code == 204
    assert TeamMembership.objects.filter(team__scim_id=group["id"]).count() == how_many
    with django_assert_max_num_queries(14 + extra_batches):
        removed = patch_group(
            scim,
            group["id"],
            {"op": "Remove", "path": "members", "value": values[: how_many // 2]},
        )
    assert removed.status_code == 204
    assert (
        TeamMembership.objects.filter(team__scim_id=group["id"]).count()
        == how_many - how_many // 2
    )
    # As above, plus the team's present memberships, and both the removal (which
    # ones, then DELETE) and the addition.
    with django_assert_max_num_queries(16 + extra_batches):
        replaced = patch_group(
            scim,
            group["id"],
            {"op": "replace", "path": "members", "value": values[:10]},
        )
    assert replaced.status_code == 204
