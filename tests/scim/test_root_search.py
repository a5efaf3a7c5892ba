"""POST /.search at the root (RFC 7644 section 3.4.3): Users and Groups in one list."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.helpers import GROUP, assert_error, create

SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def search(scim, **parameters):
    response = scim.post(".search", {"schemas": [SEARCH], **parameters})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["schemas"] == [LIST]
    return body


def make_group(scim, name, members=()):
    body = {"schemas": [GROUP], "displayName": name}
    body["members"] = [{"value": m} for m in members]
    response = scim.post("Groups", body)
    assert response.status_code == 201, response.content
    return response.json()


def labels(body):
    return [
        (r["meta"]["resourceType"], r.get("userName") or r.get("displayName"))
        for r in body["Resources"]
    ]


@pytest.fixture
def directory(scim, owner):
    """Created in this order, after the organization's owner: users and groups
    interleaved."""
    ada = create(scim, "ada@acme.example", displayName="Ada")
    engineering = make_group(scim, "Engineering", members=[ada["id"]])
    bob = create(scim, "bob@acme.example", displayName="Zed")
    admins = make_group(scim, "Admins")
    return {"ada": ada, "engineering": engineering, "bob": bob, "admins": admins}


OWNER = ("User", "owner@acme.example")


def test_root_search_lists_users_and_groups_in_creation_order(scim, directory):
    body = search(scim)
    assert body["totalResults"] == 5 and body["itemsPerPage"] == 5
    assert labels(body) == [
        OWNER,
        ("User", "ada@acme.example"),
        ("Group", "Engineering"),
        ("User", "bob@acme.example"),
        ("Group", "Admins"),
    ]
    engineering = body["Resources"][2]
    assert engineering["schemas"] == [GROUP]
    assert engineering["members"][0]["value"] == directory["ada"]["id"]
    assert body["Resources"][1]["groups"][0]["display"] == "Engineering"
    assert body["Resources"][1]["meta"]["location"].endswith(
        f"/Users/{directory['ada']['id']}"
    )


def test_root_search_pages_through_both_types_as_one_list(scim, directory):
    everything = labels(search(scim))
    pages = []
    for start in (1, 3, 5):
        page = search(scim, startIndex=start, count=2)
        assert page["totalResults"] == 5 and page["startIndex"] == start
        pages += labels(page)
    assert pages == everything
    counted = search(scim, count=0)
    assert counted["totalResults"] == 5 and counted["Resources"] == []
    descending = search(scim, sortOrder="descending")
    assert labels(descending) == everything[::-1]


def test_a_filter_applies_to_each_resource_type(scim, directory):
    # displayName is an attribute of both types.
    both = search(scim, filter='displayName sw "A"')
    assert labels(both) == [("User", "ada@acme.example"), ("Group", "Admins")]
    # userName only users have; members only groups have.
    users = search(scim, filter='userName ew "@acme.example"')
    assert {t for t, _ in labels(users)} == {"User"} and users["totalResults"] == 3
    groups = search(scim, filter=f'members[value eq "{directory["ada"]["id"]}"]')
    assert labels(groups) == [("Group", "Engineering")]
    mixed = search(scim, filter='userName eq "bob@acme.example" or members pr')
    assert labels(mixed) == [("Group", "Engineering"), ("User", "bob@acme.example")]
    # Negating what a type lacks selects all of that type.
    not_users = search(scim, filter="not (userName pr)")
    assert labels(not_users) == [("Group", "Engineering"), ("Group", "Admins")]


def test_a_filter_naming_an_attribute_of_neither_type_is_refused(scim, directory):
    response = scim.post(".search", {"schemas": [SEARCH], "filter": 'colour eq "x"'})
    error = assert_error(response, 400, "invalidFilter")
    assert '"colour" is not an attribute of a User or Group' in error["detail"]
    # A comparison that does not fit the other type's attribute is refused too.
    response = scim.post(".search", {"schemas": [SEARCH], "filter": "active co 1"})
    assert_error(response, 400, "invalidFilter")
    response = scim.post(
        ".search", {"schemas": [SEARCH], "filter": 'members[value eq "x"'}
    )
    assert_error(response, 400, "invalidFilter")


def test_sort_by_interleaves_the_types_and_puts_those_without_the_attribute_last(
    scim, directory
):
    by_name = search(scim, sortBy="displayName")
    assert labels(by_name) == [
        OWNER,  # an empty displayName
        ("User", "ada@acme.example"),
        ("Group", "Admins"),
        ("Group", "Engineering"),
        ("User", "bob@acme.example"),  # displayName "Zed"
    ]
    # RFC 7644 section 3.4.2.3: no value sorts last ascending, first descending.
    by_user_name = labels(search(scim, sortBy="userName"))
    assert by_user_name[:3] == [
        ("User", "ada@acme.example"),
        ("User", "bob@acme.example"),
        OWNER,
    ]
    assert {t for t, _ in by_user_name[3:]} == {"Group"}
    descending = labels(search(scim, sortBy="userName", sortOrder="descending"))
    assert descending == by_user_name[::-1]
    qualified = search(
        scim, sortBy="urn:ietf:params:scim:schemas:core:2.0:Group:displayName"
    )
    assert labels(qualified) == labels(by_name)


def test_sort_and_paging_errors_are_invalid_value(scim, directory):
    for parameters in (
        {"sortBy": "password"},
        {"sortBy": "displayName", "sortOrder": "sideways"},
        {"startIndex": "one"},
        {"count": 1.5},
    ):
        response = scim.post(".search", {"schemas": [SEARCH], **parameters})
        assert_error(response, 400, "invalidValue")


def test_attributes_and_excluded_attributes_apply_to_each_type(scim, directory):
    only = search(scim, attributes=["displayName"])
    assert [r.get("displayName") for r in only["Resources"]] == [
        None,  # the owner has none
        "Ada",
        "Engineering",
        "Zed",
        "Admins",
    ]
    for resource in only["Resources"]:
        assert set(resource) <= {"schemas", "id", "displayName"}
    # Spelled as in RFC 7644 section 3.4.3's example.
    without = search(scim, excludedAttributes=["members", "emails", "groups"])
    for resource in without["Resources"]:
        assert not {"members", "emails", "groups"} & set(resource)
        assert resource["meta"]["resourceType"] in ("User", "Group")


def test_root_search_lists_only_the_token_organization(scim, other_scim, directory):
    create(other_scim, "eve@globex.example")
    make_group(other_scim, "Globex")
    assert search(other_scim)["totalResults"] == 3  # with its owner
    assert search(scim)["totalResults"] == 5


def test_root_search_needs_a_search_request_body_and_post(scim):
    assert_error(scim.post(".search", {"filter": "x"}), 400, "invalidSyntax")
    assert_error(scim.get(".search"), 405)
    assert labels(search(scim)) == [OWNER]


def test_root_search_takes_the_same_queries_for_a_bigger_page(scim, directory):
    with CaptureQueriesContext(connection) as small:
        search(scim)
    for n in range(5):
        user = create(scim, f"more{n}@acme.example")
        make_group(scim, f"More {n}", members=[user["id"]])
    with CaptureQueriesContext(connection) as bigger:
        assert search(scim)["itemsPerPage"] == 15
    assert len(bigger) == len(small)


def test_per_type_searches_read_body_parameters_in_any_case(scim, directory):
    # RFC 7644 section 3.4.3 spells them excludedAttributes, startIndex...
    response = scim.post(
        "Users/.search",
        {"schemas": [SEARCH], "excludedAttributes": ["emails", "groups"]},
    )
    assert response.status_code == 200
    for resource in response.json()["Resources"]:
        assert not {"emails", "groups"} & set(resource)
