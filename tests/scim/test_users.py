"""SCIM Users (RFC 7644 section 3), with the request bodies Entra ID and Okta send."""

import json

import pytest

from orgadmin import actions
from orgadmin.models import AuditEvent, Member, ScimRequestLog, User
from scim.parsers import MAX_PAYLOAD_BYTES
from tests.helpers import (
    ENTERPRISE,
    USER,
    assert_error,
    create,
    make_member,
    member_of,
    patch,
    user_body,
)

# ----------------------------------------------------------------------- create (3.3)


def test_entra_create_user_body_gives_201_with_location_and_etag(scim):
    # Microsoft's documented POST /Users, on a domain the organization verified.
    body = {
        "schemas": [USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@acme.example",
        "active": True,
        "emails": [
            {"primary": True, "type": "work", "value": "Test_User_11bb@acme.example"}
        ],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
    }
    response = scim.post("Users", body)
    assert response.status_code == 201
    assert response["Content-Type"] == "application/scim+json; charset=utf-8"
    user = response.json()
    assert response["Location"] == f"https://orgadmin.test/scim/v2/Users/{user['id']}"
    assert response["ETag"] == 'W/"1"' == user["meta"]["version"]
    assert user["userName"] == "Test_User_00aa00aa@acme.example"
    assert user["externalId"] == "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"
    assert user["active"] is True
    assert user["name"]["formatted"] == "givenName familyName"
    assert user["emails"] == [
        {"value": "Test_User_11bb@acme.example", "primary": True, "type": "work"}
    ]
    member = member_of(user)
    assert member.email == "test_user_11bb@acme.example" and member.source == "scim"
    event = AuditEvent.objects.get(action="member.provisioned")
    assert event.actor_type == "scim_token" and event.target_id == str(member.pk)


def test_create_user_with_every_attribute_round_trips(scim, organization):
    manager = create(scim, "boss@acme.example")
    body = user_body(
        "kim@acme.example",
        externalId="kim",
        name={
            "formatted": "Dr Kim J Lee III",
            "familyName": "Lee",
            "givenName": "Kim",
            "middleName": "J",
            "honorificPrefix": "Dr",
            "honorificSuffix": "III",
        },
        displayName="Kim Lee",
        nickName="Kimmy",
        title="Engineer",
        userType="Employee",
        preferredLanguage="en-GB",
        locale="en-GB",
        timezone="Europe/London",
        active=True,
        emails=[{"value": "kim@acme.example", "type": "work", "primary": True}],
        phoneNumbers=[{"value": "+44 20 7946 0000", "type": "work"}],
        addresses=[
            {
                "streetAddress": "1 Main St",
                "locality": "London",
                "country": "GB",
                "type": "work",
            }
        ],
        roles=[{"value": "Developer", "primary": True}],
    )
    body["schemas"].append(ENTERPRISE)
    body[ENTERPRISE] = {
        "employeeNumber": "701984",
        "costCenter": "4130",
        "organization": "Universal Studios",
        "division": "Theme Park",
        "department": "Tour Operations",
        "manager": {"value": manager["id"]},
    }
    user = scim.post("Users", body).json()
    fetched = scim.get(f"Users/{user['id']}").json()
    assert fetched == user
    for key in (
        "name",
        "displayName",
        "nickName",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
        "phoneNumbers",
        "addresses",
        "roles",
    ):
        assert user[key] == body[key], key
    extension = user[ENTERPRISE]
    assert extension["manager"]["value"] == manager["id"]
    assert extension["manager"]["displayName"] == "boss@acme.example"
    assert {k: v for k, v in extension.items() if k != "manager"} == {
        k: v for k, v in body[ENTERPRISE].items() if k != "manager"
    }
    assert set(user["schemas"]) == {USER, ENTERPRISE}
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["created"] and user["meta"]["lastModified"]


def test_user_on_an_unverified_domain_is_refused_naming_the_domain(scim):
    body = assert_error(
        scim.post("Users", user_body("sam@initech.example")), 400, "invalidValue"
    )
    assert "initech.example" in body["detail"]
    assert not Member.objects.filter(user_name="sam@initech.example").exists()


def test_user_whose_work_email_is_unverified_is_refused_even_with_a_verified_username(
    scim,
):
    body = user_body(
        "sam@acme.example",
        emails=[{"value": "sam@gmail.com", "type": "work", "primary": True}],
    )
    detail = assert_error(scim.post("Users", body), 400, "invalidValue")["detail"]
    assert "gmail.com" in detail


def test_duplicate_user_name_gets_409_uniqueness_ignoring_case(scim):
    create(scim, "pat@acme.example")
    assert_error(scim.post("Users", user_body("PAT@acme.example")), 409, "uniqueness")


def test_duplicate_external_id_gets_409(scim):
    create(scim, "a@acme.example", externalId="x1")
    assert_error(
        scim.post("Users", user_body("b@acme.example", externalId="x1")),
        409,
        "uniqueness",
    )


@pytest.mark.parametrize(
    "body, scim_type",
    [
        ({"userName": "pat@acme.example"}, "invalidSyntax"),  # no schemas
        (
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "userName": "x@acme.example",
            },
            "invalidSyntax",
        ),
        ({"schemas": [USER]}, "invalidValue"),  # no userName
        ({"schemas": [USER], "userName": ""}, "invalidValue"),
        ({"schemas": [USER], "userName": 42}, "invalidValue"),
        (
            {"schemas": [USER], "userName": "a@acme.example", "active": "maybe"},
            "invalidValue",
        ),
        (
            {
                "schemas": [USER],
                "userName": "a@acme.example",
                "emails": "a@acme.example",
            },
            "invalidValue",
        ),
        (
            {"schemas": [USER], "userName": "a@acme.example", "name": "Pat"},
            "invalidValue",
        ),
        (
            {"schemas": [USER], "userName": "a@acme.example", "title": "x" * 300},
            "invalidValue",
        ),
        (
            {
                "schemas": [USER],
                "userName": "a@acme.example",
                "emails": [
                    {"value": "a@acme.example", "primary": True},
                    {"value": "b@acme.example", "primary": True},
                ],
            },
            "invalidValue",
        ),
        ([1, 2], "invalidSyntax"),
    ],
)
def test_invalid_user_bodies_get_400_and_create_nothing(scim, body, scim_type):
    before = Member.objects.count()
    assert_error(scim.post("Users", body), 400, scim_type)
    assert Member.objects.count() == before


