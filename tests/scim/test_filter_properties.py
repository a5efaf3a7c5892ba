"""Properties of the filter compiler: whatever text comes in, the answer is a query
the database runs, narrowed to the organization, or an invalidFilter error."""

import pytest
from django.db import transaction
from hypothesis import example, given

from orgadmin import actions
from orgadmin.models import Member, Team
from scim.errors import ScimError
from scim.filters import (
    filter_members,
    filter_members_and_teams,
    filter_teams,
    parse_filter,
)
from tests import helpers
from tests.scim import fuzzing


@pytest.fixture
def directory(organization, other_organization):
    """Members and teams with every kind of attribute set, in two organizations."""
    for organization_ in (organization, other_organization):
        domain = organization_.slug + ".example"
        ada = actions.provision_member(
            organization_,
            user_name=f"ada@{domain}",
            external_id="EXT-Ada",
            display_name="Ada Lovelace",
            given_name="Ada",
            title="Engineer",
            department="R&D",
            employee_number="1001",
            phone_numbers=[{"value": "+44 20 7946 0000", "type": "work"}],
            emails=[
                {"value": f"ada@{domain}", "type": "work", "primary": True},
                {"value": "ada@home.example", "type": "home"},
            ],
            actor=helpers.SYSTEM,
        )
        grace = actions.provision_member(
            organization_,
            user_name=f"grace@{domain}",
            is_active=False,
            manager=ada,
            emails=[{"value": f"grace@{domain}", "type": "work"}],
            actor=helpers.SYSTEM,
        )
        actions.create_team(
            organization_,
            display_name="Sales",
            external_id="S-1",
            member_ids=[ada.pk, grace.pk],
            actor=helpers.SYSTEM,
        )
    return organization


def assert_query_or_scim_error(directory, text):
    """Compile `text` for Users, Groups and a search across both; run each query."""
    members = Member.objects.for_organization(directory)
    teams = Team.objects.for_organization(directory)
    compilers = [
        lambda: (filter_members(members, text),),
        lambda: (filter_teams(teams, text),),
        lambda: filter_members_and_teams(members, teams, text),
    ]
    for compile_filter in compilers:
        try:
            querysets = compile_filter()
        except ScimError as error:
            assert error.status_code == 400 and error.scim_type == "invalidFilter"
            assert error.detail
            continue
        # A savepoint, so that a database error fails this example alone and the
        # test's transaction stays usable (PostgreSQL aborts it otherwise).
        with transaction.atomic():
            for queryset in querysets:
                rows = list(queryset[:5])
                assert {row.organization_id for row in rows} <= {directory.pk}
                queryset.count()


@fuzzing.bounded(examples=200)
@given(text=fuzzing.filters)
@example(text='emails[type eq "work"].value eq "x" and emails[value pr]')
@example(text='userName eq "a" or not (emails[type eq "work" and value co "@"])')
@example(text='meta.created gt "2024-01-01T10:00:00Z" and active eq "True"')
@example(text='urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq "x"')
@example(text='title eq "\\u0000"')
# Datetimes at the edges of what Python and the databases hold.
@example(text='meta.created eq "9999-12-31T23:59:59.999999Z"')
@example(text='meta.lastModified le "9999-12-31T23:59:59-01:00"')
@example(text='meta.created lt "0001-01-01T00:00:00+14:00"')
def test_a_filter_in_the_grammar_compiles_to_a_query_or_is_invalid_filter(
    directory, text
):
    assert_query_or_scim_error(directory, text)


@fuzzing.bounded(examples=200)
@given(text=fuzzing.filter_texts)
@example(text="")
@example(text='"unterminated')
@example(text="((((((((((((((((((((((userName pr))))))))))))))))))))))")
@example(text="userName eq 1" + " or userName eq 1" * 60)
def test_any_text_as_a_filter_is_a_query_or_invalid_filter(directory, text):
    assert_query_or_scim_error(directory, text)


@fuzzing.bounded(examples=200)
@given(
    value=fuzzing.json_values
    | fuzzing.filter_texts.map(lambda text: text.encode("utf-8", "surrogatepass"))
)
def test_parse_filter_takes_any_value_and_raises_only_scim_errors(value):
    try:
        parse_filter(value)
    except ScimError as error:
        assert error.scim_type == "invalidFilter"
