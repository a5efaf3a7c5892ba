"""Provisioning health for the SCIM tab, read from ScimRequestLog and the tokens, and
the organization's setup progress (domain, then SSO, then SCIM) for the next-step hints.

Read-only: a handful of aggregate queries whatever the size of the log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncHour
from django.utils import timezone
from django.utils.timesince import timesince

from orgadmin.models import (
    ClaimedDomain,
    Organization,
    ScimRequestLog,
    ScimToken,
    SSOConfiguration,
    Team,
)

CHART_DAYS = 7
# The chart's two views: the last 7 days (the default), or the last 24 hours.
CHART_HOURS = {"7d": CHART_DAYS * 24, "24h": 24}
# A bar for an hour with any request is at least this tall (of CHART_HEIGHT), so that
# one request next to a busy hour still shows; errors likewise.
MIN_BAR_HEIGHT = 3
MIN_ERROR_HEIGHT = 2
# Refused requests with a revoked or expired token: how far back the warning looks.
REFUSED_TOKEN_WINDOW = timedelta(hours=24)
# How far back the Teams page looks for a SCIM create refused for a team's name.
GROUP_COLLISION_WINDOW = timedelta(days=CHART_DAYS)
RECENT_ERRORS = 20
TOKEN_EXPIRY_WARNING = timedelta(days=14)
# Entra ID runs a provisioning cycle about every 40 minutes, so two silent hours after
# traffic had been flowing mean the job is stopped, quarantined or failing to connect.
SILENCE_WARNING = timedelta(hours=2)

CHART_WIDTH = 700
CHART_HEIGHT = 140


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    error_y: float
    error_height: float
    hour: datetime
    requests: int
    errors: int


@dataclass(frozen=True)
class Tick:
    x: float
    label: str
    # "end" puts the label left of its line, for a tick near the right edge.
    anchor: str = "start"


@dataclass
class ProvisioningHealth:
    last_request: ScimRequestLog | None
    counts: dict[str, int]
    bars: list[Bar]
    ticks: list[Tick]
    peak_per_hour: int
    requests_in_chart: int
    recent_errors: list[ScimRequestLog]
    warnings: list[str] = field(default_factory=list)
    # {"users": {outcome: n, ..., "errors": n}, "groups": {...}}, last 24 hours.
    resource_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    today_tick: Tick | None = None
    chart: str = "7d"
    chart_width: int = CHART_WIDTH
    chart_height: int = CHART_HEIGHT

    @property
    def chart_title(self) -> str:
        return "last 24 hours" if self.chart == "24h" else f"last {CHART_DAYS} days"


@dataclass(frozen=True)
class SetupStep:
    """One step of connecting an identity provider; `key` is its Access Security tab."""

    key: str
    title: str
    done: bool
    in_plan: bool = True


@dataclass(frozen=True)
class SetupProgress:
    steps: list[SetupStep]

    @property
    def next_step(self) -> SetupStep | None:
        return next((s for s in self.steps if s.in_plan and not s.done), None)


def setup_progress(organization: Organization) -> SetupProgress:
    """Where the organization stands: a verified domain, SSO on, a SCIM token in use.

    The order is the order an admin must follow: SSO and SCIM only accept people on
    verified domains. One query.
    """
    flags = (
        Organization.objects.filter(pk=organization.pk)
        .annotate(
            has_domain=Exists(
                ClaimedDomain.objects.filter(
                    organization=OuterRef("pk"),
                    status__in=ClaimedDomain.VERIFIED_STATUSES,
                )
            ),
            has_sso=Exists(
                SSOConfiguration.objects.filter(
                    organization=OuterRef("pk"), enabled=True
                )
            ),
            has_scim=Exists(
                ScimToken.objects.filter(
                    organization=OuterRef("pk"), last_used_at__isnull=False
                )
            ),
        )
        .values("has_domain", "has_sso", "has_scim")
        .get()
    )
    return SetupProgress(
        steps=[
            SetupStep("domains", "Claim and verify your domain", flags["has_domain"]),
            SetupStep(
                "sso",
                "Set up SAML single sign-on",
                flags["has_sso"],
                organization.sso_enabled,
            ),
            SetupStep(
                "scim",
                "Connect SCIM provisioning",
                flags["has_scim"],
                organization.scim_enabled,
            ),
        ]
    )


def provisioning_health(
    organization: Organization,
    *,
    now: datetime | None = None,
    tokens: list[ScimToken] | None = None,
    chart: str = "7d",
) -> ProvisioningHealth:
    """The SCIM tab's health panel; `tokens`, when the page already has them, saves a
    query for the expiry warnings. `chart` is a key of CHART_HOURS."""
    now = now or timezone.now()
    chart = chart if chart in CHART_HOURS else "7d"
    log = ScimRequestLog.objects.for_organization(organization)
    last_request = log.select_related("token").first()
    last_day = log.filter(created_at__gte=now - timedelta(hours=24))
    # One aggregate: the totals, and the same counts for /Users and for /Groups.
    counted = last_day.aggregate(**_count_columns())
    counts = {key: counted[key] for key in _count_columns(resource="")}
    resource_counts = {
        resource: {key: counted[f"{resource}_{key}"] for key in counts}
        for resource in RESOURCES
    }
    hours = CHART_HOURS[chart]
    hourly = _requests_per_hour(log, now, hours)
    bars, ticks, today_tick = _chart(hourly, now, hours)
    recent_errors = list(
        log.filter(status__gte=400).select_related("token")[:RECENT_ERRORS]
    )
    health = ProvisioningHealth(
        last_request=last_request,
        counts=counts,
        bars=bars,
        ticks=ticks,
        peak_per_hour=max((bar.requests for bar in bars), default=0),
        requests_in_chart=sum(bar.requests for bar in bars),
        recent_errors=recent_errors,
        resource_counts=resource_counts,
        today_tick=today_tick,
        chart=chart,
    )
    health.warnings = _refused_token_warnings(recent_errors, now) + _warnings(
        organization, last_request, now, tokens
    )
    return health


# Resource: the path segment its requests have.
RESOURCES = {"users": "/Users", "groups": "/Groups"}


def _count_columns(resource: str | None = None) -> dict[str, Count]:
    """Count columns: errors and each outcome, for all requests (resource "") or one
    resource's; with None, all of them together."""
    if resource is None:
        columns = _count_columns(resource="")
        for name in RESOURCES:
            columns.update(_count_columns(resource=name))
        return columns
    where = Q(path__contains=RESOURCES[resource]) if resource else Q()
    prefix = f"{resource}_" if resource else ""
    columns = {f"{prefix}errors": Count("pk", filter=where & Q(status__gte=400))}
    for outcome in ScimRequestLog.Outcome.values:
        columns[f"{prefix}{outcome}"] = Count("pk", filter=where & Q(outcome=outcome))
    return columns