def test_malformed_json_gets_400_invalid_syntax(scim):
    assert_error(scim.post("Users", '{"schemas": ['), 400, "invalidSyntax")


def test_oversized_body_gets_413(scim):
    body = json.dumps(user_body(title="x" * (MAX_PAYLOAD_BYTES + 10)))
    assert_error(scim.post("Users", body), 413)


def test_unsupported_content_type_gets_415(scim):
    assert_error(scim.post("Users", "userName=x", content_type="text/plain"), 415)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/scim+json; charset=utf-8",
        "application/json; charset=UTF-8",
    ],
)
def test_both_json_media_types_are_accepted_with_or_without_charset(scim, content_type):
    response = scim.post("Users", user_body(), content_type=content_type)
    assert response.status_code == 201
    assert response["Content-Type"].startswith("application/scim+json")


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/scim+json", "text/html"]
)
def test_any_accept_header_gets_scim_json(scim, accept):
    headers = {"Accept": accept} if accept else {}
    response = scim.get("Users", headers=headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/scim+json")


def test_unknown_attributes_are_ignored_on_create(scim):
    user = create(scim, "pat@acme.example", favouriteColour="green", password="hunter2")
    assert "favouriteColour" not in user and "password" not in user


def test_attribute_names_are_case_insensitive_on_create(scim):
    response = scim.post(
        "Users",
        {"SCHEMAS": [USER], "USERNAME": "pat@acme.example", "DisplayName": "Pat"},
    )
    assert response.status_code == 201
    assert response.json()["displayName"] == "Pat"


# ----------------------------------------------------------------------- read (3.4)


def test_test_connection_query_for_a_random_user_gets_an_empty_list(scim):
    # Entra ID's Test Connection, form-encoded as it sends it.
    response = scim.get(
        "Users?filter=userName+eq+%227d420df3-9995-4831-a406-ecf8166f5f6a%22"
    )
    assert response.status_code == 200
    assert response.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_filter_finds_a_user_by_user_name_ignoring_case(scim):
    user = create(scim, "Pat@acme.example")
    found = scim.get('Users?filter=userName eq "pat@ACME.example"').json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]


