"""PATCH value paths (RFC 7644 section 3.5.2) read by the same filter parser as
?filter=: escaped strings, numbers, "and" before "or", and the same limits."""

import pytest

from scim.filters import MAX_COMPARISONS, MAX_FILTER_LENGTH
from scim.limits import MAX_FILTER_NESTING
from scim.patch import MAX_PATH_LENGTH, MAX_PATH_TEXT_PER_PATCH
from tests.helpers import GROUP, assert_error, create, member_ids, patch, patch_group

PHONES = "phoneNumbers"


def phones(user):
    return [phone["value"] for phone in user.get(PHONES, [])]


def test_an_escaped_quote_in_a_value_path_filter_is_part_of_the_string(scim):
    user = create(
        scim,
        phoneNumbers=[
            {"value": "1", "display": 'desk "A"'},
            {"value": "2", "display": "desk A"},
        ],
    )

    response = patch(
        scim,
        user["id"],
        {"op": "remove", "path": r'phoneNumbers[display eq "desk \"A\""]'},
    )

    assert response.status_code == 200, response.content
    assert phones(response.json()) == ["2"]


def test_a_multi_digit_number_in_a_value_path_filter_is_one_number(scim):
    user = create(scim, phoneNumbers=[{"value": "12"}, {"value": "1"}, {"value": "2"}])

    response = patch(
        scim, user["id"], {"op": "remove", "path": "phoneNumbers[value eq 12]"}
    )

    assert response.status_code == 200, response.content
    assert phones(response.json()) == ["1", "2"]


def test_a_number_in_a_value_path_filter_creates_the_element_it_describes(scim):
    user = create(scim)

    response = patch(
        scim,
        user["id"],
        {
            "op": "replace",
            "path": "phoneNumbers[value eq 5551234].type",
            "value": "work",
        },
    )

    assert response.status_code == 200, response.content
    assert response.json()[PHONES] == [{"value": "5551234", "type": "work"}]


def test_and_binds_tighter_than_or_in_a_value_path_filter(scim):
    user = create(
        scim,
        phoneNumbers=[
            {"value": "1", "type": "work"},
            {"value": "2", "type": "home"},
            {"value": "3", "type": "home", "primary": True},
        ],
    )

    # work or (home and primary): left to right it would be (work or home) and primary.
    response = patch(
        scim,
        user["id"],
        {
            "op": "remove",
            "path": 'phoneNumbers[type eq "work" or type eq "home" and primary eq true]',
        },
    )

    assert response.status_code == 200, response.content
    assert phones(response.json()) == ["2"]


def test_list_filters_and_patch_paths_group_and_before_or_alike(scim):
    both = create(
        scim,
        "both@acme.example",
        emails=[
            {"value": "both.desk@acme.example", "type": "desk"},
            {"value": "both.cell@acme.example", "type": "cell"},
        ],
    )
    create(
        scim,
        "cell@acme.example",
        emails=[{"value": "cell.only@acme.example", "type": "cell"}],
    )
    # desk or (cell and primary): left to right, neither user would be selected.
    selection = 'emails[type eq "desk" or type eq "cell" and primary eq true]'

    listed = scim.get(f"Users?filter={selection}").json()
    patched = patch(scim, both["id"], {"op": "remove", "path": selection})

    assert [user["id"] for user in listed["Resources"]] == [both["id"]]
    assert patched.status_code == 200, patched.content
    assert [e["value"] for e in patched.json()["emails"]] == ["both.cell@acme.example"]