def _refused_token_warnings(recent_errors: list[ScimRequestLog], now: datetime):
    """Requests refused for a revoked or expired token of this organization, among
    the recent errors: what Entra ID reports as "invalid credentials" (401)."""
    refused: dict[int, list[ScimRequestLog]] = {}
    for request in recent_errors:
        if (
            request.status == 401
            and request.token is not None
            and not request.token.is_usable
            and now - request.created_at <= REFUSED_TOKEN_WINDOW
        ):
            refused.setdefault(request.token_id, []).append(request)
    warnings = []
    for requests in refused.values():
        token, count = requests[0].token, len(requests)
        warnings.append(
            f"Your identity provider is still sending the {token.status} token "
            f'"{token.name}" ({token.prefix}…): {count} request'
            f"{'s' if count != 1 else ''} refused with 401 lately, the last "
            f"{_ago(requests[0].created_at, now)}. "
            "Paste an active token as the Secret Token in its provisioning settings "
            "(Generate token above), then press Test Connection."
        )
    return warnings


@dataclass(frozen=True)
class GroupCollision:
    """A SCIM create refused (409) because a team made in orgadmin has its name."""

    team: Team
    at: datetime
    detail: str


# The refusal orgadmin.actions.teams.name_taken_message writes, which the request log
# keeps as the 409's detail.
_NAME_TAKEN = re.compile(r'^A team named "(?P<name>.+?)" or with this external id')


