"""Provisioning health for the SCIM tab, read from ScimRequestLog and the tokens, and
the organization's setup progress (domain, then SSO, then SCIM) for the next-step hints.

Read-only: a handful of aggregate queries whatever the size of the log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q
from django.db.models.functions import TruncHour
from django.utils import timezone

from orgadmin.models import (
    ClaimedDomain,
    Organization,
    ScimRequestLog,
    ScimToken,
    SSOConfiguration,
)

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
) -> ProvisioningHealth:
    """The SCIM tab's health panel; `tokens`, when the page already has them, saves a
    query for the expiry warnings."""
    now = now or timezone.now()
    log = ScimRequestLog.objects.for_organization(organization)
    last_request = log.select_related("token").first()
    counts = log.filter(created_at__gte=now - timedelta(hours=24)).aggregate(
        errors=Count("pk", filter=Q(status__gte=400)),
        **{
            outcome: Count("pk", filter=Q(outcome=outcome))
            for outcome in ScimRequestLog.Outcome.values
        },
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
    health.warnings = _warnings(organization, last_request, now, tokens)
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


def _hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC) if moment.tzinfo else moment
    return moment.replace(minute=0, second=0, microsecond=0)
