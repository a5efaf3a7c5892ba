"""Provisioning health on the SCIM tab, computed from the SCIM request log."""

from datetime import timedelta

from django.utils import timezone

from orgadmin import actions
from orgadmin.health import provisioning_health
from orgadmin.models import ScimRequestLog
from tests import helpers


def log(organization, ago, *, status=200, outcome="", detail="", now=None):
    # Rows as the SCIM endpoint writes them, one per request.
    return ScimRequestLog.objects.create(
        organization=organization,
        created_at=(now or timezone.now()) - ago,
        method="GET",
        path="/scim/v2/Users",
        status=status,
        outcome=outcome,
        error_detail=detail,
    )


def test_counts_cover_the_last_24_hours_only(organization):
    log(organization, timedelta(minutes=5), status=201, outcome="created")
    log(organization, timedelta(hours=1), status=201, outcome="created")
    log(organization, timedelta(hours=2), outcome="updated")
    log(organization, timedelta(hours=3), outcome="deactivated")
    log(organization, timedelta(hours=4), status=204, outcome="deleted")
    log(organization, timedelta(hours=5), status=409, detail="userName taken")
    log(organization, timedelta(hours=30), status=201, outcome="created")
    health = provisioning_health(organization)
    assert health.counts == {
        "created": 2,
        "updated": 1,
        "deactivated": 1,
        "reactivated": 0,
        "deleted": 1,
        "errors": 1,
    }
    assert health.last_request.status == 201


def test_chart_has_one_bar_per_hour_for_seven_days(organization):
    # Half past the hour, so that "a minute ago" is in the same hour whenever this runs.
    now = timezone.now().replace(minute=30)
    for _ in range(3):
        log(organization, timedelta(minutes=1), now=now)
    log(organization, timedelta(minutes=2), status=500, detail="boom", now=now)
    log(organization, timedelta(days=2), now=now)
    log(organization, timedelta(days=8), now=now)
    health = provisioning_health(organization, now=now)
    assert len(health.bars) == 7 * 24
    assert health.bars[-1].requests == 4 and health.bars[-1].errors == 1
    assert health.bars[-1].height == health.chart_height  # the busiest hour is full
    assert health.requests_in_chart == 5
    assert health.peak_per_hour == 4
    assert 5 <= len(health.ticks) <= 7


def test_recent_errors_are_the_last_twenty_newest_first(organization):
    for minutes in range(25):
        log(organization, timedelta(minutes=minutes), status=400, detail=f"e{minutes}")
    log(organization, timedelta(seconds=1))
    errors = provisioning_health(organization).recent_errors
    assert [e.error_detail for e in errors] == [f"e{m}" for m in range(20)]


def test_warns_about_a_token_expiring_within_14_days(organization):
    soon, _ = actions.issue_scim_token(
        organization,
        name="Soon",
        expires_at=timezone.now() + timedelta(days=10, hours=1),
        actor=helpers.SYSTEM,
    )
    actions.issue_scim_token(
        organization,
        name="Later",
        expires_at=timezone.now() + timedelta(days=20),
        actor=helpers.SYSTEM,
    )
    revoked, _ = actions.issue_scim_token(
        organization,
        name="Revoked",
        expires_at=timezone.now() + timedelta(days=3),
        actor=helpers.SYSTEM,
    )
    actions.revoke_scim_token(revoked, actor=helpers.SYSTEM)
    warnings = provisioning_health(organization).warnings
    assert len(warnings) == 1
    assert '"Soon"' in warnings[0] and "in 10 days" in warnings[0]


def test_warns_when_provisioning_stops_after_it_had_been_active(organization):
    assert provisioning_health(organization).warnings == []
    log(organization, timedelta(hours=1))
    assert provisioning_health(organization).warnings == []
    ScimRequestLog.objects.all().delete()
    log(organization, timedelta(hours=3))
    (warning,) = provisioning_health(organization).warnings
    assert "No SCIM request has arrived for 3 hours" in warning


def test_scim_tab_shows_health_chart_and_errors(owner_client, organization):
    log(organization, timedelta(minutes=3), status=201, outcome="created")
    log(
        organization, timedelta(minutes=2), status=409, detail="userName already exists"
    )
    response = owner_client.get("/organizations/acme/access-security/scim/")
    page = response.content.decode()
    assert 'data-testid="scim-chart"' in page and "<svg" in page
    assert 'class="bar"' in page and 'class="bar-error"' in page
    assert "userName already exists" in page
    assert "2 requests in 7 days" in page
