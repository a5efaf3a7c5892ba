"""Properties of the PATCH normaliser: whatever JSON comes in, the answer is a list of
operations and a document the serializer validates, or a SCIM error; over HTTP, a
PATCH never answers 5xx and every refusal is an RFC 7644 error body."""

import json

import pytest
from django.core.cache import cache
from django.db import transaction
from hypothesis import example, given
from rest_framework.exceptions import ParseError

from orgadmin import actions
from orgadmin.models import Member, Team
from scim.errors import ScimError
from scim.parsers import check_strings
from scim.patch import MemberChanges, apply_operations, parse_operations
from scim.serializers import (
    GROUP,
    USER,
    changed_member_attributes,
    member_attributes_from_scim,
    member_document,
    team_attributes_from_scim,
)
from tests import helpers
from tests.scim import fuzzing

PATCH_OP = fuzzing.PATCH_OP


@pytest.fixture
def pat(organization, other_organization):
    """A member with most attributes set, in a team; and a member elsewhere."""
    manager = actions.provision_member(
        organization, user_name="boss@acme.example", actor=helpers.SYSTEM
    )
    pat = actions.provision_member(
        organization,
        user_name="pat@acme.example",
        external_id="EXT-1",
        display_name="Pat",
        given_name="Pat",
        department="R&D",
        manager=manager,
        phone_numbers=[{"value": "+1 555 0100", "type": "work"}],
        emails=[
            {"value": "pat@acme.example", "type": "work", "primary": True},
            {"value": "pat@home.example", "type": "home"},
        ],
        actor=helpers.SYSTEM,
    )
    actions.create_team(
        organization,
        display_name="Sales",
        external_id="S-1",
        member_ids=[pat.pk, manager.pk],
        actor=helpers.SYSTEM,
    )
    actions.provision_member(
        other_organization, user_name="pat@globex.example", actor=helpers.SYSTEM
    )
    return pat


def with_ids(body, organization, other_organization):
    """The body with fuzzing's placeholders replaced by real SCIM ids."""
    text = json.dumps(body)
    member = Member.objects.for_organization(organization).first()
    foreign = Member.objects.for_organization(other_organization).first()
    text = text.replace(fuzzing.MEMBER, str(member.scim_id))
    return json.loads(text.replace(fuzzing.FOREIGN_MEMBER, str(foreign.scim_id)))


def readable(body) -> bool:
    """Whether the SCIM parser would hand this body on (scim.parsers refuses NUL,
    lone surrogates and deep nesting before any view sees them)."""
    try:
        check_strings(body)
    except (ScimError, ParseError):
        return False
    return True


@fuzzing.bounded(examples=200)
@given(body=fuzzing.patch_bodies())
@example(body={"schemas": [PATCH_OP], "Operations": [{"op": "Replace"}]})
@example(
    body={
        "schemas": [PATCH_OP],
        "Operations": [
            {
                "op": "replace",
                "path": 'emails[type eq "work"].value',
                "value": "new@acme.example",
            },
            {"op": "add", "value": {"name.givenName": "P", "active": "False"}},
        ],
    }
)
def test_any_patch_of_a_user_is_a_valid_document_or_a_scim_error(
    body, pat, organization, other_organization
):
    body = with_ids(body, organization, other_organization)
    if not readable(body):
        return
    emails = [email.as_scim() for email in pat.email_addresses.all()]
    try:
        operations = parse_operations(body)
        assert all(op.op in ("add", "remove", "replace") for op in operations)
        document = apply_operations(member_document(pat, emails), operations, USER)
        attributes = member_attributes_from_scim(
            document, organization=organization, member=pat
        )
        changed_member_attributes(pat, emails, attributes)
    except ScimError as error:
        assert 400 <= error.status_code < 500 and error.detail


@fuzzing.bounded(examples=200)
@given(body=fuzzing.patch_bodies())
@example(
    body={
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "remove", "path": f'members[value eq "{fuzzing.MEMBER}"]'},
            {"op": "add", "path": "members", "value": [{"value": fuzzing.MEMBER}]},
        ],
    }
)
def test_any_patch_of_a_group_is_a_valid_document_or_a_scim_error(
    body, pat, organization, other_organization
):
    body = with_ids(body, organization, other_organization)
    if not readable(body):
        return
    team = Team.objects.get(organization=organization)
    document = {"displayName": team.display_name, "externalId": team.external_id}
    members = MemberChanges()
    try:
        operations = parse_operations(body)
        apply_operations(document, operations, GROUP, members=members)
        team_attributes_from_scim(document)
    except ScimError as error:
        assert 400 <= error.status_code < 500 and error.detail
        return
    assert all(isinstance(i, str) for i in members.add | members.remove)


def assert_scim_answer(response):
    """Not a server error; a refusal is an RFC 7644 section 3.12 error body."""
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        body = response.json()
        assert body["schemas"] == [helpers.ERROR]
        assert body["status"] == str(response.status_code)
        assert body["detail"]


@pytest.fixture
def patch_over_http(scim, pat, organization, other_organization):
    """PATCH a path with a body, in a savepoint rolled back afterwards, so that each
    example starts from the same members and teams."""

    def send(path, body):
        cache.clear()  # throttle counters
        with transaction.atomic():
            response = scim.patch(
                path, with_ids(body, organization, other_organization)
            )
            transaction.set_rollback(True)
        return response

    return send


@fuzzing.bounded(examples=60)
@given(body=fuzzing.patch_bodies())
@example(
    body={
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "manager", "value": fuzzing.FOREIGN_MEMBER},
            {"op": "replace", "value": {"userName": "boss@acme.example"}},
        ],
    }
)
def test_a_user_patch_over_http_never_answers_5xx(body, pat, patch_over_http):
    assert_scim_answer(patch_over_http(f"Users/{pat.scim_id}", body))


@fuzzing.bounded(examples=60)
@given(body=fuzzing.patch_bodies())
@example(
    body={
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "add", "path": "members", "value": [{"value": fuzzing.MEMBER}]},
            {"op": "add", "value": {"members": [{"value": fuzzing.FOREIGN_MEMBER}]}},
        ],
    }
)
def test_a_group_patch_over_http_never_answers_5xx(body, pat, patch_over_http):
    team = Team.objects.get(organization=pat.organization)
    assert_scim_answer(patch_over_http(f"Groups/{team.scim_id}", body))
