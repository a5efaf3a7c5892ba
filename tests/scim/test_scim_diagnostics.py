"""What the SCIM tab tells an admin: refused old tokens, users apart from groups, a
readable chart, and a way out when a group's name is a team made here."""

from datetime import timedelta

from django.utils import timezone

from orgadmin import actions
from orgadmin.health import CHART_HEIGHT, MIN_BAR_HEIGHT, provisioning_health
from orgadmin.models import AuditEvent, ScimRequestLog, Team
from tests import helpers
from tests.helpers import GROUP, PASSWORD, SYSTEM, ScimClient, assert_error, create

SCIM_TAB = "/organizations/acme/access-security/scim/"
TEAMS = "/organizations/acme/teams/"


def owner_client(client):
    client.login(email="owner@acme.example", password=PASSWORD)
    return client


def test_a_revoked_tokens_requests_are_logged_and_shown(client, organization):
    token, secret = actions.issue_scim_token(
        organization, name="Entra prod", actor=SYSTEM
    )
    actions.revoke_scim_token(token, actor=SYSTEM)
    entra = ScimClient(secret)

    for _ in range(2):
        assert_error(entra.get('Users?filter=userName eq "x"'), 401)

    logged = list(ScimRequestLog.objects.filter(token=token))
    assert [(r.method, r.status, r.error_detail) for r in logged] == [
        ("GET", 401, "Refused: the token is revoked."),
    ] * 2
    assert logged[0].path == "/scim/v2/Users?filter=userName+eq+%22x%22"
    page = owner_client(client).get(SCIM_TAB).content.decode()
    assert "still sending the revoked token &quot;Entra prod&quot;" in page
    assert "2 requests refused with 401" in page
    assert "Refused: the token is revoked." in page  # in Recent errors


def test_an_expired_token_is_logged_and_an_unknown_one_is_not(organization):
    token, secret = actions.issue_scim_token(
        organization,
        name="Old",
        expires_at=timezone.now() + timedelta(seconds=1),
        actor=SYSTEM,
    )
    ScimToken = type(token)
    ScimToken.objects.filter(pk=token.pk).update(
        expires_at=timezone.now() - timedelta(days=1)
    )

    assert_error(ScimClient(secret).get("Users"), 401)
    assert_error(ScimClient("oa_scim_not-a-token").get("Users"), 401)

    assert list(ScimRequestLog.objects.values_list("status", "error_detail")) == [
        (401, "Refused: the token is expired.")
    ]


def test_counts_tell_users_from_groups(client, organization):
    scim = ScimClient(helpers.issue_token(organization))
    user = create(scim, "ada@acme.example")
    scim.post("Groups", {"schemas": [GROUP], "displayName": "Research"})
    scim.post("Groups", {"schemas": [GROUP], "displayName": "Ops"})
    helpers.patch(scim, user["id"], {"op": "replace", "path": "active", "value": False})

    health = provisioning_health(organization)

    assert health.resource_counts["users"]["created"] == 1
    assert health.resource_counts["users"]["deactivated"] == 1
    assert health.resource_counts["groups"]["created"] == 2
    assert health.counts["created"] == 3
    page = owner_client(client).get(SCIM_TAB).content.decode()
    assert 'data-resource="users"' in page and 'data-resource="groups"' in page


def log(organization, at, count=1, *, status=200):
    ScimRequestLog.objects.bulk_create(
        ScimRequestLog(
            organization=organization,
            created_at=at,
            method="GET",
            path="/scim/v2/Users",
            status=status,
        )
        for _ in range(count)
    )


def test_one_request_beside_a_busy_hour_still_shows_and_today_is_marked(
    organization,
):
    now = timezone.now().replace(hour=12, minute=30)
    log(organization, now - timedelta(minutes=1), 1000)
    log(organization, now - timedelta(days=1), 1)
    log(organization, now - timedelta(days=1, hours=2), 1, status=500)

    health = provisioning_health(organization, now=now)

    quiet = [bar for bar in health.bars if bar.requests == 1]
    assert len(quiet) == 2
    assert all(bar.height == MIN_BAR_HEIGHT for bar in quiet)
    failed = next(bar for bar in quiet if bar.errors)
    assert 0 < failed.error_height <= failed.height
    assert health.bars[-1].height == CHART_HEIGHT
    # Today's midnight, 12 hours before the last bar's hour.
    slot = health.chart_width / len(health.bars)
    assert health.today_tick.label == "Today"
    assert round(health.today_tick.x, 1) == round((len(health.bars) - 13) * slot, 1)


