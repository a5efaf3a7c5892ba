"""SCIM filter compiler (RFC 7644 section 3.4.2.2), run on SQLite and PostgreSQL."""

import random
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from django.http import QueryDict

from orgadmin import actions
from orgadmin.models import Member, Team
from scim.filters import (
    MAX_COMPARISONS,
    MAX_FILTER_LENGTH,
    SORTABLE_MEMBER_ATTRIBUTES,
    SORTABLE_TEAM_ATTRIBUTES,
    InvalidFilter,
    filter_members,
    filter_teams,
)
from tests import helpers

ADA = "ada@acme.example"
GRACE = "grace@acme.example"
LINUS = "linus@acme.example"
PERCENT = "50%_off@acme.example"
PLAIN = "50xyoff@acme.example"
BACKSLASH = "back\\slash@acme.example"
EVERYONE = sorted([ADA, GRACE, LINUS, PERCENT, PLAIN, BACKSLASH])
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def provision(organization, user_name, **attributes):
    return actions.provision_member(
        organization,
        user_name=user_name,
        **attributes,
        actor=helpers.SYSTEM,
    )


def set_timestamps(member, moment):
    # No action sets timestamps (they are "now"); tests pin them to compare dates.
    Member.objects.filter(pk=member.pk).update(created_at=moment, updated_at=moment)


def everyone_except(*names):
    return sorted(set(EVERYONE) - set(names))


@pytest.fixture
def directory(organization):
    """Six provisioned members of Acme (the owner is left out of the results)."""
    ada = provision(
        organization,
        ADA,
        external_id="EXT-Ada",
        display_name="Ada Lovelace",
        given_name="Ada",
        family_name="Lovelace",
        title="Engineer",
        department="R&D",
        employee_number="1001",
        phone_numbers=[{"value": "+44 20 7946 0000", "type": "work"}],
        emails=[
            {"value": ADA, "type": "work", "primary": True},
            {"value": "ada@home.example", "type": "home"},
        ],
    )
    grace = provision(
        organization,
        GRACE,
        external_id="ext-grace",
        display_name="Grace Hopper",
        family_name="Hopper",
        department="Navy",
        is_active=False,
        manager=ada,
        emails=[{"value": GRACE, "type": "work"}],
    )
    linus = provision(organization, LINUS)  # no emails, no name, no externalId
    percent = provision(organization, PERCENT, display_name="Percent")
    plain = provision(organization, PLAIN, display_name="Plain")
    backslash = provision(organization, BACKSLASH, display_name='The "Boss"')
    sales = actions.create_team(
        organization,
        display_name="Sales",
        external_id="S-1",
        member_ids=[ada.pk, grace.pk],
        actor=helpers.SYSTEM,
    )
    support = actions.create_team(
        organization,
        display_name="Support",
        member_ids=[linus.pk],
        actor=helpers.SYSTEM,
    )
    empty = actions.create_team(
        organization, display_name="Empty", actor=helpers.SYSTEM
    )
    # Pinned last: joining a team changes a member's lastModified, as it does its ETag.
    set_timestamps(ada, datetime(2024, 1, 1, 10, 0, 0, 500_000, tzinfo=UTC))
    set_timestamps(grace, datetime(2024, 6, 1, tzinfo=UTC))
    for member in (linus, percent, plain, backslash):
        set_timestamps(member, datetime(2025, 1, 1, tzinfo=UTC))
    return SimpleNamespace(
        organization=organization,
        ada=ada,
        grace=grace,
        linus=linus,
        sales=sales,
        support=support,
        empty=empty,
    )


def provisioned(organization):
    return Member.objects.for_organization(organization).filter(
        source=Member.Source.SCIM
    )


def members_matching(organization, text):
    queryset = filter_members(provisioned(organization), text)
    return sorted(queryset.values_list("user_name", flat=True))


def teams_matching(organization, text):
    queryset = filter_teams(Team.objects.for_organization(organization), text)
    return sorted(queryset.values_list("display_name", flat=True))