def scim_group_collisions(
    organization: Organization, *, now: datetime | None = None
) -> list[GroupCollision]:
    """Teams made in orgadmin that a SCIM group create collided with lately, newest
    first: the Teams page offers to hand each to SCIM, or to rename it."""
    now = now or timezone.now()
    refused = (
        ScimRequestLog.objects.for_organization(organization)
        .filter(
            method="POST",
            status=409,
            path__endswith="/Groups",
            created_at__gte=now - GROUP_COLLISION_WINDOW,
        )
        .values_list("created_at", "error_detail")[:RECENT_ERRORS]
    )
    latest: dict[str, tuple[datetime, str]] = {}
    for created_at, detail in refused:
        match = _NAME_TAKEN.match(detail)
        if match:
            latest.setdefault(match["name"].lower(), (created_at, detail))
    if not latest:
        return []
    teams = [
        team
        for team in Team.objects.for_organization(organization).filter(
            is_scim_managed=False
        )
        if team.display_name.lower() in latest
    ]
    collisions = [
        GroupCollision(team, *latest[team.display_name.lower()]) for team in teams
    ]
    return sorted(collisions, key=lambda collision: collision.at, reverse=True)


def _requests_per_hour(
    log, now: datetime, hours: int
) -> dict[datetime, tuple[int, int]]:
    start = _hour(now) - timedelta(hours=hours - 1)
    rows = (
        log.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)))
        .order_by()
    )
    return {_hour(row["hour"]): (row["requests"], row["errors"]) for row in rows}


def _chart(
    hourly: dict[datetime, tuple[int, int]], now: datetime, hours: int
) -> tuple[list[Bar], list[Tick], Tick]:
    first = _hour(now) - timedelta(hours=hours - 1)
    peak = max((requests for requests, _ in hourly.values()), default=0) or 1
    slot = CHART_WIDTH / hours
    bars, ticks = [], []
    today = _hour(now).replace(hour=0)
    for index in range(hours):
        hour = first + timedelta(hours=index)
        requests, errors = hourly.get(hour, (0, 0))
        height = requests and max(CHART_HEIGHT * requests / peak, MIN_BAR_HEIGHT)
        error_height = errors and min(
            max(CHART_HEIGHT * errors / peak, MIN_ERROR_HEIGHT), height
        )
        x = round(index * slot, 2)
        bars.append(
            Bar(
                x=x,
                y=round(CHART_HEIGHT - height, 2),
                width=round(max(slot - 1, 1), 2),
                height=round(height, 2),
                error_y=round(CHART_HEIGHT - error_height, 2),
                error_height=round(error_height, 2),
                hour=hour,
                requests=requests,
                errors=errors,
            )
        )
        # A label needs about 55 units; the last one would be cut off at the edge.
        if x > CHART_WIDTH - 55 or hour == today:
            continue
        if hours <= 24 and hour.hour % 6 == 0:
            ticks.append(Tick(x=x, label=hour.strftime("%H:00")))
        elif hours > 24 and hour.hour == 0:
            ticks.append(Tick(x=x, label=hour.strftime("%a %-d %b")))
    # Today (UTC) from its midnight, or from the chart's start when that is later.
    today_x = max(round((today - first) / timedelta(hours=1) * slot, 2), 0)
    anchor = "end" if today_x > CHART_WIDTH - 55 else "start"
    return bars, ticks, Tick(x=today_x, label="Today", anchor=anchor)


def _warnings(
    organization: Organization,
    last_request: ScimRequestLog | None,
    now: datetime,
    tokens: list[ScimToken] | None,
) -> list[str]:
    warnings = []
    for token in _expiring_tokens(organization, now, tokens):
        days = max((token.expires_at - now).days, 0)
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        warnings.append(
            f'The token "{token.name}" ({token.prefix}…) expires {when}. Generate a '
            "new token, paste it in your identity provider, then revoke this one."
        )
    if last_request is not None and now - last_request.created_at > SILENCE_WARNING:
        hours = int((now - last_request.created_at).total_seconds() // 3600)
        warnings.append(
            f"No SCIM request has arrived for {hours} hours, although provisioning "
            "had been active. Entra ID sends one about every 40 minutes: check that the "
            "provisioning job is running and that its token is still active."
        )
    return warnings


def _expiring_tokens(
    organization: Organization, now: datetime, tokens: list[ScimToken] | None
) -> list[ScimToken]:
    soon = now + TOKEN_EXPIRY_WARNING
    if tokens is None:
        return list(
            ScimToken.objects.usable().filter(
                organization=organization, expires_at__lte=soon
            )
        )
    return [
        token
        for token in tokens
        if token.revoked_at is None
        and token.expires_at is not None
        and now < token.expires_at <= soon
    ]


def _ago(moment: datetime, now: datetime) -> str:
    if now - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, now)} ago"


def _hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(minute=0, second=0, microsecond=0)
