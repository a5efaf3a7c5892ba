"""The attribute table (scim/resource_schema.py) read by the serializer, the filter
compiler and /Schemas alike, shown with the RFC 7643 section 4.1.2 attributes added
through it: ims, photos, entitlements and x509Certificates."""

import base64
from urllib.parse import quote

import pytest

from orgadmin.models import AuditEvent
from tests.helpers import USER, assert_error, create, member_of, patch, user_body

CERTIFICATE = base64.b64encode(b"0\x82\x01\x0a not a real DER certificate").decode()
NEW_ATTRIBUTES = {
    "ims": [{"value": "pat@xmpp.example", "type": "xmpp", "primary": True}],
    "photos": [
        {"value": "https://photos.example/pat.jpg", "type": "photo", "primary": True},
        {"value": "https://photos.example/pat-small.jpg", "type": "thumbnail"},
    ],
    "entitlements": [{"value": "licence-e5", "display": "Office E5"}],
    "x509Certificates": [{"value": CERTIFICATE, "display": "Pat's badge"}],
}


def test_new_multi_valued_attributes_round_trip_through_post_and_get(scim):
    created = create(scim, **NEW_ATTRIBUTES)
    for name, value in NEW_ATTRIBUTES.items():
        assert created[name] == value
    fetched = scim.get(f"Users/{created['id']}").json()
    assert {name: fetched[name] for name in NEW_ATTRIBUTES} == NEW_ATTRIBUTES
    member = member_of(created)
    assert member.ims == NEW_ATTRIBUTES["ims"]
    assert member.x509_certificates == NEW_ATTRIBUTES["x509Certificates"]


def test_sub_attribute_names_and_primary_strings_are_normalised(scim):
    # RFC 7643 section 2.1: names are case-insensitive; Entra ID sends "True".
    created = create(
        scim, IMS=[{"VALUE": "pat@skype", "Type": "skype", "primary": "True"}]
    )
    assert created["ims"] == [{"value": "pat@skype", "type": "skype", "primary": True}]


def test_put_replaces_the_new_attributes_and_clears_those_left_out(scim):
    created = create(scim, **NEW_ATTRIBUTES)
    body = user_body(ims=[{"value": "pat@gtalk", "type": "gtalk"}])
    response = scim.put(f"Users/{created['id']}", body)
    assert response.status_code == 200, response.content
    replaced = response.json()
    assert replaced["ims"] == [{"value": "pat@gtalk", "type": "gtalk"}]
    assert not {"photos", "entitlements", "x509Certificates"} & set(replaced)
    member = member_of(created)
    assert member.photos == [] and member.entitlements == []
    event = AuditEvent.objects.filter(action="member.updated").get()
    assert {"ims", "photos", "entitlements", "x509_certificates"} <= set(event.changes)


def test_patch_adds_replaces_and_removes_values_of_the_new_attributes(scim):
    created = create(scim, **NEW_ATTRIBUTES)
    response = patch(
        scim,
        created["id"],
        {"op": "add", "path": "ims", "value": [{"value": "pat@icq", "type": "icq"}]},
        {"op": "replace", "path": "entitlements", "value": [{"value": "licence-e3"}]},
        {"op": "remove", "path": 'photos[type eq "thumbnail"]'},
        {
            "op": "replace",
            "path": 'x509Certificates[display eq "Pat\'s badge"].display',
            "value": "Old badge",
        },
    )
    assert response.status_code == 200, response.content
    user = response.json()
    assert [im["value"] for im in user["ims"]] == ["pat@xmpp.example", "pat@icq"]
    assert user["entitlements"] == [{"value": "licence-e3"}]
    assert user["photos"] == NEW_ATTRIBUTES["photos"][:1]
    assert user["x509Certificates"] == [{"value": CERTIFICATE, "display": "Old badge"}]
    assert scim.get(f"Users/{created['id']}").json()["ims"] == user["ims"]

    response = patch(scim, created["id"], {"op": "remove", "path": "x509Certificates"})
    assert "x509Certificates" not in response.json()
    assert member_of(created).x509_certificates == []


def test_pathless_patch_sets_a_new_attribute(scim):
    # Entra ID's default job sends attributes as the keys of a path-less value.
    created = create(scim)
    response = patch(
        scim,
        created["id"],
        {"op": "Add", "value": {"entitlements": [{"value": "vpn"}]}},
    )
    assert response.json()["entitlements"] == [{"value": "vpn"}]