# ------------------------------------------------------------------------- operators


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "ADA@acme.example"', [ADA]),
        ('userName ne "ada@acme.example"', everyone_except(ADA)),
        ('displayName co "LOVE"', [ADA]),
        ('displayName sw "grace"', [GRACE]),
        ('displayName ew "HOPPER"', [GRACE]),
        ("name.familyName pr", [ADA, GRACE]),
        ("title pr", [ADA]),
        ("externalId pr", [ADA, GRACE]),
        ('userName gt "grace@acme.example"', [LINUS]),
        ('userName ge "GRACE@acme.example"', [GRACE, LINUS]),
        ('userName lt "ADA@acme.example"', [PERCENT, PLAIN]),
        ('userName le "ada@acme.example"', [PERCENT, PLAIN, ADA]),
        ("active eq false", [GRACE]),
        ("active ne false", everyone_except(GRACE)),
        ("active eq true", everyone_except(GRACE)),
        ("active pr", EVERYONE),
        ('active eq "False"', [GRACE]),
        ("employeeNumber eq 1001", [ADA]),
        ('department eq "r&d"', [ADA]),
        ("name pr", [ADA, GRACE]),
        ("phoneNumbers pr", [ADA]),
        ("not (phoneNumbers pr)", everyone_except(ADA)),
    ],
)
def test_every_operator_on_user_attributes(directory, text, expected):
    assert members_matching(directory.organization, text) == sorted(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('externalId eq "EXT-Ada"', [ADA]),
        ('externalId eq "ext-ada"', []),
        ('externalId ne "EXT-Ada"', everyone_except(ADA)),
        ('externalId co "Ada"', [ADA]),
        ('externalId co "ada"', []),
        ('externalId sw "EXT"', [ADA]),
        ('externalId sw "ext"', [GRACE]),
        ('externalId ew "grace"', [GRACE]),
        ('externalId ew "GRACE"', []),
        ('externalId gt "a"', [GRACE]),
        ('externalId le "EXT-Ada"', [ADA]),
        ("externalId eq null", everyone_except(ADA, GRACE)),
        ("externalId ne null", [ADA, GRACE]),
        ('not (externalId sw "EXT")', everyone_except(ADA)),
        ('not (externalId gt "a")', everyone_except(GRACE)),
        ('not (externalId co "Ada")', everyone_except(ADA)),
        ('not (externalId ew "ACE")', EVERYONE),
    ],
)
def test_external_id_is_case_exact_and_absent_values_behave(directory, text, expected):
    assert members_matching(directory.organization, text) == sorted(expected)


def test_id_matches_the_scim_id_in_either_case_and_a_malformed_id_matches_nothing(
    directory,
):
    scim_id = str(directory.ada.scim_id)
    organization = directory.organization

    assert members_matching(organization, f'id eq "{scim_id}"') == [ADA]
    assert members_matching(organization, f'id eq "{scim_id.upper()}"') == [ADA]
    assert members_matching(organization, f'id ne "{scim_id}"') == everyone_except(ADA)
    assert members_matching(organization, 'id eq "not-a-uuid"') == []
    assert members_matching(organization, 'id ne "not-a-uuid"') == EVERYONE


# ------------------------------------------------------------ and, or, not, precedence


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # "and" binds tighter than "or": grace or (ada and active).
        ('userName sw "grace" or userName sw "ada" and active eq true', [ADA, GRACE]),
        ('active eq true and userName sw "grace" or userName sw "linus"', [LINUS]),
        ('(userName sw "grace" or userName sw "ada") and active eq true', [ADA]),
        (
            'userName sw "ada" or userName sw "grace" and active eq true '
            'or userName sw "linus" and active eq false',
            [ADA],
        ),
        (
            'userName sw "x" or userName sw "ada" and title pr or userName sw "linus"',
            [ADA, LINUS],
        ),
        ("not (active eq true)", [GRACE]),
        ("not (not (active eq false))", [GRACE]),
        ('not (userName sw "ada" or userName sw "grace")', everyone_except(ADA, GRACE)),
        (
            'not (userName sw "ada") and not (userName sw "50") and externalId pr',
            [GRACE],
        ),
        ('((userName eq "ada@acme.example"))', [ADA]),
        ('userName eq "ada@acme.example" AND active EQ true', [ADA]),
        ('NOT (userName Eq "ada@acme.example") and title pr', []),
    ],
)
def test_logical_operators_follow_rfc_precedence(directory, text, expected):
    assert members_matching(directory.organization, text) == sorted(expected)


