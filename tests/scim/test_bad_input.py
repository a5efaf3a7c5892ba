"""Bad input never reaches the database as a 500: PATCH path filters stay within the
filter limits, each multi-valued attribute is capped, every string is checked against
its column, and dates at the calendar's edges compare correctly.

Runs on SQLite and PostgreSQL; only PostgreSQL enforces column lengths, so run this
module with DATABASE_URL too."""

import base64
import json
import logging
import uuid
from urllib.parse import urlencode

import pytest
from django.db import connection

from orgadmin.models import AuditEvent, Member, MemberEmail, Team
from scim.resource_schema import GROUP, MAX_MULTI_VALUED_ITEMS, MULTI, SIMPLE, USER
from tests.helpers import (
    ENTERPRISE,
    assert_error,
    create,
    patch,
    patch_group,
    user_body,
)
from tests.helpers import (
    GROUP as GROUP_SCHEMA,
)

WORK_EMAIL = {"value": "pat@acme.example", "type": "work", "primary": True}


def emails(user):
    return [email["value"] for email in user.get("emails", [])]


def search(scim, resource, text):
    return scim.get(f"{resource}?{urlencode({'filter': text})}")


# ------------------------------------------------------- PATCH path filters (finding 6)

DEEP = "(" * 1500 + 'type eq "work"' + ")" * 1500
OR_CHAIN = " or ".join(f'type eq "t{i}"' for i in range(3000))  # 60 KB
AND_CHAIN = " and ".join(f'type ne "t{i}"' for i in range(60000))  # 1.2 MB


@pytest.mark.parametrize(
    ("path", "scim_type"),
    [
        (f"emails[{DEEP}].value", "invalidPath"),
        (f"emails[{OR_CHAIN}].display", "invalidPath"),
        (f"emails[{AND_CHAIN}].display", "tooMany"),
    ],
    ids=["1500-deep parentheses", "3000-term or chain", "1.2 MB path"],
)
def test_the_reviews_hostile_patch_paths_get_400_and_change_nothing(
    scim, path, scim_type
):
    user = create(scim, emails=[WORK_EMAIL])

    as_path = patch(scim, user["id"], {"op": "replace", "path": path, "value": "x"})
    as_key = patch(scim, user["id"], {"op": "replace", "value": {path: "x"}})

    assert_error(as_path, 400, scim_type)
    assert_error(as_key, 400, scim_type)
    assert emails(scim.get(f"Users/{user['id']}").json()) == ["pat@acme.example"]


def test_removing_a_thousand_members_in_one_or_filter_gets_400_and_keeps_them(scim):
    user = create(scim)
    group = scim.post(
        "Groups",
        {
            "schemas": [GROUP_SCHEMA],
            "displayName": "Ops",
            "members": [{"value": user["id"]}],
        },
    ).json()
    ids = [user["id"]] + [str(uuid.uuid4()) for _ in range(999)]
    path = "members[" + " or ".join(f'value eq "{i}"' for i in ids) + "]"

    response = patch_group(scim, group["id"], {"op": "remove", "path": path})

    assert_error(response, 400, "invalidPath")
    assert Team.objects.get(scim_id=group["id"]).members.count() == 1


# ---------------------------------------------------- multi-valued caps (finding 7)

# One valid value of each writable multi-valued User attribute.
VALUES = {
    "emails": lambda i: {"value": f"pat{i}@acme.example"},
    "phoneNumbers": lambda i: {"value": f"+1 555 {i:04}"},
    "ims": lambda i: {"value": f"pat{i}", "type": "xmpp"},
    "photos": lambda i: {"value": f"https://photos.example/{i}.jpg"},
    "addresses": lambda i: {"locality": f"Town {i}", "type": "work"},
    "entitlements": lambda i: {"value": f"entitlement-{i}"},
    "roles": lambda i: {"value": f"role-{i}"},
    "x509Certificates": lambda i: {"value": base64.b64encode(b"cert %d" % i).decode()},
}


