"""Microsoft Entra ID's requests as it sends them, in the order of one sync.

Bodies are those of Microsoft's SCIM tutorial and known-issues page
(/work/shared/research/azure-entra-behaviour.md sections 3 to 7): Content-Type
`application/scim+json; charset=utf-8`, no Accept and no User-Agent header, form-encoded
filters, capitalised ops in the default job and the `aadOptscim062020` shapes.
"""

import uuid

import pytest

from orgadmin.models import Member, Team
from tests import helpers
from tests.helpers import ENTERPRISE, GROUP, PATCH_OP, USER, assert_error

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ENTRA_JSON = "application/scim+json; charset=utf-8"

# Microsoft's "Create User" request, verbatim but for the email domain's owner.
CREATE_USER = {
    "schemas": [USER, ENTERPRISE],
    "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
    "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee@testuser.com",
    "active": True,
    "emails": [
        {
            "primary": True,
            "type": "work",
            "value": "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
        }
    ],
    "meta": {"resourceType": "User"},
    "name": {
        "formatted": "givenName familyName",
        "familyName": "familyName",
        "givenName": "givenName",
    },
    "roles": [],
}
CREATE_GROUP = {
    "schemas": [
        GROUP,
        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group",
    ],
    "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
    "displayName": "displayName",
    "meta": {"resourceType": "Group"},
}


class Entra:
    """Sends as Entra ID does: its Content-Type, no Accept, no User-Agent."""

    def __init__(self, scim, tenant_suffix=""):
        self.scim, self.suffix = scim, tenant_suffix

    def url(self, path):
        if self.suffix and "?" in path:
            return f"{path}&{self.suffix.lstrip('?')}"
        return f"{path}{self.suffix}"

    def send(self, method, path, body=None):
        return self.scim.request(
            method, self.url(path), body, content_type=ENTRA_JSON, headers={}
        )

    def patch(self, path, *operations):
        # Microsoft's samples put "Operations" before "schemas".
        return self.send(
            "PATCH", path, {"Operations": list(operations), "schemas": [PATCH_OP]}
        )


@pytest.fixture
def entra(organization, scim):
    helpers.verify_domain_now(organization, "testuser.com")
    return Entra(scim)


def assert_list(response, total):
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [LIST]
    assert body["totalResults"] == total and len(body["Resources"]) == total
    return body["Resources"]


@pytest.mark.parametrize("suffix", ["", "?aadOptscim062020"])
def test_test_connection_probes_users_and_groups_and_gets_empty_lists(
    organization, scim, suffix
):
    guid = uuid.uuid4()
    for path in [
        f"/scim/v2/Users?filter=userName+eq+%22{guid}%22",
        f"/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22{guid}%22",
    ]:
        if suffix:
            path += "&aadOptscim062020"
        response = scim.client.get(path, headers={"Authorization": scim_auth(scim)})
        assert response.status_code == 200, response.content
        assert response.json() == {
            "schemas": [LIST],
            "totalResults": 0,
            "startIndex": 1,
            "itemsPerPage": 0,
            "Resources": [],
        }


def scim_auth(scim):
    return f"Bearer {scim.secret}"


def test_schema_discovery_lists_user_enterprise_and_group(entra):
    resources = assert_list(entra.send("GET", "Schemas"), 3)
    assert {r["id"] for r in resources} == {USER, ENTERPRISE, GROUP}


