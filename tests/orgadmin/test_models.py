import pytest
from django.db import IntegrityError, transaction

from orgadmin.models import ClaimedDomain, Member, Team, TeamMembership, User
from tests.helpers import make_organization


def test_user_email_is_unique_ignoring_case(db):
    User.objects.create(email="ada@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ADA@example.com")


def test_member_user_name_is_unique_per_organization_ignoring_case(organization):
    Member.objects.create(organization=organization, user_name="Pat@Acme.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.create(organization=organization, user_name="pat@acme.EXAMPLE")
    other = make_organization("globex", domain="globex.example")
    Member.objects.create(organization=other, user_name="pat@acme.example")


def test_member_external_id_is_unique_per_organization_when_set(organization):
    Member.objects.create(organization=organization, user_name="a", external_id="x1")
    Member.objects.create(organization=organization, user_name="b", external_id=None)
    Member.objects.create(organization=organization, user_name="c", external_id=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.create(
            organization=organization, user_name="d", external_id="x1"
        )


def test_a_person_is_a_member_of_an_organization_once(organization, owner):
    with pytest.raises(IntegrityError), transaction.atomic():
        Member.objects.create(
            organization=organization, user=owner.user, user_name="dup"
        )


def test_team_name_is_unique_per_organization_ignoring_case(organization):
    Team.objects.create(organization=organization, display_name="Engineering")
    with pytest.raises(IntegrityError), transaction.atomic():
        Team.objects.create(organization=organization, display_name="ENGINEERING")
    other = make_organization("globex", domain="globex.example")
    Team.objects.create(organization=other, display_name="Engineering")


def test_team_membership_pair_is_unique(organization, owner):
    team = Team.objects.create(organization=organization, display_name="Ops")
    TeamMembership.objects.create(team=team, member=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        TeamMembership.objects.create(team=team, member=owner)


def test_a_domain_is_verified_by_one_organization_only(organization):
    other = make_organization("globex", domain=None)
    ClaimedDomain.objects.create(
        organization=other,
        domain="shared.example",
        verification_token="t",
        status="pending",
    )
    ClaimedDomain.objects.create(
        organization=organization,
        domain="shared.example",
        verification_token="u",
        status="verified",
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimedDomain.objects.filter(organization=other).update(status="failing")


def test_a_domain_is_claimed_once_per_organization(organization):
    with pytest.raises(IntegrityError), transaction.atomic():
        ClaimedDomain.objects.create(
            organization=organization, domain="acme.example", verification_token="t"
        )
