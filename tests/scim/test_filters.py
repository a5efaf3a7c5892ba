"""SCIM filter compiler (RFC 7644 section 3.4.2.2) on both databases."""

import pytest

from orgadmin import actions
from orgadmin.models import Member, Team
from scim.filters import InvalidFilter, filter_members, filter_teams
from tests import helpers


def provision(organization, user_name, **attributes):
    return actions.provision_member(
        organization,
        attributes={"user_name": user_name, **attributes},
        actor=helpers.SYSTEM,
    )


def members_matching(organization, text):
    queryset = Member.objects.for_organization(organization)
    return sorted(filter_members(queryset, text).values_list("user_name", flat=True))


def teams_matching(organization, text):
    queryset = Team.objects.for_organization(organization)
    return sorted(filter_teams(queryset, text).values_list("display_name", flat=True))


def test_username_eq_ignores_case_and_finds_exactly_one_member(organization):
    provision(organization, "ada@acme.example")
    provision(organization, "grace@acme.example")

    assert members_matching(organization, 'userName eq "ADA@acme.example"') == [
        "ada@acme.example"
    ]


def test_external_id_eq_is_case_exact(organization):
    provision(organization, "ada@acme.example", external_id="Abc-1")

    assert members_matching(organization, 'externalId eq "Abc-1"') == [
        "ada@acme.example"
    ]
    assert members_matching(organization, 'externalId eq "abc-1"') == []


def test_display_name_eq_on_teams(organization):
    actions.create_team(organization, display_name="Sales", actor=helpers.SYSTEM)
    actions.create_team(organization, display_name="Support", actor=helpers.SYSTEM)

    assert teams_matching(organization, 'displayName eq "sales"') == ["Sales"]


def test_unknown_attribute_is_invalid(organization):
    with pytest.raises(InvalidFilter, match="nickname2"):
        members_matching(organization, 'nickname2 eq "x"')
