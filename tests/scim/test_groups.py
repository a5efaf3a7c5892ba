"""SCIM Groups (teams), with Entra ID's and Okta's request bodies."""

import pytest

from orgadmin.models import AuditEvent, Member, ScimRequestLog, Team, TeamMembership
from tests.helpers import (
    GROUP,
    PATCH_OP,
    assert_error,
    create,
    member_ids,
    patch_group,
)


def make_group(scim, name="Engineering", members=(), **extra):
    body = {"schemas": [GROUP], "displayName": name, **extra}
    if members:
        body["members"] = [{"value": m} for m in members]
    response = scim.post("Groups", body)
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def users(scim):
    return [create(scim, f"user{n}@acme.example")["id"] for n in range(4)]


def test_entra_create_group_body_gives_a_scim_managed_team(scim):
    # Microsoft's documented POST /Groups, with its extra schema URN.
    body = {
        "schemas": [
            GROUP,
            "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
        ],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"},
    }
    response = scim.post("Groups", body)
    assert response.status_code == 201
    group = response.json()
    assert response["Location"].endswith(f"/scim/v2/Groups/{group['id']}")
    assert group["displayName"] == "displayName" and group["members"] == []
    assert group["externalId"] == "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"
    assert Team.objects.get(scim_id=group["id"]).is_scim_managed
    assert (
        AuditEvent.objects.filter(
            action="team.created", actor_type="scim_token"
        ).count()
        == 1
    )


def test_create_group_with_members(scim, users):
    group = make_group(scim, members=users[:2])
    assert {m["value"] for m in group["members"]} == set(users[:2])
    assert member_ids(group) == set(users[:2])


def test_duplicate_group_name_gets_409(scim):
    make_group(scim, "Eng")
    assert_error(
        scim.post("Groups", {"schemas": [GROUP], "displayName": "ENG"}),
        409,
        "uniqueness",
    )


def test_group_without_name_or_schemas_gets_400(scim):
    assert_error(scim.post("Groups", {"schemas": [GROUP]}), 400, "invalidValue")
    assert_error(scim.post("Groups", {"displayName": "x"}), 400, "invalidSyntax")


def test_entra_group_queries_exclude_members(scim, users):
    group = make_group(scim, "Sales", members=users)
    found = scim.get(
        'Groups?excludedAttributes=members&filter=displayName eq "sales"'
    ).json()
    assert found["totalResults"] == 1
    assert "members" not in found["Resources"][0]
    single = scim.get(f"Groups/{group['id']}?excludedAttributes=members").json()
    assert "members" not in single and single["displayName"] == "Sales"
    assert len(scim.get(f"Groups/{group['id']}").json()["members"]) == 4
    probe = scim.get(
        "Groups?excludedAttributes=members&filter=displayName+eq+%22a1b2%22"
    ).json()
    assert probe["totalResults"] == 0 and probe["Resources"] == []


def test_entra_add_members_is_idempotent_and_answers_204(scim, users):
    group = make_group(scim)
    add = {
        "op": "Add",
        "path": "members",
        "value": [{"$ref": None, "value": u} for u in users[:2]],
    }
    response = patch_group(scim, group["id"], add)
    assert response.status_code == 204 and response.content == b""
    assert patch_group(scim, group["id"], add).status_code == 204  # re-adding succeeds
    assert member_ids(group) == set(users[:2])
    assert ScimRequestLog.objects.filter(outcome="updated").count() == 2


def test_entra_default_job_removes_only_the_listed_members(scim, users):
    group = make_group(scim, members=users)
    remove = {
        "op": "Remove",
        "path": "members",
        "value": [{"value": users[0]}, {"value": users[1]}],
    }
    assert patch_group(scim, group["id"], remove).status_code == 204
    assert member_ids(group) == set(users[2:])