def test_the_24_hour_view_has_a_bar_per_hour_and_hour_ticks(client, organization):
    now = timezone.now().replace(hour=12, minute=30)
    log(organization, now - timedelta(hours=3), 4)
    log(organization, now - timedelta(days=2), 9)

    health = provisioning_health(organization, now=now, chart="24h")

    assert len(health.bars) == 24
    assert health.requests_in_chart == 4
    assert [tick.label for tick in health.ticks] == ["18:00", "06:00"]
    page = owner_client(client).get(SCIM_TAB, {"chart": "24h"}).content.decode()
    assert "Requests per hour, last 24 hours" in page
    assert 'data-testid="chart-today"' in page


def test_an_unknown_chart_period_shows_the_7_days(organization):
    assert len(provisioning_health(organization, chart="1y").bars) == 7 * 24


def test_a_group_colliding_with_a_manual_team_can_be_adopted_by_scim(
    client, organization
):
    owner_client(client)
    research = actions.create_team(organization, display_name="Research", actor=SYSTEM)
    scim = ScimClient(helpers.issue_token(organization))
    member = create(scim, "ada@acme.example")
    body = {
        "schemas": [GROUP],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "research",
        "members": [{"value": member["id"]}],
    }
    # A client matching groups on externalId finds nothing and creates: 409.
    refused = assert_error(scim.post("Groups", body), 409, "uniqueness")
    assert "hand it to SCIM on the Teams page" in refused["detail"]

    page = client.get(TEAMS).content.decode()
    assert 'data-testid="scim-group-collision"' in page
    assert "could not create its group “Research”" in page

    response = client.post(
        f"{TEAMS}{research.pk}/update/", {"adopt_for_scim": "1", "next": TEAMS}
    )
    assert response.status_code == 302 and response["Location"] == TEAMS
    research.refresh_from_db()
    assert research.is_scim_managed and research.external_id is None
    assert (
        'data-testid="scim-group-collision"' not in client.get(TEAMS).content.decode()
    )

    # On its next cycle the client creates the group again: it links the team.
    created = scim.post("Groups", body)
    assert created.status_code == 201, created.content
    assert created.json()["id"] == str(research.scim_id)
    research.refresh_from_db()
    assert research.external_id == body["externalId"]
    assert [m.email for m in research.members.all()] == ["ada@acme.example"]
    assert Team.objects.filter(organization=organization).count() == 1
    linked = AuditEvent.objects.get(action="team.linked")
    assert linked.actor_type == "scim_token"
    assert list(
        AuditEvent.objects.filter(target_type="team").values_list("action", flat=True)
    )[:2] == ["team.linked", "team.adopted"]


def test_entra_matching_by_display_name_patches_the_adopted_team(organization):
    research = actions.create_team(organization, display_name="Research", actor=SYSTEM)
    actions.adopt_team_for_scim(research, actor=SYSTEM)
    scim = ScimClient(helpers.issue_token(organization))
    member = create(scim, "ada@acme.example")

    found = scim.get(
        'Groups?excludedAttributes=members&filter=displayName eq "Research"'
    ).json()
    assert [g["id"] for g in found["Resources"]] == [str(research.scim_id)]
    response = helpers.patch_group(
        scim,
        found["Resources"][0]["id"],
        {"op": "Add", "path": "members", "value": [{"value": member["id"]}]},
    )
    assert response.status_code == 204
    assert [m.email for m in research.members.all()] == ["ada@acme.example"]


def test_a_group_never_takes_a_manual_team_or_another_groups_team(organization):
    actions.create_team(organization, display_name="Research", actor=SYSTEM)
    scim = ScimClient(helpers.issue_token(organization))
    body = {"schemas": [GROUP], "displayName": "Research", "externalId": "g-1"}
    assert_error(scim.post("Groups", body), 409, "uniqueness")
    first = scim.post("Groups", {**body, "displayName": "Ops"})
    assert first.status_code == 201
    assert_error(
        scim.post("Groups", {**body, "displayName": "ops", "externalId": "g-2"}),
        409,
        "uniqueness",
    )


def test_adopting_is_for_administrators_of_the_organization(client, organization):
    research = actions.create_team(organization, display_name="Research", actor=SYSTEM)
    helpers.make_member(organization, "pat@acme.example")
    client.login(email="pat@acme.example", password=PASSWORD)
    response = client.post(f"{TEAMS}{research.pk}/update/", {"adopt_for_scim": "1"})
    assert response.status_code == 404
    globex = helpers.make_organization("globex", domain="globex.example")
    other = actions.create_team(globex, display_name="Research", actor=SYSTEM)
    owner_client(client)
    response = client.post(f"{TEAMS}{other.pk}/update/", {"adopt_for_scim": "1"})
    assert response.status_code == 404
    research.refresh_from_db()
    other.refresh_from_db()
    assert not research.is_scim_managed and not other.is_scim_managed
