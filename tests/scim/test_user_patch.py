"""User PATCH (RFC 7644 section 3.5.2) in every shape Entra ID and Okta send."""

import json

import pytest

from orgadmin.models import AuditEvent, Member
from tests.helpers import ENTERPRISE, assert_error, create, member_of, patch


def test_entra_default_job_sends_one_capitalised_op_per_attribute(scim):
    user = create(scim)
    response = patch(
        scim,
        user["id"],
        {"op": "Replace", "path": "displayName", "value": "Bjfe"},
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "bjfe@acme.example",
        },
        {"op": "Replace", "path": "name.givenName", "value": "Kkom"},
        {"op": "Replace", "path": "name.familyName", "value": "Unua"},
        {"op": "Replace", "path": "externalId", "value": "bjfe"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Aklq"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["displayName"] == "Bjfe" and body["nickName"] == "Babs"
    assert body["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert body["externalId"] == "bjfe"
    assert body[ENTERPRISE]["employeeNumber"] == "Aklq"
    assert body["emails"] == [
        {"value": "bjfe@acme.example", "type": "work", "primary": False}
    ]
    assert member_of(user).email == "bjfe@acme.example"
    assert AuditEvent.objects.filter(action="member.updated").count() == 1


def test_entra_compliant_mode_sends_a_pathless_object_with_dotted_and_urn_keys(scim):
    user = create(scim)
    response = patch(
        scim,
        user["id"],
        {
            "op": "replace",
            "path": 'emails[type eq "work"].value',
            "value": "pat.q@acme.example",
        },
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
                f"{ENTERPRISE}:manager": "",
            },
        },
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["displayName"] == "Bjfe"
    assert body["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert body[ENTERPRISE] == {"employeeNumber": "Aklq"}
    assert [e["value"] for e in body["emails"]] == ["pat.q@acme.example"]


def test_work_email_path_creates_the_element_when_absent(scim):
    user = create(scim, emails=[{"value": "pat@acme.example", "type": "home"}])
    body = patch(
        scim,
        user["id"],
        {
            "op": "Add",
            "path": 'emails[type eq "work"].value',
            "value": "pat.work@acme.example",
        },
    ).json()
    assert {"value": "pat.work@acme.example", "type": "work", "primary": False} in (
        body["emails"]
    )
    assert len(body["emails"]) == 2


def test_pathless_add_with_nested_name_and_extension_objects(scim):
    user = create(scim, name={"givenName": "Pat", "familyName": "Q"})
    body = patch(
        scim,
        user["id"],
        {
            "op": "add",
            "value": {
                "name": {"familyName": "Quinn"},
                ENTERPRISE: {"department": "Sales"},
            },
        },
    ).json()
    # RFC 7644 3.5.2.1: sub-attributes not given are kept.
    assert body["name"] == {"givenName": "Pat", "familyName": "Quinn"}
    assert body[ENTERPRISE]["department"] == "Sales"


@pytest.mark.parametrize(
    "value",
    [
        "MANAGER",  # a raw id (the SCIM validator, scimple#1242)
        {"value": "MANAGER"},
        [
            {"$ref": "https://x/scim/Users/MANAGER", "value": "MANAGER"}
        ],  # Microsoft's Example 5
    ],
)
@pytest.mark.parametrize("path", ["manager", f"{ENTERPRISE}:manager"])
def test_manager_as_a_string_an_object_or_a_list(scim, value, path):
    boss = create(scim, "boss@acme.example")
    user = create(scim)
    value = json.loads(json.dumps(value).replace("MANAGER", boss["id"]))
    body = patch(scim, user["id"], {"op": "Add", "path": path, "value": value}).json()
    assert body[ENTERPRISE]["manager"]["value"] == boss["id"]
    assert member_of(user).manager == member_of(boss)
    removed = patch(
        scim, user["id"], {"op": "Remove", "path": f"{ENTERPRISE}:manager"}
    ).json()
    assert "manager" not in removed.get(ENTERPRISE, {})


def test_manager_of_another_organization_is_refused(scim, other_scim):
    theirs = other_scim.post(
        "Users",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "lee@globex.example",
        },
    ).json()
    user = create(scim)
    assert_error(
        patch(
            scim, user["id"], {"op": "add", "path": "manager", "value": theirs["id"]}
        ),
        400,
        "invalidValue",
    )


def test_roles_sent_as_json_strings_are_decoded(scim):
    user = create(scim)
    role = json.dumps(
        {
            "id": "06b07648-ecfe-589f-9d2f-6f5d3b5c4e3a",
            "value": "25",
            "displayName": "Role1234",
        }
    )
    body = patch(
        scim, user["id"], {"op": "Add", "path": "roles", "value": [{"value": role}]}
    ).json()
    assert body["roles"] == [{"value": "25", "display": "Role1234"}]


def test_multi_valued_add_appends_and_remove_by_filter_or_value(scim):
    user = create(scim, phoneNumbers=[{"value": "1", "type": "work"}])
    uid = user["id"]
    body = patch(
        scim,
        uid,
        {
            "op": "add",
            "path": "phoneNumbers",
            "value": [{"value": "2", "type": "mobile"}, {"value": "1", "type": "work"}],
        },
    ).json()
    assert [p["value"] for p in body["phoneNumbers"]] == ["1", "2"]
    body = patch(
        scim, uid, {"op": "remove", "path": 'phoneNumbers[type eq "mobile"]'}
    ).json()
    assert [p["value"] for p in body["phoneNumbers"]] == ["1"]
    body = patch(
        scim,
        uid,
        {
            "op": "replace",
            "path": "phoneNumbers",
            "value": [{"value": "3", "primary": "True"}],
        },
    ).json()
    assert body["phoneNumbers"] == [{"value": "3", "primary": True}]
    body = patch(scim, uid, {"op": "remove", "path": "phoneNumbers"}).json()
    assert "phoneNumbers" not in body


def test_a_new_primary_email_unsets_the_previous_one(scim):
    user = create(
        scim, emails=[{"value": "pat@acme.example", "type": "work", "primary": True}]
    )
    body = patch(
        scim,
        user["id"],
        {
            "op": "add",
            "path": "emails",
            "value": [{"value": "p2@acme.example", "type": "other", "primary": True}],
        },
    ).json()
    assert [(e["value"], e["primary"]) for e in body["emails"]] == [
        ("pat@acme.example", False),
        ("p2@acme.example", True),
    ]
    assert member_of(user).email == "p2@acme.example"


def test_unknown_attributes_and_custom_extensions_are_ignored(scim):
    user = create(scim)
    response = patch(
        scim,
        user["id"],
        {"op": "Add", "path": "shoeSize", "value": "9"},
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:CustomAttribute",
            "value": "x",
        },
        {"op": "Replace", "path": 'phoneNumbers[type eq "fax"].value', "value": "555"},
        {"op": "Replace", "path": "active", "value": "False"},
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["phoneNumbers"] == [{"type": "fax", "value": "555"}]


def test_empty_operations_are_a_no_op(scim):
    user = create(scim)
    assert patch(scim, user["id"]).status_code == 200
    assert AuditEvent.objects.filter(action="member.updated").count() == 0


def test_one_bad_operation_changes_nothing(scim):
    user = create(scim)
    response = patch(
        scim,
        user["id"],
        {"op": "replace", "path": "displayName", "value": "Changed"},
        {"op": "replace", "path": "active", "value": "perhaps"},
    )
    assert_error(response, 400, "invalidValue")
    member = member_of(user)
    assert member.display_name == "" and member.is_active and member.version == 1


def test_a_patch_that_breaks_the_domain_rule_changes_nothing(scim):
    user = create(scim)
    response = patch(
        scim,
        user["id"],
        {"op": "replace", "path": "title", "value": "CTO"},
        {
            "op": "replace",
            "path": 'emails[type eq "work"].value',
            "value": "pat@elsewhere.example",
        },
    )
    assert "elsewhere.example" in assert_error(response, 400, "invalidValue")["detail"]
    assert member_of(user).title == ""


@pytest.mark.parametrize(
    "body, status, scim_type",
    [
        ({"Operations": []}, 400, "invalidSyntax"),  # no schemas
        (
            {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]},
            400,
            "invalidSyntax",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": {},
            },
            400,
            "invalidSyntax",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "move", "path": "title"}],
            },
            400,
            "invalidSyntax",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove"}],
            },
            400,
            "noTarget",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "value": "x"}],
            },
            400,
            "invalidValue",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "emails[type eq", "value": "x"}],
            },
            400,
            "invalidPath",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "add", "path": "title[x eq 1]", "value": "x"}],
            },
            400,
            "invalidPath",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "id", "value": "x"}],
            },
            400,
            "mutability",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "add", "path": "groups", "value": [{"value": "x"}]}
                ],
            },
            400,
            "mutability",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "userName", "value": 7}],
            },
            400,
            "invalidValue",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace"}] * 1001,
            },
            400,
            "tooMany",
        ),
    ],
)
def test_invalid_patch_bodies_get_the_right_error(scim, body, status, scim_type):
    user = create(scim)
    assert_error(scim.patch(f"Users/{user['id']}", body), status, scim_type)
    assert Member.objects.get(scim_id=user["id"]).version == 1


def test_patch_user_name_to_a_taken_one_gets_409(scim):
    create(scim, "a@acme.example")
    b = create(scim, "b@acme.example")
    assert_error(
        patch(
            scim,
            b["id"],
            {"op": "Replace", "path": "userName", "value": "a@ACME.example"},
        ),
        409,
        "uniqueness",
    )