def test_compliant_mode_and_okta_remove_by_value_filter(scim, users):
    group = make_group(scim, members=users)
    assert (
        patch_group(
            scim,
            group["id"],
            {"op": "remove", "path": f'members[value eq "{users[0]}"]'},
        ).status_code
        == 204
    )
    assert (
        patch_group(
            scim,
            group["id"],
            {
                "op": "remove",
                "path": f'members[value eq "{users[1]}" or value eq "{users[2]}"]',
            },
        ).status_code
        == 204
    )
    assert member_ids(group) == {users[3]}


def test_remove_of_a_member_already_gone_succeeds(scim, users):
    group = make_group(scim, members=users[:1])
    gone = "2819c223-7f76-453a-919d-413861904646"
    assert (
        patch_group(
            scim, group["id"], {"op": "remove", "path": f'members[value eq "{gone}"]'}
        ).status_code
        == 204
    )
    assert member_ids(group) == {users[0]}


def test_replace_members_applies_only_the_difference(scim, users):
    group = make_group(scim, members=users[:3])
    before = {
        m.member_id: m.pk
        for m in TeamMembership.objects.filter(team__scim_id=group["id"])
    }
    replace = {
        "op": "replace",
        "path": "members",
        "value": [{"value": u} for u in users[1:]],
    }
    assert patch_group(scim, group["id"], replace).status_code == 204
    assert member_ids(group) == set(users[1:])
    after = {
        m.member_id: m.pk
        for m in TeamMembership.objects.filter(team__scim_id=group["id"])
    }
    kept = set(before) & set(after)
    assert len(kept) == 2 and all(
        before[k] == after[k] for k in kept
    )  # rows kept, not rewritten


def test_remove_members_without_value_empties_the_group(scim, users):
    group = make_group(scim, members=users)
    assert (
        patch_group(scim, group["id"], {"op": "remove", "path": "members"}).status_code
        == 204
    )
    assert member_ids(group) == set()


def test_rename_entra_and_okta_shapes(scim):
    group = make_group(scim, "Old")
    assert (
        patch_group(
            scim, group["id"], {"op": "Replace", "path": "displayName", "value": "New"}
        ).status_code
        == 204
    )
    assert Team.objects.get(scim_id=group["id"]).display_name == "New"
    okta = {"op": "replace", "value": {"id": group["id"], "displayName": "Newer"}}
    assert patch_group(scim, group["id"], okta).status_code == 204
    assert Team.objects.get(scim_id=group["id"]).display_name == "Newer"


def test_group_patch_returns_the_group_when_attributes_are_asked_for(scim, users):
    group = make_group(scim)
    response = patch_group(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": users[0]}]},
        query="?excludedAttributes=members",
    )
    assert response.status_code == 200
    assert (
        "members" not in response.json()
        and response.json()["meta"]["version"] == 'W/"2"'
    )


def test_members_of_another_organization_are_refused_and_nothing_changes(
    scim, other_scim, users
):
    theirs = other_scim.post(
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "lee@globex.example",
        },
    ).json()
    group = make_group(scim, members=users[:1])
    response = patch_group(
        scim,
        group["id"],
        {"op": "replace", "path": "displayName", "value": "Renamed"},
        {
            "op": "add",
            "path": "members",
            "value": [{"value": users[1]}, {"value": theirs["id"]}],
        },
    )
    assert theirs["id"] in assert_error(response, 400, "invalidValue")["detail"]
    assert member_ids(group) == {users[0]}
    assert Team.objects.get(scim_id=group["id"]).display_name == "Engineering"
    assert_error(
        scim.post(
            "Groups",
            {
                "schemas": [GROUP],
                "displayName": "X",
                "members": [{"value": theirs["id"]}],
            },
        ),
        400,
        "invalidValue",
    )
    assert_error(
        scim.post(
            "Groups",
            {
                "schemas": [GROUP],
                "displayName": "Y",
                "members": [{"value": "not-a-uuid"}],
            },
        ),
        400,
        "invalidValue",
    )


