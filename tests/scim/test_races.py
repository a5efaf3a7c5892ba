"""Races as Entra ID and Okta create them: many requests at once on PostgreSQL, each in
its own thread and connection, where only the constraints and row locks decide.

Every test asserts the statuses (no 5xx), the rows (nothing lost, nothing doubled)
and that the end state is one some serial order of the same requests gives.
"""

import pytest

from orgadmin import actions
from orgadmin.models import (
    AuditEvent,
    Member,
    Organization,
    ScimRequestLog,
    Team,
    TeamMembership,
)
from tests import helpers
from tests.helpers import GROUP, USER, ScimClient, assert_error, in_parallel

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

PARALLEL = 16


@pytest.fixture
def secret():
    return helpers.issue_token(helpers.make_organization())


def scim(secret):
    return ScimClient(secret)


def each(secret, method, path, bodies, **kwargs):
    """One call per body, each with its own client (its own thread and connection)."""
    return [
        lambda body=body: getattr(ScimClient(secret), method)(path, body, **kwargs)
        for body in bodies
    ]


def assert_one_created(responses):
    """Exactly one 201; every other answer a SCIM 409 uniqueness, never a 5xx."""
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (len(responses) - 1), statuses
    for response in responses:
        if response.status_code == 409:
            assert_error(response, 409, "uniqueness")
    return next(r for r in responses if r.status_code == 201).json()


def make_users(secret, count):
    client = scim(secret)
    return [helpers.create(client, f"user{n}@acme.example")["id"] for n in range(count)]


def make_group(secret, name="Eng", members=()):
    response = scim(secret).post(
        "Groups",
        {
            "schemas": [GROUP],
            "displayName": name,
            "members": [{"value": m} for m in members],
        },
    )
    assert response.status_code == 201, response.content
    return response.json()


def members_of(group):
    return set(
        str(i)
        for i in TeamMembership.objects.filter(team__scim_id=group["id"]).values_list(
            "member__scim_id", flat=True
        )
    )


def member_patch(op, ids):
    return {
        "schemas": [helpers.PATCH_OP],
        "Operations": [
            {"op": op, "path": "members", "value": [{"value": i} for i in ids]}
        ],
    }


# ------------------------------------------------------------------- parallel creates


def test_sixteen_parallel_creates_of_one_user_name_in_any_case_create_one_member(
    secret,
):
    # Entra ID re-sends a create that timed out, and userName is unique ignoring case.
    names = ["pat@acme.example", "Pat@acme.example", "PAT@ACME.EXAMPLE"]
    bodies = [
        {"schemas": [USER], "userName": names[n % 3], "displayName": f"Pat {n}"}
        for n in range(PARALLEL)
    ]
    created = assert_one_created(in_parallel(*each(secret, "post", "Users", bodies)))
    assert Member.objects.filter(user_name__iexact="pat@acme.example").count() == 1
    assert (
        Member.objects.get(scim_id=created["id"]).display_name
        == (created["displayName"])
    )
    assert AuditEvent.objects.filter(action="member.provisioned").count() == 1
    assert ScimRequestLog.objects.filter(method="POST").count() == PARALLEL


def test_sixteen_parallel_creates_with_one_external_id_create_one_member(secret):
    bodies = [
        {"schemas": [USER], "userName": f"pat{n}@acme.example", "externalId": "pat"}
        for n in range(PARALLEL)
    ]
    created = assert_one_created(in_parallel(*each(secret, "post", "Users", bodies)))
    assert list(
        Member.objects.filter(external_id="pat").values_list("scim_id", flat=True)
    ) == [Member.objects.get(scim_id=created["id"]).scim_id]
    assert Member.objects.count() == 2  # the owner and the one created


def test_sixteen_parallel_creates_of_one_group_name_in_any_case_create_one_team(
    secret,
):
    users = make_users(secret, PARALLEL)
    names = ["Engineering", "engineering", "ENGINEERING"]
    bodies = [
        {
            "schemas": [GROUP],
            "displayName": names[n % 3],
            "members": [{"value": users[n]}],
        }
        for n in range(PARALLEL)
    ]
    created = assert_one_created(in_parallel(*each(secret, "post", "Groups", bodies)))
    assert Team.objects.filter(display_name__iexact="engineering").count() == 1
    # Only the winner's members: the losers' memberships were never written.
    assert members_of(created) == {created["members"][0]["value"]}
    assert TeamMembership.objects.count() == 1
    assert AuditEvent.objects.filter(action="team.created").count() == 1


def test_sixteen_parallel_creates_with_one_group_external_id_create_one_team(secret):
    bodies = [
        {"schemas": [GROUP], "displayName": f"Team {n}", "externalId": "objectid-1"}
        for n in range(PARALLEL)
    ]
    assert_one_created(in_parallel(*each(secret, "post", "Groups", bodies)))
    assert Team.objects.filter(external_id="objectid-1").count() == 1
    assert Team.objects.count() == 1


# ------------------------------------------------------------ parallel member changes


def test_sixteen_parallel_patches_adding_different_members_to_one_group_keep_them_all(
    secret,
):
    users = make_users(secret, PARALLEL * 3)
    group = make_group(secret)
    team = Team.objects.get(scim_id=group["id"])
    chunks = [users[3 * n : 3 * n + 3] for n in range(PARALLEL)]
    responses = in_parallel(
        *each(
            secret,
            "patch",
            f"Groups/{group['id']}",
            [member_patch("Add", chunk) for chunk in chunks],
        )
    )
    assert [r.status_code for r in responses] == [204] * PARALLEL
    assert members_of(group) == set(users)
    assert TeamMembership.objects.filter(team=team).count() == len(users)
    team.refresh_from_db()
    assert team.version == 1 + PARALLEL
    assert AuditEvent.objects.filter(action="team.updated").count() == PARALLEL
    # Each member's ETag moved once: its groups changed once.
    assert set(
        Member.objects.filter(scim_id__in=users).values_list("version", flat=True)
    ) == {2}