def values(attribute, count, start=0):
    return [VALUES[attribute](i) for i in range(start, start + count)]


def test_every_writable_multi_valued_user_attribute_is_covered_here():
    assert set(VALUES) == {
        attribute.name
        for attribute in USER.core.values()
        if attribute.kind == MULTI and not attribute.read_only
    }


@pytest.mark.parametrize("attribute", VALUES)
def test_each_multi_valued_attribute_takes_the_maximum(scim, attribute):
    user = create(scim, **{attribute: values(attribute, MAX_MULTI_VALUED_ITEMS)})

    assert len(scim.get(f"Users/{user['id']}").json()[attribute]) == (
        MAX_MULTI_VALUED_ITEMS
    )


@pytest.mark.parametrize("attribute", VALUES)
def test_one_value_over_the_cap_gets_400_on_post_and_creates_nothing(scim, attribute):
    response = scim.post(
        "Users",
        user_body(**{attribute: values(attribute, MAX_MULTI_VALUED_ITEMS + 1)}),
    )

    body = assert_error(response, 400, "invalidValue")
    assert attribute in body["detail"]
    assert f"at most {MAX_MULTI_VALUED_ITEMS}" in body["detail"]
    assert not Member.objects.filter(user_name="pat@acme.example").exists()


@pytest.mark.parametrize("attribute", VALUES)
def test_one_value_over_the_cap_gets_400_on_put_and_changes_nothing(scim, attribute):
    user = create(scim, **{"emails": [WORK_EMAIL], attribute: values(attribute, 1)})
    before = scim.get(f"Users/{user['id']}").json()

    response = scim.put(
        f"Users/{user['id']}",
        user_body(**{attribute: values(attribute, MAX_MULTI_VALUED_ITEMS + 1)}),
    )

    body = assert_error(response, 400, "invalidValue")
    assert attribute in body["detail"]
    assert scim.get(f"Users/{user['id']}").json() == before


@pytest.mark.parametrize("attribute", VALUES)
def test_a_patch_add_past_the_cap_gets_400_and_changes_nothing(scim, attribute):
    user = create(scim, **{attribute: values(attribute, MAX_MULTI_VALUED_ITEMS)})
    before = scim.get(f"Users/{user['id']}").json()
    one_more = values(attribute, 1, start=MAX_MULTI_VALUED_ITEMS)

    with_path = patch(
        scim, user["id"], {"op": "add", "path": attribute, "value": one_more}
    )
    without_path = patch(
        scim, user["id"], {"op": "add", "value": {attribute: one_more}}
    )

    for response in (with_path, without_path):
        body = assert_error(response, 400, "invalidValue")
        assert attribute in body["detail"]
    assert scim.get(f"Users/{user['id']}").json() == before


def test_a_patch_replace_with_too_many_values_gets_400(scim):
    user = create(scim)

    response = patch(
        scim,
        user["id"],
        {
            "op": "replace",
            "path": "phoneNumbers",
            "value": values("phoneNumbers", MAX_MULTI_VALUED_ITEMS + 1),
        },
    )

    assert_error(response, 400, "invalidValue")
    assert "phoneNumbers" not in scim.get(f"Users/{user['id']}").json()


def test_audit_events_record_long_lists_as_counts_and_short_ones_in_full(scim):
    user = create(
        scim,
        emails=values("emails", MAX_MULTI_VALUED_ITEMS),
        phoneNumbers=values("phoneNumbers", MAX_MULTI_VALUED_ITEMS),
        roles=values("roles", 2),
    )
    scim.put(
        f"Users/{user['id']}",
        user_body(
            emails=values("emails", 1),
            phoneNumbers=values("phoneNumbers", MAX_MULTI_VALUED_ITEMS, start=500),
        ),
    )

    provisioned = AuditEvent.objects.get(action="member.provisioned")
    updated = AuditEvent.objects.get(action="member.updated")
    assert provisioned.changes["emails"] == {"count": MAX_MULTI_VALUED_ITEMS}
    assert provisioned.changes["phone_numbers"] == {"count": MAX_MULTI_VALUED_ITEMS}
    assert provisioned.changes["roles"] == values("roles", 2)
    assert updated.changes["emails"] == {
        "from": {"count": MAX_MULTI_VALUED_ITEMS},
        "to": [{"value": "pat0@acme.example", "primary": False}],
    }
    assert updated.changes["phone_numbers"] == {
        "from": {"count": MAX_MULTI_VALUED_ITEMS},
        "to": {"count": MAX_MULTI_VALUED_ITEMS},
    }
    assert len(json.dumps(provisioned.changes)) < 10_000