def test_attributes_and_excluded_attributes_select_the_new_attributes(scim):
    created = create(scim, **NEW_ATTRIBUTES)
    path = f"Users/{created['id']}"
    only = scim.get(f"{path}?attributes=ims,photos.value").json()
    assert set(only) == {"schemas", "id", "ims", "photos"}
    assert only["photos"] == [{"value": p["value"]} for p in NEW_ATTRIBUTES["photos"]]
    without = scim.get(
        f"{path}?excludedAttributes=entitlements,x509Certificates"
    ).json()
    assert "ims" in without and "photos" in without
    assert not {"entitlements", "x509Certificates"} & set(without)
    listed = scim.get(
        "Users?filter=x509Certificates+pr&attributes=x509Certificates.display"
    ).json()
    assert listed["Resources"] == [
        {
            "schemas": [USER],
            "id": created["id"],
            "x509Certificates": [{"display": "Pat's badge"}],
        }
    ]


def test_a_certificate_that_is_not_base64_is_refused(scim):
    response = scim.post(
        "Users", user_body(x509Certificates=[{"value": "not base64!"}])
    )
    error = assert_error(response, 400, "invalidValue")
    assert "x509Certificates.value must be base64" in error["detail"]


@pytest.mark.parametrize(
    ("value", "detail"),
    [
        ("pat@xmpp", "ims must be a list of objects"),
        ([{"value": 5}], "ims.value must be a string"),
        ([{"value": "x" * 1025}], "ims.value is longer than 1024 characters"),
        (
            [{"value": "a", "primary": True}, {"value": "b", "primary": True}],
            "Only one of ims can be primary",
        ),
        ([{"value": "a", "primary": "maybe"}], "ims.primary must be true or false"),
    ],
)
def test_bad_values_of_a_new_attribute_are_refused_with_the_reason(scim, value, detail):
    error = assert_error(scim.post("Users", user_body(ims=value)), 400, "invalidValue")
    assert detail in error["detail"]


def test_schemas_publish_the_new_attributes_with_their_sub_attributes(scim):
    schema = scim.get(f"Schemas/{USER}").json()
    attributes = {a["name"]: a for a in schema["attributes"]}
    for name in NEW_ATTRIBUTES:
        assert attributes[name]["multiValued"] is True
        assert attributes[name]["type"] == "complex"
        subs = {s["name"] for s in attributes[name]["subAttributes"]}
        assert subs == {"value", "display", "type", "primary"}
    photo_value = attributes["photos"]["subAttributes"][0]
    assert photo_value["type"] == "reference"
    assert photo_value["referenceTypes"] == ["external"]
    certificate_value = attributes["x509Certificates"]["subAttributes"][0]
    assert certificate_value["type"] == "binary" and certificate_value["caseExact"]
    ims_type = next(
        s for s in attributes["ims"]["subAttributes"] if s["name"] == "type"
    )
    assert "xmpp" in ims_type["canonicalValues"]


def test_every_published_attribute_is_stored_and_known_to_the_filter(scim):
    """The table is the one description: whatever /Schemas lists, a filter knows
    (it may refuse to filter on it, but never calls it unknown)."""
    create(scim, **NEW_ATTRIBUTES)
    for urn in (USER, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"):
        schema = scim.get(f"Schemas/{urn}").json()
        for attribute in schema["attributes"]:
            paths = [attribute["name"]] + [
                f"{attribute['name']}.{sub['name']}"
                for sub in attribute.get("subAttributes", [])
            ]
            for path in paths:
                response = scim.get(f"Users?filter={quote(f'{urn}:{path} pr')}")
                if response.status_code != 200:
                    error = assert_error(response, 400, "invalidFilter")
                    assert "cannot be used in a filter" in error["detail"], path


def test_new_attributes_are_filtered_by_presence_only(scim):
    with_ims = create(scim, "ims@acme.example", ims=NEW_ATTRIBUTES["ims"])
    create(scim, "plain@acme.example")
    found = scim.get("Users?filter=" + quote("ims pr")).json()
    assert [r["id"] for r in found["Resources"]] == [with_ims["id"]]
    absent = scim.get("Users?filter=" + quote("not (x509Certificates pr)")).json()
    assert absent["totalResults"] == 2 + 1  # and the organization's owner
    error = assert_error(
        scim.get("Users?filter=" + quote('ims eq "pat@xmpp.example"')),
        400,
        "invalidFilter",
    )
    assert 'operator "eq" cannot be used with ims' in error["detail"]
    error = assert_error(
        scim.get("Users?filter=" + quote('ims.value eq "x"')), 400, "invalidFilter"
    )
    assert '"ims.value" cannot be used in a filter' in error["detail"]