def test_bad_filter_gets_400_invalid_filter(scim):
    assert_error(scim.get("Users?filter=userName eq"), 400, "invalidFilter")
    assert_error(scim.get('Users?filter=shoeSize eq "9"'), 400, "invalidFilter")


def test_pagination_is_clamped_stable_and_counts_exactly(scim):
    for number in range(5):
        create(scim, f"u{number}@acme.example")
    everyone = scim.get("Users?startIndex=-4&count=1000").json()
    assert everyone["totalResults"] == 6 and everyone["startIndex"] == 1
    ids = [r["id"] for r in everyone["Resources"]]
    page = scim.get("Users?startIndex=3&count=2").json()
    assert (
        page["totalResults"] == 6
        and page["itemsPerPage"] == 2
        and page["startIndex"] == 3
    )
    assert [r["id"] for r in page["Resources"]] == ids[2:4]
    assert scim.get("Users?count=-1").json()["Resources"] == []
    assert scim.get("Users?startIndex=50").json()["Resources"] == []
    assert_error(scim.get("Users?count=many"), 400, "invalidValue")


def test_page_size_is_capped_at_the_configured_maximum(scim, organization):
    from orgadmin.models import Member as M

    M.objects.bulk_create(
        M(organization=organization, user_name=f"bulk{n}@acme.example")
        for n in range(105)
    )
    page = scim.get("Users?count=500").json()
    assert page["totalResults"] == 106 and page["itemsPerPage"] == 100


def test_sort_by_user_name_descending(scim):
    for name in ("b@acme.example", "c@acme.example", "a@acme.example"):
        create(scim, name)
    names = [
        r["userName"]
        for r in scim.get("Users?sortBy=userName&sortOrder=descending").json()[
            "Resources"
        ]
    ]
    assert names == [
        "owner@acme.example",
        "c@acme.example",
        "b@acme.example",
        "a@acme.example",
    ]
    assert_error(scim.get("Users?sortBy=password"), 400, "invalidValue")
    assert_error(
        scim.get("Users?sortBy=userName&sortOrder=sideways"), 400, "invalidValue"
    )


def test_attributes_and_excluded_attributes_shape_reads_and_writes(scim):
    user = create(
        scim,
        "pat@acme.example",
        displayName="Pat",
        name={"givenName": "Pat", "familyName": "Q"},
    )
    only = scim.get(f"Users/{user['id']}?attributes=userName,name.givenName").json()
    assert only == {
        "schemas": [USER],
        "id": user["id"],
        "userName": "pat@acme.example",
        "name": {"givenName": "Pat"},
    }
    without = scim.get(
        f"Users/{user['id']}?excludedAttributes=emails,name,meta,id"
    ).json()
    assert "emails" not in without and "name" not in without and "meta" not in without
    assert without["id"] == user["id"] and without["displayName"] == "Pat"
    written = scim.post(
        "Users?attributes=userName", user_body("kim@acme.example")
    ).json()
    assert set(written) == {"schemas", "id", "userName"}
    patched = patch(
        scim, user["id"], {"op": "replace", "path": "title", "value": "CTO"}, headers={}
    ).json()
    assert patched["title"] == "CTO"
    listed = scim.get(
        "Users?attributes=urn:ietf:params:scim:schemas:core:2.0:User:userName"
    ).json()
    assert all(set(r) == {"schemas", "id", "userName"} for r in listed["Resources"])