def test_a_list_filter_with_and_inside_or_follows_the_rfc(scim):
    ada = create(scim, "ada@acme.example", title="eng")
    create(scim, "grace@acme.example", title="ops")

    # eng or (grace and nobody); left to right, (eng or grace) and nobody matches none.
    response = scim.get(
        'Users?filter=title eq "eng" or userName eq "grace@acme.example" '
        'and title eq "nobody"'
    )

    assert response.status_code == 200, response.content
    assert [user["id"] for user in response.json()["Resources"]] == [ada["id"]]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            PHONES
            + "["
            + "(" * (MAX_FILTER_NESTING + 1)
            + 'value eq "1"'
            + ")" * (MAX_FILTER_NESTING + 1)
            + "]",
            "nests deeper than",
        ),
        (PHONES + "[" + "(" * 990 + 'value eq "1"' + ")" * 990 + "]", "nests deeper"),
        (
            PHONES + "[" + " or ".join(['value eq "1"'] * (MAX_COMPARISONS + 1)) + "]",
            "are allowed",
        ),
        (
            PHONES + '[value eq "' + "x" * (MAX_FILTER_LENGTH + 10) + '"]',
            f"longer than {MAX_FILTER_LENGTH}",
        ),
        (PHONES + r'[value eq "\u0000"]', "NUL"),
        (PHONES + "[value eq]", "ends too early"),
        (PHONES + "[value eq 1 2]", "Unexpected"),
        (PHONES + '[value eq "1" and x[y eq "z"]].value', "nested"),
    ],
)
def test_a_bad_value_path_filter_gets_400_invalid_filter(scim, path, message):
    user = create(scim, phoneNumbers=[{"value": "1"}])

    response = patch(scim, user["id"], {"op": "remove", "path": path})

    body = assert_error(response, 400, "invalidFilter")
    assert message in body["detail"]
    assert phones(scim.get(f"Users/{user['id']}").json()) == ["1"]


def test_an_over_long_path_gets_400_invalid_path(scim):
    user = create(scim, phoneNumbers=[{"value": "1"}])
    path = PHONES + '[value eq "' + "x" * MAX_PATH_LENGTH + '"]'

    response = patch(scim, user["id"], {"op": "remove", "path": path})

    body = assert_error(response, 400, "invalidPath")
    assert f"longer than {MAX_PATH_LENGTH}" in body["detail"]


def test_an_over_long_pathless_key_gets_400_invalid_path(scim):
    user = create(scim)

    response = patch(
        scim, user["id"], {"op": "add", "value": {"x" * (MAX_PATH_LENGTH + 1): "y"}}
    )

    assert_error(response, 400, "invalidPath")


def test_too_much_value_path_text_in_one_patch_gets_400_too_many(scim):
    user = create(scim, phoneNumbers=[{"value": "1"}])
    filter_text = " or ".join([f'value eq "{"9" * 30}"'] * 40)
    path = f"{PHONES}[{filter_text}]"
    count = MAX_PATH_TEXT_PER_PATCH // len(path) + 1

    response = patch(
        scim, user["id"], *[{"op": "remove", "path": path} for _ in range(count)]
    )

    assert_error(response, 400, "tooMany")
    assert phones(scim.get(f"Users/{user['id']}").json()) == ["1"]


def test_a_deeply_nested_members_path_gets_400_and_changes_nothing(scim):
    member = create(scim)["id"]
    group = scim.post(
        "Groups",
        {"schemas": [GROUP], "displayName": "Ops", "members": [{"value": member}]},
    ).json()
    nested = (
        "(" * (MAX_FILTER_NESTING + 5)
        + f'value eq "{member}"'
        + ")" * (MAX_FILTER_NESTING + 5)
    )

    response = patch_group(
        scim, group["id"], {"op": "remove", "path": f"members[{nested}]"}
    )

    assert_error(response, 400, "invalidFilter")
    assert member_ids(group) == {member}


def test_members_named_by_an_or_of_escaped_strings_are_removed(scim):
    first, second, third = (create(scim, f"m{n}@acme.example")["id"] for n in range(3))
    group = scim.post(
        "Groups",
        {
            "schemas": [GROUP],
            "displayName": "Ops",
            "members": [{"value": first}, {"value": second}, {"value": third}],
        },
    ).json()

    response = patch_group(
        scim,
        group["id"],
        {
            "op": "remove",
            "path": f'members[value eq "{first}" or value eq "\\u{ord(second[0]):04x}'
            f'{second[1:]}"]',
        },
    )

    assert response.status_code == 204, response.content
    assert member_ids(group) == {third}