@pytest.mark.parametrize("remove", ["value list", "value filter"])
def test_adds_and_removes_of_one_member_racing_end_as_some_serial_order(secret, remove):
    # Entra ID removes with a value list, Okta with members[value eq "id"].
    (user,) = make_users(secret, 1)
    group = make_group(secret)
    team = Team.objects.get(scim_id=group["id"])
    member = Member.objects.get(scim_id=user)
    removal = member_patch("Remove", [user])
    if remove == "value filter":
        removal["Operations"] = [
            {"op": "remove", "path": f'members[value eq "{user}"]'}
        ]
    bodies = [member_patch("Add", [user]) if n % 2 else removal for n in range(16)]
    for _ in range(3):
        was_member = TeamMembership.objects.filter(team=team).exists()
        first_event = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True)[0]
        versions = (team.version, member.version)
        responses = in_parallel(*each(secret, "patch", f"Groups/{group['id']}", bodies))
        assert [r.status_code for r in responses] == [204] * len(bodies)

        # The team's row lock orders the PATCHes; its events, in that order, must
        # replay to the state in the database, each one a real change.
        events = list(
            AuditEvent.objects.filter(action="team.updated", pk__gt=first_event)
            .order_by("pk")
            .values_list("changes", flat=True)
        )
        state = was_member
        for changes in events:
            assert changes == (
                {"members_removed": 1} if state else {"members_added": 1}
            )
            state = not state
        rows = TeamMembership.objects.filter(team=team, member=member).count()
        assert rows == int(state)
        team.refresh_from_db()
        member.refresh_from_db()
        assert (team.version, member.version) == (
            versions[0] + len(events),
            versions[1] + len(events),
        )


def test_parallel_patches_of_many_groups_sharing_members_neither_deadlock_nor_lose(
    secret,
):
    # Each PATCH moves the ETag of every member it adds, so PATCHes of different groups
    # update the same member rows at once, listed in a different order each time.
    users = make_users(secret, 40)
    groups = [make_group(secret, f"Team {n}") for n in range(8)]
    calls = []
    for n, group in enumerate(groups):
        order = users[n * 5 :] + users[: n * 5]
        calls += each(
            secret, "patch", f"Groups/{group['id']}", [member_patch("Add", order)]
        )
    responses = in_parallel(*calls)
    assert [r.status_code for r in responses] == [204] * len(groups)
    for group in groups:
        assert members_of(group) == set(users)
    assert set(
        Member.objects.filter(scim_id__in=users).values_list("version", flat=True)
    ) == {1 + len(groups)}


def test_a_member_deleted_while_a_patch_adds_it_is_never_a_500_nor_a_dangling_row(
    secret,
):
    # Entra ID deletes a user and updates a group that still lists it, in parallel.
    # 24 deletes of members created within the hour would trip the deprovisioning
    # brake (tests/scim/test_deprovisioning_brake.py); an owner raises it here.
    actions.update_deprovisioning_brake(
        Organization.objects.get(slug="acme"),
        share_percent=100,
        minimum=1_000_000,
        actor=helpers.SYSTEM,
    )
    for round in range(3):
        users = make_users(secret, 8)  # the names are free again after each round
        group = make_group(secret, f"Round {round}")
        calls = each(
            secret, "patch", f"Groups/{group['id']}", [member_patch("Add", users)]
        )
        calls += [
            lambda user=user: ScimClient(secret).delete(f"Users/{user}")
            for user in users
        ]
        responses = in_parallel(*calls)
        patch_response, deletes = responses[0], responses[1:]
        assert [r.status_code for r in deletes] == [204] * len(users)
        if patch_response.status_code != 204:
            # The PATCH came after a delete: refused whole, as for any unknown id.
            assert_error(patch_response, 400, "invalidValue")
        assert not Member.objects.filter(scim_id__in=users).exists()
        assert members_of(group) == set()


def test_a_group_put_racing_a_patch_with_the_same_if_match_one_wins_one_gets_412(
    secret,
):
    users = make_users(secret, 2)
    group = make_group(secret, members=users[:1])
    path = f"Groups/{group['id']}"
    client = scim(secret)
    for attempt in range(3):
        tag = client.get(path)["ETag"]
        members_before = members_of(group)
        put = {
            "schemas": [GROUP],
            "displayName": f"Put {attempt}",
            "members": [{"value": users[1]}],
        }
        patch = {
            "schemas": [helpers.PATCH_OP],
            "Operations": [
                {"op": "replace", "path": "displayName", "value": f"Patch {attempt}"}
            ],
        }
        (put_call,) = each(secret, "put", path, [put], headers={"If-Match": tag})
        (patch_call,) = each(secret, "patch", path, [patch], headers={"If-Match": tag})
        responses = in_parallel(put_call, patch_call)
        statuses = sorted(r.status_code for r in responses)
        assert statuses in ([200, 412], [204, 412]), statuses
        assert_error(next(r for r in responses if r.status_code == 412), 412)
        team = Team.objects.get(scim_id=group["id"])
        if responses[0].status_code == 200:  # the PUT won: its name and members
            assert (team.display_name, members_of(group)) == (
                f"Put {attempt}",
                {users[1]},
            )
        else:  # the PATCH won: its name, the members as they were
            assert (team.display_name, members_of(group)) == (
                f"Patch {attempt}",
                members_before,
            )
        assert client.get(path)["ETag"] == f'W/"{team.version}"'