# ------------------------------------------------- strings against columns (finding 8)


def _column_cases():
    """(resource, urn, attribute, sub-attribute, model, field) for every string the
    schema keeps in a column: simple attributes, name's sub-attributes (Member
    columns) and emails' (MemberEmail columns). The manager is a foreign key and the
    other multi-valued attributes JSON, with no column."""
    for schema, model in ((USER, Member), (GROUP, Team)):
        for urn, attributes in schema.namespaces():
            for attribute in attributes.values():
                if attribute.read_only or attribute.type == "boolean":
                    continue
                if attribute.kind == SIMPLE:
                    yield schema.name, urn, attribute.name, None, model, attribute.field
                elif attribute.rows is not None or attribute.field is None:
                    rows = attribute.rows.model if attribute.rows else model
                    for sub in attribute.sub_attributes:
                        if sub.field and sub.type != "boolean":
                            yield (
                                schema.name,
                                urn,
                                attribute.name,
                                sub.name,
                                rows,
                                sub.field,
                            )


COLUMN_CASES = list(_column_cases())


def _body(resource, urn, name, sub, text):
    """A document that is valid but for `text` at `name` (or `name.sub`)."""
    if resource == "Group":
        return {"schemas": [GROUP_SCHEMA], "displayName": "Ops", name: text}
    body = user_body(emails=[WORK_EMAIL])
    if name == "emails":
        item = {"value": "pat@acme.example", "primary": True, sub: text}
        if sub == "value":
            item["value"] = text[: -len("@acme.example")] + "@acme.example"
        body["emails"] = [item]
    elif sub is not None:
        body[name] = {sub: text}
    elif urn == ENTERPRISE:
        body[ENTERPRISE] = {name: text}
    else:
        body[name] = text
    return body


def test_the_column_cases_cover_the_emails_rows_and_the_group():
    covered = {(case[0], case[2], case[3]) for case in COLUMN_CASES}

    assert {("User", "emails", "display"), ("User", "name", "givenName")} <= covered
    assert {("Group", "displayName", None), ("Group", "externalId", None)} <= covered


@pytest.mark.parametrize(
    ("resource", "urn", "name", "sub", "model", "field"),
    COLUMN_CASES,
    ids=[f"{c[0]}.{c[2]}{'.' + c[3] if c[3] else ''}" for c in COLUMN_CASES],
)
def test_a_string_one_longer_than_its_column_gets_400_and_its_length_is_stored(
    scim, resource, urn, name, sub, model, field
):
    limit = model._meta.get_field(field).max_length
    endpoint = f"{resource}s"

    too_long = scim.post(endpoint, _body(resource, urn, name, sub, "x" * (limit + 1)))
    longest = scim.post(endpoint, _body(resource, urn, name, sub, "x" * limit))

    body = assert_error(too_long, 400, "invalidValue")
    assert name in body["detail"]
    assert f"longer than {limit}" in body["detail"]
    assert longest.status_code == 201, longest.content


def test_an_email_too_long_once_lowercased_gets_400(scim):
    # "İ" lowercases to two characters: 121 of them make 255 with the domain.
    value = "İ" * 121 + "@acme.example"
    assert len(value) <= MemberEmail._meta.get_field("value").max_length

    response = scim.post("Users", user_body(emails=[{"value": value, "primary": True}]))

    body = assert_error(response, 400, "invalidValue")
    assert "longer than 254" in body["detail"]
    assert not Member.objects.filter(user_name="pat@acme.example").exists()