@pytest.mark.parametrize("suffix", ["", "?aadOptscim062020"])
def test_one_sync_as_entra_sends_it(organization, entra, suffix):
    entra.suffix = suffix
    user_name = CREATE_USER["userName"]
    # 1-2. Match by userName (none), then create; Entra caches the returned id.
    assert_list(entra.send("GET", f"Users?filter=userName+eq+%22{user_name}%22"), 0)
    created = entra.send("POST", "Users", CREATE_USER)
    assert created.status_code == 201, created.content
    user = created.json()
    assert user["id"] and user["userName"] == user_name and user["active"] is True
    assert user["emails"][0]["value"] == CREATE_USER["emails"][0]["value"]
    assert created["Location"].endswith(f"/Users/{user['id']}")
    # 3. Later cycles read by id and by the matching filter.
    assert entra.send("GET", f"Users/{user['id']}").json()["id"] == user["id"]
    (found,) = assert_list(
        entra.send("GET", f"Users?filter=userName+eq+%22{user_name.upper()}%22"), 1
    )
    assert found["id"] == user["id"]
    # 4. The manager, a second user, set as tutorial Example 5.
    boss = entra.send(
        "POST",
        "Users",
        {
            **CREATE_USER,
            "userName": "boss@testuser.com",
            "externalId": "boss",
            "emails": [],
        },
    ).json()
    response = entra.patch(
        f"Users/{user['id']}",
        {
            "op": "Add",
            "path": "manager",
            "value": [
                {"$ref": f"http://x/scim/Users/{boss['id']}", "value": boss["id"]}
            ],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    # 5. Groups come after users: match, create empty, add members, read without.
    assert_list(
        entra.send(
            "GET",
            "Groups?excludedAttributes=members&filter=displayName+eq+%22displayName%22",
        ),
        0,
    )
    created = entra.send("POST", "Groups", CREATE_GROUP)
    assert created.status_code == 201, created.content
    group = created.json()
    assert group["members"] == [] and group["externalId"] == CREATE_GROUP["externalId"]
    response = entra.patch(
        f"Groups/{group['id']}",
        {
            "op": "Add",
            "path": "members",
            "value": [
                {"$ref": None, "value": user["id"]},
                {"$ref": None, "value": boss["id"]},
            ],
        },
    )
    assert (response.status_code, response.content) == (204, b"")
    read = entra.send("GET", f"Groups/{group['id']}?excludedAttributes=members").json()
    assert "members" not in read and read["displayName"] == "displayName"
    assert Team.objects.get(scim_id=group["id"]).members.count() == 2
    # 6. Rename, then the default job's member removal by value list.
    response = entra.patch(
        f"Groups/{group['id']}",
        {"op": "Replace", "path": "displayName", "value": "Renamed"},
        {"op": "Remove", "path": "members", "value": [{"value": boss["id"]}]},
    )
    assert response.status_code == 204, response.content
    team = Team.objects.get(scim_id=group["id"])
    assert team.display_name == "Renamed"
    assert [str(m.scim_id) for m in team.members.all()] == [user["id"]]
    # 7. Out of scope: the default job's string "False"; still found, inactive.
    response = entra.patch(
        f"Users/{user['id']}", {"op": "Replace", "path": "active", "value": "False"}
    )
    assert response.status_code == 200 and response.json()["active"] is False
    (found,) = assert_list(
        entra.send("GET", f"Users?filter=userName+eq+%22{user_name}%22"), 1
    )
    assert found["active"] is False
    assert Team.objects.get(scim_id=group["id"]).members.count() == 1
    # 8. Hard delete 30 days later, then the group.
    assert entra.send("DELETE", f"Users/{user['id']}").status_code == 204
    assert_error(entra.send("DELETE", f"Users/{user['id']}"), 404)
    assert entra.send("DELETE", f"Groups/{group['id']}").status_code == 204
    assert Member.objects.filter(scim_id=boss["id"]).exists()


@pytest.fixture
def created_user(entra):
    response = entra.send("POST", "Users", CREATE_USER)
    assert response.status_code == 201, response.content
    return response.json()


DEFAULT_JOB_UPDATE = [
    {"op": "Replace", "path": "displayName", "value": "Bjfe"},
    {
        "op": "Replace",
        "path": 'emails[type eq "work"].value',
        "value": "b@testuser.com",
    },
    {"op": "Replace", "path": "name.givenName", "value": "Kkom"},
    {"op": "Replace", "path": "name.familyName", "value": "Unua"},
    {"op": "Replace", "path": "externalId", "value": "Bjfe"},
    {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Aklq"},
]
COMPLIANT_UPDATE = [
    {
        "op": "replace",
        "path": 'emails[type eq "work"].value',
        "value": "b@testuser.com",
    },
    {
        "op": "replace",
        "value": {
            "displayName": "Bjfe",
            "name.givenName": "Kkom",
            "name.familyName": "Unua",
            "externalId": "Bjfe",
            f"{ENTERPRISE}:employeeNumber": "Aklq",
        },
    },
]


@pytest.mark.parametrize(
    "operations",
    [DEFAULT_JOB_UPDATE, COMPLIANT_UPDATE],
    ids=["default", "aadOptscim062020"],
)
def test_replace_of_several_attributes_in_both_dialects(
    entra, created_user, operations
):
    response = entra.patch(f"Users/{created_user['id']}", *operations)
    assert response.status_code == 200, response.content
    user = response.json()
    assert user["displayName"] == "Bjfe" and user["externalId"] == "Bjfe"
    assert user["name"]["givenName"] == "Kkom" and user["name"]["familyName"] == "Unua"
    assert user[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert [e["value"] for e in user["emails"] if e.get("type") == "work"] == [
        "b@testuser.com"
    ]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "replace", "path": "active", "value": False},
        {"op": "Replace", "path": "active", "value": "false"},
        {"op": "Add", "path": "active", "value": "False"},
        {"op": "replace", "value": {"active": False}},
    ],
    ids=["default", "aadOptscim062020", "lowercase-string", "add", "pathless"],
)
def test_disable_user_in_every_shape_entra_sends(entra, created_user, operation):
    response = entra.patch(f"Users/{created_user['id']}", operation)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False
    found = entra.send("GET", "Users?filter=active+eq+false").json()["Resources"]
    assert [u["id"] for u in found] == [created_user["id"]]


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "add", "path": "nickName", "value": "Babs"},
    ],
)
def test_add_single_value_string_in_both_dialects(entra, created_user, operation):
    response = entra.patch(f"Users/{created_user['id']}", operation)
    assert response.status_code == 200 and response.json()["nickName"] == "Babs"


