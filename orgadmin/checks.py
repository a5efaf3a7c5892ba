"""System checks for the environment orgadmin reads its settings from."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

MISSING_SECRET_KEY = "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1."
# The periods ORGADMIN_SCIM_THROTTLE_RATE accepts after "N/", in seconds.
THROTTLE_PERIODS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}


def parse_throttle_rate(rate: str) -> tuple[int, int] | None:
    """Read a SCIM throttle rate ("N/s", "N/min", "N/hour") as (requests, seconds);
    None for "" (no limit). Raise ImproperlyConfigured, naming the variable, otherwise.
    """
    if not rate.strip():
        return None
    number, _, period = rate.partition("/")
    seconds = THROTTLE_PERIODS.get(period.strip().lower())
    if not number.strip().isdigit() or seconds is None:
        raise ImproperlyConfigured(
            f"ORGADMIN_SCIM_THROTTLE_RATE={rate!r}: use N/s, N/min or N/hour."
        )
    return int(number), seconds


def require_secret_key() -> None:
    """Raise ImproperlyConfigured with the variable's name when no key is set."""
    try:
        settings.SECRET_KEY  # noqa: B018 - Django raises on an empty key when read.
    except ImproperlyConfigured:
        raise ImproperlyConfigured(MISSING_SECRET_KEY) from None


# A deployment check: commands that sign nothing (makemigrations, migrate) run without a
# key, while `check --deploy` and the WSGI application refuse to go on.
@register(Tags.security, deploy=True)
def secret_key_is_set(app_configs, **kwargs):
    try:
        require_secret_key()
    except ImproperlyConfigured as error:
        return [
            Error(
                str(error),
                hint="Set it in the service's environment.",
                id="orgadmin.E001",
            )
        ]
    return []


@register()
def dns_nameservers_are_readable(app_configs, **kwargs):
    """A typo in ORGADMIN_DNS_NAMESERVERS shows at start-up, not on "Check now"."""
    from orgadmin.dns import parse_nameserver

    configured = settings.ORGADMIN_DNS_NAMESERVERS
    if isinstance(configured, str):
        configured = configured.split(",")
    errors = []
    for entry in configured:
        if not entry.strip():
            continue
        try:
            parse_nameserver(entry)
        except ImproperlyConfigured as error:
            errors.append(
                Error(
                    str(error),
                    hint="Use a comma list of host or host:port, e.g. 10.0.0.2:53.",
                    id="orgadmin.E002",
                )
            )
    return errors


@register()
def trusted_proxy_count_is_shared(app_configs, **kwargs):
    """Audit rows, token last-use and allauth's sign-in limits read one proxy count."""
    count = settings.ORGADMIN_TRUSTED_PROXY_COUNT
    allauth_count = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0)
    if isinstance(count, int) and count >= 0 and allauth_count == count:
        return []
    return [
        Error(
            f"ORGADMIN_TRUSTED_PROXY_COUNT={count!r} with ALLAUTH_TRUSTED_PROXY_COUNT="
            f"{allauth_count!r}: the count must be a whole number, 0 or more, and both "
            "the same.",
            hint="Set only ORGADMIN_TRUSTED_PROXY_COUNT; settings.py copies it to "
            "allauth.",
            id="orgadmin.E003",
        )
    ]
