"""System checks for the environment orgadmin reads its settings from."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

MISSING_SECRET_KEY = "DJANGO_SECRET_KEY is required unless DJANGO_DEBUG=1."


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
