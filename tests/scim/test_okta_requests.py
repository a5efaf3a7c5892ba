"""Okta's requests as its SCIM 2.0 app sends them: `application/json; charset=utf-8`
bodies with `Accept: application/scim+json`, users updated with PUT of the whole
resource, deactivation as a path-less PATCH, and its group PATCH shapes
(scim-implementations.md section 8; Sentry and Zulip handle the same shapes)."""

import pytest

from orgadmin.models import Member, Team
from tests.helpers import GROUP, PATCH_OP, USER, assert_error, member_ids

OKTA_JSON = "application/json; charset=utf-8"


class Okta:
    def __init__(self, scim):
        self.scim = scim

    def send(self, method, path, body=None):
        return self.scim.request(
            method,
            path,
            body,
            content_type=OKTA_JSON,
            headers={
                "Accept": "application/scim+json",
                "User-Agent": "Okta SCIM Client 1.0.0",
            },
        )

    def patch(self, path, *operations):
        return self.send(
            "PATCH", path, {"schemas": [PATCH_OP], "Operations": list(operations)}
        )


def okta_user(user_name="dade@acme.example", **extra):
    # Okta's create body: it sends a password and an empty groups list, both ignored.
    return {
        "schemas": [USER],
        "userName": user_name,
        "name": {"givenName": "Dade", "familyName": "Murphy"},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": "Dade Murphy",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": True,
        **extra,
    }


@pytest.fixture
def okta(scim):
    return Okta(scim)


@pytest.fixture
def user(okta):
    response = okta.send("POST", "Users", okta_user())
    assert response.status_code == 201, response.content
    return response.json()


def test_test_connector_pages_and_matches(okta, organization):
    response = okta.send("GET", "Users?startIndex=1&count=1")
    assert response.status_code == 200
    body = response.json()
    assert (body["totalResults"], body["itemsPerPage"]) == (1, 1)  # the owner
    response = okta.send(
        "GET", 'Users?filter=userName eq "dade@acme.example"&startIndex=1&count=100'
    )
    assert response.json()["totalResults"] == 0 and response.json()["Resources"] == []


def test_create_ignores_password_and_groups_and_never_returns_them(okta, user):
    assert user["userName"] == "dade@acme.example" and user["active"] is True
    assert "password" not in user and "groups" not in user
    assert user["locale"] == "en-US"
    assert Member.objects.get(scim_id=user["id"]).external_id == "00ujl29u0le5T6Aj10h7"


def test_profile_update_is_a_put_of_the_whole_user(okta, user):
    body = okta_user(
        name={"givenName": "Dade", "familyName": "Zero Cool"},
        displayName="Zero Cool",
        id=user["id"],
        meta=user["meta"],
    )
    del body["locale"]  # left out of a PUT: cleared
    response = okta.send("PUT", f"Users/{user['id']}", body)
    assert response.status_code == 200, response.content
    updated = response.json()
    assert updated["id"] == user["id"] and updated["displayName"] == "Zero Cool"
    assert updated["name"]["familyName"] == "Zero Cool" and "locale" not in updated


def test_deactivate_by_put_with_active_false_then_reactivate_by_patch(okta, user):
    response = okta.send("PUT", f"Users/{user['id']}", okta_user(active=False))
    assert response.status_code == 200 and response.json()["active"] is False
    found = okta.send("GET", 'Users?filter=userName eq "dade@acme.example"').json()
    assert found["Resources"][0]["active"] is False
    response = okta.patch(
        f"Users/{user['id']}", {"op": "replace", "value": {"active": True}}
    )
    assert response.status_code == 200 and response.json()["active"] is True


def test_deactivate_by_pathless_patch(okta, user):
    response = okta.patch(
        f"Users/{user['id']}", {"op": "replace", "value": {"active": False}}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    assert Member.objects.get(scim_id=user["id"]).is_active is False


def test_put_cannot_change_the_id(okta, user):
    response = okta.send("PUT", f"Users/{user['id']}", okta_user(id="not-the-id"))
    assert response.status_code == 200 and response.json()["id"] == user["id"]


def test_put_of_a_taken_user_name_is_409(okta, user):
    okta.send("POST", "Users", okta_user("kate@acme.example", externalId="k"))
    response = okta.send("PUT", f"Users/{user['id']}", okta_user("KATE@acme.example"))
    assert_error(response, 409, "uniqueness")


@pytest.fixture
def people(okta, user):
    others = [
        okta.send(
            "POST", "Users", okta_user(f"p{i}@acme.example", externalId=f"e{i}")
        ).json()
        for i in range(3)
    ]
    return [user["id"]] + [o["id"] for o in others]


@pytest.fixture
def group(okta):
    response = okta.send(
        "POST",
        "Groups",
        {"schemas": [GROUP], "displayName": "Test SCIMv2", "members": []},
    )
    assert response.status_code == 201, response.content
    return response.json()


def test_group_push_shapes(okta, group, people):
    a, b, c, d = people
    path = f"Groups/{group['id']}"
    steps = [
        # Push membership: add with display labels.
        (
            [
                {
                    "op": "add",
                    "path": "members",
                    "value": [
                        {"value": a, "display": "dade@acme.example"},
                        {"value": b, "display": "p0"},
                    ],
                }
            ],
            {a, b},
        ),
        # Rename: path-less value with the group's id, which is ignored.
        (
            [{"op": "replace", "value": {"id": group["id"], "displayName": "Renamed"}}],
            {a, b},
        ),
        # Remove one member by value filter.
        ([{"op": "remove", "path": f'members[value eq "{a}"]'}], {b}),
        # Full push: replace as a difference.
        (
            [
                {
                    "op": "replace",
                    "path": "members",
                    "value": [{"value": c}, {"value": d}],
                }
            ],
            {c, d},
        ),
        # Several removals joined by "or".
        (
            [{"op": "remove", "path": f'members[value eq "{c}" or value eq "{d}"]'}],
            set(),
        ),
    ]
    for operations, expected in steps:
        response = okta.patch(path, *operations)
        assert (response.status_code, response.content) == (204, b""), operations
        assert member_ids(group) == expected, operations
    assert Team.objects.get(scim_id=group["id"]).display_name == "Renamed"


def test_group_put_with_members_replaces_them(okta, group, people):
    body = {
        "schemas": [GROUP],
        "id": group["id"],
        "displayName": "Test SCIMv2",
        "members": [{"value": people[0], "display": "x"}],
    }
    response = okta.send("PUT", f"Groups/{group['id']}", body)
    assert response.status_code == 200, response.content
    assert [m["value"] for m in response.json()["members"]] == [people[0]]


def test_group_lookup_and_delete(okta, group, people):
    okta.patch(
        f"Groups/{group['id']}",
        {"op": "add", "path": "members", "value": [{"value": people[0]}]},
    )
    found = okta.send(
        "GET", 'Groups?filter=displayName eq "Test SCIMv2"&startIndex=1&count=100'
    ).json()
    assert [g["id"] for g in found["Resources"]] == [group["id"]]
    assert okta.send("DELETE", f"Groups/{group['id']}").status_code == 204
    # The team goes; its members stay in the organization.
    assert Member.objects.filter(scim_id=people[0]).exists()
    assert_error(okta.send("GET", f"Groups/{group['id']}"), 404)