def test_another_organizations_group_is_404(scim, other_scim):
    theirs = other_scim.post(
        "Groups", {"schemas": [GROUP], "displayName": "Theirs"}
    ).json()
    path = f"Groups/{theirs['id']}"
    assert_error(scim.get(path), 404)
    assert_error(scim.put(path, {"schemas": [GROUP], "displayName": "Mine"}), 404)
    assert_error(
        patch_group(
            scim,
            theirs["id"],
            {"op": "replace", "path": "displayName", "value": "Mine"},
        ),
        404,
    )
    assert_error(scim.delete(path), 404)
    assert Team.objects.get(scim_id=theirs["id"]).display_name == "Theirs"
    assert scim.get("Groups").json()["totalResults"] == 0


def test_put_replaces_name_and_members(scim, users):
    group = make_group(scim, members=users[:2])
    response = scim.put(
        f"Groups/{group['id']}",
        {
            "schemas": [GROUP],
            "displayName": "Renamed",
            "members": [{"value": users[3]}],
        },
    )
    assert response.status_code == 200
    assert response.json()["displayName"] == "Renamed"
    assert member_ids(group) == {users[3]}
    scim.put(
        f"Groups/{group['id']}", {"schemas": [GROUP], "displayName": "Renamed again"}
    )
    assert member_ids(group) == {users[3]}  # no "members": left alone


def test_delete_group_removes_the_team_only(scim, users):
    group = make_group(scim, members=users)
    assert scim.delete(f"Groups/{group['id']}").status_code == 204
    assert not Team.objects.filter(scim_id=group["id"]).exists()
    assert Member.objects.filter(scim_id__in=users).count() == 4
    assert_error(scim.delete(f"Groups/{group['id']}"), 404)


def test_group_etags(scim):
    group = make_group(scim)
    assert (
        scim.get(
            f"Groups/{group['id']}", headers={"If-None-Match": 'W/"1"'}
        ).status_code
        == 304
    )
    stale = scim.patch(
        f"Groups/{group['id']}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "displayName", "value": "x"}],
        },
        headers={"If-Match": 'W/"7"'},
    )
    assert_error(stale, 412)


def test_one_bad_group_operation_changes_nothing(scim, users):
    group = make_group(scim, members=users[:1])
    response = patch_group(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": users[1]}]},
        {"op": "replace", "path": 'members[value eq "x"]', "value": "y"},
    )
    assert_error(response, 400, "invalidPath")
    assert member_ids(group) == {users[0]}


def test_group_search_and_user_search(scim, users):
    make_group(scim, "Sales")
    found = scim.post(
        "Groups/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": 'displayName eq "Sales"',
            "attributes": ["displayName"],
        },
    ).json()
    assert found["totalResults"] == 1 and set(found["Resources"][0]) == {
        "schemas",
        "id",
        "displayName",
    }
    people = scim.post(
        "Users/.search",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": 2,
            "count": 2,
        },
    ).json()
    assert people["totalResults"] == 5 and people["itemsPerPage"] == 2
    assert_error(scim.post("Users/.search", {"filter": "x"}), 400, "invalidSyntax")


def test_a_users_etag_changes_when_its_groups_change(scim):
    """The user's `groups` are part of its representation, so its version must move."""
    user = create(scim, "etag@acme.example")
    group = make_group(scim, "ETag team")
    etag = scim.get(f"Users/{user['id']}")["ETag"]
    added = patch_group(
        scim,
        group["id"],
        {"op": "add", "path": "members", "value": [{"value": user["id"]}]},
    )
    assert added.status_code == 204
    after = scim.get(f"Users/{user['id']}", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert [g["value"] for g in after.json()["groups"]] == [group["id"]]
    assert scim.delete(f"Groups/{group['id']}").status_code == 204
    gone = scim.get(f"Users/{user['id']}", headers={"If-None-Match": after["ETag"]})
    assert gone.status_code == 200 and not gone.json().get("groups")
