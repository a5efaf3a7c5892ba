"""Discovery (RFC 7644 section 4), unsupported endpoints and methods."""

import pytest

from tests.helpers import ScimClient, assert_error

CONFIG = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"


def test_service_provider_config_states_what_is_supported(scim):
    config = scim.get("ServiceProviderConfig").json()
    assert config["schemas"] == [CONFIG]
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 100}
    assert config["sort"]["supported"] is True and config["etag"]["supported"] is True
    assert config["changePassword"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_schemas_describe_only_stored_attributes(scim):
    listed = scim.get("Schemas").json()
    ids = {s["id"] for s in listed["Resources"]}
    assert listed["totalResults"] == 3 == len(ids)
    user = scim.get("Schemas/urn:ietf:params:scim:schemas:core:2.0:User").json()
    names = {a["name"] for a in user["attributes"]}
    assert {
        "userName",
        "name",
        "emails",
        "active",
        "groups",
        "roles",
        "externalId",
        "photos",
        "ims",
        "x509Certificates",
        "entitlements",
    } <= names
    assert not names & {"password", "profileUrl", "meta"}
    enterprise = scim.get(
        "Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    ).json()
    assert {a["name"] for a in enterprise["attributes"]} == {
        "employeeNumber",
        "costCenter",
        "organization",
        "division",
        "department",
        "manager",
    }
    assert_error(scim.get("Schemas/urn:nope"), 404)


def test_resource_types(scim):
    types = scim.get("ResourceTypes").json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    user = scim.get("ResourceTypes/User").json()
    assert user["endpoint"] == "/Users"
    assert user["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")


@pytest.mark.parametrize("path", ["ServiceProviderConfig", "Schemas", "ResourceTypes"])
def test_discovery_refuses_filters_with_403(scim, path):
    assert_error(scim.get(f"{path}?filter=id+eq+%22User%22"), 403)


@pytest.mark.parametrize("path", ["Bulk", "Me"])
def test_bulk_and_me_answer_501(scim, path):
    assert_error(scim.post(path, {}), 501)


def test_unsupported_method_gets_405(scim):
    assert_error(scim.request("DELETE", "Users"), 405)
    assert_error(scim.put("Groups", {}), 405)


def test_unknown_endpoint_gets_a_scim_404_not_html(scim):
    response = scim.get("Widgets")
    assert_error(response, 404)


def test_discovery_needs_the_token(organization):
    assert_error(ScimClient(None).get("ServiceProviderConfig"), 401)