# --------------------------------------------------------------- multi-valued, paths


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('emails[type eq "work" and value co "@acme"]', [ADA, GRACE]),
        # One email must meet the whole bracket: Ada's home email is not at acme.
        ('emails[type eq "home" and value co "@acme"]', []),
        ('emails[type eq "home" or value eq "grace@acme.example"]', [ADA, GRACE]),
        ('emails[not (type eq "work")]', [ADA]),
        ('emails[type eq "work"].value eq "GRACE@acme.example"', [GRACE]),
        ('emails[type eq "home"].value co "acme"', []),
        ('emails.value co "HOME.example"', [ADA]),
        ('emails co "home.example"', [ADA]),
        ('emails.type eq "HOME"', [ADA]),
        ("emails[primary eq true]", [ADA]),
        ("emails.primary eq true", [ADA]),
        ("emails pr", [ADA, GRACE]),
        ("not (emails pr)", everyone_except(ADA, GRACE)),
        # A member with no email at all does not contain "acme" in any email.
        ('not (emails co "acme")', everyone_except(ADA, GRACE)),
        ('emails.value ne "ada@acme.example"', [ADA, GRACE]),
        ('userName sw "grace" or emails[type eq "home"]', [ADA, GRACE]),
    ],
)
def test_emails_filters_use_one_email_row_per_match(directory, text, expected):
    assert members_matching(directory.organization, text) == sorted(expected)


def test_a_member_with_several_matching_emails_is_counted_once(directory):
    queryset = filter_members(provisioned(directory.organization), 'emails co "ada"')

    assert queryset.count() == 1
    assert [member.user_name for member in queryset] == [ADA]


@pytest.mark.parametrize(
    "text",
    [
        'urn:ietf:params:scim:schemas:core:2.0:User:userName eq "ada@acme.example"',
        'URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:USERNAME eq "ada@acme.example"',
        'urn:ietf:params:scim:schemas:core:2.0:User:name.givenName eq "ADA"',
        f'{ENTERPRISE}:department eq "r&d"',
        f'{ENTERPRISE}:employeeNumber sw "10"',
        f'{CORE_USER}:emails[type eq "work" and value eq "ada@acme.example"]',
        f"{CORE_USER}:meta.lastModified lt " + '"2024-02-01T00:00:00Z"',
    ],
)
def test_attribute_paths_may_carry_their_schema_urn(directory, text):
    assert members_matching(directory.organization, text) == [ADA]


def test_manager_is_filtered_by_the_managers_scim_id(directory):
    ada_id = str(directory.ada.scim_id)
    organization = directory.organization

    assert members_matching(organization, f'manager.value eq "{ada_id}"') == [GRACE]
    assert members_matching(
        organization, f'{ENTERPRISE}:manager.value eq "{ada_id}"'
    ) == [GRACE]
    assert members_matching(organization, f'manager eq "{ada_id}"') == [GRACE]
    assert members_matching(organization, "manager.value pr") == [GRACE]
    assert members_matching(organization, f'not (manager.value eq "{ada_id}")') == (
        everyone_except(GRACE)
    )