def test_user_read_lists_its_groups(scim):
    user = create(scim)
    group = scim.post(
        "Groups",
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Eng",
            "members": [{"value": user["id"]}],
        },
    ).json()
    groups = scim.get(f"Users/{user['id']}").json()["groups"]
    assert groups == [
        {
            "value": group["id"],
            "display": "Eng",
            "$ref": f"https://orgadmin.test/scim/v2/Groups/{group['id']}",
            "type": "direct",
        }
    ]


def test_unknown_and_malformed_ids_are_404(scim):
    assert_error(scim.get("Users/2819c223-7f76-453a-919d-413861904646"), 404)
    assert_error(scim.get("Users/42"), 404)


def test_trailing_slash_and_aad_flag_are_accepted(scim):
    assert scim.get("Users/?aadOptscim062020").status_code == 200
    assert scim.post("Users/", user_body()).status_code == 201


# ------------------------------------------------------------------- isolation (7.1)


def test_another_organizations_user_is_404_for_every_method(scim, other_scim):
    theirs = other_scim.post("Users", user_body("lee@globex.example")).json()
    path = f"Users/{theirs['id']}"
    assert_error(scim.get(path), 404)
    assert_error(scim.put(path, user_body("lee@globex.example", title="Hacked")), 404)
    assert_error(
        patch(scim, theirs["id"], {"op": "replace", "path": "active", "value": False}),
        404,
    )
    assert_error(scim.delete(path), 404)
    member = member_of(theirs)
    assert member.is_active and member.title == ""


def test_filters_never_reach_another_organization(scim, other_scim):
    other_scim.post("Users", user_body("lee@globex.example"))
    found = scim.get(
        'Users?filter=userName eq "lee@globex.example" or userName eq "x"'
    ).json()
    assert found["totalResults"] == 0


# ----------------------------------------------------------------- deactivation, delete


DEACTIVATIONS = [
    # Entra ID default job: capitalised op, string boolean.
    {"op": "Replace", "path": "active", "value": "False"},
    # Entra ID aadOptscim062020 and Microsoft's tutorial.
    {"op": "replace", "path": "active", "value": False},
    {"op": "Replace", "path": "active", "value": False},
    # Entra ID when it saw no value (rancher#54025).
    {"op": "Add", "path": "active", "value": "false"},
    # Okta: path-less value object.
    {"op": "replace", "value": {"active": False}},
    # Path-less with an id and a string boolean (Sentry's Azure tests).
    {"op": "Replace", "value": {"id": "ignored", "active": "False"}},
]


@pytest.mark.parametrize("operation", DEACTIVATIONS)
def test_every_deactivation_shape_keeps_the_member_visible_as_inactive(scim, operation):
    user = create(scim)
    response = patch(scim, user["id"], operation)
    assert response.status_code == 200
    assert response.json()["active"] is False
    member = member_of(user)
    assert not member.is_active and member.deactivated_at is not None
    assert scim.get(f"Users/{user['id']}").json()["active"] is False
    found = scim.get('Users?filter=userName eq "pat@acme.example"').json()["Resources"]
    assert found[0]["active"] is False
    assert AuditEvent.objects.filter(action="member.deactivated").count() == 1
    assert ScimRequestLog.objects.filter(outcome="deactivated").count() == 1


def test_reactivation_is_logged_as_reactivated(scim):
    user = create(scim, active=False)
    assert (
        patch(
            scim, user["id"], {"op": "Replace", "path": "active", "value": "True"}
        ).json()["active"]
        is True
    )
    assert ScimRequestLog.objects.filter(outcome="reactivated").count() == 1
    assert AuditEvent.objects.filter(action="member.reactivated").count() == 1


