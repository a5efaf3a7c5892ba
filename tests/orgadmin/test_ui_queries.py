"""The big pages keep a small, fixed number of queries however large the organization."""

import pytest
from django.utils import timezone

from orgadmin import actions
from orgadmin.models import AuditEvent, Member, MemberEmail, ScimRequestLog
from tests import helpers

# Session, user, membership, the switcher and the failing-domain banner, then the page's
# own count and rows: a fixed number, whatever the size of the organization.
MAX_QUERIES = 8
# The SCIM tab adds the tokens and four aggregates over the request log.
MAX_SCIM_TAB_QUERIES = 11


@pytest.fixture
def big_organization(organization):
    members = Member.objects.bulk_create(
        Member(
            organization=organization,
            user_name=f"person{index}@acme.example",
            email=f"person{index}@acme.example",
            display_name=f"Person {index}",
            source=Member.Source.SCIM if index % 2 else Member.Source.INVITED,
        )
        for index in range(300)
    )
    MemberEmail.objects.bulk_create(
        MemberEmail(member=member, value=member.email, primary=True)
        for member in members
    )
    team = actions.create_team(
        organization,
        display_name="Everyone",
        member_ids=[m.pk for m in members],
        actor=helpers.SYSTEM,
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization,
            actor_type="scim_token",
            actor_label=f"SCIM token {index % 3}",
            action="member.updated",
            target_label=f"person{index}@acme.example",
            changes={"title": {"from": "", "to": "Engineer"}},
        )
        for index in range(300)
    )
    ScimRequestLog.objects.bulk_create(
        ScimRequestLog(
            organization=organization,
            created_at=timezone.now() - timezone.timedelta(minutes=index * 7),
            method="PATCH",
            path="/scim/v2/Users/x",
            status=200 if index % 10 else 400,
            outcome="updated",
        )
        for index in range(1000)
    )
    for index in range(5):
        actions.issue_scim_token(
            organization, name=f"Token {index}", actor=helpers.SYSTEM
        )
    return organization, team


@pytest.mark.parametrize(
    ("url", "limit"),
    [
        ("/organizations/acme/members/", MAX_QUERIES),
        ("/organizations/acme/members/?page=3&source=scim&q=person", MAX_QUERIES),
        ("/organizations/acme/teams/", MAX_QUERIES),
        ("/organizations/acme/access-security/audit-log/", MAX_QUERIES),
        ("/organizations/acme/access-security/audit-log/?actor=1&page=2", MAX_QUERIES),
        ("/organizations/acme/access-security/scim/", MAX_SCIM_TAB_QUERIES),
    ],
)
def test_large_organization_pages_use_few_queries(
    owner_client, big_organization, django_assert_max_num_queries, url, limit
):
    with django_assert_max_num_queries(limit):
        response = owner_client.get(url)
    assert response.status_code == 200


def test_team_page_uses_few_queries(
    owner_client, big_organization, django_assert_max_num_queries
):
    _, team = big_organization
    with django_assert_max_num_queries(MAX_QUERIES):
        response = owner_client.get(f"/organizations/acme/teams/{team.pk}/")
    assert len(response.context["page"].object_list) == 25


def test_audit_csv_export_streams_in_chunks(
    owner_client, big_organization, django_assert_max_num_queries
):
    with django_assert_max_num_queries(MAX_QUERIES):
        response = owner_client.get("/organizations/acme/access-security/audit-log.csv")
        body = b"".join(response.streaming_content).decode()
    assert body.count("member.updated") == 300