def test_users_are_filtered_by_their_groups(directory):
    organization = directory.organization
    sales_id = directory.sales.scim_id

    assert members_matching(organization, f'groups.value eq "{sales_id}"') == [
        ADA,
        GRACE,
    ]
    assert members_matching(organization, f'groups[value eq "{sales_id}"]') == [
        ADA,
        GRACE,
    ]
    assert members_matching(organization, 'groups.display eq "SUPPORT"') == [LINUS]
    assert members_matching(organization, "not (groups pr)") == everyone_except(
        ADA, GRACE, LINUS
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('displayName eq "sales"', ["Sales"]),
        ('displayName sw "S"', ["Sales", "Support"]),
        ('displayName ne "sales"', ["Empty", "Support"]),
        ('externalId eq "S-1"', ["Sales"]),
        ('externalId eq "s-1"', []),
        ("members pr", ["Sales", "Support"]),
        ("not (members pr)", ["Empty"]),
        ('members.value eq "not-a-uuid"', []),
        (
            'urn:ietf:params:scim:schemas:core:2.0:Group:displayName co "PORT"',
            ["Support"],
        ),
        ('meta.created gt "2000-01-01T00:00:00Z"', ["Empty", "Sales", "Support"]),
    ],
)
def test_group_filters(directory, text, expected):
    assert teams_matching(directory.organization, text) == expected


def test_groups_are_filtered_by_member_id_as_entra_id_and_okta_send_it(directory):
    organization = directory.organization
    ada_id = directory.ada.scim_id
    linus_id = directory.linus.scim_id

    assert teams_matching(organization, f'members.value eq "{ada_id}"') == ["Sales"]
    assert teams_matching(organization, f'members[value eq "{linus_id}"]') == [
        "Support"
    ]
    assert teams_matching(
        organization, f'displayName eq "Sales" and members[value eq "{ada_id}"]'
    ) == ["Sales"]
    assert teams_matching(organization, f'not (members.value eq "{ada_id}")') == [
        "Empty",
        "Support",
    ]
    assert teams_matching(organization, f'id eq "{directory.sales.scim_id}"') == [
        "Sales"
    ]


# -------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('meta.lastModified lt "2024-03-01T00:00:00Z"', [ADA]),
        # Compared at the precision written: Ada changed at 10:00:00.5.
        ('meta.lastModified eq "2024-01-01T10:00:00Z"', [ADA]),
        ('meta.lastModified eq "2024-01-01T10:00:00.500Z"', [ADA]),
        ('meta.lastModified eq "2024-01-01T10:00:00.400Z"', []),
        ('meta.lastModified gt "2024-01-01T10:00:00Z"', everyone_except(ADA)),
        ('meta.lastModified ge "2024-01-01T10:00:00Z"', EVERYONE),
        ('meta.lastModified le "2024-01-01T10:00:00Z"', [ADA]),
        ('meta.lastModified gt "2024-01-01T12:00:00+02:00"', everyone_except(ADA)),
        ('meta.lastModified ne "2024-06-01T00:00:00Z"', everyone_except(GRACE)),
        ('meta.created ge "2024-06-01"', everyone_except(ADA)),
        ('meta.created eq "2024-06-01"', [GRACE]),
        ('meta.created gt "2024-06-01T00:00:00"', everyone_except(ADA, GRACE)),
        ("meta.created pr", EVERYONE),
    ],
)
def test_dates_compare_chronologically(directory, text, expected):
    assert members_matching(directory.organization, text) == sorted(expected)


# ----------------------------------------------------------------------- case, escaping


@pytest.mark.parametrize(
    "text",
    [
        'USERNAME EQ "ada@acme.example"',
        'username eq "ADA@ACME.EXAMPLE"',
        'name.FAMILYNAME eq "lovelace"',
        'Emails[TYPE eq "HOME"]',
        'EMAILS[Type Eq "work" AnD Value Co "ADA@"]',
        'userName eq "ada@acme.example" and DisplayName SW "ada"',
    ],
)
def test_attribute_names_operators_and_values_ignore_case(directory, text):
    assert members_matching(directory.organization, text) == [ADA]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName co "%"', [PERCENT]),
        ('userName co "_"', [PERCENT]),
        ('userName sw "50%"', [PERCENT]),
        ('userName sw "50_"', []),
        ('userName ew "%_off@acme.example"', [PERCENT]),
        ('userName eq "50__off@acme.example"', []),
        ('userName eq "50%_off@ACME.example"', [PERCENT]),
        ('displayName eq "P%"', []),
        ('externalId co "%"', []),
        ('userName co "k\\\\s"', [BACKSLASH]),
        ('userName eq "back\\\\slash@acme.example"', [BACKSLASH]),
        ('displayName eq "the \\"boss\\""', [BACKSLASH]),
        ('displayName co "\\""', [BACKSLASH]),
        ('displayName eq "\\u0050lain"', [PLAIN]),
    ],
)
def test_wildcards_backslashes_and_quotes_match_literally(directory, text, expected):
    assert members_matching(directory.organization, text) == expected


