"""/scim/v2/openapi.json describes the SCIM API, and the API keeps to it: schemathesis
sends what the description allows to a live server, with a real token, and every
answer must be documented, match its schema, and never be a 5xx."""

import json

import pytest
import schemathesis
from django.urls import reverse
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from orgadmin import actions
from orgadmin.models import Member
from scim.openapi import openapi_document
from scim.resource_schema import ENTERPRISE_SCHEMA, GROUP, USER
from tests import helpers
from tests.helpers import ScimClient, assert_error

# Valid requests, then requests that break the description (wrong types, missing
# required attributes...), which must be refused with a documented error, never a 5xx.
api = schemathesis.openapi.from_dict(openapi_document())
api.config.generation.update(
    max_examples=20, deterministic=True, database="none", modes=["positive"]
)
invalid_api = schemathesis.openapi.from_dict(openapi_document())
invalid_api.config.generation.update(
    max_examples=10, deterministic=True, database="none", modes=["negative"]
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def test_the_description_is_served_to_a_token_and_refused_without_one(scim):
    response = scim.get("openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "https://orgadmin.test/scim/v2"}]
    assert_error(ScimClient(None).get("openapi.json"), 401)


def test_the_description_covers_every_scim_endpoint_and_every_attribute():
    paths = openapi_document()["paths"]
    described = {
        "/Users",
        "/Users/.search",
        "/Users/{id}",
        "/Groups",
        "/Groups/.search",
        "/Groups/{id}",
        "/.search",
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/{id}",
        "/Schemas",
        "/Schemas/{id}",
        "/openapi.json",
    }
    assert set(paths) == described
    assert reverse("scim:openapi") == "/scim/v2/openapi.json"
    schemas = openapi_document()["components"]["schemas"]
    for name, resource in (("User", USER), ("Group", GROUP)):
        properties = schemas[name]["properties"]
        assert set(properties) == {
            "schemas",
            *(a.name for a in resource.core.values()),
        } | ({ENTERPRISE_SCHEMA} if resource.extension_urn else set())
    enterprise = schemas["User"]["properties"][ENTERPRISE_SCHEMA]["properties"]
    assert set(enterprise) == {a.name for a in USER.extension.values()}
    assert schemas["UserRequest"]["required"] == ["schemas", "userName"]
    user_name = Member._meta.get_field("user_name").max_length
    assert schemas["UserRequest"]["properties"]["userName"]["maxLength"] == user_name


@pytest.fixture
def directory(transactional_db):
    """A live organization: a token, members and a team for the generated requests."""
    # Not restricted to claimed domains, so that any generated userName is allowed.
    organization = helpers.make_organization(restrict_to_claimed_domains=False)
    pat = actions.provision_member(
        organization,
        user_name="pat@acme.example",
        external_id="EXT-1",
        display_name="Pat",
        emails=[{"value": "pat@acme.example", "type": "work", "primary": True}],
        phone_numbers=[{"value": "+1 555 0100", "type": "work"}],
        actor=helpers.SYSTEM,
    )
    team = actions.create_team(
        organization,
        display_name="Sales",
        member_ids=[pat.pk],
        scim_managed=True,
        actor=helpers.SYSTEM,
    )
    return {
        "token": helpers.issue_token(organization),
        "/Users/{id}": str(pat.scim_id),
        "/Groups/{id}": str(team.scim_id),
        "/ResourceTypes/{id}": "User",
        "/Schemas/{id}": ENTERPRISE_SCHEMA,
    }


# The directory is made once per operation; the examples share it on purpose.
SHARED_FIXTURES = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@api.parametrize()
@SHARED_FIXTURES
def test_every_scim_answer_matches_the_description(case, live_server, directory):
    call_and_check(case, live_server, directory)


@invalid_api.parametrize()
@SHARED_FIXTURES
def test_requests_outside_the_description_get_a_documented_error_never_a_5xx(
    case, live_server, directory
):
    call_and_check(case, live_server, directory)


def call_and_check(case, live_server, directory):
    # Half the ids name a resource that exists, so that reads, replaces, patches and
    # deletes succeed as well as miss.
    if "id" in case.path_parameters and len(str(case.path_parameters["id"])) % 2:
        case.path_parameters["id"] = directory[case.path]
    response = case.call(
        base_url=f"{live_server.url}/scim/v2",
        headers={
            "Authorization": f"Bearer {directory['token']}",
            # As the TLS proxy in front of production says; SecurityMiddleware
            # would redirect plain HTTP (the live server builds it once per session,
            # before any per-test settings).
            "X-Forwarded-Proto": "https",
        },
    )
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        assert json.loads(response.text)["status"] == str(response.status_code)