def test_delete_removes_the_member_keeps_the_account_then_404(scim):
    account = User.objects.create_user(email="pat@acme.example")
    actions.record_proven_email(account, email=account.email, proof="password_reset")
    user = create(scim)
    member = member_of(user)
    # Linked: its address is proven and its domain verified by the organization.
    assert member.user == account
    assert scim.delete(f"Users/{user['id']}").status_code == 204
    assert not Member.objects.filter(pk=member.pk).exists()
    account.refresh_from_db()  # the person's account stays
    assert_error(scim.delete(f"Users/{user['id']}"), 404)
    assert ScimRequestLog.objects.filter(outcome="deleted").count() == 1
    assert AuditEvent.objects.filter(action="member.removed").count() == 1


def test_a_token_cannot_deactivate_an_owner_even_one_of_several(
    scim, organization, owner
):
    # Owners are managed in orgadmin: a leaked or admin-issued token must not be able
    # to lock them out, so this is refused before the last-owner rule is reached.
    second = make_member(organization, "grace@acme.example", role="owner")
    for target in (owner, second):
        response = patch(
            scim,
            str(target.scim_id),
            {"op": "replace", "path": "active", "value": False},
        )
        assert_error(response, 403)
        assert "owners are managed in orgadmin" in response.json()["detail"]
        target.refresh_from_db()
        assert target.is_active


# ------------------------------------------------------------------------ PUT (3.5.1)


def test_put_replaces_every_attribute_and_clears_what_it_leaves_out(scim):
    user = create(scim, displayName="Pat", title="CTO", nickName="P")
    body = user_body("pat@acme.example", displayName="Pat Q", active=True)
    response = scim.put(f"Users/{user['id']}", body)
    assert response.status_code == 200
    replaced = response.json()
    assert replaced["displayName"] == "Pat Q"
    assert "title" not in replaced and "nickName" not in replaced
    assert replaced["meta"]["version"] == 'W/"2"' == response["ETag"]


def test_unchanged_put_writes_nothing(scim):
    user = create(scim, displayName="Pat")
    before = AuditEvent.objects.count()
    response = scim.put(
        f"Users/{user['id']}", user_body("pat@acme.example", displayName="Pat")
    )
    assert response.status_code == 200 and response.json()["meta"]["version"] == 'W/"1"'
    assert AuditEvent.objects.count() == before


def test_put_to_a_taken_user_name_gets_409(scim):
    create(scim, "a@acme.example")
    b = create(scim, "b@acme.example")
    assert_error(
        scim.put(f"Users/{b['id']}", user_body("A@acme.example")), 409, "uniqueness"
    )


# ---------------------------------------------------------------------- ETags (3.14)


def test_if_match_guards_writes_and_if_none_match_saves_a_read(scim):
    user = create(scim)
    path = f"Users/{user['id']}"
    assert scim.get(path, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert scim.get(path, headers={"If-None-Match": 'W/"9"'}).status_code == 200
    stale = patch(
        scim,
        user["id"],
        {"op": "replace", "path": "title", "value": "x"},
        headers={"If-Match": 'W/"9"'},
    )
    assert_error(stale, 412)
    assert member_of(user).title == ""
    fresh = patch(
        scim,
        user["id"],
        {"op": "replace", "path": "title", "value": "x"},
        headers={"If-Match": 'W/"1"'},
    )
    assert fresh.status_code == 200 and fresh["ETag"] == 'W/"2"'
    assert_error(scim.put(path, user_body(), headers={"If-Match": 'W/"1"'}), 412)
    assert_error(scim.delete(path, headers={"If-Match": 'W/"1"'}), 412)
    assert scim.delete(path, headers={"If-Match": "*"}).status_code == 204