def test_compliant_mode_removes_one_member_by_value_filter(entra, created_user):
    group = entra.send(
        "POST", "Groups", {**CREATE_GROUP, "members": [{"value": created_user["id"]}]}
    ).json()
    response = entra.patch(
        f"Groups/{group['id']}",
        {"op": "remove", "path": f'members[value eq "{created_user["id"]}"]'},
    )
    assert response.status_code == 204
    assert not Team.objects.get(scim_id=group["id"]).members.exists()


def test_manager_as_the_validators_raw_string_and_its_removal(entra, created_user):
    boss = entra.send(
        "POST",
        "Users",
        {
            **CREATE_USER,
            "userName": "boss@testuser.com",
            "externalId": "b",
            "emails": [],
        },
    ).json()
    path = f"Users/{created_user['id']}"
    response = entra.patch(
        path, {"op": "add", "path": f"{ENTERPRISE}:manager", "value": boss["id"]}
    )
    # Returned as the complex {value, $ref, displayName}: Entra cannot read a string.
    assert response.json()[ENTERPRISE]["manager"]["value"] == boss["id"]
    response = entra.patch(
        path, {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}
    )
    assert response.status_code == 200 and ENTERPRISE not in response.json()


def test_app_roles_arrive_as_json_strings(entra, created_user):
    role = '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee","value":"25","displayName":"Role1234"}'
    response = entra.patch(
        f"Users/{created_user['id']}",
        {"op": "Add", "path": "roles", "value": [{"value": role}]},
    )
    assert response.status_code == 200, response.content
    assert response.json()["roles"] == [{"value": "25", "display": "Role1234"}]


def test_attributes_we_do_not_store_are_accepted_and_the_rest_applies(
    entra, created_user
):
    # Snipe-IT was quarantined for refusing these; the active=false must still apply.
    response = entra.patch(
        f"Users/{created_user['id']}",
        {"op": "Add", "path": 'phoneNumbers[type eq "fax"].value', "value": "+1 555"},
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:Custom:2.0:User:badge",
            "value": "7",
        },
        {"op": "Add", "path": "profileUrl", "value": "https://x"},
        {"op": "Replace", "path": "active", "value": "False"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False


def test_tutorial_example_2_with_nulls_and_a_schema_typo_is_accepted(entra):
    body = {
        "schemas": [USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0User"],
        "externalId": "jyoung",
        "userName": "jyoung@testuser.com",
        "active": True,
        "displayName": "Joy Young",
        "emails": [{"primary": True, "type": "work", "value": "jyoung@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Joy Young", "familyName": "Young", "givenName": "Joy"},
        "roles": [],
        "department": None,
        "manager": None,
        "nickName": None,
    }
    response = entra.send("POST", "Users", body)
    assert response.status_code == 201, response.content
    assert response.json()["displayName"] == "Joy Young"


def test_a_retried_create_gets_409_and_the_matching_filter_finds_the_user(entra):
    assert entra.send("POST", "Users", CREATE_USER).status_code == 201
    error = assert_error(entra.send("POST", "Users", CREATE_USER), 409, "uniqueness")
    assert "userName" in error["detail"] or "exists" in error["detail"]
    assert_list(
        entra.send("GET", f"Users?filter=userName+eq+%22{CREATE_USER['userName']}%22"),
        1,
    )


def test_unknown_ids_are_a_scim_404_with_a_status(entra):
    for path in [f"Users/{uuid.uuid4()}", f"Groups/{uuid.uuid4()}"]:
        assert_error(entra.send("GET", path), 404)


def test_an_empty_operations_list_is_a_no_op(entra, created_user):
    response = entra.patch(f"Users/{created_user['id']}")
    assert response.status_code == 200
    assert response.json()["meta"]["version"] == created_user["meta"]["version"]
