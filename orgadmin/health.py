"""Provisioning health for the SCIM tab, read from ScimRequestLog and the tokens.

Read-only: a handful of aggregate queries whatever the size of the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from orgadmin.models import Organization, ScimRequestLog, ScimToken

OUTCOMES = ("created", "updated", "deactivated", "reactivated", "deleted")
CHART_DAYS = 7
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
    chart_width: int = CHART_WIDTH
    chart_height: int = CHART_HEIGHT


def provisioning_health(
    organization: Organization, *, now: datetime | None = None
) -> ProvisioningHealth:
    now = now or timezone.now()
    log = ScimRequestLog.objects.for_organization(organization)
    last_request = log.select_related("token").first()
    counts = log.filter(created_at__gte=now - timedelta(hours=24)).aggregate(
        errors=Count("pk", filter=Q(status__gte=400)),
        **{outcome: Count("pk", filter=Q(outcome=outcome)) for outcome in OUTCOMES},
    )
    hourly = _requests_per_hour(log, now)
    bars, ticks = _chart(hourly, now)
    recent_errors = list(log.filter(status__gte=400)[:RECENT_ERRORS])
    health = ProvisioningHealth(
        last_request=last_request,
        counts=counts,
        bars=bars,
        ticks=ticks,
        peak_per_hour=max((bar.requests for bar in bars), default=0),
        requests_in_chart=sum(bar.requests for bar in bars),
        recent_errors=recent_errors,
    )
    health.warnings = _warnings(organization, last_request, now)
    return health


def _requests_per_hour(log, now: datetime) -> dict[datetime, tuple[int, int]]:
    start = _hour(now) - timedelta(hours=CHART_DAYS * 24 - 1)
    rows = (
        log.filter(created_at__gte=start)
        .annotate(hour=TruncHour("created_at"))
        .values("hour")
        .annotate(requests=Count("pk"), errors=Count("pk", filter=Q(status__gte=400)))
        .order_by()
    )
    return {_hour(row["hour"]): (row["requests"], row["errors"]) for row in rows}


def _chart(
    hourly: dict[datetime, tuple[int, int]], now: datetime
) -> tuple[list[Bar], list[Tick]]:
    hours = CHART_DAYS * 24
    first = _hour(now) - timedelta(hours=hours - 1)
    peak = max((requests for requests, _ in hourly.values()), default=0) or 1
    slot = CHART_WIDTH / hours
    bars, ticks = [], []
    for index in range(hours):
        hour = first + timedelta(hours=index)
        requests, errors = hourly.get(hour, (0, 0))
        height = CHART_HEIGHT * requests / peak
        error_height = CHART_HEIGHT * errors / peak
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
        # A day label needs about 55 units; the last one would be cut off at the edge.
        if hour.hour == 0 and x <= CHART_WIDTH - 55:
            ticks.append(Tick(x=x, label=hour.strftime("%a %-d %b")))
    return bars, ticks


def _warnings(
    organization: Organization, last_request: ScimRequestLog | None, now: datetime
) -> list[str]:
    warnings = []
    expiring = ScimToken.objects.usable().filter(
        organization=organization, expires_at__lte=now + TOKEN_EXPIRY_WARNING
    )
    for token in expiring:
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


def _hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(minute=0, second=0, microsecond=0)