@pytest.mark.parametrize(
    ("query_string", "expected"),
    [
        ("filter=userName+eq+%22ada%40acme.example%22", [ADA]),
        ("filter=userName%20eq%20%22ada%40acme.example%22", [ADA]),
        ("filter=userName++eq+++%22ada%40acme.example%22+", [ADA]),
        ("filter=userName+eq+%2250%25_off%40acme.example%22", [PERCENT]),
        ("filter=displayName+eq+%22The+%5C%22Boss%5C%22%22", [BACKSLASH]),
        (
            "filter=emails%5Btype+eq+%22work%22%5D.value+eq+%22ada%40acme.example%22",
            [ADA],
        ),
    ],
)
def test_form_encoded_filters_as_entra_id_sends_them(directory, query_string, expected):
    text = QueryDict(query_string)["filter"]

    assert members_matching(directory.organization, text) == expected


def test_a_plus_sign_in_a_value_arrives_percent_encoded(organization):
    provision(organization, "first+last@acme.example")
    text = QueryDict("filter=userName+eq+%22first%2Blast%40acme.example%22")["filter"]

    assert members_matching(organization, text) == ["first+last@acme.example"]


@pytest.mark.postgres  # SQLite folds the case of ASCII letters only.
def test_case_is_ignored_beyond_ascii_on_postgresql(organization):
    provision(organization, "zoe@acme.example", display_name="Zoë Ångström")

    assert members_matching(organization, 'displayName eq "ZOË ÅNGSTRÖM"') == [
        "zoe@acme.example"
    ]
    assert members_matching(organization, 'displayName co "ångst"') == [
        "zoe@acme.example"
    ]


# ----------------------------------------------------------------------- isolation


@pytest.fixture
def two_organizations(directory):
    globex = helpers.make_organization("globex", domain="globex.example")
    eve = provision(
        globex,
        "eve@globex.example",
        external_id="EXT-Ada",
        display_name="Ada Lovelace",
        emails=[{"value": "eve@globex.example", "type": "work"}],
    )
    team = actions.create_team(
        globex, display_name="Sales", member_ids=[eve.pk], actor=helpers.SYSTEM
    )
    return SimpleNamespace(acme=directory, globex=globex, eve=eve, globex_team=team)


@pytest.mark.parametrize(
    "text",
    [
        'userName sw "ada" or userName sw "eve"',
        "userName pr or not (userName pr)",
        'not (userName eq "nobody")',
        'displayName eq "Ada Lovelace" or externalId eq "EXT-Ada"',
        'emails co "globex" or active eq true or active eq false',
        'not (emails co "acme")',
        'userName eq "x" and active eq true or not (active eq true) or active eq true',
    ],
)
def test_or_and_not_never_reach_another_organizations_members(two_organizations, text):
    acme = two_organizations.acme.organization
    scoped = Member.objects.for_organization(acme)

    matched = filter_members(scoped, text)

    assert matched.exists()
    assert set(matched.values_list("organization_id", flat=True)) == {acme.pk}
    assert not matched.filter(pk=two_organizations.eve.pk).exists()


