"""A member's access timeline on their page: every change of their access, newest first."""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from orgadmin import actions
from orgadmin.models import AuditEvent, Member
from tests import helpers
from tests.helpers import PASSWORD, ScimClient, create, member_of, patch

MEMBERS = "/organizations/acme/members/"


def timeline(response) -> list[str]:
    return [entry.sentence for entry in response.context["timeline"]]


def test_timeline_tells_what_scim_teams_and_roles_did_to_alice_newest_first(
    owner_client, organization
):
    scim = ScimClient(helpers.issue_token(organization, name="Entra prod"))
    alice = create(
        scim,
        "alice@acme.example",
        displayName="Alice Liddell",
        emails=[{"value": "alice@acme.example", "type": "work", "primary": True}],
    )
    group = scim.post(
        "Groups",
        {
            "schemas": [helpers.GROUP],
            "displayName": "Engineering",
            "members": [{"value": alice["id"]}],
        },
    ).json()
    member = member_of(alice)
    actions.change_member_role(member, role="admin", actor=helpers.SYSTEM)
    helpers.patch_group(
        scim,
        group["id"],
        {"op": "remove", "path": f'members[value eq "{alice["id"]}"]'},
    )
    patch(scim, alice["id"], {"op": "replace", "path": "active", "value": False})

    response = owner_client.get(f"{MEMBERS}{member.pk}/")
    assert response.status_code == 200
    sentences = timeline(response)
    assert sentences == [
        'SCIM token "Entra prod" deactivated Alice Liddell',
        'SCIM token "Entra prod" removed Alice Liddell from the team Engineering',
        "tests changed Alice Liddell's role from Member to Admin",
        'SCIM token "Entra prod" added Alice Liddell to the team Engineering',
        'SCIM token "Entra prod" provisioned Alice Liddell',
    ]
    page = response.content.decode()
    assert 'data-testid="access-timeline"' in page
    # The token is named with its prefix, so the admin knows which one to revoke.
    assert "By SCIM token &quot;Entra prod&quot; (oa_scim_" in page
    entries = response.context["timeline"]
    assert [entry.is_loss for entry in entries] == [True, True, False, False, False]


def test_timeline_shows_invitation_link_sign_ins_and_refusals(
    owner_client, organization
):
    grace = helpers.make_member(organization, "grace@acme.example")
    client = Client()
    client.post("/accounts/login/", {"login": "grace@acme.example", "password": "x"})
    client.post(
        "/accounts/login/", {"login": "grace@acme.example", "password": PASSWORD}
    )
    codes = [
        entry.event.action
        for entry in owner_client.get(f"{MEMBERS}{grace.pk}/").context["timeline"]
    ]
    assert codes == [
        "account.signed_in",
        "account.sign_in_failed",
        "member.account_linked",
        "member.added",
    ]


def test_timeline_leaves_out_other_peoples_events(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    ada = helpers.make_member(organization, "ada@acme.example")
    actions.create_team(
        organization,
        display_name="Research",
        member_ids=[ada.pk],
        actor=helpers.SYSTEM,
    )
    actions.deactivate_member(ada, actor=helpers.SYSTEM)
    sentences = timeline(owner_client.get(f"{MEMBERS}{grace.pk}/"))
    assert sentences and not any("ada" in s.lower() for s in sentences)
    assert not any("Research" in s for s in sentences)


def test_deleting_a_team_shows_on_the_timeline_of_each_member(
    owner_client, organization
):
    grace = helpers.make_member(organization, "grace@acme.example")
    team = actions.create_team(
        organization,
        display_name="Research",
        member_ids=[grace.pk],
        actor=helpers.SYSTEM,
    )
    actions.delete_team(team, actor=helpers.SYSTEM)
    sentences = timeline(owner_client.get(f"{MEMBERS}{grace.pk}/"))
    assert sentences[:2] == [
        "tests deleted the team Research, which grace@acme.example was on",
        "tests added grace@acme.example to the team Research",
    ]


def test_members_do_not_see_the_timeline(client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    client.login(email="grace@acme.example", password=PASSWORD)
    response = client.get(f"{MEMBERS}{grace.pk}/")
    assert response.status_code == 200
    assert 'data-testid="access-timeline"' not in response.content.decode()


def test_another_organizations_member_timeline_is_404(owner_client, organization):
    other = helpers.make_organization("globex", domain="globex.example")
    stranger = other.members.get()
    assert owner_client.get(f"{MEMBERS}{stranger.pk}/").status_code == 404


def _noise(organization, grace, count, *, graces=None):
    """`count` events on other members, and a tenth as many (or `graces`) on grace."""
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization,
            actor_type="system",
            actor_label="tests",
            action="member.updated",
            target_type="member",
            target_id=str(grace.pk + 1 + index % 50),
            target_label=f"person {index}",
        )
        for index in range(count)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(
            organization=organization,
            actor_type="system",
            actor_label="tests",
            action="member.updated",
            target_type="member",
            target_id=str(grace.pk),
            target_label="grace@acme.example",
            changes={"title": {"from": "", "to": f"Title {index}"}},
        )
        for index in range(count // 10 if graces is None else graces)
    )


@pytest.mark.parametrize("size", [10, 1000])
def test_timeline_query_count_stays_flat_as_the_audit_log_grows(
    owner_client, organization, size
):
    grace = helpers.make_member(organization, "grace@acme.example")
    team = actions.create_team(
        organization,
        display_name="Research",
        member_ids=[grace.pk],
        actor=helpers.SYSTEM,
    )
    actions.remove_team_members(team, member_ids=[grace.pk], actor=helpers.SYSTEM)
    _noise(organization, grace, size)
    with CaptureQueriesContext(connection) as queries:
        response = owner_client.get(f"{MEMBERS}{grace.pk}/")
    assert response.status_code == 200
    assert len(response.context["timeline"]) == min(100, size // 10 + 4)
    # The page's fixed queries (session, user, membership, member, the banner, teams,
    # emails, sole owner...) and the timeline's three: the same number at both sizes.
    assert len(queries) == EXPECTED_QUERIES, [q["sql"] for q in queries]


EXPECTED_QUERIES = 12


def test_timeline_reads_through_the_target_index_on_postgresql(organization):
    if connection.vendor != "postgresql":
        pytest.skip("The query plan is PostgreSQL's.")
    grace = helpers.make_member(organization, "grace@acme.example")
    _noise(organization, grace, 20_000, graces=5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE orgadmin_auditevent")
    from orgadmin.timeline import member_timeline

    with CaptureQueriesContext(connection) as queries:
        member_timeline(grace)
    sql = next(q["sql"] for q in queries if "orgadmin_auditevent" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "audit_org_target_time" in plan, plan


def test_removed_member_events_stay_on_the_audit_log(owner_client, organization):
    grace = helpers.make_member(organization, "grace@acme.example")
    actions.remove_member(grace, actor=helpers.SYSTEM)
    assert not Member.objects.filter(pk=grace.pk).exists()
    assert AuditEvent.objects.filter(
        target_type="member", target_id=str(grace.pk)
    ).exists()