def test_an_email_username_longer_than_an_email_column_gets_400(scim):
    user_name = "a" * (255 - len("@acme.example")) + "@acme.example"

    response = scim.post("Users", user_body(user_name))

    body = assert_error(response, 400, "invalidValue")
    assert "longer than 254" in body["detail"]


def test_an_unknown_manager_id_is_not_echoed_at_length(scim):
    response = scim.post(
        "Users", user_body(**{ENTERPRISE: {"manager": {"value": "x" * 100_000}}})
    )

    body = assert_error(response, 400, "invalidValue")
    assert len(body["detail"]) < 200


@pytest.mark.postgres
def test_a_value_the_database_refuses_is_400_invalid_value_and_logged(scim, caplog):
    # A column narrower than its model field (a migration not applied yet) is what
    # validation cannot see: the database's DataError is the last guard.
    column = Member._meta.get_field("title").column
    with connection.cursor() as cursor:
        # The fixtures' writes leave deferred constraint checks, which ALTER refuses.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            f"ALTER TABLE {Member._meta.db_table} ALTER COLUMN {column} TYPE varchar(5)"
        )

    with caplog.at_level(logging.ERROR, logger="scim.errors"):
        response = scim.post("Users", user_body(emails=[WORK_EMAIL], title="Engineer"))

    body = assert_error(response, 400, "invalidValue")
    assert "too long" in body["detail"]
    assert "refused by the database" in caplog.text
    assert not Member.objects.filter(user_name="pat@acme.example").exists()


# ------------------------------------------------ dates at the edges (finding 9)


@pytest.mark.parametrize(
    ("text", "matches"),
    [
        ('meta.created gt "9999-12-31T23:59:59Z"', False),
        ('meta.created ge "9999-12-31T23:59:59Z"', False),
        ('meta.created eq "9999-12-31"', False),
        ('meta.created ne "9999-12-31"', True),
        ('meta.lastModified le "9999-12-31"', True),
        ('meta.lastModified le "9999-12-31T23:59:59.999999Z"', True),
        ('meta.lastModified lt "9999-12-31"', True),
        ('not (meta.lastModified le "9999-12-31")', False),
        ('meta.created ge "0001-01-01"', True),
        ('meta.created gt "0001-01-01T00:00:00Z"', True),
        ('meta.created lt "0001-01-01"', False),
        ('meta.created le "0001-01-01"', False),
    ],
)
def test_dates_at_the_edges_of_the_calendar_compare_correctly(scim, text, matches):
    create(scim)
    everyone = {
        str(scim_id) for scim_id in Member.objects.values_list("scim_id", flat=True)
    }

    response = search(scim, "Users", text)

    assert response.status_code == 200, response.content
    found = {resource["id"] for resource in response.json()["Resources"]}
    assert found == (everyone if matches else set())


@pytest.mark.parametrize(
    "text",
    [
        'meta.created gt "9999-12-31T23:00:00-05:00"',
        'meta.lastModified lt "0001-01-01T00:00:00+01:00"',
    ],
)
def test_a_date_outside_the_calendar_once_in_utc_gets_400_invalid_filter(scim, text):
    create(scim)

    for resource in ("Users", "Groups"):
        response = search(scim, resource, text)

        body = assert_error(response, 400, "invalidFilter")
        assert "years 1 to 9999" in body["detail"]


def test_a_group_filter_on_the_last_day_of_the_calendar_lists_every_group(scim):
    group = scim.post(
        "Groups", {"schemas": [GROUP_SCHEMA], "displayName": "Ops"}
    ).json()

    response = search(scim, "Groups", 'meta.lastModified le "9999-12-31"')

    assert response.status_code == 200, response.content
    assert [g["id"] for g in response.json()["Resources"]] == [group["id"]]