def test_ids_of_another_organization_match_nothing(two_organizations):
    acme = two_organizations.acme.organization
    eve_id = two_organizations.eve.scim_id
    globex_team_id = two_organizations.globex_team.scim_id

    assert members_matching(acme, f'id eq "{eve_id}"') == []
    assert members_matching(acme, f'groups.value eq "{globex_team_id}"') == []
    assert members_matching(acme, f'manager.value eq "{eve_id}"') == []
    assert teams_matching(acme, f'members.value eq "{eve_id}"') == []
    assert teams_matching(acme, f'id eq "{globex_team_id}" or displayName pr') == [
        "Empty",
        "Sales",
        "Support",
    ]


def test_the_given_queryset_is_only_narrowed(directory):
    active_only = provisioned(directory.organization).filter(is_active=True)

    matched = filter_members(active_only, 'userName sw "grace" or not (title pr)')

    assert GRACE not in matched.values_list("user_name", flat=True)


# ------------------------------------------------------------------------- invalid


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("userName", "ends too early"),
        ("userName eq", "ends too early"),
        ('userName eq "x" and', "ends too early"),
        ('(userName eq "x"', "ends too early"),
        ('userName eq "x")', "position 16"),
        ('userName eq "x" userName eq "y"', "position 17"),
        ('userName eq "unterminated', "not closed"),
        ("userName eq bare", "Unexpected 'bare'"),
        ("userName eq 'single'", "Unexpected character"),
        ('userName regex "x"', "Unexpected 'regex'"),
        ('userName == "x"', "Unexpected character '='"),
        ('userName pr "x"', "Unexpected"),
        ('eq "x"', "Unexpected 'eq'"),
        ('not userName eq "x"', "Unexpected"),
        ("()", "Unexpected"),
        ('userName eq "x" or', "ends too early"),
        ('a.b.c eq "1"', "Unexpected"),
        ('userName eq "x"]', "Unexpected"),
        ("userName eq True", "Unexpected 'True'"),
        ('nickname2 eq "x"', '"nickname2" is not an attribute of a User'),
        ('name.unknown eq "x"', "is not an attribute"),
        ('name eq "x"', 'operator "eq" cannot be used with name'),
        ('password eq "secret"', "cannot be used in a filter"),
        ('meta.version eq "W/\\"1\\""', "cannot be used in a filter"),
        ('schemas eq "x"', "cannot be used in a filter"),
        ('emails.unknown eq "x"', '"emails.unknown" cannot be used in a filter'),
        ('emails[unknown eq "x"]', '"emails.unknown" cannot be used'),
        ('emails[emails[type eq "w"]]', "cannot be nested"),
        ('emails[value.x eq "1"]', "use its sub-attributes"),
        ('userName[value eq "x"]', "not a multi-valued attribute"),
        ('groups.type eq "direct"', '"groups.type" cannot be used'),
        ('active eq "yes"', "active is a boolean"),
        ("active eq 1", "active is a boolean"),
        ("active gt true", 'operator "gt" cannot be used with active'),
        ('active co "t"', 'operator "co" cannot be used with active'),
        ("userName eq true", "userName is a string"),
        ("userName gt null", "cannot compare with null"),
        ('id co "abc"', 'operator "co" cannot be used with id'),
        ("id eq 12", "id is an id"),
        ('meta.created gt "yesterday"', "meta.created is a dateTime"),
        ('meta.created gt "2024-13-01T00:00:00Z"', "meta.created is a dateTime"),
        ("meta.created gt 2024", "meta.created is a dateTime"),
        ('meta.created co "2024"', 'operator "co" cannot be used with meta.created'),
        ('phoneNumbers eq "+1"', 'operator "eq" cannot be used with phoneNumbers'),
        (
            'phoneNumbers.value eq "+1"',
            '"phoneNumbers.value" cannot be used in a filter',
        ),
        (f'{CORE_USER}:department eq "x"', "is not an attribute of the schema"),
        (
            'urn:ietf:params:scim:schemas:core:2.0:Group:userName eq "x"',
            "is not an attribute of the schema",
        ),
        ('urn:foo:bar:userName eq "x"', "is not an attribute of the schema"),
        ('userName eq "\\u0000"', "NUL"),
        ('userName eq "\\ud800"', "not valid Unicode"),
        ('userName eq "x"\x00', "Unexpected character"),
        ('userName eq "x" ; drop table', "Unexpected character ';'"),
        ("userName eq " + '"' + "x" * MAX_FILTER_LENGTH + '"', "longer than 2000"),
        (
            " or ".join(['userName eq "x"'] * (MAX_COMPARISONS + 1)),
            "at most 50 are allowed",
        ),
        ("(" * 25 + 'userName eq "x"' + ")" * 25, "nests deeper than"),
        (None, "must be a string"),
        (12, "must be a string"),
        (b'userName eq "x"', "must be a string"),
    ],
)
def test_invalid_user_filters_are_refused_with_a_message(organization, text, message):
    with pytest.raises(InvalidFilter) as refused:
        filter_members(Member.objects.for_organization(organization), text)

    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('userName eq "x"', '"userName" is not an attribute of a Group'),
        ('members.display eq "x"', '"members.display" cannot be used'),
        ('members[type eq "User"]', '"members.type" cannot be used'),
        (f'{CORE_USER}:displayName eq "x"', "is not an attribute of the schema"),
        ("members.value eq 5", "is an id"),
        ("displayName eq", "ends too early"),
    ],
)
def test_invalid_group_filters_are_refused_with_a_message(organization, text, message):
    with pytest.raises(InvalidFilter) as refused:
        filter_teams(Team.objects.for_organization(organization), text)

    assert message in str(refused.value)


def test_filters_at_the_limits_are_accepted(organization):
    longest = 'userName eq "' + "x" * (MAX_FILTER_LENGTH - 14) + '"'
    most = " or ".join([f'userName eq "{n}"' for n in range(MAX_COMPARISONS)])
    deepest = "(" * 20 + 'userName eq "x"' + ")" * 20
    scoped = Member.objects.for_organization(organization)

    assert len(longest) == MAX_FILTER_LENGTH
    assert list(filter_members(scoped, longest)) == []
    assert list(filter_members(scoped, most)) == []
    assert list(filter_members(scoped, deepest)) == []


# ---------------------------------------------------------------- every path runs


USER_PATHS = {
    "id": '"00000000-0000-0000-0000-000000000000"',
    "externalId": '"x"',
    "userName": '"x"',
    "name.formatted": '"x"',
    "name.familyName": '"x"',
    "name.givenName": '"x"',
    "name.middleName": '"x"',
    "name.honorificPrefix": '"x"',
    "name.honorificSuffix": '"x"',
    "displayName": '"x"',
    "nickName": '"x"',
    "title": '"x"',
    "userType": '"x"',
    "preferredLanguage": '"x"',
    "locale": '"x"',
    "timezone": '"x"',
    "active": "true",
    "emails": '"x"',
    "emails.value": '"x"',
    "emails.type": '"x"',
    "emails.display": '"x"',
    "emails.primary": "true",
    "groups": '"00000000-0000-0000-0000-000000000000"',
    "groups.display": '"x"',
    "meta.created": '"2024-01-01T00:00:00Z"',
    "meta.lastModified": '"2024-01-01T00:00:00Z"',
    f"{ENTERPRISE}:employeeNumber": '"x"',
    f"{ENTERPRISE}:costCenter": '"x"',
    f"{ENTERPRISE}:organization": '"x"',
    f"{ENTERPRISE}:division": '"x"',
    f"{ENTERPRISE}:department": '"x"',
    f"{ENTERPRISE}:manager.value": '"00000000-0000-0000-0000-000000000000"',
    "name": '"x"',
    "phoneNumbers": '"x"',
    "addresses": '"x"',
    "roles": '"x"',
}
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"]


def test_every_attribute_and_operator_compiles_to_sql_that_runs(directory):
    scoped = Member.objects.for_organization(directory.organization)
    accepted = 0
    for path, value in USER_PATHS.items():
        for operator in OPERATORS:
            text = f"{path} pr" if operator == "pr" else f"{path} {operator} {value}"
            for variant in (text, f"not ({text})", f'{text} or userName eq "y"'):
                try:
                    queryset = filter_members(scoped, variant)
                except InvalidFilter:
                    continue
                assert queryset.count() == len(list(queryset)), variant
                accepted += 1
    # Strings take all ten operators; the other kinds fewer; none is silently dropped.
    assert accepted > 3 * 250


def test_sortable_attributes_name_fields_that_order_on_both_databases(directory):
    members = Member.objects.for_organization(directory.organization)
    teams = Team.objects.for_organization(directory.organization)

    for key, orm in SORTABLE_MEMBER_ATTRIBUTES.items():
        assert key == key.lower()
        assert len(list(members.order_by(orm, "pk"))) == 7
    for key, orm in SORTABLE_TEAM_ATTRIBUTES.items():
        assert key == key.lower()
        assert len(list(teams.order_by(orm, "pk"))) == 3
    assert SORTABLE_MEMBER_ATTRIBUTES["username"] == "user_name"
    assert SORTABLE_MEMBER_ATTRIBUTES["name.familyname"] == "family_name"
    assert (
        SORTABLE_MEMBER_ATTRIBUTES[f"{ENTERPRISE.lower()}:department"] == "department"
    )
    assert SORTABLE_MEMBER_ATTRIBUTES["meta.lastmodified"] == "updated_at"
    assert SORTABLE_TEAM_ATTRIBUTES["displayname"] == "display_name"
    assert SORTABLE_TEAM_ATTRIBUTES["id"] == "scim_id"


# -------------------------------------------------------------------------- fuzzing

FUZZ_PIECES = [
    "userName",
    "emails",
    "emails.value",
    "members",
    "name.givenName",
    "meta.created",
    "active",
    "externalId",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    f"{ENTERPRISE}:manager",
    ".value",
    " eq ",
    " ne ",
    " co ",
    " sw ",
    " gt ",
    " pr",
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    '"x"',
    '"%_"',
    '"a\\"b"',
    '"\\',
    '"',
    "true",
    "null",
    "12",
    "-1.5e3",
    "\\",
    "'",
    "\x00",
    "é",
    "\n",
    "😀",
    " ",
]
VALID_SEEDS = [
    'userName eq "ada@acme.example"',
    'emails[type eq "work" and value co "@acme"]',
    'emails[type eq "work"].value eq "x"',
    'not (active eq true) or meta.created gt "2024-01-01T00:00:00Z"',
    f'{ENTERPRISE}:manager.value eq "00000000-0000-0000-0000-000000000000"',
]


def fuzz_inputs(count):
    generator = random.Random(7644)
    for _ in range(count):
        if generator.random() < 0.5:
            pieces = generator.choices(FUZZ_PIECES, k=generator.randint(1, 12))
            yield "".join(pieces)
        else:
            text = list(generator.choice(VALID_SEEDS))
            for _ in range(generator.randint(1, 4)):
                position = generator.randrange(len(text) + 1)
                action = generator.random()
                if action < 0.4 and text:
                    del text[min(position, len(text) - 1)]
                elif action < 0.8:
                    text.insert(position, generator.choice('()[]"\\ .:%_eqorn'))
                else:
                    text.insert(position, chr(generator.randrange(0, 0x2FFF)))
            yield "".join(text)


def test_malformed_filters_raise_invalid_filter_or_run_never_anything_else(directory):
    members = Member.objects.for_organization(directory.organization)
    teams = Team.objects.for_organization(directory.organization)
    outcomes = {"refused": 0, "ran": 0}

    for text in fuzz_inputs(600):
        for apply, scoped in ((filter_members, members), (filter_teams, teams)):
            try:
                queryset = apply(scoped, text)
            except InvalidFilter as refused:
                assert str(refused), text
                outcomes["refused"] += 1
                continue
            list(queryset[:5])
            queryset.count()
            outcomes["ran"] += 1

    # The generator must exercise both paths, or this test proves nothing.
    assert outcomes["refused"] > 200
    assert outcomes["ran"] > 20
